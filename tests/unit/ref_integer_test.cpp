// Reference kernels of kernels/ref/integer.cpp. Expected values are worked out by hand
// (in the comments: centred inputs, int32 sums, multipliers, rounding half to even,
// saturation) or come from ONNX's own node tests.
#include <cctype>
#include <cstdint>
#include <random>

#include <gtest/gtest.h>

#include "tests/unit/ref_test_helpers.h"

namespace qdrift::test {
namespace {

constexpr int64_t kOpset = 17;  // the opset these cases are written for
using Ints = std::vector<int64_t>;
using U8 = std::vector<uint8_t>;
using S8 = std::vector<int8_t>;
using S32 = std::vector<int32_t>;
using Floats = std::vector<float>;

Tensor f32(float v) { return Tensor::scalar<float>(v); }
Tensor u8(uint8_t v) { return Tensor::scalar<uint8_t>(v); }
Tensor s8(int8_t v) { return Tensor::scalar<int8_t>(v); }

// Runs a one-output node and returns its output (failing the test on error).
Tensor run_ok(const NodeCase& c) {
  auto out = run_node(c);
  EXPECT_TRUE(out) << out.status().message();
  return out ? (*out)[0] : Tensor{};
}

// The status of a node that must fail.
Status fail_status(const NodeCase& c) {
  auto out = run_node(c);
  EXPECT_FALSE(out) << "expected an error";
  return out ? Status::ok() : out.status();
}

bool mentions(const Status& s, const std::string& needle) { return s.message().find(needle) != std::string::npos; }

// ---- requantization through QLinearMatMul -----------------------------------------------

TEST(RefQLinearMatMul, TiesRoundHalfToEven) {
  // acc = [1 3 5 -1 -3], multiplier (1 * 0.5) / 1 = 0.5 -> [0.5 1.5 2.5 -0.5 -1.5]
  // -> [0 2 2 0 -2].
  NodeCase c{OpKind::QLinearMatMul, kOpset};
  c.inputs = {make<int8_t>({1, 1}, {1}), f32(1.0f), s8(0), make<int8_t>({1, 5}, {1, 3, 5, -1, -3}),
              f32(0.5f), s8(0), f32(1.0f), s8(0)};
  const Tensor y = run_ok(c);
  EXPECT_EQ(y.dtype, DType::s8);
  EXPECT_EQ(values_of<int8_t>(y), (S8{0, 2, 2, 0, -2}));
}

TEST(RefQLinearMatMul, SaturatesToTheOutputType) {
  // u8: acc [400 0] + zp 10 -> [255 10].
  NodeCase c{OpKind::QLinearMatMul, kOpset};
  c.inputs = {make<uint8_t>({1, 1}, {200}), f32(1.0f), u8(0), make<uint8_t>({1, 2}, {2, 0}), f32(1.0f), u8(0),
              f32(1.0f), u8(10)};
  EXPECT_EQ(values_of<uint8_t>(run_ok(c)), (U8{255, 10}));
  // s8: acc [200 -200] -> [127 -128].
  c.inputs = {make<int8_t>({1, 1}, {100}), f32(1.0f), s8(0), make<int8_t>({1, 2}, {2, -2}), f32(1.0f), s8(0),
              f32(1.0f), s8(0)};
  EXPECT_EQ(values_of<int8_t>(run_ok(c)), (S8{127, -128}));
}

TEST(RefQLinearMatMul, ZeroPointsPerRowAndPerColumnScales) {
  // a - 128 = [[2 0] [-1 1]]; b - [1 0] per column = [[0 2] [2 4]].
  // acc = [[0 4] [2 2]]; multiplier a_scale[m] * b_scale[n] = [[1 .25] [2 .5]];
  // y = acc * mult + 100 = [[100 101] [104 101]].
  NodeCase c{OpKind::QLinearMatMul, kOpset};
  c.inputs = {make<uint8_t>({2, 2}, {130, 128, 127, 129}), make<float>({2}, {1.0f, 2.0f}), u8(128),
              make<int8_t>({2, 2}, {1, 2, 3, 4}), make<float>({2}, {1.0f, 0.25f}), make<int8_t>({2}, {1, 0}),
              f32(1.0f), u8(100)};
  const Tensor y = run_ok(c);
  EXPECT_EQ(y.shape, (Shape{2, 2}));
  EXPECT_EQ(values_of<uint8_t>(y), (U8{100, 101, 104, 101}));
}

TEST(RefQLinearMatMul, RejectsBadParameters) {
  NodeCase c{OpKind::QLinearMatMul, kOpset};
  c.inputs = {make<uint8_t>({2, 2}, {1, 2, 3, 4}), f32(0.0f), u8(0), make<uint8_t>({2, 2}, {1, 2, 3, 4}),
              f32(1.0f), u8(0), f32(1.0f), u8(0)};
  Status s = fail_status(c);
  EXPECT_TRUE(mentions(s, "'a_scale'")) << s.message();
  EXPECT_TRUE(mentions(s, "node 'node' (QLinearMatMul)")) << s.message();
  c.inputs[1] = f32(1.0f);
  c.inputs[2] = s8(0);  // zero point type differs from a's
  s = fail_status(c);
  EXPECT_TRUE(mentions(s, "'a_zero_point'")) << s.message();
  c.inputs[2] = u8(0);
  c.inputs[4] = make<float>({3}, {1, 1, 1});  // neither per tensor nor per column (N = 2)
  s = fail_status(c);
  EXPECT_TRUE(mentions(s, "'b_scale'")) << s.message();
  c.inputs[4] = f32(1.0f);
  c.inputs[0] = make<float>({2, 2}, {1, 2, 3, 4});
  s = fail_status(c);
  EXPECT_EQ(s.code(), StatusCode::unsupported);
  EXPECT_TRUE(mentions(s, "'a'")) << s.message();
}

// ---- MatMulInteger ------------------------------------------------------------------------

TEST(RefMatMulInteger, PerRowAndPerColumnZeroPoints) {
  // A - [1 4] per row = [[0 1 2] [0 1 2]]; B - [0 1] per column: col0 [1 2 3], col1 [-2 -1 0].
  // y = [[8 -1] [8 -1]].
  NodeCase c{OpKind::MatMulInteger, kOpset};
  c.inputs = {make<uint8_t>({2, 3}, {1, 2, 3, 4, 5, 6}), make<int8_t>({3, 2}, {1, -1, 2, 0, 3, 1}),
              make<uint8_t>({2}, {1, 4}), make<int8_t>({2}, {0, 1})};
  const Tensor y = run_ok(c);
  EXPECT_EQ(y.dtype, DType::s32);
  EXPECT_EQ(values_of<int32_t>(y), (S32{8, -1, 8, -1}));
  // The N-D zero point forms: a_zp [1, 2, 1] for A [1, 2, 3], b_zp [1, 2] for B [3, 2].
  c.inputs = {make<uint8_t>({1, 2, 3}, {1, 2, 3, 4, 5, 6}), make<int8_t>({3, 2}, {1, -1, 2, 0, 3, 1}),
              make<uint8_t>({1, 2, 1}, {1, 4}), make<int8_t>({1, 2}, {0, 1})};
  const Tensor y3 = run_ok(c);
  EXPECT_EQ(y3.shape, (Shape{1, 2, 2}));
  EXPECT_EQ(values_of<int32_t>(y3), (S32{8, -1, 8, -1}));
  // Without zero points: plain products, u8 x u8.
  c.inputs = {make<uint8_t>({1, 2}, {255, 255}), make<uint8_t>({2, 1}, {255, 1})};
  EXPECT_EQ(values_of<int32_t>(run_ok(c)), (S32{65280}));
}

TEST(RefMatMulInteger, AccumulatesInInt32WithWrapAround) {
  // 40000 * 255 * 255 = 2601000000 does not fit int32: ONNX's int32 sum wraps to
  // 2601000000 - 2^32 = -1693967296.
  const int64_t k = 40000;
  NodeCase c{OpKind::MatMulInteger, kOpset};
  c.inputs = {make<uint8_t>({1, k}, U8(static_cast<size_t>(k), 255)),
              make<uint8_t>({k, 1}, U8(static_cast<size_t>(k), 255))};
  EXPECT_EQ(values_of<int32_t>(run_ok(c)), (S32{-1693967296}));
}

TEST(RefMatMulInteger, RejectsBadZeroPoints) {
  NodeCase c{OpKind::MatMulInteger, kOpset};
  c.inputs = {make<uint8_t>({2, 3}, {1, 2, 3, 4, 5, 6}), make<int8_t>({3, 2}, {1, -1, 2, 0, 3, 1}),
              make<uint8_t>({3}, {1, 1, 1})};
  Status s = fail_status(c);
  EXPECT_TRUE(mentions(s, "'a_zero_point'")) << s.message();
  c.inputs[2] = make<int8_t>({2}, {1, 1});
  s = fail_status(c);
  EXPECT_TRUE(mentions(s, "'a_zero_point'")) << s.message();
  c.inputs[2] = std::nullopt;
  c.inputs.push_back(make<int8_t>({2, 2}, {0, 0, 0, 0}));  // varies along K
  s = fail_status(c);
  EXPECT_TRUE(mentions(s, "'b_zero_point'")) << s.message();
}

// ---- ConvInteger --------------------------------------------------------------------------

TEST(RefConvInteger, PaddingHoldsTheZeroPoint) {
  // x = 2 everywhere, x_zp 1 -> centred 1; 3x3 ones kernel, pads 1: each output counts the
  // input pixels of its window (padding is x_zp, contributing 0).
  NodeCase c{OpKind::ConvInteger, kOpset};
  c.inputs = {make<uint8_t>({1, 1, 3, 3}, U8(9, 2)), make<uint8_t>({1, 1, 3, 3}, U8(9, 1)), u8(1)};
  c.attrs = {{"pads", Ints{1, 1, 1, 1}}};
  const Tensor y = run_ok(c);
  EXPECT_EQ(y.dtype, DType::s32);
  EXPECT_EQ(values_of<int32_t>(y), (S32{4, 6, 4, 6, 9, 6, 4, 6, 4}));
}

TEST(RefConvInteger, PerChannelWeightZeroPointAndInt8Extremes) {
  // w - [5 6] = [0 1]: m0 = 0, m1 = x.
  NodeCase c{OpKind::ConvInteger, kOpset};
  c.inputs = {make<uint8_t>({1, 1, 1, 2}, {3, 9}), make<uint8_t>({2, 1, 1, 1}, {5, 7}), std::nullopt,
              make<uint8_t>({2}, {5, 6})};
  EXPECT_EQ(values_of<int32_t>(run_ok(c)), (S32{0, 0, 3, 9}));
  // s8 x s8: -128 * -128 = 16384, 127 * -128 = -16256.
  c.inputs = {make<int8_t>({1, 1, 1, 2}, {-128, 127}), make<int8_t>({1, 1, 1, 1}, {-128})};
  EXPECT_EQ(values_of<int32_t>(run_ok(c)), (S32{16384, -16256}));
  c.inputs = {make<int8_t>({1, 1, 1, 2}, {-128, 127}), make<int8_t>({1, 1, 1, 1}, {-128}), u8(0)};
  EXPECT_TRUE(mentions(fail_status(c), "'x_zero_point'"));
  c.inputs = {make<int8_t>({1, 2, 1, 2}, {1, 2, 3, 4}), make<int8_t>({1, 1, 1, 1}, {1})};
  EXPECT_TRUE(mentions(fail_status(c), "dim 1 must be C/group"));
}

// Random geometries with u8/s8 data, x_zp and per-channel w_zp against a naive int64
// loop (exact: no sum here leaves int32).
TEST(RefConvInteger, RandomGeometriesMatchNaiveLoops) {
  std::mt19937 rng(17);
  auto pick = [&](int lo, int hi) { return static_cast<int64_t>(std::uniform_int_distribution<int>(lo, hi)(rng)); };
  int checked = 0;
  for (int iter = 0; iter < 200; ++iter) {
    const bool x_signed = pick(0, 1) == 1, w_signed = pick(0, 1) == 1;
    const int64_t group = pick(1, 2), cg = pick(1, 2), mg = pick(1, 2);
    const int64_t C = group * cg, M = group * mg;
    const int64_t H = pick(1, 6), W = pick(1, 6), KH = pick(1, 3), KW = pick(1, 3), S = pick(1, 2), D = pick(1, 2);
    const int64_t P0 = pick(0, 2), P1 = pick(0, 2), P2 = pick(0, 2), P3 = pick(0, 2);
    const int64_t span_h = H + P0 + P2 - ((KH - 1) * D + 1), span_w = W + P1 + P3 - ((KW - 1) * D + 1);
    if (span_h < 0 || span_w < 0) continue;
    const int64_t OH = 1 + span_h / S, OW = 1 + span_w / S;
    auto value = [&](bool is_signed) { return is_signed ? pick(-128, 127) : pick(0, 255); };
    std::vector<int64_t> x(static_cast<size_t>(C * H * W)), w(static_cast<size_t>(M * cg * KH * KW)), wz(M);
    for (auto& v : x) v = value(x_signed);
    for (auto& v : w) v = value(w_signed);
    for (auto& v : wz) v = value(w_signed);
    const int64_t xz = value(x_signed);
    auto tensor = [](bool is_signed, Shape shape, const std::vector<int64_t>& v) {
      Tensor t = Tensor::zeros(is_signed ? DType::s8 : DType::u8, std::move(shape));
      for (size_t i = 0; i < v.size(); ++i) {
        if (is_signed)
          t.data<int8_t>()[i] = static_cast<int8_t>(v[i]);
        else
          t.data<uint8_t>()[i] = static_cast<uint8_t>(v[i]);
      }
      return t;
    };
    NodeCase c{OpKind::ConvInteger, kOpset};
    c.inputs = {tensor(x_signed, {1, C, H, W}, x), tensor(w_signed, {M, cg, KH, KW}, w), tensor(x_signed, {}, {xz}),
                tensor(w_signed, {M}, wz)};
    c.attrs = {{"group", group}, {"strides", Ints{S, S}}, {"dilations", Ints{D, D}}, {"pads", Ints{P0, P1, P2, P3}}};
    auto res = run_node(c);
    ASSERT_TRUE(res) << "iteration " << iter << ": " << res.status().message();
    const S32 got = values_of<int32_t>((*res)[0]);
    S32 want;
    for (int64_t m = 0; m < M; ++m)
      for (int64_t oh = 0; oh < OH; ++oh)
        for (int64_t ow = 0; ow < OW; ++ow) {
          int64_t acc = 0;
          for (int64_t ci = 0; ci < cg; ++ci)
            for (int64_t kh = 0; kh < KH; ++kh)
              for (int64_t kw = 0; kw < KW; ++kw) {
                const int64_t ih = oh * S - P0 + kh * D, iw = ow * S - P1 + kw * D;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;  // padding holds x_zp
                const int64_t xv = x[static_cast<size_t>((((m / mg) * cg + ci) * H + ih) * W + iw)];
                const int64_t wv = w[static_cast<size_t>(((m * cg + ci) * KH + kh) * KW + kw)];
                acc += (xv - xz) * (wv - wz[static_cast<size_t>(m)]);
              }
          want.push_back(static_cast<int32_t>(acc));
        }
    ASSERT_EQ(got, want) << "iteration " << iter;
    ++checked;
  }
  EXPECT_GT(checked, 100);
}

// ---- QLinearConv --------------------------------------------------------------------------

// x centred = [2 4 -2 0] (x_zp 128), w = [2, -3] per output channel with w_scale [0.25 1],
// bias [4 -1], x_scale 0.5, y_scale 1:
//   m0: acc = 2 * x + 4 = [8 12 0 4], multiplier 0.125 -> [1 1.5 0 0.5] -> [1 2 0 0]
//   m1: acc = -3 * x - 1 = [-7 -13 5 -1], multiplier 0.5 -> [-3.5 -6.5 2.5 -0.5] -> [-4 -6 2 0]
NodeCase qlinear_conv_case() {
  NodeCase c{OpKind::QLinearConv, kOpset};
  c.inputs = {make<uint8_t>({1, 1, 2, 2}, {130, 132, 126, 128}), f32(0.5f), u8(128),
              make<int8_t>({2, 1, 1, 1}, {2, -3}), make<float>({2}, {0.25f, 1.0f}), make<int8_t>({2}, {0, 0}),
              f32(1.0f), u8(10), make<int32_t>({2}, {4, -1})};
  return c;
}

TEST(RefQLinearConv, PerChannelScalesBiasAndTies) {
  const Tensor y = run_ok(qlinear_conv_case());
  EXPECT_EQ(y.dtype, DType::u8);
  EXPECT_EQ(y.shape, (Shape{1, 2, 2, 2}));
  EXPECT_EQ(values_of<uint8_t>(y), (U8{11, 12, 10, 10, 6, 4, 12, 10}));
}

TEST(RefQLinearConv, SignedOutputSaturates) {
  // y_scale 1/1000 -> multipliers 125 and 500: every non-zero sum saturates.
  NodeCase c = qlinear_conv_case();
  c.inputs[6] = f32(0.001f);
  c.inputs[7] = s8(0);
  const Tensor y = run_ok(c);
  EXPECT_EQ(y.dtype, DType::s8);
  EXPECT_EQ(values_of<int8_t>(y), (S8{127, 127, 0, 127, -128, -128, 127, -128}));
}

TEST(RefQLinearConv, ConstantWeightsAndOddShape) {
  // 1x1 identity filter on a 1x1x13x3 input with x_zp = y_zp and equal scales: y = x.
  U8 x(39);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<uint8_t>(i * 6);
  NodeCase c{OpKind::QLinearConv, kOpset};
  c.inputs = {make<uint8_t>({1, 1, 13, 3}, x), f32(0.1f), u8(7), make<uint8_t>({1, 1, 1, 1}, {129}), f32(1.0f),
              u8(128), f32(0.1f), u8(7)};
  c.inputs_as_initializers = true;
  EXPECT_EQ(values_of<uint8_t>(run_ok(c)), x);
}

TEST(RefQLinearConv, RejectsBadParameters) {
  NodeCase c = qlinear_conv_case();
  c.inputs[4] = make<float>({3}, {1, 1, 1});
  EXPECT_TRUE(mentions(fail_status(c), "'w_scale'"));
  c = qlinear_conv_case();
  c.inputs[8] = make<int8_t>({2}, {1, 1});
  Status s = fail_status(c);
  EXPECT_EQ(s.code(), StatusCode::unsupported);
  EXPECT_TRUE(mentions(s, "'B'")) << s.message();
  c = qlinear_conv_case();
  c.inputs[8] = make<int32_t>({3}, {1, 1, 1});
  EXPECT_TRUE(mentions(fail_status(c), "'B'"));
  c = qlinear_conv_case();
  c.inputs[6] = f32(-1.0f);
  EXPECT_TRUE(mentions(fail_status(c), "'y_scale'"));
  c = qlinear_conv_case();
  c.inputs[2] = s8(0);
  EXPECT_TRUE(mentions(fail_status(c), "'x_zero_point'"));
  c = qlinear_conv_case();
  c.attrs = {{"strides", Ints{0, 1}}};
  EXPECT_TRUE(mentions(fail_status(c), "'strides'"));
}

// ---- com.microsoft QGemm ------------------------------------------------------------------

// A - 128 = [[1 2] [0 -1]], a_scale 0.5; B = [[1 2] [3 4]] (b_zp 0), b_scale [1 0.5]
// per column; C = [10 -20] per column. acc = A'B' + C = [[7+10 10-20] [-3+10 -4-20]]
// = [[17 -10] [7 -24]].
NodeCase qgemm_case() {
  NodeCase c{OpKind::QGemm, kOpset};
  c.inputs = {make<uint8_t>({2, 2}, {129, 130, 128, 127}), f32(0.5f), u8(128), make<int8_t>({2, 2}, {1, 2, 3, 4}),
              make<float>({2}, {1.0f, 0.5f}), s8(0), make<int32_t>({2}, {10, -20})};
  return c;
}

TEST(RefQGemm, FloatOutput) {
  // multiplier = alpha * a_scale * b_scale = [0.5 0.25]: [[8.5 -2.5] [3.5 -6]].
  const Tensor y = run_ok(qgemm_case());
  EXPECT_EQ(y.dtype, DType::f32);
  EXPECT_EQ(values_of<float>(y), (Floats{8.5f, -2.5f, 3.5f, -6.0f}));
  NodeCase c = qgemm_case();
  c.attrs = {{"alpha", 2.0f}};
  EXPECT_EQ(values_of<float>(run_ok(c)), (Floats{17, -5, 7, -12}));
}

TEST(RefQGemm, QuantizedOutputAndTransposes) {
  // y_scale 0.5 -> multipliers [1 0.5]: [[17 -5] [7 -12]].
  NodeCase c = qgemm_case();
  c.inputs.push_back(f32(0.5f));
  c.inputs.push_back(s8(0));
  Tensor y = run_ok(c);
  EXPECT_EQ(y.dtype, DType::s8);
  EXPECT_EQ(values_of<int8_t>(y), (S8{17, -5, 7, -12}));
  // The same with A and B stored transposed.
  c.inputs[0] = make<uint8_t>({2, 2}, {129, 128, 130, 127});
  c.inputs[3] = make<int8_t>({2, 2}, {1, 3, 2, 4});
  c.attrs = {{"transA", int64_t{1}}, {"transB", int64_t{1}}};
  EXPECT_EQ(values_of<int8_t>(run_ok(c)), (S8{17, -5, 7, -12}));
}

TEST(RefQGemm, PerColumnZeroPointWithTransposedB) {
  // b_zp [1 2] per column of B' = B^T: B' - zp = [[0 0] [2 2]]. acc = [[4 4] [-2 -2]] + C
  // = [[14 -16] [8 -22]]; f32 multipliers [0.5 0.25]: [[7 -4] [4 -5.5]].
  NodeCase c = qgemm_case();
  c.inputs[3] = make<int8_t>({2, 2}, {1, 3, 2, 4});
  c.inputs[5] = make<int8_t>({2}, {1, 2});
  c.attrs = {{"transB", int64_t{1}}};
  EXPECT_EQ(values_of<float>(run_ok(c)), (Floats{7, -4, 4, -5.5f}));
}

TEST(RefQGemm, RejectsBadInputs) {
  NodeCase c = qgemm_case();
  c.inputs.push_back(std::nullopt);
  c.inputs.push_back(s8(0));
  EXPECT_TRUE(mentions(fail_status(c), "'y_scale'"));
  c = qgemm_case();
  c.inputs[6] = make<int32_t>({3}, {1, 2, 3});
  EXPECT_TRUE(mentions(fail_status(c), "'C'"));
  c = qgemm_case();
  c.inputs[1] = make<float>({2}, {1, 1});
  EXPECT_TRUE(mentions(fail_status(c), "'a_scale'"));
  c = qgemm_case();
  c.attrs = {{"transA", std::string("yes")}};  // no schema in libonnx: the kernel checks types
  EXPECT_TRUE(mentions(fail_status(c), "'transA' must be an int"));
}

// ---- com.microsoft QLinearAdd -------------------------------------------------------------

TEST(RefQLinearAdd, BroadcastRoundingAndSaturation) {
  // A [2, 1] = [10 20], scale 0.5, zp 10 -> [0 5]; B [3] = [3 0 1], scale 1 -> [3 0 1].
  // Sums [[3 0 1] [8 5 6]] / C_scale 2 = [[1.5 0 .5] [4 2.5 3]] -> [[2 0 0] [4 2 3]] + 5.
  NodeCase c{OpKind::QLinearAdd, kOpset};
  c.inputs = {make<uint8_t>({2, 1}, {10, 20}), f32(0.5f), u8(10), make<uint8_t>({3}, {3, 0, 1}), f32(1.0f), u8(0),
              f32(2.0f), u8(5)};
  const Tensor y = run_ok(c);
  EXPECT_EQ(y.shape, (Shape{2, 3}));
  EXPECT_EQ(values_of<uint8_t>(y), (U8{7, 5, 5, 9, 7, 8}));
  // s8: 100 + 100 -> 127, -100 + -100 -> -128; zero points omitted.
  c.inputs = {make<int8_t>({2}, {100, -100}), f32(1.0f), std::nullopt, make<int8_t>({2}, {100, -100}), f32(1.0f),
              std::nullopt, f32(1.0f)};
  EXPECT_EQ(values_of<int8_t>(run_ok(c)), (S8{127, -128}));
  c.inputs[3] = make<uint8_t>({2}, {1, 1});
  EXPECT_TRUE(mentions(fail_status(c), "same dtype"));
  c.inputs[3] = make<int8_t>({3}, {1, 1, 1});
  EXPECT_TRUE(mentions(fail_status(c), "cannot be broadcast"));
}

// ---- com.microsoft QLinearGlobalAveragePool -----------------------------------------------

TEST(RefQLinearGlobalAveragePool, NchwNhwcAndTies) {
  // ch0 = [1 2 3 4] -> 10 * (1 / 4) = 2.5 -> 2; ch1 = [4 4 4 6] -> 4.5 -> 4 (ties to even).
  NodeCase c{OpKind::QLinearGlobalAveragePool, kOpset};
  c.inputs = {make<uint8_t>({1, 2, 2, 2}, {1, 2, 3, 4, 4, 4, 4, 6}), f32(1.0f), u8(0), f32(1.0f), u8(0)};
  Tensor y = run_ok(c);
  EXPECT_EQ(y.shape, (Shape{1, 2, 1, 1}));
  EXPECT_EQ(values_of<uint8_t>(y), (U8{2, 4}));
  // The same values channels-last: [N, H, W, C].
  c.inputs[0] = make<uint8_t>({1, 2, 2, 2}, {1, 4, 2, 4, 3, 4, 4, 6});
  c.attrs = {{"channels_last", int64_t{1}}};
  y = run_ok(c);
  EXPECT_EQ(y.shape, (Shape{1, 1, 1, 2}));
  EXPECT_EQ(values_of<uint8_t>(y), (U8{2, 4}));
  // Zero points and scales: x - 2 = [-1 0 1 2] (sum 2) and [2 2 2 4] (sum 10); multiplier
  // 0.5 / (0.25 * 4) = 0.5 -> 1 and 5, + 100.
  c.attrs = {};
  c.inputs = {make<uint8_t>({1, 2, 2, 2}, {1, 2, 3, 4, 4, 4, 4, 6}), f32(0.5f), u8(2), f32(0.25f), u8(100)};
  EXPECT_EQ(values_of<uint8_t>(run_ok(c)), (U8{101, 105}));
  c.inputs[0] = make<uint8_t>({2, 2}, {1, 2, 3, 4});
  EXPECT_TRUE(mentions(fail_status(c), "'X'"));
}

// ---- ONNX node tests ----------------------------------------------------------------------

std::vector<std::string> integer_node_tests() {
  return list_node_tests(kOnnxNodeTests, {"test_qlinearconv", "test_qlinearmatmul", "test_convinteger",
                                                      "test_basic_convinteger", "test_matmulinteger"});
}

class OnnxIntegerNodeTest : public ::testing::TestWithParam<std::string> {};

TEST_P(OnnxIntegerNodeTest, MatchesExpectedOutputs) {
  EXPECT_TRUE(run_onnx_node_test(GetParam()));
}

INSTANTIATE_TEST_SUITE_P(Onnx, OnnxIntegerNodeTest, ::testing::ValuesIn(integer_node_tests()),
                         node_test_param_name);

TEST(OnnxIntegerNodeTests, FoundTheExpectedNumber) {
  // test_qlinearconv, test_qlinearmatmul_2D/3D, test_convinteger_with/without_padding,
  // test_basic_convinteger, test_matmulinteger.
  EXPECT_EQ(integer_node_tests().size(), 7u);
}

}  // namespace
}  // namespace qdrift::test
