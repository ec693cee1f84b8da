// tensor.h: plain tensor values (dtype, shape, bytes, optional quantization).
//
//   Tensor t = Tensor::zeros(DType::f32, {1, 3, 4, 4});
//   float* p = t.data<float>();               // asserts the dtype
//   t.quant = QuantParams::per_tensor(0.02f, 128, DType::u8);
//   shape_str(t.shape)  -> "[1,3,4,4]"
//
// Tensors own their bytes and copy like values; nothing is hidden in globals.
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/status.h"

namespace qdrift {

using Shape = std::vector<int64_t>;  // -1 marks an unknown dim in declared (graph) shapes

int64_t shape_numel(const Shape& s);           // product of dims; 1 for a scalar
std::string shape_str(const Shape& s);         // "[1,3,224,224]", unknown dims as "?"
bool shape_is_known(const Shape& s);           // no negative dims
std::vector<int64_t> shape_strides(const Shape& s);  // row-major element strides

// Checked element count: rejects negative dims and overflow past `max_elements`.
Result<int64_t> checked_numel(const Shape& s, int64_t max_elements);

// Scale and zero point of a quantized tensor: real = (q - zero_point) * scale.
// One entry = per-tensor; otherwise one per index of `axis`.
struct QuantParams {
  std::vector<float> scale;
  std::vector<int32_t> zero_point;  // same length as scale
  DType zero_point_type = DType::u8;  // the quantized storage type (u8, s8 or s32)
  int axis = 1;                       // only meaningful when per-axis

  static QuantParams per_tensor(float scale, int32_t zero_point, DType type);
  bool is_per_axis() const { return scale.size() > 1; }
  bool operator==(const QuantParams&) const = default;
};

struct Tensor {
  DType dtype = DType::undefined;
  Shape shape;
  std::vector<std::byte> bytes;     // row-major, dtype_size(dtype) * numel bytes
  std::optional<QuantParams> quant;  // set on int8-graph tensors

  // Zero-filled tensor. Shape dims must be known and non-negative (asserted).
  static Tensor zeros(DType dtype, Shape shape);
  template <typename T>
  static Tensor from_vector(Shape shape, const std::vector<T>& values);
  template <typename T>
  static Tensor scalar(T value) { return from_vector<T>({}, {value}); }

  int64_t numel() const { return shape_numel(shape); }
  int rank() const { return static_cast<int>(shape.size()); }
  size_t nbytes() const { return bytes.size(); }
  bool empty() const { return dtype == DType::undefined; }

  template <typename T>
  T* data() {
    QD_ASSERT(dtype == dtype_of<T>);
    return reinterpret_cast<T*>(bytes.data());
  }
  template <typename T>
  const T* data() const {
    QD_ASSERT(dtype == dtype_of<T>);
    return reinterpret_cast<const T*>(bytes.data());
  }
  template <typename T>
  std::span<const T> values() const { return {data<T>(), static_cast<size_t>(numel())}; }
  template <typename T>
  std::span<T> values() { return {data<T>(), static_cast<size_t>(numel())}; }

  // Element i converted to double, whatever the dtype (for statistics and printing).
  double value_as_double(int64_t i) const;
  // Elements as int64 (any integer or bool dtype); for shape-like inputs.
  std::vector<int64_t> to_int64_vector() const;
};

template <typename T>
Tensor Tensor::from_vector(Shape shape, const std::vector<T>& values) {
  Tensor t = zeros(dtype_of<T>, std::move(shape));
  QD_ASSERT(static_cast<int64_t>(values.size()) == t.numel());
  if constexpr (std::is_same_v<T, bool>) {
    for (size_t i = 0; i < values.size(); ++i) t.bytes[i] = std::byte{values[i] ? uint8_t{1} : uint8_t{0}};
  } else {
    if (!values.empty()) std::memcpy(t.bytes.data(), values.data(), t.bytes.size());
  }
  return t;
}

}  // namespace qdrift
