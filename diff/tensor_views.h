// tensor_views.h: what an inspector shows of one pair's tensors, computed here so that
// drawing code computes nothing (the GUI's tensor panel, docs/gui.md).
//
//   std::vector<double> ch = channel_max_abs(ref_real, other_real);   // bars: which channel breaks
//   ValueHistogram h = value_histograms(ref_real, other_real, 64);     // both sides, shared bins
//   Plane d = channel_plane(ref_real, &other_real, 3);                 // |ref - other| of channel 3
//   std::vector<int64_t> at = unravel_index(p.ref.stats.argmax, p.ref.shape);   // {0, 5, 2, 7}
//
// Tensors are f32 real values, row-major (diff/measure.h real_values). The channel axis is
// axis 1 (N, C, ...); a tensor of rank < 2 is one channel.
#pragma once

#include <cstdint>
#include <vector>

#include "core/tensor.h"

namespace qdrift {

// Largest |ref - other| per index of axis 1 over the positions where both are finite
// (0 for a channel with none). Empty when the element counts differ or the tensor has
// more than kMaxReportedChannels channels (the report stays small).
inline constexpr int64_t kMaxReportedChannels = 4096;
std::vector<double> channel_max_abs(const Tensor& ref, const Tensor& other);

// Number of channels (axis 1) of a shape; 1 below rank 2.
int64_t channel_count(const Shape& shape);

// Histograms of the finite values of both sides over the same `bins` equal bins spanning
// [lo, hi], the smallest and largest finite value of either side.
struct ValueHistogram {
  double lo = 0, hi = 0;
  std::vector<double> ref, other;  // counts per bin (double: what plots take)
};
ValueHistogram value_histograms(const Tensor& ref, const Tensor& other, int bins);

// One channel of the first batch item as a rows x cols image: for rank >= 3, rows = dim 2
// and cols = the product of the dims after it; rank 2 ([N, C]) gives the whole first row
// (1 x C) whatever the channel; rank <= 1 the whole tensor as one row. With `other`, the
// plane holds |ref - other| (NaN where either is not finite), else ref's values.
struct Plane {
  int64_t rows = 0, cols = 0;
  std::vector<float> values;       // rows * cols, row-major
  std::vector<int64_t> flat_index; // the tensor's flat index of each pixel
  float lo = 0, hi = 0;            // finite range of values (0, 0 when none)
};
Plane channel_plane(const Tensor& ref, const Tensor* other, int64_t channel);

// The coordinates of a flat row-major index ({} when out of range).
std::vector<int64_t> unravel_index(int64_t flat, const Shape& shape);

}  // namespace qdrift
