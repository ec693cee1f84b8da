// Mapping by structure and value on graphs whose names say nothing, with the truth known by
// construction: the int8 graph qdrift's lowering makes of a QDQ model records, for every
// tensor, the reference tensor it stands for (provenance). The test then renames every
// tensor and node, erases the provenance, and puts the nodes in another topological order
// (a seeded random pick among the nodes whose inputs are ready). run_drift sees a foreign
// int8 graph; the pairs it finds are scored against the erased provenance.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/common_options.h"
#include "core/lower.h"
#include "core/onnx_loader.h"
#include "core/tensor_io.h"
#include "diff/drift.h"
#include "diff/mapping_structure.h"
#include "diff/mapping_value.h"
#include "diff/tensor_layouts.h"
#include "tests/unit/lowered_graph_builder.h"

namespace qdrift {
namespace {

const std::string kData = std::string(QDRIFT_SOURCE_DIR) + "/testdata/";

struct Scrambled {
  Graph graph;
  std::map<std::string, std::string> truth;  // scrambled tensor name -> reference tensor it stands for
};

Scrambled scramble(const Graph& lowered, const Graph& ref, uint32_t seed) {
  Scrambled s;
  s.graph = lowered;
  Graph& g = s.graph;
  std::mt19937 rng(seed);
  std::vector<size_t> ids(g.values.size());
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = i;
  std::shuffle(ids.begin(), ids.end(), rng);
  for (size_t i = 0; i < g.values.size(); ++i) {
    Value& v = g.values[i];
    const std::string name = "t" + std::to_string(ids[i]);
    const ValueId source = ref.find_value(v.provenance.source);
    if (v.producer != kNoNode && source != kNoValue && ref.value(source).producer != kNoNode)
      s.truth[name] = v.provenance.source;
    v.name = name;
    v.provenance = {};
  }
  // Another topological order: Kahn's algorithm picking a random ready node.
  std::vector<Node> nodes = std::move(g.nodes);
  std::vector<bool> ready_value(g.values.size(), false), placed(nodes.size(), false);
  for (size_t v = 0; v < g.values.size(); ++v) ready_value[v] = g.values[v].producer == kNoNode;
  g.nodes.clear();
  while (g.nodes.size() < nodes.size()) {
    std::vector<size_t> ready;
    for (size_t i = 0; i < nodes.size(); ++i)
      if (!placed[i] && std::all_of(nodes[i].inputs.begin(), nodes[i].inputs.end(),
                                    [&](ValueId v) { return v == kNoValue || ready_value[static_cast<size_t>(v)]; }))
        ready.push_back(i);
    const size_t pick = ready[std::uniform_int_distribution<size_t>(0, ready.size() - 1)(rng)];
    placed[pick] = true;
    for (ValueId v : nodes[pick].outputs)
      if (v != kNoValue) ready_value[static_cast<size_t>(v)] = true;
    nodes[pick].name = "n" + std::to_string(g.nodes.size());
    g.nodes.push_back(std::move(nodes[pick]));
  }
  g.rebuild_links();
  EXPECT_TRUE(g.validate().is_ok());
  return s;
}

struct Score {
  int expected = 0;  // scrambled tensors that stand for a reference tensor
  int right = 0;
  std::vector<double> right_confidence, wrong_confidence;
  std::vector<std::string> wrong;
};

// Diffs MODEL (reference kernels) against its scrambled lowering (integer oracle).
void score_model(const std::string& model, const std::string& input, uint32_t seed, Score& score) {
  auto ref = load_onnx(model);
  ASSERT_TRUE(ref) << ref.status().message();
  auto policy = int8_policy_preset("onnx");
  ASSERT_TRUE(policy);
  auto lowered = lower(*ref, *policy);
  ASSERT_TRUE(lowered) << lowered.status().message();
  const Scrambled s = scramble(lowered->graph, *ref, seed);
  auto x = read_tensor_file(input);
  ASSERT_TRUE(x) << x.status().message();
  std::vector<Tensor> feeds = {*x};
  auto ref_ex = Executor::create(*ref, cli::kernel_table_for("ref"));
  auto other_ex = Executor::create(s.graph, cli::kernel_table_for("oracle"));
  ASSERT_TRUE(ref_ex && other_ex);
  DriftOptions options;
  options.other_derives_from_ref = false;
  Report report;
  ASSERT_TRUE(run_drift(*ref_ex, feeds, *other_ex, feeds, options, report).is_ok());

  std::map<std::string, int> stand_ins;  // several scrambled tensors may stand for one reference tensor
  for (const auto& [other, source] : s.truth) ++stand_ins[source];
  score.expected += static_cast<int>(stand_ins.size());
  for (const PairRecord& p : report.pairs) {
    EXPECT_TRUE(p.method == MatchMethod::structure || p.method == MatchMethod::value) << p.ref.tensor;
    EXPECT_GE(p.confidence, 0.0);
    EXPECT_LE(p.confidence, 1.0);
    auto it = s.truth.find(p.other.tensor);
    if (it == s.truth.end()) continue;  // an inserted tensor standing for nothing: neither right nor wrong
    if (it->second == p.ref.tensor) {
      ++score.right;
      score.right_confidence.push_back(p.confidence);
    } else {
      score.wrong_confidence.push_back(p.confidence);
      score.wrong.push_back(model + ": " + p.ref.tensor + " ~ " + p.other.tensor + " (stands for " + it->second +
                            ", confidence " + std::to_string(p.confidence) + ")");
    }
  }
}

TEST(MappingStructure, ScrambledInt8GraphsMapBackByStructureAndValue) {
  const std::vector<std::pair<std::string, std::string>> models = {
      {kData + "mobilenet_tiny_qdq.onnx", kData + "mobilenet_tiny_input.npy"},
      {kData + "qdq/residual_u8.onnx", kData + "qdq/residual_u8_input.npy"},
      {kData + "qdq/gemm_concat_s8.onnx", kData + "qdq/gemm_concat_s8_input.npy"},
      {kData + "qdq/depthwise_s8.onnx", kData + "qdq/depthwise_s8_input.npy"},
      {kData + "qdq/conv_chain_u8.onnx", kData + "qdq/conv_chain_u8_input.npy"},
      {kData + "qdq/paddle_style_s8.onnx", kData + "qdq/paddle_style_s8_input.npy"},
  };
  Score score;
  for (uint32_t seed : {1u, 2u, 3u})
    for (const auto& [model, input] : models) score_model(model, input, seed, score);
  for (const std::string& w : score.wrong) std::printf("wrong: %s\n", w.c_str());
  const double rate = static_cast<double>(score.right) / score.expected;
  std::printf("right %d of %d (%.1f%%), wrong %zu\n", score.right, score.expected, 100 * rate, score.wrong.size());
  EXPECT_GE(rate, 0.95);
  // Wrong pairs carry low confidence; right ones high, as a rule.
  for (double c : score.wrong_confidence) EXPECT_LE(c, 0.5);
  std::vector<double> right = score.right_confidence;
  std::sort(right.begin(), right.end());
  ASSERT_FALSE(right.empty());
  std::printf("right pairs' confidence: 10%% %.3f, median %.3f\n", right[right.size() / 10], right[right.size() / 2]);
  EXPECT_GE(right[right.size() / 2], 0.6) << "the median confidence of the right pairs";
}

// Two sibling branches computing the very same values: nothing can tell them apart, so
// whichever way they pair, the confidence must say so.
TEST(MappingStructure, IndistinguishableSiblingsGetLowConfidence) {
  const auto build = [](const std::string& prefix) {
    testing_util::LoweredGraphBuilder b;
    const ValueId x = b.input("x", DType::f32, {1, 2, 3, 3});
    const ValueId s1 = b.value(prefix + "s1", DType::f32), s2 = b.value(prefix + "s2", DType::f32);
    const ValueId sum = b.value(prefix + "sum", DType::f32);
    b.node(OpKind::Relu, prefix + "r1", {x}, {s1});
    b.node(OpKind::Relu, prefix + "r2", {x}, {s2});
    b.node(OpKind::Add, prefix + "add", {s1, s2}, {sum});
    b.output(sum);
    return b.graph;
  };
  const Graph ref = build("a_"), other = build("b_");
  std::vector<float> xs(18);
  for (size_t i = 0; i < xs.size(); ++i) xs[i] = static_cast<float>(i % 7) - 3.f;
  std::vector<Tensor> feeds = {Tensor::from_vector<float>({1, 2, 3, 3}, xs)};
  auto ref_ex = Executor::create(ref, cli::kernel_table_for("ref"));
  auto other_ex = Executor::create(other, cli::kernel_table_for("ref"));
  ASSERT_TRUE(ref_ex && other_ex);
  DriftOptions options;
  options.other_derives_from_ref = false;
  Report report;
  ASSERT_TRUE(run_drift(*ref_ex, feeds, *other_ex, feeds, options, report).is_ok());
  ASSERT_EQ(report.pairs.size(), 3u);
  for (const PairRecord& p : report.pairs) {
    if (p.ref.tensor == "a_sum") {
      EXPECT_EQ(p.other.tensor, "b_sum");
      EXPECT_GT(p.confidence, 0.7);
    } else {
      EXPECT_LE(p.confidence, 0.5) << p.ref.tensor << " ~ " << p.other.tensor;
    }
  }
}

// ONNX Runtime's level-"all" optimized graphs of the bundled models (testdata/ort, written by
// onnxruntime-node): QLinearConv in NHWC between Transposes, FusedConv with the residual Add
// inside, FusedGemm, HardSwish as HardSigmoid + Mul, and few names in common with the QDQ
// model. ORT names each compute node after the node it replaces ("stem" -> "stem_token_11",
// "gemm12" -> "fused gemm12"): that is the truth here. Structure alone (no values, no rules)
// must pair >= 90% of the compute nodes with the right reference node.
TEST(MappingStructure, OrtOptimizedGraphsAlignWithTheirSourceByStructure) {
  const std::string dir = kData + "ort/";
  auto index_text = read_file_bytes(dir + "index.json", 1 << 20);
  ASSERT_TRUE(index_text);
  const nlohmann::json index = nlohmann::json::parse(*index_text);
  int expected = 0, right = 0;
  for (const auto& [name, entry] : index["models"].items()) {
    auto ref = load_onnx(kData + entry["source"].get<std::string>());
    auto other = load_onnx(dir + entry["optimized"].get<std::string>());
    ASSERT_TRUE(ref && other) << name;
    const Mapping by_name = map_tensors(*ref, *other, nullptr, /*other_derives_from_ref=*/false);
    std::vector<std::pair<ValueId, ValueId>> known;
    std::vector<bool> ref_free(ref->values.size(), true), other_free(other->values.size(), true);
    for (const TensorPair& p : by_name.pairs) {
      known.emplace_back(p.ref, p.other);
      ref_free[static_cast<size_t>(p.ref)] = other_free[static_cast<size_t>(p.other)] = false;
    }
    std::vector<std::pair<NodeId, NodeId>> anchors;
    structure_candidates(*ref, *other, known, ref_free, other_free, &anchors);
    for (size_t i = 0; i < other->nodes.size(); ++i) {
      const Node& n = other->nodes[i];
      static const std::set<std::string> compute = {"QLinearConv", "QLinearAdd", "QGemm", "Conv", "Gemm", "FusedConv",
                                                    "FusedGemm", "QLinearMatMul", "MatMul"};
      if (!compute.count(n.op_type)) continue;
      std::string source = n.name;
      if (source.rfind("fused ", 0) == 0) source = source.substr(6);
      if (const size_t t = source.rfind("_token_"); t != std::string::npos) source = source.substr(0, t);
      NodeId truth = kNoNode;
      for (size_t j = 0; j < ref->nodes.size(); ++j)
        if (ref->nodes[j].name == source) truth = static_cast<NodeId>(j);
      ASSERT_NE(truth, kNoNode) << name << ": " << n.name;
      ++expected;
      const bool found = std::find(anchors.begin(), anchors.end(), std::make_pair(truth, static_cast<NodeId>(i))) != anchors.end();
      right += found;
      if (!found) std::printf("%s: %s (%s) not paired with %s\n", name.c_str(), n.name.c_str(), n.op_type.c_str(), source.c_str());
    }
  }
  std::printf("ORT compute nodes paired with their source by structure: %d of %d\n", right, expected);
  EXPECT_GE(expected, 25);
  EXPECT_GE(right, 0.9 * expected);
}

TEST(MappingStructure, OpFamiliesTreatRewrittenOpsAlike) {
  const auto family = [](const std::string& op, const std::string& domain = "") {
    Node n;
    n.op_type = op;
    n.domain = domain;
    return op_family(n);
  };
  EXPECT_EQ(family("Conv"), "conv");
  EXPECT_EQ(family("QLinearConv"), "conv");
  EXPECT_EQ(family("FusedConv", "com.microsoft"), "conv");
  EXPECT_EQ(family("Conv", "com.microsoft.nchwc"), "conv");
  EXPECT_EQ(family("QGemm", "com.microsoft"), "gemm");
  EXPECT_EQ(family("MatMul"), "gemm");
  EXPECT_EQ(family("QLinearAdd", "com.microsoft"), "add");
  EXPECT_EQ(family("Relu"), "act");
  EXPECT_EQ(family("ReorderOutput", "com.microsoft.nchwc"), "");
  EXPECT_EQ(family("DequantizeLinear"), "");
}

TEST(TensorLayouts, NhwcAndBlockedTensorsReadBackInReferenceOrder) {
  // ref [1,3,2,2] with value 100*c + 10*h + w; its NHWC and NCHWc (block 2, one padded channel) copies.
  const Shape ref = {1, 3, 2, 2};
  std::vector<float> nchw, nhwc(12), blocked(16, -1.f);
  for (int c = 0; c < 3; ++c)
    for (int h = 0; h < 2; ++h)
      for (int w = 0; w < 2; ++w) {
        const float v = static_cast<float>(100 * c + 10 * h + w);
        nchw.push_back(v);
        nhwc[static_cast<size_t>((h * 2 + w) * 3 + c)] = v;
        blocked[static_cast<size_t>(((c / 2) * 4 + h * 2 + w) * 2 + c % 2)] = v;
      }
  const auto matches_nhwc = layout_matches(ref, {1, 2, 2, 3});
  ASSERT_EQ(matches_nhwc.size(), 2u);  // same element count, and channels last
  EXPECT_EQ(matches_nhwc[1].kind, LayoutKind::nhwc);
  EXPECT_EQ(to_ref_order(Tensor::from_vector<float>({1, 2, 2, 3}, nhwc), ref, matches_nhwc[1]).values<float>()[5],
            nchw[5]);
  const Tensor back = to_ref_order(Tensor::from_vector<float>({1, 2, 2, 2, 2}, blocked), ref, {LayoutKind::nchwc, 2});
  EXPECT_TRUE(std::equal(nchw.begin(), nchw.end(), back.values<float>().begin()));
  const auto matches_blocked = layout_matches(ref, {1, 2, 2, 2, 2});
  ASSERT_EQ(matches_blocked.size(), 1u);
  EXPECT_EQ(layout_name(matches_blocked[0]), "nchwc2");
  EXPECT_TRUE(layout_matches(ref, {1, 5, 2, 2}).empty());
}

TEST(CentredCosine, IsBlindToScaleAndOffset) {
  const std::vector<float> a = {1, 2, 3, 4, 5}, b = {12, 14, 16, 18, 20}, c = {5, 4, 3, 2, 1};
  EXPECT_NEAR(centred_cosine(a, b), 1.0, 1e-12);
  EXPECT_NEAR(centred_cosine(a, c), -1.0, 1e-12);
  const std::vector<float> flat = {2, 2, 2, 2, 2};
  EXPECT_EQ(centred_cosine(a, flat), 0.0);
  EXPECT_EQ(centred_cosine(flat, flat), 1.0);
}

}  // namespace
}  // namespace qdrift
