// ort_ops_test: the reference kernels of ONNX Runtime's contrib ops against ONNX Runtime's
// own outputs, committed in testdata/ort_ops/ (testdata/gen/make_ort_op_cases.js, one-node
// models, onnxruntime-node 1.30); and the graphs ORT's optimizer saved for the bundled
// models (testdata/ort/) against ORT's outputs. The expected files are decoded by the
// conformance runner's own TensorProto reader, not qdrift's. Tolerances per op are in
// kTolerances and docs/foreign_ops.md, with the reason each is not exact.
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/executor.h"
#include "core/onnx_loader.h"
#include "core/tensor_io.h"
#include "kernels/ref/ref_kernels.h"
#include "tests/conformance/proto_compare.h"

namespace qdrift {
namespace {

namespace fs = std::filesystem;
const fs::path kCases = fs::path(QDRIFT_SOURCE_DIR) / "testdata" / "ort_ops";
const fs::path kGraphs = fs::path(QDRIFT_SOURCE_DIR) / "testdata" / "ort";

// How far the reference may be from ORT, per op (docs/foreign_ops.md says why).
struct Tolerance {
  int64_t max_steps = 0;          // integer outputs: largest |got - want| in codes
  double max_off_fraction = 0.0;  // integer outputs: share of elements allowed to differ at all
  double rtol = 0.0, atol = 0.0;  // float outputs: |got - want| <= atol + rtol * |want|
};
const std::map<std::string, Tolerance> kTolerances = {
    // integer accumulation and ORT's f32 requantization (requantize_f32), followed exactly
    {"com.microsoft.QLinearConv", {0, 0.0}},
    {"com.microsoft.QGemm", {0, 0.0, 0.0, 0.0}},
    {"com.microsoft.QLinearGlobalAveragePool", {0, 0.0}},
    // the reference follows ORT's f32 order exactly
    {"com.microsoft.QLinearMul", {0, 0.0}},
    {"com.microsoft.QLinearConcat", {0, 0.0}},
    {"com.microsoft.QLinearAveragePool", {0, 0.0}},
    {"com.microsoft.QLinearLeakyRelu", {0, 0.0}},
    {"com.microsoft.QLinearSoftmax", {0, 0.0}},
    {"com.microsoft.NhwcMaxPool", {0, 0.0}},
    {"com.microsoft.MatMulIntegerToFloat", {0, 0.0, 0.0, 0.0}},
    {"DynamicQuantizeLinear", {0, 0.0, 0.0, 0.0}},
    // QLinearAdd: the reference follows the schema (dequantize, add, quantize: the QDQ
    // graph it replaces); MLAS folds the scales into two ratios and adds the zero point
    // before rounding, which can round a tie the other way (0 differences measured here)
    {"com.microsoft.QLinearAdd", {1, 0.05}},
    // MLAS's logistic is a polynomial: a table entry at a rounding boundary may move one
    // code (0 differences measured on all 256 codes of u8 and s8 here)
    {"com.microsoft.QLinearSigmoid", {1, 0.02}},
    // float ops: MLAS sums in f32 in its own blocking (the reference in double), and its
    // logistic and tanh are polynomials: measured up to ~3e-7 relative
    {"com.microsoft.FusedConv", {0, 0.0, 1e-5, 1e-6}},
    {"com.microsoft.FusedGemm", {0, 0.0, 1e-5, 1e-6}},
    // several float layers, MLAS's NCHWc kernels summing in f32
    {"nchwc graph", {0, 0.0, 1e-4, 1e-5}},
};

// Every op kind qdrift runs for ONNX Runtime's saved graphs (docs/foreign_ops.md).
const OpKind kForeignKinds[] = {
    OpKind::MsQLinearConv,  OpKind::QLinearAdd,          OpKind::QLinearMul,         OpKind::QLinearAveragePool,
    OpKind::QLinearGlobalAveragePool, OpKind::QLinearConcat, OpKind::QLinearSigmoid, OpKind::QLinearLeakyRelu,
    OpKind::QLinearSoftmax, OpKind::QGemm,               OpKind::NhwcMaxPool,        OpKind::FusedConv,
    OpKind::FusedGemm,      OpKind::DynamicQuantizeLinear, OpKind::MatMulIntegerToFloat, OpKind::NchwcConv,
    OpKind::NchwcReorderInput, OpKind::NchwcReorderOutput, OpKind::NchwcMaxPool,     OpKind::NchwcAveragePool,
    OpKind::NchwcGlobalAveragePool, OpKind::NchwcGlobalMaxPool,
};

// The op a case tests, as "domain.op_type" ("" domain: op_type alone): the node of a
// one-node model; "nchwc graph" for a float graph ORT saved with its NCHWc ops.
std::string case_op(const Graph& g) {
  for (const Node& n : g.nodes)
    if (n.domain == "com.microsoft.nchwc") return "nchwc graph";
  const Node& n = g.nodes.at(0);
  return n.domain.empty() ? n.op_type : n.domain + "." + n.op_type;
}

// Compares one output with ORT's; "" when within `tol`, else one line.
std::string compare(const Tensor& got, const conformance::ProtoValues& want, const Tolerance& tol) {
  if (got.shape != Shape(want.dims.begin(), want.dims.end()))
    return fmt::format("shape {} vs ORT's {}", shape_str(got.shape), shape_str(Shape(want.dims.begin(), want.dims.end())));
  const int64_t n = got.numel();
  if (want.kind == conformance::ProtoValues::Kind::integer) {
    if (got.dtype == DType::f32) return "f32 output where ORT's is an integer";
    int64_t worst = 0, off = 0;
    for (int64_t i = 0; i < n; ++i) {
      const int64_t d = std::llabs(static_cast<int64_t>(got.value_as_double(i)) - want.ints[static_cast<size_t>(i)]);
      worst = std::max(worst, d);
      off += d != 0;
    }
    const double fraction = n ? static_cast<double>(off) / static_cast<double>(n) : 0.0;
    if (worst > tol.max_steps || fraction > tol.max_off_fraction)
      return fmt::format("{} of {} codes differ (largest by {}); allowed: {:.0f}% by at most {}", off, n, worst,
                         100 * tol.max_off_fraction, tol.max_steps);
    return "";
  }
  if (got.dtype != DType::f32) return "integer output where ORT's is f32";
  for (int64_t i = 0; i < n; ++i) {
    const double g = got.value_as_double(i), w = want.floats[static_cast<size_t>(i)];
    if (!(std::fabs(g - w) <= tol.atol + tol.rtol * std::fabs(w)))
      return fmt::format("element {}: {} vs ORT's {} (atol {}, rtol {})", i, g, w, tol.atol, tol.rtol);
  }
  return "";
}

std::vector<std::string> case_names() {
  std::vector<std::string> names;
  if (fs::is_directory(kCases))
    for (const auto& e : fs::directory_iterator(kCases))
      if (e.is_directory()) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

class OrtOpCase : public ::testing::TestWithParam<std::string> {};

TEST_P(OrtOpCase, ReferenceMatchesOnnxRuntime) {
  const fs::path dir = kCases / GetParam();
  auto graph = load_onnx((dir / "model.onnx").string());
  ASSERT_TRUE(graph) << graph.status().message();
  const std::string op = case_op(*graph);
  auto tol = kTolerances.find(op);
  ASSERT_NE(tol, kTolerances.end()) << "no tolerance for " << op;
  std::vector<Tensor> inputs;
  for (size_t i = 0; fs::exists(dir / fmt::format("input_{}.pb", i)); ++i) {
    auto t = read_tensor_file((dir / fmt::format("input_{}.pb", i)).string());
    ASSERT_TRUE(t) << t.status().message();
    inputs.push_back(std::move(*t));
  }
  auto ex = Executor::create(*graph, ref_kernel_table());
  ASSERT_TRUE(ex) << ex.status().message();
  auto outputs = ex->run(inputs);
  ASSERT_TRUE(outputs) << outputs.status().message();
  for (size_t i = 0; i < outputs->size(); ++i) {
    auto want = conformance::read_proto_values((dir / fmt::format("output_{}.pb", i)).string());
    ASSERT_TRUE(want) << want.status().message();
    EXPECT_EQ(compare((*outputs)[i], *want, tol->second), "") << GetParam() << " output " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(OrtOps, OrtOpCase, ::testing::ValuesIn(case_names()),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param; });

// The committed cases cover every op with a tolerance, several cases each, and nothing else.
TEST(OrtOps, EveryOpHasCases) {
  std::map<std::string, int> count;
  std::set<OpKind> kinds;
  for (const std::string& name : case_names()) {
    auto graph = load_onnx((kCases / name / "model.onnx").string());
    ASSERT_TRUE(graph) << name << ": " << graph.status().message();
    ++count[case_op(*graph)];
    for (const Node& n : graph->nodes) kinds.insert(n.kind);
  }
  for (OpKind k : kForeignKinds) {
    EXPECT_TRUE(kinds.count(k)) << op_kind_domain(k) << "." << op_kind_name(k) << " has no case";
    EXPECT_NE(ref_kernel_table().factories[static_cast<size_t>(k)], nullptr) << op_kind_name(k);
  }
  for (const auto& [op, tol] : kTolerances) EXPECT_GE(count[op], 2) << op;
  for (const auto& [op, n] : count) EXPECT_TRUE(kTolerances.count(op)) << op << " has cases but no tolerance";
}

// ---- the graphs ORT's optimizer saved for the bundled models --------------------------------

struct SavedGraph {
  std::string model;   // testdata/ort/<model>_ort_all.onnx
  std::string input;   // under testdata/
  std::string output;  // ORT's output, testdata/ort/
};
const std::vector<SavedGraph> kSavedGraphs = {
    {"mobilenet_tiny_qdq", "mobilenet_tiny_input.npy", "mobilenet_tiny_qdq_ort_all_probs.npy"},
    {"bn_conv_u8", "qdq/bn_conv_u8_input.npy", "bn_conv_u8_ort_all_relu4_out_5_dq.npy"},
    {"conv_chain_u8", "qdq/conv_chain_u8_input.npy", "conv_chain_u8_ort_all_clip10_out_11_dq.npy"},
    {"conv_chain_u8_qop", "qdq/conv_chain_u8_input.npy", "conv_chain_u8_qop_ort_all_save_infer_model_scale_0.tmp_0.npy"},
    {"depthwise_s8", "qdq/depthwise_s8_input.npy", "depthwise_s8_ort_all_conv8_out_9_dq.npy"},
    {"gemm_concat_s8", "qdq/gemm_concat_s8_input.npy", "gemm_concat_s8_ort_all_matmul15_out_16_dq.npy"},
    {"paddle_style_s8", "qdq/paddle_style_s8_input.npy", "paddle_style_s8_ort_all_conv11_out_12_dq.npy"},
    {"residual_u8", "qdq/residual_u8_input.npy", "residual_u8_ort_all_add11_out_12_dq.npy"},
};

class OrtSavedGraph : public ::testing::TestWithParam<SavedGraph> {};

// The graph runs on the reference and its output is ORT's. The outputs are dequantized
// codes, so a tie rounded the other way anywhere shows as whole steps: allowed on at most
// 2% of the elements, by at most 2 steps of the output grid (measured: see foreign_ops.md).
TEST_P(OrtSavedGraph, RunsAndMatchesOnnxRuntime) {
  const SavedGraph& c = GetParam();
  auto graph = load_onnx((kGraphs / (c.model + "_ort_all.onnx")).string());
  ASSERT_TRUE(graph) << graph.status().message();
  auto x = read_tensor_file((fs::path(QDRIFT_SOURCE_DIR) / "testdata" / c.input).string());
  ASSERT_TRUE(x) << x.status().message();
  auto want = read_tensor_file((kGraphs / c.output).string());
  ASSERT_TRUE(want) << want.status().message();
  auto ex = Executor::create(*graph, ref_kernel_table());
  ASSERT_TRUE(ex) << ex.status().message();
  std::vector<Tensor> inputs;
  inputs.push_back(std::move(*x));
  auto out = ex->run(inputs);
  ASSERT_TRUE(out) << out.status().message();
  const Tensor& got = out->at(0);
  ASSERT_EQ(got.shape, want->shape);
  ASSERT_EQ(got.dtype, want->dtype);
  // The output grid: the smallest nonzero difference between ORT's distinct values.
  std::set<double> values;
  for (int64_t i = 0; i < want->numel(); ++i) values.insert(want->value_as_double(i));
  double step = 0.0;
  for (auto it = values.begin(); std::next(it) != values.end(); ++it) {
    const double d = *std::next(it) - *it;
    if (d > 1e-9 && (step == 0.0 || d < step)) step = d;
  }
  int64_t off = 0;
  double worst = 0.0;
  for (int64_t i = 0; i < got.numel(); ++i) {
    const double d = std::fabs(got.value_as_double(i) - want->value_as_double(i));
    worst = std::max(worst, d);
    off += d > 1e-6;
  }
  const bool probabilities = c.model == "mobilenet_tiny_qdq";  // float Softmax after the last DQ
  if (probabilities) {
    EXPECT_LE(worst, 0.01) << c.model;
  } else {
    EXPECT_LE(worst, 2 * step + 1e-6) << c.model << ": step " << step;
    EXPECT_LE(static_cast<double>(off), 0.02 * static_cast<double>(got.numel()) + 1) << c.model;
  }
  std::cout << c.model << ": " << off << " of " << got.numel() << " elements differ from ORT, largest by " << worst
            << (probabilities ? "" : fmt::format(" (step {})", step)) << "\n";
}

INSTANTIATE_TEST_SUITE_P(OrtGraphs, OrtSavedGraph, ::testing::ValuesIn(kSavedGraphs),
                         [](const ::testing::TestParamInfo<SavedGraph>& p) { return p.param.model; });

// ---- malformed contrib nodes: one line naming the node, never a crash ------------------------

// A one-node model of `domain`.`op` with `inputs` f32 graph inputs named x0, x1, ...
std::string one_node_model(const std::string& domain, const std::string& op, int inputs,
                           const std::vector<onnx::AttributeProto>& attrs = {}) {
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(13);
  auto* ms = m.add_opset_import();
  ms->set_domain(domain);
  ms->set_version(1);
  auto* g = m.mutable_graph();
  g->set_name("bad");
  auto* n = g->add_node();
  n->set_name("bad_node");
  n->set_op_type(op);
  n->set_domain(domain);
  for (int i = 0; i < inputs; ++i) {
    const std::string name = fmt::format("x{}", i);
    n->add_input(name);
    auto* in = g->add_input();
    in->set_name(name);
    in->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
    in->mutable_type()->mutable_tensor_type()->mutable_shape()->add_dim()->set_dim_value(4);
  }
  n->add_output("y");
  for (const auto& a : attrs) *n->add_attribute() = a;
  auto* out = g->add_output();
  out->set_name("y");
  out->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
  out->mutable_type()->mutable_tensor_type()->mutable_shape()->add_dim()->set_dim_value(4);
  return m.SerializeAsString();
}

TEST(OrtOpsBadNodes, WrongInputCountFailsAtLoadNamingTheNode) {
  auto g = load_onnx_bytes(one_node_model("com.microsoft", "QLinearConv", 3), "m.onnx");
  ASSERT_FALSE(g);
  EXPECT_NE(g.status().message().find("node 'bad_node' (com.microsoft.QLinearConv): 3 inputs, expected 8 to 9"),
            std::string::npos)
      << g.status().message();
  auto c = load_onnx_bytes(one_node_model("com.microsoft", "QLinearConcat", 4), "m.onnx");
  ASSERT_FALSE(c);
  EXPECT_NE(c.status().message().find("expected at least 5"), std::string::npos) << c.status().message();
  auto r = load_onnx_bytes(one_node_model("com.microsoft.nchwc", "ReorderInput", 2), "m.onnx");
  ASSERT_FALSE(r);
  EXPECT_NE(r.status().message().find("'bad_node'"), std::string::npos) << r.status().message();
  EXPECT_EQ(r.status().message().find('\n'), std::string::npos);
}

TEST(OrtOpsBadNodes, BadAttributesFailAtKernelCreation) {
  onnx::AttributeProto swish;
  swish.set_name("activation");
  swish.set_type(onnx::AttributeProto::STRING);
  swish.set_s("Swish");
  auto g = load_onnx_bytes(one_node_model("com.microsoft", "FusedConv", 2, {swish}), "m.onnx");
  ASSERT_TRUE(g) << g.status().message();
  auto ex = Executor::create(*g, ref_kernel_table());
  ASSERT_FALSE(ex);
  EXPECT_NE(ex.status().message().find("Swish"), std::string::npos) << ex.status().message();

  auto s = load_onnx_bytes(one_node_model("com.microsoft", "QLinearSoftmax", 4), "m.onnx");  // no 'opset'
  ASSERT_TRUE(s) << s.status().message();
  auto sx = Executor::create(*s, ref_kernel_table());
  ASSERT_FALSE(sx);
  EXPECT_NE(sx.status().message().find("'opset'"), std::string::npos) << sx.status().message();

  onnx::AttributeProto channels_last;  // an int attribute given as a string
  channels_last.set_name("channels_last");
  channels_last.set_type(onnx::AttributeProto::STRING);
  channels_last.set_s("yes");
  auto q = load_onnx_bytes(one_node_model("com.microsoft", "QLinearConv", 8, {channels_last}), "m.onnx");
  ASSERT_TRUE(q) << q.status().message();
  auto qx = Executor::create(*q, ref_kernel_table());
  ASSERT_FALSE(qx);
  EXPECT_NE(qx.status().message().find("channels_last"), std::string::npos) << qx.status().message();
}

}  // namespace
}  // namespace qdrift
