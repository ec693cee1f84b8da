// tensor.h: plain tensor values (dtype, shape, bytes, optional quantization, layout).
//
//   Tensor t = Tensor::zeros(DType::f32, {1, 3, 4, 4});
//   float* p = t.data<float>();               // asserts the dtype
//   t.quant = QuantParams::per_tensor(0.02f, 128, DType::u8);
//   shape_str(t.shape)  -> "[1,3,4,4]"
//
//   Tensor y = Tensor::uninitialized(DType::u8, {1, 32, 56, 56});  // the caller writes every byte
//   y.layout = Layout::channels_last;          // bytes in N,H,W,C order; shape stays [1,32,56,56]
//   Tensor r = to_row_major(y);                // the same values in NCHW byte order
//
// Tensors own their bytes and copy like values; nothing is hidden in globals.
// `shape` is always the logical (ONNX, NCHW) shape. `layout` says how the bytes are ordered:
// row-major (the default, what every observer, graph output and reference kernel sees) or
// channels-last, which only the oneDNN int8 kernels produce and read; the executor converts
// a channels-last tensor before anything else reads it (core/executor.h).
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
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

// An allocator whose resize()/construct() without a value leaves bytes uninitialised, so a
// kernel that overwrites its whole output does not pay for zero-filling it first.
template <typename T>
struct DefaultInitAllocator : std::allocator<T> {
  template <typename U>
  struct rebind {
    using other = DefaultInitAllocator<U>;
  };
  DefaultInitAllocator() = default;
  template <typename U>
  DefaultInitAllocator(const DefaultInitAllocator<U>&) noexcept {}
  template <typename U>
  void construct(U* p) noexcept(std::is_nothrow_default_constructible_v<U>) {
    ::new (static_cast<void*>(p)) U;  // default-initialisation: no zeroing for std::byte
  }
  template <typename U, typename... Args>
  void construct(U* p, Args&&... args) {
    std::allocator_traits<std::allocator<T>>::construct(static_cast<std::allocator<T>&>(*this), p,
                                                       std::forward<Args>(args)...);
  }
};
using ByteBuffer = std::vector<std::byte, DefaultInitAllocator<std::byte>>;

// Physical order of a tensor's bytes. Channels-last applies to rank 3..5 (N, C, spatial...)
// tensors only: the bytes are ordered N, spatial..., C (oneDNN's nwc / nhwc / ndhwc).
enum class Layout : uint8_t {
  row_major,      // the order of `shape` (NCHW)
  channels_last,  // N, D, H, W, C
};

struct Tensor {
  DType dtype = DType::undefined;
  Shape shape;                       // logical shape, whatever the layout
  ByteBuffer bytes;                  // dtype_size(dtype) * numel bytes, in `layout` order
  std::optional<QuantParams> quant;  // set on int8-graph tensors
  Layout layout = Layout::row_major;

  // Zero-filled tensor. Shape dims must be known and non-negative (asserted).
  static Tensor zeros(DType dtype, Shape shape);
  // Tensor whose bytes are left uninitialised: for kernels that write every byte.
  static Tensor uninitialized(DType dtype, Shape shape);
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
  // Element access below is by physical index (`layout` order).
  template <typename T>
  std::span<const T> values() const { return {data<T>(), static_cast<size_t>(numel())}; }
  template <typename T>
  std::span<T> values() { return {data<T>(), static_cast<size_t>(numel())}; }

  // Element i converted to double, whatever the dtype (for statistics and printing).
  double value_as_double(int64_t i) const;
  // Elements as int64 (any integer or bool dtype); for shape-like inputs.
  std::vector<int64_t> to_int64_vector() const;
};

// True when a tensor of this shape has the same bytes in both layouts (rank < 3, C == 1 or
// a single spatial position): such tensors are always labelled row-major.
bool layouts_share_bytes(const Shape& shape);
// The same values with row-major bytes (a copy; the tensor itself when already row-major).
Tensor to_row_major(const Tensor& t);
// The same values with channels-last bytes (rank 3..5; row-major when the bytes are shared).
Tensor to_channels_last(const Tensor& t);

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
