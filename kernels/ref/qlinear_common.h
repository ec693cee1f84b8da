// qlinear_common.h: the input checks and scalar steps shared by the reference kernels of
// the integer ops (integer.cpp) and of ONNX Runtime's contrib ops (contrib.cpp): scales and
// zero points read and checked, tensors centred on their zero point, requantization.
// Private to kernels/ref.
#pragma once

#include <cmath>
#include <cstdint>
#include <string_view>
#include <vector>

#include "core/quant_math.h"
#include "kernels/ref/nn_common.h"

namespace qdrift::ref {

inline bool is_int8(DType t) { return t == DType::u8 || t == DType::s8; }

inline Status expect_int8(const Tensor& t, std::string_view name) {
  if (!is_int8(t.dtype))
    return unsupported("input '{}' has dtype {}; this kernel takes u8 or s8", name, dtype_name(t.dtype));
  return Status::ok();
}

// A scale or zero point given per tensor (a scalar or one element) or per index of an
// axis (a 1-D tensor of `per_axis` elements; 0 = per tensor only).
inline Status check_param_shape(const Tensor& t, std::string_view name, int64_t per_axis, std::string_view axis_desc) {
  const bool per_tensor = t.rank() == 0 || (t.rank() == 1 && t.shape[0] == 1);
  const bool per_index = per_axis > 0 && t.rank() == 1 && t.shape[0] == per_axis;
  if (per_tensor || per_index) return Status::ok();
  if (per_axis > 0)
    return invalid_input("input '{}' has shape {}: expected a scalar or [{}] ({})", name, shape_str(t.shape), per_axis,
                         axis_desc);
  return invalid_input("input '{}' has shape {}: expected a scalar (per-tensor quantization)", name,
                       shape_str(t.shape));
}

// Scales: f32, finite and > 0.
inline Result<std::vector<float>> read_scales(const Tensor* t, std::string_view name, int64_t per_axis = 0,
                                       std::string_view axis_desc = "") {
  if (!t) return invalid_input("required input '{}' is missing", name);
  QD_RETURN_IF_ERROR(expect_dtype(*t, DType::f32, name));
  QD_RETURN_IF_ERROR(check_param_shape(*t, name, per_axis, axis_desc));
  std::vector<float> v(t->values<float>().begin(), t->values<float>().end());
  for (float s : v)
    if (!(s > 0.0f) || !std::isfinite(s))
      return invalid_input("input '{}' holds the scale {}: scales must be positive and finite", name, s);
  return v;
}

// Zero points as int32; {0} when the input is omitted. `type` is the dtype they must have
// (the quantized data's), or undefined to accept u8 or s8.
inline Result<std::vector<int32_t>> read_zero_points(const Tensor* t, std::string_view name, DType type, int64_t per_axis = 0,
                                              std::string_view axis_desc = "") {
  if (!t) return std::vector<int32_t>{0};
  if (type != DType::undefined && t->dtype != type)
    return invalid_input("input '{}' has dtype {}; it must match its data's dtype {}", name, dtype_name(t->dtype),
                         dtype_name(type));
  QD_RETURN_IF_ERROR(expect_int8(*t, name));
  QD_RETURN_IF_ERROR(check_param_shape(*t, name, per_axis, axis_desc));
  std::vector<int32_t> v(static_cast<size_t>(t->numel()));
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<int32_t>(t->value_as_double(static_cast<int64_t>(i)));
  return v;
}

// Element e of a 1-or-n vector.
template <typename T>
inline T at(const std::vector<T>& v, int64_t i) {
  return v.size() == 1 ? v[0] : v[static_cast<size_t>(i)];
}

// The u8/s8 tensor as int32 values minus zero_point(e), e the flat element index.
template <typename ZeroPointOf>
inline std::vector<int32_t> centered(const Tensor& t, ZeroPointOf zero_point_of) {
  std::vector<int32_t> out(static_cast<size_t>(t.numel()));
  if (t.dtype == DType::u8) {
    const uint8_t* p = t.data<uint8_t>();
    for (size_t e = 0; e < out.size(); ++e)
      out[e] = static_cast<int32_t>(p[e]) - zero_point_of(static_cast<int64_t>(e));
  } else {
    const int8_t* p = t.data<int8_t>();
    for (size_t e = 0; e < out.size(); ++e)
      out[e] = static_cast<int32_t>(p[e]) - zero_point_of(static_cast<int64_t>(e));
  }
  return out;
}

// The requantization of every QLinear op (see the top of the file).
inline int32_t requantize(int64_t acc, float multiplier, int32_t zero_point, QuantGrid grid) {
  const double r = std::nearbyint(static_cast<double>(acc) * static_cast<double>(multiplier)) + zero_point;
  if (r <= grid.qmin) return grid.qmin;
  if (r >= grid.qmax) return grid.qmax;
  return static_cast<int32_t>(r);
}

// ONNX Runtime's requantization (MLAS MlasRequantizeOutput), for its com.microsoft ops:
// the product rounded to f32 first, float(acc) * multiplier, then to the nearest even
// integer. It differs from requantize() where the f32 product lands on a .5 tie.
inline int32_t requantize_f32(int64_t acc, float multiplier, int32_t zero_point, QuantGrid grid) {
  const float r = std::nearbyint(static_cast<float>(acc) * multiplier) + static_cast<float>(zero_point);
  return saturate_rounded(r, grid);
}

// Element e of an u8/s8 tensor.
inline int32_t int8_value(const Tensor& t, int64_t e) {
  return t.dtype == DType::u8 ? int32_t{t.data<uint8_t>()[e]} : int32_t{t.data<int8_t>()[e]};
}

// Writes an int32 value already in range into an u8/s8 tensor.
inline void store_int8(Tensor& t, int64_t e, int32_t v) {
  if (t.dtype == DType::u8)
    t.data<uint8_t>()[e] = static_cast<uint8_t>(v);
  else
    t.data<int8_t>()[e] = static_cast<int8_t>(v);
}

inline Status check_multiplier(float m, std::string_view what) {
  if (!std::isfinite(m) || !(m > 0.0f))
    return invalid_input("the requantization multiplier {} = {} is not a positive finite f32", what, m);
  return Status::ok();
}

}  // namespace qdrift::ref
