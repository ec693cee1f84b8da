// map_tensors and the mapping-rules reader on small hand-built graphs: each pair's method,
// the rules' pairs, patterns and one-to-many, and the reasons given for unmatched tensors.
#include <gtest/gtest.h>

#include "diff/mapping.h"
#include "diff/mapping_rules.h"
#include "tests/unit/lowered_graph_builder.h"

namespace qdrift {
namespace {

using testing_util::LoweredGraphBuilder;

// x -> Relu(a) -> names[0] -> Relu(b) -> names[1] -> ...; every value [1,4] f32.
LoweredGraphBuilder relu_chain(const std::vector<std::string>& names, Shape shape = {1, 4}) {
  LoweredGraphBuilder b;
  ValueId prev = b.input("x", DType::f32, shape);
  for (size_t i = 0; i < names.size(); ++i) {
    ValueId v = b.value(names[i], DType::f32);
    b.graph.value(v).shape = shape;
    b.graph.value(v).has_shape = true;
    b.node(OpKind::Relu, "n" + std::to_string(i), {prev}, {v});
    prev = v;
  }
  b.output(prev);
  return b;
}

struct PairNames {
  std::string ref, other;
  MatchMethod method;
};

std::vector<PairNames> names_of(const Mapping& m, const Graph& a, const Graph& b) {
  std::vector<PairNames> out;
  for (const TensorPair& p : m.pairs) out.push_back({a.value(p.ref).name, b.value(p.other).name, p.method});
  return out;
}

TEST(MapTensors, ProvenanceFirstThenNames) {
  Graph ref = relu_chain({"r1", "r2", "r3"}).graph;
  LoweredGraphBuilder low = relu_chain({"dequantize/in/0", "r2", "extra"});
  low.graph.value(low.graph.find_value("dequantize/in/0")).provenance = {"r1", "fuse_conv"};
  low.graph.value(low.graph.find_value("extra")).provenance = {"", "insert_quantize"};

  const Mapping m = map_tensors(ref, low.graph, nullptr);
  const auto pairs = names_of(m, ref, low.graph);
  ASSERT_EQ(pairs.size(), 2u);
  EXPECT_EQ(pairs[0].ref, "r1");
  EXPECT_EQ(pairs[0].other, "dequantize/in/0");
  EXPECT_EQ(pairs[0].method, MatchMethod::provenance);
  EXPECT_EQ(m.pairs[0].detail, "fuse_conv");
  EXPECT_EQ(pairs[1].ref, "r2");
  EXPECT_EQ(pairs[1].method, MatchMethod::name);

  ASSERT_EQ(m.unmatched.size(), 2u);
  EXPECT_EQ(m.unmatched[0].side, "ref");
  EXPECT_EQ(m.unmatched[0].tensor, "r3");
  EXPECT_NE(m.unmatched[0].reason.find("fused, folded or removed"), std::string::npos) << m.unmatched[0].reason;
  EXPECT_EQ(m.unmatched[1].side, "other");
  EXPECT_EQ(m.unmatched[1].tensor, "extra");
  EXPECT_NE(m.unmatched[1].reason.find("insert_quantize"), std::string::npos) << m.unmatched[1].reason;
}

TEST(MapTensors, ConcatInputsRequantizedByTheLoweringAreMeasuredOnTheirOwnGrid) {
  Graph ref = relu_chain({"a_dq", "b_dq"}).graph;
  LoweredGraphBuilder low = relu_chain({"requantize/out/0", "b_q"});
  low.graph.value(low.graph.find_value("requantize/out/0")).provenance = {"a_dq", "requantize_concat_input"};
  low.graph.value(low.graph.find_value("b_q")).provenance = {"b_dq", "fold_requantize"};
  const Mapping m = map_tensors(ref, low.graph, nullptr);
  ASSERT_EQ(m.pairs.size(), 2u);
  EXPECT_TRUE(m.pairs[0].steps_in_other_grid);
  EXPECT_FALSE(m.pairs[1].steps_in_other_grid);
}

TEST(MapTensors, GraphInputsAreNotPaired) {
  Graph a = relu_chain({"y"}).graph;
  Graph b = relu_chain({"z"}).graph;
  const Mapping m = map_tensors(a, b, nullptr, /*other_derives_from_ref=*/false);
  EXPECT_TRUE(m.pairs.empty());  // "x" exists on both sides but nothing produced it
  ASSERT_EQ(m.unmatched.size(), 2u);
  EXPECT_NE(m.unmatched[0].reason.find("no tensor of that name"), std::string::npos);
}

TEST(MapTensors, RulesPairsPatternsAndOneToMany) {
  Graph ref = relu_chain({"relu_0.tmp_0.quantized", "conv_ref", "concat", "lost"}).graph;
  Graph other = relu_chain({"dequantize/in/1", "conv_other", "branch_a", "branch_b"}).graph;
  auto rules = parse_mapping_rules(R"({"schema": "qdrift.rules/1",
      "pairs": [{"ref": "relu_0.tmp_0.quantized", "other": "dequantize/in/1"},
                {"ref": "concat", "other": ["branch_a", "branch_b"]},
                {"ref": "lost", "other": "nowhere"}],
      "patterns": [{"ref": "^(.*)_ref$", "other": "$1_other"}]})",
                                   "rules.json");
  ASSERT_TRUE(rules) << rules.status().message();
  const Mapping m = map_tensors(ref, other, &*rules);
  const auto pairs = names_of(m, ref, other);
  ASSERT_EQ(pairs.size(), 4u);
  EXPECT_EQ(pairs[0].other, "dequantize/in/1");
  EXPECT_EQ(pairs[1].ref, "conv_ref");
  EXPECT_EQ(pairs[1].other, "conv_other");
  EXPECT_EQ(m.pairs[1].detail, "pattern 0");
  EXPECT_EQ(pairs[2].ref, "concat");
  EXPECT_EQ(pairs[2].other, "branch_a");
  EXPECT_EQ(pairs[3].ref, "concat");
  EXPECT_EQ(pairs[3].other, "branch_b");
  for (const auto& p : pairs) EXPECT_EQ(p.method, MatchMethod::rule);
  ASSERT_EQ(m.unmatched.size(), 1u);
  EXPECT_EQ(m.unmatched[0].tensor, "lost");
  EXPECT_NE(m.unmatched[0].reason.find("'nowhere'"), std::string::npos) << m.unmatched[0].reason;
}

// A second model lowered by qdrift: its values carry the second model's names as their
// source, so names and rules written against the unlowered model still find them, and
// provenance does not claim an exact pairing with the reference.
TEST(MapTensors, SecondModelIsFoundByTheNamesItsValuesStandFor) {
  Graph ref = relu_chain({"conv_q", "relu_q", "out"}).graph;
  LoweredGraphBuilder low = relu_chain({"dequantize/in/0", "quantize/out/1", "out"});
  low.graph.value(low.graph.find_value("dequantize/in/0")).provenance = {"conv2d_0.tmp_1", "qlinear_conv"};
  low.graph.value(low.graph.find_value("quantize/out/1")).provenance = {"relu_q", "insert_quantize"};
  low.graph.value(low.graph.find_value("out")).provenance = {"out", "keep_float"};
  auto rules = parse_mapping_rules(R"({"schema": "qdrift.rules/1", "pairs": [{"ref": "conv_q", "other": "conv2d_0.tmp_1"}]})",
                                   "r.json");
  ASSERT_TRUE(rules);
  const Mapping m = map_tensors(ref, low.graph, &*rules, /*other_derives_from_ref=*/false);
  const auto pairs = names_of(m, ref, low.graph);
  ASSERT_EQ(pairs.size(), 3u);
  EXPECT_EQ(pairs[0].other, "dequantize/in/0");
  EXPECT_EQ(pairs[0].method, MatchMethod::rule);
  EXPECT_EQ(pairs[1].other, "quantize/out/1");
  EXPECT_EQ(pairs[1].method, MatchMethod::name);
  EXPECT_EQ(m.pairs[1].detail, "stands for 'relu_q'");
  EXPECT_EQ(pairs[2].method, MatchMethod::name);
  EXPECT_TRUE(m.unmatched.empty());
}

TEST(MapTensors, DifferentElementCountsAreNotPaired) {
  Graph a = relu_chain({"y"}, {1, 4}).graph;
  Graph b = relu_chain({"y"}, {1, 5}).graph;
  const Mapping m = map_tensors(a, b, nullptr);
  EXPECT_TRUE(m.pairs.empty());
  ASSERT_EQ(m.unmatched.size(), 2u);
  EXPECT_NE(m.unmatched[0].reason.find("element count"), std::string::npos) << m.unmatched[0].reason;
}

// fuzz_mapping_rules found patterns on which std::regex backtracked for minutes; RE2 is
// linear in the name, so these return at once (a hang here is a ctest timeout).
TEST(MappingRules, PathologicalPatternsMatchInLinearTime) {
  auto rules = parse_mapping_rules(R"x({"schema": "qdrift.rules/1", "patterns": [
      {"ref": "(a*)*b", "other": "x"}, {"ref": "(.*)(.*)(.*)(.*)(.*)c", "other": "y"}, {"ref": "(a|aa)+$", "other": "z$1"}]})x",
                                   "r.json");
  ASSERT_TRUE(rules) << rules.status().message();
  const std::string name(4000, 'a');
  std::string rule;
  EXPECT_EQ(rules->other_names_for(name, &rule), std::vector<std::string>{"za"});
  EXPECT_EQ(rule, "pattern 2");
  EXPECT_TRUE(rules->other_names_for(name + "!", &rule).empty());
  // std::regex overflowed parsing this backreference's number (fuzz_mapping_rules); RE2 has no
  // backreferences and reads \444 as an octal escape: a valid pattern that matches safely.
  auto octal = parse_mapping_rules(R"({"schema": "qdrift.rules/1", "patterns": [{"ref": "(a)\\4444444444444444444", "other": "b"}]})",
                                   "r.json");
  ASSERT_TRUE(octal) << octal.status().message();
  EXPECT_TRUE(octal->other_names_for(name).empty());
}

TEST(MappingRules, OtherNamesForUsesGroupsAndPrefersPairs) {
  auto rules = parse_mapping_rules(R"({"schema": "qdrift.rules/1",
      "pairs": [{"ref": "conv1.out", "other": "explicit"}],
      "patterns": [{"ref": "^(conv\\d+)\\.(out)$", "other": "$1/$2/int8"}, {"ref": ".*", "other": "fallback"}]})",
                                   "r.json");
  ASSERT_TRUE(rules) << rules.status().message();
  std::string rule;
  EXPECT_EQ(rules->other_names_for("conv1.out", &rule), std::vector<std::string>{"explicit"});
  EXPECT_EQ(rule, "pair 0");
  EXPECT_EQ(rules->other_names_for("conv22.out", &rule), std::vector<std::string>{"conv22/out/int8"});
  EXPECT_EQ(rule, "pattern 0");
  EXPECT_EQ(rules->other_names_for("conv22.outx", &rule), std::vector<std::string>{"fallback"});  // whole-name match
  EXPECT_EQ(rule, "pattern 1");
}

// Each bad document: the one-line message names the file and the problem.
TEST(MappingRules, RejectsBadDocumentsNamingTheField) {
  const std::pair<const char*, const char*> cases[] = {
      {"not json", "r.json: not valid JSON"},
      {R"({"schema": "qdrift.rules/2"})", "r.json: schema: is 'qdrift.rules/2'"},
      {R"({"pairs": []})", "r.json: schema: expected a string"},
      {R"({"schema": "qdrift.rules/1", "pair": []})", "r.json: pair: unknown field"},
      {R"({"schema": "qdrift.rules/1", "pairs": [{"ref": "a", "othr": "b"}]})", "pairs[0].othr: unknown field"},
      {R"({"schema": "qdrift.rules/1", "pairs": [{"ref": 3, "other": "b"}]})", "pairs[0].ref: expected a string"},
      {R"({"schema": "qdrift.rules/1", "pairs": [{"ref": "a", "other": []}]})", "pairs[0].other: empty list"},
      {R"({"schema": "qdrift.rules/1", "patterns": [{"ref": "(", "other": "b"}]})", "patterns[0].ref: not a valid regex"},
      {R"({"schema": "qdrift.rules/1", "patterns": [{"ref": "a{1001}", "other": "b"}]})", "not a valid regex: invalid repetition size: {1001}"},
      {R"({"schema": "qdrift.rules/1", "patterns": [{"ref": "((a{100}){100}){100}", "other": "b"}]})", "not a valid regex: invalid repetition size"},  // nested counts multiply
      {R"x({"schema": "qdrift.rules/1", "patterns": [{"ref": "(a)_(b)", "other": "$3"}]})x", "patterns[0].other: $3 refers to group 3, but the regex has 2 groups"},
      {R"({"schema": "qdrift.rules/1", "patterns": {"ref": "a"}})", "patterns: expected an array, got object"},
  };
  for (const auto& [text, fragment] : cases) {
    auto r = parse_mapping_rules(text, "r.json");
    ASSERT_FALSE(r) << text;
    EXPECT_NE(r.status().message().find(fragment), std::string::npos) << r.status().message();
    EXPECT_EQ(r.status().message().find('\n'), std::string::npos);
    EXPECT_EQ(exit_code(r.status()), kExitBadInput);
  }
  const std::string long_regex(1025, 'a');
  auto r = parse_mapping_rules(R"({"schema": "qdrift.rules/1", "patterns": [{"ref": ")" + long_regex + R"(", "other": "b"}]})",
                               "r.json");
  ASSERT_FALSE(r);
  EXPECT_NE(r.status().message().find("longer than 1024"), std::string::npos);
  const std::string deep = std::string(100, '[') + std::string(100, ']');
  r = parse_mapping_rules(deep, "r.json");
  ASSERT_FALSE(r);
  EXPECT_NE(r.status().message().find("nested deeper"), std::string::npos);
}

}  // namespace
}  // namespace qdrift
