// lowered_ops.h: the contract of the int8 graph's own ops (domain "qdrift"), shared by
// the lowering (core), the oneDNN runtime (kernels/onednn) and the integer oracle
// (kernels/int). Both kernel tables must compute exactly what is written here, in the
// float order written here, so that on a VNNI machine they agree bit for bit.
//
//   const LoweredParams p = parse_lowered_params(node);   // output scales + post-ops
//   float v = static_cast<float>(acc);
//   if (bias) v += bias_f32[oc];                          // bias is in accumulator units
//   v *= p.output_scale(oc);
//   for (const PostOp& op : p.post_ops) v = apply_post_op(op, v, sum_value);
//   dst = dst_is_int ? saturate(round_half_even(v + zp_dst)) : v;
//
// Quantization parameters of every int8 tensor live on the graph Value (Value::quant):
// x, w, sum input and y. Weights are per output channel (axis 0 of w, axis 1 of the
// [K, N] matmul weights: one scale per N).
//
// Ops:
//   Quantize    (x: f32) -> y: u8/s8          y = saturate(round_half_even(x * (1/s_y)) + zp_y)
//   Dequantize  (x: u8/s8/s32) -> y: f32      y = (x - zp_x) * s_x
//   Requantize  (x: u8/s8) -> y: u8/s8        y = saturate(round_half_even((x - zp_x) * (s_x/s_y)) + zp_y)
//   QConv       (x: u8/s8, w: s8 (u8 only with the oracle), [bias: s32/f32], [sum: u8/s8/f32])
//               -> y: u8/s8/s32/f32. Attributes as ONNX Conv after auto_pad is resolved:
//               kernel_shape, strides, pads, dilations, group; plus the LoweredParams ones.
//   QMatMul     (x: u8/s8 [..., M, K], w: s8 [K, N], [bias], [sum]) -> y [..., M, N]
//
// Quantize multiplies by the reciprocal scale as oneDNN's reorder does; ONNX divides. The
// two differ only where x/s sits within an ulp of a .5 tie: the reference keeps ONNX's
// division, and the diff reports such elements as rounding ties.
#pragma once

#include <algorithm>
#include <cmath>
#include <string>
#include <string_view>
#include <vector>

#include "core/graph.h"

namespace qdrift {

enum class PostOpKind : uint8_t {
  relu,        // v = max(v, 0)
  leaky_relu,  // v = v > 0 ? v : alpha * v
  clip,        // v = min(max(v, alpha), beta)
  hardswish,   // v = v * min(max(v + 3, 0), 6) / 6   (oneDNN 2.6 eltwise_hardswish)
  linear,      // v = alpha * v + beta
  sum,         // v = v + alpha * (sum_input - beta)  (beta = the sum input's zero point)
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
