// Drift measures per pair (diff/measure.h): closed-form cases worked out by hand. Values
// are chosen on binary grids (scales 0.25, 0.125, 0.5) so every difference is exact in f32
// and the expected numbers are written out, never computed by qdrift.
#include <climits>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include <gtest/gtest.h>

#include "diff/measure.h"

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

}  // namespace
}  // namespace qdrift::test
