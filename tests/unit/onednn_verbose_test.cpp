// onednn_verbose_test.cpp: with ONEDNN_VERBOSE=1, the oneDNN table's int8 conv (nhwc),
// matmul and reorders must run on jit/brgemm implementations, never on oneDNN's "ref"
// fallbacks (with nchw activations the int8 conv would pick ref_int8: thousands of times
// slower). Its own binary: oneDNN reads ONEDNN_VERBOSE once, at its first call.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <random>
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

TEST(OnednnVerbose, Int8ConvMatmulAndReordersRunOnJitImplementations) {
  ASSERT_TRUE(g_verbose_set);
  std::mt19937 rng(3);
  const Graph g = build(rng);
  Tensor x = Tensor::zeros(DType::f32, {1, 16, 13, 13});
  for (float& v : x.values<float>()) v = std::uniform_real_distribution<float>(-5.f, 5.f)(rng);

  ::testing::internal::CaptureStdout();
  auto ex = Executor::create(g, onednn_kernel_table());
  ASSERT_TRUE(ex.has_value()) << ex.status().message();
  auto out = ex->run({&x, 1});
  std::fflush(stdout);
  const std::string captured = ::testing::internal::GetCapturedStdout();
  ASSERT_TRUE(out.has_value()) << out.status().message();

  // onednn_verbose,exec,cpu,<primitive>,<implementation>,<prop>,<memory descs>,<attrs>,...
  // (oneDNN 2.6 prints "onednn_verbose"; older releases "dnnl_verbose").
  std::istringstream lines(captured);
  std::string line;
  int execs = 0, convs = 0, reorders = 0, matmuls = 0, to_nhwc = 0, to_nchw = 0;
  while (std::getline(lines, line)) {
    if (line.rfind("onednn_verbose,exec,", 0) != 0 && line.rfind("dnnl_verbose,exec,", 0) != 0) continue;
    std::vector<std::string> f;
    std::istringstream fields(line);
    for (std::string s; std::getline(fields, s, ',');) f.push_back(s);
    ASSERT_GE(f.size(), 7u) << line;
    ++execs;
    convs += f[3] == "convolution";
    reorders += f[3] == "reorder";
    matmuls += f[3] == "matmul";
    std::printf("[ verbose  ] %-12s %-24s %s\n", f[3].c_str(), f[4].c_str(), f[6].c_str());
    EXPECT_EQ(f[4].find("ref"), std::string::npos) << "reference implementation: " << line;
    EXPECT_TRUE(f[4].find("jit") != std::string::npos || f[4].find("brg") != std::string::npos ||
                f[4].find("gemm") != std::string::npos)
        << line;
    if (f[3] == "convolution") {
      EXPECT_NE(f[6].find("acdb"), std::string::npos) << "conv activations not nhwc: " << line;
    }
    if (f[3] == "reorder") {  // "src_u8::blocked:abcd:f0 dst_u8::blocked:acdb:f0"
      const size_t d = f[6].find("dst_");
      const std::string src = f[6].substr(0, d), dst = d == std::string::npos ? "" : f[6].substr(d);
      to_nhwc += src.find(":abcd:") != std::string::npos && dst.find(":acdb:") != std::string::npos;
      to_nchw += src.find(":acdb:") != std::string::npos && dst.find(":abcd:") != std::string::npos;
    }
  }
  EXPECT_EQ(convs, 2);
  EXPECT_EQ(matmuls, 1);
  // weights x3 (at the first run: the graph leaves shapes unknown), quantize, the row-major
  // quantized input into conv_u8, the sum copy of conv_s8 (nhwc -> nhwc), requantize, dequantize.
  EXPECT_EQ(reorders, 8);
  // Activations stay channels-last from conv_u8 on: one layout reorder into the first conv,
  // none back to nchw (QMatMul's row-major input is converted by the executor, in C++).
  EXPECT_EQ(to_nhwc, 1);
  EXPECT_EQ(to_nchw, 0);
  std::printf("[ verbose  ] %d primitive executions, %d conv, %d matmul, %d reorders (%d nchw->nhwc, %d nhwc->nchw), "
              "none of them 'ref'\n",
              execs, convs, matmuls, reorders, to_nhwc, to_nchw);
}

}  // namespace
}  // namespace qdrift
