#include "diff/measure.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

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
// max_abs and the per-side maxima start below anything they can meet (errors are >= 0,
// finite values > -inf), so the first finite position always takes them.
struct DriftSums {
  int64_t count = 0;
  int64_t differ = 0;
  double abs_err = 0;
  double sq_err = 0;
  double sq_ref = 0;
  double sq_other = 0;
  double dot = 0;
  double max_abs = -1;
  int64_t max_abs_index = -1;
  // Per-side argmax over that side's finite elements (first occurrence).
  float ref_max = -std::numeric_limits<float>::infinity();
  float other_max = -std::numeric_limits<float>::infinity();
  int64_t ref_argmax = -1, other_argmax = -1;
  // Non-finite elements of each side and mismatches (DriftMeasures' fields).
  int64_t nan_ref = 0, inf_ref = 0, nan_other = 0, inf_other = 0, nonfinite_mismatch = 0;
};

constexpr int64_t kLastBin = static_cast<int64_t>(kStepsHistogramBins) - 1;
constexpr double kStepSnap = 1e-4;  // steps this close to a whole number are that number

// Steps of one error as measure_drift reports them: err / scale, snapped to a whole number
// within kStepSnap (both sides are f32 products code*scale: a whole number of steps comes
// out as 1.0000001 and must not cross a threshold of 1). Sets *rounded to the nearest whole
// number of steps, ties away from zero as llround.
double snapped_steps(double err, double scale, double* rounded) {
  double steps = err / scale;
  const double r = std::round(steps);
  if (std::fabs(steps - r) <= kStepSnap) steps = r;
  *rounded = r;
  return steps;
}

// Histogram bin of std::round(steps), compared in double first so a huge (or NaN) step
// count never reaches the integer conversion.
int64_t steps_bin(double r) { return r < static_cast<double>(kLastBin) ? static_cast<int64_t>(r) : kLastBin; }

// The bins of one positive finite scale as thresholds on the error, so the histogram needs
// neither a division nor a rounding per element: for err >= 0,
//   std::round(err / scale) >= k  <=>  err / scale >= k - 0.5  <=>  err >= at_least[k - 1],
// where at_least[k - 1] is the smallest double whose quotient (rounded, as the division
// rounds it) reaches k - 0.5. Rounded division by a positive number is monotone, so one
// threshold per bin is exact.
struct StepThresholds {
  double at_least[kLastBin + 1];  // the last is +inf, which no finite error reaches (padding)
};

// Two doubles / two counts at a time (SSE2 with GCC's vector extensions): the seven
// threshold comparisons per element in four instructions plus four subtractions.
typedef double Double2 __attribute__((vector_size(16)));
typedef int64_t Int2 __attribute__((vector_size(16)));

StepThresholds step_thresholds(double scale) {
  StepThresholds t;
  for (int64_t k = 1; k <= kLastBin; ++k) {
    const double half = static_cast<double>(k) - 0.5;
    double e = half * scale;
    if (e / scale >= half) {
      for (double lower = std::nextafter(e, 0.0); lower / scale >= half; lower = std::nextafter(lower, 0.0)) e = lower;
    } else {
      do e = std::nextafter(e, kInf); while (e / scale < half);
    }
    t.at_least[k - 1] = e;
  }
  t.at_least[kLastBin] = kInf;
  return t;
}

bool fast_steps_scale(double scale) { return scale > 0 && std::isfinite(scale); }

// A position where a side is not finite: the counts live in memory (out of the hot loop's
// registers); `skipped` counts the positions so the loop need not count the finite ones.
[[gnu::noinline]] void count_nonfinite(float x, float y, DriftSums* s, int64_t* skipped) {
  s->nan_ref += std::isnan(x);
  s->inf_ref += std::isinf(x);
  s->nan_other += std::isnan(y);
  s->inf_other += std::isinf(y);
  // Only the same infinity on both sides agrees; NaN never equals anything.
  s->nonfinite_mismatch += !(std::isinf(x) && x == y);
  ++*skipped;
}

// One run of elements [i, end) sharing one scale. With kSteps, `thresholds` holds the run's
// bin thresholds: ge[k - 1] gains the errors of at least k steps, and *run_max the largest
// error of the run (its steps are computed once per channel by the caller: the steps are
// monotone in the error). The running values are plain locals so they stay in registers.
// a and b point at element i (the first of the run): runs may be read block by block.
template <bool kSteps>
void measure_run(const float* a, const float* b, int64_t i, const int64_t end, const StepThresholds* thresholds,
                 DriftSums* sums, int64_t* ge, double* run_max) {
  const int64_t begin = i;
  int64_t skipped = 0;
  int64_t differ = 0;
  Double2 abs_sq = {sums->abs_err, sums->sq_err};
  Double2 sq_ref_other = {sums->sq_ref, sums->sq_other};
  double dot = sums->dot;
  float ref_max = sums->ref_max, other_max = sums->other_max;
  int64_t ref_argmax = sums->ref_argmax, other_argmax = sums->other_argmax;
  // The run's own largest error and its first index, merged after the run (an earlier run
  // keeps a tie, as a strict > over all elements in order would).
  double max_abs = -1;
  int64_t max_abs_index = -1;
  Double2 at_least[4] = {};
  Int2 minus_cnt[4] = {};  // comparisons are -1 where true
  if constexpr (kSteps) {
    for (int k = 0; k < 4; ++k) at_least[k] = Double2{thresholds->at_least[2 * k], thresholds->at_least[2 * k + 1]};
  }
  for (; i < end; ++i) {
    const float x = a[i - begin];
    const float y = b[i - begin];
    const bool fx = std::isfinite(x);
    const bool fy = std::isfinite(y);
    if (fx && x > ref_max) { ref_max = x; ref_argmax = i; }
    if (fy && y > other_max) { other_max = y; other_argmax = i; }
    if (!(fx && fy)) [[unlikely]] {
      count_nonfinite(x, y, sums, &skipped);
      continue;
    }
    const double xd = x, yd = y;
    const double err = std::fabs(xd - yd);
    differ += x != y;
    abs_sq += Double2{err, err * err};
    sq_ref_other += Double2{xd * xd, yd * yd};
    dot += xd * yd;
    if (err > max_abs) [[unlikely]] { max_abs = err; max_abs_index = i; }
    if constexpr (kSteps) {
      const Double2 e2 = {err, err};
      for (int k = 0; k < 4; ++k) minus_cnt[k] += e2 >= at_least[k];
    }
  }
  sums->count += (end - begin) - skipped;
  sums->differ += differ;
  sums->abs_err = abs_sq[0];
  sums->sq_err = abs_sq[1];
  sums->sq_ref = sq_ref_other[0];
  sums->sq_other = sq_ref_other[1];
  sums->dot = dot;
  sums->ref_max = ref_max;
  sums->other_max = other_max;
  sums->ref_argmax = ref_argmax;
  sums->other_argmax = other_argmax;
  if (max_abs > sums->max_abs) { sums->max_abs = max_abs; sums->max_abs_index = max_abs_index; }
  if constexpr (kSteps) {
    for (int64_t k = 0; k < kLastBin; ++k) ge[k] -= minus_cnt[k / 2][k % 2];
    *run_max = std::max(*run_max, max_abs);
  }
}

// measure_run for a scale that is not positive and finite (graphs with one are rejected on
// load, core/qdq_params.cpp; kept exact anyway): the steps per element, as before.
void measure_run_any_scale(const float* a, const float* b, int64_t i, const int64_t end, double scale, DriftSums* s,
                           DriftMeasures* d) {
  for (const int64_t begin = i; i < end; ++i) {
    const int64_t count_before = s->count;
    const float* x = a + (i - begin);
    const float* y = b + (i - begin);
    measure_run<false>(x, y, i, i + 1, nullptr, s, nullptr, nullptr);
    if (s->count == count_before) continue;
    const double err = std::fabs(static_cast<double>(*x) - static_cast<double>(*y));
    double r = 0;
    d->max_abs_steps = std::max(d->max_abs_steps, snapped_steps(err, scale, &r));
    ++d->steps_histogram[static_cast<size_t>(steps_bin(r))];
  }
}

// One side of a measure read block by block as real values, so that no whole f32 copy of
// a tensor is made: f32 as it is (no copy), codes dequantized exactly as real_values does.
class RealBlocks {
 public:
  RealBlocks(const Tensor& t, const QuantParams* q) : t_(t), q_(q && is_code_type(t.dtype) ? q : nullptr) {
    QD_ASSERT(t.layout == Layout::row_major);
    if (q_) {
      QD_ASSERT(quant_params_fit(t.shape, *q_));
      ix_ = quant_axis_index(t.shape, *q_);
    }
  }

  // Elements [begin, end) (at most kMeasureBlock of them).
  const float* get(int64_t begin, int64_t end) {
    if (t_.dtype == DType::f32) return t_.data<float>() + begin;
    buf_.resize(static_cast<size_t>(end - begin));
    float* y = buf_.data();  // y[i - begin] holds element i
    dispatch_dtype(t_.dtype, [&](auto tag) {
      using T = decltype(tag);
      const T* x = t_.data<T>();
      if constexpr (std::is_same_v<T, uint8_t> || std::is_same_v<T, int8_t> || std::is_same_v<T, int32_t>) {
        if (q_) {
          for (int64_t i = begin; i < end;) {  // runs of one parameter, as dequantize_tensor_into
            const size_t c = ix_.of(i);
            const int64_t run_end = ix_.count == 1 ? end : std::min(end, (i / ix_.inner + 1) * ix_.inner);
            const float sc = q_->scale[c];
            const int32_t zp = q_->zero_point[c];
            for (; i < run_end; ++i) y[i - begin] = dequantize_value(static_cast<int32_t>(x[i]), sc, zp);
          }
          return;
        }
      }
      for (int64_t i = begin; i < end; ++i) y[i - begin] = static_cast<float>(x[i]);  // bool: 0 or 1
    });
    return buf_.data();
  }

 private:
  const Tensor& t_;
  const QuantParams* q_;
  QuantAxisIndex ix_;
  std::vector<float> buf_;
};

constexpr int64_t kMeasureBlock = 16384;

// measure_run over [i, end) in blocks of kMeasureBlock: the same sums as one call (every
// running value is carried in order through DriftSums; the largest error merges with a
// strict >, keeping the first index as one pass would).
template <bool kSteps>
void measure_blocks(RealBlocks& a, RealBlocks& b, int64_t i, const int64_t end, const StepThresholds* thresholds,
                    DriftSums* sums, int64_t* ge, double* run_max) {
  for (; i < end; i += kMeasureBlock) {
    const int64_t e = std::min(end, i + kMeasureBlock);
    measure_run<kSteps>(a.get(i, e), b.get(i, e), i, e, thresholds, sums, ge, run_max);
  }
}

void measure_blocks_any_scale(RealBlocks& a, RealBlocks& b, int64_t i, const int64_t end, double scale,
                              DriftSums* s, DriftMeasures* d) {
  for (; i < end; i += kMeasureBlock) {
    const int64_t e = std::min(end, i + kMeasureBlock);
    measure_run_any_scale(a.get(i, e), b.get(i, e), i, e, scale, s, d);
  }
}

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
  return measure_drift_real(ref, nullptr, other, nullptr, ref_q);
}

DriftMeasures measure_drift_real(const Tensor& ref, const QuantParams* ref_grid, const Tensor& other,
                                 const QuantParams* other_grid, const QuantParams* ref_q) {
  QD_ASSERT(ref.layout == Layout::row_major && other.layout == Layout::row_major);
  QD_ASSERT(ref.numel() == other.numel());
  DriftMeasures d;
  if (ref_q) {
    d.has_steps = true;
    d.steps_histogram.assign(kStepsHistogramBins, 0);
  }
  const int64_t n = ref.numel();
  if (n == 0) return d;

  RealBlocks a(ref, ref_grid), b(other, other_grid);
  DriftSums s;
  if (!ref_q) {
    measure_blocks<false>(a, b, 0, n, nullptr, &s, nullptr, nullptr);
  } else {
    // Runs of elements sharing one scale (one run of n when per tensor), so the channel of an
    // element is never computed by a division. Per channel: its bin thresholds and its
    // largest error; per element only comparisons (docs/report.md: steps_histogram[k] counts
    // the errors whose steps round to k, the last bin everything from kLastBin up).
    const QuantAxisIndex ix = quant_axis_index(ref.shape, *ref_q);
    const size_t channels = static_cast<size_t>(ix.count);
    std::vector<StepThresholds> thresholds(channels);
    std::vector<double> channel_max(channels, -1.0);  // largest error per channel; -1: none
    for (size_t c = 0; c < channels; ++c) {
      const double scale = ref_q->scale[c];
      if (fast_steps_scale(scale)) thresholds[c] = step_thresholds(scale);
    }
    int64_t ge[kLastBin] = {};  // ge[k - 1]: errors of at least k steps
    int64_t fast = 0;  // finite pairs in the channels measured by thresholds
    int64_t i = 0;
    for (int64_t o = 0; o < ix.outer; ++o) {
      for (size_t c = 0; c < channels; ++c, i += ix.inner) {
        const double scale = ref_q->scale[c];
        if (fast_steps_scale(scale)) {
          const int64_t before = s.count;
          measure_blocks<true>(a, b, i, i + ix.inner, &thresholds[c], &s, ge, &channel_max[c]);
          fast += s.count - before;
        } else {
          measure_blocks_any_scale(a, b, i, i + ix.inner, scale, &s, &d);
        }
      }
    }
    for (size_t c = 0; c < channels; ++c) {
      // Not computed per element: the steps of the channel's largest error are its largest
      // steps, since both the division by a positive scale and the snapping are monotone.
      const double scale = ref_q->scale[c];
      if (!fast_steps_scale(scale) || channel_max[c] < 0) continue;
      double r = 0;
      d.max_abs_steps = std::max(d.max_abs_steps, snapped_steps(channel_max[c], scale, &r));
    }
    // The thresholded channels' bins from their counts (the fallback's are in already).
    int64_t* hist = d.steps_histogram.data();
    hist[0] += fast - ge[0];
    for (int64_t k = 1; k < kLastBin; ++k) hist[k] += ge[k - 1] - ge[k];
    hist[kLastBin] += ge[kLastBin - 1];
  }
  d.nan_ref = s.nan_ref;
  d.inf_ref = s.inf_ref;
  d.nan_other = s.nan_other;
  d.inf_other = s.inf_other;
  d.nonfinite_mismatch = s.nonfinite_mismatch;

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
