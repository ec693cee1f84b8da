#include "diff/tensor_layouts.h"

#include <fmt/format.h>

namespace qdrift {

std::string layout_name(const LayoutMatch& l) {
  switch (l.kind) {
    case LayoutKind::same: return "";
    case LayoutKind::nhwc: return "nhwc";
    case LayoutKind::nchwc: return fmt::format("nchwc{}", l.block);
  }
  return "";
}

std::vector<LayoutMatch> layout_matches(const Shape& ref, const Shape& other) {
  std::vector<LayoutMatch> out;
  if (!shape_is_known(ref) || !shape_is_known(other)) return out;
  if (shape_numel(ref) == shape_numel(other)) out.push_back({LayoutKind::same, 0});
  const size_t r = ref.size();
  if (r < 3) return out;
  const int64_t channels = ref[1];
  // nhwc: [N, spatial..., C]; only worth trying when channels and spatial positions both exceed one.
  if (other.size() == r && other[0] == ref[0] && other[r - 1] == channels && channels > 1 &&
      shape_numel(ref) / (ref[0] * channels) > 1) {
    bool spatial_equal = true;
    for (size_t d = 2; d < r; ++d) spatial_equal &= other[d - 1] == ref[d];
    if (spatial_equal) out.push_back({LayoutKind::nhwc, 0});
  }
  // nchwc: [N, ceil(C/B), spatial..., B].
  if (other.size() == r + 1 && other[0] == ref[0] && other[r] > 1 && channels > 0) {
    const int64_t block = other[r];
    bool spatial_equal = other[1] == (channels + block - 1) / block;
    for (size_t d = 2; d < r; ++d) spatial_equal &= other[d] == ref[d];
    if (spatial_equal) out.push_back({LayoutKind::nchwc, block});
  }
  return out;
}

LayoutIndexer::LayoutIndexer(const Shape& ref, const Shape& other, LayoutMatch l) : layout_(l) {
  if (l.kind == LayoutKind::same) return;
  channels_ = ref[1];
  spatial_ = 1;
  for (size_t d = 2; d < ref.size(); ++d) spatial_ *= ref[d];
  if (l.kind == LayoutKind::nchwc) blocks_ = other[1];
}

int64_t LayoutIndexer::operator()(int64_t i) const {
  if (layout_.kind == LayoutKind::same) return i;
  const int64_t s = i % spatial_;
  const int64_t c = (i / spatial_) % channels_;
  const int64_t n = i / (spatial_ * channels_);
  if (layout_.kind == LayoutKind::nhwc) return (n * spatial_ + s) * channels_ + c;
  const int64_t b = layout_.block;
  return ((n * blocks_ + c / b) * spatial_ + s) * b + c % b;
}

Tensor to_ref_order(const Tensor& other, const Shape& ref, LayoutMatch l) {
  QD_ASSERT(other.dtype == DType::f32);
  Tensor out = Tensor::uninitialized(DType::f32, ref);
  const LayoutIndexer at(ref, other.shape, l);
  const float* x = other.data<float>();
  float* y = out.data<float>();
  const int64_t n = out.numel();
  for (int64_t i = 0; i < n; ++i) y[i] = x[at(i)];
  return out;
}

}  // namespace qdrift
