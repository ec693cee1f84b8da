#include "diff/hints.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <optional>

#include <fmt/format.h>

#include "core/lowered_ops.h"
#include "core/qdq_params.h"
#include "core/quant_math.h"
#include "diff/drift.h"

namespace qdrift {

void add_nonfinite_input_hint(Report& report) {
  std::string inputs;
  for (const InputRecord& in : report.inputs) {
    if (in.stats.nan_count == 0 && in.stats.inf_count == 0) continue;
    inputs += fmt::format("{}'{}' ({} NaN, {} Inf of {})", inputs.empty() ? "" : ", ", in.name, in.stats.nan_count,
                          in.stats.inf_count, in.stats.count);
  }
  if (inputs.empty()) return;
  CauseHint h;
  h.cause = "nonfinite_input";
  for (size_t i = 0; i < report.pairs.size() && h.pair < 0; ++i) {
    const DriftMeasures& d = report.pairs[i].drift;
    if (report.pairs[i].divergent || d.nan_ref + d.inf_ref + d.nan_other + d.inf_other > 0)
      h.pair = static_cast<int64_t>(i);
  }
  h.message = fmt::format(
      "input {} holds non-finite values; QuantizeLinear of NaN is undefined in ONNX (the reference maps it to the "
      "zero point, saturating kernels usually to the lowest code) and Inf saturates, so drift downstream of it "
      "says more about the input than about the int8 runtime",
      inputs);
  report.causes.push_back(std::move(h));
}

void add_kernel_drift_hint(Report& report, const KernelInfo& kernels) {
  int64_t first = -1, count = 0;
  double worst = 0;
  for (size_t i = 0; i < report.pairs.size(); ++i) {
    const PairRecord& p = report.pairs[i];
    if (!p.has_kernel_check || p.kernel_differ == 0) continue;
    if (first < 0) first = static_cast<int64_t>(i);
    ++count;
    worst = std::max(worst, p.kernel_max_steps);
  }
  if (first < 0) return;
  const PairRecord& p = report.pairs[static_cast<size_t>(first)];
  CauseHint h;
  h.pair = first;
  h.pair_count = count;
  h.evidence = {{"kernel_differ", static_cast<double>(p.kernel_differ)}, {"kernel_max_steps", worst},
                {"int8_vnni", kernels.int8_vnni ? 1.0 : 0.0}};
  const std::string what = fmt::format(
      "the int8 runtime differs from the integer oracle on the same int8 graph in {} tensor{}, first '{}' ({} "
      "element{}, up to {:.0f} step{}): kernel drift, not int8 semantics",
      count, count == 1 ? "" : "s", p.other.tensor, p.kernel_differ, p.kernel_differ == 1 ? "" : "s", worst,
      worst == 1 ? "" : "s");
  if (!kernels.int8_vnni) {
    h.cause = "non_vnni_saturation";
    h.message = fmt::format(
        "{}. This CPU runs {} on {} without VNNI, where int8 convolutions add u8*s8 products in pairs that saturate "
        "at 16 bits (and halve the weights for s8 inputs)",
        what, kernels.library, kernels.isa);
  } else {
    h.cause = "kernel_drift";
    h.message = fmt::format("{} ({} on {})", what, kernels.library, kernels.isa);
  }
  report.causes.push_back(std::move(h));
}

}  // namespace qdrift

// ---- named causes (docs/causes.md) ------------------------------------------------------

namespace qdrift {

namespace {

// One rule's verdict on one pair.
struct Firing {
  std::string message;
  std::vector<std::pair<std::string, double>> evidence;
  std::string knob;
};

bool quantized_per_tensor(const SideRecord& s) {
  return s.quantized && s.scale.size() == 1 && s.zero_point.size() == 1 &&
         (s.dtype == DType::u8 || s.dtype == DType::s8);
}

// Real value of a side's minimum (native codes dequantized with its own grid).
double real_min(const SideRecord& s) {
  if (!quantized_per_tensor(s)) return s.stats.min;
  return (s.stats.min - s.zero_point[0]) * static_cast<double>(s.scale[0]);
}

bool drifted(const PairRecord& p) { return p.drift.frac_differ > 0 || p.drift.nonfinite_mismatch > 0; }

// Elements at the lowest and highest code that are not the zero point (real 0 is no saturation).
int64_t saturated(const SideRecord& s) {
  if (!quantized_per_tensor(s)) return 0;
  const QuantGrid g = quant_grid(s.dtype, QuantRange::full);
  return (s.zero_point[0] != g.qmin ? s.count_at_qmin : 0) + (s.zero_point[0] != g.qmax ? s.count_at_qmax : 0);
}

// What the rules look up in the graphs, built once per report.
class Graphs {
 public:
  explicit Graphs(const CauseContext& c) : c_(c) {
    if (c.other)
      for (const Node& n : c.other->nodes) other_nodes_.emplace(n.name, &n);
  }
  const Node* other_node(const std::string& name) const {
    auto it = other_nodes_.find(name);
    return it == other_nodes_.end() ? nullptr : it->second;
  }
  const Graph* other() const { return c_.other; }
  const Graph* ref() const { return c_.ref; }
  // A source tensor's real values: a constant, or DequantizeLinear of a constant.
  std::optional<Tensor> source_real(const std::string& name) const {
    if (!c_.ref) return std::nullopt;
    const ValueId v = c_.ref->find_value(name);
    if (v == kNoValue) return std::nullopt;
    if (const Tensor* t = constant_tensor(*c_.ref, v)) return real_values_of(*t, nullptr);
    const Node* dq = c_.ref->producer(v);
    if (!dq || dq->kind != OpKind::DequantizeLinear) return std::nullopt;
    const Tensor* codes = constant_tensor(*c_.ref, dq->input(0));
    auto q = qdq_node_params(*c_.ref, *dq);
    if (!codes || !q || !q->has_value()) return std::nullopt;
    return dequantize_tensor(*codes, **q);
  }
  // The source weights' quantization (DequantizeLinear of a constant).
  std::optional<QuantParams> source_quant(const std::string& name) const {
    if (!c_.ref) return std::nullopt;
    const ValueId v = c_.ref->find_value(name);
    const Node* dq = v == kNoValue ? nullptr : c_.ref->producer(v);
    if (!dq || dq->kind != OpKind::DequantizeLinear) return std::nullopt;
    auto q = qdq_node_params(*c_.ref, *dq);
    if (!q || !q->has_value()) return std::nullopt;
    return **q;
  }

 private:
  static Tensor real_values_of(const Tensor& t, const QuantParams*) {
    Tensor f = Tensor::zeros(DType::f32, t.shape);
    for (int64_t i = 0; i < t.numel(); ++i) f.data<float>()[i] = static_cast<float>(t.value_as_double(i));
    return f;
  }
  const CauseContext& c_;
  std::map<std::string, const Node*> other_nodes_;
};

// The lowered int8 op (QConv/QMatMul) that made the other side of a pair, with its parameters.
struct Int8Op {
  const Node* node = nullptr;
  LoweredParams params;
};
std::optional<Int8Op> int8_op(const Graphs& g, const PairRecord& p) {
  const Node* n = g.other_node(p.other.node);
  if (!n || (n->kind != OpKind::QConv && n->kind != OpKind::QMatMul)) return std::nullopt;
  auto params = parse_lowered_params(*n);
  if (!params) return std::nullopt;
  return Int8Op{n, std::move(*params)};
}

using Rule = std::function<std::optional<Firing>(const PairRecord&, const Graphs&, const CauseContext&)>;

std::optional<Firing> unsigned_grid(const PairRecord& p, const Graphs&, const CauseContext& c) {
  if (!quantized_per_tensor(p.ref) || !quantized_per_tensor(p.other)) return std::nullopt;
  if (p.ref.dtype != DType::s8 || p.other.dtype != DType::u8 || real_min(p.ref) < 0 || !drifted(p)) return std::nullopt;
  Firing f;
  f.message = fmt::format(
      "'{}' is u8 (scale {:.6g}, zero point {}) where the reference is s8 (scale {:.6g}): the same range on 255 "
      "codes instead of 127, so the int8 side rounds on a finer grid than the fake-quant model was trained on",
      p.other.tensor, p.other.scale[0], p.other.zero_point[0], p.ref.scale[0]);
  f.evidence = {{"ref_scale", p.ref.scale[0]},
                {"other_scale", p.other.scale[0]},
                {"scale_ratio", p.other.scale[0] / static_cast<double>(p.ref.scale[0])},
                {"other_max_code", p.other.stats.max},
                {"max_abs_steps", p.drift.max_abs_steps}};
  if (c.policy && c.policy->unsigned_after_relu) f.knob = "unsigned_after_relu=on";
  return f;
}

std::optional<Firing> wrongly_unsigned(const PairRecord& p, const Graphs&, const CauseContext& c) {
  if (!quantized_per_tensor(p.ref) || !quantized_per_tensor(p.other) || p.other.dtype != DType::u8) return std::nullopt;
  const double ref_min = real_min(p.ref), other_min = real_min(p.other);
  if (!(ref_min < 0) || other_min < 0 || p.other.stats.min != p.other.zero_point[0] || !drifted(p)) return std::nullopt;
  Firing f;
  f.message = fmt::format(
      "'{}' is unsigned (u8, zero point {}) but the reference holds negatives down to {:.6g}: every negative value "
      "is clipped to 0",
      p.other.tensor, p.other.zero_point[0], ref_min);
  f.evidence = {{"ref_min", ref_min}, {"other_min", other_min}, {"max_abs", p.drift.max_abs},
                {"max_abs_steps", p.drift.max_abs_steps}};
  if (c.policy && c.policy->unsigned_after_relu) f.knob = "unsigned_after_relu=on";
  return f;
}

std::optional<Firing> code_minus_128(const PairRecord& p, const Graphs&, const CauseContext& c) {
  if (!quantized_per_tensor(p.other) || p.other.dtype != DType::s8 || p.other.count_at_qmin == 0) return std::nullopt;
  if (p.ref.dtype != DType::s8 || c.fake_quant.range != QuantRange::narrow) return std::nullopt;
  Firing f;
  f.message = fmt::format(
      "'{}' uses code -128 ({} elements) where the reference's fake quantization is narrow [-127,127] (minimum "
      "code {:.0f}): the int8 side has one code more on the negative side",
      p.other.tensor, p.other.count_at_qmin, p.ref.stats.min);
  f.evidence = {{"other_count_at_minus_128", static_cast<double>(p.other.count_at_qmin)},
                {"ref_min_code", p.ref.stats.min},
                {"max_abs_steps", p.drift.max_abs_steps}};
  if (c.policy && c.policy->range == QuantRange::full) f.knob = "range=[-128,127]";
  return f;
}

std::optional<Firing> float_island(const PairRecord& p, const Graphs& g, const CauseContext& c);

std::optional<Firing> act_scale_source(const PairRecord& p, const Graphs& g, const CauseContext& c) {
  if (!quantized_per_tensor(p.ref) || !quantized_per_tensor(p.other) || !drifted(p)) return std::nullopt;
  if (float_island(p, g, c)) return std::nullopt;  // the more specific cause says it
  const double ratio = p.other.scale[0] / static_cast<double>(p.ref.scale[0]);
  if (std::fabs(ratio - 1) < 1e-4) return std::nullopt;
  // The unsigned grid's T/255 instead of T/127 is unsigned_grid's.
  if (p.ref.dtype != p.other.dtype && std::fabs(ratio - 127.0 / 255.0) < 1e-4) return std::nullopt;
  Firing f;
  f.message = fmt::format(
      "'{}' is quantized with scale {:.6g} where the reference uses {:.6g} (x{:.3g}): its activation scale comes "
      "from another source than the model's fake quantization",
      p.other.tensor, p.other.scale[0], p.ref.scale[0], ratio);
  f.evidence = {{"ref_scale", p.ref.scale[0]},
                {"other_scale", p.other.scale[0]},
                {"scale_ratio", ratio},
                {"ref_saturated", static_cast<double>(saturated(p.ref))},
                {"other_saturated", static_cast<double>(saturated(p.other))},
                {"max_abs_steps", p.drift.max_abs_steps}};
  if (c.policy && c.policy->act_scales == ActScales::observed_max) f.knob = "act_scales=observed_max";
  return f;
}

std::optional<Firing> bias_rounding(const PairRecord& p, const Graphs& g, const CauseContext& c) {
  auto op = int8_op(g, p);
  if (!op || !drifted(p) || op->node->inputs.size() < 3 || op->node->input(2) == kNoValue) return std::nullopt;
  const Graph& low = *g.other();
  const Value& bias = low.value(op->node->input(2));
  const Value& x = low.value(op->node->input(0));
  const Value& w = low.value(op->node->input(1));
  if (bias.provenance.rewrite != "bias_requantize_s32" || !x.quant || !w.quant) return std::nullopt;
  const Tensor* codes = constant_tensor(low, op->node->input(2));
  auto real = g.source_real(bias.provenance.source);
  if (!codes || !real || real->numel() != codes->numel() || !quantized_per_tensor(p.ref)) return std::nullopt;
  double worst = 0;
  for (int64_t ch = 0; ch < codes->numel(); ++ch) {
    const double sw = w.quant->scale.size() == 1 ? w.quant->scale[0] : w.quant->scale[static_cast<size_t>(ch)];
    const double acc_unit = static_cast<double>(x.quant->scale[0]) * sw;
    const double err = std::fabs(codes->value_as_double(ch) * acc_unit - real->data<float>()[ch]);
    worst = std::max(worst, err / static_cast<double>(p.ref.scale[0]));
  }
  // The bias is a constant per channel: it can move an element by one step at most.
  if (worst < 1e-4 || p.drift.max_abs_steps > 1.0 + 1e-3) return std::nullopt;
  Firing f;
  f.message = fmt::format(
      "the bias of '{}' is rounded to int32 in accumulator units (s_x*s_w): up to {:.3g} output steps off per "
      "channel, a constant offset that moves values across rounding boundaries",
      op->node->name, worst);
  f.evidence = {{"max_bias_error_steps", worst}, {"channels", static_cast<double>(codes->numel())},
                {"max_abs_steps", p.drift.max_abs_steps}};
  if (c.policy && c.policy->bias == BiasMode::s32) f.knob = "bias=s32";
  return f;
}

// The lowered weights of an int8 op and the source weights' quantization.
struct WeightsPair {
  const Value* lowered = nullptr;
  std::optional<QuantParams> source;
};
std::optional<WeightsPair> weights_of(const Graphs& g, const Int8Op& op) {
  const Value& w = g.other()->value(op.node->input(1));
  if (!w.quant) return std::nullopt;
  WeightsPair wp{&w, g.source_quant(w.provenance.source)};
  if (!wp.source) return std::nullopt;
  return wp;
}

std::optional<Firing> weights_requantized(const PairRecord& p, const Graphs& g, const CauseContext& c) {
  auto op = int8_op(g, p);
  if (!op || !drifted(p)) return std::nullopt;
  auto wp = weights_of(g, *op);
  if (!wp || wp->lowered->provenance.rewrite != "requantize_weights") return std::nullopt;
  const std::vector<float>& a = wp->lowered->quant->scale;
  const std::vector<float>& b = wp->source->scale;
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double sb = b.size() == 1 ? b[0] : i < b.size() ? b[i] : b.back();
    worst = std::max(worst, std::fabs(a[i] / sb - 1));
  }
  if (worst < 1e-6) return std::nullopt;
  Firing f;
  f.message = fmt::format(
      "the weights of '{}' were re-quantized (max |w| / 127 per channel, after folding BatchNormalization): "
      "their scales differ from the model's by up to {:.3g}%, so every weight code may move",
      op->node->name, worst * 100);
  f.evidence = {{"max_weight_scale_change", worst},
                {"other_weight_scales", static_cast<double>(a.size())},
                {"ref_weight_scales", static_cast<double>(b.size())},
                {"max_abs_steps", p.drift.max_abs_steps}};
  if (c.policy && c.policy->weights == WeightsMode::requantize) f.knob = "weights=requantize";
  return f;
}

std::optional<Firing> per_channel_mismatch(const PairRecord& p, const Graphs& g, const CauseContext& c) {
  auto op = int8_op(g, p);
  if (!op || !drifted(p)) return std::nullopt;
  auto wp = weights_of(g, *op);
  if (!wp) return std::nullopt;
  const size_t a = wp->lowered->quant->scale.size(), b = wp->source->scale.size();
  if ((a == 1) == (b == 1)) return std::nullopt;
  const auto [lo, hi] = std::minmax_element(wp->lowered->quant->scale.begin(), wp->lowered->quant->scale.end());
  Firing f;
  f.message = fmt::format(
      "the weights of '{}' are {} in the int8 graph but {} in the model ({} vs {} scales): the error varies by "
      "output channel",
      op->node->name, a == 1 ? "per-tensor" : "per-channel", b == 1 ? "per-tensor" : "per-channel", a, b);
  f.evidence = {{"other_weight_scales", static_cast<double>(a)},
                {"ref_weight_scales", static_cast<double>(b)},
                {"other_weight_scale_spread", *lo > 0 ? *hi / static_cast<double>(*lo) : 0.0},
                {"max_abs_steps", p.drift.max_abs_steps}};
  if (c.policy && c.policy->weights == WeightsMode::requantize) f.knob = "weights=requantize";
  return f;
}

std::optional<Firing> act_order(const PairRecord& p, const Graphs& g, const CauseContext& c) {
  if (!c.policy || c.policy->act_order != ActOrder::after_scale || !quantized_per_tensor(p.other)) return std::nullopt;
  auto op = int8_op(g, p);
  if (!op || !p.divergent) return std::nullopt;
  const PostOp* knee = nullptr;
  for (const PostOp& po : op->params.post_ops)
    if (po.kind == PostOpKind::hardswish || po.kind == PostOpKind::clip) knee = &po;
  if (!knee) return std::nullopt;
  const double sy = p.other.scale[0];
  Firing f;
  f.message = fmt::format(
      "'{}' applies its {} to output-scaled values (codes of scale {:.6g}) with unchanged parameters: the "
      "activation's knees sit {:.3g}x off in real units",
      op->node->name, post_op_name(knee->kind), sy, 1 / sy);
  f.evidence = {{"output_scale", sy},
                {"knee_shift", 1 / sy},
                {"max_abs_steps", p.drift.max_abs_steps},
                {"sqnr_db", p.drift.sqnr_db}};
  if (knee->kind == PostOpKind::clip) f.evidence.emplace_back("clip_max_codes", knee->beta);
  f.knob = "act_order=after_scale";
  return f;
}

std::optional<Firing> extra_saturation(const PairRecord& p, const Graphs&, const CauseContext&) {
  if (!quantized_per_tensor(p.ref) || !quantized_per_tensor(p.other) || !drifted(p)) return std::nullopt;
  const int64_t r = saturated(p.ref), o = saturated(p.other);
  const int64_t margin = std::max<int64_t>(4, p.drift.count / 1000);
  if (o <= 2 * r + margin) return std::nullopt;
  Firing f;
  f.message = fmt::format(
      "'{}' saturates {} elements at its lowest or highest code where the reference saturates {}: clipping the "
      "fake-quant model does not have",
      p.other.tensor, o, r);
  f.evidence = {{"ref_saturated", static_cast<double>(r)},
                {"other_saturated", static_cast<double>(o)},
                {"other_count_at_qmin", static_cast<double>(p.other.count_at_qmin)},
                {"other_count_at_qmax", static_cast<double>(p.other.count_at_qmax)},
                {"max_abs_steps", p.drift.max_abs_steps}};
  return f;
}

std::optional<Firing> rounding_ties(const PairRecord& p, const Graphs&, const CauseContext& c) {
  if (c.fake_quant.rounding == Rounding::half_even || !p.drift.has_steps || !drifted(p)) return std::nullopt;
  const std::vector<int64_t>& h = p.drift.steps_histogram;
  if (h.size() < 2 || h[1] == 0 || p.drift.max_abs_steps > 1.0 + 1e-3) return std::nullopt;
  Firing f;
  f.message = fmt::format(
      "'{}' differs by exactly one step in {} elements and never more: the reference rounds ties half away from "
      "zero (--fake-rounding half_away), the int8 runtime half to even",
      p.ref.tensor, h[1]);
  f.evidence = {{"one_step_elements", static_cast<double>(h[1])},
                {"frac_differ", p.drift.frac_differ},
                {"max_abs_steps", p.drift.max_abs_steps}};
  return f;
}

// An op of the other graph that computes in f32 (not int8, not a (de)quantize).
bool float_op(const Node& n) {
  switch (n.kind) {
    case OpKind::QConv: case OpKind::QMatMul: case OpKind::QAdd: case OpKind::Quantize: case OpKind::Dequantize:
    case OpKind::Requantize: case OpKind::QuantizeLinear: case OpKind::DequantizeLinear: case OpKind::QLinearConv:
    case OpKind::QLinearMatMul: case OpKind::QLinearAdd:
      return false;
    default:
      return true;
  }
}

// Float ops between a dequantize and the quantize that made `v`: {ops, the island's input scale}.
std::pair<int, std::optional<float>> float_island_before(const Graph& g, ValueId v) {
  int ops = 0;
  for (ValueId cur = v; ops < 64;) {
    const Node* n = g.producer(cur);
    if (!n || n->inputs.empty()) return {ops, std::nullopt};
    if (n->kind == OpKind::Dequantize || n->kind == OpKind::DequantizeLinear) {
      const std::optional<QuantParams> q = tensor_grid(g, n->input(0), nullptr);
      if (!q || q->scale.size() != 1) return {ops, std::nullopt};
      return {ops, q->scale[0]};
    }
    if (!float_op(*n)) return {ops, std::nullopt};
    ++ops;
    cur = n->input(0);
  }
  return {ops, std::nullopt};
}

std::optional<Firing> float_island(const PairRecord& p, const Graphs& g, const CauseContext& c) {
  if (!g.other() || !quantized_per_tensor(p.ref) || !quantized_per_tensor(p.other) || !p.divergent) return std::nullopt;
  const Node* q = g.other_node(p.other.node);
  if (!q || (q->kind != OpKind::Quantize && q->kind != OpKind::QuantizeLinear)) return std::nullopt;
  const auto [ops, in_scale] = float_island_before(*g.other(), q->input(0));
  if (ops == 0 || !in_scale) return std::nullopt;
  // Re-quantized with the scale propagated from the island's input instead of its own.
  if (std::fabs(p.other.scale[0] / *in_scale - 1) > 1e-4 || std::fabs(p.other.scale[0] / p.ref.scale[0] - 1) < 1e-4)
    return std::nullopt;
  Firing f;
  f.message = fmt::format(
      "'{}' leaves a float island of {} op{} and is re-quantized with the scale of the island's input ({:.6g}) "
      "instead of its own ({:.6g})",
      p.other.tensor, ops, ops == 1 ? "" : "s", *in_scale, p.ref.scale[0]);
  f.evidence = {{"island_ops", static_cast<double>(ops)},
                {"island_input_scale", *in_scale},
                {"ref_scale", p.ref.scale[0]},
                {"other_scale", p.other.scale[0]},
                {"max_abs_steps", p.drift.max_abs_steps}};
  if (c.policy && !c.policy->all_int8_ops) f.knob = "fp32_ops";
  return f;
}

std::optional<Firing> residual_rescale(const PairRecord& p, const Graphs& g, const CauseContext& c,
                                       const std::map<std::string, const PairRecord*>& by_other) {
  if (!g.other() || !p.divergent || !quantized_per_tensor(p.other)) return std::nullopt;
  const Node* n = g.other_node(p.other.node);
  if (!n) return std::nullopt;
  ValueId skip = kNoValue;
  if ((n->kind == OpKind::QuantizeLinear || n->kind == OpKind::Quantize) && n->input(0) != kNoValue) {
    const Node* add = g.other()->producer(n->input(0));  // a float Add of two dequantized int8 tensors
    if (add && add->kind == OpKind::Add && add->inputs.size() == 2) n = add;
  }
  if (n->kind == OpKind::Add) {
    for (ValueId in : n->inputs) {
      const Node* dq = g.other()->producer(in);
      if (!dq || (dq->kind != OpKind::DequantizeLinear && dq->kind != OpKind::Dequantize)) return std::nullopt;
    }
    // The skip: the input whose grid is furthest from the output's.
    double worst = -1;
    for (ValueId in : n->inputs) {
      const std::optional<QuantParams> q = tensor_grid(*g.other(), g.other()->producer(in)->input(0), nullptr);
      if (!q || q->scale.size() != 1) return std::nullopt;
      const double off = std::fabs(std::log(q->scale[0] / static_cast<double>(p.other.scale[0])));
      if (off > worst) worst = off, skip = g.other()->producer(in)->input(0);
    }
  } else if (n->kind == OpKind::QConv || n->kind == OpKind::QMatMul) {
    auto params = parse_lowered_params(*n);
    if (!params || !params->has_sum() || n->inputs.size() < 4) return std::nullopt;
    skip = n->input(3);
  } else if (n->kind == OpKind::QAdd || n->kind == OpKind::QLinearAdd) {
    skip = n->input(n->kind == OpKind::QAdd ? 1 : 3);
  } else {
    return std::nullopt;
  }
  // The add's own drift: its inputs arrive clean (each paired input within the thresholds).
  for (ValueId in : n->inputs) {
    if (in == kNoValue) continue;
    auto it = by_other.find(g.other()->value(in).name);
    if (it != by_other.end() && it->second->divergent) return std::nullopt;
  }
  const std::optional<QuantParams> qs = tensor_grid(*g.other(), skip, nullptr);
  if (!qs || qs->scale.size() != 1) return std::nullopt;
  const double rescale = qs->scale[0] / static_cast<double>(p.other.scale[0]);
  Firing f;
  f.message = fmt::format(
      "the residual add into '{}' re-scales its skip input in int8 (x{:.4g}, skip scale {:.6g} onto output scale "
      "{:.6g}) and diverges although its inputs arrive within the thresholds",
      p.other.tensor, rescale, qs->scale[0], p.other.scale[0]);
  f.evidence = {{"skip_scale", qs->scale[0]}, {"output_scale", p.other.scale[0]}, {"rescale", rescale},
                {"max_abs_steps", p.drift.max_abs_steps}};
  (void)c;
  return f;
}

}  // namespace

void add_cause_hints(Report& report, const CauseContext& context) {
  const Graphs g(context);
  std::map<std::string, const PairRecord*> by_other;
  for (const PairRecord& p : report.pairs) by_other.emplace(p.other.tensor, &p);
  const std::vector<std::pair<std::string, Rule>> rules = {
      {"unsigned_grid", unsigned_grid},
      {"wrongly_unsigned", wrongly_unsigned},
      {"code_minus_128", code_minus_128},
      {"act_scale_source", act_scale_source},
      {"bias_rounding", bias_rounding},
      {"weights_requantized", weights_requantized},
      {"per_channel_mismatch", per_channel_mismatch},
      {"act_order", act_order},
      {"extra_saturation", extra_saturation},
      {"rounding_ties", rounding_ties},
      {"float_island", float_island},
      {"residual_rescale",
       [&by_other](const PairRecord& p, const Graphs& gr, const CauseContext& c) {
         return residual_rescale(p, gr, c, by_other);
       }},
  };
  for (const auto& [cause, rule] : rules) {
    CauseHint h;
    h.cause = cause;
    for (size_t i = 0; i < report.pairs.size(); ++i) {
      std::optional<Firing> f = rule(report.pairs[i], g, context);
      if (!f) continue;
      if (h.pair_count++ == 0) {
        h.pair = static_cast<int64_t>(i);
        h.message = std::move(f->message);
        h.evidence = std::move(f->evidence);
        h.knob = std::move(f->knob);
      }
    }
    if (h.pair_count > 0) report.causes.push_back(std::move(h));
  }
}

}  // namespace qdrift
