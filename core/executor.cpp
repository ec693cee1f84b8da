#include "core/executor.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <fmt/format.h>

namespace qdrift {

namespace {
Status check_output_size(const ExecOptions& options, DType dtype, const Shape& shape) {
  if (static_cast<int>(shape.size()) > options.limits.max_rank)
    return invalid_input("output rank {} exceeds the limit {}", shape.size(), options.limits.max_rank);
  auto n = checked_numel(shape, options.limits.max_tensor_bytes / static_cast<int64_t>(dtype_size(dtype)));
  return n ? Status::ok() : n.status();
}
}  // namespace

Result<Tensor*> KernelContext::allocate(size_t i, DType dtype, const Shape& shape) {
  QD_ASSERT(i < outputs.size());
  QD_RETURN_IF_ERROR(check_output_size(options, dtype, shape));
  outputs[i] = Tensor::zeros(dtype, shape);
  return &outputs[i];
}

Result<Tensor*> KernelContext::allocate_uninitialized(size_t i, DType dtype, const Shape& shape) {
  QD_ASSERT(i < outputs.size());
  QD_RETURN_IF_ERROR(check_output_size(options, dtype, shape));
  outputs[i] = Tensor::uninitialized(dtype, shape);
  return &outputs[i];
}

Status run_on_row_major_inputs(Kernel& kernel, KernelContext& ctx) {
  std::vector<Tensor> copies(ctx.inputs.size());
  std::vector<const Tensor*> ptrs(ctx.inputs.begin(), ctx.inputs.end());
  for (size_t i = 0; i < ptrs.size(); ++i)
    if (ptrs[i] && ptrs[i]->layout != Layout::row_major) {
      copies[i] = to_row_major(*ptrs[i]);
      ptrs[i] = &copies[i];
    }
  KernelContext row_major{ctx.graph, ctx.node, ctx.options, ptrs, ctx.outputs};
  return kernel.run(row_major);
}

std::vector<std::string> Executor::unsupported_nodes(const Graph& graph, const KernelTable& table) {
  std::vector<std::string> missing;
  for (const Node& n : graph.nodes)
    if (table.factories[static_cast<size_t>(n.kind)] == nullptr)
      missing.push_back(fmt::format("node '{}' ({}{}{})", n.name, n.domain, n.domain.empty() ? "" : ".", n.op_type));
  return missing;
}

Result<Executor> Executor::create(const Graph& graph, const KernelTable& table, ExecOptions options) {
  auto missing = unsupported_nodes(graph, table);
  if (!missing.empty())
    return unsupported("{} unsupported op{} for the {} executor: {}", missing.size(), missing.size() == 1 ? "" : "s",
                       table.name, fmt::join(missing, ", "));
  Executor ex;
  ex.graph_ = &graph;
  ex.table_ = &table;
  ex.options_ = options;
  for (const Node& n : graph.nodes) {
    auto kernel = table.factories[static_cast<size_t>(n.kind)](graph, n, ex.options_);
    if (!kernel) return kernel.status().with_context(graph.describe(n));
    ex.kernels_.push_back(std::move(*kernel));
  }
  ex.last_use_.assign(graph.values.size(), -1);
  for (size_t i = 0; i < graph.nodes.size(); ++i)
    for (ValueId in : graph.nodes[i].inputs)
      if (in != kNoValue) ex.last_use_[static_cast<size_t>(in)] = static_cast<int32_t>(i);
  for (ValueId out : graph.outputs) ex.last_use_[static_cast<size_t>(out)] = INT32_MAX;  // never freed
  return ex;
}

Status check_input(const Value& declared, const Tensor& given) {
  if (declared.dtype != DType::undefined && declared.dtype != given.dtype)
    return invalid_input("input '{}': expected dtype {}, got {}", declared.name, dtype_name(declared.dtype),
                         dtype_name(given.dtype));
  if (!declared.has_shape) return Status::ok();
  bool match = declared.shape.size() == given.shape.size();
  for (size_t i = 0; match && i < declared.shape.size(); ++i)
    match = declared.shape[i] < 0 || declared.shape[i] == given.shape[i];
  if (!match)
    return invalid_input("input '{}': expected shape {}, got {}", declared.name, shape_str(declared.shape),
                         shape_str(given.shape));
  return Status::ok();
}

namespace {
// The kernel's output must agree with what ONNX shape inference declared; a mismatch is
// our bug, reported as an internal error rather than passed on silently.
Status check_output(const Graph& g, const Node& n, const Value& v, const Tensor& t) {
  if (t.empty()) return internal_error("{}: kernel produced no tensor for output '{}'", g.describe(n), v.name);
  if (t.layout == Layout::channels_last && (t.rank() < 3 || t.rank() > 5))
    return internal_error("{}: output '{}' of rank {} is labelled channels-last", g.describe(n), v.name, t.rank());
  if (v.dtype != DType::undefined && v.dtype != t.dtype)
    return internal_error("{}: output '{}' has dtype {}, the graph declares {}", g.describe(n), v.name,
                          dtype_name(t.dtype), dtype_name(v.dtype));
  if (v.has_shape) {
    bool match = v.shape.size() == t.shape.size();
    for (size_t i = 0; match && i < v.shape.size(); ++i) match = v.shape[i] < 0 || v.shape[i] == t.shape[i];
    if (!match)
      return internal_error("{}: output '{}' has shape {}, the graph declares {}", g.describe(n), v.name,
                            shape_str(t.shape), shape_str(v.shape));
  }
  return Status::ok();
}
}  // namespace

Result<ExecutorRun> Executor::start(std::span<const Tensor> inputs) const {
  const Graph& g = *graph_;
  if (inputs.size() != g.inputs.size())
    return invalid_input("the model takes {} input{}, {} given", g.inputs.size(), g.inputs.size() == 1 ? "" : "s",
                         inputs.size());
  ExecutorRun r;
  r.ex_ = this;
  // Live tensors by value id; initializers are read from the graph in place.
  r.live_.resize(g.values.size());
  r.slot_.assign(g.values.size(), nullptr);
  r.row_major_.resize(g.values.size());
  for (size_t i = 0; i < g.values.size(); ++i)
    if (g.values[i].initializer) r.slot_[i] = &*g.values[i].initializer;
  for (size_t i = 0; i < inputs.size(); ++i) {
    QD_RETURN_IF_ERROR(check_input(g.value(g.inputs[i]), inputs[i]));
    r.slot_[static_cast<size_t>(g.inputs[i])] = &inputs[i];
  }
  return r;
}

size_t ExecutorRun::kernels_count() const { return ex_->kernels_.size(); }

// Row-major copies of channels-last live tensors, made on first need, freed with them.
const Tensor* ExecutorRun::logical(size_t idx) {
  const Tensor* t = slot_[idx];
  if (!t || t->layout == Layout::row_major) return t;
  if (row_major_[idx].empty()) row_major_[idx] = to_row_major(*t);
  return &row_major_[idx];
}

Status ExecutorRun::step(const Observer& observer) {
  QD_ASSERT(!done());
  const Graph& g = *ex_->graph_;
  const size_t ni = next_++;
  const Node& node = g.nodes[ni];
  Kernel& kernel = *ex_->kernels_[ni];
  in_ptrs_.clear();
  for (size_t i = 0; i < node.inputs.size(); ++i) {
    const ValueId in = node.inputs[i];
    if (in == kNoValue) {
      in_ptrs_.push_back(nullptr);
      continue;
    }
    const auto idx = static_cast<size_t>(in);
    in_ptrs_.push_back(kernel.reads_channels_last(i) ? slot_[idx] : logical(idx));
  }
  outs_.assign(node.outputs.size(), Tensor{});
  KernelContext ctx{g, node, ex_->options_, in_ptrs_, outs_};
  Status s = kernel.run(ctx);
  if (!s) {
    next_ = kernels_count();  // no further step
    return s.with_context(g.describe(node));
  }
  for (size_t o = 0; o < node.outputs.size(); ++o) {
    const ValueId out = node.outputs[o];
    if (out == kNoValue) continue;
    const Value& v = g.value(out);
    if (Status c = check_output(g, node, v, outs_[o]); !c) {
      next_ = kernels_count();
      return c;
    }
    live_[static_cast<size_t>(out)] = std::move(outs_[o]);
    slot_[static_cast<size_t>(out)] = &live_[static_cast<size_t>(out)];
    if (observer) observer(node, o, v, *logical(static_cast<size_t>(out)));
  }
  // Free what no later node reads (graph outputs have last_use INT32_MAX).
  const std::vector<int32_t>& last_use = ex_->last_use_;
  for (ValueId in : node.inputs) {
    if (in == kNoValue) continue;
    const auto idx = static_cast<size_t>(in);
    if (last_use[idx] == static_cast<int32_t>(ni) && !g.values[idx].initializer) {
      live_[idx] = Tensor{};
      row_major_[idx] = Tensor{};
      if (g.values[idx].producer != kNoNode) slot_[idx] = nullptr;
    }
  }
  for (ValueId out : node.outputs)  // outputs nobody reads
    if (out != kNoValue && last_use[static_cast<size_t>(out)] == -1) {
      live_[static_cast<size_t>(out)] = Tensor{};
      row_major_[static_cast<size_t>(out)] = Tensor{};
      slot_[static_cast<size_t>(out)] = nullptr;
    }
  return Status::ok();
}

Result<std::vector<Tensor>> ExecutorRun::outputs() {
  QD_ASSERT(done());
  const Graph& g = *ex_->graph_;
  std::vector<Tensor> result;
  result.reserve(g.outputs.size());
  for (ValueId out : g.outputs) {
    const Tensor* t = logical(static_cast<size_t>(out));
    if (!t) return internal_error("graph output '{}' was not computed", g.value(out).name);
    result.push_back(*t);  // a graph output may also be an input or initializer: copy
  }
  return result;
}

Result<std::vector<Tensor>> Executor::run(std::span<const Tensor> inputs, const Observer& observer) const {
  QD_ASSIGN_OR_RETURN(ExecutorRun r, start(inputs));
  while (!r.done()) QD_RETURN_IF_ERROR(r.step(observer));
  return r.outputs();
}

Result<std::vector<Tensor>> Executor::run_node(size_t node_index, std::span<const Tensor* const> inputs) const {
  const Graph& g = *graph_;
  QD_ASSERT(node_index < kernels_.size());
  const Node& node = g.nodes[node_index];
  QD_ASSERT(inputs.size() == node.inputs.size());
  Kernel& kernel = *kernels_[node_index];
  // A kernel that reads channels-last gets it, as its producer hands it over in a run: its
  // usual path (the oneDNN convolution would otherwise keep a staging buffer per node).
  std::vector<Tensor> converted(inputs.size());
  std::vector<const Tensor*> ptrs(inputs.begin(), inputs.end());
  for (size_t i = 0; i < ptrs.size(); ++i) {
    if (!ptrs[i]) continue;
    QD_ASSERT(ptrs[i]->layout == Layout::row_major);
    if (kernel.reads_channels_last(i) && ptrs[i]->rank() >= 3 && ptrs[i]->rank() <= 5 &&
        !layouts_share_bytes(ptrs[i]->shape)) {
      converted[i] = to_channels_last(*ptrs[i]);
      ptrs[i] = &converted[i];
    }
  }
  std::vector<Tensor> outs(node.outputs.size());
  KernelContext ctx{g, node, options_, ptrs, outs};
  Status s = kernel.run(ctx);
  if (!s) return s.with_context(g.describe(node));
  for (size_t o = 0; o < node.outputs.size(); ++o) {
    if (node.outputs[o] == kNoValue) continue;
    QD_RETURN_IF_ERROR(check_output(g, node, g.value(node.outputs[o]), outs[o]));
    if (outs[o].layout != Layout::row_major) outs[o] = to_row_major(outs[o]);
  }
  return outs;
}

void keep_freed_memory_for_reuse() {
#if defined(__GLIBC__)
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
#endif
}

}  // namespace qdrift
