// quant_math.h: the scalar arithmetic of quantization, shared by every executor.
//
//   QuantGrid g = quant_grid(DType::s8, QuantRange::full);        // [-128, 127]
//   int32_t q = quantize_value(0.25f, 0.1f, 0, g, Rounding::half_even);   // 2 (2.5 ties to even)
//   float x = dequantize_value(q, 0.1f, 0);                        // 0.2f
//
//   QuantParams w_q = ...;                        // one scale per output channel, axis 0
//   Tensor codes = quantize_tensor(w, w_q, quant_grid(DType::s8, QuantRange::full), Rounding::half_even);
//   Tensor real = dequantize_tensor(codes, w_q);  // f32, per-axis (opset 13) indexing
//
// ONNX QuantizeLinear: q = saturate(round(x / scale) + zero_point), round half to even,
// saturating to the zero point's type. The division is done in f32 exactly as written
// (not a multiply by 1/scale): the two differ by one step on some inputs.
#pragma once

#include <cmath>
#include <cstdint>
#include <string_view>

#include "core/dtype.h"
#include "core/tensor.h"

namespace qdrift {

enum class Rounding : uint8_t {
  half_even,  // ONNX, oneDNN, numpy
  half_away,  // std::round; some trainers' fake-quant
};
enum class QuantRange : uint8_t {
  full,    // the type's whole range: s8 [-128,127], u8 [0,255]
  narrow,  // one code fewer at the bottom: s8 [-127,127] (PaddleSlim, TF symmetric), u8 [1,255]
};
std::string_view rounding_name(Rounding r);
std::string_view quant_range_name(QuantRange r);

struct QuantGrid {
  int32_t qmin;
  int32_t qmax;
};

// The saturation range of a quantized type. s32 (bias) is always full range.
QuantGrid quant_grid(DType type, QuantRange range);

// Round to the nearest integer value, ties per `mode`. NaN stays NaN.
inline float round_float(float x, Rounding mode) {
  // nearbyint honours the current rounding mode, which qdrift never changes from the
  // default round-to-nearest-even.
  return mode == Rounding::half_even ? std::nearbyint(x) : std::round(x);
}

// Clamps a float already rounded to an integer value into [qmin, qmax]; NaN maps to qmin
// only if the caller did not handle it (callers report NaN inputs separately).
inline int32_t saturate_rounded(float r, QuantGrid g) {
  if (!(r >= static_cast<float>(g.qmin))) return g.qmin;  // also NaN
  if (r >= static_cast<float>(g.qmax)) return g.qmax;  // >=: float(INT32_MAX) rounds up to 2^31
  return static_cast<int32_t>(r);
}

inline int32_t quantize_value(float x, float scale, int32_t zero_point, QuantGrid g, Rounding mode) {
  // round(x / scale) + zp, with the zero point added after rounding as ONNX specifies.
  const float r = round_float(x / scale, mode) + static_cast<float>(zero_point);
  return saturate_rounded(r, g);
}

inline float dequantize_value(int32_t q, float scale, int32_t zero_point) {
  // (q - zp) in int64: exact for u8/s8, and an s32 input far from its zero point would
  // overflow int32 (fuzz_onnx_loader); then one f32 multiply, as ONNX's reference does.
  return static_cast<float>(static_cast<int64_t>(q) - zero_point) * scale;
}

// True when x / scale lies within `tolerance` of a .5 tie: such elements may legitimately
// round differently in two correct implementations.
inline bool is_rounding_tie(float x, float scale, float tolerance = 1e-6f) {
  const float v = x / scale;
  const float frac = v - std::floor(v);
  return std::fabs(frac - 0.5f) <= tolerance;
}

// ---- whole tensors, per tensor or per axis ----------------------------------------------
// Element i uses scale[c] and zero_point[c], c its coordinate along `axis` (ONNX opset 13
// per-axis quantization; negative axes count from the end); one scale serves every element.
// The parameters must fit the tensor (a valid axis, one entry per index of it): callers
// check this and report it as the user's error; here it is asserted.

// True when q's parameters fit a tensor of `shape`: one scale and zero point, or one per
// index of a valid axis. The helpers below assert it; callers check it first.
bool quant_params_fit(const Shape& shape, const QuantParams& q);

// Which parameter element i of a tensor uses: c = (i / inner) % count.
struct QuantAxisIndex {
  int64_t count = 1;  // number of parameters (1 = per tensor)
  int64_t inner = 1;  // elements per step of the axis coordinate (the axis's row-major stride)
  int64_t outer = 1;  // product of the dims before the axis
  size_t of(int64_t i) const { return count == 1 ? 0 : static_cast<size_t>((i / inner) % count); }
};
QuantAxisIndex quant_axis_index(const Shape& shape, const QuantParams& q);

// Fills `out` (f32, the shape of `codes`, allocated by the caller) with
// dequantize_value(codes[i], scale[c], zero_point[c]). codes: u8, s8 or s32.
void dequantize_tensor_into(const Tensor& codes, const QuantParams& q, Tensor& out);
Tensor dequantize_tensor(const Tensor& codes, const QuantParams& q);

// Fills `out` (q.zero_point_type: u8, s8 or s32, the shape of `real`, allocated by the
// caller) with quantize_value(real[i], scale[c], zero_point[c], grid, mode). real: f32, or
// s32 taken as f32 (QuantizeLinear accepts both). NaN maps to the zero point (the code of
// real 0; ONNX leaves it undefined), +-inf saturate.
void quantize_tensor_into(const Tensor& real, const QuantParams& q, QuantGrid grid, Rounding mode, Tensor& out);
Tensor quantize_tensor(const Tensor& real, const QuantParams& q, QuantGrid grid, Rounding mode);

}  // namespace qdrift
