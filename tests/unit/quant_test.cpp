// Reference QuantizeLinear / DequantizeLinear: closed-form cases worked out by hand, plus
// ONNX's own node tests. Each expected value is written out, never computed by qdrift.
#include <climits>
#include <cmath>
#include <limits>

#include <gtest/gtest.h>

#include "core/quant_math.h"
#include "tests/unit/lowered_graph_builder.h"
#include "tests/unit/ref_test_helpers.h"

namespace qdrift::test {
namespace {

Tensor f32(Shape s, std::vector<float> v) { return Tensor::from_vector<float>(std::move(s), v); }
Tensor f32_1d(const std::vector<float>& v) { return f32({static_cast<int64_t>(v.size())}, v); }

NodeCase quantize(Tensor x, Tensor scale, std::optional<Tensor> zp = std::nullopt, int64_t opset = 13) {
  NodeCase c;
  c.kind = OpKind::QuantizeLinear;
  c.opset = opset;
  c.inputs = {std::move(x), std::move(scale)};
  if (zp) c.inputs.push_back(std::move(*zp));
  return c;
}

NodeCase dequantize(Tensor x, Tensor scale, std::optional<Tensor> zp = std::nullopt, int64_t opset = 13) {
  NodeCase c = quantize(std::move(x), std::move(scale), std::move(zp), opset);
  c.kind = OpKind::DequantizeLinear;
  return c;
}

template <typename T>
std::vector<T> run_ok(const NodeCase& c) {
  auto out = run_node(c);
  EXPECT_TRUE(out) << out.status().message();
  if (!out) return {};
  EXPECT_EQ((*out)[0].dtype, dtype_of<T>);
  if ((*out)[0].dtype != dtype_of<T>) return {};
  return values_of<T>((*out)[0]);
}

// The run fails with invalid_input and a message containing every `parts` entry.
void expect_invalid(const NodeCase& c, std::vector<std::string> parts) {
  auto out = run_node(c);
  ASSERT_FALSE(out);
  EXPECT_EQ(out.status().code(), StatusCode::invalid_input) << out.status().message();
  for (const auto& p : parts) EXPECT_NE(out.status().message().find(p), std::string::npos) << out.status().message();
}

// ---- rounding ------------------------------------------------------------------------

TEST(QuantizeLinear, TiesRoundHalfToEvenByDefault) {
  auto c = quantize(f32_1d({0.5f, 1.5f, 2.5f, -2.5f, -0.5f, 3.5f}), Tensor::scalar<float>(1.0f),
                    Tensor::scalar<int8_t>(0));
  EXPECT_EQ(run_ok<int8_t>(c), (std::vector<int8_t>{0, 2, 2, -2, 0, 4}));
}

TEST(QuantizeLinear, TiesRoundHalfAwayWithTrainerOption) {
  auto c = quantize(f32_1d({0.5f, 1.5f, 2.5f, -2.5f, -0.5f, 3.5f}), Tensor::scalar<float>(1.0f),
                    Tensor::scalar<int8_t>(0));
  c.options.fake_quant.rounding = Rounding::half_away;
  EXPECT_EQ(run_ok<int8_t>(c), (std::vector<int8_t>{1, 2, 3, -3, -1, 4}));
}

TEST(QuantizeLinear, TiesAfterDivisionByScale) {
  // x / 0.5 = 1, 3, 5, -5 (ties at half steps of 0.25): half-even 0, 2, 2, -2.
  auto c = quantize(f32_1d({0.25f, 0.75f, 1.25f, -1.25f}), Tensor::scalar<float>(0.5f), Tensor::scalar<uint8_t>(10));
  EXPECT_EQ(run_ok<uint8_t>(c), (std::vector<uint8_t>{10, 12, 12, 8}));
  c.options.fake_quant.rounding = Rounding::half_away;
  EXPECT_EQ(run_ok<uint8_t>(c), (std::vector<uint8_t>{11, 12, 13, 7}));
}

TEST(QuantizeLinear, ZeroPointIsAddedAfterRounding) {
  // round(2.5) + 1 = 3 (not round(3.5) = 4): ONNX adds the zero point to the rounded value.
  auto c = quantize(f32_1d({2.5f}), Tensor::scalar<float>(1.0f), Tensor::scalar<uint8_t>(1));
  EXPECT_EQ(run_ok<uint8_t>(c), (std::vector<uint8_t>{3}));
}

// ---- saturation ----------------------------------------------------------------------

TEST(QuantizeLinear, SaturatesU8AtBothEnds) {
  auto c = quantize(f32_1d({-1.0f, -0.4f, 0.0f, 254.6f, 255.0f, 256.0f, 1e9f, -1e9f}), Tensor::scalar<float>(1.0f),
                    Tensor::scalar<uint8_t>(0));
  EXPECT_EQ(run_ok<uint8_t>(c), (std::vector<uint8_t>{0, 0, 0, 255, 255, 255, 255, 0}));
}

TEST(QuantizeLinear, SaturatesU8WithZeroPoint) {
  // scale 2, zp 128: -300 -> -150 + 128 = -22 -> 0; 300 -> 150 + 128 = 278 -> 255; -256 -> 0.
  auto c = quantize(f32_1d({-300.0f, 300.0f, -256.0f, -254.0f, 254.0f}), Tensor::scalar<float>(2.0f),
                    Tensor::scalar<uint8_t>(128));
  EXPECT_EQ(run_ok<uint8_t>(c), (std::vector<uint8_t>{0, 255, 0, 1, 255}));
}

TEST(QuantizeLinear, SaturatesS8AtBothEnds) {
  auto c = quantize(f32_1d({-129.0f, -128.0f, -128.6f, 127.0f, 127.4f, 128.0f, 1e30f, -1e30f}),
                    Tensor::scalar<float>(1.0f), Tensor::scalar<int8_t>(0));
  EXPECT_EQ(run_ok<int8_t>(c), (std::vector<int8_t>{-128, -128, -128, 127, 127, 127, 127, -128}));
}

TEST(QuantizeLinear, InfinitiesSaturateAndNanMapsToZeroPoint) {
  const float inf = std::numeric_limits<float>::infinity();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  auto c = quantize(f32_1d({inf, -inf, nan}), Tensor::scalar<float>(0.1f), Tensor::scalar<int8_t>(-3));
  EXPECT_EQ(run_ok<int8_t>(c), (std::vector<int8_t>{127, -128, -3}));
}

TEST(QuantizeLinear, WithoutZeroPointProducesU8) {
  auto c = quantize(f32_1d({-1.0f, 1.5f, 300.0f}), Tensor::scalar<float>(1.0f));
  EXPECT_EQ(run_ok<uint8_t>(c), (std::vector<uint8_t>{0, 2, 255}));
}

TEST(QuantizeLinear, AcceptsInt32Input) {
  // QuantizeLinear-10/13 take int32 x: 7 / 2 = 3.5 -> 4, -7 / 2 = -3.5 -> -4.
  auto c = quantize(Tensor::from_vector<int32_t>({3}, {7, -7, 1000}), Tensor::scalar<float>(2.0f),
                    Tensor::scalar<int8_t>(0));
  EXPECT_EQ(run_ok<int8_t>(c), (std::vector<int8_t>{4, -4, 127}));
}

// ---- narrow range (trainer fake-quant) -----------------------------------------------

TEST(QuantizeLinear, NarrowRangeNeverProducesMinus128) {
  auto c = quantize(f32_1d({-200.0f, -128.0f, -127.5f, -127.0f, 0.0f, 127.0f, 300.0f}), Tensor::scalar<float>(1.0f),
                    Tensor::scalar<int8_t>(0));
  EXPECT_EQ(run_ok<int8_t>(c), (std::vector<int8_t>{-128, -128, -128, -127, 0, 127, 127}));
  c.options.fake_quant.range = QuantRange::narrow;
  const auto narrow = run_ok<int8_t>(c);
  EXPECT_EQ(narrow, (std::vector<int8_t>{-127, -127, -127, -127, 0, 127, 127}));
  for (int8_t q : narrow) EXPECT_NE(q, -128);
}

TEST(QuantizeLinear, NarrowRangeU8StartsAtOne) {
  auto c = quantize(f32_1d({-5.0f, 0.0f, 0.4f, 1.0f, 256.0f}), Tensor::scalar<float>(1.0f),
                    Tensor::scalar<uint8_t>(0));
  c.options.fake_quant.range = QuantRange::narrow;
  EXPECT_EQ(run_ok<uint8_t>(c), (std::vector<uint8_t>{1, 1, 1, 1, 255}));
}

TEST(QuantizeLinear, NarrowRangeWithHalfAway) {
  // Both trainer knobs at once: -126.5 -> -127 (away), -127.5 -> -128 -> saturates to -127.
  auto c = quantize(f32_1d({-126.5f, -127.5f, 0.5f}), Tensor::scalar<float>(1.0f), Tensor::scalar<int8_t>(0));
  c.options.fake_quant.range = QuantRange::narrow;
  c.options.fake_quant.rounding = Rounding::half_away;
  EXPECT_EQ(run_ok<int8_t>(c), (std::vector<int8_t>{-127, -127, 1}));
}

TEST(DequantizeLinear, IgnoresTrainerOptions) {
  auto c = dequantize(Tensor::from_vector<int8_t>({2}, {-128, 127}), Tensor::scalar<float>(1.0f),
                      Tensor::scalar<int8_t>(0));
  c.options.fake_quant.range = QuantRange::narrow;
  EXPECT_EQ(run_ok<float>(c), (std::vector<float>{-128.0f, 127.0f}));
}

// ---- per axis ------------------------------------------------------------------------

// x is [2,3,2] (n, c, k); per channel c: scale {1, 0.5, 2}.
const std::vector<float> kAxisX = {1, -1, 1, -1, 3, -5, 2.4f, 3, 0.25f, 100, 400, -300};

TEST(QuantizeLinear, PerAxisU8DistinctScalesAndZeroPoints) {
  // c0: s 1 zp 0: 1, -1->0 | 2.4->2, 3.   c1: s .5 zp 10: 2+10, -2+10 | .5->0 +10, 200+10.
  // c2: s 2 zp 100: 1.5->2 +100, -2.5->-2 +100 | 200+100 -> 255, -150+100 -> 0.
  auto c = quantize(f32({2, 3, 2}, kAxisX), f32_1d({1.0f, 0.5f, 2.0f}),
                    Tensor::from_vector<uint8_t>({3}, {0, 10, 100}));
  const std::vector<uint8_t> want = {1, 0, 12, 8, 102, 98, 2, 3, 10, 210, 255, 0};
  EXPECT_EQ(run_ok<uint8_t>(c), want);  // axis defaults to 1
  c.attrs["axis"] = int64_t{-2};
  EXPECT_EQ(run_ok<uint8_t>(c), want);
}

TEST(QuantizeLinear, PerAxisS8) {
  // zp {-10, 0, 5}: c0: -9, -11 | -8, -7; c1: 2, -2 | 0, 200 -> 127; c2: 7, 3 | 205 -> 127, -145 -> -128.
  auto c = quantize(f32({2, 3, 2}, kAxisX), f32_1d({1.0f, 0.5f, 2.0f}), Tensor::from_vector<int8_t>({3}, {-10, 0, 5}));
  EXPECT_EQ(run_ok<int8_t>(c), (std::vector<int8_t>{-9, -11, 2, -2, 7, 3, -8, -7, 0, 127, 127, -128}));
}

TEST(QuantizeLinear, PerAxisOnLastAndFirstAxis) {
  // axis 2 (k): scales {1, 4}. x/s: 1,-.25->0 | 1,-.25 | 3,-1.25->-1 | 2.4->2,.75->1 | .25->0,25 | 400->127,-75.
  auto c = quantize(f32({2, 3, 2}, kAxisX), f32_1d({1.0f, 4.0f}), Tensor::from_vector<int8_t>({2}, {0, 0}));
  c.attrs["axis"] = int64_t{2};
  EXPECT_EQ(run_ok<int8_t>(c), (std::vector<int8_t>{1, 0, 1, 0, 3, -1, 2, 1, 0, 25, 127, -75}));
  // axis 0 (n): scales {1, 10}: first half as is (rounded), second half / 10.
  c.inputs[1] = f32_1d({1.0f, 10.0f});
  c.attrs["axis"] = int64_t{0};
  EXPECT_EQ(run_ok<int8_t>(c), (std::vector<int8_t>{1, -1, 1, -1, 3, -5, 0, 0, 0, 10, 40, -30}));
}

TEST(DequantizeLinear, PerAxisInverse) {
  auto c = dequantize(Tensor::from_vector<uint8_t>({2, 3, 2}, {1, 0, 12, 8, 102, 98, 2, 3, 10, 210, 255, 0}),
                      f32_1d({1.0f, 0.5f, 2.0f}), Tensor::from_vector<uint8_t>({3}, {0, 10, 100}));
  EXPECT_EQ(run_ok<float>(c), (std::vector<float>{1, 0, 1, -1, 4, -4, 2, 3, 0, 100, 310, -200}));
}

// The same cases through core/quant_math.h's tensor helpers, which the passes (strip_qdq,
// lowering) use to fold constants: they must give the kernels' codes exactly.
const auto params = &testing_util::per_channel;  // (scales, zero points, type, axis)

TEST(QuantTensorHelpers, PerAxisMatchesTheHandWorkedKernelCases) {
  const Tensor x = f32({2, 3, 2}, kAxisX);
  const QuantGrid u8 = quant_grid(DType::u8, QuantRange::full), s8 = quant_grid(DType::s8, QuantRange::full);
  for (int axis : {1, -2}) {
    const QuantParams q = params({1.0f, 0.5f, 2.0f}, {0, 10, 100}, DType::u8, axis);
    const Tensor codes = quantize_tensor(x, q, u8, Rounding::half_even);
    EXPECT_EQ(values_of<uint8_t>(codes), (std::vector<uint8_t>{1, 0, 12, 8, 102, 98, 2, 3, 10, 210, 255, 0}));
    EXPECT_EQ(values_of<float>(dequantize_tensor(codes, q)),
              (std::vector<float>{1, 0, 1, -1, 4, -4, 2, 3, 0, 100, 310, -200}));
  }
  EXPECT_EQ(values_of<int8_t>(quantize_tensor(x, params({1.0f, 4.0f}, {0, 0}, DType::s8, 2), s8, Rounding::half_even)),
            (std::vector<int8_t>{1, 0, 1, 0, 3, -1, 2, 1, 0, 25, 127, -75}));
  EXPECT_EQ(values_of<int8_t>(quantize_tensor(x, params({1.0f, 10.0f}, {0, 0}, DType::s8, 0), s8, Rounding::half_even)),
            (std::vector<int8_t>{1, -1, 1, -1, 3, -5, 0, 0, 0, 10, 40, -30}));
}

TEST(QuantTensorHelpers, ParamsFitOnlyTheirAxis) {
  const Shape x{2, 3, 2};
  EXPECT_TRUE(quant_params_fit(x, params({1, 2, 3}, {0, 0, 0}, DType::u8, 1)));
  EXPECT_TRUE(quant_params_fit(x, params({1, 2, 3}, {0, 0, 0}, DType::u8, -2)));
  EXPECT_FALSE(quant_params_fit(x, params({1, 2, 3}, {0, 0, 0}, DType::u8, 0)));   // dim 2, not 3
  EXPECT_FALSE(quant_params_fit(x, params({1, 2, 3}, {0, 0, 0}, DType::u8, 3)));   // past the rank
  EXPECT_FALSE(quant_params_fit(x, params({1, 2, 3}, {0, 0, 0}, DType::u8, -4)));
  EXPECT_FALSE(quant_params_fit(x, params({1, 2, 3}, {0, 0}, DType::u8, 1)));      // zero points short
  EXPECT_TRUE(quant_params_fit(Shape{}, params({0.5f}, {3}, DType::u8, 7)));       // per tensor: any axis
}

TEST(QuantTensorHelpers, TiesNanRangeAndInt64ZeroPointSubtraction) {
  const QuantParams q = params({1.0f}, {0}, DType::s8, 1);
  const Tensor x = f32_1d({0.5f, 1.5f, 2.5f, -2.5f, -128.5f, std::numeric_limits<float>::quiet_NaN()});
  EXPECT_EQ(values_of<int8_t>(quantize_tensor(x, q, quant_grid(DType::s8, QuantRange::full), Rounding::half_even)),
            (std::vector<int8_t>{0, 2, 2, -2, -128, 0}));
  EXPECT_EQ(values_of<int8_t>(quantize_tensor(x, q, quant_grid(DType::s8, QuantRange::narrow), Rounding::half_away)),
            (std::vector<int8_t>{1, 2, 3, -3, -127, 0}));
  // s32 far from its zero point: 2147483647 - (-2) = 2^31 + 1 overflows int32 (UBSan in
  // fuzzing); in int64 it is exact and rounds to the f32 2^31.
  const Tensor big = Tensor::from_vector<int32_t>({2}, {INT32_MAX, -5});
  EXPECT_EQ(values_of<float>(dequantize_tensor(big, params({1.0f}, {-2}, DType::s32, 1))),
            (std::vector<float>{2147483648.0f, -3.0f}));
}

// ---- opset 10 vs 13 ------------------------------------------------------------------

TEST(QuantizeLinear, Opset10TakesScalarsOnly) {
  auto ok = quantize(f32_1d({1.0f, 2.5f}), Tensor::scalar<float>(1.0f), Tensor::scalar<uint8_t>(0), 10);
  EXPECT_EQ(run_ok<uint8_t>(ok), (std::vector<uint8_t>{1, 2}));
  auto per_axis = quantize(f32({1, 2}, {1.0f, 2.0f}), f32_1d({1.0f, 2.0f}),
                           Tensor::from_vector<uint8_t>({2}, {0, 0}), 10);
  expect_invalid(per_axis, {"node 'node'", "in1", "opset 10"});
  // The same per-axis case is valid in opset 13.
  per_axis.opset = 13;
  EXPECT_EQ(run_ok<uint8_t>(per_axis), (std::vector<uint8_t>{1, 1}));
}

TEST(DequantizeLinear, Opset10TakesScalarsOnly) {
  auto c = dequantize(Tensor::from_vector<uint8_t>({1, 2}, {1, 2}), f32_1d({1.0f, 2.0f}),
                      Tensor::from_vector<uint8_t>({2}, {0, 0}), 10);
  expect_invalid(c, {"in1", "opset 10"});
  c.opset = 13;
  EXPECT_EQ(run_ok<float>(c), (std::vector<float>{1.0f, 4.0f}));
}

// ---- DequantizeLinear ----------------------------------------------------------------

TEST(DequantizeLinear, U8AndS8WithZeroPoint) {
  auto u = dequantize(Tensor::from_vector<uint8_t>({4}, {0, 3, 128, 255}), Tensor::scalar<float>(2.0f),
                      Tensor::scalar<uint8_t>(128));
  EXPECT_EQ(run_ok<float>(u), (std::vector<float>{-256, -250, 0, 254}));
  auto s = dequantize(Tensor::from_vector<int8_t>({3}, {-128, 0, 127}), Tensor::scalar<float>(0.5f),
                      Tensor::scalar<int8_t>(-1));
  EXPECT_EQ(run_ok<float>(s), (std::vector<float>{-63.5f, 0.5f, 64.0f}));
  auto no_zp = dequantize(Tensor::from_vector<int8_t>({2}, {-4, 4}), Tensor::scalar<float>(0.25f));
  EXPECT_EQ(run_ok<float>(no_zp), (std::vector<float>{-1.0f, 1.0f}));
}

TEST(DequantizeLinear, Int32BiasPerTensorAndPerChannel) {
  auto c = dequantize(Tensor::from_vector<int32_t>({3}, {-1000, 0, 123456}), Tensor::scalar<float>(0.25f));
  EXPECT_EQ(run_ok<float>(c), (std::vector<float>{-250.0f, 0.0f, 30864.0f}));
  auto zp0 = dequantize(Tensor::from_vector<int32_t>({3}, {3, -4, 5}), f32_1d({0.5f, 0.25f, 2.0f}),
                        Tensor::from_vector<int32_t>({3}, {0, 0, 0}));
  zp0.attrs["axis"] = int64_t{0};
  EXPECT_EQ(run_ok<float>(zp0), (std::vector<float>{1.5f, -1.0f, 10.0f}));
}

TEST(DequantizeLinear, Int32RejectsNonZeroZeroPoint) {
  auto c = dequantize(Tensor::from_vector<int32_t>({2}, {1, 2}), Tensor::scalar<float>(1.0f),
                      Tensor::scalar<int32_t>(5));
  expect_invalid(c, {"in2", "zero point 0"});
}

// ---- validation ----------------------------------------------------------------------

TEST(QuantizeLinear, RejectsBadScales) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  for (float s : {0.0f, -1.0f, nan, inf}) {
    SCOPED_TRACE(s);
    expect_invalid(quantize(f32_1d({1.0f}), Tensor::scalar<float>(s), Tensor::scalar<uint8_t>(0)),
                   {"node 'node'", "scale 'in1'", "positive and finite"});
    expect_invalid(dequantize(Tensor::from_vector<uint8_t>({1}, {1}), Tensor::scalar<float>(s)), {"scale 'in1'"});
  }
  // One bad channel among good ones is named by its index.
  expect_invalid(quantize(f32({1, 2}, {1, 2}), f32_1d({1.0f, 0.0f}), Tensor::from_vector<uint8_t>({2}, {0, 0})),
                 {"index 1"});
}

TEST(QuantizeLinear, RejectsScaleCountNotMatchingAxis) {
  auto c = quantize(f32({2, 3}, {1, 2, 3, 4, 5, 6}), f32_1d({1.0f, 2.0f}), Tensor::from_vector<uint8_t>({2}, {0, 0}));
  expect_invalid(c, {"scale 'in1'", "2 values", "axis 1"});
  c.attrs["axis"] = int64_t{0};  // dim 0 is 2: valid
  EXPECT_EQ(run_ok<uint8_t>(c), (std::vector<uint8_t>{1, 2, 3, 2, 2, 3}));
  c.attrs["axis"] = int64_t{2};
  expect_invalid(c, {"axis 2 is out of range"});
  expect_invalid(quantize(f32({2, 2}, {1, 2, 3, 4}), f32({2, 1}, {1, 1})), {"scale 'in1'", "scalar or 1-D"});
}

TEST(QuantizeLinear, RejectsBadZeroPoints) {
  // Count differs from the scale's.
  expect_invalid(quantize(f32({1, 2}, {1, 2}), f32_1d({1.0f, 1.0f}), Tensor::from_vector<uint8_t>({3}, {0, 0, 0})),
                 {"zero point 'in2'", "must match"});
  // Per-tensor scale with a per-axis zero point.
  expect_invalid(quantize(f32({1, 2}, {1, 2}), Tensor::scalar<float>(1.0f), Tensor::from_vector<uint8_t>({2}, {0, 0})),
                 {"zero point 'in2'"});
  // Wrong zero point types.
  expect_invalid(quantize(f32_1d({1.0f}), Tensor::scalar<float>(1.0f), Tensor::scalar<float>(0.0f)),
                 {"zero point 'in2'", "f32"});
  expect_invalid(quantize(f32_1d({1.0f}), Tensor::scalar<float>(1.0f), Tensor::scalar<int32_t>(0)),
                 {"zero point 'in2'", "u8 or s8"});
  expect_invalid(dequantize(Tensor::from_vector<uint8_t>({1}, {1}), Tensor::scalar<float>(1.0f),
                            Tensor::scalar<int8_t>(0)),
                 {"zero point 'in2'", "must match"});
}

TEST(QuantizeLinear, RejectsBadInputTypes) {
  expect_invalid(quantize(Tensor::from_vector<uint8_t>({1}, {1}), Tensor::scalar<float>(1.0f)), {"in0", "u8"});
  expect_invalid(dequantize(f32_1d({1.0f}), Tensor::scalar<float>(1.0f)), {"in0", "f32"});
  expect_invalid(quantize(f32_1d({1.0f}), Tensor::scalar<int32_t>(1)), {"scale 'in1'", "f32"});
}

TEST(QuantizeLinear, ScaleAndZeroPointAsInitializers) {
  auto c = quantize(f32_1d({0.5f, 1.5f}), Tensor::scalar<float>(1.0f), Tensor::scalar<int8_t>(0));
  c.inputs_as_initializers = true;
  EXPECT_EQ(run_ok<int8_t>(c), (std::vector<int8_t>{0, 2}));
}

// ---- ONNX node tests -----------------------------------------------------------------

class OnnxQuantNodeTest : public ::testing::TestWithParam<std::string> {};

TEST_P(OnnxQuantNodeTest, MatchesExpectedOutputs) { EXPECT_TRUE(run_onnx_node_test(GetParam())); }

INSTANTIATE_TEST_SUITE_P(Onnx, OnnxQuantNodeTest,
                         ::testing::ValuesIn(list_node_tests(kOnnxNodeTests, {"test_quantizelinear", "test_dequantizelinear"})),
                         [](const auto& info) { return info.param; });

TEST(OnnxQuantNodeTests, AllFound) {
  // Guard against an empty selection silently passing (missing libonnx-testdata).
  EXPECT_EQ(list_node_tests(kOnnxNodeTests, {"test_quantizelinear", "test_dequantizelinear"}).size(), 4u);
}

}  // namespace
}  // namespace qdrift::test
