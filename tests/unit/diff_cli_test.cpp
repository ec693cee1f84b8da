// Tests of `qdrift diff` through the real binary: the report it writes is read back with
// read_report_json and checked against what DESIGN.md promises independently of the code:
// under the onnx policy the integer oracle agrees with the fake-quant reference to within
// one step on every quantized tensor of every bundled model; a model diffed against itself
// is identical everywhere; NaN inputs are named in the report; the kernel check separates
// oneDNN's own effects (non-VNNI saturation) from int8 semantics.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "diff/report_json.h"
#include "kernels/onednn/onednn_kernels.h"
#include "tests/unit/qdrift_process.h"

namespace qdrift {
namespace {

using testing_util::diff_report;
using testing_util::Proc;
using testing_util::run_qdrift;
using testing_util::TempDir;

const std::string kSource = QDRIFT_SOURCE_DIR;

struct Model {
  std::string model, input;
};

std::vector<Model> bundled_models() {
  std::vector<Model> m = {{kSource + "/testdata/mobilenet_tiny_qdq.onnx", kSource + "/testdata/mobilenet_tiny_input.npy"}};
  for (const char* name : {"bn_conv_u8", "conv_chain_u8", "depthwise_s8", "gemm_concat_s8", "paddle_style_s8",
                           "residual_u8"})
    m.push_back({kSource + "/testdata/qdq/" + name + ".onnx", kSource + "/testdata/qdq/" + name + "_input.npy"});
  return m;
}

TEST(DiffCli, OracleWithinOneStepOfTheReferenceOnEveryBundledModel) {
  for (const Model& m : bundled_models()) {
    TempDir dir("diff_cli");
    const Report r = diff_report({m.model, "--input", m.input, "--against", "oracle"}, dir);
    ASSERT_GE(r.pairs.size(), 3u) << m.model;
    EXPECT_EQ(r.other_executor, "oracle");
    EXPECT_EQ(r.first_divergence, -1) << m.model;
    int with_steps = 0;
    for (const PairRecord& p : r.pairs) {
      EXPECT_EQ(p.method, MatchMethod::provenance) << p.ref.tensor;
      EXPECT_EQ(p.drift.nonfinite_mismatch, 0) << p.ref.tensor;
      if (!p.drift.has_steps) continue;
      ++with_steps;
      EXPECT_LE(p.drift.max_abs_steps, 1.0) << m.model << ": " << p.ref.tensor << " vs " << p.other.tensor;
    }
    EXPECT_GE(with_steps, 2) << m.model;
    EXPECT_EQ(r.top1_agreement, 1.0) << m.model;
  }
}

TEST(DiffCli, ModelAgainstItselfIsIdenticalEverywhere) {
  const Model m = bundled_models()[0];
  TempDir dir("diff_cli");
  const Report r = diff_report({m.model, "--input", m.input, "--other", m.model, "--against", "ref"}, dir);
  ASSERT_GT(r.pairs.size(), 20u);
  EXPECT_TRUE(r.unmatched.empty());
  EXPECT_EQ(r.first_divergence, -1);
  EXPECT_EQ(r.ref_model.xxh64, r.other_model.xxh64);
  EXPECT_EQ(r.ref_model.xxh64.size(), 16u);
  for (const PairRecord& p : r.pairs) {
    EXPECT_EQ(p.method, MatchMethod::name);
    EXPECT_EQ(p.ref.tensor, p.other.tensor);
    EXPECT_EQ(p.drift.max_abs, 0.0) << p.ref.tensor;
    EXPECT_EQ(p.drift.frac_differ, 0.0) << p.ref.tensor;
  }
}

TEST(DiffCli, KernelCheckSeparatesOneDnnFromSemantics) {
  const Model m = bundled_models()[0];
  TempDir dir("diff_cli");
  const Report r = diff_report({m.model, "--input", m.input}, dir);  // --against int8 by default
  ASSERT_FALSE(r.pairs.empty());
  int64_t differ = 0;
  for (const PairRecord& p : r.pairs) {
    EXPECT_TRUE(p.has_kernel_check) << p.other.tensor;
    differ += p.kernel_differ;
  }
  bool hinted = false;
  for (const CauseHint& c : r.causes) hinted = hinted || c.cause == "non_vnni_saturation" || c.cause == "kernel_drift";
  if (onednn_runtime_info().int8_vnni) {
    // With VNNI, oneDNN computes what the oracle computes (docs/int8_runtime.md).
    EXPECT_EQ(differ, 0);
    EXPECT_FALSE(hinted);
  } else {
    // The bundled model's weights use the full s8 range: on AVX2, oneDNN's 16-bit pair
    // sums saturate somewhere, and the report must say that this is the kernels' doing.
    EXPECT_GT(differ, 0);
    bool named = false;
    for (const CauseHint& c : r.causes) named = named || c.cause == "non_vnni_saturation";
    EXPECT_TRUE(named);
  }

  TempDir off("diff_cli");
  const Report without = diff_report({m.model, "--input", m.input, "--no-kernel-check"}, off);
  for (const PairRecord& p : without.pairs) EXPECT_FALSE(p.has_kernel_check);
}

TEST(DiffCli, NonFiniteInputsAreNamedInTheReport) {
  TempDir dir("diff_cli");
  const std::string bad = kSource + "/tests/bad_inputs/";
  const Report r = diff_report({bad + "qdq_ok.onnx", "--input", bad + "x_2x3_nan_inf.npy", "--against", "fp32"}, dir);
  ASSERT_EQ(r.inputs.size(), 1u);
  EXPECT_EQ(r.inputs[0].stats.nan_count, 2);  // the file holds 2 NaN and 2 Inf (make_bad_inputs.cpp)
  EXPECT_EQ(r.inputs[0].stats.inf_count, 2);
  bool hinted = false;
  for (const CauseHint& c : r.causes) hinted = hinted || c.cause == "nonfinite_input";
  EXPECT_TRUE(hinted);
  // The fp32 baseline passes NaN/Inf through where the reference quantized them away:
  // counted per side and as mismatches, never folded into max_abs.
  ASSERT_FALSE(r.pairs.empty());
  const DriftMeasures& d = r.pairs.back().drift;
  EXPECT_EQ(d.nan_other + d.inf_other, 4);
  EXPECT_EQ(d.nonfinite_mismatch, 4);
  EXPECT_TRUE(std::isfinite(d.max_abs));
  EXPECT_TRUE(r.pairs.back().divergent);
}

TEST(DiffCli, PrintsTheTableAndTheFirstDivergence) {
  const Model m = bundled_models()[0];
  TempDir dir("diff_cli");
  const Proc p = run_qdrift({"diff", m.model, "--input", m.input, "--against", "fp32", "--max-steps", "0"}, dir);
  ASSERT_EQ(p.exit_code, 0) << p.err;
  EXPECT_NE(p.out.find("first divergence: pair 0"), std::string::npos) << p.out;  // fp32 differs at once
  EXPECT_NE(p.out.find("qdrift.report/1"), std::string::npos);
  EXPECT_TRUE(p.err.empty()) << p.err;
}

TEST(DiffCli, BadUsageExitsTwoWithOneLine) {
  const Model m = bundled_models()[0];
  TempDir dir("diff_cli");
  const std::vector<std::vector<std::string>> cases = {
      {"diff", m.model, "--input", m.input, "--against", "ref"},
      {"diff", m.model, "--input", m.input, "--against", "fp32", "--policy", "paddle-onednn"},
      {"diff", m.model, "--input", m.input, "--against", "nonsense"},
      {"diff", kSource + "/no/such/model.onnx", "--input", m.input},
      {"diff", m.model},
  };
  for (const auto& args : cases) {
    const Proc p = run_qdrift(args, dir);
    EXPECT_EQ(p.exit_code, 2) << args.back() << ": " << p.err;
    EXPECT_EQ(p.err.rfind("qdrift: ", 0), 0u) << p.err;
  }
}

}  // namespace
}  // namespace qdrift
