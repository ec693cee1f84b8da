// ort_graphs_cli_test: the graphs ONNX Runtime's optimizer saved for the bundled models
// (testdata/ort/, docs/foreign_ops.md) through the real binary: `qdrift run` runs them, and
// `qdrift diff MODEL --other ORT_GRAPH` runs under every --against (the lowering keeps
// ORT's contrib ops and the int8 tables run them on the reference kernels), pairs the graph
// output, and gives every unmatched tensor a reason.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "kernels/onednn/onednn_kernels.h"
#include "tests/unit/qdrift_process.h"

namespace qdrift {
namespace {

using testing_util::diff_report;
using testing_util::run_qdrift;
using testing_util::TempDir;

const std::string kData = std::string(QDRIFT_SOURCE_DIR) + "/testdata/";

struct Saved {
  std::string model;  // under testdata/
  std::string input;  // under testdata/
  std::string ort;    // testdata/ort/<name>_ort_all.onnx
};
const std::vector<Saved> kSaved = {
    {"mobilenet_tiny_qdq.onnx", "mobilenet_tiny_input.npy", "mobilenet_tiny_qdq"},
    {"qdq/bn_conv_u8.onnx", "qdq/bn_conv_u8_input.npy", "bn_conv_u8"},
    {"qdq/conv_chain_u8.onnx", "qdq/conv_chain_u8_input.npy", "conv_chain_u8"},
    {"qdq/conv_chain_u8_qop.onnx", "qdq/conv_chain_u8_input.npy", "conv_chain_u8_qop"},
    {"qdq/depthwise_s8.onnx", "qdq/depthwise_s8_input.npy", "depthwise_s8"},
    {"qdq/gemm_concat_s8.onnx", "qdq/gemm_concat_s8_input.npy", "gemm_concat_s8"},
    {"qdq/paddle_style_s8.onnx", "qdq/paddle_style_s8_input.npy", "paddle_style_s8"},
    {"qdq/residual_u8.onnx", "qdq/residual_u8_input.npy", "residual_u8"},
};

class OrtGraphCli : public ::testing::TestWithParam<Saved> {};

TEST_P(OrtGraphCli, RunAndDiffAgainstTheSourceModel) {
  const Saved& s = GetParam();
  const std::string ort = kData + "ort/" + s.ort + "_ort_all.onnx";
  TempDir dir("ort_graphs_cli");
  const auto run = run_qdrift({"run", ort, "--input", kData + s.input}, dir);
  EXPECT_EQ(run.exit_code, 0) << run.err;
  // The int8 lowering of the ORT graph (the default --against) on every model; the other
  // executors on the first, to keep the test short.
  // Without VNNI, oneDNN's int8 kernels saturate u8 x s8 pairs at 16 bits (kernel drift,
  // docs/int8_runtime.md): there the cosine bound holds for the integer oracle on the same
  // lowered graph, and int8 must still run and pair its output.
  const bool onednn_exact = onednn_runtime_info().int8_vnni;
  std::vector<std::string> against = {"int8"};
  if (!onednn_exact) against.push_back("oracle");
  if (s.ort == "mobilenet_tiny_qdq") against = {"int8", "oracle", "ref", "fp32"};
  for (const std::string& a : against) {
    const bool bounded = a != "fp32" && (a != "int8" || onednn_exact);
    const Report r = diff_report({kData + s.model, "--input", kData + s.input, "--other", ort, "--against", a}, dir);
    int outputs = 0;
    for (const PairRecord& p : r.pairs) {
      if (!p.graph_output) continue;
      ++outputs;
      if (bounded) EXPECT_GE(p.drift.cosine, 0.99) << s.ort << " --against " << a << ": " << p.ref.tensor;
    }
    EXPECT_GE(outputs, 1) << s.ort << " --against " << a << ": the graph output is not paired";
    for (const UnmatchedRecord& u : r.unmatched) EXPECT_FALSE(u.reason.empty()) << u.side << " " << u.tensor;
  }
}

INSTANTIATE_TEST_SUITE_P(OrtGraphs, OrtGraphCli, ::testing::ValuesIn(kSaved),
                         [](const ::testing::TestParamInfo<Saved>& p) { return p.param.ort; });

}  // namespace
}  // namespace qdrift
