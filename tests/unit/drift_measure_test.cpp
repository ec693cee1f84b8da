// Drift measures per pair (diff/measure.h): closed-form cases worked out by hand. Values
// are chosen on binary grids (scales 0.25, 0.125, 0.5) so every difference is exact in f32
// and the expected numbers are written out, never computed by qdrift.
#include <algorithm>
#include <bit>
#include <climits>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/quant_math.h"
#include "diff/measure.h"
#include "diff/tensor_stats.h"

namespace qdrift::test {
namespace {

constexpr float kInfF = std::numeric_limits<float>::infinity();
constexpr float kNaNF = std::numeric_limits<float>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

Tensor f32(Shape s, const std::vector<float>& v) { return Tensor::from_vector<float>(std::move(s), v); }
Tensor f32_1d(const std::vector<float>& v) { return f32({static_cast<int64_t>(v.size())}, v); }

std::vector<int64_t> hist(std::vector<int64_t> bins) { return bins; }

QuantParams per_axis(std::vector<float> scales, std::vector<int32_t> zps, DType type, int axis) {
  QuantParams q;
  q.scale = std::move(scales);
  q.zero_point = std::move(zps);
  q.zero_point_type = type;
  q.axis = axis;
  return q;
}

// ---- measure_drift ------------------------------------------------------------------------

TEST(DriftMeasure, IdenticalTensors) {
  // 13 elements k * 0.25 - 1.5, k = 0..12: distinct, the largest (1.5) last.
  std::vector<float> v;
  for (int k = 0; k < 13; ++k) v.push_back(static_cast<float>(k) * 0.25f - 1.5f);
  const QuantParams q = QuantParams::per_tensor(0.25f, 0, DType::s8);
  const DriftMeasures d = measure_drift(f32_1d(v), f32_1d(v), &q);
  EXPECT_EQ(d.count, 13);
  EXPECT_EQ(d.max_abs, 0.0);
  EXPECT_EQ(d.max_abs_index, 0);  // every error is 0: the first index
  EXPECT_EQ(d.mean_abs, 0.0);
  EXPECT_EQ(d.rmse, 0.0);
  EXPECT_EQ(d.rel_l2, 0.0);
  EXPECT_EQ(d.sqnr_db, kInf);
  EXPECT_DOUBLE_EQ(d.cosine, 1.0);
  EXPECT_TRUE(d.argmax_agree);
  EXPECT_EQ(d.frac_differ, 0.0);
  EXPECT_TRUE(d.has_steps);
  EXPECT_EQ(d.max_abs_steps, 0.0);
  EXPECT_EQ(d.steps_histogram, hist({13, 0, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(d.nan_ref + d.inf_ref + d.nan_other + d.inf_other + d.nonfinite_mismatch, 0);
}

TEST(DriftMeasure, SingleElementWithoutGrid) {
  const DriftMeasures d = measure_drift(f32_1d({3.0f}), f32_1d({3.0f}), nullptr);
  EXPECT_EQ(d.count, 1);
  EXPECT_EQ(d.sqnr_db, kInf);
  EXPECT_FALSE(d.has_steps);
  EXPECT_TRUE(d.steps_histogram.empty());
}

TEST(DriftMeasure, ConstantOffsetOfTwoSteps) {
  // scale 0.125, ref = +-2.5 alternating (20 steps), other = ref + 0.25 (exactly 2 steps).
  // sum ref^2 / sum err^2 = 6.25 / 0.0625 = 100 -> SQNR 20 dB; rmse = mean_abs = 0.25.
  // rel_l2 = sqrt(127 * 0.0625) / sqrt(127 * 6.25) = 0.1.
  // cosine: dot = sum ref^2 + 0.25 * sum ref = 127 * 6.25 + 0.25 * 2.5 (64 positives, 63
  // negatives) = 793.75 + 0.625 = 794.375; |other|^2 = 64 * 2.75^2 + 63 * 2.25^2
  // = 484 + 318.9375 = 802.9375; cosine = 794.375 / sqrt(793.75 * 802.9375).
  std::vector<float> ref, other;
  for (int i = 0; i < 127; ++i) {
    const float r = i % 2 == 0 ? 2.5f : -2.5f;
    ref.push_back(r);
    other.push_back(r + 0.25f);
  }
  const QuantParams q = QuantParams::per_tensor(0.125f, 0, DType::s8);
  const DriftMeasures d = measure_drift(f32_1d(ref), f32_1d(other), &q);
  EXPECT_EQ(d.count, 127);
  EXPECT_EQ(d.max_abs, 0.25);
  EXPECT_EQ(d.max_abs_index, 0);
  EXPECT_DOUBLE_EQ(d.mean_abs, 0.25);
  EXPECT_DOUBLE_EQ(d.rmse, 2 * 0.125);
  EXPECT_DOUBLE_EQ(d.rel_l2, 0.1);
  EXPECT_NEAR(d.sqnr_db, 20.0, 1e-12);
  EXPECT_NEAR(d.cosine, 794.375 / std::sqrt(793.75 * 802.9375), 1e-12);
  EXPECT_TRUE(d.argmax_agree);  // both first maximum at index 0
  EXPECT_EQ(d.frac_differ, 1.0);
  EXPECT_EQ(d.max_abs_steps, 2.0);
  EXPECT_EQ(d.steps_histogram, hist({0, 0, 127, 0, 0, 0, 0, 0}));
}

TEST(DriftMeasure, PerAxisStepsUseEachChannelsScale) {
  // Shape [3, 2, 1] with axis 1: channel 0 has scale 0.5, channel 1 scale 0.125. The same
  // real error 0.5 everywhere is 1 step in channel 0 and 4 steps in channel 1.
  const QuantParams q = per_axis({0.5f, 0.125f}, {0, 0}, DType::s8, 1);
  const Tensor ref = f32({3, 2, 1}, {1.0f, 1.0f, 2.0f, 2.0f, -1.0f, -1.0f});
  const Tensor other = f32({3, 2, 1}, {1.5f, 1.5f, 2.5f, 2.5f, -0.5f, -0.5f});
  const DriftMeasures d = measure_drift(ref, other, &q);
  EXPECT_EQ(d.count, 6);
  EXPECT_EQ(d.max_abs, 0.5);
  EXPECT_EQ(d.max_abs_steps, 4.0);
  EXPECT_EQ(d.steps_histogram, hist({0, 3, 0, 0, 3, 0, 0, 0}));

  // Negative axis: -2 is axis 1 of a rank-3 tensor, the same channels.
  const QuantParams qn = per_axis({0.5f, 0.125f}, {0, 0}, DType::s8, -2);
  EXPECT_EQ(measure_drift(ref, other, &qn).steps_histogram, hist({0, 3, 0, 0, 3, 0, 0, 0}));
}

TEST(DriftMeasure, HistogramRoundsAndLastBinHoldsSevenAndMore) {
  // scale 1: errors 0.4, 0.5, 1.49, 6, 6.49, 6.5, 7, 100 steps. llround ties away from zero:
  // 0.4 -> 0, 0.5 -> 1, 1.49 -> 1, 6 -> 6, 6.49 -> 6, 6.5 -> 7 (last), 7 and 100 -> last.
  // All are exact in f32 on a ref of 0 except 0.4, 1.49, 6.49, whose rounding is clear.
  const std::vector<float> err = {0.4f, 0.5f, 1.49f, 6.0f, 6.49f, 6.5f, 7.0f, 100.0f};
  const std::vector<float> ref(err.size(), 0.0f);
  const QuantParams q = QuantParams::per_tensor(1.0f, 0, DType::u8);
  const DriftMeasures d = measure_drift(f32_1d(ref), f32_1d(err), &q);
  EXPECT_EQ(d.steps_histogram, hist({1, 2, 0, 0, 0, 0, 2, 3}));
  EXPECT_EQ(d.max_abs_steps, 100.0);
  EXPECT_EQ(d.max_abs_index, 7);
  int64_t total = 0;
  for (int64_t b : d.steps_histogram) total += b;
  EXPECT_EQ(total, d.count);
}

TEST(DriftMeasure, HugeErrorLandsInLastBin) {
  // An error of 1e38 / 1e-30 steps overflows any integer: still the last bin.
  const QuantParams q = QuantParams::per_tensor(1e-30f, 0, DType::s8);
  const DriftMeasures d = measure_drift(f32_1d({0.0f}), f32_1d({1e38f}), &q);
  EXPECT_EQ(d.steps_histogram, hist({0, 0, 0, 0, 0, 0, 0, 1}));
}

// Dequantized codes 3 and 2 of scale 0.1f are the f32 products 0.3f and 0.2f, whose
// difference divided by 0.1f is 1.0000000745 in double: one step, not more than one.
TEST(DriftMeasure, WholeStepsOfF32ProductsAreWhole) {
  const QuantParams q = QuantParams::per_tensor(0.1f, 0, DType::s8);
  const DriftMeasures d = measure_drift(f32_1d({3 * 0.1f, 5 * 0.1f}), f32_1d({2 * 0.1f, 5 * 0.1f}), &q);
  ASSERT_GT((static_cast<double>(3 * 0.1f) - static_cast<double>(2 * 0.1f)) / static_cast<double>(0.1f), 1.0);
  EXPECT_EQ(d.max_abs_steps, 1.0);
  EXPECT_FALSE(is_divergent(d, Thresholds{.max_steps = 1.0, .min_sqnr_db = 30}));
}

// The rounded quotient dot / (|a||b|) of two equal vectors can come out a hair below 1;
// equal tensors must report exactly 1, or a budget asking min_cosine 1 rejects them.
TEST(DriftMeasure, IdenticalTensorsHaveCosineExactlyOne) {
  for (int n : {3, 13, 127}) {
    std::vector<float> v;
    for (int i = 0; i < n; ++i) v.push_back(0.1f * static_cast<float>(i + 1) - 3.7f);
    EXPECT_EQ(measure_drift(f32_1d(v), f32_1d(v), nullptr).cosine, 1.0) << n;
  }
}

TEST(DriftMeasure, NaNAndInfAreCountedAndExcluded) {
  // 13 positions; the finite pairs (indices 0, 1, 12) are ref 1, 2, 3 vs other 1, 2, 3.5.
  //   2: NaN vs 1       mismatch        7: +inf vs -inf   mismatch
  //   3: 1 vs NaN       mismatch        8: -inf vs -inf   agree
  //   4: NaN vs NaN     mismatch        9: +inf vs 5      mismatch
  //   5: +inf vs +inf   agree          10: 5 vs -inf      mismatch
  //   6: NaN vs +inf    mismatch       11: -inf vs NaN    mismatch
  const std::vector<float> ref = {1, 2, kNaNF, 1, kNaNF, kInfF, kNaNF, kInfF, -kInfF, kInfF, 5, -kInfF, 3};
  const std::vector<float> other = {1, 2, 1, kNaNF, kNaNF, kInfF, kInfF, -kInfF, -kInfF, 5, -kInfF, kNaNF, 3.5f};
  const QuantParams q = QuantParams::per_tensor(0.25f, 0, DType::s8);
  const DriftMeasures d = measure_drift(f32_1d(ref), f32_1d(other), &q);
  EXPECT_EQ(d.nan_ref, 3);    // 2, 4, 6
  EXPECT_EQ(d.inf_ref, 5);    // 5, 7, 8, 9, 11
  EXPECT_EQ(d.nan_other, 3);  // 3, 4, 11
  EXPECT_EQ(d.inf_other, 5);  // 5, 6, 7, 8, 10
  EXPECT_EQ(d.nonfinite_mismatch, 8);  // all of 2..11 but 5 and 8
  // Measures over indices 0, 1, 12 only: errors 0, 0, 0.5 (2 steps).
  EXPECT_EQ(d.count, 3);
  EXPECT_EQ(d.max_abs, 0.5);
  EXPECT_EQ(d.max_abs_index, 12);
  EXPECT_DOUBLE_EQ(d.mean_abs, 0.5 / 3);
  EXPECT_DOUBLE_EQ(d.rmse, std::sqrt(0.25 / 3));
  EXPECT_DOUBLE_EQ(d.rel_l2, 0.5 / std::sqrt(14.0));
  EXPECT_DOUBLE_EQ(d.sqnr_db, 10 * std::log10(14.0 / 0.25));
  EXPECT_DOUBLE_EQ(d.frac_differ, 1.0 / 3);
  EXPECT_EQ(d.max_abs_steps, 2.0);
  EXPECT_EQ(d.steps_histogram, hist({2, 0, 1, 0, 0, 0, 0, 0}));
  // Finite argmax of ref: 5 at index 10; of other: 5 at index 9: they differ.
  EXPECT_FALSE(d.argmax_agree);
  EXPECT_TRUE(std::isfinite(d.cosine));
}

TEST(DriftMeasure, SameInfinityIsNotAMismatch) {
  const DriftMeasures d = measure_drift(f32_1d({kInfF, 1, -kInfF}), f32_1d({kInfF, 1, -kInfF}), nullptr);
  EXPECT_EQ(d.inf_ref, 2);
  EXPECT_EQ(d.inf_other, 2);
  EXPECT_EQ(d.nonfinite_mismatch, 0);
  EXPECT_EQ(d.count, 1);
  EXPECT_EQ(d.sqnr_db, kInf);
  EXPECT_FALSE(is_divergent(d, Thresholds{}));
}

TEST(DriftMeasure, AllNonFiniteLeavesMeasuresAtDefaults) {
  const DriftMeasures d = measure_drift(f32_1d({kNaNF, kNaNF, kNaNF}), f32_1d({1, 2, 3}), nullptr);
  EXPECT_EQ(d.count, 0);
  EXPECT_EQ(d.max_abs_index, -1);
  EXPECT_EQ(d.sqnr_db, 0.0);
  EXPECT_EQ(d.nonfinite_mismatch, 3);
  EXPECT_FALSE(d.argmax_agree);  // ref has no finite element, other's argmax is 2
}

TEST(DriftMeasure, RefAllZeroOtherNonZero) {
  // ||ref|| = 0 and the error is not: rel_l2 = +inf, SQNR = -inf, cosine 0.
  const DriftMeasures d = measure_drift(f32_1d({0, 0, 0}), f32_1d({0, 0.5f, 0}), nullptr);
  EXPECT_EQ(d.rel_l2, kInf);
  EXPECT_EQ(d.sqnr_db, -kInf);
  EXPECT_EQ(d.cosine, 0.0);
  EXPECT_EQ(d.max_abs, 0.5);
  EXPECT_EQ(d.max_abs_index, 1);
  EXPECT_FALSE(d.argmax_agree);  // ref: first 0 at index 0; other: 0.5 at index 1
  EXPECT_DOUBLE_EQ(d.frac_differ, 1.0 / 3);
}

TEST(DriftMeasure, BothAllZero) {
  const DriftMeasures d = measure_drift(f32_1d({0, 0, 0}), f32_1d({0, 0, 0}), nullptr);
  EXPECT_EQ(d.rel_l2, 0.0);
  EXPECT_EQ(d.sqnr_db, kInf);
  EXPECT_EQ(d.cosine, 1.0);
  EXPECT_TRUE(d.argmax_agree);
}

TEST(DriftMeasure, OtherAllZeroRefNot) {
  // Error = ref itself: rel_l2 1, SQNR 0 dB, cosine 0.
  const DriftMeasures d = measure_drift(f32_1d({1, -2, 3}), f32_1d({0, 0, 0}), nullptr);
  EXPECT_DOUBLE_EQ(d.rel_l2, 1.0);
  EXPECT_DOUBLE_EQ(d.sqnr_db, 0.0);
  EXPECT_EQ(d.cosine, 0.0);
}

TEST(DriftMeasure, NegatedIsCosineMinusOne) {
  // other = -ref: error 2 ref, SQNR = 10 log10(1/4), cosine -1.
  const DriftMeasures d = measure_drift(f32_1d({1, -2, 3}), f32_1d({-1, 2, -3}), nullptr);
  EXPECT_DOUBLE_EQ(d.cosine, -1.0);
  EXPECT_DOUBLE_EQ(d.sqnr_db, 10 * std::log10(0.25));
  EXPECT_DOUBLE_EQ(d.rel_l2, 2.0);
}

TEST(DriftMeasure, ArgmaxDisagreement) {
  // ref peaks at index 1, other at index 2; a tie keeps the first occurrence.
  EXPECT_FALSE(measure_drift(f32_1d({0.1f, 0.9f, 0.5f}), f32_1d({0.1f, 0.5f, 0.9f}), nullptr).argmax_agree);
  EXPECT_TRUE(measure_drift(f32_1d({0.1f, 0.9f, 0.5f}), f32_1d({0.1f, 0.9f, 0.9f}), nullptr).argmax_agree);
  EXPECT_FALSE(measure_drift(f32_1d({0.1f, 0.9f, 0.9f}), f32_1d({0.1f, 0.8f, 0.9f}), nullptr).argmax_agree);
}

TEST(DriftMeasure, EmptyTensors) {
  const DriftMeasures d = measure_drift(f32({0, 3}, {}), f32({0, 3}, {}), nullptr);
  EXPECT_EQ(d.count, 0);
  EXPECT_EQ(d.max_abs, 0.0);
  EXPECT_EQ(d.max_abs_index, -1);
  EXPECT_EQ(d.sqnr_db, 0.0);
  EXPECT_EQ(d.cosine, 1.0);
  EXPECT_TRUE(d.argmax_agree);
  EXPECT_EQ(d.nonfinite_mismatch, 0);
  EXPECT_FALSE(is_divergent(d, Thresholds{}));
}

// ---- is_divergent --------------------------------------------------------------------------

TEST(DriftMeasureDivergent, NonFiniteMismatchAlwaysCounts) {
  DriftMeasures d;
  d.count = 5;
  d.sqnr_db = kInf;
  EXPECT_FALSE(is_divergent(d, Thresholds{}));
  d.nonfinite_mismatch = 1;
  EXPECT_TRUE(is_divergent(d, Thresholds{}));
  d.has_steps = true;  // even with no step error
  EXPECT_TRUE(is_divergent(d, Thresholds{}));
}

TEST(DriftMeasureDivergent, StepsAgainstMaxSteps) {
  DriftMeasures d;
  d.count = 5;
  d.has_steps = true;
  d.sqnr_db = -10;  // ignored when the pair has steps
  const Thresholds t{.max_steps = 1.0, .min_sqnr_db = 30.0};
  d.max_abs_steps = 1.0;  // at the threshold: not over it
  EXPECT_FALSE(is_divergent(d, t));
  d.max_abs_steps = 1.5;
  EXPECT_TRUE(is_divergent(d, t));
}

TEST(DriftMeasureDivergent, SqnrWithoutSteps) {
  DriftMeasures d;
  d.count = 5;
  const Thresholds t{.max_steps = 1.0, .min_sqnr_db = 30.0};
  d.sqnr_db = 30.0;
  EXPECT_FALSE(is_divergent(d, t));
  d.sqnr_db = 29.9;
  EXPECT_TRUE(is_divergent(d, t));
  d.max_abs_steps = 100;  // ignored without has_steps
  d.sqnr_db = 40;
  EXPECT_FALSE(is_divergent(d, t));
  d.count = 0;  // nothing compared: SQNR means nothing
  d.sqnr_db = 0;
  EXPECT_FALSE(is_divergent(d, t));
}

TEST(DriftMeasureDivergent, FromMeasuredPairs) {
  // Two steps of 0.125 over the default max of 1 step; without a grid, 20 dB under 30 dB.
  const QuantParams q = QuantParams::per_tensor(0.125f, 0, DType::s8);
  const Tensor ref = f32_1d({2.5f, -2.5f, 2.5f});
  const Tensor other = f32_1d({2.75f, -2.25f, 2.75f});
  EXPECT_TRUE(is_divergent(measure_drift(ref, other, &q), Thresholds{}));
  EXPECT_TRUE(is_divergent(measure_drift(ref, other, nullptr), Thresholds{}));
  EXPECT_FALSE(is_divergent(measure_drift(ref, other, &q), Thresholds{.max_steps = 2.0, .min_sqnr_db = 30.0}));
  EXPECT_FALSE(is_divergent(measure_drift(ref, other, nullptr), Thresholds{.max_steps = 1.0, .min_sqnr_db = 19.0}));
}

// ---- describe_side -------------------------------------------------------------------------

TEST(DriftMeasureDescribeSide, U8CountsZeroAnd255) {
  const Tensor t = Tensor::from_vector<uint8_t>({13}, {0, 255, 3, 0, 128, 255, 255, 1, 254, 0, 7, 9, 10});
  const QuantParams q = QuantParams::per_tensor(0.5f, 128, DType::u8);
  const SideRecord s = describe_side(t, &q);
  EXPECT_EQ(s.dtype, DType::u8);
  EXPECT_EQ(s.shape, (Shape{13}));
  EXPECT_TRUE(s.quantized);
  EXPECT_EQ(s.scale, (std::vector<float>{0.5f}));
  EXPECT_EQ(s.zero_point, (std::vector<int32_t>{128}));
  EXPECT_EQ(s.count_at_qmin, 3);
  EXPECT_EQ(s.count_at_qmax, 3);
  // Native domain: codes, not real values.
  EXPECT_EQ(s.stats.count, 13);
  EXPECT_EQ(s.stats.min, 0.0);
  EXPECT_EQ(s.stats.max, 255.0);
  EXPECT_EQ(s.stats.argmax, 1);
  EXPECT_DOUBLE_EQ(s.stats.avg, (0 + 255 + 3 + 0 + 128 + 255 + 255 + 1 + 254 + 0 + 7 + 9 + 10) / 13.0);
  EXPECT_TRUE(s.tensor.empty() && s.node.empty() && s.op.empty());
}

TEST(DriftMeasureDescribeSide, S8CountsMinus128And127) {
  // -127 is the narrow range's minimum, not the full range's: not counted.
  const Tensor t = Tensor::from_vector<int8_t>({3}, {-128, 127, -127});
  const QuantParams q = per_axis({0.1f, 0.2f, 0.3f}, {0, 0, 0}, DType::s8, 0);
  const SideRecord s = describe_side(t, &q);
  EXPECT_EQ(s.count_at_qmin, 1);
  EXPECT_EQ(s.count_at_qmax, 1);
  EXPECT_EQ(s.axis, 0);
  EXPECT_EQ(s.scale, (std::vector<float>{0.1f, 0.2f, 0.3f}));
  EXPECT_EQ(s.stats.min, -128.0);
  EXPECT_EQ(s.stats.max, 127.0);
}

TEST(DriftMeasureDescribeSide, S32CountsInt32Range) {
  const Tensor t = Tensor::from_vector<int32_t>({3}, {INT32_MIN, 0, INT32_MAX});
  const QuantParams q = QuantParams::per_tensor(0.01f, 0, DType::s32);
  const SideRecord s = describe_side(t, &q);
  EXPECT_EQ(s.count_at_qmin, 1);
  EXPECT_EQ(s.count_at_qmax, 1);
}

TEST(DriftMeasureDescribeSide, FloatOnAKnownGridHasNoCodeCounts) {
  // A fake-quant f32 output whose values happen to equal 0 and 255: no codes to count.
  const Tensor t = f32_1d({0.0f, 255.0f, 1.0f});
  const QuantParams q = QuantParams::per_tensor(0.5f, 0, DType::u8);
  const SideRecord s = describe_side(t, &q);
  EXPECT_TRUE(s.quantized);
  EXPECT_EQ(s.scale, (std::vector<float>{0.5f}));
  EXPECT_EQ(s.count_at_qmin, 0);
  EXPECT_EQ(s.count_at_qmax, 0);
  EXPECT_EQ(s.stats.argmax, 1);
}

TEST(DriftMeasureDescribeSide, WithoutQuantParams) {
  const SideRecord s = describe_side(Tensor::from_vector<uint8_t>({1}, {0}), nullptr);
  EXPECT_FALSE(s.quantized);
  EXPECT_TRUE(s.scale.empty());
  EXPECT_EQ(s.count_at_qmin, 0);
  EXPECT_EQ(s.count_at_qmax, 0);
}

// ---- real_values ---------------------------------------------------------------------------

TEST(DriftMeasureRealValues, F32IsACopy) {
  const Tensor t = f32({1, 3}, {1.5f, kNaNF, -kInfF});
  const Tensor r = real_values(t, nullptr);
  ASSERT_EQ(r.dtype, DType::f32);
  EXPECT_EQ(r.shape, (Shape{1, 3}));
  EXPECT_EQ(r.values<float>()[0], 1.5f);
  EXPECT_TRUE(std::isnan(r.values<float>()[1]));
  EXPECT_EQ(r.values<float>()[2], -kInfF);
}

TEST(DriftMeasureRealValues, PerAxisDequantizationByHand) {
  // Shape [1, 3, 1, 2] u8, axis 1: channel c has (scale, zp) = (0.5, 128), (0.25, 0), (2, 10).
  //   channel 0: (130 - 128) * 0.5 = 1,     (126 - 128) * 0.5 = -1
  //   channel 1: (4 - 0) * 0.25 = 1,        (255 - 0) * 0.25 = 63.75
  //   channel 2: (10 - 10) * 2 = 0,         (0 - 10) * 2 = -20
  const Tensor t = Tensor::from_vector<uint8_t>({1, 3, 1, 2}, {130, 126, 4, 255, 10, 0});
  const QuantParams q = per_axis({0.5f, 0.25f, 2.0f}, {128, 0, 10}, DType::u8, 1);
  const Tensor r = real_values(t, &q);
  ASSERT_EQ(r.dtype, DType::f32);
  EXPECT_EQ(r.shape, (Shape{1, 3, 1, 2}));
  const auto v = r.values<float>();
  EXPECT_EQ(std::vector<float>(v.begin(), v.end()), (std::vector<float>{1, -1, 1, 63.75f, 0, -20}));
}

TEST(DriftMeasureRealValues, S8PerTensor) {
  const Tensor t = Tensor::from_vector<int8_t>({3}, {-128, 0, 127});
  const QuantParams q = QuantParams::per_tensor(0.5f, -1, DType::s8);
  const Tensor r = real_values(t, &q);
  const auto v = r.values<float>();
  EXPECT_EQ(std::vector<float>(v.begin(), v.end()), (std::vector<float>{-63.5f, 0.5f, 64.0f}));
}

TEST(DriftMeasureRealValues, IntegersWithoutParamsAndBool) {
  const Tensor s = real_values(Tensor::from_vector<int64_t>({3}, {-7, 0, 1 << 20}), nullptr);
  const auto sv = s.values<float>();
  EXPECT_EQ(std::vector<float>(sv.begin(), sv.end()), (std::vector<float>{-7, 0, 1048576}));
  const Tensor u = real_values(Tensor::from_vector<uint8_t>({1}, {200}), nullptr);
  EXPECT_EQ(u.values<float>()[0], 200.0f);
  const Tensor b = real_values(Tensor::from_vector<bool>({3}, {true, false, true}), nullptr);
  const auto bv = b.values<float>();
  EXPECT_EQ(std::vector<float>(bv.begin(), bv.end()), (std::vector<float>{1, 0, 1}));
}

TEST(DriftMeasureRealValues, FeedMeasureDriftInTheReferencesSteps) {
  // u8 ref codes vs s8 other codes with their own params, compared in real values:
  // ref (zp 128, scale 0.5): 130, 128, 120 -> 1, 0, -4; other (zp 0, scale 0.5): 2, 1, -8
  // -> 1, 0.5, -4: one element one step off.
  const QuantParams rq = QuantParams::per_tensor(0.5f, 128, DType::u8);
  const QuantParams oq = QuantParams::per_tensor(0.5f, 0, DType::s8);
  const Tensor ra = real_values(Tensor::from_vector<uint8_t>({3}, {130, 128, 120}), &rq);
  const Tensor rb = real_values(Tensor::from_vector<int8_t>({3}, {2, 1, -8}), &oq);
  const DriftMeasures d = measure_drift(ra, rb, &rq);
  EXPECT_EQ(d.steps_histogram, hist({2, 1, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(d.max_abs_steps, 1.0);
  EXPECT_EQ(d.max_abs_index, 1);
}

// ---- the fast paths against the per-element forms they replaced ----------------------------
// measure_drift decides the steps histogram by per-channel error thresholds and takes the
// largest steps once per channel; compute_stats reads u8/s8 through a code histogram. The
// straightforward forms below (what both computed before) must give the same bits.

DriftMeasures measure_drift_per_element(const Tensor& ref, const Tensor& other, const QuantParams* ref_q) {
  DriftMeasures d;
  if (ref_q) {
    d.has_steps = true;
    d.steps_histogram.assign(kStepsHistogramBins, 0);
  }
  const int64_t n = ref.numel();
  if (n == 0) return d;
  const float* a = ref.data<float>();
  const float* b = other.data<float>();
  QuantAxisIndex ix;
  ix.inner = n;
  if (ref_q) ix = quant_axis_index(ref.shape, *ref_q);
  int64_t count = 0, differ = 0, max_abs_index = -1, ref_argmax = -1, other_argmax = -1;
  double abs_err = 0, sq_err = 0, sq_ref = 0, sq_other = 0, dot = 0, max_abs = 0;
  float ref_max = 0, other_max = 0;
  int64_t i = 0;
  for (int64_t o = 0; o < ix.outer; ++o) {
    for (int64_t c = 0; c < ix.count; ++c) {
      const double scale = ref_q ? static_cast<double>(ref_q->scale[static_cast<size_t>(c)]) : 1.0;
      for (const int64_t end = i + ix.inner; i < end; ++i) {
        const float x = a[i], y = b[i];
        const bool fx = std::isfinite(x), fy = std::isfinite(y);
        if (fx && (ref_argmax < 0 || x > ref_max)) { ref_max = x; ref_argmax = i; }
        if (fy && (other_argmax < 0 || y > other_max)) { other_max = y; other_argmax = i; }
        if (!(fx && fy)) {
          d.nan_ref += std::isnan(x);
          d.inf_ref += std::isinf(x);
          d.nan_other += std::isnan(y);
          d.inf_other += std::isinf(y);
          d.nonfinite_mismatch += !(std::isinf(x) && x == y);
          continue;
        }
        const double xd = x, yd = y;
        const double err = std::fabs(xd - yd);
        ++count;
        differ += x != y;
        abs_err += err;
        sq_err += err * err;
        sq_ref += xd * xd;
        sq_other += yd * yd;
        dot += xd * yd;
        if (err > max_abs || max_abs_index < 0) { max_abs = err; max_abs_index = i; }
        if (ref_q) {
          double steps = err / scale;
          const double r = std::round(steps);
          if (std::fabs(steps - r) <= 1e-4) steps = r;
          d.max_abs_steps = std::max(d.max_abs_steps, steps);
          ++d.steps_histogram[r < 7.0 ? static_cast<size_t>(r) : 7];
        }
      }
    }
  }
  d.argmax_agree = ref_argmax == other_argmax;
  d.count = count;
  if (count == 0) return d;
  const double cnt = static_cast<double>(count);
  d.max_abs = max_abs;
  d.max_abs_index = max_abs_index;
  d.mean_abs = abs_err / cnt;
  d.rmse = std::sqrt(sq_err / cnt);
  d.frac_differ = static_cast<double>(differ) / cnt;
  d.rel_l2 = sq_ref > 0 ? std::sqrt(sq_err) / std::sqrt(sq_ref) : (sq_err > 0 ? kInf : 0.0);
  d.sqnr_db = sq_err > 0 ? (sq_ref > 0 ? 10.0 * std::log10(sq_ref / sq_err) : -kInf) : kInf;
  if (sq_ref == 0 || sq_other == 0) {
    d.cosine = sq_ref == 0 && sq_other == 0 ? 1.0 : 0.0;
  } else {
    d.cosine = differ == 0 ? 1.0 : std::clamp(dot / (std::sqrt(sq_ref) * std::sqrt(sq_other)), -1.0, 1.0);
  }
  return d;
}

uint64_t bits(double v) { return std::bit_cast<uint64_t>(v); }

void expect_same_bits(const DriftMeasures& got, const DriftMeasures& want, const std::string& what) {
  SCOPED_TRACE(what);
  EXPECT_EQ(got.count, want.count);
  EXPECT_EQ(bits(got.max_abs), bits(want.max_abs));
  EXPECT_EQ(got.max_abs_index, want.max_abs_index);
  EXPECT_EQ(bits(got.mean_abs), bits(want.mean_abs));
  EXPECT_EQ(bits(got.rmse), bits(want.rmse));
  EXPECT_EQ(bits(got.rel_l2), bits(want.rel_l2));
  EXPECT_EQ(bits(got.sqnr_db), bits(want.sqnr_db));
  EXPECT_EQ(bits(got.cosine), bits(want.cosine));
  EXPECT_EQ(bits(got.frac_differ), bits(want.frac_differ));
  EXPECT_EQ(got.argmax_agree, want.argmax_agree);
  EXPECT_EQ(got.has_steps, want.has_steps);
  EXPECT_EQ(bits(got.max_abs_steps), bits(want.max_abs_steps)) << got.max_abs_steps << " vs " << want.max_abs_steps;
  EXPECT_EQ(got.steps_histogram, want.steps_histogram);
  EXPECT_EQ(got.nan_ref, want.nan_ref);
  EXPECT_EQ(got.inf_ref, want.inf_ref);
  EXPECT_EQ(got.nan_other, want.nan_other);
  EXPECT_EQ(got.inf_other, want.inf_other);
  EXPECT_EQ(got.nonfinite_mismatch, want.nonfinite_mismatch);
}

// Codes on the grid times an awkward scale, the other side some steps off plus f32 jitter
// (near whole steps, near half steps), with non-finite values sprinkled in when asked.
void random_pair(std::mt19937& rng, const Shape& shape, const std::vector<float>& scales, int axis, bool nonfinite,
                 Tensor* ref, Tensor* other) {
  const int64_t n = shape_numel(shape);
  QuantParams q = per_axis(scales, std::vector<int32_t>(scales.size(), 0), DType::u8, axis);
  const QuantAxisIndex ix = quant_axis_index(shape, q);
  std::uniform_int_distribution<int> code(-128, 127), off(-9, 9), kind(0, 19);
  std::uniform_real_distribution<float> frac(-0.6f, 0.6f);
  std::vector<float> a(static_cast<size_t>(n)), b(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const float sc = scales[ix.of(i)];
    const float x = static_cast<float>(code(rng)) * sc;
    float y = x + static_cast<float>(off(rng)) * sc;
    switch (kind(rng)) {
      case 0: y = x; break;
      case 1: y += frac(rng) * sc; break;                                   // anywhere between steps
      case 2: y = x + (static_cast<float>(off(rng)) + 0.5f) * sc; break;    // near a half step
      case 3: y = std::nextafter(y, kInfF); break;                          // one ulp past whole steps
      case 4: y = std::nextafter(y, -kInfF); break;
      case 5: if (nonfinite) y = kNaNF; break;
      case 6: if (nonfinite) y = (code(rng) & 1) ? kInfF : -kInfF; break;
      default: break;
    }
    a[static_cast<size_t>(i)] = (nonfinite && kind(rng) == 0) ? ((code(rng) & 1) ? kNaNF : kInfF) : x;
    b[static_cast<size_t>(i)] = y;
  }
  *ref = f32(shape, a);
  *other = f32(shape, b);
}

TEST(DriftMeasureFastPath, SameBitsAsPerElementSteps) {
  std::mt19937 rng(12345);
  struct Case {
    Shape shape;
    std::vector<float> scales;
    int axis;
  };
  const std::vector<Case> cases = {
      {{1, 3, 17, 19}, {0.0235f}, 1},
      {{1, 3, 17, 19}, {0.1f}, 1},
      {{1, 3, 17, 19}, {0.0235f, 0.7f, 3.3e-5f}, 1},   // per channel, inner 323
      {{2, 5, 7}, {0.3f, 0.011f, 1.7f, 0.05f, 0.0078125f, 0.2f, 9.5f}, 2},  // last axis: inner 1
      {{4, 6}, {0.013f, 0.02f, 0.5f, 1e-30f}, 0},  // first axis, outer 1
      {{1000}, {std::numeric_limits<float>::denorm_min()}, 0},
      {{1000}, {3e38f}, 0},
  };
  for (const bool nonfinite : {false, true}) {
    for (size_t k = 0; k < cases.size(); ++k) {
      for (int rep = 0; rep < 3; ++rep) {
        const Case& c = cases[k];
        Tensor ref, other;
        random_pair(rng, c.shape, c.scales, c.axis, nonfinite, &ref, &other);
        const QuantParams q = per_axis(c.scales, std::vector<int32_t>(c.scales.size(), 0), DType::u8, c.axis);
        const std::string what = "case " + std::to_string(k) + (nonfinite ? " nonfinite" : "") + " rep " + std::to_string(rep);
        expect_same_bits(measure_drift(ref, other, &q), measure_drift_per_element(ref, other, &q), what);
        expect_same_bits(measure_drift(ref, other, nullptr), measure_drift_per_element(ref, other, nullptr), what + " no grid");
        expect_same_bits(measure_drift(other, ref, &q), measure_drift_per_element(other, ref, &q), what + " swapped");
      }
    }
  }
}

TEST(DriftMeasureFastPath, ErrorsAtEveryBinEdge) {
  // Errors at k - 0.5 steps (ties round up) and the doubles around them, and around whole
  // steps (the snapping), for scales whose products are not exact.
  for (const float scale : {0.0235f, 0.1f, 0.3f, 1.0f / 3.0f, 0.0078125f, 7.7e-3f}) {
    std::vector<float> ref, other;
    for (int k = 0; k <= 9; ++k) {
      for (const double at : {k - 0.5, static_cast<double>(k)}) {
        if (at < 0) continue;
        float e = static_cast<float>(at * scale);
        for (int u = 0; u < 3; ++u) e = std::nextafter(e, 0.0f);
        for (int u = 0; u < 7; ++u, e = std::nextafter(e, kInfF)) {
          ref.push_back(0.0f);
          other.push_back(e);
          ref.push_back(1.0f);  // the error then comes from a difference in double
          other.push_back(1.0f + e);
        }
      }
    }
    const QuantParams q = QuantParams::per_tensor(scale, 0, DType::u8);
    const Tensor a = f32_1d(ref), b = f32_1d(other);
    expect_same_bits(measure_drift(a, b, &q), measure_drift_per_element(a, b, &q), "scale " + std::to_string(scale));
  }
}

TEST(DriftMeasureFastPath, DoubleErrorsAroundHalfSteps) {
  // Every double error within a few ulps of (k - 0.5) * scale, made as x - y of two floats
  // (x the float just above, y the small exact remainder): the bins are decided on doubles.
  int64_t made = 0;
  for (float scale = 0.001f; scale < 2.0f; scale *= 1.37f) {
    std::vector<float> ref, other;
    for (int k = 1; k <= 8; ++k) {
      double e = (k - 0.5) * static_cast<double>(scale);
      for (int u = 0; u < 4; ++u) e = std::nextafter(e, 0.0);
      for (int u = 0; u < 9; ++u, e = std::nextafter(e, kInf)) {
        float x = static_cast<float>(e);
        if (static_cast<double>(x) < e) x = std::nextafter(x, kInfF);
        const double rem = static_cast<double>(x) - e;
        const float y = static_cast<float>(rem);
        if (static_cast<double>(y) != rem || std::fabs(static_cast<double>(x) - static_cast<double>(y)) != e) continue;
        ref.push_back(x);
        other.push_back(y);
        ++made;
      }
    }
    const QuantParams q = QuantParams::per_tensor(scale, 0, DType::u8);
    const Tensor a = f32_1d(ref), b = f32_1d(other);
    expect_same_bits(measure_drift(a, b, &q), measure_drift_per_element(a, b, &q), "scale " + std::to_string(scale));
    expect_same_bits(measure_drift(b, a, &q), measure_drift_per_element(b, a, &q), "swapped, scale " + std::to_string(scale));
  }
  EXPECT_GT(made, 300);
}

TEST(DriftMeasureFastPath, ScalesWithoutThresholds) {
  // Zero and infinite scales (no valid grid has them) take the per-element form.
  std::mt19937 rng(7);
  Tensor ref, other;
  random_pair(rng, {3, 50}, {0.5f, 0.25f, 0.125f}, 0, true, &ref, &other);
  const QuantParams q = per_axis({0.5f, 0.0f, kInfF}, {0, 0, 0}, DType::u8, 0);
  expect_same_bits(measure_drift(ref, other, &q), measure_drift_per_element(ref, other, &q), "zero and inf scale");
}

TensorStats stats_per_element(const Tensor& t) {
  TensorStats s;
  s.count = t.numel();
  if (s.count == 0) return s;
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

// The population std of a code tensor in long double (64-bit mantissa, two passes).
double std_long_double(const Tensor& t) {
  const int64_t n = t.numel();
  long double sum = 0, sq = 0;
  for (int64_t i = 0; i < n; ++i) sum += static_cast<long double>(t.value_as_double(i));
  const long double mean = sum / static_cast<long double>(n);
  for (int64_t i = 0; i < n; ++i) {
    const long double dv = static_cast<long double>(t.value_as_double(i)) - mean;
    sq += dv * dv;
  }
  return static_cast<double>(std::sqrt(sq / static_cast<long double>(n)));
}

// Exact everywhere, except that the code histogram's std is the exact variance rounded once,
// where the per-element form rounds every term in double (25 ulps off at 1e5 elements): that
// one is checked against long double instead, and against the per-element form loosely.
void expect_same_stats(const TensorStats& got, const TensorStats& want, bool std_exact, const std::string& what) {
  SCOPED_TRACE(what);
  EXPECT_EQ(got.count, want.count);
  EXPECT_EQ(bits(got.avg), bits(want.avg));
  EXPECT_EQ(bits(got.min), bits(want.min));
  EXPECT_EQ(bits(got.max), bits(want.max));
  EXPECT_EQ(got.argmax, want.argmax);
  if (std_exact) {
    EXPECT_EQ(bits(got.std), bits(want.std));
  } else {
    EXPECT_NEAR(got.std, want.std, 1e-12 * want.std);
  }
  EXPECT_EQ(got.nan_count, want.nan_count);
  EXPECT_EQ(got.inf_count, want.inf_count);
}

TEST(TensorStatsTyped, ByteCodesMatchPerElement) {
  std::mt19937 rng(99);
  for (const int64_t n : {1, 2, 3, 4, 5, 7, 64, 1001, 100003}) {
    for (const int spread : {0, 1, 5, 255}) {
      std::uniform_int_distribution<int> code(0, spread);
      std::vector<uint8_t> u(static_cast<size_t>(n));
      std::vector<int8_t> s(static_cast<size_t>(n));
      const int base = std::uniform_int_distribution<int>(0, 255 - spread)(rng);
      for (int64_t i = 0; i < n; ++i) {
        const int v = base + code(rng);
        u[static_cast<size_t>(i)] = static_cast<uint8_t>(v);
        s[static_cast<size_t>(i)] = static_cast<int8_t>(v - 128);
      }
      const std::string what = "n " + std::to_string(n) + " spread " + std::to_string(spread);
      const Tensor tu = Tensor::from_vector<uint8_t>({n}, u), ts = Tensor::from_vector<int8_t>({n}, s);
      expect_same_stats(compute_stats(tu), stats_per_element(tu), false, what + " u8");
      expect_same_stats(compute_stats(ts), stats_per_element(ts), false, what + " s8");
      EXPECT_DOUBLE_EQ(compute_stats(tu).std, std_long_double(tu)) << what;
      EXPECT_DOUBLE_EQ(compute_stats(ts).std, std_long_double(ts)) << what;
    }
  }
  // Both ends of each type, the maximum first, last and repeated.
  const Tensor u = Tensor::from_vector<uint8_t>({6}, {3, 255, 0, 255, 0, 7});
  const TensorStats su = compute_stats(u);
  EXPECT_EQ(su.min, 0.0);
  EXPECT_EQ(su.max, 255.0);
  EXPECT_EQ(su.argmax, 1);
  const Tensor s8 = Tensor::from_vector<int8_t>({5}, {-128, -5, -128, -5, -100});
  const TensorStats ss = compute_stats(s8);
  EXPECT_EQ(ss.min, -128.0);
  EXPECT_EQ(ss.max, -5.0);
  EXPECT_EQ(ss.argmax, 1);
  EXPECT_DOUBLE_EQ(ss.avg, -366.0 / 5);
  const TensorStats same = compute_stats(Tensor::from_vector<int8_t>({4}, {-7, -7, -7, -7}));
  EXPECT_EQ(same.std, 0.0);
  EXPECT_EQ(same.argmax, 0);
}

TEST(TensorStatsTyped, OtherTypesMatchPerElementExactly) {
  std::mt19937 rng(5);
  std::normal_distribution<float> g(0.0f, 3.0f);
  std::vector<float> f(5000);
  for (float& v : f) v = g(rng);
  expect_same_stats(compute_stats(f32_1d(f)), stats_per_element(f32_1d(f)), true, "f32");
  f[10] = kNaNF;
  f[20] = kInfF;
  f[30] = -kInfF;
  f[40] = kNaNF;
  expect_same_stats(compute_stats(f32_1d(f)), stats_per_element(f32_1d(f)), true, "f32 nonfinite");
  for (const std::vector<float>& odd : {std::vector<float>{kNaNF, kNaNF}, std::vector<float>{kNaNF, -kInfF, kInfF, kNaNF},
                                        std::vector<float>{-0.0f, 0.0f, -0.0f}, std::vector<float>{kNaNF, 2.0f, 2.0f}}) {
    expect_same_stats(compute_stats(f32_1d(odd)), stats_per_element(f32_1d(odd)), true, "f32 odd");
  }
  const Tensor s32 = Tensor::from_vector<int32_t>({5}, {INT32_MIN, 0, INT32_MAX, 7, INT32_MAX});
  expect_same_stats(compute_stats(s32), stats_per_element(s32), true, "s32");
  const Tensor s64 = Tensor::from_vector<int64_t>({3}, {-(int64_t{1} << 60), 3, int64_t{1} << 40});
  expect_same_stats(compute_stats(s64), stats_per_element(s64), true, "s64");
  const Tensor b = Tensor::from_vector<bool>({4}, {false, true, true, false});
  expect_same_stats(compute_stats(b), stats_per_element(b), true, "bool");
  expect_same_stats(compute_stats(Tensor::zeros(DType::u8, {0})), stats_per_element(Tensor::zeros(DType::u8, {0})), true, "empty");
}

// measure_drift_real reads codes block by block (16384 elements) where run_drift used to
// dequantize whole tensors first: the same bits in every field, across block edges, per
// axis with runs that straddle blocks, two different grids, and f32 on either side.
TEST(DriftMeasureReal, SameBitsAsDequantizingFirst) {
  std::mt19937 rng(777);
  struct Case {
    Shape shape;
    QuantParams ref_q, other_q;
    DType ref_type, other_type;
  };
  const QuantParams per_t = per_axis({0.0235f}, {128}, DType::u8, 1);
  const QuantParams per_t_s8 = per_axis({0.047f}, {-3}, DType::s8, 1);
  const QuantParams per_c = per_axis({0.02f, 0.5f, 3.3e-3f}, {0, 10, 250}, DType::u8, 1);
  const QuantParams per_last = per_axis({0.1f, 0.03f, 0.07f, 0.2f, 0.011f}, {0, -1, 2, -3, 4}, DType::s8, 3);
  const std::vector<Case> cases = {
      {{1, 3, 130, 131}, per_t, per_t, DType::u8, DType::u8},          // 51090 elements: 4 blocks
      {{1, 3, 130, 131}, per_c, per_t_s8, DType::u8, DType::s8},       // channel runs of 17030 straddle blocks
      {{2, 7, 1700, 5}, per_last, per_t, DType::s8, DType::u8},        // inner 1, 119000 elements
      {{1, 3, 130, 131}, per_c, per_t, DType::u8, DType::f32},         // f32 other: read in place
      {{40000}, per_axis({0.5f}, {0}, DType::s32, 0), per_t, DType::s32, DType::u8},
  };
  for (size_t k = 0; k < cases.size(); ++k) {
    const Case& c = cases[k];
    const int64_t n = shape_numel(c.shape);
    const auto codes = [&](DType t) {
      Tensor x = Tensor::zeros(t, c.shape);
      std::uniform_int_distribution<int> u(t == DType::s8 ? -128 : 0, t == DType::s8 ? 127 : 255);
      std::uniform_real_distribution<float> f(-3.f, 3.f);
      for (int64_t i = 0; i < n; ++i) {
        if (t == DType::u8) x.data<uint8_t>()[i] = static_cast<uint8_t>(u(rng));
        if (t == DType::s8) x.data<int8_t>()[i] = static_cast<int8_t>(u(rng));
        if (t == DType::s32) x.data<int32_t>()[i] = u(rng) * 37 - 4000;
        if (t == DType::f32) x.data<float>()[i] = i % 997 == 0 ? kNaNF : f(rng);
      }
      return x;
    };
    const Tensor a = codes(c.ref_type), b = codes(c.other_type);
    const QuantParams* qb = c.other_type == DType::f32 ? nullptr : &c.other_q;
    const Tensor ra = real_values(a, &c.ref_q), rb = real_values(b, qb);
    const std::string what = "case " + std::to_string(k);
    expect_same_bits(measure_drift_real(a, &c.ref_q, b, qb, &c.ref_q), measure_drift(ra, rb, &c.ref_q), what);
    expect_same_bits(measure_drift_real(a, &c.ref_q, b, qb, nullptr), measure_drift(ra, rb, nullptr), what + " no grid");
    expect_same_bits(measure_drift_real(b, qb, a, &c.ref_q, qb), measure_drift(rb, ra, qb), what + " swapped");
  }
}

}  // namespace
}  // namespace qdrift::test
