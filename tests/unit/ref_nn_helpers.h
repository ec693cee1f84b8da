// ref_nn_helpers.h: helpers of ref_nn_test.cpp and ref_integer_test.cpp: run one node
// through the reference executor, and run ONNX backend node tests in-process.
//
//   OneNode c{OpKind::Conv};
//   c.inputs = {x, w};
//   c.attrs["pads"] = std::vector<int64_t>{1, 1, 1, 1};
//   auto out = run_one(c);                        // Result<std::vector<Tensor>>
//
//   EXPECT_TRUE(run_node_test_dir(kOnnxNodeDir / "test_conv_with_strides_padding"));
#pragma once

#include <algorithm>
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

namespace qdrift::nn_test {

namespace fs = std::filesystem;

inline const fs::path kOnnxTestData = "/usr/share/libonnx-testdata/data";

// One node whose inputs are fed at run time (nullopt = an omitted optional input).
struct OneNode {
  explicit OneNode(OpKind k) : kind(k) {}
  OpKind kind = OpKind::Unknown;
  std::vector<std::optional<Tensor>> inputs;
  std::map<std::string, AttrValue, std::less<>> attrs;
  int64_t opset = 17;
  size_t outputs = 1;           // node outputs, all graph outputs
  bool constant_inputs = false;  // inputs as initializers instead of graph inputs
};

inline Graph one_node_graph(const OneNode& c, std::vector<Tensor>* feeds) {
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
    if (c.constant_inputs) {
      n.inputs.push_back(g.add_initializer(name, *c.inputs[i]));
    } else {
      const ValueId v = g.add_value(name);
      g.value(v).dtype = c.inputs[i]->dtype;
      g.inputs.push_back(v);
      feeds->push_back(*c.inputs[i]);
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

// Builds the one-node graph and runs it with ref_kernel_table(). A failure carries the
// executor's status (node name prefixed), from kernel creation or from the run.
inline Result<std::vector<Tensor>> run_one(const OneNode& c) {
  std::vector<Tensor> feeds;
  const Graph g = one_node_graph(c, &feeds);
  auto ex = Executor::create(g, ref_kernel_table());
  if (!ex) return ex.status();
  return ex->run(feeds);
}

template <typename T>
Tensor make(Shape shape, std::vector<T> values) {
  return Tensor::from_vector<T>(std::move(shape), values);
}

template <typename T>
std::vector<T> values_of(const Tensor& t) {
  const auto v = t.values<T>();
  return std::vector<T>(v.begin(), v.end());
}

inline Result<Tensor> read_tensor_pb(const fs::path& path) {
  QD_ASSIGN_OR_RETURN(std::string bytes, read_file_bytes(path.string(), int64_t{1} << 30));
  onnx::TensorProto proto;
  if (!proto.ParseFromString(bytes)) return invalid_input("{}: not a TensorProto", path.string());
  auto t = tensor_from_proto(proto, Limits{});
  if (!t) return t.status().with_context(path.string());
  return t;
}

// Empty when equal: same dtype and shape; f32 within |got - want| <= atol + rtol * |want|
// (NaN equals NaN, infinities exactly), other dtypes exactly.
inline std::string compare(const Tensor& got, const Tensor& want, double rtol = 1e-3, double atol = 1e-7) {
  if (got.dtype != want.dtype)
    return fmt::format("dtype {} != expected {}", dtype_name(got.dtype), dtype_name(want.dtype));
  if (got.shape != want.shape)
    return fmt::format("shape {} != expected {}", shape_str(got.shape), shape_str(want.shape));
  for (int64_t i = 0; i < want.numel(); ++i) {
    const double g = got.value_as_double(i);
    const double w = want.value_as_double(i);
    bool ok = g == w;
    if (!ok && want.dtype == DType::f32)
      ok = (std::isnan(g) && std::isnan(w)) || (std::isfinite(w) && std::fabs(g - w) <= atol + rtol * std::fabs(w));
    if (!ok) return fmt::format("element {} of {}: got {}, expected {}", i, shape_str(want.shape), g, w);
  }
  return "";
}

// Runs every test_data_set_* of one ONNX backend test folder (model.onnx, input_*.pb,
// output_*.pb) through load_onnx and the reference executor.
inline ::testing::AssertionResult run_node_test_dir(const fs::path& dir) {
  auto graph = load_onnx((dir / "model.onnx").string());
  if (!graph) return ::testing::AssertionFailure() << "load: " << graph.status().message();
  auto ex = Executor::create(*graph, ref_kernel_table());
  if (!ex) return ::testing::AssertionFailure() << "create: " << ex.status().message();
  int sets = 0;
  for (int s = 0;; ++s) {
    const fs::path set = dir / fmt::format("test_data_set_{}", s);
    if (!fs::is_directory(set)) break;
    ++sets;
    std::vector<Tensor> inputs, expected;
    for (int i = 0; fs::exists(set / fmt::format("input_{}.pb", i)); ++i) {
      auto t = read_tensor_pb(set / fmt::format("input_{}.pb", i));
      if (!t) return ::testing::AssertionFailure() << t.status().message();
      inputs.push_back(std::move(*t));
    }
    for (int i = 0; fs::exists(set / fmt::format("output_{}.pb", i)); ++i) {
      auto t = read_tensor_pb(set / fmt::format("output_{}.pb", i));
      if (!t) return ::testing::AssertionFailure() << t.status().message();
      expected.push_back(std::move(*t));
    }
    auto out = ex->run(inputs);
    if (!out) return ::testing::AssertionFailure() << set.filename().string() << ": run: " << out.status().message();
    if (out->size() != expected.size())
      return ::testing::AssertionFailure() << out->size() << " outputs, expected " << expected.size();
    for (size_t o = 0; o < expected.size(); ++o) {
      const std::string diff = compare((*out)[o], expected[o]);
      if (!diff.empty())
        return ::testing::AssertionFailure() << set.filename().string() << " output " << o << ": " << diff;
    }
  }
  if (sets == 0) return ::testing::AssertionFailure() << "no test_data_set_* in " << dir.string();
  return ::testing::AssertionSuccess();
}

// Sorted test folders under `root` whose names start with one of `prefixes` and contain
// none of `excluded` (substrings).
inline std::vector<std::string> list_node_tests(const fs::path& root, const std::vector<std::string>& prefixes,
                                                const std::vector<std::string>& excluded = {}) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(root, ec)) {
    const std::string name = entry.path().filename().string();
    const bool match = std::any_of(prefixes.begin(), prefixes.end(), [&](const std::string& p) { return name.rfind(p, 0) == 0; });
    const bool skip = std::any_of(excluded.begin(), excluded.end(), [&](const std::string& x) { return name.find(x) != std::string::npos; });
    if (match && !skip) names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace qdrift::nn_test
