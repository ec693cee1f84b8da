// ref_test_helpers.h: run one reference kernel, or one ONNX backend node test, in a unit test.
//
//   NodeCase c{OpKind::Add};
//   c.inputs = {Tensor::from_vector<float>({2}, {1, 2}), Tensor::scalar<float>(1)};
//   auto out = run_node(c);                      // Result<std::vector<Tensor>>
//   ASSERT_TRUE(out) << out.status().message();
//
//   EXPECT_TRUE(run_onnx_node_test("test_add_bcast"));   // model.onnx + test_data_set_*/
#pragma once

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
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

inline const char* kOnnxNodeTests = "/usr/share/libonnx-testdata/data/node";

// One node with its inputs fed at run time (nullopt = an omitted optional input).
struct NodeCase {
  OpKind kind = OpKind::Unknown;
  std::vector<std::optional<Tensor>> inputs;
  std::map<std::string, AttrValue, std::less<>> attrs;
  int64_t opset = 13;
  ExecOptions options;
  // Inputs given as initializers instead of graph inputs (kernels then see them as constants).
  bool inputs_as_initializers = false;
};

// Builds the one-node graph and runs it through Executor with ref_kernel_table().
// The status of a failure is what the executor reports (node name prefixed).
inline Result<std::vector<Tensor>> run_node(const NodeCase& c) {
  Graph g;
  g.opset = c.opset;
  g.opset_imports[""] = c.opset;
  Node n;
  n.name = "node";
  n.kind = c.kind;
  n.op_type = std::string(op_kind_name(c.kind));
  n.attrs = c.attrs;
  std::vector<Tensor> feeds;
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
  const ValueId out = g.add_value("out");
  n.outputs.push_back(out);
  g.outputs.push_back(out);
  g.add_node(std::move(n));
  auto ex = Executor::create(g, ref_kernel_table(), c.options);
  if (!ex) return ex.status();
  return ex->run(feeds);
}

// Elements of a tensor as a vector of T (asserts the dtype).
template <typename T>
std::vector<T> values_of(const Tensor& t) {
  const auto v = t.values<T>();
  return std::vector<T>(v.begin(), v.end());
}

inline Result<Tensor> read_pb(const std::filesystem::path& path) {
  QD_ASSIGN_OR_RETURN(std::string bytes, read_file_bytes(path.string(), int64_t{1} << 30));
  onnx::TensorProto proto;
  if (!proto.ParseFromString(bytes)) return invalid_input("{}: not a TensorProto", path.string());
  auto t = tensor_from_proto(proto, Limits{});
  if (!t) return t.status().with_context(path.string());
  return t;
}

// Empty when `got` equals `want`: same dtype and shape; f32 within
// |got - want| <= atol + rtol * |want| (ONNX's backend tolerance, NaN equals NaN),
// every other dtype exactly.
inline std::string compare_tensors(const Tensor& got, const Tensor& want, double rtol = 1e-3, double atol = 1e-7) {
  if (got.dtype != want.dtype)
    return fmt::format("dtype {} != expected {}", dtype_name(got.dtype), dtype_name(want.dtype));
  if (got.shape != want.shape) return fmt::format("shape {} != expected {}", shape_str(got.shape), shape_str(want.shape));
  for (int64_t i = 0; i < want.numel(); ++i) {
    const double g = got.value_as_double(i), w = want.value_as_double(i);
    bool ok;
    if (want.dtype == DType::f32) {
      ok = (std::isnan(g) && std::isnan(w)) || (std::isinf(w) && g == w) || std::fabs(g - w) <= atol + rtol * std::fabs(w);
    } else {
      ok = got.to_int64_vector()[static_cast<size_t>(i)] == want.to_int64_vector()[static_cast<size_t>(i)];
    }
    if (!ok) return fmt::format("element {}: got {}, expected {}", i, g, w);
  }
  return "";
}

// Runs every test_data_set_* of an ONNX backend node test through the reference executor.
inline ::testing::AssertionResult run_onnx_node_test(const std::string& test) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::path(kOnnxNodeTests) / test;
  auto g = load_onnx((dir / "model.onnx").string());
  if (!g) return ::testing::AssertionFailure() << "load: " << g.status().message();
  auto ex = Executor::create(*g, ref_kernel_table());
  if (!ex) return ::testing::AssertionFailure() << "create: " << ex.status().message();
  int sets = 0;
  for (int s = 0; fs::is_directory(dir / fmt::format("test_data_set_{}", s)); ++s, ++sets) {
    const fs::path data = dir / fmt::format("test_data_set_{}", s);
    std::vector<Tensor> inputs;
    for (int i = 0; fs::exists(data / fmt::format("input_{}.pb", i)); ++i) {
      auto t = read_pb(data / fmt::format("input_{}.pb", i));
      if (!t) return ::testing::AssertionFailure() << t.status().message();
      inputs.push_back(std::move(*t));
    }
    auto outs = ex->run(inputs);
    if (!outs) return ::testing::AssertionFailure() << "run: " << outs.status().message();
    for (size_t o = 0; o < outs->size(); ++o) {
      auto want = read_pb(data / fmt::format("output_{}.pb", o));
      if (!want) return ::testing::AssertionFailure() << want.status().message();
      const std::string why = compare_tensors((*outs)[o], *want);
      if (!why.empty())
        return ::testing::AssertionFailure() << data.filename().string() << " output " << o << ": " << why;
    }
  }
  if (sets == 0) return ::testing::AssertionFailure() << "no test_data_set_* in " << dir.string();
  return ::testing::AssertionSuccess();
}

// Names of the ONNX node tests of some ops, sorted: a name matches stem "test_add" when it
// is "test_add" or starts with "test_add_" (so test_constant does not match
// test_constantofshape). Names matching an `exclude` stem are left out.
inline std::vector<std::string> onnx_node_tests(const std::vector<std::string>& stems,
                                                const std::vector<std::string>& exclude = {}) {
  namespace fs = std::filesystem;
  auto matches = [](const std::string& name, const std::string& stem) {
    return name == stem || name.rfind(stem + "_", 0) == 0;
  };
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(kOnnxNodeTests, ec)) {
    const std::string name = entry.path().filename().string();
    bool match = false;
    for (const auto& s : stems) match = match || matches(name, s);
    for (const auto& e : exclude) match = match && !matches(name, e);
    if (match) names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace qdrift::test
