// measure.h: per-pair drift measures and per-side descriptions (docs/report.md).
//
//   SideRecord a = describe_side(ref_tensor, ref_quant);          // native domain + qmin/qmax counts
//   Tensor ra = real_values(ref_tensor, ref_quant);               // f32, dequantized with its own params
//   Tensor rb = real_values(int8_tensor, int8_quant);
//   DriftMeasures d = measure_drift(ra, rb, ref_quant);           // steps in the reference's scale
//   bool bad = is_divergent(d, thresholds);
//
// Everything is computed in double over the positions where both sides are finite;
// non-finite elements are counted per side (docs/report.md, "NaN and Inf").
#pragma once

#include "core/tensor.h"
#include "diff/report.h"

namespace qdrift {

// Describes a row-major tensor: dtype, shape, statistics in its native domain, and for a
// quantized tensor (`q` non-null) its scale, zero point and the counts at the lowest and
// highest code of its type. tensor/node/op are left for the caller.
SideRecord describe_side(const Tensor& t, const QuantParams* q);

// The real values of a row-major tensor as f32: f32 as is; u8/s8/s32 dequantized with `q`
// (per axis when it has several scales); an integer tensor without `q` as its plain values.
Tensor real_values(const Tensor& t, const QuantParams* q);

// Drift of `other` from `ref` (both f32 of the same element count, row-major). `ref_q`,
// when non-null, is the reference's quantization grid: errors are then also measured in its
// steps (per element's channel when per-axis).
DriftMeasures measure_drift(const Tensor& ref, const Tensor& other, const QuantParams* ref_q);

// The same on tensors as produced: each side is read as real_values(t, grid) would give it
// (f32 as is; codes dequantized with `grid`), block by block, without a whole f32 copy.
// measure_drift_real(a, qa, b, qb, q) == measure_drift(real_values(a, qa), real_values(b, qb), q)
// in every field, bit for bit.
DriftMeasures measure_drift_real(const Tensor& ref, const QuantParams* ref_grid, const Tensor& other,
                                 const QuantParams* other_grid, const QuantParams* ref_q);

// Over the thresholds: more than max_steps steps (pairs with steps) or SQNR below
// min_sqnr_db (pairs without), or any non-finite mismatch.
bool is_divergent(const DriftMeasures& d, const Thresholds& t);

}  // namespace qdrift
