// Local drift (PairRecord::local_drift): each int8 op re-run alone on the reference's
// tensors. On a correct lowering under policy `onnx` no op adds more than one step of its
// own (the lowering's contract, DESIGN.md); an error injected into one op of the lowered
// graph (output scale off by 2x, one channel's bias shifted) is the first divergence, added
// there, and only inherited after it. Expectations come from the QDQ reference and from
// the construction of the injected errors, never from the int8 code.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "core/int8_policy.h"
#include "core/lower.h"
#include "core/onnx_loader.h"
#include "core/tensor_io.h"
#include "diff/drift.h"
#include "diff/report_text.h"
#include "kernels/int/int_kernels.h"
#include "kernels/onednn/onednn_kernels.h"
#include "kernels/ref/ref_kernels.h"

namespace qdrift {
namespace {

struct Model {
  Graph graph;
  Tensor input;
};

Model load_model(const std::string& onnx, const std::string& npy) {
  auto g = load_onnx(onnx);
  EXPECT_TRUE(g) << g.status().message();
  auto x = read_tensor_file(npy);
  EXPECT_TRUE(x) << x.status().message();
  return {g ? std::move(*g) : Graph{}, x ? std::move(*x) : Tensor{}};
}

// Every bundled QDQ model with its sample input.
std::vector<std::pair<std::string, std::string>> bundled_models() {
  const std::string root = std::string(QDRIFT_SOURCE_DIR) + "/testdata/";
  std::vector<std::pair<std::string, std::string>> models = {
      {root + "mobilenet_tiny_qdq.onnx", root + "mobilenet_tiny_input.npy"}};
  for (const auto& e : std::filesystem::directory_iterator(root + "qdq")) {
    const std::string p = e.path().string();
    if (e.path().extension() != ".onnx" || p.find("_qop") != std::string::npos) continue;
    models.push_back({p, p.substr(0, p.size() - 5) + "_input.npy"});
  }
  std::sort(models.begin(), models.end());
  return models;
}

// The kernel tables whose int8 arithmetic is exact here: the integer oracle everywhere,
// oneDNN only with VNNI (without it, u8 x s8 pairs saturate at 16 bits: kernel drift).
std::vector<const KernelTable*> exact_int8_tables() {
  std::vector<const KernelTable*> t = {&int_kernel_table()};
  if (onednn_runtime_info().int8_vnni) t.push_back(&onednn_kernel_table());
  return t;
}

Report diff(const Graph& ref_graph, const Graph& other_graph, const KernelTable& table, const Tensor& input,
            Thresholds thresholds = {}) {
  Report report;
  auto ref = Executor::create(ref_graph, ref_kernel_table());
  auto other = Executor::create(other_graph, table);
  EXPECT_TRUE(ref && other);
  if (!ref || !other) return report;
  const std::vector<Tensor> feeds = {input};
  DriftOptions options;
  options.thresholds = thresholds;
  const Status s = run_drift(*ref, feeds, *other, feeds, options, report);
  EXPECT_TRUE(s.is_ok()) << s.message();
  return report;
}

LoweredGraph lower_onnx(const Graph& g) {
  auto policy = int8_policy_preset("onnx");
  EXPECT_TRUE(policy);
  auto low = lower(g, *policy);
  EXPECT_TRUE(low) << low.status().message();
  return low ? std::move(*low) : LoweredGraph{};
}

TEST(LocalDrift, NoLayerAddsMoreThanOneStepUnderOnnx) {
  for (const auto& [onnx, npy] : bundled_models()) {
    const Model m = load_model(onnx, npy);
    const LoweredGraph low = lower_onnx(m.graph);
    for (const KernelTable* table : exact_int8_tables()) {
      const Report r = diff(m.graph, low.graph, *table, m.input);
      ASSERT_FALSE(r.pairs.empty()) << onnx;
      int64_t with_steps = 0;
      for (const PairRecord& p : r.pairs) {
        // Every pair of our own lowering can be re-run: each input has a reference partner.
        EXPECT_TRUE(p.has_local_drift) << onnx << " " << p.ref.tensor << " <- " << p.other.node;
        if (!p.has_local_drift) continue;
        EXPECT_EQ(p.local_drift.nonfinite_mismatch, 0) << p.ref.tensor;
        if (!p.local_drift.has_steps) continue;
        ++with_steps;
        EXPECT_LE(p.local_drift.max_abs_steps, 1.0) << onnx << " on " << table->name << ": " << p.ref.tensor;
        EXPECT_FALSE(p.local_divergent) << p.ref.tensor;
      }
      EXPECT_GT(with_steps, 2) << onnx;
    }
  }
}

// The n-th QConv of the lowered graph (in node order).
Node& nth_qconv(Graph& g, int n) {
  for (Node& node : g.nodes)
    if (node.kind == OpKind::QConv && n-- == 0) return node;
  ADD_FAILURE() << "no such QConv";
  return g.nodes.front();
}

// The report says: first divergence at `target`'s output, added there (local drift over the
// thresholds), nothing divergent before it, and after it only inherited drift.
void expect_added_at(const Report& r, const std::string& target) {
  ASSERT_GE(r.first_divergence, 0) << "no divergence";
  const auto first = static_cast<size_t>(r.first_divergence);
  const PairRecord& p = r.pairs[first];
  EXPECT_EQ(p.other.node, target) << p.ref.tensor;
  ASSERT_TRUE(p.has_local_drift);
  EXPECT_TRUE(p.local_divergent);
  EXPECT_GT(p.local_drift.max_abs_steps, 1.0);
  for (size_t i = 0; i < first; ++i) EXPECT_FALSE(r.pairs[i].divergent) << r.pairs[i].ref.tensor;
  int64_t inherited = 0;
  for (size_t i = first + 1; i < r.pairs.size(); ++i) {
    const PairRecord& q = r.pairs[i];
    if (q.other.node == target) continue;  // the same op's output paired again
    EXPECT_TRUE(q.has_local_drift) << q.ref.tensor;
    EXPECT_FALSE(q.local_divergent) << q.ref.tensor << ": " << q.local_drift.max_abs_steps << " steps locally";
    inherited += q.divergent;
  }
  EXPECT_GT(inherited, 0) << "the error should propagate downstream";
  // The text report says so on the first-divergence line.
  const std::string text = format_report_text(r);
  EXPECT_NE(text.find(": this layer adds it\n"), std::string::npos) << text;
  EXPECT_NE(text.find("(inherited)"), std::string::npos) << text;
}

Model conv_chain() {
  const std::string dir = std::string(QDRIFT_SOURCE_DIR) + "/testdata/qdq/";
  return load_model(dir + "conv_chain_u8.onnx", dir + "conv_chain_u8_input.npy");
}

TEST(LocalDrift, OutputScaleOffByTwoIsAddedAtItsLayer) {
  const Model m = conv_chain();
  for (const KernelTable* table : exact_int8_tables()) {
    LoweredGraph low = lower_onnx(m.graph);
    Node& conv = nth_qconv(low.graph, 1);  // the middle convolution
    std::vector<float> scales = conv.attr_floats("output_scales");
    ASSERT_FALSE(scales.empty());
    for (float& s : scales) s *= 2;
    conv.attrs["output_scales"] = scales;
    const Report r = diff(m.graph, low.graph, *table, m.input);
    SCOPED_TRACE(table->name);
    expect_added_at(r, conv.name);
  }
}

TEST(LocalDrift, OneChannelBiasShiftIsAddedAtItsLayer) {
  const Model m = conv_chain();
  for (const KernelTable* table : exact_int8_tables()) {
    LoweredGraph low = lower_onnx(m.graph);
    Node& conv = nth_qconv(low.graph, 1);
    const std::vector<float> scales = conv.attr_floats("output_scales");
    ASSERT_GE(conv.inputs.size(), 3u);
    Value& bias = low.graph.value(conv.inputs[2]);
    ASSERT_TRUE(bias.initializer);
    // Channel 1 shifted by 6 output steps (bias is in accumulator units: steps / output scale).
    const size_t channel = 1;
    const double shift = 6.0 / scales[scales.size() == 1 ? 0 : channel];
    Tensor& b = *bias.initializer;
    if (b.dtype == DType::s32)
      b.values<int32_t>()[channel] += static_cast<int32_t>(std::lround(shift));
    else
      b.values<float>()[channel] += static_cast<float>(shift);
    const Report r = diff(m.graph, low.graph, *table, m.input);
    SCOPED_TRACE(table->name);
    expect_added_at(r, conv.name);
  }
}

// The stepping API runs what run() runs; run_node re-runs one node on given inputs.
TEST(LocalDrift, ExecutorStepsAndRunsOneNode) {
  const Model m = conv_chain();
  auto ex = Executor::create(m.graph, ref_kernel_table());
  ASSERT_TRUE(ex);
  const std::vector<Tensor> feeds = {m.input};
  auto whole = ex->run(feeds);
  ASSERT_TRUE(whole);
  auto run = ex->start(feeds);
  ASSERT_TRUE(run);
  std::vector<Tensor> produced(m.graph.values.size());
  size_t steps = 0;
  while (!run->done()) {
    EXPECT_EQ(run->next_node(), steps);
    ASSERT_TRUE(run->step([&](const Node& n, size_t i, const Value&, const Tensor& t) {
      produced[static_cast<size_t>(n.outputs[i])] = t;
    }).is_ok());
    ++steps;
  }
  EXPECT_EQ(steps, m.graph.nodes.size());
  auto outputs = run->outputs();
  ASSERT_TRUE(outputs);
  ASSERT_EQ(outputs->size(), whole->size());
  for (size_t i = 0; i < outputs->size(); ++i)
    EXPECT_EQ((*outputs)[i].bytes, (*whole)[i].bytes);
  // Every node re-run alone on the tensors the run gave it produces the same bytes.
  for (size_t ni = 0; ni < m.graph.nodes.size(); ++ni) {
    const Node& n = m.graph.nodes[ni];
    std::vector<const Tensor*> in;
    for (ValueId x : n.inputs) {
      const Value& v = m.graph.value(x);
      in.push_back(v.initializer ? &*v.initializer : v.producer == kNoNode ? &feeds[0] : &produced[static_cast<size_t>(x)]);
    }
    auto out = ex->run_node(ni, in);
    ASSERT_TRUE(out) << n.name;
    EXPECT_EQ((*out)[0].bytes, produced[static_cast<size_t>(n.outputs[0])].bytes) << n.name;
  }
}

}  // namespace
}  // namespace qdrift
