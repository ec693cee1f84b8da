#include "core/tensor.h"

#include <limits>

#include <fmt/format.h>

namespace qdrift {

int64_t shape_numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

std::string shape_str(const Shape& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) {
    if (i) out += ',';
    out += s[i] < 0 ? std::string("?") : std::to_string(s[i]);
  }
  return out + "]";
}

bool shape_is_known(const Shape& s) {
  for (int64_t d : s)
    if (d < 0) return false;
  return true;
}

std::vector<int64_t> shape_strides(const Shape& s) {
  std::vector<int64_t> strides(s.size(), 1);
  for (int i = static_cast<int>(s.size()) - 2; i >= 0; --i) strides[i] = strides[i + 1] * s[i + 1];
  return strides;
}

Result<int64_t> checked_numel(const Shape& s, int64_t max_elements) {
  int64_t n = 1;
  for (int64_t d : s) {
    if (d < 0) return invalid_input("negative dimension in shape {}", shape_str(s));
    if (d != 0 && n > max_elements / d)
      return invalid_input("shape {} has more than {} elements (memory cap)", shape_str(s), max_elements);
    n *= d;
  }
  return n;
}

QuantParams QuantParams::per_tensor(float scale, int32_t zero_point, DType type) {
  QuantParams q;
  q.scale = {scale};
  q.zero_point = {zero_point};
  q.zero_point_type = type;
  return q;
}

Tensor Tensor::zeros(DType dtype, Shape shape) {
  QD_ASSERT(dtype != DType::undefined);
  QD_ASSERT(shape_is_known(shape));
  Tensor t;
  t.dtype = dtype;
  t.shape = std::move(shape);
  t.bytes.assign(static_cast<size_t>(shape_numel(t.shape)) * dtype_size(dtype), std::byte{0});
  return t;
}

double Tensor::value_as_double(int64_t i) const {
  return dispatch_dtype(dtype, [&](auto tag) -> double {
    using T = decltype(tag);
    T v;
    std::memcpy(&v, bytes.data() + i * sizeof(T), sizeof(T));
    return static_cast<double>(v);
  });
}

std::vector<int64_t> Tensor::to_int64_vector() const {
  std::vector<int64_t> out(static_cast<size_t>(numel()));
  dispatch_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    for (size_t i = 0; i < out.size(); ++i) {
      T v;
      std::memcpy(&v, bytes.data() + i * sizeof(T), sizeof(T));
      out[i] = static_cast<int64_t>(v);  // exact for integers; floats truncate toward zero
    }
  });
  return out;
}

}  // namespace qdrift
