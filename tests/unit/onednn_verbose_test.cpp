// onednn_verbose_test.cpp: with ONEDNN_VERBOSE=1, the oneDNN table's per-inference int8
// conv (nhwc), matmul and reorders must run on jit/brgemm implementations, never on oneDNN's
// "ref" fallbacks (with nchw activations the int8 conv would pick ref_int8: thousands of times
// slower). Its own binary: oneDNN reads ONEDNN_VERBOSE once, at its first call.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "core/executor.h"
#include "kernels/onednn/onednn_kernels.h"
#include "tests/unit/lowered_graph_builder.h"

namespace qdrift {
namespace {

// Runs before main, hence before any oneDNN call in this process.
[[maybe_unused]] const bool g_verbose_set = [] { return setenv("ONEDNN_VERBOSE", "1", 1) == 0; }();

using testing_util::LoweredGraphBuilder;
using testing_util::per_tensor;

Tensor random_codes(DType t, const Shape& shape, std::mt19937& rng) {
  Tensor x = Tensor::zeros(t, shape);
  for (std::byte& b : x.bytes) b = static_cast<std::byte>(rng() & 0x3f);  // small codes, any sign bit
  return x;
}

// Quantize (f32 NCHW -> u8) -> QConv u8 -> QConv s8 src (+sum) -> QMatMul -> Dequantize.
Graph build(std::mt19937& rng) {
  LoweredGraphBuilder b;
  const ValueId x = b.input("x", DType::f32, {1, 16, 13, 13});
  const ValueId q = b.value("q", DType::u8, per_tensor(0.05f, 128, DType::u8));
  b.node(OpKind::Quantize, "quantize", {x}, {q});
  auto conv = [&](const std::string& name, ValueId in, DType out, ValueId sum) {
    const ValueId w = b.constant(name + ".w", random_codes(DType::s8, {16, 16, 3, 3}, rng), per_tensor(0.01f, 0, DType::s8));
    const ValueId bias = b.constant(name + ".b", Tensor::zeros(DType::s32, {16}));
    LoweredParams p;
    p.output_scales = std::vector<float>(16, 0.002f);
    if (sum != kNoValue) p.post_ops.push_back({PostOpKind::sum, 0.5f, 0.f});
    p.post_ops.push_back({PostOpKind::relu, 0.f, 0.f});
    const ValueId y = b.value(name + ".y", out, per_tensor(0.1f, 0, out));
    Node& n = b.int8_op(OpKind::QConv, name, in, w, bias, sum, y, p);
    n.attrs["kernel_shape"] = std::vector<int64_t>{3, 3};
    n.attrs["pads"] = std::vector<int64_t>{1, 1, 1, 1};
    return y;
  };
  const ValueId y1 = conv("conv_u8", q, DType::s8, kNoValue);
  const ValueId y2 = conv("conv_s8", y1, DType::s8, y1);
  const ValueId w = b.constant("fc.w", random_codes(DType::s8, {13, 7}, rng), per_tensor(0.01f, 0, DType::s8));
  LoweredParams p;
  p.output_scales = {0.01f};
  const ValueId y3 = b.value("fc.y", DType::u8, per_tensor(0.1f, 3, DType::u8));
  b.int8_op(OpKind::QMatMul, "fc", y2, w, kNoValue, kNoValue, y3, p);
  const ValueId rq = b.value("rq", DType::s8, per_tensor(0.2f, 0, DType::s8));
  b.node(OpKind::Requantize, "requantize", {y3}, {rq});
  const ValueId dq = b.value("dq", DType::f32);
  b.node(OpKind::Dequantize, "dequantize", {rq}, {dq});
  b.output(dq);
  return std::move(b.graph);
}

// One primitive execution from oneDNN's verbose log:
// onednn_verbose,exec,cpu,<primitive>,<implementation>,<prop>,<memory descs>,<attrs>,...
// (oneDNN 2.6 prints "onednn_verbose"; older releases "dnnl_verbose").
struct PrimitiveExec {
  std::string primitive, impl, descs, line;
  bool is(const char* p) const { return primitive == p; }
  // "src_u8::blocked:abcd:f0 dst_u8::blocked:acdb:f0" -> the src and dst halves.
  std::string src() const { return descs.substr(0, descs.find("dst_")); }
  std::string dst() const { const size_t d = descs.find("dst_"); return d == std::string::npos ? "" : descs.substr(d); }
};

std::vector<PrimitiveExec> parse_execs(const std::string& captured) {
  std::vector<PrimitiveExec> execs;
  std::istringstream lines(captured);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("onednn_verbose,exec,", 0) != 0 && line.rfind("dnnl_verbose,exec,", 0) != 0) continue;
    std::vector<std::string> f;
    std::istringstream fields(line);
    for (std::string s; std::getline(fields, s, ',');) f.push_back(s);
    EXPECT_GE(f.size(), 7u) << line;
    if (f.size() < 7) continue;
    execs.push_back({f[3], f[4], f[6], line});
  }
  return execs;
}

// Runs the executor once with stdout captured and returns the primitives it executed.
std::vector<PrimitiveExec> run_captured(Executor& ex, const Tensor& x) {
  ::testing::internal::CaptureStdout();
  auto out = ex.run({&x, 1});
  std::fflush(stdout);
  const std::string captured = ::testing::internal::GetCapturedStdout();
  EXPECT_TRUE(out.has_value()) << out.status().message();
  return parse_execs(captured);
}

// What matters on every ISA: nothing that runs per inference uses one of oneDNN's "ref"
// implementations or a generic C++ one (only jit/brgemm/gemm kernels), and activations stay
// nhwc between int8 ops. One-time weight preparation (the reorders of the first run into
// the primitives' blocked weight layouts) may use any implementation: oneDNN picks
// `simple:any` for some of them on AVX-512 VNNI, and it runs once per kernel.
TEST(OnednnVerbose, PerInferencePrimitivesRunOnJitImplementations) {
  ASSERT_TRUE(g_verbose_set);
  std::mt19937 rng(3);
  const Graph g = build(rng);
  Tensor x = Tensor::zeros(DType::f32, {1, 16, 13, 13});
  for (float& v : x.values<float>()) v = std::uniform_real_distribution<float>(-5.f, 5.f)(rng);

  auto ex = Executor::create(g, onednn_kernel_table());
  ASSERT_TRUE(ex.has_value()) << ex.status().message();
  const std::vector<PrimitiveExec> first = run_captured(*ex, x);
  const std::vector<PrimitiveExec> steady = run_captured(*ex, x);
  const OnednnRuntimeInfo info = onednn_runtime_info();

  int convs = 0, reorders = 0, matmuls = 0, to_nhwc = 0, to_nchw = 0;
  for (const PrimitiveExec& e : steady) {
    std::printf("[ per run  ] %-12s %-24s %s\n", e.primitive.c_str(), e.impl.c_str(), e.descs.c_str());
    convs += e.is("convolution");
    reorders += e.is("reorder");
    matmuls += e.is("matmul");
    EXPECT_EQ(e.impl.find("ref"), std::string::npos) << "reference implementation per inference: " << e.line;
    EXPECT_TRUE(e.impl.find("jit") != std::string::npos || e.impl.find("brg") != std::string::npos ||
                e.impl.find("gemm") != std::string::npos)
        << "not a jit/brgemm/gemm kernel per inference: " << e.line;
    if (e.is("convolution")) {
      EXPECT_NE(e.descs.find("acdb"), std::string::npos) << "conv activations not nhwc: " << e.line;
    }
    // ISA-specific: with VNNI, the int8 compute primitives are oneDNN's VNNI kernels
    // (e.g. jit_int8:avx512_core_vnni, brg:avx512_core_vnni); without, its AVX2 ones.
    if ((e.is("convolution") || e.is("matmul")) && info.int8_vnni) {
      EXPECT_NE(e.impl.find("vnni"), std::string::npos) << "VNNI machine, non-VNNI int8 kernel: " << e.line;
    }
    if (e.is("reorder")) {
      to_nhwc += e.src().find(":abcd:") != std::string::npos && e.dst().find(":acdb:") != std::string::npos;
      to_nchw += e.src().find(":acdb:") != std::string::npos && e.dst().find(":abcd:") != std::string::npos;
    }
  }
  EXPECT_EQ(convs, 2);
  EXPECT_EQ(matmuls, 1);
  // quantize, the row-major quantized input into conv_u8, the sum copy of conv_s8 (nhwc ->
  // nhwc), requantize, dequantize.
  EXPECT_EQ(reorders, 5);
  // Activations stay channels-last from conv_u8 on: one layout reorder into the first conv,
  // none back to nchw (QMatMul's row-major input is converted by the executor, in C++).
  EXPECT_EQ(to_nhwc, 1);
  EXPECT_EQ(to_nchw, 0);

  // The first run also reorders the three weight tensors into the primitives' layouts (the
  // graph leaves shapes unknown until then); nothing else is one-time. The one-time
  // executions are the first run's minus the steady run's (as multisets of log lines).
  std::multiset<std::string> extra;
  for (const PrimitiveExec& e : first) extra.insert(e.primitive + "," + e.impl + "," + e.descs);
  for (const PrimitiveExec& e : steady) {
    auto it = extra.find(e.primitive + "," + e.impl + "," + e.descs);
    EXPECT_NE(it, extra.end()) << "ran in the steady run but not in the first: " << e.line;
    if (it != extra.end()) extra.erase(it);
  }
  int weight_reorders = 0;
  for (const std::string& e : extra) {
    std::printf("[ one-time ] %s\n", e.c_str());
    weight_reorders += e.rfind("reorder,", 0) == 0;
  }
  EXPECT_EQ(extra.size(), 3u);
  EXPECT_EQ(weight_reorders, 3);
  std::printf("[ verbose  ] per run: %zu primitive executions, %d conv, %d matmul, %d reorders (%d nchw->nhwc, %d "
              "nhwc->nchw), all jit/brgemm/gemm; first run: %d more (weight reorders); oneDNN ISA %s, VNNI %s\n",
              steady.size(), convs, matmuls, reorders, to_nhwc, to_nchw, weight_reorders, info.isa.c_str(),
              info.int8_vnni ? "yes" : "no");
}

}  // namespace
}  // namespace qdrift
