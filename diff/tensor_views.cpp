#include "diff/tensor_views.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace qdrift {

int64_t channel_count(const Shape& shape) { return shape.size() >= 2 ? std::max<int64_t>(shape[1], 0) : 1; }

std::vector<double> channel_max_abs(const Tensor& ref, const Tensor& other) {
  QD_ASSERT(ref.dtype == DType::f32 && other.dtype == DType::f32);
  const int64_t n = ref.numel();
  if (n != other.numel() || n == 0) return {};
  const int64_t channels = channel_count(ref.shape);
  if (channels == 0 || channels > kMaxReportedChannels) return {};
  const int64_t inner = ref.shape.size() >= 2 ? n / (shape_numel(Shape(ref.shape.begin(), ref.shape.begin() + 2))) : n;
  const int64_t outer = ref.shape.size() >= 2 ? ref.shape[0] : 1;
  std::vector<double> out(static_cast<size_t>(channels), 0.0);
  const float* a = ref.data<float>();
  const float* b = other.data<float>();
  int64_t i = 0;
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t c = 0; c < channels; ++c) {
      double m = out[static_cast<size_t>(c)];
      for (const int64_t end = i + inner; i < end; ++i) {
        if (!std::isfinite(a[i]) || !std::isfinite(b[i])) continue;
        m = std::max(m, std::fabs(static_cast<double>(a[i]) - static_cast<double>(b[i])));
      }
      out[static_cast<size_t>(c)] = m;
    }
  return out;
}

ValueHistogram value_histograms(const Tensor& ref, const Tensor& other, int bins) {
  QD_ASSERT(bins > 0);
  ValueHistogram h;
  h.ref.assign(static_cast<size_t>(bins), 0.0);
  h.other.assign(static_cast<size_t>(bins), 0.0);
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (const Tensor* t : {&ref, &other})
    for (float v : t->values<float>())
      if (std::isfinite(v)) {
        lo = std::min(lo, static_cast<double>(v));
        hi = std::max(hi, static_cast<double>(v));
      }
  if (lo > hi) return h;  // nothing finite
  h.lo = lo;
  h.hi = hi;
  const double width = hi > lo ? (hi - lo) / bins : 1.0;
  auto fill = [&](const Tensor& t, std::vector<double>& counts) {
    for (float v : t.values<float>()) {
      if (!std::isfinite(v)) continue;
      const auto bin = static_cast<int64_t>((static_cast<double>(v) - lo) / width);
      ++counts[static_cast<size_t>(std::clamp<int64_t>(bin, 0, bins - 1))];
    }
  };
  fill(ref, h.ref);
  fill(other, h.other);
  return h;
}

Plane channel_plane(const Tensor& ref, const Tensor* other, int64_t channel) {
  QD_ASSERT(ref.dtype == DType::f32);
  Plane p;
  const Shape& s = ref.shape;
  if (other && other->numel() != ref.numel()) return p;
  int64_t start = 0;
  if (s.size() >= 3) {
    p.rows = s[2];
    p.cols = shape_numel(Shape(s.begin() + 3, s.end()));
    const int64_t channels = s[1];
    if (channels <= 0 || p.rows * p.cols == 0) return Plane{};
    start = std::clamp<int64_t>(channel, 0, channels - 1) * p.rows * p.cols;
  } else if (s.size() == 2) {
    p.rows = 1;
    p.cols = s[1];
  } else {
    p.rows = 1;
    p.cols = ref.numel();
  }
  const int64_t n = p.rows * p.cols;
  p.values.resize(static_cast<size_t>(n));
  p.flat_index.resize(static_cast<size_t>(n));
  const float* a = ref.data<float>();
  const float* b = other ? other->data<float>() : nullptr;
  float lo = std::numeric_limits<float>::infinity(), hi = -lo;
  for (int64_t k = 0; k < n; ++k) {
    const int64_t i = start + k;
    float v = a[i];
    if (b) v = std::isfinite(a[i]) && std::isfinite(b[i]) ? std::fabs(a[i] - b[i]) : std::numeric_limits<float>::quiet_NaN();
    p.values[static_cast<size_t>(k)] = v;
    p.flat_index[static_cast<size_t>(k)] = i;
    if (std::isfinite(v)) {
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
  }
  if (lo <= hi) {
    p.lo = lo;
    p.hi = hi;
  }
  return p;
}

std::vector<int64_t> unravel_index(int64_t flat, const Shape& shape) {
  if (flat < 0 || flat >= shape_numel(shape)) return {};
  std::vector<int64_t> at(shape.size());
  for (size_t d = shape.size(); d-- > 0;) {
    at[d] = shape[d] > 0 ? flat % shape[d] : 0;
    flat = shape[d] > 0 ? flat / shape[d] : 0;
  }
  return at;
}

}  // namespace qdrift
