// Reference kernels of kernels/ref/nn.cpp and the geometry of core/op_attrs.h.
// Expected values are closed-form cases worked out by hand (in the comments), ONNX's own
// node tests, and a naive textbook convolution written here independently of the kernel.
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include <gtest/gtest.h>
#include <omp.h>

#include "core/op_attrs.h"
#include "tests/unit/ref_test_helpers.h"

namespace qdrift::test {
namespace {

constexpr int64_t kOpset = 17;  // the opset these cases are written for
using Ints = std::vector<int64_t>;
using Floats = std::vector<float>;

// Runs a one-output node and returns its f32 output (failing the test on error).
Floats run_f32(const NodeCase& c, Shape* shape = nullptr) {
  auto out = run_node(c);
  EXPECT_TRUE(out) << out.status().message();
  if (!out) return {};
  if (shape) *shape = (*out)[0].shape;
  return values_of<float>((*out)[0]);
}

// The status of a node that must fail.
Status fail_status(const NodeCase& c) {
  auto out = run_node(c);
  EXPECT_FALSE(out) << "expected an error";
  return out ? Status::ok() : out.status();
}

void expect_near_all(const Floats& got, const Floats& want, float tol = 1e-6f) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(got[i], want[i], tol) << "element " << i;
}

// ---- geometry (core/op_attrs.h) ---------------------------------------------------------

Node conv_node(std::map<std::string, AttrValue, std::less<>> attrs) {
  Node n;
  n.name = "c";
  n.kind = OpKind::Conv;
  n.op_type = "Conv";
  n.attrs = std::move(attrs);
  return n;
}

TEST(OpAttrs, ConvExplicitPadsStridesDilations) {
  // in 7, k 3, d 2 (extent 5), pads 1+2, stride 2: out = 1 + (7 + 3 - 5) / 2 = 3.
  auto g = conv_geometry(conv_node({{"strides", Ints{2}}, {"dilations", Ints{2}}, {"pads", Ints{1, 2}}}), {1, 4, 7},
                         {6, 2, 3});
  ASSERT_FALSE(g) << "group 1 with w dim 1 = 2 and C = 4 must fail";
  g = conv_geometry(conv_node({{"strides", Ints{2}}, {"dilations", Ints{2}}, {"pads", Ints{1, 2}}, {"group", int64_t{2}}}),
                    {1, 4, 7}, {6, 2, 3});
  ASSERT_TRUE(g) << g.status().message();
  EXPECT_EQ(g->output_shape(), (Shape{1, 6, 3}));
  EXPECT_EQ(g->pads_begin, Ints{1});
  EXPECT_EQ(g->pads_end, Ints{2});
  EXPECT_EQ(g->in_channels_per_group(), 2);
  EXPECT_EQ(g->out_channels_per_group(), 3);
}

TEST(OpAttrs, ConvAutoPadSame) {
  // in 5, k 2, s 2: total pad = (ceil(5/2) - 1) * 2 + 2 - 5 = 1; UPPER puts it at the end.
  auto up = conv_geometry(conv_node({{"auto_pad", std::string("SAME_UPPER")}, {"strides", Ints{2}}}), {1, 1, 5}, {1, 1, 2});
  ASSERT_TRUE(up) << up.status().message();
  EXPECT_EQ(up->pads_begin, Ints{0});
  EXPECT_EQ(up->pads_end, Ints{1});
  EXPECT_EQ(up->out_spatial, Ints{3});
  auto low = conv_geometry(conv_node({{"auto_pad", std::string("SAME_LOWER")}, {"strides", Ints{2}}}), {1, 1, 5}, {1, 1, 2});
  ASSERT_TRUE(low);
  EXPECT_EQ(low->pads_begin, Ints{1});
  EXPECT_EQ(low->pads_end, Ints{0});
  // k 1 < s 4: no padding (clamped at 0), out = ceil(6 / 4) = 2.
  auto small = conv_geometry(conv_node({{"auto_pad", std::string("SAME_UPPER")}, {"strides", Ints{4}}}), {1, 1, 6}, {1, 1, 1});
  ASSERT_TRUE(small);
  EXPECT_EQ(small->out_spatial, Ints{2});
  EXPECT_EQ(small->pads_end, Ints{0});
  auto valid = conv_geometry(conv_node({{"auto_pad", std::string("VALID")}}), {1, 1, 5, 4}, {1, 1, 3, 3});
  ASSERT_TRUE(valid);
  EXPECT_EQ(valid->out_spatial, (Ints{3, 2}));
}

TEST(OpAttrs, ConvRejectsAbsurdValuesNamingTheAttribute) {
  struct Case {
    std::map<std::string, AttrValue, std::less<>> attrs;
    Shape x, w;
    const char* needle;
  };
  const std::vector<Case> cases = {
      {{{"group", int64_t{0}}}, {1, 2, 5, 5}, {2, 2, 3, 3}, "'group'"},
      {{{"group", int64_t{3}}}, {1, 4, 5, 5}, {3, 1, 3, 3}, "'group'"},
      {{{"strides", Ints{0, 1}}}, {1, 1, 5, 5}, {1, 1, 3, 3}, "'strides'"},
      {{{"dilations", Ints{1, 0}}}, {1, 1, 5, 5}, {1, 1, 3, 3}, "'dilations'"},
      {{{"pads", Ints{-1, 0, 0, 0}}}, {1, 1, 5, 5}, {1, 1, 3, 3}, "'pads'"},
      {{{"pads", Ints{1, 1, 1}}}, {1, 1, 5, 5}, {1, 1, 3, 3}, "'pads'"},
      {{{"strides", Ints{1}}}, {1, 1, 5, 5}, {1, 1, 3, 3}, "'strides'"},
      {{{"kernel_shape", Ints{2, 2}}}, {1, 1, 5, 5}, {1, 1, 3, 3}, "'kernel_shape'"},
      {{{"auto_pad", std::string("SAME")}}, {1, 1, 5, 5}, {1, 1, 3, 3}, "'auto_pad'"},
      {{{"auto_pad", std::string("VALID")}, {"pads", Ints{1, 1, 1, 1}}}, {1, 1, 5, 5}, {1, 1, 3, 3}, "'pads'"},
      {{{"group", std::string("two")}}, {1, 1, 5, 5}, {1, 1, 3, 3}, "'group' must be an int"},
      {{}, {1, 1, 2, 2}, {1, 1, 3, 3}, "larger than the padded input"},
      {{}, {1, 3, 5, 5}, {1, 2, 3, 3}, "dim 1 must be C/group"},
      {{}, {1, 1, 5, 5}, {1, 1, 3}, "ranks must agree"},
      {{}, {1, 1}, {1, 1}, "rank >= 3"},
      {{}, {1, 1, 5, 5}, {1, 1, 0, 3}, "kernel dimension must be >= 1"},
      {{{"strides", Ints{int64_t{1} << 40, 1}}}, {1, 1, 5, 5}, {1, 1, 3, 3}, "'strides'"},
  };
  for (const Case& c : cases) {
    auto g = conv_geometry(conv_node(c.attrs), c.x, c.w);
    ASSERT_FALSE(g) << c.needle;
    EXPECT_EQ(g.status().code(), StatusCode::invalid_input);
    EXPECT_NE(g.status().message().find(c.needle), std::string::npos) << g.status().message();
  }
}

TEST(OpAttrs, PoolCeilModeAndErrors) {
  Node n;
  n.kind = OpKind::MaxPool;
  n.attrs = {{"kernel_shape", Ints{2}}, {"strides", Ints{2}}, {"ceil_mode", int64_t{1}}};
  auto g = pool_geometry(n, PoolKind::max, {1, 1, 5});  // (5 - 2) / 2 = 1.5 -> 2, + 1
  ASSERT_TRUE(g) << g.status().message();
  EXPECT_EQ(g->out_spatial, Ints{3});
  n.attrs["ceil_mode"] = int64_t{0};
  g = pool_geometry(n, PoolKind::max, {1, 1, 5});
  ASSERT_TRUE(g);
  EXPECT_EQ(g->out_spatial, Ints{2});
  n.attrs = {{"kernel_shape", Ints{3, 3}}, {"pads", Ints{3, 0, 0, 0}}};
  g = pool_geometry(n, PoolKind::max, {1, 1, 5, 5});
  ASSERT_FALSE(g);
  EXPECT_NE(g.status().message().find("smaller than the kernel"), std::string::npos) << g.status().message();
  n.attrs = {{"strides", Ints{1}}};
  auto a = parse_pool_attrs(n, PoolKind::average);
  ASSERT_FALSE(a);
  EXPECT_NE(a.status().message().find("'kernel_shape' is required"), std::string::npos);
  n.attrs = {{"kernel_shape", Ints{2, 2}}, {"storage_order", int64_t{2}}};
  a = parse_pool_attrs(n, PoolKind::max);
  ASSERT_FALSE(a);
  EXPECT_NE(a.status().message().find("'storage_order'"), std::string::npos);
  n.attrs = {{"kernel_shape", Ints{2, 2}}};
  g = pool_geometry(n, PoolKind::max, {1, 1, 5});
  ASSERT_FALSE(g);
  EXPECT_NE(g.status().message().find("'kernel_shape'"), std::string::npos);
}

// ---- Conv ---------------------------------------------------------------------------------

TEST(RefConv, OneByOneIsAPerPixelDotProduct) {
  // x channels c0 = [1 2 3 4], c1 = [5 6 7 8], c2 = [-1 0 1 2] (2x2 each).
  // m0 = 1*c0 + 0.5 = [1.5 2.5 3.5 4.5]; m1 = c0 + c1 + c2 - 1 = [4 7 10 13].
  NodeCase c{OpKind::Conv, kOpset};
  c.inputs = {make<float>({1, 3, 2, 2}, {1, 2, 3, 4, 5, 6, 7, 8, -1, 0, 1, 2}),
              make<float>({2, 3, 1, 1}, {1, 0, 0, 1, 1, 1}), make<float>({2}, {0.5f, -1.0f})};
  Shape s;
  EXPECT_EQ(run_f32(c, &s), (Floats{1.5f, 2.5f, 3.5f, 4.5f, 4, 7, 10, 13}));
  EXPECT_EQ(s, (Shape{1, 2, 2, 2}));
}

TEST(RefConv, AllOnesKernelSumsTheWindow) {
  // 3x3 ones input, 3x3 ones kernel, pads 1: each output counts its window's inputs.
  NodeCase c{OpKind::Conv, kOpset};
  c.inputs = {make<float>({1, 1, 3, 3}, Floats(9, 1.0f)), make<float>({1, 1, 3, 3}, Floats(9, 1.0f))};
  c.attrs["pads"] = Ints{1, 1, 1, 1};
  EXPECT_EQ(run_f32(c), (Floats{4, 6, 4, 6, 9, 6, 4, 6, 4}));
}

TEST(RefConv, IdentityKernelOnOddShapeReturnsTheInput) {
  Floats x(2 * 13 * 3);
  for (size_t i = 0; i < x.size(); ++i) x[i] = 0.25f * static_cast<float>(i) - 7.0f;
  Floats w(2 * 1 * 3 * 3, 0.0f);
  w[4] = 1.0f;      // centre of channel 0's filter
  w[9 + 4] = 1.0f;  // centre of channel 1's filter
  NodeCase c{OpKind::Conv, kOpset};
  c.inputs = {make<float>({1, 2, 13, 3}, x), make<float>({2, 1, 3, 3}, w)};
  c.attrs = {{"pads", Ints{1, 1, 1, 1}}, {"group", int64_t{2}}};
  EXPECT_EQ(run_f32(c), x);
}

TEST(RefConv, StridesAndDilations) {
  Floats x(25);
  for (int i = 0; i < 25; ++i) x[static_cast<size_t>(i)] = static_cast<float>(i);  // x[h][w] = 5h + w
  // 1x1 kernel, stride 2: picks rows/cols 0, 2, 4.
  NodeCase c{OpKind::Conv, kOpset};
  c.inputs = {make<float>({1, 1, 5, 5}, x), make<float>({1, 1, 1, 1}, {1.0f})};
  c.attrs["strides"] = Ints{2, 2};
  EXPECT_EQ(run_f32(c), (Floats{0, 2, 4, 10, 12, 14, 20, 22, 24}));
  // 3x3 ones with dilation 2 covers the same 9 pixels: 0+2+4+10+12+14+20+22+24 = 108.
  c.inputs[1] = make<float>({1, 1, 3, 3}, Floats(9, 1.0f));
  c.attrs = {{"dilations", Ints{2, 2}}};
  Shape s;
  EXPECT_EQ(run_f32(c, &s), (Floats{108}));
  EXPECT_EQ(s, (Shape{1, 1, 1, 1}));
}

TEST(RefConv, AutoPadSameUpperAndLower1D) {
  // x = [1 2 3 4 5], k = [1 1], stride 2: total pad 1.
  // SAME_UPPER pads the end: [1+2, 3+4, 5+0]; SAME_LOWER the beginning: [0+1, 2+3, 4+5].
  NodeCase c{OpKind::Conv, kOpset};
  c.inputs = {make<float>({1, 1, 5}, {1, 2, 3, 4, 5}), make<float>({1, 1, 2}, {1, 1})};
  c.attrs = {{"auto_pad", std::string("SAME_UPPER")}, {"strides", Ints{2}}};
  EXPECT_EQ(run_f32(c), (Floats{3, 7, 5}));
  c.attrs["auto_pad"] = std::string("SAME_LOWER");
  EXPECT_EQ(run_f32(c), (Floats{1, 5, 9}));
}

TEST(RefConv, DepthwiseAndGroups) {
  // Depthwise: group = C = 3, y[c] = w[c] * x[c].
  NodeCase c{OpKind::Conv, kOpset};
  c.inputs = {make<float>({1, 3, 1, 2}, {1, 2, 3, 4, 5, 6}), make<float>({3, 1, 1, 1}, {2, 3, 4})};
  c.attrs["group"] = int64_t{3};
  EXPECT_EQ(run_f32(c), (Floats{2, 4, 9, 12, 20, 24}));
  // Two groups over 4 channels: m0 = c0 + c1, m1 = c2 - c3 (one pixel each).
  c.inputs = {make<float>({1, 4, 1, 1}, {1, 10, 100, 1000}), make<float>({2, 2, 1, 1}, {1, 1, 1, -1})};
  c.attrs["group"] = int64_t{2};
  EXPECT_EQ(run_f32(c), (Floats{11, -900}));
}

TEST(RefConv, ThreeDAndBatch) {
  // 2x2x2 ones kernel over a 2x2x2 input: the sum of the input; batch 2.
  NodeCase c{OpKind::Conv, kOpset};
  c.inputs = {make<float>({2, 1, 2, 2, 2}, {1, 2, 3, 4, 5, 6, 7, 8, -1, -1, -1, -1, -1, -1, -1, -1}),
              make<float>({1, 1, 2, 2, 2}, Floats(8, 1.0f))};
  Shape s;
  EXPECT_EQ(run_f32(c, &s), (Floats{36, -8}));
  EXPECT_EQ(s, (Shape{2, 1, 1, 1, 1}));
}

TEST(RefConv, RejectsBadInputs) {
  NodeCase c{OpKind::Conv, kOpset};
  c.inputs = {make<float>({1, 2, 3, 3}, Floats(18, 1.0f)), make<float>({1, 2, 3, 3}, Floats(18, 1.0f)),
              make<float>({2}, {0, 0})};
  Status s = fail_status(c);
  EXPECT_EQ(s.code(), StatusCode::invalid_input);
  EXPECT_NE(s.message().find("'B'"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("node 'node' (Conv)"), std::string::npos) << s.message();
  c.inputs = {make<int32_t>({1, 1, 3, 3}, std::vector<int32_t>(9, 1)), make<float>({1, 1, 3, 3}, Floats(9, 1.0f))};
  s = fail_status(c);
  EXPECT_EQ(s.code(), StatusCode::unsupported);
  EXPECT_NE(s.message().find("'X'"), std::string::npos) << s.message();
  c.inputs = {make<float>({1, 1, 3, 3}, Floats(9, 1.0f)), make<float>({1, 1, 3, 3}, Floats(9, 1.0f))};
  c.attrs["group"] = int64_t{0};  // rejected when the kernel is created
  s = fail_status(c);
  EXPECT_NE(s.message().find("'group'"), std::string::npos) << s.message();
  c.attrs = {};
  c.inputs = {make<float>({1, 1, 3, 3}, Floats(9, 1.0f))};
  s = fail_status(c);
  EXPECT_NE(s.message().find("'W'"), std::string::npos) << s.message();
}

// Naive textbook convolution in double, written independently of the kernel: every
// output reads x at o * s - p + k * d, skipping positions outside the input.
Floats naive_conv2d(const Floats& x, const Floats& w, const Floats& b, int64_t n_, int64_t c_, int64_t h_, int64_t w_,
                    int64_t m_, int64_t kh_, int64_t kw_, int64_t group, int64_t stride, int64_t pad, int64_t dil,
                    int64_t oh_, int64_t ow_) {
  Floats y(static_cast<size_t>(n_ * m_ * oh_ * ow_));
  const int64_t cg = c_ / group, mg = m_ / group;
  for (int64_t n = 0; n < n_; ++n)
    for (int64_t m = 0; m < m_; ++m)
      for (int64_t oh = 0; oh < oh_; ++oh)
        for (int64_t ow = 0; ow < ow_; ++ow) {
          double acc = 0.0;
          for (int64_t ci = 0; ci < cg; ++ci)
            for (int64_t kh = 0; kh < kh_; ++kh)
              for (int64_t kw = 0; kw < kw_; ++kw) {
                const int64_t ih = oh * stride - pad + kh * dil, iw = ow * stride - pad + kw * dil;
                if (ih < 0 || ih >= h_ || iw < 0 || iw >= w_) continue;
                const int64_t c = (m / mg) * cg + ci;
                acc += static_cast<double>(x[static_cast<size_t>(((n * c_ + c) * h_ + ih) * w_ + iw)]) *
                       static_cast<double>(w[static_cast<size_t>(((m * cg + ci) * kh_ + kh) * kw_ + kw)]);
              }
          y[static_cast<size_t>(((n * m_ + m) * oh_ + oh) * ow_ + ow)] =
              static_cast<float>(acc + static_cast<double>(b[static_cast<size_t>(m)]));
        }
  return y;
}

TEST(RefConv, MatchesNaiveConvolutionAndIsThreadCountIndependent) {
  std::mt19937 rng(1234);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  const int64_t N = 2, C = 6, H = 13, W = 11, M = 9, K = 3, G = 3, S = 2, P = 2, D = 2;
  Floats x(static_cast<size_t>(N * C * H * W)), w(static_cast<size_t>(M * (C / G) * K * K)), b(M);
  for (float& v : x) v = dist(rng);
  for (float& v : w) v = dist(rng);
  for (float& v : b) v = dist(rng);
  const int64_t OH = 1 + (H + 2 * P - ((K - 1) * D + 1)) / S, OW = 1 + (W + 2 * P - ((K - 1) * D + 1)) / S;
  NodeCase c{OpKind::Conv, kOpset};
  c.inputs = {make<float>({N, C, H, W}, x), make<float>({M, C / G, K, K}, w), make<float>({M}, b)};
  c.attrs = {{"group", G}, {"strides", Ints{S, S}}, {"pads", Ints{P, P, P, P}}, {"dilations", Ints{D, D}}};
  const int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  Shape shape;
  const Floats one = run_f32(c, &shape);
  omp_set_num_threads(2);
  const Floats two = run_f32(c);
  omp_set_num_threads(saved);
  EXPECT_EQ(shape, (Shape{N, M, OH, OW}));
  ASSERT_EQ(one.size(), two.size());
  for (size_t i = 0; i < one.size(); ++i) ASSERT_EQ(std::memcmp(&one[i], &two[i], sizeof(float)), 0) << i;
  expect_near_all(one, naive_conv2d(x, w, b, N, C, H, W, M, K, K, G, S, P, D, OH, OW), 1e-6f);
}

// Random geometries (1-D to 3-D, groups, strides, dilations, asymmetric pads, odd sizes)
// against a naive loop over every output and every tap with a bounds check. Configs with
// a kernel larger than the padded input must be rejected with invalid_input.
TEST(RefConv, RandomGeometriesMatchNaiveLoops) {
  std::mt19937 rng(99);
  auto pick = [&](int lo, int hi) { return static_cast<int64_t>(std::uniform_int_distribution<int>(lo, hi)(rng)); };
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  int checked = 0, rejected = 0;
  for (int iter = 0; iter < 300; ++iter) {
    const int rank = static_cast<int>(pick(1, 3));
    const int64_t group = pick(1, 3), cg = pick(1, 2), mg = pick(1, 2), batch = pick(1, 2);
    const int64_t C = group * cg, M = group * mg;
    int64_t in[3] = {1, 1, 1}, k[3] = {1, 1, 1}, st[3] = {1, 1, 1}, dl[3] = {1, 1, 1}, pb[3] = {0, 0, 0},
            pe[3] = {0, 0, 0}, out[3] = {1, 1, 1};
    Shape xs{batch, C}, ws{M, cg};
    Ints strides, dilations, pads_b, pads_e;
    bool too_big = false;
    for (int j = 3 - rank; j < 3; ++j) {
      in[j] = pick(1, 7);
      k[j] = pick(1, 3);
      st[j] = pick(1, 3);
      dl[j] = pick(1, 2);
      pb[j] = pick(0, 2);
      pe[j] = pick(0, 2);
      const int64_t span = in[j] + pb[j] + pe[j] - ((k[j] - 1) * dl[j] + 1);
      too_big = too_big || span < 0;
      out[j] = span < 0 ? 0 : 1 + span / st[j];
      xs.push_back(in[j]);
      ws.push_back(k[j]);
      strides.push_back(st[j]);
      dilations.push_back(dl[j]);
      pads_b.push_back(pb[j]);
      pads_e.push_back(pe[j]);
    }
    Ints pads = pads_b;
    pads.insert(pads.end(), pads_e.begin(), pads_e.end());
    Floats x(static_cast<size_t>(shape_numel(xs))), w(static_cast<size_t>(shape_numel(ws))), b(static_cast<size_t>(M));
    for (float& v : x) v = dist(rng);
    for (float& v : w) v = dist(rng);
    for (float& v : b) v = dist(rng);
    NodeCase c{OpKind::Conv, kOpset};
    c.inputs = {make<float>(xs, x), make<float>(ws, w), make<float>({M}, b)};
    c.attrs = {{"group", group}, {"strides", strides}, {"dilations", dilations}, {"pads", pads}};
    auto res = run_node(c);
    if (too_big) {
      ASSERT_FALSE(res) << "iteration " << iter;
      EXPECT_EQ(res.status().code(), StatusCode::invalid_input);
      ++rejected;
      continue;
    }
    ASSERT_TRUE(res) << "iteration " << iter << ": " << res.status().message();
    const Floats got = values_of<float>((*res)[0]);
    Floats want;
    for (int64_t n = 0; n < batch; ++n)
      for (int64_t m = 0; m < M; ++m)
        for (int64_t o0 = 0; o0 < out[0]; ++o0)
          for (int64_t o1 = 0; o1 < out[1]; ++o1)
            for (int64_t o2 = 0; o2 < out[2]; ++o2) {
              double acc = 0.0;
              for (int64_t ci = 0; ci < cg; ++ci)
                for (int64_t k0 = 0; k0 < k[0]; ++k0)
                  for (int64_t k1 = 0; k1 < k[1]; ++k1)
                    for (int64_t k2 = 0; k2 < k[2]; ++k2) {
                      const int64_t i0 = o0 * st[0] - pb[0] + k0 * dl[0];
                      const int64_t i1 = o1 * st[1] - pb[1] + k1 * dl[1];
                      const int64_t i2 = o2 * st[2] - pb[2] + k2 * dl[2];
                      if (i0 < 0 || i0 >= in[0] || i1 < 0 || i1 >= in[1] || i2 < 0 || i2 >= in[2]) continue;
                      const int64_t xc = n * C + (m / mg) * cg + ci;
                      const float xv = x[static_cast<size_t>(((xc * in[0] + i0) * in[1] + i1) * in[2] + i2)];
                      const float wv = w[static_cast<size_t>((((m * cg + ci) * k[0] + k0) * k[1] + k1) * k[2] + k2)];
                      acc += static_cast<double>(xv) * static_cast<double>(wv);
                    }
              want.push_back(static_cast<float>(acc + static_cast<double>(b[static_cast<size_t>(m)])));
            }
    ASSERT_EQ(got.size(), want.size()) << "iteration " << iter;
    for (size_t i = 0; i < want.size(); ++i) ASSERT_NEAR(got[i], want[i], 1e-6f) << "iteration " << iter << " element " << i;
    ++checked;
  }
  EXPECT_GT(checked, 150);
  EXPECT_GT(rejected, 0);
}

// ---- Gemm / MatMul ------------------------------------------------------------------------

TEST(RefGemm, KnownProductsTransposesAlphaBeta) {
  // [[1 2 3] [4 5 6]] x [[7 8] [9 10] [11 12]] = [[58 64] [139 154]].
  const Tensor a = make<float>({2, 3}, {1, 2, 3, 4, 5, 6});
  const Tensor b = make<float>({3, 2}, {7, 8, 9, 10, 11, 12});
  const Tensor at = make<float>({3, 2}, {1, 4, 2, 5, 3, 6});
  const Tensor bt = make<float>({2, 3}, {7, 9, 11, 8, 10, 12});
  NodeCase c{OpKind::Gemm, kOpset};
  c.inputs = {a, b};
  EXPECT_EQ(run_f32(c), (Floats{58, 64, 139, 154}));
  c.inputs = {at, bt};
  c.attrs = {{"transA", int64_t{1}}, {"transB", int64_t{1}}};
  EXPECT_EQ(run_f32(c), (Floats{58, 64, 139, 154}));
  // alpha 2, beta 0.5, C = [10 -20] broadcast over rows: 2*58 + 5 = 121, 2*64 - 10 = 118, ...
  c.inputs = {a, b, make<float>({2}, {10, -20})};
  c.attrs = {{"alpha", 2.0f}, {"beta", 0.5f}};
  EXPECT_EQ(run_f32(c), (Floats{121, 118, 283, 298}));
  // C of shape [2, 1] (per row) and a scalar C.
  c.inputs[2] = make<float>({2, 1}, {1, 2});
  c.attrs = {};
  EXPECT_EQ(run_f32(c), (Floats{59, 65, 141, 156}));
  c.inputs[2] = Tensor::scalar<float>(-1.0f);
  EXPECT_EQ(run_f32(c), (Floats{57, 63, 138, 153}));
}

TEST(RefGemm, OddShapesAndErrors) {
  // M=1, K=13, N=3: column j of B is all (j + 1), A is all ones: y = 13 * (j + 1).
  Floats bv(13 * 3);
  for (size_t i = 0; i < bv.size(); ++i) bv[i] = static_cast<float>(i % 3 + 1);
  NodeCase c{OpKind::Gemm, kOpset};
  c.inputs = {make<float>({1, 13}, Floats(13, 1.0f)), make<float>({13, 3}, bv)};
  EXPECT_EQ(run_f32(c), (Floats{13, 26, 39}));
  c.inputs = {make<float>({1, 13}, Floats(13, 1.0f)), make<float>({12, 3}, Floats(36, 1.0f))};
  EXPECT_NE(fail_status(c).message().find("inner dimensions"), std::string::npos);
  c.inputs = {make<float>({1, 13}, Floats(13, 1.0f)), make<float>({13, 3}, bv), make<float>({2}, {1, 2})};
  EXPECT_NE(fail_status(c).message().find("'C'"), std::string::npos);
  c.inputs = {make<float>({13}, Floats(13, 1.0f)), make<float>({13, 3}, bv)};
  EXPECT_NE(fail_status(c).message().find("'A'"), std::string::npos);
}

TEST(RefMatMul, NumpySemantics) {
  NodeCase c{OpKind::MatMul, kOpset};
  // 1-D . 1-D = scalar: 1*4 + 2*5 + 3*6 = 32.
  c.inputs = {make<float>({3}, {1, 2, 3}), make<float>({3}, {4, 5, 6})};
  Shape s;
  EXPECT_EQ(run_f32(c, &s), (Floats{32}));
  EXPECT_EQ(s, Shape{});
  // [2] x [2, 3] -> [3]: [1 1] sums the rows.
  c.inputs = {make<float>({2}, {1, 1}), make<float>({2, 3}, {1, 2, 3, 4, 5, 6})};
  EXPECT_EQ(run_f32(c, &s), (Floats{5, 7, 9}));
  EXPECT_EQ(s, Shape{3});
  // [2, 3] x [3] -> [2].
  c.inputs = {make<float>({2, 3}, {1, 2, 3, 4, 5, 6}), make<float>({3}, {1, 0, -1})};
  EXPECT_EQ(run_f32(c, &s), (Floats{-2, -2}));
  EXPECT_EQ(s, Shape{2});
  // Batch broadcast: a [2, 1, 1, 2] (two row vectors), b [3, 2, 1] (three column vectors)
  // -> [2, 3, 1, 1], y[i, j] = a_i . b_j with a = ([1 0], [0 1]) and b = ([1 2], [3 4], [5 6]).
  c.inputs = {make<float>({2, 1, 1, 2}, {1, 0, 0, 1}), make<float>({3, 2, 1}, {1, 2, 3, 4, 5, 6})};
  EXPECT_EQ(run_f32(c, &s), (Floats{1, 3, 5, 2, 4, 6}));
  EXPECT_EQ(s, (Shape{2, 3, 1, 1}));
  c.inputs = {make<float>({2, 2, 3}, Floats(12, 1.0f)), make<float>({3, 3, 1}, Floats(9, 1.0f))};
  EXPECT_NE(fail_status(c).message().find("cannot be broadcast"), std::string::npos);
  c.inputs = {make<float>({2, 3}, Floats(6, 1.0f)), make<float>({2, 3}, Floats(6, 1.0f))};
  EXPECT_NE(fail_status(c).message().find("inner dimensions"), std::string::npos);
}

// ---- BatchNormalization -------------------------------------------------------------------

TEST(RefBatchNorm, InferenceFormAndLegacyAttributes) {
  // c0: (x - 1) / sqrt(4) * 1 + 0 -> [3 5] -> [1 2]; c1: (x - 0) / sqrt(0.25) * 2 + 1 ->
  // [1 -1] -> [5 -3] (epsilon 0).
  NodeCase c{OpKind::BatchNormalization, kOpset};
  c.inputs = {make<float>({1, 2, 1, 2}, {3, 5, 1, -1}), make<float>({2}, {1, 2}), make<float>({2}, {0, 1}),
              make<float>({2}, {1, 0}), make<float>({2}, {4, 0.25f})};
  c.attrs = {{"epsilon", 0.0f}};
  EXPECT_EQ(run_f32(c), (Floats{1, 2, 5, -3}));
  // Opset 6 with is_test and momentum (the pytorch-converted form) computes the same.
  c.opset = 6;
  c.attrs = {{"epsilon", 0.0f}, {"is_test", int64_t{1}}, {"momentum", 0.9f}};
  EXPECT_EQ(run_f32(c), (Floats{1, 2, 5, -3}));
  // Opset 7 with spatial = 0: one parameter per activation (C x 1 x 2 = 4 values).
  c.opset = 7;
  c.attrs = {{"epsilon", 0.0f}, {"spatial", int64_t{0}}};
  c.inputs = {make<float>({1, 2, 1, 2}, {3, 5, 1, -1}), make<float>({2, 1, 2}, {1, 1, 2, 2}),
              make<float>({2, 1, 2}, {0, 0, 1, 1}), make<float>({2, 1, 2}, {1, 1, 0, 0}),
              make<float>({2, 1, 2}, {4, 4, 0.25f, 0.25f})};
  EXPECT_EQ(run_f32(c), (Floats{1, 2, 5, -3}));
  // Default epsilon 1e-5: (3 - 1) / sqrt(4 + 1e-5).
  c.opset = 15;
  c.attrs = {};
  c.inputs = {make<float>({1, 1}, {3}), make<float>({1}, {1}), make<float>({1}, {0}), make<float>({1}, {1}),
              make<float>({1}, {4})};
  EXPECT_FLOAT_EQ(run_f32(c)[0], static_cast<float>(2.0 / std::sqrt(4.0 + 1e-5)));
}

TEST(RefBatchNorm, TrainingIsUnsupported) {
  NodeCase c{OpKind::BatchNormalization, kOpset};
  c.inputs = {make<float>({1, 1}, {3}), make<float>({1}, {1}), make<float>({1}, {0}), make<float>({1}, {1}),
              make<float>({1}, {4})};
  c.attrs = {{"training_mode", int64_t{1}}};
  Status s = fail_status(c);
  EXPECT_EQ(s.code(), StatusCode::unsupported);
  EXPECT_NE(s.message().find("'training_mode'"), std::string::npos) << s.message();
  c.attrs = {};
  c.outputs = 3;  // running mean and var requested
  s = fail_status(c);
  EXPECT_EQ(s.code(), StatusCode::unsupported);
  c.outputs = 1;
  c.inputs[1] = make<float>({2}, {1, 1});
  s = fail_status(c);
  EXPECT_NE(s.message().find("'scale'"), std::string::npos) << s.message();
}

// ---- pools --------------------------------------------------------------------------------

Floats iota_f(size_t n) {
  Floats v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<float>(i);
  return v;
}

TEST(RefMaxPool, ValuesIndicesAndStorageOrder) {
  // 4x4 of 0..15, 2x2 windows, stride 2: maxima at (1,1)=5, (1,3)=7, (3,1)=13, (3,3)=15.
  NodeCase c{OpKind::MaxPool, kOpset};
  c.inputs = {make<float>({1, 1, 4, 4}, iota_f(16))};
  c.attrs = {{"kernel_shape", Ints{2, 2}}, {"strides", Ints{2, 2}}};
  c.outputs = 2;
  auto out = run_node(c);
  ASSERT_TRUE(out) << out.status().message();
  EXPECT_EQ(values_of<float>((*out)[0]), (Floats{5, 7, 13, 15}));
  EXPECT_EQ((*out)[1].dtype, DType::s64);
  EXPECT_EQ(values_of<int64_t>((*out)[1]), (Ints{5, 7, 13, 15}));
  // Column-major indices: h + w * H -> (1,1)=5, (1,3)=13, (3,1)=7, (3,3)=15.
  c.attrs["storage_order"] = int64_t{1};
  out = run_node(c);
  ASSERT_TRUE(out);
  EXPECT_EQ(values_of<int64_t>((*out)[1]), (Ints{5, 13, 7, 15}));
  // Second image / channel: indices are flat over N x C x H x W.
  c.attrs.erase("storage_order");
  Floats two = iota_f(16);
  for (float v : iota_f(16)) two.push_back(-v);
  c.inputs = {make<float>({1, 2, 4, 4}, two)};
  out = run_node(c);
  ASSERT_TRUE(out);
  EXPECT_EQ(values_of<float>((*out)[0]), (Floats{5, 7, 13, 15, 0, -2, -8, -10}));
  EXPECT_EQ(values_of<int64_t>((*out)[1]), (Ints{5, 7, 13, 15, 16, 18, 24, 26}));
}

TEST(RefMaxPool, PaddingDilationTiesNanAndInt8) {
  // Pads are never picked: all-negative input with pads 1 keeps the input's maximum.
  NodeCase c{OpKind::MaxPool, kOpset};
  c.inputs = {make<float>({1, 1, 1, 3}, {-3, -1, -2})};
  c.attrs = {{"kernel_shape", Ints{1, 3}}, {"pads", Ints{0, 1, 0, 1}}};
  EXPECT_EQ(run_f32(c), (Floats{-1, -1, -1}));
  // Dilation 2 over [9 0 1 0 5]: window {9, 1, 5} -> 9.
  c.inputs = {make<float>({1, 1, 5}, {9, 0, 1, 0, 5})};
  c.attrs = {{"kernel_shape", Ints{3}}, {"dilations", Ints{2}}};
  EXPECT_EQ(run_f32(c), (Floats{9}));
  // Ties: the first element in window order wins (index 0, not 1).
  c.inputs = {make<float>({1, 1, 2}, {4, 4})};
  c.attrs = {{"kernel_shape", Ints{2}}};
  c.outputs = 2;
  auto out = run_node(c);
  ASSERT_TRUE(out);
  EXPECT_EQ(values_of<int64_t>((*out)[1]), (Ints{0}));
  // NaN propagates.
  c.inputs = {make<float>({1, 1, 3}, {1, std::numeric_limits<float>::quiet_NaN(), 2})};
  out = run_node(c);
  ASSERT_TRUE(out);
  EXPECT_TRUE(std::isnan(values_of<float>((*out)[0])[0]));
  EXPECT_TRUE(std::isnan(values_of<float>((*out)[0])[1]));
  EXPECT_EQ(values_of<int64_t>((*out)[1]), (Ints{1, 1}));
  // u8 and s8, saturating values: 255 / 127, and -128 with pads.
  c.outputs = 1;
  c.inputs = {make<uint8_t>({1, 1, 4}, {0, 255, 254, 3})};
  c.attrs = {{"kernel_shape", Ints{2}}, {"strides", Ints{2}}};
  auto u = run_node(c);
  ASSERT_TRUE(u) << u.status().message();
  EXPECT_EQ(values_of<uint8_t>((*u)[0]), (std::vector<uint8_t>{255, 254}));
  c.inputs = {make<int8_t>({1, 1, 3}, {-128, 127, -5})};
  c.attrs = {{"kernel_shape", Ints{2}}, {"pads", Ints{1, 1}}, {"strides", Ints{2}}};
  auto s8 = run_node(c);
  ASSERT_TRUE(s8) << s8.status().message();
  EXPECT_EQ(values_of<int8_t>((*s8)[0]), (std::vector<int8_t>{-128, 127}));
  c.inputs = {make<int32_t>({1, 1, 3}, {1, 2, 3})};
  EXPECT_EQ(fail_status(c).code(), StatusCode::unsupported);
}

TEST(RefPools, CeilModeWindowOutsideTheInput) {
  // ONNX 1.12 shapes keep a last window that starts in the end padding: in 2, k 2, s 2,
  // pads [0 1], ceil: 1 + ceil(1 / 2) = 2 outputs, the second reads no input element.
  NodeCase c{OpKind::MaxPool, kOpset};
  c.inputs = {make<float>({1, 1, 2}, {3, 5})};
  c.attrs = {{"kernel_shape", Ints{2}}, {"strides", Ints{2}}, {"pads", Ints{0, 1}}, {"ceil_mode", int64_t{1}}};
  c.outputs = 2;
  auto out = run_node(c);
  ASSERT_TRUE(out) << out.status().message();
  const Floats y = values_of<float>((*out)[0]);
  ASSERT_EQ(y.size(), 2u);
  EXPECT_EQ(y[0], 5.0f);
  EXPECT_TRUE(std::isnan(y[1]));  // f32: NaN, as ONNX's numpy reference (nanmax of nothing)
  EXPECT_EQ(values_of<int64_t>((*out)[1]), (Ints{1, -1}));
  c.inputs = {make<uint8_t>({1, 1, 2}, {3, 5})};
  c.outputs = 1;
  auto u = run_node(c);
  ASSERT_TRUE(u) << u.status().message();
  EXPECT_EQ(values_of<uint8_t>((*u)[0]), (std::vector<uint8_t>{5, 0}));  // u8: the lowest value
  // AveragePool: 0/0 excluding pads; including them the window is one pad element: 0/1.
  NodeCase a{OpKind::AveragePool, kOpset};
  a.inputs = {make<float>({1, 1, 2}, {3, 5})};
  a.attrs = c.attrs;
  const Floats avg = run_f32(a);
  ASSERT_EQ(avg.size(), 2u);
  EXPECT_EQ(avg[0], 4.0f);
  EXPECT_TRUE(std::isnan(avg[1]));
  a.attrs["count_include_pad"] = int64_t{1};
  EXPECT_EQ(run_f32(a), (Floats{4, 0}));
}

// Random pools (1-D to 3-D, strides, dilations for max, pads smaller than the kernel,
// ceil_mode, count_include_pad) against naive loops: every tap o * s - pad + t * d is
// checked against the input; for averages with count_include_pad, a tap counts while it
// lies before the end of the end padding.
TEST(RefPools, RandomGeometriesMatchNaiveLoops) {
  std::mt19937 rng(5);
  auto pick = [&](int lo, int hi) { return static_cast<int64_t>(std::uniform_int_distribution<int>(lo, hi)(rng)); };
  std::uniform_real_distribution<float> dist(-4.0f, 4.0f);
  int checked = 0;
  for (int iter = 0; iter < 300; ++iter) {
    const bool is_max = iter % 2 == 0;
    const bool ceil_mode = pick(0, 1) == 1, include_pad = pick(0, 1) == 1;
    const int rank = static_cast<int>(pick(1, 3));
    const int64_t planes = pick(1, 3);
    int64_t in[3] = {1, 1, 1}, k[3] = {1, 1, 1}, st[3] = {1, 1, 1}, dl[3] = {1, 1, 1}, pb[3] = {0, 0, 0},
            pe[3] = {0, 0, 0}, out[3] = {1, 1, 1};
    Shape xs{1, planes};
    Ints ks, strides, dilations, pads_b, pads_e;
    bool valid = true;
    for (int j = 3 - rank; j < 3; ++j) {
      in[j] = pick(1, 7);
      k[j] = pick(1, 3);
      st[j] = pick(1, 3);
      dl[j] = is_max ? pick(1, 2) : 1;
      const int64_t ext = (k[j] - 1) * dl[j] + 1;
      pb[j] = std::min<int64_t>(pick(0, 2), ext - 1);
      pe[j] = std::min<int64_t>(pick(0, 2), ext - 1);
      const int64_t span = in[j] + pb[j] + pe[j] - ext;
      valid = valid && span >= 0;
      out[j] = span < 0 ? 0 : 1 + (ceil_mode ? (span + st[j] - 1) / st[j] : span / st[j]);
      xs.push_back(in[j]);
      ks.push_back(k[j]);
      strides.push_back(st[j]);
      dilations.push_back(dl[j]);
      pads_b.push_back(pb[j]);
      pads_e.push_back(pe[j]);
    }
    if (!valid) continue;
    Ints pads = pads_b;
    pads.insert(pads.end(), pads_e.begin(), pads_e.end());
    Floats x(static_cast<size_t>(shape_numel(xs)));
    for (float& v : x) v = std::round(dist(rng) * 4.0f) / 4.0f;  // ties in max are likely
    NodeCase c{is_max ? OpKind::MaxPool : OpKind::AveragePool, kOpset};
    c.inputs = {make<float>(xs, x)};
    c.attrs = {{"kernel_shape", ks}, {"strides", strides}, {"pads", pads}, {"ceil_mode", int64_t{ceil_mode}}};
    if (is_max)
      c.attrs["dilations"] = dilations;
    else
      c.attrs["count_include_pad"] = int64_t{include_pad};
    auto res = run_node(c);
    ASSERT_TRUE(res) << "iteration " << iter << ": " << res.status().message();
    const Floats got = values_of<float>((*res)[0]);
    Floats want;
    for (int64_t p = 0; p < planes; ++p)
      for (int64_t o0 = 0; o0 < out[0]; ++o0)
        for (int64_t o1 = 0; o1 < out[1]; ++o1)
          for (int64_t o2 = 0; o2 < out[2]; ++o2) {
            double sum = 0.0, best = -std::numeric_limits<double>::infinity();
            int64_t inside = 0, counted = 0;
            for (int64_t t0 = 0; t0 < k[0]; ++t0)
              for (int64_t t1 = 0; t1 < k[1]; ++t1)
                for (int64_t t2 = 0; t2 < k[2]; ++t2) {
                  const int64_t i[3] = {o0 * st[0] - pb[0] + t0 * dl[0], o1 * st[1] - pb[1] + t1 * dl[1],
                                        o2 * st[2] - pb[2] + t2 * dl[2]};
                  bool in_input = true, before_end_pad = true;
                  for (int j = 0; j < 3; ++j) {
                    in_input = in_input && i[j] >= 0 && i[j] < in[j];
                    before_end_pad = before_end_pad && i[j] < in[j] + pe[j];
                  }
                  if (before_end_pad) ++counted;
                  if (!in_input) continue;
                  ++inside;
                  const double v = x[static_cast<size_t>(((p * in[0] + i[0]) * in[1] + i[1]) * in[2] + i[2])];
                  sum += v;
                  best = std::max(best, v);
                }
            if (is_max)
              want.push_back(inside ? static_cast<float>(best) : std::numeric_limits<float>::quiet_NaN());
            else
              want.push_back(static_cast<float>(sum / static_cast<double>(include_pad ? counted : inside)));
          }
    ASSERT_EQ(got.size(), want.size()) << "iteration " << iter;
    for (size_t i = 0; i < want.size(); ++i) {
      if (std::isnan(want[i])) {
        ASSERT_TRUE(std::isnan(got[i])) << "iteration " << iter << " element " << i;
      } else {
        ASSERT_NEAR(got[i], want[i], 1e-6f) << "iteration " << iter << " element " << i;
      }
    }
    ++checked;
  }
  EXPECT_GT(checked, 200);
}

TEST(RefAveragePool, CountIncludePadAndCeilMode) {
  // 3x3 ones, 3x3 window, pads 1: excluding pads every mean is 1; including them the
  // corners see 4/9, the edges 6/9, the centre 9/9.
  NodeCase c{OpKind::AveragePool, kOpset};
  c.inputs = {make<float>({1, 1, 3, 3}, Floats(9, 1.0f))};
  c.attrs = {{"kernel_shape", Ints{3, 3}}, {"pads", Ints{1, 1, 1, 1}}};
  EXPECT_EQ(run_f32(c), Floats(9, 1.0f));
  c.attrs["count_include_pad"] = int64_t{1};
  expect_near_all(run_f32(c), {4.f / 9, 6.f / 9, 4.f / 9, 6.f / 9, 1, 6.f / 9, 4.f / 9, 6.f / 9, 4.f / 9});
  // ceil_mode over [1 2 3 4 5], k 2, s 2: windows [1 2], [3 4], [5] -> 1.5, 3.5, 5; the
  // last window overhangs the input and the overhang never counts, even with
  // count_include_pad.
  c.inputs = {make<float>({1, 1, 5}, {1, 2, 3, 4, 5})};
  c.attrs = {{"kernel_shape", Ints{2}}, {"strides", Ints{2}}, {"ceil_mode", int64_t{1}}};
  EXPECT_EQ(run_f32(c), (Floats{1.5f, 3.5f, 5}));
  c.attrs["count_include_pad"] = int64_t{1};
  EXPECT_EQ(run_f32(c), (Floats{1.5f, 3.5f, 5}));
  // A pad at the end counts with count_include_pad: [5, pad] -> 5 / 2.
  c.attrs = {{"kernel_shape", Ints{2}}, {"strides", Ints{2}}, {"pads", Ints{0, 1}}, {"count_include_pad", int64_t{1}}};
  EXPECT_EQ(run_f32(c), (Floats{1.5f, 3.5f, 2.5f}));
  // 3-D: 2x2x2 window over 0..7 -> mean 3.5.
  c.inputs = {make<float>({1, 1, 2, 2, 2}, iota_f(8))};
  c.attrs = {{"kernel_shape", Ints{2, 2, 2}}};
  EXPECT_EQ(run_f32(c), (Floats{3.5f}));
  c.inputs = {make<uint8_t>({1, 1, 2}, {1, 2})};
  c.attrs = {{"kernel_shape", Ints{2}}};
  EXPECT_EQ(fail_status(c).code(), StatusCode::unsupported);
}

TEST(RefGlobalAveragePool, AnyRank) {
  NodeCase c{OpKind::GlobalAveragePool, kOpset};
  c.inputs = {make<float>({1, 2, 1, 3}, {1, 2, 3, -3, 0, 0})};
  Shape s;
  EXPECT_EQ(run_f32(c, &s), (Floats{2, -1}));
  EXPECT_EQ(s, (Shape{1, 2, 1, 1}));
  c.inputs = {make<float>({2, 1, 3}, {1, 1, 4, 0, 0, 3})};
  EXPECT_EQ(run_f32(c, &s), (Floats{2, 1}));
  EXPECT_EQ(s, (Shape{2, 1, 1}));
  c.inputs = {make<float>({1, 1, 2, 2, 2}, iota_f(8))};
  EXPECT_EQ(run_f32(c, &s), (Floats{3.5f}));
  EXPECT_EQ(s, (Shape{1, 1, 1, 1, 1}));
}

// ---- Softmax ------------------------------------------------------------------------------

TEST(RefSoftmax, UniformStableAndAxisSemanticsByOpset) {
  NodeCase c{OpKind::Softmax, kOpset};
  c.inputs = {make<float>({1, 3}, {7, 7, 7})};
  expect_near_all(run_f32(c), Floats(3, 1.0f / 3.0f), 1e-7f);
  // Large logits: exp would overflow without subtracting the maximum.
  c.inputs = {make<float>({2}, {1000, 1000})};
  EXPECT_EQ(run_f32(c), (Floats{0.5f, 0.5f}));
  // [0, ln 3] -> [1/4, 3/4].
  c.inputs = {make<float>({2}, {0, std::log(3.0f)})};
  expect_near_all(run_f32(c), {0.25f, 0.75f}, 1e-7f);
  // Zeros [2, 2] with axis 0: opset 13 normalises each column (0.5 each); opset 11 coerces
  // to [1, 4] and normalises all four (0.25 each).
  c.inputs = {make<float>({2, 2}, Floats(4, 0.0f))};
  c.attrs = {{"axis", int64_t{0}}};
  c.opset = 13;
  EXPECT_EQ(run_f32(c), Floats(4, 0.5f));
  c.opset = 11;
  EXPECT_EQ(run_f32(c), Floats(4, 0.25f));
  // Default axis: opset 11 is 1 (rows of [2, 2] -> 0.5), opset 13 is -1.
  c.attrs = {};
  c.inputs = {make<float>({2, 1, 2}, Floats(4, 0.0f))};
  EXPECT_EQ(run_f32(c), Floats(4, 0.5f));  // opset 11: [2, 2] rows
  c.attrs = {{"axis", int64_t{3}}};
  EXPECT_NE(fail_status(c).message().find("'axis'"), std::string::npos);
}

// ---- ReduceMean ---------------------------------------------------------------------------

TEST(RefReduceMean, AxesKeepdimsNegativeAndAll) {
  NodeCase c{OpKind::ReduceMean, kOpset};
  c.opset = 13;
  c.inputs = {make<float>({2, 3}, {1, 2, 3, 4, 5, 6})};
  Shape s;
  c.attrs = {{"axes", Ints{1}}, {"keepdims", int64_t{0}}};
  EXPECT_EQ(run_f32(c, &s), (Floats{2, 5}));
  EXPECT_EQ(s, Shape{2});
  c.attrs = {{"axes", Ints{-2}}};
  EXPECT_EQ(run_f32(c, &s), (Floats{2.5f, 3.5f, 4.5f}));
  EXPECT_EQ(s, (Shape{1, 3}));
  c.attrs = {};
  EXPECT_EQ(run_f32(c, &s), (Floats{3.5f}));
  EXPECT_EQ(s, (Shape{1, 1}));
  c.attrs = {{"keepdims", int64_t{0}}};
  EXPECT_EQ(run_f32(c, &s), (Floats{3.5f}));
  EXPECT_EQ(s, Shape{});
  c.attrs = {{"axes", Ints{1, -1}}};
  EXPECT_NE(fail_status(c).message().find("'axes'"), std::string::npos);
  c.attrs = {{"axes", Ints{2}}};
  EXPECT_NE(fail_status(c).message().find("'axes'"), std::string::npos);
}

// ---- ONNX node tests ----------------------------------------------------------------------

// ONNX's backend node tests of this file's ops, plus the pytorch-converted and
// pytorch-operator ones, which use opset 6 forms (Gemm `broadcast`, BatchNormalization
// `is_test`, Softmax coerced to 2-D). Excluded by name:
//   _expanded: the function-expanded Softmax graphs are made of ReduceMax/Exp/ReduceSum,
//              ops qdrift does not have (the non-expanded tests cover Softmax);
//   _training_mode: BatchNormalization training (checked separately: must be unsupported).
std::vector<std::string> nn_node_tests() {
  std::vector<std::string> all;
  for (const auto& name : list_node_tests(
           kOnnxNodeTests,
           {"test_conv", "test_basic_conv", "test_gemm", "test_matmul", "test_batchnorm", "test_globalaveragepool",
            "test_averagepool", "test_maxpool", "test_softmax", "test_reduce_mean"},
           {"_expanded", "_training_mode"}))
    all.push_back("node/" + name);
  for (const auto& name : list_node_tests(
           kOnnxTestData / "pytorch-converted",
           {"test_Conv1d*", "test_Conv2d*", "test_Conv3d*", "test_AvgPool*", "test_MaxPool*", "test_BatchNorm*",
            "test_Softmax*", "test_softmax_*", "test_Linear*"}))
    all.push_back("pytorch-converted/" + name);
  for (const auto& name : list_node_tests(
           kOnnxTestData / "pytorch-operator",
           {"test_operator_conv*", "test_operator_maxpool*", "test_operator_reduced_mean*", "test_operator_addmm*",
            "test_operator_mm*"},
           {"convtranspose"}))
    all.push_back("pytorch-operator/" + name);
  return all;
}

class OnnxNnNodeTest : public ::testing::TestWithParam<std::string> {};

TEST_P(OnnxNnNodeTest, MatchesExpectedOutputs) {
  const fs::path dir = kOnnxTestData / GetParam();
  // Some pytorch tests wrap the op in ops of other families (Unsqueeze/Squeeze, Constant,
  // Transpose): the reference must run those too.
  auto graph = load_onnx((dir / "model.onnx").string());
  ASSERT_TRUE(graph) << graph.status().message();
  const auto missing = Executor::unsupported_nodes(*graph, ref_kernel_table());
  ASSERT_TRUE(missing.empty()) << "no reference kernel for " << missing[0];
  EXPECT_TRUE(run_node_test_dir(dir));
}

INSTANTIATE_TEST_SUITE_P(Onnx, OnnxNnNodeTest, ::testing::ValuesIn(nn_node_tests()),
                         node_test_param_name);

TEST(OnnxNnNodeTests, FoundTheExpectedNumber) {
  // Guards against the test data moving or a prefix matching nothing: 67 node tests, 51
  // pytorch-converted, 6 pytorch-operator in libonnx-testdata 1.12.
  EXPECT_EQ(nn_node_tests().size(), 124u);
}

TEST(OnnxNnNodeTests, BatchNormTrainingModeIsUnsupported) {
  for (const char* name : {"test_batchnorm_epsilon_training_mode", "test_batchnorm_example_training_mode"}) {
    auto graph = load_onnx((kOnnxNodeTests / name / "model.onnx").string());
    ASSERT_TRUE(graph) << graph.status().message();
    auto ex = Executor::create(*graph, ref_kernel_table());
    ASSERT_FALSE(ex) << name;
    EXPECT_EQ(ex.status().code(), StatusCode::unsupported) << ex.status().message();
  }
}

}  // namespace
}  // namespace qdrift::test
