// Tests of `qdrift diff MODEL --other MODEL2 --rules RULES.json` through the real binary, on
// a QDQ model and its real int8 (QOperator) twin from another exporter whose tensors are named
// differently (testdata/qdq/conv_chain_u8{,_qop}.onnx, testdata/gen/make_lowering_models.py).
// The claims hold independently of qdrift's code:
//  - the twin has the QDQ model's own weights, biases, scales and zero points, so QLinearConv
//    and the QDQ reference put the same values on the same grid; QLinearConv requantizes
//    acc * sx*sw/sy in float, which may move a rounding tie by one step, hence <= 1 step;
//  - the rules file is the only thing that ties the two namings together: without it, no
//    quantized tensor of the QDQ model can be paired, and each is listed as unmatched.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "core/onnx_loader.h"
#include "diff/report_json.h"
#include "tests/unit/qdrift_process.h"

namespace qdrift {
namespace {

using testing_util::TempDir;

const std::string kDir = std::string(QDRIFT_SOURCE_DIR) + "/testdata/qdq/";
const std::string kModel = kDir + "conv_chain_u8.onnx";
const std::string kTwin = kDir + "conv_chain_u8_qop.onnx";
const std::string kInput = kDir + "conv_chain_u8_input.npy";
const std::string kRules = kDir + "conv_chain_u8_qop_rules.json";

struct Expected {
  std::string ref, other, rule;
};

// What conv_chain_u8_qop_rules.json says, read by a person: every QuantizeLinear output of the
// QDQ model, and its float output. The file uses the twin's own names; once lowered, the
// twin's input quantization and its last conv's output carry Paddle's names (quantize/out/N,
// dequantize/in/N) and are found through the source tensor they stand for.
const std::vector<Expected> kExpected = {
    {"input_1_q", "quantize/out/0", "pair 0"},
    {"relu3_out_4_q", "relu_0.tmp_0", "pair 1"},
    {"conv5_out_6_q", "conv2d_1.tmp_1", "pair 2"},
    {"maxpool7_out_8_q", "pool2d_0.tmp_0", "pattern 0"},
    {"clip10_out_11_q", "dequantize/in/0", "pair 3"},
    {"clip10_out_11_dq", "save_infer_model/scale_0.tmp_0", "pair 4"},
};

// The QuantizeLinear outputs of the QDQ model, read from the model itself.
std::vector<std::string> quantized_tensors() {
  std::vector<std::string> names;
  auto g = load_onnx(kModel);
  EXPECT_TRUE(g) << g.status().message();
  if (!g) return names;
  for (const Node& n : g->nodes)
    if (n.kind == OpKind::QuantizeLinear) names.push_back(g->value(n.outputs[0]).name);
  return names;
}

// `qdrift diff` of the QDQ model against its twin, with ARGS added.
Report diff_against_twin(const std::vector<std::string>& args, const TempDir& dir) {
  std::vector<std::string> all = {kModel, "--input", kInput, "--other", kTwin};
  all.insert(all.end(), args.begin(), args.end());
  return testing_util::diff_report(all, dir);
}

const PairRecord* pair_of(const Report& r, const std::string& ref) {
  for (const PairRecord& p : r.pairs)
    if (p.ref.tensor == ref) return &p;
  return nullptr;
}

TEST(DiffRulesCli, TheRulesFileCoversEveryQuantizedTensorOfTheQdqModel) {
  const std::vector<std::string> quantized = quantized_tensors();
  ASSERT_EQ(quantized.size(), 5u);
  for (const std::string& t : quantized)
    EXPECT_TRUE(std::any_of(kExpected.begin(), kExpected.end(), [&](const Expected& e) { return e.ref == t; })) << t;
}

TEST(DiffRulesCli, RulesPairTheQdqModelWithItsInt8TwinWithinOneStep) {
  TempDir dir("diff_rules_cli");
  const Report r = diff_against_twin({"--against", "oracle", "--rules", kRules}, dir);
  EXPECT_EQ(r.other_executor, "oracle");
  EXPECT_EQ(r.first_divergence, -1);
  EXPECT_EQ(r.pairs.size(), kExpected.size());
  for (const Expected& e : kExpected) {
    const PairRecord* p = pair_of(r, e.ref);
    ASSERT_NE(p, nullptr) << e.ref << " is not paired";
    EXPECT_EQ(p->method, MatchMethod::rule) << e.ref;
    EXPECT_EQ(p->match_detail, e.rule) << e.ref;
    EXPECT_EQ(p->other.tensor, e.other) << e.ref;
    EXPECT_EQ(p->ref.shape, p->other.shape) << e.ref;
    ASSERT_TRUE(p->drift.has_steps) << e.ref;
    EXPECT_LE(p->drift.max_abs_steps, 1.0) << e.ref << " vs " << e.other;
    EXPECT_EQ(p->drift.nonfinite_mismatch, 0) << e.ref;
    EXPECT_FALSE(p->divergent) << e.ref;
  }
  // The quantized tensors are compared on the same grid: same type, scale and zero point.
  for (const std::string& t : quantized_tensors()) {
    const PairRecord* p = pair_of(r, t);
    ASSERT_NE(p, nullptr) << t;
    EXPECT_TRUE(p->ref.quantized && p->other.quantized) << t;
    EXPECT_EQ(p->ref.dtype, p->other.dtype) << t;
    EXPECT_EQ(p->ref.scale, p->other.scale) << t;
    EXPECT_EQ(p->ref.zero_point, p->other.zero_point) << t;
  }
  EXPECT_EQ(r.top1_agreement, 1.0);
  // Every tensor the twin computes is paired; what stays unmatched is on the reference side
  // (its float intermediates and dequantized constants, which the twin has no tensor for).
  for (const UnmatchedRecord& u : r.unmatched) EXPECT_EQ(u.side, "ref") << u.tensor << ": " << u.reason;
}

TEST(DiffRulesCli, WithoutRulesStructureAndValuesFindWhatTheRulesFileSays) {
  // Nothing ties the names together: the pairs come from structure (the compute ops aligned
  // in order) confirmed by the values, and must be the hand-written file's.
  TempDir dir("diff_rules_cli");
  const Report r = diff_against_twin({"--against", "oracle"}, dir);
  EXPECT_EQ(std::count_if(r.pairs.begin(), r.pairs.end(), [](const PairRecord& p) { return p.method == MatchMethod::rule; }),
            0);
  for (const Expected& e : kExpected) {
    const PairRecord* p = pair_of(r, e.ref);
    ASSERT_NE(p, nullptr) << e.ref << " is not paired";
    EXPECT_EQ(p->method, MatchMethod::structure) << e.ref;
    EXPECT_EQ(p->other.tensor, e.other) << e.ref;
    EXPECT_GT(p->confidence, 0.5) << e.ref;
    EXPECT_LE(p->confidence, 1.0) << e.ref;
    EXPECT_LE(p->drift.max_abs_steps, 1.0) << e.ref;
  }
  EXPECT_EQ(r.pairs.size(), kExpected.size());
  std::set<std::string> unmatched_ref;
  for (const UnmatchedRecord& u : r.unmatched) {
    EXPECT_FALSE(u.reason.empty()) << u.tensor;
    if (u.side == "ref") unmatched_ref.insert(u.tensor);
  }
  for (const Expected& e : kExpected) EXPECT_FALSE(unmatched_ref.count(e.ref)) << e.ref;
}

// The twin run as written (QLinearConv on the reference kernels): its int8 tensors live on
// the grids of the QOperator nodes that made them, the same grids as the QDQ model's.
TEST(DiffRulesCli, RulesPairTheTwinRunAsWritten) {
  TempDir dir("diff_rules_cli");
  const Report r = diff_against_twin({"--against", "ref", "--rules", kRules}, dir);
  ASSERT_EQ(r.pairs.size(), kExpected.size());
  EXPECT_EQ(r.first_divergence, -1);
  for (const PairRecord& p : r.pairs) {
    EXPECT_EQ(p.method, MatchMethod::rule) << p.ref.tensor;
    EXPECT_EQ(p.ref.scale, p.other.scale) << p.ref.tensor;
    EXPECT_LE(p.drift.max_abs_steps, 1.0) << p.ref.tensor << " vs " << p.other.tensor;
  }
  const PairRecord* input = pair_of(r, "input_1_q");
  ASSERT_NE(input, nullptr);
  EXPECT_EQ(input->other.tensor, "image.quantized");
}

TEST(DiffRulesCli, RulesAlsoPairTheTwinLoweredForOnednn) {
  // oneDNN without VNNI (AVX2) saturates u8*s8 pairs in 16 bits: its steps there are kernel
  // drift (the oracle test above is the exact one), so only running and pairing are checked.
  TempDir dir("diff_rules_cli");
  const Report r = diff_against_twin({"--against", "int8", "--rules", kRules}, dir);
  EXPECT_EQ(r.other_executor, "int8");
  ASSERT_EQ(r.pairs.size(), kExpected.size());
  for (const Expected& e : kExpected) {
    const PairRecord* p = pair_of(r, e.ref);
    ASSERT_NE(p, nullptr) << e.ref;
    EXPECT_EQ(p->method, MatchMethod::rule) << e.ref;
    EXPECT_EQ(p->other.tensor, e.other) << e.ref;
  }
}

}  // namespace
}  // namespace qdrift
