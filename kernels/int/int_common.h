// int_common.h: scalar steps of the lowered int8 ops exactly as oneDNN 2.6 performs them,
// and readers of the quantization attached to graph values. Shared by the integer oracle
// (kernels/int) and the oneDNN table (kernels/onednn); not a public header.
//
//   float v = static_cast<float>(acc) + bias;  v *= scale;
//   for (const PostOp& op : params.post_ops) v = intk::apply_post_op(op, v, sum_value);
//   y[i] = intk::store<uint8_t>(v + static_cast<float>(zp_y));
//
// Nothing here may be contracted into an fma by the compiler: the build is ISO C++ (GCC
// then defaults to -ffp-contract=off) and the fused steps call std::fma explicitly.
#pragma once

#include <cmath>
#include <cstdint>
#include <string_view>
#include <type_traits>
#include <vector>

#include "core/graph.h"
#include "core/lowered_ops.h"

namespace qdrift::intk {

// SSE maxps/minps: the second operand when the comparison is false (also for NaN).
inline float max_ps(float a, float b) { return a > b ? a : b; }
inline float min_ps(float a, float b) { return a < b ? a : b; }

// One post-op as oneDNN 2.6's jit eltwise injector and sum post-op compute it.
inline float apply_post_op(const PostOp& op, float v, float sum_value) {
  switch (op.kind) {
    case PostOpKind::relu: return max_ps(v, 0.f);
    case PostOpKind::leaky_relu: return v > 0.f ? v : op.alpha * v;
    case PostOpKind::clip: return min_ps(max_ps(v, op.alpha), op.beta);
    case PostOpKind::hardswish: return v * (min_ps(max_ps(v + 3.f, 0.f), 6.f) / 6.f);
    case PostOpKind::linear: return std::fma(op.alpha, v, op.beta);
    case PostOpKind::sum: return std::fma(op.alpha, sum_value - op.beta, v);
  }
  return v;
}

// The largest f32 oneDNN lets through to an s32 destination (the largest f32 below 2^31).
inline constexpr float kS32UpperBound = 2147483520.f;

// Stores f32 `v` (zero point already added) into an integer type the way oneDNN's jit
// epilogues and reorders do: clamp in f32 (maxps/minps), convert rounding half to even,
// pack with saturation.
template <typename T>
T store(float v) {
  if constexpr (std::is_same_v<T, uint8_t>) {
    return static_cast<uint8_t>(std::nearbyint(min_ps(max_ps(v, 0.f), 255.f)));
  } else if constexpr (std::is_same_v<T, int8_t>) {
    const float r = std::nearbyint(min_ps(v, 127.f));
    return static_cast<int8_t>(r < -128.f ? -128.f : r);
  } else {
    static_assert(std::is_same_v<T, int32_t>);
    const float r = std::nearbyint(min_ps(v, kS32UpperBound));
    return r < -2147483648.f ? INT32_MIN : static_cast<int32_t>(r);  // cvtps2dq gives INT32_MIN below
  }
}

// Zero point of a per-tensor quantized value; 0 when the value has no quantization.
// A per-axis zero point with different values is unsupported here.
Result<int32_t> per_tensor_zero_point(const Graph& g, ValueId v, std::string_view role);

// Per-channel zero points of weights (one per output channel; a single one is repeated).
Result<std::vector<int32_t>> channel_zero_points(const Graph& g, ValueId w, int64_t channels);

// Scales and zero points of a Quantize/Dequantize/Requantize operand laid out as
// [outer, channels, inner] (channels = 1 for per-tensor), with the axis resolved.
struct AxisQuant {
  std::vector<float> scale;       // 1 or `channels` entries
  std::vector<int32_t> zero_point;  // same length as scale
  int64_t outer = 1, channels = 1, inner = 1;
};
Result<AxisQuant> axis_quant(const Graph& g, ValueId v, const Shape& shape, std::string_view role);

}  // namespace qdrift::intk
