#include "core/tensor.h"

#include <algorithm>
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
  Tensor t = uninitialized(dtype, std::move(shape));
  std::fill(t.bytes.begin(), t.bytes.end(), std::byte{0});
  return t;
}

Tensor Tensor::uninitialized(DType dtype, Shape shape) {
  QD_ASSERT(dtype != DType::undefined);
  QD_ASSERT(shape_is_known(shape));
  Tensor t;
  t.dtype = dtype;
  t.shape = std::move(shape);
  t.bytes.resize(static_cast<size_t>(shape_numel(t.shape)) * dtype_size(dtype));  // default-init: no zeroing
  return t;
}

bool layouts_share_bytes(const Shape& shape) {
  if (shape.size() < 3) return true;
  return shape[1] == 1 || shape_numel(Shape(shape.begin() + 2, shape.end())) == 1;
}

namespace {

// [N, C, S] <-> [N, S, C] for elements of type E (a plain integer of the element's size).
template <typename E>
void transpose_cs(const std::byte* src, std::byte* dst, int64_t n, int64_t c, int64_t s, bool to_channels_last) {
  const E* in = reinterpret_cast<const E*>(src);
  E* out = reinterpret_cast<E*>(dst);
  // Tiles of 16 x 16 keep both sides in cache on the large early layers.
  constexpr int64_t kTile = 16;
  for (int64_t b = 0; b < n; ++b) {
    const E* ib = in + b * c * s;
    E* ob = out + b * c * s;
    for (int64_t c0 = 0; c0 < c; c0 += kTile)
      for (int64_t s0 = 0; s0 < s; s0 += kTile) {
        const int64_t c1 = std::min(c, c0 + kTile), s1 = std::min(s, s0 + kTile);
        if (to_channels_last) {
          for (int64_t si = s0; si < s1; ++si)
            for (int64_t ci = c0; ci < c1; ++ci) ob[si * c + ci] = ib[ci * s + si];
        } else {
          for (int64_t ci = c0; ci < c1; ++ci)
            for (int64_t si = s0; si < s1; ++si) ob[ci * s + si] = ib[si * c + ci];
        }
      }
  }
}

Tensor convert_layout(const Tensor& t, Layout to) {
  Tensor out;
  out.dtype = t.dtype;
  out.shape = t.shape;
  out.quant = t.quant;
  out.layout = to;
  out.bytes.resize(t.bytes.size());
  const int64_t n = t.shape[0], c = t.shape[1], s = shape_numel(Shape(t.shape.begin() + 2, t.shape.end()));
  const bool to_cl = to == Layout::channels_last;
  switch (dtype_size(t.dtype)) {
    case 1: transpose_cs<uint8_t>(t.bytes.data(), out.bytes.data(), n, c, s, to_cl); break;
    case 2: transpose_cs<uint16_t>(t.bytes.data(), out.bytes.data(), n, c, s, to_cl); break;
    case 4: transpose_cs<uint32_t>(t.bytes.data(), out.bytes.data(), n, c, s, to_cl); break;
    case 8: transpose_cs<uint64_t>(t.bytes.data(), out.bytes.data(), n, c, s, to_cl); break;
    default: QD_ASSERT(false && "element size");
  }
  return out;
}

}  // namespace

Tensor to_row_major(const Tensor& t) {
  if (t.layout == Layout::row_major) return t;
  QD_ASSERT(t.rank() >= 3 && t.rank() <= 5);
  if (layouts_share_bytes(t.shape)) {
    Tensor out = t;
    out.layout = Layout::row_major;
    return out;
  }
  return convert_layout(t, Layout::row_major);
}

Tensor to_channels_last(const Tensor& t) {
  if (t.layout == Layout::channels_last || layouts_share_bytes(t.shape)) return t;
  QD_ASSERT(t.rank() >= 3 && t.rank() <= 5);
  return convert_layout(t, Layout::channels_last);
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
