// The reference's fast Conv, Gemm and MatMul (kernels/ref/nn_fast.cpp, oneDNN fp32) against
// the straightforward kernels they replace (ref_naive_kernel_table(), nn.cpp: double
// accumulation in index order), and the vectorized QuantizeLinear/DequantizeLinear loops
// against the scalar formulas of core/quant_math.h.
//
// "Within fp32 reassociation error" is checked with the classic bound for a sum of K
// products computed in any order in fp32: |fast - exact| <= K * u * sum |a_i * b_i|
// (u = 2^-24), plus one rounding of the naive result; sum |a_i * b_i| is the naive kernel
// run on the absolute values of the inputs. After a QuantizeLinear the codes may differ by
// one step, and only where the naive value lies within that bound of a rounding tie.
#include <cmath>
#include <cstring>
#include <random>

#include <gtest/gtest.h>

#include "core/onnx_loader.h"
#include "core/qdq_params.h"
#include "core/tensor_io.h"
#include "tests/unit/ref_test_helpers.h"

namespace qdrift::test {
namespace {

constexpr double kUnit = 1.0 / 16777216.0;  // 2^-24, fp32 unit roundoff
using Ints = std::vector<int64_t>;
using Floats = std::vector<float>;

Tensor abs_of(const Tensor& t) {
  Tensor a = t;
  if (a.dtype == DType::f32)
    for (float& v : a.values<float>()) v = std::fabs(v);
  return a;
}

// Reduction length per output element of a Conv/Gemm/MatMul node on `inputs`.
int64_t reduction_length(OpKind kind, const std::vector<std::optional<Tensor>>& in, const Node* node) {
  if (kind == OpKind::Conv) return shape_numel(in[1]->shape) / in[1]->shape[0] + 1;  // + bias
  if (kind == OpKind::MatMul) return in[0]->shape.back() + 1;
  const bool ta = node && node->attr_int("transA", 0) != 0;
  return (ta ? in[0]->shape[0] : in[0]->shape[1]) + 2;  // + alpha scaling and C
}

struct Compared {
  Tensor naive, fast, bound;  // bound: the allowed |fast - naive| per element
};

// Runs case `c` on both tables (and the naive one on |inputs| for the bound).
Compared compare_case(NodeCase c, const Node* node = nullptr) {
  Compared r;
  c.table = &ref_naive_kernel_table();
  auto naive = run1(c);
  EXPECT_TRUE(naive) << naive.status().message();
  c.table = &ref_kernel_table();
  auto fast = run1(c);
  EXPECT_TRUE(fast) << fast.status().message();
  NodeCase a = c;
  a.table = &ref_naive_kernel_table();
  for (auto& t : a.inputs)
    if (t) t = abs_of(*t);
  if (a.attrs.count("alpha")) a.attrs["alpha"] = std::fabs(std::get<float>(a.attrs["alpha"]));
  if (a.attrs.count("beta")) a.attrs["beta"] = std::fabs(std::get<float>(a.attrs["beta"]));
  auto mag = run1(a);
  EXPECT_TRUE(mag) << mag.status().message();
  if (!naive || !fast || !mag) return r;
  r.naive = *naive;
  r.fast = *fast;
  r.bound = *mag;
  const double k = static_cast<double>(reduction_length(c.kind, c.inputs, node));
  float* b = r.bound.data<float>();
  const float* n = r.naive.data<float>();
  for (int64_t i = 0; i < r.bound.numel(); ++i)
    b[i] = static_cast<float>((k + 1) * kUnit * b[i] + kUnit * std::fabs(n[i]) + 1e-30);
  return r;
}

// Elements where the fast kernel's bits differ from the naive one's: proof that the fast
// path ran (fp32 accumulation rarely reproduces double-accumulated results bit for bit).
int64_t g_differing_bits = 0;

::testing::AssertionResult within_bound(const Compared& r) {
  if (r.naive.shape != r.fast.shape)
    return ::testing::AssertionFailure() << "shape " << shape_str(r.fast.shape) << " != " << shape_str(r.naive.shape);
  const float* n = r.naive.data<float>();
  const float* f = r.fast.data<float>();
  const float* b = r.bound.data<float>();
  for (int64_t i = 0; i < r.naive.numel(); ++i) {
    if (std::isnan(n[i]) && std::isnan(f[i])) continue;
    g_differing_bits += std::memcmp(&n[i], &f[i], sizeof(float)) != 0;
    if (!(std::fabs(static_cast<double>(f[i]) - n[i]) <= b[i]))
      return ::testing::AssertionFailure() << "element " << i << ": fast " << f[i] << ", naive " << n[i]
                                           << ", allowed difference " << b[i];
  }
  return ::testing::AssertionSuccess();
}

std::mt19937 rng(20261203);
Floats random_values(int64_t n, float lo = -1.0f, float hi = 1.0f) {
  std::uniform_real_distribution<float> d(lo, hi);
  Floats v(static_cast<size_t>(n));
  for (float& x : v) x = d(rng);
  return v;
}
int64_t pick(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); }

// ---- random cases ----------------------------------------------------------------------

TEST(RefFastConv, RandomGeometriesWithinReassociationErrorOfNaive) {
  int checked = 0, pointwise = 0;
  g_differing_bits = 0;
  for (int iter = 0; iter < 80; ++iter) {
    const int rank = static_cast<int>(pick(1, 3));
    const bool depthwise = pick(0, 3) == 0;
    const int64_t group = depthwise ? pick(2, 17) : pick(1, 3);
    const int64_t cg = depthwise ? 1 : pick(1, 19), mg = depthwise ? 1 : pick(1, 13), batch = pick(1, 2);
    const int64_t C = group * cg, M = group * mg;
    const bool one_by_one = pick(0, 1) == 0;
    Shape xs{batch, C}, ws{M, cg};
    Ints strides, dilations, pb, pe;
    bool fits = true;
    for (int j = 0; j < rank; ++j) {
      const int64_t in = pick(1, rank == 3 ? 6 : 13), k = one_by_one ? 1 : pick(1, 3);
      const int64_t s = one_by_one ? 1 : pick(1, 2), d = one_by_one ? 1 : pick(1, 2);
      const int64_t b0 = one_by_one ? 0 : pick(0, 2), e0 = one_by_one ? 0 : pick(0, 2);
      fits = fits && in + b0 + e0 >= (k - 1) * d + 1;
      xs.push_back(in);
      ws.push_back(k);
      strides.push_back(s);
      dilations.push_back(d);
      pb.push_back(b0);
      pe.push_back(e0);
    }
    if (!fits) continue;
    Ints pads = pb;
    pads.insert(pads.end(), pe.begin(), pe.end());
    NodeCase c{OpKind::Conv, 17};
    const bool bias = pick(0, 1) == 1;
    c.inputs = {make<float>(xs, random_values(shape_numel(xs))), make<float>(ws, random_values(shape_numel(ws)))};
    if (bias) c.inputs.push_back(make<float>({M}, random_values(M)));
    c.attrs = {{"group", group}, {"strides", strides}, {"dilations", dilations}, {"pads", pads}};
    c.inputs_as_initializers = pick(0, 1) == 1;  // constant weights: reordered once at creation
    EXPECT_TRUE(within_bound(compare_case(c))) << "iteration " << iter << " x " << shape_str(xs) << " w "
                                               << shape_str(ws) << " group " << group;
    ++checked;
    pointwise += one_by_one && group == 1;
  }
  EXPECT_GT(checked, 50);
  EXPECT_GT(pointwise, 3);
  EXPECT_GT(g_differing_bits, 0) << "the fast kernel never ran: every result has the naive kernel's bits";
}

TEST(RefFastConv, RerunsWithOtherShapesAndBiasPresence) {
  // One kernel, several input shapes and with/without bias: the plan is rebuilt each time.
  for (int64_t h : {5, 9, 5}) {
    NodeCase c{OpKind::Conv, 17};
    c.inputs = {make<float>({1, 4, h, h}, random_values(4 * h * h)), make<float>({6, 4, 3, 3}, random_values(216))};
    c.attrs = {{"pads", Ints{1, 1, 1, 1}}};
    EXPECT_TRUE(within_bound(compare_case(c)));
    c.inputs.push_back(make<float>({6}, random_values(6)));
    EXPECT_TRUE(within_bound(compare_case(c)));
  }
}

TEST(RefFastGemm, RandomShapesTransposesAlphaBetaAndBroadcastC) {
  g_differing_bits = 0;
  for (int iter = 0; iter < 30; ++iter) {
    const int64_t m = pick(1, 40), k = pick(1, 70), n = pick(1, 40);
    const bool ta = pick(0, 1), tb = pick(0, 1);
    NodeCase c{OpKind::Gemm, 13};
    const Shape as = ta ? Shape{k, m} : Shape{m, k}, bs = tb ? Shape{n, k} : Shape{k, n};
    c.inputs = {make<float>(as, random_values(m * k)), make<float>(bs, random_values(k * n))};
    const int c_form = static_cast<int>(pick(0, 4));  // none, [M,N], [N], [M,1], scalar
    const Shape cs = c_form == 1 ? Shape{m, n} : c_form == 2 ? Shape{n} : c_form == 3 ? Shape{m, 1} : Shape{};
    if (c_form != 0) c.inputs.push_back(make<float>(cs, random_values(shape_numel(cs))));
    c.attrs = {{"transA", int64_t{ta}}, {"transB", int64_t{tb}}, {"alpha", pick(0, 1) ? 1.0f : -0.75f},
               {"beta", pick(0, 1) ? 1.0f : 2.5f}};
    EXPECT_TRUE(within_bound(compare_case(c))) << "iteration " << iter;
  }
  EXPECT_GT(g_differing_bits, 0) << "the fast kernel never ran";
}

TEST(RefFastGemm, BetaZeroWithCIsZeroTimesC) {
  // beta = 0 with an infinite C: ONNX computes 0 * inf = NaN, which sgemm would skip.
  NodeCase c{OpKind::Gemm, 13};
  c.inputs = {make<float>({1, 2}, {1, 2}), make<float>({2, 1}, {3, 4}),
              make<float>({1, 1}, {std::numeric_limits<float>::infinity()})};
  c.attrs = {{"beta", 0.0f}};
  auto y = run1(c);
  ASSERT_TRUE(y) << y.status().message();
  EXPECT_TRUE(std::isnan(y->data<float>()[0]));
}

TEST(RefFastMatMul, BatchedBroadcastAndVectors) {
  const std::vector<std::pair<Shape, Shape>> cases = {
      {{3, 5}, {5, 4}},       {{2, 3, 5}, {5, 4}},    {{5}, {5, 4}},       {{3, 5}, {5}},
      {{2, 1, 3, 5}, {4, 5, 2}}, {{1, 7, 33}, {3, 33, 9}}, {{6}, {6}},       {{4, 1, 5}, {1, 5, 3}}};
  for (const auto& [as, bs] : cases) {
    NodeCase c{OpKind::MatMul, 13};
    c.inputs = {make<float>(as, random_values(shape_numel(as))), make<float>(bs, random_values(shape_numel(bs)))};
    EXPECT_TRUE(within_bound(compare_case(c))) << shape_str(as) << " x " << shape_str(bs);
  }
}

// ---- ONNX node tests -----------------------------------------------------------------------

// Every Conv/Gemm/MatMul node test: the fast table passes it (ONNX's tolerance), and agrees
// with the naive table within the reassociation bound on the test's own inputs.
TEST(RefFastNodeTests, ConvGemmMatMulAgreeWithNaive) {
  std::vector<fs::path> dirs;
  for (const auto& n : list_node_tests(kOnnxNodeTests, {"test_conv", "test_basic_conv", "test_gemm", "test_matmul"}))
    dirs.push_back(kOnnxNodeTests / n);
  for (const auto& n :
       list_node_tests(kOnnxTestData / "pytorch-converted", {"test_Conv1d*", "test_Conv2d*", "test_Conv3d*", "test_Linear*"}))
    dirs.push_back(kOnnxTestData / "pytorch-converted" / n);
  ASSERT_GT(dirs.size(), 30u);
  int compared = 0;
  for (const fs::path& dir : dirs) {
    EXPECT_TRUE(run_node_test_dir(dir, ref_naive_kernel_table())) << dir;
    EXPECT_TRUE(run_node_test_dir(dir, ref_kernel_table())) << dir;
    auto g = load_onnx((dir / "model.onnx").string());
    ASSERT_TRUE(g) << g.status().message();
    if (g->nodes.size() != 1) continue;  // wrapped in other ops: the whole-test check above covers it
    const Node& node = g->nodes[0];
    if (node.kind != OpKind::Conv && node.kind != OpKind::Gemm && node.kind != OpKind::MatMul) continue;
    NodeCase c{node.kind, g->opset};
    c.attrs = node.attrs;
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      if (node.inputs[i] == kNoValue) {
        c.inputs.push_back(std::nullopt);
        continue;
      }
      if (const Tensor* t = constant_tensor(*g, node.inputs[i])) {
        c.inputs.push_back(*t);
        continue;
      }
      const auto pos = std::find(g->inputs.begin(), g->inputs.end(), node.inputs[i]) - g->inputs.begin();
      auto t = read_pb(dir / "test_data_set_0" / fmt::format("input_{}.pb", pos));
      ASSERT_TRUE(t) << t.status().message();
      c.inputs.push_back(*t);
    }
    EXPECT_TRUE(within_bound(compare_case(c, &node))) << dir;
    ++compared;
  }
  EXPECT_GT(compared, 30);
}

// ---- bundled models ------------------------------------------------------------------------

std::vector<std::pair<fs::path, fs::path>> bundled_models() {
  const fs::path root = fs::path(QDRIFT_SOURCE_DIR) / "testdata";
  std::vector<std::pair<fs::path, fs::path>> v = {{root / "mobilenet_tiny_qdq.onnx", root / "mobilenet_tiny_input.npy"}};
  for (const char* name : {"bn_conv_u8", "conv_chain_u8", "depthwise_s8", "gemm_concat_s8", "paddle_style_s8",
                           "residual_u8"})
    v.push_back({root / "qdq" / fmt::format("{}.onnx", name), root / "qdq" / fmt::format("{}_input.npy", name)});
  return v;
}

// Every tensor of one run, by value id.
std::vector<Tensor> run_recording(const Graph& g, const KernelTable& table, const Tensor& input) {
  std::vector<Tensor> all(g.values.size());
  auto ex = Executor::create(g, table);
  EXPECT_TRUE(ex) << ex.status().message();
  if (!ex) return all;
  const std::vector<Tensor> inputs = {input};
  auto out = ex->run(inputs, [&](const Node&, size_t, const Value& v, const Tensor& t) {
    all[static_cast<size_t>(g.find_value(v.name))] = t;
  });
  EXPECT_TRUE(out) << out.status().message();
  return all;
}

// On each bundled model, node by node on the naive run's own inputs: every Conv/Gemm/MatMul
// output within the bound, and the QuantizeLinear that reads it (directly) at most one step
// off, only where the naive value is within the bound of a tie. Then the whole fast run:
// same output dtype and shape, top-1 agreeing.
TEST(RefFastBundledModels, NodeByNodeWithinBoundAndOneStepAtTies) {
  int nodes = 0, quantized = 0;
  for (const auto& [model, input_path] : bundled_models()) {
    SCOPED_TRACE(model.filename().string());
    auto g = load_onnx(model.string());
    ASSERT_TRUE(g) << g.status().message();
    auto input = read_tensor_file(input_path.string());
    ASSERT_TRUE(input) << input.status().message();
    const std::vector<Tensor> naive = run_recording(*g, ref_naive_kernel_table(), *input);
    auto value_of = [&](ValueId v) -> std::optional<Tensor> {
      if (v == kNoValue) return std::nullopt;
      if (const Tensor* t = constant_tensor(*g, v)) return *t;
      if (g->value(v).producer == kNoNode) return *input;
      return naive[static_cast<size_t>(v)];
    };
    for (const Node& node : g->nodes) {
      if (node.kind != OpKind::Conv && node.kind != OpKind::Gemm && node.kind != OpKind::MatMul) continue;
      NodeCase c{node.kind, g->opset};
      c.attrs = node.attrs;
      for (ValueId in : node.inputs) c.inputs.push_back(value_of(in));
      const Compared r = compare_case(c, &node);
      EXPECT_TRUE(within_bound(r)) << node.name;
      ++nodes;
      for (NodeId consumer : g->value(node.outputs[0]).consumers) {
        const Node& q = g->nodes[static_cast<size_t>(consumer)];
        if (q.kind != OpKind::QuantizeLinear) continue;
        auto params = qdq_node_params(*g, q);
        ASSERT_TRUE(params && *params);
        const QuantParams& p = **params;
        const QuantAxisIndex ix = quant_axis_index(r.naive.shape, p);
        const QuantGrid grid = quant_grid(p.zero_point_type, QuantRange::full);
        for (int64_t i = 0; i < r.naive.numel(); ++i) {
          const size_t ch = ix.of(i);
          const float s = p.scale[ch];
          const int32_t a = quantize_value(r.naive.data<float>()[i], s, p.zero_point[ch], grid, Rounding::half_even);
          const int32_t b = quantize_value(r.fast.data<float>()[i], s, p.zero_point[ch], grid, Rounding::half_even);
          if (a == b) continue;
          const double v = static_cast<double>(r.naive.data<float>()[i]) / s;
          const double tie_distance = std::fabs(v - std::floor(v) - 0.5) * s;
          EXPECT_EQ(std::abs(a - b), 1) << node.name << " element " << i;
          EXPECT_LE(tie_distance, 2.0 * r.bound.data<float>()[i] + std::fabs(v) * s * kUnit)
              << node.name << " element " << i << ": codes " << a << " vs " << b << " away from a tie";
        }
        ++quantized;
      }
    }
    auto ex_fast = Executor::create(*g, ref_kernel_table());
    auto ex_naive = Executor::create(*g, ref_naive_kernel_table());
    ASSERT_TRUE(ex_fast && ex_naive);
    const std::vector<Tensor> inputs = {*input};
    auto yf = ex_fast->run(inputs);
    auto yn = ex_naive->run(inputs);
    ASSERT_TRUE(yf && yn);
    const Tensor& a = (*yf)[0];
    const Tensor& b = (*yn)[0];
    ASSERT_EQ(a.dtype, b.dtype);
    ASSERT_EQ(a.shape, b.shape);
    if (a.dtype == DType::f32 && a.rank() == 2) {
      const float* pa = a.data<float>();
      const float* pb = b.data<float>();
      const int64_t cols = a.shape[1];
      for (int64_t row = 0; row < a.shape[0]; ++row)
        EXPECT_EQ(std::max_element(pa + row * cols, pa + (row + 1) * cols) - pa,
                  std::max_element(pb + row * cols, pb + (row + 1) * cols) - pb);
    }
  }
  EXPECT_GT(nodes, 10);
  EXPECT_GT(quantized, 3);
}

// ---- QuantizeLinear / DequantizeLinear loops -----------------------------------------------

// quantize_tensor_into (vectorized for u8/s8 with half-even rounding) gives quantize_value's
// codes on ties, saturation, infinities, NaN, signed zeros and denormals, per tensor and per axis.
TEST(RefFastQuant, TensorLoopsMatchScalarFormulas) {
  Floats x = {0.0f, -0.0f, 0.5f, 1.5f, 2.5f, -0.5f, -1.5f, -2.5f, 127.5f, 128.5f, -128.5f, 254.5f, 255.5f,
              1e6f, -1e6f, 3e38f, -3e38f, 1e-40f, -1e-40f, 4194304.5f, 8388607.0f, 65536.5f, -65536.5f,
              std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity(),
              std::numeric_limits<float>::quiet_NaN()};
  const Floats extra = random_values(100000, -400.0f, 400.0f);
  x.insert(x.end(), extra.begin(), extra.end());
  const int64_t n = static_cast<int64_t>(x.size());
  const Tensor real = make<float>({2, n / 2}, Floats(x.begin(), x.begin() + (n / 2) * 2));
  for (DType type : {DType::u8, DType::s8}) {
    for (QuantRange range : {QuantRange::full, QuantRange::narrow}) {
      for (bool per_axis : {false, true}) {
        QuantParams p;
        p.zero_point_type = type;
        p.scale = per_axis ? std::vector<float>{0.5f, 1.0f} : std::vector<float>{1.0f};
        p.zero_point = type == DType::u8 ? (per_axis ? std::vector<int32_t>{128, 3} : std::vector<int32_t>{128})
                                         : (per_axis ? std::vector<int32_t>{-3, 0} : std::vector<int32_t>{0});
        p.axis = 0;
        const QuantGrid grid = quant_grid(type, range);
        const Tensor codes = quantize_tensor(real, p, grid, Rounding::half_even);
        const QuantAxisIndex ix = quant_axis_index(real.shape, p);
        for (int64_t i = 0; i < real.numel(); ++i) {
          const float v = real.data<float>()[i];
          const size_t ch = ix.of(i);
          const int32_t want = std::isnan(v) ? p.zero_point[ch] : quantize_value(v, p.scale[ch], p.zero_point[ch], grid, Rounding::half_even);
          const int32_t got = type == DType::u8 ? codes.data<uint8_t>()[i] : codes.data<int8_t>()[i];
          ASSERT_EQ(got, want) << "x = " << v << " scale " << p.scale[ch] << " zp " << p.zero_point[ch];
        }
        const Tensor back = dequantize_tensor(codes, p);
        for (int64_t i = 0; i < real.numel(); ++i) {
          const size_t ch = ix.of(i);
          const int32_t q = type == DType::u8 ? codes.data<uint8_t>()[i] : codes.data<int8_t>()[i];
          const float want = dequantize_value(q, p.scale[ch], p.zero_point[ch]);
          ASSERT_EQ(std::memcmp(&back.data<float>()[i], &want, sizeof(float)), 0) << i;
        }
      }
    }
  }
}

}  // namespace
}  // namespace qdrift::test
