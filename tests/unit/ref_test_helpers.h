// ref_test_helpers.h: run one reference kernel, or ONNX's backend node tests, in a unit test.
//
//   NodeCase c{OpKind::Conv};
//   c.inputs = {x, w};                            // std::optional<Tensor>: nullopt = omitted
//   c.attrs["pads"] = std::vector<int64_t>{1, 1, 1, 1};
//   auto out = run_node(c);                       // Result<std::vector<Tensor>>
//   ASSERT_TRUE(out) << out.status().message();
//
//   EXPECT_TRUE(run_onnx_node_test("test_add_bcast"));               // node/<name>
//   EXPECT_TRUE(run_node_test_dir(kOnnxTestData / "pytorch-converted" / "test_Conv2d"));
//   for (auto& name : list_node_tests(kOnnxNodeTests, {"test_add", "test_AvgPool*"}, {"_expanded"})) ...
#pragma once

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include "core/executor.h"
#include "core/onnx_loader.h"
#include "core/onnx_tensor.h"
#include "kernels/ref/ref_kernels.h"

namespace qdrift::test {

namespace fs = std::filesystem;

inline const fs::path kOnnxTestData = "/usr/share/libonnx-testdata/data";
inline const fs::path kOnnxNodeTests = kOnnxTestData / "node";

// ---- one node ----------------------------------------------------------------------------

// One node with its inputs fed at run time (nullopt = an omitted optional input).
struct NodeCase {
  explicit NodeCase(OpKind k = OpKind::Unknown, int64_t opset_version = 13) : kind(k), opset(opset_version) {}
  OpKind kind = OpKind::Unknown;
  std::vector<std::optional<Tensor>> inputs;
  std::map<std::string, AttrValue, std::less<>> attrs;
  int64_t opset = 13;
  ExecOptions options;
  size_t outputs = 1;  // node outputs "out0", "out1", ..., all graph outputs
  // Inputs given as initializers instead of graph inputs (kernels then see them as constants).
  bool inputs_as_initializers = false;
  // The table that runs it: the reference (fast Conv/Gemm/MatMul) unless a test says otherwise.
  const KernelTable* table = &ref_kernel_table();
};

// The one-node graph of `c`; the runtime inputs are appended to `feeds`.
inline Graph node_case_graph(const NodeCase& c, std::vector<Tensor>& feeds) {
  Graph g;
  g.opset = c.opset;
  g.opset_imports[""] = c.opset;
  Node n;
  n.name = "node";
  n.kind = c.kind;
  n.op_type = std::string(op_kind_name(c.kind));
  n.domain = std::string(op_kind_domain(c.kind));
  if (!n.domain.empty()) g.opset_imports[n.domain] = 1;
  n.attrs = c.attrs;
  for (size_t i = 0; i < c.inputs.size(); ++i) {
    if (!c.inputs[i]) {
      n.inputs.push_back(kNoValue);
      continue;
    }
    const std::string name = fmt::format("in{}", i);
    if (c.inputs_as_initializers) {
      n.inputs.push_back(g.add_initializer(name, *c.inputs[i]));
    } else {
      const ValueId v = g.add_value(name);
      g.value(v).dtype = c.inputs[i]->dtype;
      g.inputs.push_back(v);
      feeds.push_back(*c.inputs[i]);
      n.inputs.push_back(v);
    }
  }
  for (size_t o = 0; o < c.outputs; ++o) {
    const ValueId out = g.add_value(fmt::format("out{}", o));
    n.outputs.push_back(out);
    g.outputs.push_back(out);
  }
  g.add_node(std::move(n));
  return g;
}

// The case `kind` on `inputs` at `opset`.
inline NodeCase node_case(OpKind kind, std::vector<std::optional<Tensor>> inputs, int64_t opset) {
  NodeCase c(kind, opset);
  c.inputs = std::move(inputs);
  return c;
}

// Builds the one-node graph and runs it through Executor with c.table. A
// failure carries the executor's status (node name prefixed), from kernel creation or run.
inline Result<std::vector<Tensor>> run_node(const NodeCase& c) {
  std::vector<Tensor> feeds;
  const Graph g = node_case_graph(c, feeds);
  auto ex = Executor::create(g, *c.table, c.options);
  if (!ex) return ex.status();
  return ex->run(feeds);
}

// The first output of run_node(c).
inline Result<Tensor> run1(const NodeCase& c) {
  auto out = run_node(c);
  if (!out) return out.status();
  return (*out)[0];
}

template <typename T>
Tensor make(Shape shape, std::vector<T> values) {
  return Tensor::from_vector<T>(std::move(shape), values);
}

// Elements of a tensor as a vector of T (asserts the dtype).
template <typename T>
std::vector<T> values_of(const Tensor& t) {
  const auto v = t.values<T>();
  return std::vector<T>(v.begin(), v.end());
}

// ---- ONNX backend node tests ---------------------------------------------------------------

inline Result<Tensor> read_pb(const fs::path& path) {
  QD_ASSIGN_OR_RETURN(std::string bytes, read_file_bytes(path.string(), int64_t{1} << 30));
  onnx::TensorProto proto;
  if (!proto.ParseFromString(bytes)) return invalid_input("{}: not a TensorProto", path.string());
  auto t = tensor_from_proto(proto, Limits{});
  if (!t) return t.status().with_context(path.string());
  return t;
}

// Empty when `got` equals `want`: same dtype and shape; f32 within
// |got - want| <= atol + rtol * |want| (ONNX's backend tolerance; NaN equals NaN,
// infinities exactly), every other dtype exactly.
inline std::string compare_tensors(const Tensor& got, const Tensor& want, double rtol = 1e-3, double atol = 1e-7) {
  if (got.dtype != want.dtype)
    return fmt::format("dtype {} != expected {}", dtype_name(got.dtype), dtype_name(want.dtype));
  if (got.shape != want.shape) return fmt::format("shape {} != expected {}", shape_str(got.shape), shape_str(want.shape));
  const bool is_float = want.dtype == DType::f32;
  const std::vector<int64_t> got_i = is_float ? std::vector<int64_t>{} : got.to_int64_vector();
  const std::vector<int64_t> want_i = is_float ? std::vector<int64_t>{} : want.to_int64_vector();
  for (int64_t i = 0; i < want.numel(); ++i) {
    const double g = got.value_as_double(i), w = want.value_as_double(i);
    const bool ok = is_float ? (std::isnan(g) && std::isnan(w)) || (std::isinf(w) && g == w) ||
                                   std::fabs(g - w) <= atol + rtol * std::fabs(w)
                             : got_i[static_cast<size_t>(i)] == want_i[static_cast<size_t>(i)];
    if (!ok) return fmt::format("element {} of {}: got {}, expected {}", i, shape_str(want.shape), g, w);
  }
  return "";
}

// Runs every test_data_set_* of one ONNX backend test folder (model.onnx, input_*.pb,
// output_*.pb) through load_onnx and the reference executor (or `table`).
inline ::testing::AssertionResult run_node_test_dir(const fs::path& dir, const KernelTable& table = ref_kernel_table()) {
  auto graph = load_onnx((dir / "model.onnx").string());
  if (!graph) return ::testing::AssertionFailure() << "load: " << graph.status().message();
  auto ex = Executor::create(*graph, table);
  if (!ex) return ::testing::AssertionFailure() << "create: " << ex.status().message();
  int sets = 0;
  for (int s = 0; fs::is_directory(dir / fmt::format("test_data_set_{}", s)); ++s, ++sets) {
    const fs::path set = dir / fmt::format("test_data_set_{}", s);
    std::vector<Tensor> inputs, expected;
    for (int i = 0; fs::exists(set / fmt::format("input_{}.pb", i)); ++i) {
      auto t = read_pb(set / fmt::format("input_{}.pb", i));
      if (!t) return ::testing::AssertionFailure() << t.status().message();
      inputs.push_back(std::move(*t));
    }
    for (int i = 0; fs::exists(set / fmt::format("output_{}.pb", i)); ++i) {
      auto t = read_pb(set / fmt::format("output_{}.pb", i));
      if (!t) return ::testing::AssertionFailure() << t.status().message();
      expected.push_back(std::move(*t));
    }
    auto out = ex->run(inputs);
    if (!out) return ::testing::AssertionFailure() << set.filename().string() << ": run: " << out.status().message();
    if (out->size() != expected.size())
      return ::testing::AssertionFailure() << out->size() << " outputs, expected " << expected.size();
    for (size_t o = 0; o < expected.size(); ++o) {
      const std::string why = compare_tensors((*out)[o], expected[o]);
      if (!why.empty())
        return ::testing::AssertionFailure() << set.filename().string() << " output " << o << ": " << why;
    }
  }
  if (sets == 0) return ::testing::AssertionFailure() << "no test_data_set_* in " << dir.string();
  return ::testing::AssertionSuccess();
}

// The node test `name` of ONNX's node/ folder.
inline ::testing::AssertionResult run_onnx_node_test(const std::string& name) {
  return run_node_test_dir(kOnnxNodeTests / name);
}

// Sorted test folders under `root` matching one of `stems` and containing none of
// `excluded` (substrings). A stem matches a name equal to it or continuing with "_"
// ("test_add" takes test_add_bcast, not test_adder; "test_constant" not
// test_constantofshape); a stem ending in '*' matches every name it starts
// ("test_AvgPool*" takes test_AvgPool1d).
inline std::vector<std::string> list_node_tests(const fs::path& root, const std::vector<std::string>& stems,
                                                const std::vector<std::string>& excluded = {}) {
  auto matches = [](const std::string& name, const std::string& stem) {
    if (!stem.empty() && stem.back() == '*') return name.rfind(stem.substr(0, stem.size() - 1), 0) == 0;
    return name == stem || name.rfind(stem + "_", 0) == 0;
  };
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(root, ec)) {
    const std::string name = entry.path().filename().string();
    const bool match = std::any_of(stems.begin(), stems.end(), [&](const std::string& s) { return matches(name, s); });
    const bool skip =
        std::any_of(excluded.begin(), excluded.end(), [&](const std::string& x) { return name.find(x) != std::string::npos; });
    if (match && !skip) names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

// A gtest parameter name for a node test path ("node/test_conv" -> "node_test_conv").
inline std::string node_test_param_name(const ::testing::TestParamInfo<std::string>& info) {
  std::string s = info.param;
  for (char& ch : s)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return s;
}

// A node test that cannot pass, with what loading it must say instead.
struct UnrunnableNodeTest {
  const char* test;
  const char* message_part;
};

// Each of `tests` fails to load as unsupported, with its message_part in the message.
template <size_t N>
void expect_unrunnable_node_tests(const UnrunnableNodeTest (&tests)[N]) {
  for (const auto& e : tests) {
    SCOPED_TRACE(e.test);
    auto g = load_onnx((kOnnxNodeTests / e.test / "model.onnx").string());
    ASSERT_FALSE(g);
    EXPECT_EQ(g.status().code(), StatusCode::unsupported) << g.status().message();
    EXPECT_NE(g.status().message().find(e.message_part), std::string::npos) << g.status().message();
  }
}

// The names of `all` not listed in `unrunnable`.
template <size_t N>
std::vector<std::string> runnable_node_tests(const std::vector<std::string>& all,
                                             const UnrunnableNodeTest (&unrunnable)[N]) {
  std::vector<std::string> out;
  for (const auto& name : all)
    if (std::none_of(std::begin(unrunnable), std::end(unrunnable),
                     [&](const UnrunnableNodeTest& e) { return name == e.test; }))
      out.push_back(name);
  return out;
}

}  // namespace qdrift::test
