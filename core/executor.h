// executor.h: runs a Graph with one kernel table, calling an observer per produced tensor.
//
//   Result<Executor> ex = Executor::create(graph, ref_kernel_table(), options);
//   if (!ex) return ex.status();   // "unsupported ops: node 'a' (Foo), node 'b' (Bar)"
//   auto outputs = ex->run(feeds, [&](const Node& n, size_t i, const Value& v, const Tensor& t) {
//     fmt::print("{} -> {} {}\n", n.name, v.name, shape_str(t.shape));
//   });
//
// Executors differ only in their KernelTable (OpKind -> factory). A missing entry is an
// "unsupported op" error listing every such node at once; there is no fallback.
// Tensors are freed after their last consumer ran (graph outputs are kept), so memory
// follows the largest live set, not the layer count.
//
// Layouts (Tensor::layout): a kernel may produce a channels-last tensor (the oneDNN int8
// kernels do, so that consecutive oneDNN ops need no reorders). Only kernels that say so
// (Kernel::reads_channels_last) receive one; every other kernel, every observer and the
// graph outputs get a row-major copy, made once per tensor and only when someone needs it.
// A run without observers whose oneDNN ops feed each other therefore converts nothing.
#pragma once

#include <array>
#include <functional>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "core/graph.h"
#include "core/limits.h"
#include "core/quant_math.h"

namespace qdrift {

// How the reference simulates fake quantization (ONNX by default; trainer variants by flag).
struct FakeQuantOptions {
  QuantRange range = QuantRange::full;
  Rounding rounding = Rounding::half_even;
};

struct ExecOptions {
  FakeQuantOptions fake_quant;
  Limits limits;
  // Receives notes worth telling the user, one line each, when kernels are created (e.g.
  // "node 'c1' (QConv): weight zero point 3: runs on the integer oracle"). Empty: dropped.
  std::function<void(std::string_view)> log;
};

// What a kernel sees for one execution of its node.
struct KernelContext {
  const Graph& graph;
  const Node& node;
  const ExecOptions& options;
  std::span<const Tensor* const> inputs;  // nullptr for omitted optional inputs
  std::span<Tensor> outputs;              // one per node output; the kernel fills them

  const Tensor* input(size_t i) const { return i < inputs.size() ? inputs[i] : nullptr; }
  // Sets output i to a zero tensor of dtype/shape after checking the size cap.
  Result<Tensor*> allocate(size_t i, DType dtype, const Shape& shape);
  // The same with the bytes left uninitialised: only for kernels that write every byte
  // (the oneDNN and oracle int8 kernels; zero-filling 10 MB per MobileNetV2 run costs ~1 ms).
  Result<Tensor*> allocate_uninitialized(size_t i, DType dtype, const Shape& shape);
};

class Kernel {
 public:
  virtual ~Kernel() = default;
  [[nodiscard]] virtual Status run(KernelContext& ctx) = 0;
  // True when run() reads input i in either layout (Tensor::layout). Kernels answering
  // false (the default) are given row-major tensors only.
  virtual bool reads_channels_last(size_t input) const { return false; }
};

// Runs `kernel` on row-major copies of the channels-last inputs of `ctx` (for a kernel that
// reads channels-last inputs itself but hands some runs to a kernel that does not).
[[nodiscard]] Status run_on_row_major_inputs(Kernel& kernel, KernelContext& ctx);

// Builds the kernel for one node: parses and checks attributes and constant inputs once.
using KernelFactory = Result<std::unique_ptr<Kernel>> (*)(const Graph&, const Node&, const ExecOptions&);

struct KernelTable {
  std::string_view name;                               // "ref", "onednn", "int"
  std::array<KernelFactory, kOpKindCount> factories{};  // nullptr = unsupported
};

// Adapter for kernels that are a plain function of the context (most reference ops).
template <Status (*Fn)(KernelContext&)>
class FunctionKernel final : public Kernel {
 public:
  Status run(KernelContext& ctx) override { return Fn(ctx); }
  static Result<std::unique_ptr<Kernel>> create(const Graph&, const Node&, const ExecOptions&) {
    return std::unique_ptr<Kernel>(new FunctionKernel());
  }
};

// Called for every tensor an executor produces, right after its node ran.
using Observer = std::function<void(const Node& node, size_t output_index, const Value& value, const Tensor& tensor)>;

class Executor;

// One run of an Executor, node by node: what Executor::run does in a loop, for callers that
// interleave two executors (diff/drift.cpp advances the reference and the int8 side in
// lockstep, so that each keeps only what the other has not yet produced).
//
//   QD_ASSIGN_OR_RETURN(ExecutorRun r, ex.start(inputs));
//   while (!r.done()) QD_RETURN_IF_ERROR(r.step(observer));   // graph.nodes[r.next_node()] runs
//   QD_ASSIGN_OR_RETURN(std::vector<Tensor> outputs, r.outputs());
class ExecutorRun {
 public:
  bool done() const { return next_ >= kernels_count(); }
  size_t next_node() const { return next_; }  // index into graph().nodes of the node step() runs
  // Runs the next node, calls `observer` for each output it produces, frees what no later
  // node reads. Errors: the kernel's, with the node named; the run cannot continue after one.
  Status step(const Observer& observer = {});
  // The graph outputs, in graph.outputs order (after done()).
  Result<std::vector<Tensor>> outputs();

 private:
  friend class Executor;
  ExecutorRun() = default;  // made by Executor::start
  size_t kernels_count() const;
  const Tensor* logical(size_t value);

  const Executor* ex_ = nullptr;
  size_t next_ = 0;
  std::vector<Tensor> live_;              // produced tensors by value id
  std::vector<const Tensor*> slot_;       // what each value reads: live, input or initializer
  std::vector<Tensor> row_major_;         // row-major copies of channels-last live tensors
  std::vector<const Tensor*> in_ptrs_;
  std::vector<Tensor> outs_;
};

class Executor {
 public:
  // Creates every kernel; lists all nodes without a kernel in one error.
  static Result<Executor> create(const Graph& graph, const KernelTable& table, ExecOptions options = {});

  // Names of the ops in `graph` that `table` cannot run, as "node 'x' (Op)" strings.
  static std::vector<std::string> unsupported_nodes(const Graph& graph, const KernelTable& table);

  // Runs once. `inputs` follow graph.inputs order; dtypes and known dims are checked.
  // Returns the graph outputs in graph.outputs order.
  Result<std::vector<Tensor>> run(std::span<const Tensor> inputs, const Observer& observer = {}) const;

  // The same, one node per ExecutorRun::step(). `inputs` must outlive the run.
  Result<ExecutorRun> start(std::span<const Tensor> inputs) const;

  // Runs node `node_index` alone on the given inputs (one per node input, nullptr for an
  // omitted one; row-major; an initializer input may be given as graph().value(v).initializer),
  // with the kernel the executor built for it. Returns its outputs, row-major; outputs
  // are checked against the graph as in run(). A kernel that reads channels-last receives
  // such inputs channels-last, as in a run. For re-running one op on inputs taken from
  // elsewhere (diff/drift.cpp's local drift); the executor's own runs are not affected.
  Result<std::vector<Tensor>> run_node(size_t node_index, std::span<const Tensor* const> inputs) const;

  const Graph& graph() const { return *graph_; }
  const KernelTable& table() const { return *table_; }

 private:
  friend class ExecutorRun;
  Executor() = default;
  const Graph* graph_ = nullptr;  // not owned: must outlive the executor
  const KernelTable* table_ = nullptr;
  ExecOptions options_;
  std::vector<std::unique_ptr<Kernel>> kernels_;  // one per node
  std::vector<int32_t> last_use_;                 // per value: last node index reading it, -1 if none
};

// Checks one runtime input against the graph's declaration (dtype, rank, known dims).
Status check_input(const Value& declared, const Tensor& given);

// Tells the C library to keep freed memory for reuse instead of returning it to the system
// (glibc: no mmap below 32 MB, no trimming below 1 GB). Executors allocate and free every
// tensor on every run; with the default policy each run page-faults its tensors back in,
// which cost the reference executor 2-3x its compute on MobileNetV2 (docs/benchmarks.md).
// Process-wide, so called by main() of the tools, not by the library. No-op elsewhere.
void keep_freed_memory_for_reuse();

}  // namespace qdrift
