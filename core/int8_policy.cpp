#include "core/int8_policy.h"

#include <regex>

#include <fmt/format.h>

namespace qdrift {

namespace {

// The op kinds Paddle's oneDNN and Lite passes quantize; the rest stays in float.
const std::set<OpKind> kPaddleOnednnInt8 = {OpKind::Conv, OpKind::Gemm, OpKind::MatMul, OpKind::MaxPool,
                                            OpKind::Concat};
const std::set<OpKind> kPaddleLiteInt8 = {OpKind::Conv, OpKind::Gemm, OpKind::MatMul};

std::string ops_list(const std::set<OpKind>& ops) {
  std::vector<std::string> names;
  for (OpKind k : ops) names.emplace_back(op_kind_name(k));
  return fmt::format("{}", fmt::join(names, ","));
}

Result<bool> parse_on_off(const std::string& knob, const std::string& v) {
  if (v == "on" || v == "true" || v == "1") return true;
  if (v == "off" || v == "false" || v == "0") return false;
  return invalid_input("--set {}={}: expected on or off", knob, v);
}

Result<std::set<OpKind>> parse_ops(const std::string& knob, const std::string& list) {
  std::set<OpKind> ops;
  size_t start = 0;
  while (start <= list.size()) {
    size_t end = list.find(',', start);
    if (end == std::string::npos) end = list.size();
    const std::string name = list.substr(start, end - start);
    if (!name.empty()) {
      OpKind k = op_kind_from_onnx("", name);
      if (k == OpKind::Unknown) return invalid_input("--set {}: unknown op type '{}'", knob, name);
      ops.insert(k);
    }
    start = end + 1;
  }
  return ops;
}

// Every op kind of the default domain (the universe fp32_ops lists are taken from).
std::set<OpKind> all_onnx_ops() {
  std::set<OpKind> all;
  for (int i = 0; i < kOpKindCount; ++i) {
    const auto k = static_cast<OpKind>(i);
    if (k != OpKind::Unknown && op_kind_domain(k).empty()) all.insert(k);
  }
  return all;
}

}  // namespace

Result<Int8Policy> int8_policy_preset(const std::string& name) {
  Int8Policy p;
  p.name = name;
  if (name == "onnx") return p;
  if (name == "paddle-onednn") {
    p.unsigned_after_relu = true;
    p.bias = BiasMode::s32;
    p.weights = WeightsMode::requantize;
    p.act_order = ActOrder::after_scale;
    p.all_int8_ops = false;
    p.int8_ops = kPaddleOnednnInt8;
    return p;
  }
  if (name == "paddle-lite-arm") {
    p.range = QuantRange::narrow;
    p.bias = BiasMode::f32;
    p.all_int8_ops = false;
    p.int8_ops = kPaddleLiteInt8;
    return p;
  }
  return invalid_input("unknown policy '{}' (presets: onnx, paddle-onednn, paddle-lite-arm)", name);
}

Status int8_policy_set(Int8Policy& p, const std::string& assignment) {
  const size_t eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0)
    return invalid_input("--set '{}': expected knob=value", assignment);
  const std::string knob = assignment.substr(0, eq);
  const std::string v = assignment.substr(eq + 1);
  auto bad = [&](std::string_view allowed) {
    return invalid_input("--set {}={}: expected one of {}", knob, v, allowed);
  };
  if (knob == "range") {
    if (v == "full" || v == "-128,127" || v == "[-128,127]") p.range = QuantRange::full;
    else if (v == "narrow" || v == "-127,127" || v == "[-127,127]") p.range = QuantRange::narrow;
    else return bad("full, narrow");
  } else if (knob == "unsigned_after_relu") {
    QD_ASSIGN_OR_RETURN(p.unsigned_after_relu, parse_on_off(knob, v));
  } else if (knob == "bias") {
    if (v == "model") p.bias = BiasMode::model;
    else if (v == "s32") p.bias = BiasMode::s32;
    else if (v == "f32") p.bias = BiasMode::f32;
    else return bad("model, s32, f32");
  } else if (knob == "weights") {
    if (v == "model") p.weights = WeightsMode::model;
    else if (v == "requantize") p.weights = WeightsMode::requantize;
    else return bad("model, requantize");
  } else if (knob == "rounding") {
    if (v == "half_even") p.rounding = Rounding::half_even;
    else if (v == "half_away") p.rounding = Rounding::half_away;
    else return bad("half_even, half_away");
  } else if (knob == "act_order") {
    if (v == "exact") p.act_order = ActOrder::exact;
    else if (v == "after_scale") p.act_order = ActOrder::after_scale;
    else return bad("exact, after_scale");
  } else if (knob == "fp32_ops") {
    if (v == "none") {
      p.all_int8_ops = true;
      p.int8_ops.clear();
    } else if (v.rfind("all_but:", 0) == 0) {
      QD_ASSIGN_OR_RETURN(p.int8_ops, parse_ops(knob, v.substr(8)));
      p.all_int8_ops = false;
    } else {
      QD_ASSIGN_OR_RETURN(std::set<OpKind> fp32, parse_ops(knob, v));
      std::set<OpKind> allowed = p.all_int8_ops ? all_onnx_ops() : p.int8_ops;
      for (OpKind k : fp32) allowed.erase(k);
      p.int8_ops = allowed;
      p.all_int8_ops = false;
    }
  } else if (knob == "skip_nodes") {
    try {
      std::regex check(v, std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
      return invalid_input("--set skip_nodes={}: not a valid regular expression ({})", v, e.what());
    }
    p.skip_nodes = v;
  } else if (knob == "act_scales") {
    if (v == "model") p.act_scales = ActScales::model;
    else if (v == "observed_max") p.act_scales = ActScales::observed_max;
    else return bad("model, observed_max");
  } else {
    return invalid_input(
        "--set {}: unknown knob (knobs: range, unsigned_after_relu, bias, weights, rounding, act_order, fp32_ops, "
        "skip_nodes, act_scales)",
        knob);
  }
  p.overrides.push_back(assignment);
  return Status::ok();
}

std::vector<std::pair<std::string, std::string>> int8_policy_knobs(const Int8Policy& p) {
  static constexpr std::string_view kBias[] = {"model", "s32", "f32"};
  static constexpr std::string_view kWeights[] = {"model", "requantize"};
  static constexpr std::string_view kAct[] = {"exact", "after_scale"};
  return {
      {"range", p.range == QuantRange::full ? "[-128,127]" : "[-127,127]"},
      {"unsigned_after_relu", p.unsigned_after_relu ? "on" : "off"},
      {"bias", std::string(kBias[static_cast<int>(p.bias)])},
      {"weights", std::string(kWeights[static_cast<int>(p.weights)])},
      {"rounding", std::string(rounding_name(p.rounding))},
      {"act_order", std::string(kAct[static_cast<int>(p.act_order)])},
      {"fp32_ops", p.all_int8_ops ? std::string("none") : "all_but:" + ops_list(p.int8_ops)},
      {"skip_nodes", p.skip_nodes.empty() ? "none" : p.skip_nodes},
      {"act_scales", p.act_scales == ActScales::model ? "model" : "observed_max"},
  };
}

std::string int8_policy_describe(const Int8Policy& p) {
  std::string out = p.name;
  if (!p.overrides.empty()) out += fmt::format(" ({})", fmt::join(p.overrides, ", "));
  out += ":";
  for (const auto& [knob, value] : int8_policy_knobs(p)) out += fmt::format(" {}={}", knob, value);
  return out;
}

std::string int8_policy_help() {
  return "Presets (--policy): onnx (default), paddle-onednn, paddle-lite-arm.\n"
         "Knobs (--set knob=value, repeatable, applied after the preset):\n"
         "  range=full|narrow              s8 grid [-128,127] or [-127,127]\n"
         "  unsigned_after_relu=on|off     s8 (T/127) after relu becomes u8 (T/255)\n"
         "  bias=model|s32|f32             model's int32; round(b/(sx*sw)) as s32; f32 unrounded\n"
         "  weights=model|requantize       model's codes; or re-quantized per channel after BN folding\n"
         "  rounding=half_even|half_away   requantization rounding (oneDNN: half_even only)\n"
         "  act_order=exact|after_scale    fused activation on real values, or on output-scaled values\n"
         "  fp32_ops=none|Op,Op|all_but:Op,Op   op types kept in float\n"
         "  skip_nodes=REGEX               source nodes left unquantized\n"
         "  act_scales=model|observed_max  activation scales: the model's, or max |x| observed on the inputs\n";
}

}  // namespace qdrift
