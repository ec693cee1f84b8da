// tensor_stats.h: summary statistics of one tensor, in its native domain.
//
//   TensorStats s = compute_stats(t);   // avg, min, max, argmax (first occurrence), std
//
// The seed report compared tensors by these numbers; qdrift prints them for every tensor.
#pragma once

#include <cstdint>

#include "core/tensor.h"

namespace qdrift {

struct TensorStats {
  int64_t count = 0;
  double avg = 0;
  double min = 0;
  double max = 0;
  int64_t argmax = -1;  // flat index of the first maximum
  double std = 0;       // population standard deviation
  int64_t nan_count = 0;
  int64_t inf_count = 0;
};

TensorStats compute_stats(const Tensor& t);

}  // namespace qdrift
