// The integer oracle's blocked QConv/QMatMul (kernels/int/int_qconv_blocked.cpp, in
// int_kernel_table()) against its simple one-output-at-a-time form (int_qconv.cpp, in
// int_simple_kernel_table()): the same bytes on random geometries, dtypes, zero points,
// biases, sum inputs and post-op chains, and on every tensor of the bundled models lowered
// under every preset.
#include <cstring>
#include <filesystem>
#include <map>
#include <random>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "core/executor.h"
#include "core/int8_policy.h"
#include "core/lower.h"
#include "core/onnx_loader.h"
#include "core/tensor_io.h"
#include "kernels/int/int_kernels.h"
#include "tests/unit/lowered_graph_builder.h"

namespace qdrift::test {
namespace {

namespace fs = std::filesystem;
using testing_util::LoweredGraphBuilder;
using testing_util::per_channel;
using testing_util::per_tensor;

std::mt19937 rng(424242);
int64_t pick(int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); }
float uniform(float lo, float hi) { return std::uniform_real_distribution<float>(lo, hi)(rng); }

Tensor codes(DType t, const Shape& shape) {
  Tensor x = Tensor::zeros(t, shape);
  for (int64_t i = 0; i < x.numel(); ++i) {
    if (t == DType::u8) x.data<uint8_t>()[i] = static_cast<uint8_t>(pick(0, 255));
    if (t == DType::s8) x.data<int8_t>()[i] = static_cast<int8_t>(pick(-128, 127));
    if (t == DType::s32) x.data<int32_t>()[i] = static_cast<int32_t>(pick(-40000, 40000));
    if (t == DType::f32) x.data<float>()[i] = uniform(-50.f, 50.f);
  }
  return x;
}

DType pick_of(std::initializer_list<DType> ts) { return *(ts.begin() + pick(0, static_cast<int64_t>(ts.size()) - 1)); }

// Every output of the graph from both tables, compared byte for byte.
::testing::AssertionResult same_bytes(const Graph& g, const std::vector<Tensor>& feeds) {
  auto blocked = Executor::create(g, int_kernel_table());
  auto simple = Executor::create(g, int_simple_kernel_table());
  if (!blocked || !simple) return ::testing::AssertionFailure() << "create failed";
  auto a = blocked->run(feeds);
  auto b = simple->run(feeds);
  if (!a || !b) return ::testing::AssertionFailure() << (a ? b.status().message() : a.status().message());
  for (size_t i = 0; i < a->size(); ++i) {
    const Tensor& ta = (*a)[i];
    const Tensor& tb = (*b)[i];
    if (ta.dtype != tb.dtype || ta.shape != tb.shape) return ::testing::AssertionFailure() << "dtype or shape differ";
    if (ta.layout != Layout::row_major || tb.layout != Layout::row_major)
      return ::testing::AssertionFailure() << "graph outputs must be row-major";
    if (ta.bytes != tb.bytes) {
      for (int64_t e = 0; e < ta.numel(); ++e)
        if (ta.value_as_double(e) != tb.value_as_double(e))
          return ::testing::AssertionFailure() << "element " << e << ": blocked " << ta.value_as_double(e)
                                               << ", simple " << tb.value_as_double(e);
      return ::testing::AssertionFailure() << "bytes differ";
    }
  }
  return ::testing::AssertionSuccess();
}

std::vector<PostOp> random_post_ops(bool with_sum, float sum_zp) {
  std::vector<PostOp> ops;
  const int64_t n = pick(0, 3);
  bool sum_done = !with_sum;
  for (int64_t i = 0; i < n || !sum_done; ++i) {
    if (!sum_done && (i >= n || pick(0, 1) == 0)) {
      ops.push_back({PostOpKind::sum, uniform(0.2f, 2.f), sum_zp});
      sum_done = true;
      continue;
    }
    switch (pick(0, 4)) {
      case 0: ops.push_back({PostOpKind::relu, 0.f, 0.f}); break;
      case 1: ops.push_back({PostOpKind::leaky_relu, 0.1f, 0.f}); break;
      case 2: ops.push_back({PostOpKind::clip, -20.f, 90.f}); break;
      case 3: ops.push_back({PostOpKind::hardswish, 0.f, 0.f}); break;
      default: ops.push_back({PostOpKind::linear, 0.5f, -3.f}); break;
    }
  }
  return ops;
}

TEST(IntBlocked, QConvRandomCasesMatchTheSimpleForm) {
  int cases = 0;
  for (int iter = 0; iter < 120; ++iter) {
    const int rank = static_cast<int>(pick(1, 3));
    const int64_t kind = pick(0, 3);  // 0 dense, 1 depthwise, 2 grouped, 3 pointwise
    const int64_t group = kind == 1 ? pick(2, 40) : kind == 2 ? pick(2, 4) : 1;
    const int64_t cg = kind == 1 ? 1 : pick(1, 24), mg = kind == 1 ? 1 : pick(1, kind == 3 ? 300 : 20);
    const int64_t C = group * cg, M = group * mg, batch = pick(1, 2);
    Shape xs{batch, C}, ws{M, cg};
    std::vector<int64_t> kernel, strides, dilations, pb, pe;
    bool fits = true;
    for (int j = 0; j < rank; ++j) {
      const int64_t in = pick(1, rank == 3 ? 5 : 19), k = kind == 3 ? 1 : pick(1, 3);
      const int64_t s = kind == 3 ? 1 : pick(1, 2), d = kind == 3 ? 1 : pick(1, 2);
      const int64_t b0 = kind == 3 ? 0 : pick(0, 2), e0 = kind == 3 ? 0 : pick(0, 2);
      fits = fits && in + b0 + e0 >= (k - 1) * d + 1;
      xs.push_back(in);
      ws.push_back(k);
      kernel.push_back(k);
      strides.push_back(s);
      dilations.push_back(d);
      pb.push_back(b0);
      pe.push_back(e0);
    }
    if (!fits) continue;
    std::vector<int64_t> pads = pb;
    pads.insert(pads.end(), pe.begin(), pe.end());
    Shape ys{batch, M};
    for (int j = 0; j < rank; ++j)
      ys.push_back((xs[static_cast<size_t>(2 + j)] + pb[static_cast<size_t>(j)] + pe[static_cast<size_t>(j)] -
                    ((kernel[static_cast<size_t>(j)] - 1) * dilations[static_cast<size_t>(j)] + 1)) /
                       strides[static_cast<size_t>(j)] +
                   1);

    LoweredGraphBuilder b;
    std::vector<Tensor> feeds;
    const DType xt = pick_of({DType::u8, DType::s8}), wt = pick_of({DType::s8, DType::s8, DType::u8});
    const int32_t zp_x = xt == DType::u8 ? static_cast<int32_t>(pick(0, 255)) : static_cast<int32_t>(pick(-128, 127));
    const ValueId x = b.input("x", xt, xs, per_tensor(0.05f, zp_x, xt));
    feeds.push_back(codes(xt, xs));
    std::vector<int32_t> zp_w(static_cast<size_t>(M));
    const bool per_channel_zp = pick(0, 3) == 0;
    for (auto& z : zp_w) z = per_channel_zp ? static_cast<int32_t>(pick(-5, 5)) + (wt == DType::u8 ? 128 : 0)
                                            : (wt == DType::u8 ? 128 : 0);
    const ValueId w = b.constant("w", codes(wt, ws), per_channel(std::vector<float>(static_cast<size_t>(M), 0.01f), zp_w, wt, 0));
    ValueId bias = kNoValue;
    const int64_t bias_kind = pick(0, 2);
    if (bias_kind == 1) bias = b.constant("bias", codes(DType::s32, {M}));
    if (bias_kind == 2) bias = b.constant("bias", codes(DType::f32, {M}));
    ValueId sum = kNoValue;
    const bool with_sum = pick(0, 2) == 0;
    DType st = DType::undefined;
    int32_t zp_sum = 0;
    if (with_sum) {
      st = pick_of({DType::u8, DType::s8, DType::s32, DType::f32});
      zp_sum = st == DType::u8 ? 128 : st == DType::s8 ? -3 : 0;
      sum = b.input("sum", st, ys,
                    st == DType::f32 ? std::nullopt : std::optional<QuantParams>(per_tensor(0.07f, zp_sum, st)));
      feeds.push_back(codes(st, ys));
    }
    const DType yt = pick_of({DType::u8, DType::s8, DType::s32, DType::f32});
    const int32_t zp_y = yt == DType::u8 ? 7 : yt == DType::s8 ? -9 : 0;
    const ValueId y = b.value("y", yt, yt == DType::f32 ? std::nullopt : std::optional<QuantParams>(per_tensor(0.1f, zp_y, yt)));
    LoweredParams params;
    const bool per_channel_scales = pick(0, 1) == 1;
    for (int64_t c = 0; c < (per_channel_scales ? M : 1); ++c) params.output_scales.push_back(uniform(1e-4f, 3e-3f));
    params.post_ops = random_post_ops(with_sum, static_cast<float>(zp_sum));
    Node& n = b.int8_op(OpKind::QConv, "conv", x, w, bias, sum, y, params);
    n.attrs["kernel_shape"] = kernel;
    n.attrs["strides"] = strides;
    n.attrs["pads"] = pads;
    n.attrs["dilations"] = dilations;
    n.attrs["group"] = group;
    b.output(y);
    EXPECT_TRUE(same_bytes(b.graph, feeds)) << "iteration " << iter << ": x " << shape_str(xs) << " w "
                                            << shape_str(ws) << " group " << group;
    ++cases;
  }
  EXPECT_GT(cases, 80);
}

TEST(IntBlocked, QMatMulRandomCasesMatchTheSimpleForm) {
  for (int iter = 0; iter < 40; ++iter) {
    const int64_t k = pick(1, 300), n = pick(1, 600);
    Shape xs = pick(0, 1) ? Shape{pick(1, 9), k} : Shape{pick(1, 3), pick(1, 5), k};
    Shape ys = xs;
    ys.back() = n;
    LoweredGraphBuilder b;
    std::vector<Tensor> feeds;
    const DType xt = pick_of({DType::u8, DType::s8}), wt = pick_of({DType::s8, DType::u8});
    const ValueId x = b.input("x", xt, xs, per_tensor(0.05f, xt == DType::u8 ? 100 : -4, xt));
    feeds.push_back(codes(xt, xs));
    std::vector<int32_t> zp_w(static_cast<size_t>(n), wt == DType::u8 ? 131 : 2);
    const ValueId w = b.constant("w", codes(wt, {k, n}), per_channel(std::vector<float>(static_cast<size_t>(n), 0.01f), zp_w, wt, 1));
    const ValueId bias = pick(0, 1) ? b.constant("bias", codes(DType::s32, {n})) : kNoValue;
    const bool with_sum = pick(0, 2) == 0;
    ValueId sum = kNoValue;
    if (with_sum) {
      sum = b.input("sum", DType::u8, ys, per_tensor(0.07f, 128, DType::u8));
      feeds.push_back(codes(DType::u8, ys));
    }
    const DType yt = pick_of({DType::u8, DType::s8, DType::f32});
    const ValueId y = b.value("y", yt, yt == DType::f32 ? std::nullopt : std::optional<QuantParams>(per_tensor(0.1f, 3, yt)));
    LoweredParams params;
    params.output_scales = {uniform(1e-4f, 3e-3f)};
    params.post_ops = random_post_ops(with_sum, 128.f);
    b.int8_op(OpKind::QMatMul, "mm", x, w, bias, sum, y, params);
    b.output(y);
    EXPECT_TRUE(same_bytes(b.graph, feeds)) << "iteration " << iter;
  }
}

// Every tensor of the bundled models, lowered under every preset, from both tables.
TEST(IntBlocked, BundledModelsEveryTensorUnderEveryPreset) {
  const fs::path root = fs::path(QDRIFT_SOURCE_DIR) / "testdata";
  std::vector<std::pair<fs::path, fs::path>> models = {{root / "mobilenet_tiny_qdq.onnx", root / "mobilenet_tiny_input.npy"}};
  for (const char* name : {"bn_conv_u8", "conv_chain_u8", "depthwise_s8", "gemm_concat_s8", "paddle_style_s8", "residual_u8"})
    models.push_back({root / "qdq" / fmt::format("{}.onnx", name), root / "qdq" / fmt::format("{}_input.npy", name)});
  int64_t compared = 0;
  for (const auto& [model, input_path] : models) {
    auto g = load_onnx(model.string());
    ASSERT_TRUE(g) << g.status().message();
    auto input = read_tensor_file(input_path.string());
    ASSERT_TRUE(input) << input.status().message();
    for (const char* preset : {"onnx", "paddle-onednn", "paddle-lite-arm"}) {
      SCOPED_TRACE(fmt::format("{} under {}", model.filename().string(), preset));
      auto policy = int8_policy_preset(preset);
      ASSERT_TRUE(policy);
      auto low = lower(*g, *policy);
      ASSERT_TRUE(low) << low.status().message();
      std::map<std::string, Tensor> simple;
      auto ex_s = Executor::create(low->graph, int_simple_kernel_table());
      auto ex_b = Executor::create(low->graph, int_kernel_table());
      ASSERT_TRUE(ex_s && ex_b);
      const std::vector<Tensor> inputs = {*input};
      ASSERT_TRUE(ex_s->run(inputs, [&](const Node&, size_t, const Value& v, const Tensor& t) { simple[v.name] = t; }));
      ASSERT_TRUE(ex_b->run(inputs, [&](const Node& n, size_t, const Value& v, const Tensor& t) {
        const Tensor& s = simple.at(v.name);
        EXPECT_EQ(s.shape, t.shape) << v.name;
        EXPECT_TRUE(s.bytes == t.bytes) << n.name << " -> " << v.name;
        ++compared;
      }));
    }
  }
  EXPECT_GT(compared, 100);
}

}  // namespace
}  // namespace qdrift::test
