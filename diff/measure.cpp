#include "diff/measure.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

#include "core/quant_math.h"
#include "diff/tensor_stats.h"

namespace qdrift {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

bool is_code_type(DType t) { return t == DType::u8 || t == DType::s8 || t == DType::s32; }

// Elements equal to g.qmin and to g.qmax, read in the tensor's own storage type.
void count_at_grid_ends(const Tensor& t, QuantGrid g, int64_t* at_min, int64_t* at_max) {
  dispatch_dtype(t.dtype, [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_same_v<T, uint8_t> || std::is_same_v<T, int8_t> || std::is_same_v<T, int32_t>) {
      int64_t lo = 0, hi = 0;
      for (const T v : t.values<T>()) {
        lo += static_cast<int32_t>(v) == g.qmin;
        hi += static_cast<int32_t>(v) == g.qmax;
      }
      *at_min = lo;
      *at_max = hi;
    }
  });
}

// Running sums of one measure_drift pass over the positions where both sides are finite.
struct DriftSums {
  int64_t count = 0;
  int64_t differ = 0;
  double abs_err = 0;
  double sq_err = 0;
  double sq_ref = 0;
  double sq_other = 0;
  double dot = 0;
  double max_abs = 0;
  int64_t max_abs_index = -1;
  // Per-side argmax over that side's finite elements (first occurrence).
  float ref_max = 0, other_max = 0;
  int64_t ref_argmax = -1, other_argmax = -1;
};

}  // namespace

SideRecord describe_side(const Tensor& t, const QuantParams* q) {
  QD_ASSERT(t.layout == Layout::row_major);
  SideRecord s;
  s.dtype = t.dtype;
  s.shape = t.shape;
  s.stats = compute_stats(t);
  if (q) {
    s.quantized = true;
    s.scale = q->scale;
    s.zero_point = q->zero_point;
    s.axis = q->axis;
    // Saturation shows as codes at the ends of the storage type's full range. A float
    // tensor on a known grid (fake-quant output) has no codes to count. The grid is the
    // tensor's own storage type, which is q->zero_point_type for any consistent pair.
    if (is_code_type(t.dtype))
      count_at_grid_ends(t, quant_grid(t.dtype, QuantRange::full), &s.count_at_qmin, &s.count_at_qmax);
  }
  return s;
}

Tensor real_values(const Tensor& t, const QuantParams* q) {
  QD_ASSERT(t.layout == Layout::row_major);
  if (t.dtype == DType::f32) {
    Tensor out;  // the values only: no quantization parameters ride along on real values
    out.dtype = t.dtype;
    out.shape = t.shape;
    out.bytes = t.bytes;
    return out;
  }
  if (q && is_code_type(t.dtype)) {
    QD_ASSERT(quant_params_fit(t.shape, *q));
    return dequantize_tensor(t, *q);
  }
  Tensor out = Tensor::uninitialized(DType::f32, t.shape);
  float* y = out.data<float>();
  dispatch_dtype(t.dtype, [&](auto tag) {
    using T = decltype(tag);
    const T* x = t.data<T>();
    const int64_t n = t.numel();
    for (int64_t i = 0; i < n; ++i) y[i] = static_cast<float>(x[i]);  // bool: 0 or 1
  });
  return out;
}

DriftMeasures measure_drift(const Tensor& ref, const Tensor& other, const QuantParams* ref_q) {
  QD_ASSERT(ref.dtype == DType::f32 && other.dtype == DType::f32);
  QD_ASSERT(ref.layout == Layout::row_major && other.layout == Layout::row_major);
  QD_ASSERT(ref.numel() == other.numel());
  DriftMeasures d;
  if (ref_q) {
    d.has_steps = true;
    d.steps_histogram.assign(kStepsHistogramBins, 0);
  }
  const int64_t n = ref.numel();
  if (n == 0) return d;

  const float* a = ref.data<float>();
  const float* b = other.data<float>();
  // Runs of elements sharing one scale (one run of n when per tensor or without steps), so
  // the channel of an element is never computed by a division.
  QuantAxisIndex ix;
  ix.inner = n;
  if (ref_q) ix = quant_axis_index(ref.shape, *ref_q);
  constexpr int64_t kLastBin = static_cast<int64_t>(kStepsHistogramBins) - 1;
  constexpr double kStepSnap = 1e-4;  // steps this close to a whole number are that number
  int64_t* hist = d.has_steps ? d.steps_histogram.data() : nullptr;

  DriftSums s;
  int64_t i = 0;
  for (int64_t o = 0; o < ix.outer; ++o) {
    for (int64_t c = 0; c < ix.count; ++c) {
      const double scale = ref_q ? static_cast<double>(ref_q->scale[static_cast<size_t>(c)]) : 1.0;
      for (const int64_t end = i + ix.inner; i < end; ++i) {
        const float x = a[i];
        const float y = b[i];
        const bool fx = std::isfinite(x);
        const bool fy = std::isfinite(y);
        if (fx && (s.ref_argmax < 0 || x > s.ref_max)) { s.ref_max = x; s.ref_argmax = i; }
        if (fy && (s.other_argmax < 0 || y > s.other_max)) { s.other_max = y; s.other_argmax = i; }
        if (!(fx && fy)) {
          d.nan_ref += std::isnan(x);
          d.inf_ref += std::isinf(x);
          d.nan_other += std::isnan(y);
          d.inf_other += std::isinf(y);
          // Only the same infinity on both sides agrees; NaN never equals anything.
          d.nonfinite_mismatch += !(std::isinf(x) && x == y);
          continue;
        }
        const double xd = x, yd = y;
        const double err = std::fabs(xd - yd);
        ++s.count;
        s.differ += x != y;
        s.abs_err += err;
        s.sq_err += err * err;
        s.sq_ref += xd * xd;
        s.sq_other += yd * yd;
        s.dot += xd * yd;
        if (err > s.max_abs || s.max_abs_index < 0) { s.max_abs = err; s.max_abs_index = i; }
        if (hist) {
          double steps = err / scale;
          // std::round ties away from zero, as llround; compared in double first so a huge
          // (or NaN) step count never reaches the integer conversion.
          const double r = std::round(steps);
          // Both sides are f32 products code*scale: a whole number of steps comes out as
          // 1.0000001 and must not cross a threshold of 1.
          if (std::fabs(steps - r) <= kStepSnap) steps = r;
          d.max_abs_steps = std::max(d.max_abs_steps, steps);
          ++hist[r < static_cast<double>(kLastBin) ? static_cast<int64_t>(r) : kLastBin];
        }
      }
    }
  }

  d.argmax_agree = s.ref_argmax == s.other_argmax;
  d.count = s.count;
  if (s.count == 0) return d;
  const double count = static_cast<double>(s.count);
  d.max_abs = s.max_abs;
  d.max_abs_index = s.max_abs_index;
  d.mean_abs = s.abs_err / count;
  d.rmse = std::sqrt(s.sq_err / count);
  d.frac_differ = static_cast<double>(s.differ) / count;
  if (s.sq_ref > 0) {
    d.rel_l2 = std::sqrt(s.sq_err) / std::sqrt(s.sq_ref);
  } else {
    d.rel_l2 = s.sq_err > 0 ? kInf : 0.0;
  }
  // No error: +inf (also for two all-zero tensors). An all-zero ref with error: -inf.
  d.sqnr_db = s.sq_err > 0 ? (s.sq_ref > 0 ? 10.0 * std::log10(s.sq_ref / s.sq_err) : -kInf) : kInf;
  const bool ref_zero = s.sq_ref == 0, other_zero = s.sq_other == 0;
  if (ref_zero || other_zero) {
    d.cosine = ref_zero && other_zero ? 1.0 : 0.0;
  } else {
    // Separate roots: the product of the two sums could overflow a double for huge values.
    // Identical tensors have cosine 1 exactly (the rounded quotient can be 0.9999999999999999,
    // which a budget's min_cosine of 1 would reject).
    d.cosine = s.differ == 0 ? 1.0 : std::clamp(s.dot / (std::sqrt(s.sq_ref) * std::sqrt(s.sq_other)), -1.0, 1.0);
  }
  return d;
}

bool is_divergent(const DriftMeasures& d, const Thresholds& t) {
  if (d.nonfinite_mismatch > 0) return true;
  if (d.has_steps) return d.max_abs_steps > t.max_steps;
  return d.count > 0 && d.sqnr_db < t.min_sqnr_db;
}

}  // namespace qdrift
