#include "diff/tensor_stats.h"

#include <cmath>

namespace qdrift {

TensorStats compute_stats(const Tensor& t) {
  TensorStats s;
  s.count = t.numel();
  if (s.count == 0) return s;
  // Two passes in double: the mean first, then the spread, so std does not cancel.
  double sum = 0;
  int64_t finite = 0;
  bool first = true;
  for (int64_t i = 0; i < s.count; ++i) {
    const double v = t.value_as_double(i);
    if (std::isnan(v)) { ++s.nan_count; continue; }
    if (std::isinf(v)) ++s.inf_count;
    if (first || v > s.max) { s.max = v; s.argmax = i; }
    if (first || v < s.min) s.min = v;
    first = false;
    if (std::isfinite(v)) { sum += v; ++finite; }
  }
  if (finite == 0) return s;
  s.avg = sum / static_cast<double>(finite);
  double sq = 0;
  for (int64_t i = 0; i < s.count; ++i) {
    const double v = t.value_as_double(i);
    if (std::isfinite(v)) sq += (v - s.avg) * (v - s.avg);
  }
  s.std = std::sqrt(sq / static_cast<double>(finite));
  return s;
}

}  // namespace qdrift
