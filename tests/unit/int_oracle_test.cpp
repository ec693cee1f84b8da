// int_oracle_test.cpp: the integer oracle on cases small enough to compute by hand. Each
// expectation is written out from the contract (core/lowered_ops.h), not from the oracle's
// own helpers.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "core/executor.h"
#include "kernels/int/int_kernels.h"
#include "tests/unit/lowered_graph_builder.h"

namespace qdrift {
namespace {

using testing_util::LoweredGraphBuilder;
using testing_util::per_channel;
using testing_util::per_tensor;

// Runs the graph on the oracle; returns output 0.
Tensor run_oracle(const Graph& g, const std::vector<Tensor>& feeds) {
  auto ex = Executor::create(g, int_kernel_table());
  EXPECT_TRUE(ex.has_value()) << ex.status().message();
  if (!ex) return {};
  auto out = ex->run(feeds);
  EXPECT_TRUE(out.has_value()) << out.status().message();
  return out ? (*out)[0] : Tensor{};
}

template <typename T>
std::vector<T> values(const Tensor& t) {
  auto v = t.values<T>();
  return {v.begin(), v.end()};
}

PostOp op(PostOpKind k, float a = 0.f, float b = 0.f) { return {k, a, b}; }

// A 1x1 QConv over [1, C, 1, W]: each output pixel is a dot product over channels.
struct Conv1x1 {
  LoweredGraphBuilder b;
  std::vector<Tensor> feeds;

  // x: [C][W] codes; w: [M][C] codes.
  Conv1x1(DType xt, const std::vector<std::vector<int32_t>>& x, int32_t zp_x, DType wt,
          const std::vector<std::vector<int32_t>>& w, std::vector<int32_t> zp_w, const std::optional<Tensor>& bias,
          std::vector<float> scales, std::vector<PostOp> post_ops, DType yt, int32_t zp_y,
          const std::optional<Tensor>& sum = std::nullopt, int32_t zp_sum = 0) {
    const int64_t c = static_cast<int64_t>(x.size()), width = static_cast<int64_t>(x[0].size());
    const int64_t m = static_cast<int64_t>(w.size());
    Tensor xv = Tensor::zeros(xt, {1, c, 1, width});
    for (int64_t i = 0; i < c; ++i)
      for (int64_t j = 0; j < width; ++j) set(xv, i * width + j, x[static_cast<size_t>(i)][static_cast<size_t>(j)]);
    Tensor wv = Tensor::zeros(wt, {m, c, 1, 1});
    for (int64_t o = 0; o < m; ++o)
      for (int64_t i = 0; i < c; ++i) set(wv, o * c + i, w[static_cast<size_t>(o)][static_cast<size_t>(i)]);
    const ValueId xi = b.input("x", xt, xv.shape, per_tensor(1.f, zp_x, xt));
    feeds.push_back(xv);
    if (zp_w.size() == 1) zp_w.assign(static_cast<size_t>(m), zp_w[0]);
    const ValueId wi = b.constant("w", wv, per_channel(std::vector<float>(static_cast<size_t>(m), 1.f), zp_w, wt, 0));
    const ValueId bi = bias ? b.constant("bias", *bias) : kNoValue;
    ValueId si = kNoValue;
    if (sum) {
      si = b.input("sum", sum->dtype, sum->shape, per_tensor(1.f, zp_sum, sum->dtype));
      feeds.push_back(*sum);
    }
    const ValueId y = b.value("y", yt, yt == DType::f32 ? std::nullopt : std::optional<QuantParams>(per_tensor(1.f, zp_y, yt)));
    LoweredParams p;
    p.output_scales = std::move(scales);
    p.post_ops = std::move(post_ops);
    Node& n = b.int8_op(OpKind::QConv, "conv", xi, wi, bi, si, y, p);
    n.attrs["kernel_shape"] = std::vector<int64_t>{1, 1};
    b.output(y);
  }
  static void set(Tensor& t, int64_t i, int32_t v) {
    if (t.dtype == DType::u8) t.data<uint8_t>()[i] = static_cast<uint8_t>(v);
    else t.data<int8_t>()[i] = static_cast<int8_t>(v);
  }
  Tensor run() { return run_oracle(b.graph, feeds); }
};

Tensor s32(std::vector<int32_t> v) { return Tensor::from_vector<int32_t>({static_cast<int64_t>(v.size())}, v); }
Tensor f32(std::vector<float> v) { return Tensor::from_vector<float>({static_cast<int64_t>(v.size())}, v); }

// Scaled dot product: y[oc] = sat(round(((sum_c (x_c - zp_x) * w[oc][c]) + b[oc]) * s[oc] + zp_y)).
TEST(IntOracleQConv, OneByOneIsAScaledDotProduct) {
  // x - zp_x = {5, 15, 25}; acc0 = 5 - 30 + 75 = 50; acc1 = 20 + 75 - 150 = -55.
  Conv1x1 c(DType::u8, {{10}, {20}, {30}}, 5, DType::s8, {{1, -2, 3}, {4, 5, -6}}, {0}, s32({100, -51}), {0.5f, 0.25f},
            {}, DType::u8, 3);
  // oc0: (50 + 100) * 0.5 + 3 = 78; oc1: (-55 - 51) * 0.25 + 3 = -26.5 + 3 = -23.5 -> 0 (saturated).
  EXPECT_EQ(values<uint8_t>(c.run()), (std::vector<uint8_t>{78, 0}));
  Conv1x1 f(DType::u8, {{10}, {20}, {30}}, 5, DType::s8, {{1, -2, 3}, {4, 5, -6}}, {0}, s32({100, -51}), {0.5f, 0.25f},
            {}, DType::f32, 0);
  EXPECT_EQ(values<float>(f.run()), (std::vector<float>{75.f, -26.5f}));
}

// v = acc * 0.5 with acc odd lands on .5 ties: round half to even, and the dst zero point is
// added before rounding: round(v + zp), not round(v) + zp.
TEST(IntOracleQConv, TiesRoundHalfToEvenWithTheZeroPointAddedFirst) {
  const std::vector<std::vector<int32_t>> x{{1, 3, 5, -1, -3, -5}};
  Conv1x1 zp0(DType::s8, x, 0, DType::s8, {{1}}, {0}, std::nullopt, {0.5f}, {}, DType::s8, 0);
  EXPECT_EQ(values<int8_t>(zp0.run()), (std::vector<int8_t>{0, 2, 2, 0, -2, -2}));  // 0.5 1.5 2.5 -0.5 -1.5 -2.5
  Conv1x1 zp1(DType::s8, x, 0, DType::s8, {{1}}, {0}, std::nullopt, {0.5f}, {}, DType::s8, 1);
  // 1.5 2.5 3.5 0.5 -0.5 -1.5 (round(v) + 1 would give 1 3 3 1 -1 -1)
  EXPECT_EQ(values<int8_t>(zp1.run()), (std::vector<int8_t>{2, 2, 4, 0, 0, -2}));
}

TEST(IntOracleQConv, SaturatesPerDestinationType) {
  const std::vector<std::vector<int32_t>> x{{127, -128, 100, -100}};
  Conv1x1 u8(DType::s8, x, 0, DType::s8, {{127}}, {0}, std::nullopt, {1.f}, {}, DType::u8, 0);
  EXPECT_EQ(values<uint8_t>(u8.run()), (std::vector<uint8_t>{255, 0, 255, 0}));
  Conv1x1 s8(DType::s8, x, 0, DType::s8, {{127}}, {0}, std::nullopt, {1.f}, {}, DType::s8, 0);
  EXPECT_EQ(values<int8_t>(s8.run()), (std::vector<int8_t>{127, -128, 127, -128}));
  // s32 clamps in f32 at 2147483520 (the largest f32 below 2^31), like oneDNN.
  Conv1x1 s32d(DType::s8, x, 0, DType::s8, {{127}}, {0}, std::nullopt, {1e6f}, {}, DType::s32, 0);
  EXPECT_EQ(values<int32_t>(s32d.run()),
            (std::vector<int32_t>{2147483520, std::numeric_limits<int32_t>::min(), 2147483520,
                                  std::numeric_limits<int32_t>::min()}));
}

TEST(IntOracleQConv, ZeroPointsOfSourceWeightsAndPadding) {
  // u8 weights with zero point 128 are s8 weights + 128; zero point 100 is just as exact here.
  Conv1x1 w128(DType::u8, {{10}, {20}}, 0, DType::u8, {{129, 126}}, {128}, std::nullopt, {1.f}, {}, DType::s32, 0);
  EXPECT_EQ(values<int32_t>(w128.run()), (std::vector<int32_t>{10 * 1 + 20 * -2}));
  Conv1x1 w100(DType::u8, {{10}, {20}}, 7, DType::u8, {{101, 98}}, {100}, std::nullopt, {1.f}, {}, DType::s32, 0);
  EXPECT_EQ(values<int32_t>(w100.run()), (std::vector<int32_t>{3 * 1 + 13 * -2}));
  // Per-channel weight zero points.
  Conv1x1 pc(DType::s8, {{10}, {20}}, 0, DType::s8, {{3, 3}, {3, 3}}, {2, -1}, std::nullopt, {1.f, 1.f}, {}, DType::s32, 0);
  EXPECT_EQ(values<int32_t>(pc.run()), (std::vector<int32_t>{10 + 20, 40 + 80}));

  // 3x3 conv, pad 1, on a 1x1 input: only the centre tap sees data; padding is x = zp_x
  // (a real zero), so with x == zp_x the output is the bias alone.
  LoweredGraphBuilder b;
  const ValueId x = b.input("x", DType::u8, {1, 1, 1, 1}, per_tensor(1.f, 77, DType::u8));
  Tensor w = Tensor::zeros(DType::s8, {1, 1, 3, 3});
  for (int i = 0; i < 9; ++i) w.data<int8_t>()[i] = static_cast<int8_t>(i + 1);
  const ValueId wi = b.constant("w", w, per_tensor(1.f, 0, DType::s8));
  const ValueId bi = b.constant("b", s32({-7}));
  const ValueId y = b.value("y", DType::s32, per_tensor(1.f, 0, DType::s32));
  LoweredParams p;
  p.output_scales = {1.f};
  Node& n = b.int8_op(OpKind::QConv, "conv", x, wi, bi, kNoValue, y, p);
  n.attrs["kernel_shape"] = std::vector<int64_t>{3, 3};
  n.attrs["pads"] = std::vector<int64_t>{1, 1, 1, 1};
  b.output(y);
  EXPECT_EQ(values<int32_t>(run_oracle(b.graph, {Tensor::from_vector<uint8_t>({1, 1, 1, 1}, {77})})),
            (std::vector<int32_t>{-7}));
  EXPECT_EQ(values<int32_t>(run_oracle(b.graph, {Tensor::from_vector<uint8_t>({1, 1, 1, 1}, {80})})),
            (std::vector<int32_t>{3 * 5 - 7}));  // centre weight 5
}

TEST(IntOracleQConv, PerChannelOutputScales) {
  Conv1x1 c(DType::u8, {{2}, {4}}, 0, DType::s8, {{1, 1}, {1, 1}, {1, 1}}, {0}, std::nullopt, {0.5f, 2.f, 10.f}, {},
            DType::f32, 0);
  EXPECT_EQ(values<float>(c.run()), (std::vector<float>{3.f, 12.f, 60.f}));
}

// Post-ops on f32 outputs, v = acc (scale 1, no bias), acc = x - zp with x in a single channel.
std::vector<float> post(std::vector<int32_t> acc, std::vector<PostOp> ops, float scale = 1.f) {
  std::vector<int32_t> x;
  for (int32_t a : acc) x.push_back(a);
  Conv1x1 c(DType::s8, {x}, 0, DType::s8, {{1}}, {0}, std::nullopt, {scale}, std::move(ops), DType::f32, 0);
  return values<float>(c.run());
}

TEST(IntOracleQConv, EachEltwisePostOp) {
  EXPECT_EQ(post({-3, 0, 5}, {op(PostOpKind::relu)}), (std::vector<float>{0.f, 0.f, 5.f}));
  EXPECT_EQ(post({-3, 0, 5}, {op(PostOpKind::leaky_relu, 0.25f)}), (std::vector<float>{-0.75f, 0.f, 5.f}));
  EXPECT_EQ(post({-3, 0, 5, 9}, {op(PostOpKind::clip, -1.f, 6.f)}), (std::vector<float>{-1.f, 0.f, 5.f, 6.f}));
  // hardswish v * (min(max(v + 3, 0), 6) / 6): -4 -> -0, -1.5 -> -0.375, 1 -> 2/3, 3 -> 3.
  EXPECT_EQ(post({-8, -3, 2, 6}, {op(PostOpKind::hardswish)}, 0.5f),
            (std::vector<float>{-0.f, -1.5f * (1.5f / 6.f), 1.f * (4.f / 6.f), 3.f}));
  // linear is one fma: (1/3) * 3 - 1 is 2.98e-8 fused, 0 with two roundings.
  const float third = 1.f / 3.f;
  EXPECT_EQ(post({3}, {op(PostOpKind::linear, third, -1.f)}), (std::vector<float>{std::fma(third, 3.f, -1.f)}));
  EXPECT_NE(std::fma(third, 3.f, -1.f), 0.f);
  // In order: relu, then linear.
  EXPECT_EQ(post({-2, 2}, {op(PostOpKind::relu), op(PostOpKind::linear, 2.f, 1.f)}), (std::vector<float>{1.f, 5.f}));
}

TEST(IntOracleQConv, SumPostOpIsOneFmaWithTheSumZeroPoint) {
  const float third = 1.f / 3.f;
  // v = -1 (bias), sum code 13 with zero point 10 -> v + (1/3) * 3 fused = 2.98e-8.
  Conv1x1 c(DType::u8, {{0}}, 0, DType::s8, {{1}}, {0}, f32({-1.f}), {1.f}, {op(PostOpKind::sum, third, 10.f)},
            DType::f32, 0, Tensor::from_vector<uint8_t>({1, 1, 1, 1}, {13}), 10);
  EXPECT_EQ(values<float>(c.run()), (std::vector<float>{std::fma(third, 3.f, -1.f)}));
  // u8 sum into u8: v = 4 + 0.5 * (s - 128) + zp_y 2, then relu after the sum.
  Conv1x1 q(DType::u8, {{4, 4, 4}}, 0, DType::s8, {{1}}, {0}, std::nullopt, {1.f},
            {op(PostOpKind::sum, 0.5f, 128.f), op(PostOpKind::relu)}, DType::u8, 2,
            Tensor::from_vector<uint8_t>({1, 1, 1, 3}, {128, 100, 139}), 128);
  // 4 + 0 = 4 -> 6; 4 - 14 = -10 -> relu 0 -> 2; 4 + 5.5 = 9.5 -> 11.5 -> 12 (even).
  EXPECT_EQ(values<uint8_t>(q.run()), (std::vector<uint8_t>{6, 2, 12}));
}

TEST(IntOracleQMatMul, HandComputed) {
  LoweredGraphBuilder b;
  // x [2, 3] u8 with zp 1; w [3, 2] s8; per-N scales; s32 bias; s8 dst zp -1; s8 sum zp 2.
  const ValueId x = b.input("x", DType::u8, {2, 3}, per_tensor(1.f, 1, DType::u8));
  const ValueId w = b.constant("w", Tensor::from_vector<int8_t>({3, 2}, {1, -1, 2, 0, 3, 4}),
                               per_channel({1.f, 1.f}, {0, 0}, DType::s8, 1));
  const ValueId bias = b.constant("b", s32({1, -2}));
  const ValueId sum = b.input("sum", DType::s8, {2, 2}, per_tensor(1.f, 2, DType::s8));
  const ValueId y = b.value("y", DType::s8, per_tensor(1.f, -1, DType::s8));
  LoweredParams p;
  p.output_scales = {0.5f, 2.f};
  p.post_ops = {op(PostOpKind::sum, 1.f, 2.f)};
  b.int8_op(OpKind::QMatMul, "mm", x, w, bias, sum, y, p);
  b.output(y);
  // x - 1 = [[0, 1, 2], [4, 5, 6]].
  // row 0: acc = [0 + 2 + 6, 0 + 0 + 8] = [8, 8]; v = [(8+1)*.5, (8-2)*2] = [4.5, 12]
  // row 1: acc = [4 + 10 + 18, -4 + 0 + 24] = [32, 20]; v = [16.5, 36]
  // sum s - 2 with s = [[2, 3], [-8, 100]] -> [0, 1, -10, 98]; + zp_y -1
  // -> [3.5 -> 4, 12, 5.5 -> 6, 133 -> 127]
  const Tensor out = run_oracle(
      b.graph, {Tensor::from_vector<uint8_t>({2, 3}, {1, 2, 3, 5, 6, 7}), Tensor::from_vector<int8_t>({2, 2}, {2, 3, -8, 100})});
  EXPECT_EQ(values<int8_t>(out), (std::vector<int8_t>{4, 12, 6, 127}));
}

// Quantize / Dequantize / Requantize single-node graphs.
Tensor run_unary(OpKind kind, DType in, const Tensor& x, std::optional<QuantParams> qx, DType out,
                 std::optional<QuantParams> qy) {
  LoweredGraphBuilder b;
  const ValueId xi = b.input("x", in, x.shape, std::move(qx));
  const ValueId y = b.value("y", out, std::move(qy));
  b.node(kind, "op", {xi}, {y});
  b.output(y);
  return run_oracle(b.graph, {x});
}

TEST(IntOracleQuantize, TiesZeroPointAndSaturation) {
  const Tensor x = Tensor::from_vector<float>({8}, {0.5f, 1.5f, 2.5f, -0.5f, -2.5f, 200.f, -200.f, 3.49f});
  EXPECT_EQ(values<int8_t>(run_unary(OpKind::Quantize, DType::f32, x, std::nullopt, DType::s8, per_tensor(1.f, 0, DType::s8))),
            (std::vector<int8_t>{0, 2, 2, 0, -2, 127, -128, 3}));
  // Zero point 1 is added before rounding: 1.5 2.5 3.5 0.5 -1.5 -> 2 2 4 0 -2.
  EXPECT_EQ(values<int8_t>(run_unary(OpKind::Quantize, DType::f32, x, std::nullopt, DType::s8, per_tensor(1.f, 1, DType::s8))),
            (std::vector<int8_t>{2, 2, 4, 0, -2, 127, -128, 4}));
  EXPECT_EQ(values<uint8_t>(run_unary(OpKind::Quantize, DType::f32, x, std::nullopt, DType::u8, per_tensor(1.f, 128, DType::u8))),
            (std::vector<uint8_t>{128, 130, 130, 128, 126, 255, 0, 131}));
}

TEST(IntOracleQuantize, MultipliesByTheReciprocalScale) {
  // 1.54999995f * (1/0.1f) = 15.5 -> 16; ONNX's 1.54999995f / 0.1f = 15.499999 -> 15.
  const float x = 1.54999995f;
  ASSERT_EQ(std::nearbyint(x / 0.1f), 15.f);
  const Tensor t = Tensor::from_vector<float>({1}, {x});
  EXPECT_EQ(values<int8_t>(run_unary(OpKind::Quantize, DType::f32, t, std::nullopt, DType::s8, per_tensor(0.1f, 0, DType::s8))),
            (std::vector<int8_t>{16}));
}

TEST(IntOracleDequantize, SubtractsTheZeroPointInFloat) {
  const Tensor u = Tensor::from_vector<uint8_t>({3}, {0, 128, 255});
  EXPECT_EQ(values<float>(run_unary(OpKind::Dequantize, DType::u8, u, per_tensor(0.5f, 128, DType::u8), DType::f32, std::nullopt)),
            (std::vector<float>{-64.f, 0.f, 63.5f}));
  // s32: f32(2^24 + 1) is 2^24, minus 1: 16777215 (the exact int would give 16777216).
  const Tensor s = Tensor::from_vector<int32_t>({1}, {16777217});
  EXPECT_EQ(values<float>(run_unary(OpKind::Dequantize, DType::s32, s, per_tensor(1.f, 1, DType::s32), DType::f32, std::nullopt)),
            (std::vector<float>{16777215.f}));
}

TEST(IntOracleRequantize, TiesZeroPointsAndSaturation) {
  // (x - 3) * (1 / 2) + zp_y: x = 4, 6, 8, 255, 0
  const Tensor x = Tensor::from_vector<uint8_t>({5}, {4, 6, 8, 255, 0});
  // zp_y 0: 0.5 1.5 2.5 126 -1.5 -> 0 2 2 126 -2
  EXPECT_EQ(values<int8_t>(run_unary(OpKind::Requantize, DType::u8, x, per_tensor(1.f, 3, DType::u8), DType::s8,
                                     per_tensor(2.f, 0, DType::s8))),
            (std::vector<int8_t>{0, 2, 2, 126, -2}));
  // zp_y 5: 5.5 6.5 7.5 131 3.5 -> 6 6 8 127 4
  EXPECT_EQ(values<int8_t>(run_unary(OpKind::Requantize, DType::u8, x, per_tensor(1.f, 3, DType::u8), DType::s8,
                                     per_tensor(2.f, 5, DType::s8))),
            (std::vector<int8_t>{6, 6, 8, 127, 4}));
  // s8 -> u8 saturates at 0.
  const Tensor s = Tensor::from_vector<int8_t>({3}, {-128, 0, 127});
  EXPECT_EQ(values<uint8_t>(run_unary(OpKind::Requantize, DType::s8, s, per_tensor(1.f, 0, DType::s8), DType::u8,
                                      per_tensor(0.5f, 10, DType::u8))),
            (std::vector<uint8_t>{0, 10, 255}));
}

TEST(IntOracleTable, ListsEveryKindExplicitly) {
  const KernelTable& t = int_kernel_table();
  EXPECT_EQ(t.name, "int");
  for (OpKind k : kLoweredInt8Kinds) EXPECT_NE(t.factories[static_cast<size_t>(k)], nullptr) << op_kind_name(k);
  EXPECT_EQ(t.factories[static_cast<size_t>(OpKind::Unknown)], nullptr);
}

}  // namespace
}  // namespace qdrift
