// mapping_value.h: completes a mapping by structure and by value when names say nothing:
// another tool's int8 graph, or a directory of tensors another framework dumped.
//
//   Mapping m = map_tensors(ref.graph(), other.graph(), rules, /*other_derives_from_ref=*/false);
//   QD_RETURN_IF_ERROR(map_by_structure_and_value(ref, ref_inputs, other_source, m));
//   // m.pairs now also holds method structure / value pairs, each with a confidence and the
//   // layout the other tensor is in; contradicted structural pairs are in m.unmatched.
//
// Both sides run once before measuring. Each still-unpaired tensor leaves a sketch: its real
// values (dequantized with its own grid) at a fixed set of at most kSketchSize positions of
// the reference's logical shape, read through every layout the shapes allow (NCHW, NHWC,
// NCHWc). Memory is therefore a few KB per tensor, whatever its size. Pairs are scored by
// the correlation of their sketches (the cosine of the mean-centred values: blind to the
// scale and zero point a framework did or did not apply), chosen greedily, best first
// (docs/mapping.md gives the score, the thresholds and the confidence).
#pragma once

#include <span>

#include "core/executor.h"
#include "diff/mapping.h"
#include "diff/tensor_source.h"

namespace qdrift {

inline constexpr int64_t kSketchSize = 2048;

struct ValueMatchOptions {
  bool use_structure = true;         // false: values and execution order only
  double min_structure_cosine = 0.5;  // a structural pair below this is contradicted
  double min_value_cosine = 0.9;      // a pair found by values alone needs this
};

// Runs `ref` on `ref_inputs` and `other` once each, then adds structure and value pairs to
// `m` for the produced tensors it leaves unpaired (and updates m.unmatched). Errors: the
// sides' own (bad inputs, unreadable dump files).
Status map_by_structure_and_value(const Executor& ref, std::span<const Tensor> ref_inputs, const TensorSource& other,
                                  Mapping& m, const ValueMatchOptions& options = {});

// The correlation of two equally long sequences (cosine of their mean-centred values); 1
// when both are constant and equal, 0 when only one is constant.
double centred_cosine(std::span<const float> a, std::span<const float> b);

}  // namespace qdrift
