// lowered_ops.h: the contract of the int8 graph's own ops (domain "qdrift"), shared by
// the lowering (core), the oneDNN runtime (kernels/onednn) and the integer oracle
// (kernels/int). Both kernel tables must compute exactly what is written here, in the
// float order written here, so that on a VNNI machine they agree bit for bit. The order is
// oneDNN 2.6's (jit int8 conv/matmul epilogue, jit reorder), checked on the installed
// library; see docs/int8_runtime.md for the evidence.
//
//   const LoweredParams p = parse_lowered_params(node);   // output scales + post-ops
//   int32_t acc = sum((x - zp_x) * (w - zp_w));           // exact, int32 (wraps like oneDNN)
//   float v = static_cast<float>(acc);
//   if (bias) v += bias_f32[oc];                          // bias is in accumulator units (s32 -> f32 first)
//   v *= p.output_scale(oc);
//   for (const PostOp& op : p.post_ops) v = apply_post_op(op, v, sum_value);
//   dst = dst_is_int ? saturate(round_half_even(v + zp_dst)) : v;   // zp_dst added in f32, BEFORE rounding
//
// Saturation happens in f32 before the conversion (u8 [0,255], s8 [-128,127]; s32 clamps
// at 2147483520, the largest f32 below 2^31). Padding contributes x = zp_x (real zero).
//
// Quantization parameters of every int8 tensor live on the graph Value (Value::quant):
// x, w, sum input and y. Weights are per output channel (axis 0 of w, axis 1 of the
// [K, N] matmul weights: one scale per N).
//
// Ops (f32(.) converts an integer to float; every step is one f32 operation, no fma):
//   Quantize    (x: f32) -> y: u8/s8          y = saturate(round_half_even(x * (1/s_y) + zp_y))
//   Dequantize  (x: u8/s8/s32) -> y: f32      y = (f32(x) - f32(zp_x)) * s_x
//   Requantize  (x: u8/s8) -> y: u8/s8        y = saturate(round_half_even((f32(x) - f32(zp_x)) * (s_x/s_y) + zp_y))
//   QConv       (x: u8/s8, w: s8 (u8 only with the oracle), [bias: s32/f32], [sum: u8/s8/f32])
//               -> y: u8/s8/s32/f32. Attributes as ONNX Conv after auto_pad is resolved:
//               kernel_shape, strides, pads, dilations, group; plus the LoweredParams ones.
//   QMatMul     (x: u8/s8 [..., M, K], w: s8 [K, N], [bias], [sum]) -> y [..., M, N]
//   QAdd        (a: u8/s8, b: u8/s8, same shape) -> y: u8/s8, per-tensor parameters, ONNX's
//               DequantizeLinear -> Add -> [Relu|Clip] -> QuantizeLinear in the reference's own
//               float order (attributes act_min, act_max: the fused activation's bounds in real
//               units, absent = -inf / +inf; Relu is act_min = 0):
//                 fa = (f32(a) - f32(zp_a)) * s_a
//                 fb = (f32(b) - f32(zp_b)) * s_b
//                 v  = fa + fb;  v = v > act_min ? v : act_min;  v = v < act_max ? v : act_max
//                 y  = saturate(round_half_even(v / s_y) + zp_y)             divides; zp after rounding
//               so it equals the QDQ reference bit for bit (ORT's QLinearAdd multiplies by
//               s_a/s_y and s_b/s_y instead; oneDNN 2.6's binary takes no zero points).
//   QGlobalAveragePool (x: u8/s8 [N, C, spatial...]) -> y: u8/s8 [N, C, 1...], per-tensor
//               parameters, ONNX's DequantizeLinear -> GlobalAveragePool -> QuantizeLinear with the
//               sum of the dequantized codes done exactly (the reference sums them in double):
//                 S = sum(x - zp_x)                                   exact integer, per (n, c)
//                 v = f32(f64(S) * f64(s_x) / f64(count))             count = spatial elements
//                 y = saturate(round_half_even(v / s_y) + zp_y)       divides; zp after rounding
//               It differs from the reference only where its f32 mean is an ulp away (ties).
// Scales s_x/s_y and 1/s_y are computed once in f32 by whoever builds the op's parameters.
//
// The zero point is added in f32 before rounding (oneDNN's reorder and conv epilogue), not
// after as ONNX's QuantizeLinear does: round(2.5 + 1) = 4 where round(2.5) + 1 = 3. Quantize
// multiplies by the reciprocal scale as oneDNN's reorder does; ONNX divides. Both differ from
// ONNX only where x/s sits at or within an ulp of a .5 tie: the reference keeps ONNX's
// formula, and the diff reports such elements as rounding ties.
#pragma once

#include <algorithm>
#include <cmath>
#include <string>
#include <string_view>
#include <vector>

#include "core/graph.h"

namespace qdrift {

// max/min below are SSE's maxps/minps: max(a, b) = a > b ? a : b (b when either is NaN).
enum class PostOpKind : uint8_t {
  relu,        // v = max(v, 0)
  leaky_relu,  // v = v > 0 ? v : alpha * v
  clip,        // v = min(max(v, alpha), beta)
  hardswish,   // v = v * (min(max(v + 3, 0), 6) / 6)   (oneDNN 2.6 eltwise_hardswish: divides by 6)
  linear,      // v = fma(alpha, v, beta)               (one rounding, as the jit injector's vfmadd)
  sum,         // v = fma(alpha, f32(sum_input) - beta, v)  (beta = the sum input's zero point)
};
std::string_view post_op_name(PostOpKind k);

struct PostOp {
  PostOpKind kind = PostOpKind::relu;
  float alpha = 0.f;
  float beta = 0.f;
};

// Attributes shared by QConv and QMatMul:
//   output_scales  floats, 1 or one per output channel
//   post_ops       strings (post_op_name), applied in order
//   post_op_alpha  floats, one per post-op
//   post_op_beta   floats, one per post-op
struct LoweredParams {
  std::vector<float> output_scales;
  std::vector<PostOp> post_ops;

  float output_scale(int64_t channel) const {
    return output_scales.size() == 1 ? output_scales[0] : output_scales[static_cast<size_t>(channel)];
  }
  bool has_sum() const {
    return std::any_of(post_ops.begin(), post_ops.end(), [](const PostOp& p) { return p.kind == PostOpKind::sum; });
  }
};

// Reads the attributes above; a malformed lowered node is our bug, reported as internal.
Result<LoweredParams> parse_lowered_params(const Node& node);
// Writes them onto a node (used by the lowering).
void set_lowered_params(Node& node, const LoweredParams& params);

}  // namespace qdrift
