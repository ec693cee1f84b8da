// tensor_layouts.h: the ways another framework may lay out a tensor of the reference's
// logical (NCHW) shape, and moving its elements into the reference's order.
//
//   for (const LayoutMatch& l : layout_matches({1, 32, 56, 56}, {1, 56, 56, 32}))   // nhwc
//     Tensor in_ref_order = to_ref_order(other_real, {1, 32, 56, 56}, l);
//   layout_name({LayoutKind::nchwc, 8})  -> "nchwc8"
//
// `same`: the elements are in the reference's row-major order (same shape, or a reshape of it,
// as Flatten or Gemm outputs are). `nhwc`: channels last, shape [N, spatial..., C]. `nchwc`:
// ONNX Runtime's blocked layout, shape [N, ceil(C/B), spatial..., B], channels padded up to a
// multiple of B. A shape may allow several (a [1,8,8,8] tensor is `same` or `nhwc`): the
// values decide (diff/mapping_value.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace qdrift {

enum class LayoutKind : uint8_t { same, nhwc, nchwc };

struct LayoutMatch {
  LayoutKind kind = LayoutKind::same;
  int64_t block = 0;  // nchwc only
  bool operator==(const LayoutMatch&) const = default;
};

// "" for same, "nhwc", "nchwc<B>".
std::string layout_name(const LayoutMatch& l);

// Every layout in which `other` (a known shape) can hold a tensor of logical shape `ref`.
std::vector<LayoutMatch> layout_matches(const Shape& ref, const Shape& other);

// The flat index in the other tensor of the element at flat index `i` of the reference's
// logical shape (l must be one of layout_matches(ref, other)).
class LayoutIndexer {
 public:
  LayoutIndexer(const Shape& ref, const Shape& other, LayoutMatch l);
  int64_t operator()(int64_t i) const;

 private:
  LayoutMatch layout_;
  int64_t channels_ = 1, spatial_ = 1, blocks_ = 1;
};

// The other side's f32 values moved into the reference's order and shape.
Tensor to_ref_order(const Tensor& other, const Shape& ref, LayoutMatch l);

}  // namespace qdrift
