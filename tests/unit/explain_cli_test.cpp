// `qdrift explain` through the real binary: on models built to have one responsible knob,
// that knob is ranked first, setting it back removes the first divergence (where there is
// one) and restores top-1 agreement; the other knobs explain (almost) nothing. Which knob is
// responsible is known from how each model and policy were put together (testdata/gen,
// docs/explain.md), not from the ranking code. --keep-float names layers that, kept in
// fp32, really pass the budget (checked by `qdrift diff` + `qdrift gate` on them).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/unit/qdrift_process.h"

namespace qdrift {
namespace {

using nlohmann::json;
using testing_util::run_qdrift;
using testing_util::slurp;
using testing_util::spit;
using testing_util::TempDir;

const std::string kSource = QDRIFT_SOURCE_DIR;

std::string qdq(const std::string& name) { return kSource + "/testdata/qdq/" + name; }
std::string causes(const std::string& name) { return kSource + "/testdata/causes/" + name; }

json explain(std::vector<std::string> args, TempDir& dir) {
  std::vector<std::string> cmd = {"explain"};
  cmd.insert(cmd.end(), args.begin(), args.end());
  cmd.push_back("--against");  // the int8 graph's semantics, the same on every ISA (oneDNN
  cmd.push_back("oracle");     // without VNNI adds kernel drift no knob explains)
  cmd.push_back("--json");
  cmd.push_back(dir.path("explain.json"));
  const auto p = run_qdrift(cmd, dir);
  EXPECT_EQ(p.exit_code, 0) << p.err;
  json j = json::parse(slurp(dir.path("explain.json")), nullptr, false);
  EXPECT_FALSE(j.is_discarded());
  EXPECT_EQ(j.value("schema", ""), "qdrift.explain/1");
  return j;
}

struct Case {
  const char* what;
  std::vector<std::string> args;
  const char* knob;           // the responsible knob
  bool has_divergence;        // the policy's report has a first divergence
};

std::vector<Case> cases() {
  return {
      // u8 model: unsigned grid, bias (model int32) and weights (max/127 already) change nothing;
      // Clip(0,6) applied to output codes clips at 6 codes.
      {"act_order", {qdq("conv_chain_u8.onnx"), "--input", qdq("conv_chain_u8_input.npy"), "--policy", "paddle-onednn"},
       "act_order", true},
      // s8 model with Relu and Clip(0,6): u8 with T/255 after them; f32 biases (bias=s32 rounds them, a little).
      {"unsigned_after_relu",
       {qdq("paddle_style_s8.onnx"), "--input", qdq("paddle_style_s8_input.npy"), "--policy", "paddle-onednn", "--set",
        "act_order=exact"},
       "unsigned_after_relu", true},
      // Scales calibrated short (it saturates on purpose): the observed max differs most.
      {"act_scales",
       {qdq("depthwise_s8.onnx"), "--input", qdq("depthwise_s8_input.npy"), "--policy", "paddle-onednn", "--set",
        "act_order=exact", "--set", "act_scales=observed_max"},
       "act_scales", true},
      // f32 biases rounded to int32; the weights are already max/127 per channel.
      {"bias",
       {qdq("paddle_style_s8.onnx"), "--input", qdq("paddle_style_s8_input.npy"), "--set", "bias=s32", "--set",
        "weights=requantize"},
       "bias", false},
      // Per-tensor weights re-quantized per channel; the int32 bias is exact either way.
      {"weights",
       {causes("per_tensor_w_s8.onnx"), "--input", causes("per_tensor_w_s8_input.npy"), "--set", "weights=requantize",
        "--set", "bias=s32"},
       "weights", false},
      // Saturates at -128: narrow clips it at -127; f32 bias and fp32 ops are exact.
      {"range", {qdq("depthwise_s8.onnx"), "--input", qdq("depthwise_s8_input.npy"), "--policy", "paddle-lite-arm"},
       "range", false},
  };
}

TEST(ExplainCli, RanksTheResponsibleKnobFirst) {
  for (const Case& c : cases()) {
    SCOPED_TRACE(c.what);
    TempDir dir("explain_cli");
    const json e = explain(c.args, dir);
    const json& knobs = e["knobs"];
    ASSERT_GE(knobs.size(), 2u);
    EXPECT_EQ(knobs[0]["knob"], c.knob);
    EXPECT_GT(knobs[0]["explained"].get<double>(), 0.8);
    for (size_t i = 1; i < knobs.size(); ++i) EXPECT_LT(knobs[i]["explained"].get<double>(), 0.2) << knobs[i]["knob"];
    for (const json& k : knobs) {
      for (const char* field : {"from", "to", "first_divergence_after", "output_sqnr_db_after", "top1_agreement_after"})
        EXPECT_TRUE(k.contains(field)) << field;
      EXPECT_NE(k["from"], k["to"]);
    }
    // The target policy (onnx) is the model's exact semantics: nothing diverges there.
    EXPECT_EQ(e["target"]["first_divergence"], -1);
    EXPECT_EQ(e["baseline"]["first_divergence"].get<int>() >= 0, c.has_divergence);
    if (c.has_divergence) {
      EXPECT_TRUE(knobs[0]["removes_first_divergence"].get<bool>());
      EXPECT_EQ(knobs[0]["first_divergence_after"], -1);
      EXPECT_EQ(knobs[0]["top1_agreement_after"], 1.0);
    }
  }
}

TEST(ExplainCli, TextIsOneLinePerKnobBestFirst) {
  TempDir dir("explain_cli");
  const auto p = run_qdrift({"explain", qdq("conv_chain_u8.onnx"), "--input", qdq("conv_chain_u8_input.npy"), "--policy",
                             "paddle-onednn", "--against", "oracle"},
                            dir);
  ASSERT_EQ(p.exit_code, 0) << p.err;
  EXPECT_NE(p.out.find(" 1. act_order=exact (policy after_scale): explains 100%"), std::string::npos) << p.out;
  EXPECT_NE(p.out.find(" 5. "), std::string::npos) << p.out;   // five knobs differ from onnx
  EXPECT_EQ(p.out.find(" 6. "), std::string::npos) << p.out;
}

TEST(ExplainCli, NothingToExplainWhenThePoliciesAgree) {
  TempDir dir("explain_cli");
  const json e = explain({qdq("conv_chain_u8.onnx"), "--input", qdq("conv_chain_u8_input.npy")}, dir);
  EXPECT_TRUE(e["knobs"].empty());
}

TEST(ExplainCli, KeepFloatNamesLayersThatPassTheBudget) {
  TempDir dir("explain_cli");
  spit(dir.path("budget.json"), R"({"schema": "qdrift.budget/1", "global": {"max_steps": 1}})");
  const std::string model = qdq("conv_chain_u8.onnx"), input = qdq("conv_chain_u8_input.npy");
  const json e = explain({model, "--input", input, "--policy", "paddle-onednn", "--keep-float", dir.path("budget.json")}, dir);
  const json& kf = e["keep_float"];
  ASSERT_TRUE(kf["found"].get<bool>());
  const std::vector<std::string> layers = kf["layers"].get<std::vector<std::string>>();
  // Only conv9 has a Clip(0,6) whose bound act_order=after_scale misplaces (conv2's Relu is
  // scale-free): that one layer, nothing more.
  EXPECT_EQ(layers, std::vector<std::string>{"conv9"});
  EXPECT_GE(kf["candidates"].get<int>(), 3);
  // Independent check: the report with that layer in fp32 passes the gate, without fails.
  std::string re = "^(conv9)$";
  auto gate = [&](std::vector<std::string> sets) {
    std::vector<std::string> cmd = {"diff", model, "--input", input, "--policy", "paddle-onednn", "--against",
                                    "oracle", "--json", dir.path("r.json")};
    cmd.insert(cmd.end(), sets.begin(), sets.end());
    EXPECT_EQ(run_qdrift(cmd, dir).exit_code, 0);
    return run_qdrift({"gate", dir.path("r.json"), "--budget", dir.path("budget.json")}, dir).exit_code;
  };
  EXPECT_EQ(gate({"--set", "skip_nodes=" + re}), 0);
  EXPECT_EQ(gate({}), 1);
}

TEST(ExplainCli, BadInputIsExit2WithOneLine) {
  TempDir dir("explain_cli");
  const auto p = run_qdrift({"explain", qdq("conv_chain_u8.onnx"), "--input", qdq("conv_chain_u8_input.npy"), "--set",
                             "act_scales=sometimes"},
                            dir);
  EXPECT_EQ(p.exit_code, 2);
  EXPECT_NE(p.err.find("act_scales=sometimes"), std::string::npos) << p.err;
  const auto q = run_qdrift({"explain", qdq("conv_chain_u8.onnx"), "--input", qdq("conv_chain_u8_input.npy"),
                             "--keep-float", dir.path("missing.json")},
                            dir);
  EXPECT_EQ(q.exit_code, 2);
  EXPECT_NE(q.err.find("missing.json"), std::string::npos) << q.err;
}

}  // namespace
}  // namespace qdrift

namespace qdrift {
namespace {

// The seed's case on the bundled QAT MobileNetV3-style model (PACT clipping, HardSwish, SE):
// under paddle-onednn its int8 run leaves the fake-quant reference, and act_order alone is
// responsible (found by flipping the knobs by hand, issue 12).
TEST(ExplainCli, RanksActOrderFirstOnTheQatMobileNetV3UnderPaddleOnednn) {
  TempDir dir("explain_cli");
  const std::string qat = kSource + "/testdata/qat/";
  const json e = explain({qat + "mbv3.onnx", "--input", qat + "mbv3_sample.npy", "--policy", "paddle-onednn"}, dir);
  const json& knobs = e["knobs"];
  ASSERT_GE(knobs.size(), 5u);
  EXPECT_EQ(knobs[0]["knob"], "act_order");
  EXPECT_GE(e["baseline"]["first_divergence"].get<int>(), 0);
  EXPECT_TRUE(knobs[0]["removes_first_divergence"].get<bool>());
  EXPECT_EQ(knobs[0]["first_divergence_after"], -1);
  EXPECT_GT(knobs[0]["explained"].get<double>(), 0.9);
}

}  // namespace
}  // namespace qdrift
