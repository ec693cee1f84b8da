// fuzz_onnx_loader: model bytes -> load_onnx_bytes (protobuf parse, ONNX checker, shape
// inference, qdrift's own checks) -> lower(onnx policy) -> Executor::create with the
// reference table (and the integer oracle for the lowered graph) -> a run on zero inputs
// when the graph is tiny. Caps keep every step small: tensors of at most 16 KiB at run
// time, at most 64 nodes run.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/executor.h"
#include "core/lower.h"
#include "core/onnx_loader.h"
#include "kernels/int/int_kernels.h"
#include "kernels/ref/ref_kernels.h"
#include "tests/fuzz/fuzz_common.h"

namespace {

using namespace qdrift;

constexpr int64_t kRunTensorBytes = 16 << 10;
constexpr size_t kRunMaxNodes = 64;

// Zero inputs for every graph input, or nothing when one has no known small shape.
bool zero_inputs(const Graph& g, std::vector<Tensor>& feeds) {
  for (ValueId id : g.inputs) {
    const Value& v = g.value(id);
    if (v.dtype == DType::undefined || !v.has_shape || !shape_is_known(v.shape)) return false;
    auto n = checked_numel(v.shape, kRunTensorBytes / static_cast<int64_t>(dtype_size(v.dtype)));
    if (!n) return false;
    feeds.push_back(Tensor::zeros(v.dtype, v.shape));
  }
  return true;
}

// Run only graphs whose constants are as small as the run-time cap: the work of a node
// is then bounded by (output elements x constant elements), a few million at most.
bool small_enough_to_run(const Graph& g) {
  if (g.nodes.size() > kRunMaxNodes) return false;
  for (const Value& v : g.values)
    if (v.initializer && static_cast<int64_t>(v.initializer->nbytes()) > kRunTensorBytes) return false;
  for (const Node& n : g.nodes)
    for (const auto& [key, a] : n.attrs)
      if (const Tensor* t = std::get_if<Tensor>(&a); t && static_cast<int64_t>(t->nbytes()) > kRunTensorBytes)
        return false;
  return true;
}

void check_error(const Status& s) {
  // Model errors are the user's (exit 2); an internal error here is a qdrift bug, except
  // that kernels report "output has shape X, the graph declares Y" as internal when a
  // hostile file declares wrong output shapes and shape inference kept them.
  const std::string& m = s.message();
  if (m.empty() || m.find('\n') != std::string::npos) {
    std::fprintf(stderr, "fuzz: malformed message: %s\n", m.c_str());
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  LoadOptions options;
  options.limits = fuzz::fuzz_limits();
  auto graph = load_onnx_bytes(std::string(reinterpret_cast<const char*>(data), size), "fuzz.onnx", options);
  if (!graph) {
    fuzz::check_rejection(graph.status(), "fuzz.onnx");
    return 0;
  }
  ExecOptions exec;
  exec.limits = options.limits;
  exec.limits.max_tensor_bytes = kRunTensorBytes;
  auto ref = Executor::create(*graph, ref_kernel_table(), exec);
  if (!ref) check_error(ref.status());

  auto policy = int8_policy_preset("onnx");
  if (!policy) std::abort();
  auto low = lower(*graph, *policy);
  if (!low) check_error(low.status());
  if (low) {
    auto oracle = Executor::create(low->graph, int_kernel_table(), exec);
    if (!oracle) check_error(oracle.status());
  }

  if (ref && small_enough_to_run(*graph)) {
    std::vector<Tensor> feeds;
    if (zero_inputs(*graph, feeds)) {
      auto out = ref->run(feeds);
      if (!out) check_error(out.status());
    }
  }
  return 0;
}
