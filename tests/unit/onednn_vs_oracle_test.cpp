// onednn_vs_oracle_test.cpp: the oneDNN int8 runtime against the integer oracle, bit for
// bit, on lowered graphs built in code with random int8 data (fixed seeds) and odd shapes.
//
// On a VNNI machine the data spans the full int8 ranges. Without VNNI, oneDNN's AVX2/AVX-512
// int8 kernels compute u8 x s8 pairs with vpmaddubsw (16-bit saturation) and halve s8-src
// weights (scale_adjust 0.5): those are kernel effects the oracle is there to expose
// (NonVnniKernelDriftIsVisible), so the bit-exact cases then use even weights in [-64, 64],
// for which both effects are exact.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "core/executor.h"
#include "kernels/int/int_kernels.h"
#include "kernels/onednn/onednn_kernels.h"
#include "tests/unit/lowered_graph_builder.h"

namespace qdrift {
namespace {

using testing_util::LoweredGraphBuilder;
using testing_util::per_channel;
using testing_util::per_tensor;

bool vnni() { return onednn_runtime_info().int8_vnni; }

// Random tensors from a fixed seed.
class Rand {
 public:
  explicit Rand(uint32_t seed) : rng_(seed) {}
  int32_t uniform(int32_t lo, int32_t hi) { return std::uniform_int_distribution<int32_t>(lo, hi)(rng_); }
  float uniform_f(float lo, float hi) { return std::uniform_real_distribution<float>(lo, hi)(rng_); }

  Tensor codes(DType t, const Shape& shape) {
    Tensor x = Tensor::zeros(t, shape);
    for (int64_t i = 0; i < x.numel(); ++i) {
      if (t == DType::u8) x.data<uint8_t>()[i] = static_cast<uint8_t>(uniform(0, 255));
      else if (t == DType::s8) x.data<int8_t>()[i] = static_cast<int8_t>(uniform(-128, 127));
      else if (t == DType::s32) x.data<int32_t>()[i] = uniform(-3000, 3000);
      else x.data<float>()[i] = uniform_f(-60.f, 60.f);
    }
    return x;
  }
  // Weights: full range with VNNI, else even values in [-64, 64] (exact for both non-VNNI effects).
  Tensor weights(DType t, const Shape& shape, bool full_range) {
    Tensor w = Tensor::zeros(t, shape);
    for (int64_t i = 0; i < w.numel(); ++i) {
      int32_t v = full_range ? uniform(-128, 127) : 2 * uniform(-32, 32);
      if (t == DType::u8) w.data<uint8_t>()[i] = static_cast<uint8_t>(v + 128);
      else w.data<int8_t>()[i] = static_cast<int8_t>(v);
    }
    return w;
  }

 private:
  std::mt19937 rng_;
};

struct ConvCase {
  std::string name;
  Shape x{1, 3, 13, 13};
  int64_t m = 13;
  std::vector<int64_t> kernel{3, 3}, strides{1, 1}, pads{1, 1, 1, 1}, dilations{1, 1};
  int64_t group = 1;
  DType x_dtype = DType::u8, y_dtype = DType::u8, w_dtype = DType::s8;
  DType bias = DType::s32;  // undefined: no bias
  DType sum = DType::undefined;
  int32_t zp_x = 0, zp_y = 0, zp_sum = 0, zp_w = 0;  // zp_w: on top of 128 for u8 weights
  std::vector<PostOp> post_ops;                      // the sum goes where PostOpKind::sum stands
  bool per_channel_scales = true;
  float target = 40.f;  // typical |output| before the zero point, in output units
};

// Output scales that put the accumulators' spread near `target` (so some saturate).
std::vector<float> make_scales(Rand& r, int64_t channels, int64_t k, DType x, DType w_dtype, bool per_channel_scales,
                               float target, bool full_range_w) {
  const float sx = x == DType::u8 ? 74.f : 74.f;  // std of a uniform code minus its zero point, roughly
  const float sw = full_range_w ? 74.f : 37.f;
  (void)w_dtype;
  const float base = target / (std::sqrt(static_cast<float>(k)) * sx * sw);
  std::vector<float> s(per_channel_scales ? static_cast<size_t>(channels) : 1);
  for (float& v : s) v = base * r.uniform_f(0.5f, 1.5f);
  return s;
}

struct Graphs {
  LoweredGraphBuilder b;
  std::vector<Tensor> feeds;
};

// One QConv node (plus the sum input as a graph input).
Graphs build_conv(const ConvCase& c, uint32_t seed) {
  Rand r(seed);
  Graphs gs;
  LoweredGraphBuilder& b = gs.b;
  const bool full = vnni();
  const int64_t cg = c.x[1] / c.group;
  Shape w_shape{c.m, cg};
  w_shape.insert(w_shape.end(), c.kernel.begin(), c.kernel.end());
  const ValueId x = b.input("x", c.x_dtype, c.x, per_tensor(0.05f, c.zp_x, c.x_dtype));
  gs.feeds.push_back(r.codes(c.x_dtype, c.x));
  const int32_t w_zp = (c.w_dtype == DType::u8 ? 128 : 0) + c.zp_w;
  const ValueId w = b.constant("w", r.weights(c.w_dtype, w_shape, full),
                               per_channel(std::vector<float>(static_cast<size_t>(c.m), 0.01f),
                                           std::vector<int32_t>(static_cast<size_t>(c.m), w_zp), c.w_dtype, 0));
  ValueId bias = kNoValue;
  if (c.bias == DType::s32) bias = b.constant("bias", r.codes(DType::s32, {c.m}));
  if (c.bias == DType::f32) {
    Tensor t = Tensor::zeros(DType::f32, {c.m});
    for (float& v : t.values<float>()) v = r.uniform_f(-3000.f, 3000.f);
    bias = b.constant("bias", t);
  }
  int64_t ksize = cg;
  for (int64_t k : c.kernel) ksize *= k;
  LoweredParams params;
  params.output_scales = make_scales(r, c.m, ksize, c.x_dtype, c.w_dtype, c.per_channel_scales, c.target, full);
  params.post_ops = c.post_ops;
  ValueId sum = kNoValue;
  if (c.sum != DType::undefined) {
    // The sum input has the output's shape: compute it from ONNX's formula.
    Shape ys{c.x[0], c.m};
    for (size_t i = 0; i < c.kernel.size(); ++i) {
      const int64_t ext = (c.kernel[i] - 1) * c.dilations[i] + 1;
      ys.push_back((c.x[2 + i] + c.pads[i] + c.pads[i + c.kernel.size()] - ext) / c.strides[i] + 1);
    }
    sum = b.input("sum", c.sum, ys, per_tensor(0.07f, c.zp_sum, c.sum));
    gs.feeds.push_back(r.codes(c.sum, ys));
    for (PostOp& op : params.post_ops)
      if (op.kind == PostOpKind::sum) op.beta = static_cast<float>(c.zp_sum);
  }
  const ValueId y = b.value("y", c.y_dtype,
                            c.y_dtype == DType::f32 ? std::nullopt
                                                    : std::optional<QuantParams>(per_tensor(0.1f, c.zp_y, c.y_dtype)));
  Node& n = b.int8_op(OpKind::QConv, "conv", x, w, bias, sum, y, params);
  n.attrs["kernel_shape"] = c.kernel;
  n.attrs["strides"] = c.strides;
  n.attrs["pads"] = c.pads;
  n.attrs["dilations"] = c.dilations;
  n.attrs["group"] = c.group;
  b.output(y);
  return gs;
}

struct RunResult {
  std::map<std::string, Tensor> tensors;  // every produced tensor, by value name
  std::vector<std::string> log;
};

RunResult run_table(const Graph& g, const KernelTable& table, const std::vector<Tensor>& feeds) {
  RunResult rr;
  ExecOptions options;
  options.log = [&](std::string_view s) { rr.log.emplace_back(s); };
  auto ex = Executor::create(g, table, options);
  EXPECT_TRUE(ex.has_value()) << ex.status().message();
  if (!ex) return rr;
  auto out = ex->run(feeds, [&](const Node&, size_t, const Value& v, const Tensor& t) { rr.tensors[v.name] = t; });
  EXPECT_TRUE(out.has_value()) << out.status().message();
  return rr;
}

// Compares every produced tensor byte for byte; returns the number of elements compared.
int64_t expect_bit_identical(const RunResult& a, const RunResult& b, const std::string& what) {
  int64_t compared = 0;
  EXPECT_EQ(a.tensors.size(), b.tensors.size()) << what;
  for (const auto& [name, ta] : a.tensors) {
    auto it = b.tensors.find(name);
    if (it == b.tensors.end()) {
      ADD_FAILURE() << what << ": " << name << " missing";
      continue;
    }
    const Tensor& tb = it->second;
    EXPECT_EQ(ta.dtype, tb.dtype) << what << ": " << name;
    EXPECT_EQ(ta.shape, tb.shape) << what << ": " << name;
    if (ta.dtype != tb.dtype || ta.shape != tb.shape) continue;
    const size_t es = dtype_size(ta.dtype);
    int64_t diff = 0, first = -1;
    for (int64_t i = 0; i < ta.numel(); ++i)
      if (std::memcmp(ta.bytes.data() + i * es, tb.bytes.data() + i * es, es) != 0) {
        if (first < 0) first = i;
        ++diff;
      }
    compared += ta.numel();
    EXPECT_EQ(diff, 0) << what << ": " << name << " " << dtype_name(ta.dtype) << shape_str(ta.shape) << ": " << diff
                       << " of " << ta.numel() << " elements differ; first at " << first << ": oneDNN "
                       << (first >= 0 ? ta.value_as_double(first) : 0.0) << " oracle "
                       << (first >= 0 ? tb.value_as_double(first) : 0.0);
  }
  return compared;
}

std::string joined(const std::vector<std::string>& lines) {
  std::string s;
  for (const auto& l : lines) s += l + "\n";
  return s;
}

int64_t g_total_compared = 0;

PostOp relu() { return {PostOpKind::relu, 0.f, 0.f}; }
PostOp leaky(float a) { return {PostOpKind::leaky_relu, a, 0.f}; }
PostOp clip(float lo, float hi) { return {PostOpKind::clip, lo, hi}; }
PostOp hardswish() { return {PostOpKind::hardswish, 0.f, 0.f}; }
PostOp linear(float a, float b) { return {PostOpKind::linear, a, b}; }
PostOp sum(float scale) { return {PostOpKind::sum, scale, 0.f}; }

std::vector<ConvCase> conv_cases() {
  std::vector<ConvCase> cs;
  auto add = [&](ConvCase c) { cs.push_back(std::move(c)); };
  {
    ConvCase c;
    c.name = "u8 3->13 3x3 s2 p1 relu u8";
    c.x = {1, 3, 13, 13}; c.m = 13; c.strides = {2, 2}; c.post_ops = {relu()};
    add(c);
  }
  {
    ConvCase c;
    c.name = "s8 13->127 3x3 dil2 f32 bias s8";
    c.x = {1, 13, 13, 13}; c.m = 127; c.dilations = {2, 2}; c.pads = {2, 2, 2, 2};
    c.x_dtype = DType::s8; c.y_dtype = DType::s8; c.bias = DType::f32;
    add(c);
  }
  {
    ConvCase c;
    c.name = "u8 127->3 1x1 s2 f32 dst";
    c.x = {1, 127, 13, 13}; c.m = 3; c.kernel = {1, 1}; c.pads = {0, 0, 0, 0}; c.strides = {2, 2};
    c.y_dtype = DType::f32; c.bias = DType::f32;
    add(c);
  }
  {
    ConvCase c;
    c.name = "u8 1->1 (C=1) no bias s32 dst";
    c.x = {2, 1, 13, 13}; c.m = 1; c.bias = DType::undefined; c.y_dtype = DType::s32; c.zp_y = 5; c.target = 5000.f;
    add(c);
  }
  {
    ConvCase c;
    c.name = "depthwise 13 s8 clip u8";
    c.x = {1, 13, 13, 13}; c.m = 13; c.group = 13; c.x_dtype = DType::s8; c.post_ops = {clip(-10.f, 60.f)}; c.zp_y = 7;
    add(c);
  }
  {
    ConvCase c;
    c.name = "depthwise 32 u8 s2 zp relu";
    c.x = {1, 32, 13, 13}; c.m = 32; c.group = 32; c.strides = {2, 2}; c.zp_x = 100; c.zp_y = 3; c.post_ops = {relu()};
    add(c);
  }
  {
    ConvCase c;
    c.name = "grouped g=2 8/group s8 hardswish s32";
    c.x = {1, 16, 13, 13}; c.m = 16; c.group = 2; c.x_dtype = DType::s8; c.y_dtype = DType::s32;
    c.post_ops = {linear(0.1f, 0.f), hardswish()}; c.target = 400.f;
    add(c);
  }
  {
    ConvCase c;
    c.name = "grouped g=3 3/group (block-diagonal) u8";
    c.x = {1, 9, 13, 13}; c.m = 9; c.group = 3; c.post_ops = {leaky(0.1f)}; c.y_dtype = DType::s8;
    add(c);
  }
  {
    ConvCase c;
    c.name = "src zp + dst zp leaky u8->u8";
    c.x = {1, 16, 13, 13}; c.m = 16; c.zp_x = 7; c.zp_y = 3; c.post_ops = {leaky(0.13f)};
    add(c);
  }
  {
    ConvCase c;
    c.name = "s8 src zp + dst zp s8";
    c.x = {1, 13, 13, 13}; c.m = 13; c.x_dtype = DType::s8; c.y_dtype = DType::s8; c.zp_x = -5; c.zp_y = -9;
    add(c);
  }
  {
    ConvCase c;
    c.name = "sum u8 into u8 zp, relu";
    c.x = {1, 16, 13, 13}; c.m = 16; c.sum = DType::u8; c.zp_sum = 128; c.zp_y = 2; c.post_ops = {sum(0.37f), relu()};
    add(c);
  }
  {
    ConvCase c;
    c.name = "sum s8 into u8, clip";
    c.x = {1, 13, 13, 13}; c.m = 13; c.sum = DType::s8; c.zp_sum = -3; c.post_ops = {sum(1.f), clip(0.f, 100.f)};
    add(c);
  }
  {
    ConvCase c;
    c.name = "sum u8 into f32 dst";
    c.x = {1, 3, 13, 13}; c.m = 13; c.sum = DType::u8; c.zp_sum = 120; c.y_dtype = DType::f32; c.bias = DType::f32;
    c.post_ops = {sum(0.5f)};
    add(c);
  }
  {
    ConvCase c;
    c.name = "sum s8 into s32 dst";
    c.x = {1, 16, 13, 13}; c.m = 16; c.x_dtype = DType::s8; c.sum = DType::s8; c.zp_sum = 4; c.y_dtype = DType::s32;
    c.post_ops = {sum(2.5f)};
    add(c);
  }
  {
    ConvCase c;
    c.name = "every post-op kind: sum leaky linear hardswish clip";
    c.x = {1, 16, 13, 13}; c.m = 16; c.sum = DType::u8; c.zp_sum = 100; c.zp_x = 9; c.zp_y = 11; c.target = 400.f;
    c.post_ops = {sum(0.77f), leaky(0.2f), linear(0.05f, -0.25f), hardswish(), clip(-30.f, 90.f)};
    add(c);
  }
  {
    ConvCase c;
    c.name = "relu before sum, two adjacent clips (merged)";
    c.x = {1, 16, 13, 13}; c.m = 16; c.sum = DType::s8; c.zp_sum = -20; c.y_dtype = DType::s8;
    c.post_ops = {relu(), sum(0.5f), clip(-100.f, 40.f), clip(-5.f, 100.f)};
    add(c);
  }
  {
    ConvCase c;
    c.name = "linear twice (oracle fallback: 2.6 reuses the first)";
    c.x = {1, 16, 13, 13}; c.m = 16; c.target = 400.f;
    c.post_ops = {linear(0.1f, 0.f), hardswish(), linear(10.f, 0.5f)};
    add(c);
  }
  {
    ConvCase c;
    c.name = "relu then leaky (oracle fallback: both eltwise_relu)";
    c.x = {1, 16, 13, 13}; c.m = 16; c.y_dtype = DType::s8;
    c.post_ops = {relu(), sum(1.f), leaky(0.1f)}; c.sum = DType::s8;
    add(c);
  }
  {
    ConvCase c;
    c.name = "u8 weights zp 128 (shifted to s8)";
    c.x = {1, 13, 13, 13}; c.m = 13; c.w_dtype = DType::u8;
    add(c);
  }
  {
    ConvCase c;
    c.name = "asymmetric pads 1x3 kernel per-tensor scale batch 2";
    c.x = {2, 13, 7, 13}; c.m = 16; c.kernel = {1, 3}; c.pads = {0, 2, 1, 0}; c.strides = {1, 2};
    c.per_channel_scales = false; c.x_dtype = DType::s8;
    add(c);
  }
  {
    ConvCase c;
    c.name = "1-D conv (N, C, W)";
    c.x = {1, 13, 127}; c.m = 16; c.kernel = {5}; c.pads = {2, 2}; c.strides = {2}; c.dilations = {1};
    add(c);
  }
  {
    ConvCase c;
    c.name = "s8 weights with zero point 3 (oracle fallback)";
    c.x = {1, 13, 13, 13}; c.m = 13; c.zp_w = 3;
    add(c);
  }
  {
    ConvCase c;
    c.name = "sum f32 into s8 (oracle fallback)";
    c.x = {1, 13, 13, 13}; c.m = 13; c.y_dtype = DType::s8; c.sum = DType::f32; c.post_ops = {sum(0.5f)};
    add(c);
  }
  return cs;
}

class ConvVsOracle : public ::testing::TestWithParam<size_t> {};

TEST_P(ConvVsOracle, BitIdentical) {
  const ConvCase c = conv_cases()[GetParam()];
  int64_t n = 0;
  RunResult dn;
  for (uint32_t seed = 0; seed < 3; ++seed) {  // three data sets per case
    Graphs gs = build_conv(c, 1234u + 100u * seed + static_cast<uint32_t>(GetParam()));
    dn = run_table(gs.b.graph, onednn_kernel_table(), gs.feeds);
    const RunResult ora = run_table(gs.b.graph, int_kernel_table(), gs.feeds);
    n += expect_bit_identical(dn, ora, fmt::format("{} (seed {})", c.name, seed));
  }
  g_total_compared += n;
  const bool fallback = c.name.find("fallback") != std::string::npos;
  const bool logged_oracle = joined(dn.log).find("integer oracle") != std::string::npos;
  EXPECT_EQ(fallback, logged_oracle) << joined(dn.log);
  std::printf("[ conv     ] %-56s %8lld elements bit-identical%s\n", c.name.c_str(), static_cast<long long>(n),
              HasFailure() ? " (NOT)" : "");
  for (const auto& l : dn.log) std::printf("             log: %s\n", l.c_str());
}

INSTANTIATE_TEST_SUITE_P(Cases, ConvVsOracle, ::testing::Range<size_t>(0, conv_cases().size()));

struct MatMulCase {
  std::string name;
  Shape x{13, 127};
  int64_t n = 33;
  DType x_dtype = DType::u8, y_dtype = DType::u8, w_dtype = DType::s8, bias = DType::s32, sum = DType::undefined;
  int32_t zp_x = 0, zp_y = 0, zp_w = 0, zp_sum = 0;
  std::vector<PostOp> post_ops;
};

std::vector<MatMulCase> matmul_cases() {
  std::vector<MatMulCase> cs;
  auto add = [&](std::string name, auto&& set) {
    MatMulCase c;
    c.name = std::move(name);
    set(c);
    cs.push_back(std::move(c));
  };
  add("u8 [13,127]x[127,33] u8 relu", [](MatMulCase& c) { c.post_ops = {relu()}; });
  add("s8 zp [2,3,127]x[127,13] s8", [](MatMulCase& c) {
    c.x = {2, 3, 127}; c.n = 13; c.x_dtype = DType::s8; c.y_dtype = DType::s8; c.zp_x = 3; c.zp_y = -7;
  });
  add("u8 [1,1024]x[1024,1000] f32 bias f32", [](MatMulCase& c) {
    c.x = {1, 1024}; c.n = 1000; c.y_dtype = DType::f32; c.bias = DType::f32;
  });
  add("u8 weight zp 5 (matmul takes it)", [](MatMulCase& c) { c.zp_w = 5; });
  add("u8 weights zp 128+9", [](MatMulCase& c) { c.w_dtype = DType::u8; c.zp_w = 9; });
  add("sum u8 zp into u8 + hardswish chain", [](MatMulCase& c) {
    c.sum = DType::u8; c.zp_y = 1; c.zp_sum = 128;
    c.post_ops = {sum(0.4f), linear(0.1f, 0.f), hardswish(), clip(-1.f, 10.f)};
  });
  add("s32 dst no bias", [](MatMulCase& c) { c.x = {3, 13}; c.n = 3; c.y_dtype = DType::s32; c.bias = DType::undefined; });
  return cs;
}

class MatMulVsOracle : public ::testing::TestWithParam<size_t> {};

TEST_P(MatMulVsOracle, BitIdentical) {
  const MatMulCase c = matmul_cases()[GetParam()];
  Rand r(777u + static_cast<uint32_t>(GetParam()));
  LoweredGraphBuilder b;
  std::vector<Tensor> feeds;
  const bool full = vnni();
  const int64_t k = c.x.back();
  const ValueId x = b.input("x", c.x_dtype, c.x, per_tensor(0.05f, c.zp_x, c.x_dtype));
  feeds.push_back(r.codes(c.x_dtype, c.x));
  Tensor wt = r.weights(c.w_dtype, {k, c.n}, full);
  const int32_t wzp = (c.w_dtype == DType::u8 ? 128 : 0) + c.zp_w;
  const ValueId w = b.constant("w", wt, per_tensor(0.01f, wzp, c.w_dtype));
  ValueId bias = kNoValue;
  if (c.bias == DType::s32) bias = b.constant("bias", r.codes(DType::s32, {c.n}));
  if (c.bias == DType::f32) {
    Tensor t = Tensor::zeros(DType::f32, {c.n});
    for (float& v : t.values<float>()) v = r.uniform_f(-3000.f, 3000.f);
    bias = b.constant("bias", t);
  }
  LoweredParams params;
  params.output_scales = make_scales(r, c.n, k, c.x_dtype, c.w_dtype, true, 40.f, full);
  params.post_ops = c.post_ops;
  ValueId sum_v = kNoValue;
  Shape ys = c.x;
  ys.back() = c.n;
  if (c.sum != DType::undefined) {
    sum_v = b.input("sum", c.sum, ys, per_tensor(0.07f, c.zp_sum, c.sum));
    feeds.push_back(r.codes(c.sum, ys));
    for (PostOp& op : params.post_ops)
      if (op.kind == PostOpKind::sum) op.beta = static_cast<float>(c.zp_sum);
  }
  const ValueId y = b.value("y", c.y_dtype,
                            c.y_dtype == DType::f32 ? std::nullopt
                                                    : std::optional<QuantParams>(per_tensor(0.1f, c.zp_y, c.y_dtype)));
  b.int8_op(OpKind::QMatMul, "matmul", x, w, bias, sum_v, y, params);
  b.output(y);
  const RunResult dn = run_table(b.graph, onednn_kernel_table(), feeds);
  const RunResult ora = run_table(b.graph, int_kernel_table(), feeds);
  const int64_t n = expect_bit_identical(dn, ora, c.name);
  g_total_compared += n;
  EXPECT_TRUE(dn.log.empty()) << joined(dn.log);
  std::printf("[ matmul   ] %-56s %8lld elements bit-identical%s\n", c.name.c_str(), static_cast<long long>(n),
              HasFailure() ? " (NOT)" : "");
}

INSTANTIATE_TEST_SUITE_P(Cases, MatMulVsOracle, ::testing::Range<size_t>(0, matmul_cases().size()));

// Quantize -> QConv(relu) -> QConv(+sum of the first) -> Requantize -> Dequantize, every
// intermediate tensor compared; the graph's shapes are unknown past the input, so the
// oneDNN plans are built at the first run.
TEST(ChainVsOracle, QuantizeConvSumRequantizeDequantize) {
  Rand r(99);
  const bool full = vnni();
  LoweredGraphBuilder b;
  const Shape xs{1, 13, 9, 11};
  const ValueId x = b.input("x", DType::f32, xs);
  Tensor xf = Tensor::zeros(DType::f32, xs);
  for (float& v : xf.values<float>()) v = r.uniform_f(-7.f, 7.f);
  // A few exact ties of x * (1/s) + zp.
  const float sq = 0.05f;
  xf.data<float>()[0] = 2.5f * sq;
  xf.data<float>()[1] = -0.5f * sq;
  const ValueId q = b.value("quantize/out/0", DType::u8, per_tensor(sq, 128, DType::u8));
  b.node(OpKind::Quantize, "quantize/0", {x}, {q});
  auto conv = [&](const std::string& name, ValueId in, int64_t c_in, int64_t m, ValueId sum_in, DType out,
                  std::vector<PostOp> post, int32_t zp_out) {
    const ValueId w = b.constant(name + ".w", r.weights(DType::s8, {m, c_in, 3, 3}, full),
                                 per_tensor(0.01f, 0, DType::s8));
    const ValueId bias = b.constant(name + ".b", r.codes(DType::s32, {m}));
    LoweredParams p;
    p.output_scales = make_scales(r, m, c_in * 9, DType::u8, DType::s8, true, 40.f, full);
    p.post_ops = std::move(post);
    const ValueId y = b.value(name + ".y", out, per_tensor(0.1f, zp_out, out));
    Node& n = b.int8_op(OpKind::QConv, name, in, w, bias, sum_in, y, p);
    n.attrs["kernel_shape"] = std::vector<int64_t>{3, 3};
    n.attrs["pads"] = std::vector<int64_t>{1, 1, 1, 1};
    return y;
  };
  const ValueId y1 = conv("conv1", q, 13, 16, kNoValue, DType::u8, {relu()}, 0);
  const ValueId y2 = conv("conv2", y1, 16, 16, y1, DType::s8, {sum(0.6f), leaky(0.1f)}, -3);
  const ValueId rq = b.value("requantize/out/0", DType::u8, per_tensor(0.13f, 128, DType::u8));
  b.node(OpKind::Requantize, "requantize/0", {y2}, {rq});
  const ValueId dq = b.value("dequantize/out/0", DType::f32);
  b.node(OpKind::Dequantize, "dequantize/0", {rq}, {dq});
  b.output(dq);
  const RunResult dn = run_table(b.graph, onednn_kernel_table(), {xf});
  const RunResult ora = run_table(b.graph, int_kernel_table(), {xf});
  const int64_t n = expect_bit_identical(dn, ora, "chain");
  g_total_compared += n;
  EXPECT_EQ(dn.tensors.size(), 5u);
  std::printf("[ chain    ] %-56s %8lld elements bit-identical%s\n", "Q -> QConv -> QConv+sum -> RQ -> DQ",
              static_cast<long long>(n), HasFailure() ? " (NOT)" : "");
}

// Quantize / Dequantize / Requantize reorders on larger random data, with ties.
TEST(ReordersVsOracle, QuantizeDequantizeRequantize) {
  Rand r(5);
  int64_t total = 0;
  for (DType qt : {DType::u8, DType::s8}) {
    for (int32_t zp : {0, 1, 3, -7, 128}) {
      if (qt == DType::u8 && zp < 0) continue;
      if (qt == DType::s8 && zp > 127) continue;
      LoweredGraphBuilder b;
      const Shape xs{2, 3, 13, 13};
      const ValueId x = b.input("x", DType::f32, xs);
      Tensor xf = Tensor::zeros(DType::f32, xs);
      const float s = r.uniform_f(0.01f, 0.1f);
      for (int64_t i = 0; i < xf.numel(); ++i) {
        // Half the elements sit on or next to .5 ties of x * (1/s).
        const float inv = 1.f / s;
        float v = r.uniform_f(-300.f, 300.f) * s;
        if (i % 2) v = (static_cast<float>(r.uniform(-300, 300)) + 0.5f) / inv;
        if (i % 4 == 1) v = std::nextafter(v, 1e9f);
        xf.data<float>()[i] = v;
      }
      const ValueId q = b.value("q", qt, per_tensor(s, zp, qt));
      b.node(OpKind::Quantize, "quantize", {x}, {q});
      const DType rt = qt == DType::u8 ? DType::s8 : DType::u8;
      const ValueId rq = b.value("rq", rt, per_tensor(s * r.uniform_f(0.3f, 3.f), rt == DType::u8 ? 131 : -1, rt));
      b.node(OpKind::Requantize, "requantize", {q}, {rq});
      const ValueId dq = b.value("dq", DType::f32);
      b.node(OpKind::Dequantize, "dequantize", {rq}, {dq});
      const ValueId dq2 = b.value("dq2", DType::f32);
      b.node(OpKind::Dequantize, "dequantize2", {q}, {dq2});
      b.output(dq);
      b.output(dq2);
      const RunResult dn = run_table(b.graph, onednn_kernel_table(), {xf});
      const RunResult ora = run_table(b.graph, int_kernel_table(), {xf});
      total += expect_bit_identical(dn, ora, fmt::format("reorders {} zp {}", dtype_name(qt), zp));
    }
  }
  // Per-axis scales (axis 1) with a common zero point: reorders with mask 1 << 1.
  {
    LoweredGraphBuilder b;
    const Shape xs{2, 13, 5, 7};
    const ValueId x = b.input("x", DType::f32, xs);
    Tensor xf = Tensor::zeros(DType::f32, xs);
    for (float& v : xf.values<float>()) v = r.uniform_f(-4.f, 4.f);
    std::vector<float> sq, sr;
    for (int c = 0; c < 13; ++c) {
      sq.push_back(r.uniform_f(0.01f, 0.05f));
      sr.push_back(r.uniform_f(0.02f, 0.1f));
    }
    const ValueId q = b.value("q", DType::s8, per_channel(sq, std::vector<int32_t>(13, 2), DType::s8, 1));
    b.node(OpKind::Quantize, "quantize", {x}, {q});
    const ValueId rq = b.value("rq", DType::u8, per_channel(sr, std::vector<int32_t>(13, 100), DType::u8, 1));
    b.node(OpKind::Requantize, "requantize", {q}, {rq});
    const ValueId dq = b.value("dq", DType::f32);
    b.node(OpKind::Dequantize, "dequantize", {rq}, {dq});
    b.output(dq);
    const RunResult dn = run_table(b.graph, onednn_kernel_table(), {xf});
    EXPECT_TRUE(dn.log.empty()) << joined(dn.log);
    total += expect_bit_identical(dn, run_table(b.graph, int_kernel_table(), {xf}), "per-axis reorders");
  }
  // s32 -> f32 (biases) with large values and a zero point.
  {
    LoweredGraphBuilder b;
    const ValueId x = b.input("x", DType::s32, {4097}, per_tensor(0.0013f, 77, DType::s32));
    Tensor xt = Tensor::zeros(DType::s32, {4097});
    for (int32_t& v : xt.values<int32_t>()) v = r.uniform(INT32_MIN + 100, INT32_MAX - 100);
    const ValueId y = b.value("y", DType::f32);
    b.node(OpKind::Dequantize, "dequantize", {x}, {y});
    b.output(y);
    total += expect_bit_identical(run_table(b.graph, onednn_kernel_table(), {xt}),
                                  run_table(b.graph, int_kernel_table(), {xt}), "dequantize s32");
  }
  g_total_compared += total;
  std::printf("[ reorders ] %-56s %8lld elements bit-identical%s\n", "quantize/requantize/dequantize, ties",
              static_cast<long long>(total), HasFailure() ? " (NOT)" : "");
}

// QAdd: the oneDNN table's vectorised loop against the oracle's element-by-element formula,
// bit for bit, on odd sizes, every u8/s8 combination, exact ties of the output grid and
// saturating sums; the oracle itself against the closed form in double wherever the
// real quotient is not within 1e-3 of a .5 tie. One input comes channels-last from a QConv
// (on the oneDNN table), the other row-major from the graph input: the kernel must align them.
TEST(QAddVsOracle, BitIdenticalAndClosedForm) {
  struct AddCase {
    DType a, b, y;
    int32_t za, zb, zy;
    float sa, sb, sy;
  };
  const std::vector<AddCase> cases = {
      {DType::u8, DType::u8, DType::u8, 128, 121, 3, 0.05f, 0.07f, 0.09f},
      {DType::s8, DType::u8, DType::s8, -3, 100, 5, 0.031f, 0.017f, 0.02f},
      {DType::u8, DType::s8, DType::u8, 0, 0, 128, 0.25f, 0.25f, 0.5f},  // (a + b) / 2: exact .5 ties
      {DType::s8, DType::s8, DType::s8, 0, 0, 0, 0.5f, 0.5f, 0.25f},    // saturates often
      {DType::u8, DType::u8, DType::u8, 7, 250, 0, 0.011f, 0.013f, 0.004f},
  };
  Rand r(31);
  int64_t total = 0, closed_form = 0;
  for (size_t ci = 0; ci < cases.size(); ++ci) {
    const AddCase& c = cases[ci];
    LoweredGraphBuilder b;
    const Shape xs{1, 13, 9, 11};  // 1287 elements: not a multiple of any vector width
    // a comes from a 1x1 QConv of xc (channels-last on the oneDNN table), b straight from the input.
    const ValueId xc = b.input("xc", DType::u8, xs, per_tensor(0.05f, 128, DType::u8));
    const ValueId xb = b.input("b", c.b, xs, per_tensor(c.sb, c.zb, c.b));
    const ValueId w = b.constant("w", r.weights(DType::s8, {13, 13, 1, 1}, vnni()), per_tensor(0.01f, 0, DType::s8));
    LoweredParams p;
    p.output_scales = make_scales(r, 13, 13, DType::u8, DType::s8, false, 60.f, vnni());
    const ValueId a = b.value("a", c.a, per_tensor(c.sa, c.za, c.a));
    b.int8_op(OpKind::QConv, "conv", xc, w, kNoValue, kNoValue, a, p).attrs["kernel_shape"] = std::vector<int64_t>{1, 1};
    const ValueId y = b.value("y", c.y, per_tensor(c.sy, c.zy, c.y));
    b.node(OpKind::QAdd, "add", {a, xb}, {y});
    const ValueId y2 = b.value("y2", c.y, per_tensor(c.sy, c.zy, c.y));
    b.node(OpKind::QAdd, "add_swapped_layouts", {xb, a}, {y2});  // b first: the other operand order
    b.output(y);
    b.output(y2);
    const std::vector<Tensor> feeds = {r.codes(DType::u8, xs), r.codes(c.b, xs)};
    const RunResult dn = run_table(b.graph, onednn_kernel_table(), feeds);
    const RunResult ora = run_table(b.graph, int_kernel_table(), feeds);
    EXPECT_TRUE(dn.log.empty()) << joined(dn.log);
    total += expect_bit_identical(dn, ora, fmt::format("qadd case {}", ci));
    // The oracle against the formula in double.
    const Tensor& ta = ora.tensors.at("a");
    const Tensor& tb = feeds[1];
    const Tensor& ty = ora.tensors.at("y");
    const QuantGrid g = quant_grid(c.y, QuantRange::full);
    for (int64_t i = 0; i < ty.numel(); ++i) {
      const double real = (static_cast<double>(c.sa) * (ta.value_as_double(i) - c.za) +
                           static_cast<double>(c.sb) * (tb.value_as_double(i) - c.zb)) /
                          static_cast<double>(c.sy);
      if (std::fabs(real - std::floor(real) - 0.5) < 1e-3) continue;
      const double want = std::clamp(std::nearbyint(real) + c.zy, static_cast<double>(g.qmin), static_cast<double>(g.qmax));
      ASSERT_EQ(ty.value_as_double(i), want) << "case " << ci << " element " << i << " real " << real;
      ++closed_form;
    }
    // The pair swapped computes the same sum (a + b == b + a in f32).
    EXPECT_TRUE(dn.tensors.at("y").bytes == dn.tensors.at("y2").bytes) << ci;
  }
  g_total_compared += total;
  EXPECT_GT(closed_form, total / 4);
  std::printf("[ qadd     ] %-56s %8lld elements bit-identical%s; %lld match the closed form\n",
              "u8/s8 combinations, ties, saturation, mixed layouts", static_cast<long long>(total),
              HasFailure() ? " (NOT)" : "", static_cast<long long>(closed_form));
}

// Layout conversions against the closed-form index maps: row-major element (n, c, s) sits
// at (n*C + c)*S + s, channels-last element at (n*S + s)*C + c.
TEST(Layout, ConversionsFollowTheIndexMaps) {
  for (const Shape& shape : {Shape{2, 3, 5, 7}, Shape{1, 13, 127}, Shape{3, 17, 2, 3, 5}, Shape{1, 1, 4, 4},
                             Shape{2, 9, 1, 1}}) {
    for (DType t : {DType::u8, DType::f32}) {
      Tensor rm = Tensor::zeros(t, shape);
      const int64_t n = shape[0], c = shape[1], s = rm.numel() / (n * c);
      for (int64_t i = 0; i < rm.numel(); ++i) {
        if (t == DType::u8) rm.data<uint8_t>()[i] = static_cast<uint8_t>(i * 7 + 3);
        else rm.data<float>()[i] = static_cast<float>(i) * 0.5f - 11.f;
      }
      const Tensor cl = to_channels_last(rm);
      const bool shared = c == 1 || s == 1;
      EXPECT_EQ(cl.layout, shared ? Layout::row_major : Layout::channels_last) << shape_str(shape);
      EXPECT_EQ(cl.shape, shape);
      for (int64_t b = 0; b < n; ++b)
        for (int64_t ch = 0; ch < c; ++ch)
          for (int64_t sp = 0; sp < s; ++sp) {
            const int64_t src = (b * c + ch) * s + sp, dst = shared ? src : (b * s + sp) * c + ch;
            ASSERT_EQ(cl.value_as_double(dst), rm.value_as_double(src)) << shape_str(shape) << " " << b << "," << ch << "," << sp;
          }
      const Tensor back = to_row_major(cl);
      EXPECT_EQ(back.layout, Layout::row_major);
      EXPECT_EQ(back.bytes, rm.bytes) << shape_str(shape);
    }
  }
}

// Channels-last tensors from QConv flowing into every kind of consumer: reference kernels
// (MaxPool, Transpose, Flatten, Concat, Dequantize's float reader), a per-axis Requantize,
// a per-tensor Requantize (which keeps the layout), a QConv with a channels-last sum, a
// QMatMul after a Flatten, and a QConv output that is a graph output. Every tensor the
// observer sees and every graph output must equal the oracle's (which is row-major only);
// a run without an observer must return the same outputs.
TEST(LayoutVsOracle, ChannelsLastIntoEveryConsumer) {
  Rand r(4242);
  const bool full = vnni();
  LoweredGraphBuilder b;
  const Shape xs{1, 13, 9, 11};
  const ValueId x = b.input("x", DType::u8, xs, per_tensor(0.05f, 120, DType::u8));
  const Tensor xt = r.codes(DType::u8, xs);
  auto conv = [&](const std::string& name, ValueId in, int64_t c_in, int64_t m, int64_t k, ValueId sum_in, DType out,
                  std::vector<PostOp> post, int32_t zp_out) {
    const ValueId w = b.constant(name + ".w", r.weights(DType::s8, {m, c_in, k, k}, full), per_tensor(0.01f, 0, DType::s8));
    const ValueId bias = b.constant(name + ".b", r.codes(DType::s32, {m}));
    LoweredParams p;
    p.output_scales = make_scales(r, m, c_in * k * k, DType::u8, DType::s8, true, 40.f, full);
    p.post_ops = std::move(post);
    const ValueId y = b.value(name + ".y", out, per_tensor(0.1f, zp_out, out));
    Node& n = b.int8_op(OpKind::QConv, name, in, w, bias, sum_in, y, p);
    n.attrs["kernel_shape"] = std::vector<int64_t>{k, k};
    n.attrs["pads"] = std::vector<int64_t>(4, (k - 1) / 2);
    return y;
  };
  const ValueId y1 = conv("conv1", x, 13, 16, 3, kNoValue, DType::u8, {relu()}, 0);  // row-major x -> channels-last y1
  const ValueId mp = b.value("maxpool.y", DType::u8, per_tensor(0.1f, 0, DType::u8));
  Node& pool = b.node(OpKind::MaxPool, "maxpool", {y1}, {mp});
  pool.attrs["kernel_shape"] = std::vector<int64_t>{2, 2};
  pool.attrs["strides"] = std::vector<int64_t>{2, 2};
  const ValueId y2 = conv("conv2", mp, 16, 8, 1, kNoValue, DType::s8, {}, -3);  // [1,8,4,5]
  std::vector<float> sr;
  for (int c = 0; c < 8; ++c) sr.push_back(r.uniform_f(0.05f, 0.2f));
  const ValueId rq_axis = b.value("rq_axis", DType::u8, per_channel(sr, std::vector<int32_t>(8, 128), DType::u8, 1));
  b.node(OpKind::Requantize, "requantize_axis", {y2}, {rq_axis});
  const ValueId rq1 = b.value("rq1", DType::u8, per_tensor(0.13f, 10, DType::u8));
  b.node(OpKind::Requantize, "requantize_tensor", {y1}, {rq1});  // stays channels-last
  const ValueId tr = b.value("transpose.y", DType::u8, per_tensor(0.13f, 10, DType::u8));
  b.node(OpKind::Transpose, "transpose", {rq1}, {tr}).attrs["perm"] = std::vector<int64_t>{0, 2, 3, 1};
  const PostOp sum_rq1{PostOpKind::sum, 0.6f, 10.f};  // beta: rq1's zero point
  const ValueId y3 = conv("conv3", y1, 16, 16, 3, rq1, DType::u8, {sum_rq1, relu()}, 4);  // channels-last x and sum
  const ValueId fl = b.value("flatten.y", DType::s8, per_tensor(0.1f, -3, DType::s8));
  b.node(OpKind::Flatten, "flatten", {y2}, {fl}).attrs["axis"] = int64_t{1};
  const ValueId mw = b.constant("mm.w", r.weights(DType::s8, {160, 7}, full), per_tensor(0.01f, 0, DType::s8));
  LoweredParams mp_params;
  mp_params.output_scales = make_scales(r, 7, 160, DType::s8, DType::s8, true, 40.f, full);
  const ValueId mm = b.value("mm.y", DType::u8, per_tensor(0.1f, 100, DType::u8));
  b.int8_op(OpKind::QMatMul, "matmul", fl, mw, kNoValue, kNoValue, mm, mp_params);
  const ValueId cat = b.value("concat.y", DType::u8, per_tensor(0.1f, 0, DType::u8));
  b.node(OpKind::Concat, "concat", {y3, y1}, {cat}).attrs["axis"] = int64_t{1};
  const ValueId dq = b.value("dequantize.y", DType::f32);
  b.node(OpKind::Dequantize, "dequantize", {y3}, {dq});
  for (ValueId o : {y1, rq_axis, tr, mm, cat, dq, y3}) b.output(o);

  const RunResult dn = run_table(b.graph, onednn_kernel_table(), {xt});
  const RunResult ora = run_table(b.graph, int_kernel_table(), {xt});
  EXPECT_TRUE(dn.log.empty()) << joined(dn.log);
  EXPECT_EQ(dn.tensors.size(), 11u);
  const int64_t n = expect_bit_identical(dn, ora, "layouts");
  g_total_compared += n;

  // Without an observer nothing is converted but the graph outputs.
  auto ex = Executor::create(b.graph, onednn_kernel_table());
  ASSERT_TRUE(ex.has_value()) << ex.status().message();
  for (int run = 0; run < 2; ++run) {  // the second run reuses every plan
    auto out = ex->run(std::vector<Tensor>{xt});
    ASSERT_TRUE(out.has_value()) << out.status().message();
    ASSERT_EQ(out->size(), b.graph.outputs.size());
    for (size_t i = 0; i < out->size(); ++i) {
      const std::string& name = b.graph.value(b.graph.outputs[i]).name;
      const Tensor& t = (*out)[i];
      EXPECT_EQ(t.layout, Layout::row_major) << name;
      EXPECT_EQ(t.shape, ora.tensors.at(name).shape) << name;
      EXPECT_TRUE(t.bytes == ora.tensors.at(name).bytes) << name << " (run " << run << ", no observer)";
    }
  }
  std::printf("[ layout   ] %-56s %8lld elements bit-identical%s\n", "channels-last into every consumer",
              static_cast<long long>(n), HasFailure() ? " (NOT)" : "");
}

// Full-range weights and codes: without VNNI the oracle must see oneDNN's kernel effects
// (vpmaddubsw's 16-bit pair sums saturate for u8 sources; s8 sources halve the weights);
// with VNNI oneDNN computes exact int32 dot products, so it must agree bit for bit.
TEST(KernelDrift, FullRangeDriftIsVisibleWithoutVnniAndAbsentWithVnni) {
  const OnednnRuntimeInfo info = onednn_runtime_info();
  std::printf("[ info     ] oneDNN %s, effective ISA %s, VNNI %s\n", info.version.c_str(), info.isa.c_str(),
              info.int8_vnni ? "yes" : "no");
  for (DType xt : {DType::u8, DType::s8}) {
    Rand r(31);
    LoweredGraphBuilder b;
    const Shape xs{1, 64, 13, 13};
    const ValueId x = b.input("x", xt, xs, per_tensor(0.05f, 0, xt));
    Tensor xv = r.codes(xt, xs);
    const ValueId w = b.constant("w", r.weights(DType::s8, {64, 64, 3, 3}, /*full_range=*/true), per_tensor(0.01f, 0, DType::s8));
    LoweredParams p;
    p.output_scales = {1.f};
    const ValueId y = b.value("y", DType::s32, per_tensor(1.f, 0, DType::s32));
    Node& n = b.int8_op(OpKind::QConv, "conv", x, w, kNoValue, kNoValue, y, p);
    n.attrs["kernel_shape"] = std::vector<int64_t>{3, 3};
    n.attrs["pads"] = std::vector<int64_t>{1, 1, 1, 1};
    b.output(y);
    const RunResult dn = run_table(b.graph, onednn_kernel_table(), {xv});
    const RunResult ora = run_table(b.graph, int_kernel_table(), {xv});
    const Tensor& a = dn.tensors.at("y");
    const Tensor& o = ora.tensors.at("y");
    int64_t diff = 0;
    int64_t max_abs = 0;
    for (int64_t i = 0; i < a.numel(); ++i) {
      const int64_t d = std::abs(int64_t{a.data<int32_t>()[i]} - o.data<int32_t>()[i]);
      diff += d != 0;
      max_abs = std::max(max_abs, d);
    }
    std::printf("[ drift    ] %s src, full-range s8 weights, s32 accumulators: %lld of %lld differ (max |diff| %lld)\n",
                dtype_name(xt).data(), static_cast<long long>(diff), static_cast<long long>(a.numel()),
                static_cast<long long>(max_abs));
    if (info.int8_vnni) {
      EXPECT_EQ(diff, 0) << "VNNI: oneDNN must equal the integer oracle on full-range data";
    } else {
      EXPECT_GT(diff, 0) << "expected vpmaddubsw saturation (u8) or halved weights (s8) without VNNI";
    }
  }
}

// Prints the total once every test ran.
class SummaryEnvironment : public ::testing::Environment {
 public:
  void TearDown() override {
    std::printf("[ summary  ] %lld elements compared oneDNN vs oracle, all bit-identical unless a failure is "
                "listed above (oneDNN %s, VNNI %s)\n",
                static_cast<long long>(g_total_compared), onednn_runtime_info().isa.c_str(), vnni() ? "yes" : "no");
  }
};
[[maybe_unused]] ::testing::Environment* const g_summary = ::testing::AddGlobalTestEnvironment(new SummaryEnvironment);

}  // namespace
}  // namespace qdrift
