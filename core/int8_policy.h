// int8_policy.h: how a QDQ model is turned into a real int8 graph.
//
//   Result<Int8Policy> p = int8_policy_preset("paddle-onednn");
//   QD_RETURN_IF_ERROR(int8_policy_set(*p, "bias=f32"));   // flip one difference at a time
//   int8_policy_describe(*p)  -> "paddle-onednn (bias=f32): range=full unsigned_after_relu=on ..."
//
// A policy is a named preset of knobs (DESIGN.md, "Policies"); every knob can be set
// alone. The lowering honours every knob or fails: no knob is ever silently ignored.
#pragma once

#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "core/op_kind.h"
#include "core/quant_math.h"
#include "core/status.h"

namespace qdrift {

enum class BiasMode : uint8_t {
  model,  // the model's int32 bias when its scale is s_x*s_w, else the f32 bias pre-scaled
  s32,    // s32 = round(b / (s_x * s_w)), as Paddle's oneDNN pass does
  f32,    // f32 bias, unrounded (Paddle Lite on ARM)
};
enum class WeightsMode : uint8_t {
  model,       // the model's quantized weights as they are
  requantize,  // dequantize, fold BatchNormalization, re-quantize per channel (max |w| / 127)
};
enum class ActOrder : uint8_t {
  exact,        // the fused activation sees real values (bounds and knees where the model has them)
  after_scale,  // the activation is applied to output-scaled values with unchanged parameters
};

enum class ActScales : uint8_t {
  model,         // the scales of the model's QuantizeLinear (the trained fake-quant scales)
  observed_max,  // re-derived from the observed max |x| of each quantized tensor over the given
                 // inputs (a calibration pass on the reference), as a deployment pass that reads
                 // calibration thresholds instead of the trained scales does
};

struct Int8Policy {
  std::string name = "onnx";            // preset it started from
  std::vector<std::string> overrides;   // "knob=value" applied on top, in order
  QuantRange range = QuantRange::full;  // s8 grid of int8 tensors: full [-128,127] or narrow [-127,127]
  bool unsigned_after_relu = false;     // s8 (T/127) after relu becomes u8 (T/255)
  BiasMode bias = BiasMode::model;
  WeightsMode weights = WeightsMode::model;
  Rounding rounding = Rounding::half_even;
  ActOrder act_order = ActOrder::exact;
  // Op kinds allowed to run in int8; every other op runs in f32 between explicit
  // dequantize/quantize ops. `all_int8_ops` = no restriction (fp32_ops=none).
  bool all_int8_ops = true;
  std::set<OpKind> int8_ops;
  std::string skip_nodes;  // ECMAScript regex over source node names left in f32; "" = none
  ActScales act_scales = ActScales::model;
  // act_scales=observed_max: max |x| of the input of each activation QuantizeLinear, by the
  // name of the tensor it quantizes; filled by the caller's calibration pass before lowering.
  std::map<std::string, float> observed_max_abs;

  bool op_allowed_int8(OpKind k) const { return all_int8_ops || int8_ops.count(k) > 0; }
};

// Presets: "onnx" (default), "paddle-onednn", "paddle-lite-arm".
Result<Int8Policy> int8_policy_preset(const std::string& name);
// Applies "knob=value". Knobs: range, unsigned_after_relu, bias, weights, rounding,
// act_order, fp32_ops, skip_nodes, act_scales. Unknown knobs or values are invalid_input.
Status int8_policy_set(Int8Policy& policy, const std::string& assignment);
// Every knob and its value, in the order of the policy table, as `--set` accepts them:
// {"range", "[-128,127]"}, {"unsigned_after_relu", "off"}, ... {"skip_nodes", "none"}.
std::vector<std::pair<std::string, std::string>> int8_policy_knobs(const Int8Policy& policy);
// One line: the preset, the overrides and every knob's value.
std::string int8_policy_describe(const Int8Policy& policy);
// Help text listing the knobs, their values and the presets (for --help and docs).
std::string int8_policy_help();

}  // namespace qdrift
