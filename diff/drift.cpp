#include "diff/drift.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <optional>
#include <vector>

#include <fmt/format.h>

#include "core/qdq_params.h"
#include "core/quant_math.h"
#include "diff/mapping.h"
#include "diff/mapping_value.h"
#include "diff/measure.h"
#include "diff/tensor_views.h"

namespace qdrift {

namespace {

using Clock = std::chrono::steady_clock;
double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

std::optional<QuantParams> node_grid(const Graph& graph, const Node& n) {
  if (n.kind != OpKind::QuantizeLinear && n.kind != OpKind::DequantizeLinear) return std::nullopt;
  // The executor already rejected bad parameters; runtime parameters give no grid.
  auto q = qdq_node_params(graph, n);
  if (!q || !q->has_value()) return std::nullopt;
  return **q;
}

// Rows of a graph output whose argmax along the last axis agrees (top-1), and the row count.
std::pair<int64_t, int64_t> top1_rows(const Tensor& ref, const Tensor& other, const Shape& shape) {
  const int64_t n = ref.numel();
  const int64_t last = shape.empty() || shape.back() <= 0 ? n : shape.back();
  if (n == 0 || last == 0) return {0, 0};
  const float* a = ref.data<float>();
  const float* b = other.data<float>();
  int64_t agree = 0;
  const int64_t rows = n / last;
  for (int64_t r = 0; r < rows; ++r) {
    int64_t ia = 0, ib = 0;
    for (int64_t i = 1; i < last; ++i) {
      if (a[r * last + i] > a[r * last + ia]) ia = i;
      if (b[r * last + i] > b[r * last + ib]) ib = i;
    }
    agree += ia == ib;
  }
  return {agree, rows};
}

struct KernelCheck {
  bool done = false;
  int64_t differ = 0;
  double max_abs = 0;
  double max_steps = -1;
};

// Two executions of one int8 graph, element by element (same dtype, same grid).
KernelCheck compare_kernels(const Tensor& runtime, const Tensor& oracle, const QuantParams* q) {
  KernelCheck k;
  k.done = true;
  const float* a = runtime.data<float>();
  const float* b = oracle.data<float>();
  const QuantAxisIndex axis = q ? quant_axis_index(runtime.shape, *q) : QuantAxisIndex{};
  if (q) k.max_steps = 0;
  for (int64_t i = 0; i < runtime.numel(); ++i) {
    if (a[i] == b[i] || (std::isnan(a[i]) && std::isnan(b[i]))) continue;
    ++k.differ;
    const double d = std::fabs(static_cast<double>(a[i]) - static_cast<double>(b[i]));
    k.max_abs = std::max(k.max_abs, d);
    if (q) k.max_steps = std::max(k.max_steps, d / static_cast<double>(q->scale[axis.of(i)]));
  }
  return k;
}

SideRecord side_record(const Graph& g, const Node& node, ValueId v, const Tensor& t, const QuantParams* q,
                       bool describe) {
  SideRecord s;
  if (describe) {
    s = describe_side(t, q);
  } else {
    s.dtype = t.dtype;
    s.shape = t.shape;
    if (q) {
      s.quantized = true;
      s.scale = q->scale;
      s.zero_point = q->zero_point;
      s.axis = q->axis;
    }
  }
  s.tensor = g.value(v).name;
  s.node = node.name;
  s.op = node.op_type;
  return s;
}

}  // namespace

namespace {

// The output grid of a QOperator node: its constant per-tensor y_scale / y_zero_point.
std::optional<QuantParams> qlinear_output_grid(const Graph& graph, const Node& n, DType out_type) {
  size_t scale_input = 0;
  switch (n.kind) {
    case OpKind::QLinearConv:
    case OpKind::MsQLinearConv:
    case OpKind::QLinearMatMul:
    case OpKind::QLinearAdd:
    case OpKind::QLinearMul: scale_input = 6; break;
    case OpKind::QLinearGlobalAveragePool:
    case OpKind::QLinearAveragePool:
    case OpKind::QLinearSigmoid:
    case OpKind::QLinearLeakyRelu:
    case OpKind::QLinearSoftmax: scale_input = 3; break;
    case OpKind::QLinearConcat: scale_input = 0; break;
    case OpKind::QGemm: scale_input = 7; break;  // absent y_scale: f32 output, no grid
    default: return std::nullopt;
  }
  const Tensor* scale = constant_tensor(graph, n.input(scale_input));
  const Tensor* zp = constant_tensor(graph, n.input(scale_input + 1));
  if (!scale || scale->dtype != DType::f32 || scale->numel() != 1) return std::nullopt;
  const float s = scale->values<float>()[0];
  if (!(s > 0.f) || !std::isnormal(s)) return std::nullopt;  // the kernels reject it; nothing to measure in
  const DType type = zp ? zp->dtype : out_type;
  if (type != DType::u8 && type != DType::s8) return std::nullopt;
  return QuantParams::per_tensor(s, zp && zp->numel() == 1 ? static_cast<int32_t>(zp->value_as_double(0)) : 0, type);
}

// Ops that move int8 codes without changing them: their output keeps the input's grid.
bool passes_codes_through(OpKind k) {
  switch (k) {
    case OpKind::MaxPool:
    case OpKind::NhwcMaxPool:
    case OpKind::Reshape:
    case OpKind::Flatten:
    case OpKind::Transpose:
    case OpKind::Squeeze:
    case OpKind::Unsqueeze:
    case OpKind::Identity:
    case OpKind::Concat:
      return true;
    default:
      return false;
  }
}

std::optional<QuantParams> grid_of(const Graph& graph, ValueId v, const Tensor* t, int depth) {
  if (t && t->quant) return t->quant;
  const Value& value = graph.value(v);
  if (value.quant) return value.quant;
  const DType type = t ? t->dtype : value.dtype;
  if (const Node* p = graph.producer(v)) {
    if (auto q = node_grid(graph, *p)) return q;
    if (auto q = qlinear_output_grid(graph, *p, type)) return q;
    // An int8 tensor moved by MaxPool, Reshape, ... in a real int8 model: its input's grid.
    if ((type == DType::u8 || type == DType::s8) && passes_codes_through(p->kind) && depth < 64 &&
        p->input(0) != kNoValue)
      return grid_of(graph, p->input(0), nullptr, depth + 1);
  }
  if (value.dtype == DType::f32 && value.consumers.size() == 1)
    return node_grid(graph, graph.nodes[static_cast<size_t>(value.consumers[0])]);
  return std::nullopt;
}

}  // namespace

std::optional<QuantParams> tensor_grid(const Graph& graph, ValueId v, const Tensor* t) { return grid_of(graph, v, t, 0); }

namespace {

// Local drift: a node of the other graph re-run on the reference's tensors.
class LocalRerun {
 public:
  LocalRerun(const Executor& other, std::span<const Tensor> other_inputs) : other_(other), inputs_(other_inputs) {}

  // Input `x` of the other graph made from the reference tensor `ref` (row-major, on grid
  // `ref_grid`): the same tensor when dtype and grid agree, else its real values in f32 or
  // quantized with x's parameters. nullopt when x takes another shape or dtype.
  std::optional<Tensor> input_from(ValueId x, const Tensor& ref, const std::optional<QuantParams>& ref_grid) const {
    const Graph& g = other_.graph();
    const Value& v = g.value(x);
    if (v.has_shape) {
      if (v.shape.size() != ref.shape.size()) return std::nullopt;
      for (size_t i = 0; i < v.shape.size(); ++i)
        if (v.shape[i] >= 0 && v.shape[i] != ref.shape[i]) return std::nullopt;
    }
    const std::optional<QuantParams> grid = tensor_grid(g, x, nullptr);
    const DType type = v.dtype == DType::undefined ? ref.dtype : v.dtype;
    if (ref.dtype == type && grid == ref_grid) {
      Tensor t = ref;
      if (grid && type != DType::f32) t.quant = grid;
      return t;
    }
    const QuantParams* rq = ref_grid ? &*ref_grid : nullptr;
    if (type == DType::f32) return real_values(ref, rq);
    if ((type != DType::u8 && type != DType::s8) || !grid || grid->zero_point_type != type ||
        !quant_params_fit(ref.shape, *grid))
      return std::nullopt;
    Tensor q = quantize_tensor(real_values(ref, rq), *grid, quant_grid(type, QuantRange::full), Rounding::half_even);
    q.quant = grid;
    return q;
  }

  // Runs node `ni` of the other graph with `input(i)` for each produced input; nullopt when
  // an input is missing or the kernel refuses it (local drift is then absent).
  template <typename InputFn>
  std::optional<std::vector<Tensor>> run(size_t ni, InputFn&& input) const {
    const Graph& g = other_.graph();
    const Node& n = g.nodes[ni];
    std::vector<Tensor> owned(n.inputs.size());
    std::vector<const Tensor*> ptrs(n.inputs.size(), nullptr);
    for (size_t i = 0; i < n.inputs.size(); ++i) {
      const ValueId x = n.inputs[i];
      if (x == kNoValue) continue;
      const Value& v = g.value(x);
      if (v.initializer) {
        ptrs[i] = &*v.initializer;
      } else if (v.producer == kNoNode) {
        const auto it = std::find(g.inputs.begin(), g.inputs.end(), x);
        if (it == g.inputs.end() || static_cast<size_t>(it - g.inputs.begin()) >= inputs_.size()) return std::nullopt;
        ptrs[i] = &inputs_[static_cast<size_t>(it - g.inputs.begin())];
      } else {
        std::optional<Tensor> t = input(x);
        if (!t) return std::nullopt;
        owned[i] = std::move(*t);
        ptrs[i] = &owned[i];
      }
    }
    auto out = other_.run_node(ni, ptrs);
    if (!out) return std::nullopt;
    return std::move(*out);
  }

 private:
  const Executor& other_;
  std::span<const Tensor> inputs_;
};

}  // namespace

Status run_drift(const Executor& ref, std::span<const Tensor> ref_inputs, const Executor& other,
                 std::span<const Tensor> other_inputs, const DriftOptions& options, Report& report) {
  return run_drift(ref, ref_inputs, ExecutorSource(other, other_inputs), options, report);
}

Status run_drift(const Executor& ref, std::span<const Tensor> ref_inputs, const TensorSource& other,
                 const DriftOptions& options, Report& report) {
  const Graph& ga = ref.graph();
  const Graph& gb = other.graph();
  const Clock::time_point t_map = Clock::now();
  std::optional<Mapping> fresh;
  std::optional<Mapping>& made = options.mapping_cache ? *options.mapping_cache : fresh;
  if (!made) {
    std::vector<bool> other_produced(gb.values.size());
    for (size_t v = 0; v < gb.values.size(); ++v) other_produced[v] = other.produces(static_cast<ValueId>(v));
    Mapping mapping = map_tensors(ga, gb, options.rules, options.other_derives_from_ref, &other_produced);
    if (!options.other_derives_from_ref && options.map_by_value) {
      ValueMatchOptions value_options;
      value_options.use_structure = options.use_structure;
      QD_RETURN_IF_ERROR(map_by_structure_and_value(ref, ref_inputs, other, mapping, value_options));
    }
    made = std::move(mapping);
  }
  const Mapping& mapping = *made;

  // Which pairs each tensor takes part in.
  std::vector<std::vector<size_t>> pairs_of_ref(ga.values.size()), pairs_of_other(gb.values.size());
  for (size_t i = 0; i < mapping.pairs.size(); ++i) {
    pairs_of_ref[static_cast<size_t>(mapping.pairs[i].ref)].push_back(i);
    pairs_of_other[static_cast<size_t>(mapping.pairs[i].other)].push_back(i);
  }
  std::vector<bool> is_output(ga.values.size(), false);
  for (ValueId v : ga.outputs) is_output[static_cast<size_t>(v)] = true;

  // Local drift re-runs every other node with a paired output on the reference partners of
  // its produced inputs (an executor's only: a dump has no ops to re-run). `partner` is that
  // reference tensor (the first pair's, in the reference's own layout), and each reference
  // tensor is kept until its pairs are measured and those re-runs are done.
  const Executor* other_executor = other.executor();
  const bool local_drift = options.local_drift && other_executor != nullptr;
  std::vector<ValueId> partner(gb.values.size(), kNoValue);
  for (const TensorPair& p : mapping.pairs)
    if (partner[static_cast<size_t>(p.other)] == kNoValue && p.layout.kind == LayoutKind::same)
      partner[static_cast<size_t>(p.other)] = p.ref;
  std::vector<size_t> uses(ga.values.size(), 0);  // pairs + re-runs that read each reference tensor
  for (size_t v = 0; v < ga.values.size(); ++v) uses[v] = pairs_of_ref[v].size();
  std::vector<std::vector<ValueId>> rerun_reads(gb.nodes.size());  // distinct reference tensors a re-run reads
  if (local_drift)
    for (size_t ni = 0; ni < gb.nodes.size(); ++ni) {
      const Node& n = gb.nodes[ni];
      bool reruns = false;
      for (ValueId o : n.outputs) reruns = reruns || (o != kNoValue && !pairs_of_other[static_cast<size_t>(o)].empty());
      if (!reruns) continue;
      for (ValueId x : n.inputs) {
        if (x == kNoValue || gb.value(x).producer == kNoNode) continue;
        const ValueId a = partner[static_cast<size_t>(x)];
        if (a == kNoValue || std::find(rerun_reads[ni].begin(), rerun_reads[ni].end(), a) != rerun_reads[ni].end())
          continue;
        rerun_reads[ni].push_back(a);
        ++uses[static_cast<size_t>(a)];
      }
    }
  double measure_ms = ms_between(t_map, Clock::now());

  struct Kept {
    Tensor native;                    // as the reference produced it: codes for quantized tensors
    std::optional<QuantParams> grid;  // its grid; steps are measured in it
    SideRecord side;
    size_t pending = 0;               // pairs not measured + re-runs not done
  };
  std::vector<std::optional<Kept>> kept(ga.values.size());
  std::vector<bool> produced(ga.values.size(), false);
  const auto release = [&](ValueId a) {
    std::optional<Kept>& k = kept[static_cast<size_t>(a)];
    QD_ASSERT(k.has_value());  // kept from its production until its last use
    if (--k->pending == 0) k.reset();
  };

  const Observer ref_observer = [&](const Node& node, size_t index, const Value&, const Tensor& t) {
    const ValueId v = node.outputs[index];
    produced[static_cast<size_t>(v)] = true;
    if (uses[static_cast<size_t>(v)] == 0) return;
    if (options.on_paired_tensor && !pairs_of_ref[static_cast<size_t>(v)].empty())
      options.on_paired_tensor(true, node, index, ga.value(v), t);  // not measure time
    const Clock::time_point t0 = Clock::now();
    Kept k;
    k.grid = tensor_grid(ga, v, &t);
    k.side = side_record(ga, node, v, t, k.grid ? &*k.grid : nullptr, options.describe_sides);
    k.native = t;
    k.pending = uses[static_cast<size_t>(v)];
    kept[static_cast<size_t>(v)] = std::move(k);
    measure_ms += ms_between(t0, Clock::now());
  };

  // The kernel check runs the other side's graph in step with it: it holds one node's
  // paired outputs at a time.
  std::vector<std::optional<Tensor>> check(gb.values.size());
  const Observer check_observer = [&](const Node& node, size_t index, const Value&, const Tensor& t) {
    const ValueId o = node.outputs[index];
    if (!pairs_of_other[static_cast<size_t>(o)].empty()) check[static_cast<size_t>(o)] = t;
  };

  std::optional<LocalRerun> local;
  if (local_drift) local.emplace(*other_executor, other.inputs());
  const auto reference_input = [&](ValueId x) -> std::optional<Tensor> {
    const ValueId a = partner[static_cast<size_t>(x)];
    if (a == kNoValue || !kept[static_cast<size_t>(a)]) return std::nullopt;
    const Kept& k = *kept[static_cast<size_t>(a)];
    return local->input_from(x, k.native, k.grid);
  };
  int64_t local_node = -1;                        // the node whose re-run is in local_outputs
  std::optional<std::vector<Tensor>> local_outputs;

  std::vector<PairRecord> records(mapping.pairs.size());
  std::vector<bool> measured(mapping.pairs.size(), false);
  int64_t top1_agree = 0, top1_rows_total = 0;
  // The other side's graph outputs, as they are produced (a TensorSource returns none).
  std::vector<int> other_output_index(gb.values.size(), -1);
  if (options.other_outputs) {
    options.other_outputs->assign(gb.outputs.size(), Tensor{});
    for (size_t k = 0; k < gb.outputs.size(); ++k) other_output_index[static_cast<size_t>(gb.outputs[k])] = static_cast<int>(k);
  }
  const Observer other_observer = [&](const Node& node, size_t index, const Value&, const Tensor& t) {
    const ValueId o = node.outputs[index];
    if (options.other_outputs && other_output_index[static_cast<size_t>(o)] >= 0)
      (*options.other_outputs)[static_cast<size_t>(other_output_index[static_cast<size_t>(o)])] = t;
    const std::vector<size_t>& mine = pairs_of_other[static_cast<size_t>(o)];
    if (mine.empty()) return;
    if (options.on_paired_tensor) options.on_paired_tensor(false, node, index, gb.value(o), t);  // not measure time
    const Clock::time_point t0 = Clock::now();
    const std::optional<QuantParams> grid = tensor_grid(gb, o, &t);
    const QuantParams* q = grid ? &*grid : nullptr;
    const SideRecord side = side_record(gb, node, o, t, q, options.describe_sides);
    KernelCheck kc;
    if (std::optional<Tensor>& c = check[static_cast<size_t>(o)]) {
      kc = compare_kernels(real_values(t, q), real_values(*c, q), q);
      c.reset();
    }
    const auto ni = static_cast<int64_t>(&node - gb.nodes.data());
    if (local && local_node != ni) {
      local_node = ni;
      local_outputs = local->run(static_cast<size_t>(ni), reference_input);
    }
    const Tensor* local_out = nullptr;
    std::optional<QuantParams> local_grid;
    if (local_outputs && index < local_outputs->size() && !(*local_outputs)[index].empty()) {
      local_out = &(*local_outputs)[index];
      local_grid = tensor_grid(gb, o, local_out);
    }
    // Measured on the tensors as produced (codes stay codes, no f32 copy), unless the other
    // side holds another layout (NHWC, NCHWc): then its real values in the reference's order.
    for (size_t i : mine) {
      const TensorPair& p = mapping.pairs[i];
      std::optional<Kept>& k = kept[static_cast<size_t>(p.ref)];
      QD_ASSERT(k.has_value());  // the reference produced it before the other side got here
      PairRecord& r = records[i];
      r.method = p.method;
      r.match_detail = p.detail;
      r.ref = k->side;
      r.other = side;
      r.graph_output = is_output[static_cast<size_t>(p.ref)];
      r.has_kernel_check = kc.done;
      r.kernel_differ = kc.differ;
      r.kernel_max_abs = kc.max_abs;
      r.kernel_max_steps = kc.max_steps;
      r.confidence = p.confidence;
      r.other_layout = layout_name(p.layout);
      std::optional<Tensor> reordered;
      if (p.layout.kind != LayoutKind::same) reordered = to_ref_order(real_values(t, q), k->side.shape, p.layout);
      const Tensor& measured_other = reordered ? *reordered : t;
      const QuantParams* other_grid = reordered ? nullptr : q;  // reordered: real values already
      const QuantParams* ref_grid = k->grid ? &*k->grid : nullptr;
      if (k->native.numel() == measured_other.numel()) {
        const QuantParams* step_grid = p.steps_in_other_grid && q ? q : ref_grid;
        r.drift = measure_drift_real(k->native, ref_grid, measured_other, other_grid, step_grid);
        r.divergent = is_divergent(r.drift, options.thresholds);
        r.channel_max_abs = channel_max_abs(real_values(k->native, ref_grid), real_values(measured_other, other_grid));
        measured[i] = true;
        if (local_out && !reordered && local_out->numel() == t.numel()) {
          r.has_local_drift = true;
          r.local_drift = measure_drift_real(k->native, ref_grid, *local_out, local_grid ? &*local_grid : nullptr,
                                             step_grid);
          r.local_divergent = is_divergent(r.local_drift, options.thresholds);
        }
        if (r.graph_output) {
          const auto [agree, rows] = top1_rows(real_values(k->native, ref_grid),
                                               real_values(measured_other, other_grid), k->side.shape);
          top1_agree += agree;
          top1_rows_total += rows;
        }
      }
      release(p.ref);
    }
    measure_ms += ms_between(t0, Clock::now());
  };

  double ref_ms = 0, other_ms = 0;
  QD_ASSIGN_OR_RETURN(ExecutorRun ref_run, ref.start(ref_inputs));
  const auto step_ref = [&]() -> Status {
    const Clock::time_point t0 = Clock::now();
    Status s = ref_run.step(ref_observer);
    ref_ms += ms_between(t0, Clock::now());
    return s;
  };
  if (other_executor) {
    // Lockstep: the other side runs a node once the reference has produced the partners of
    // its paired outputs and of the inputs its re-run reads; until then the reference steps.
    // Each side thus keeps only what the other has not reached yet.
    QD_ASSIGN_OR_RETURN(ExecutorRun other_run, other_executor->start(other.inputs()));
    std::optional<ExecutorRun> check_run;
    if (options.kernel_check) {
      QD_ASSERT(&options.kernel_check->graph() == &gb);  // the same graph, another kernel table
      QD_ASSIGN_OR_RETURN(check_run, options.kernel_check->start(other.inputs()));
    }
    const auto ready = [&](size_t ni) {
      const Node& n = gb.nodes[ni];
      for (ValueId o : n.outputs)
        if (o != kNoValue)
          for (size_t i : pairs_of_other[static_cast<size_t>(o)])
            if (!produced[static_cast<size_t>(mapping.pairs[i].ref)]) return false;
      for (ValueId a : rerun_reads[ni])
        if (!produced[static_cast<size_t>(a)]) return false;
      return true;
    };
    while (!other_run.done()) {
      const size_t ni = other_run.next_node();
      if (!ref_run.done() && !ready(ni)) {
        QD_RETURN_IF_ERROR(step_ref());
        continue;
      }
      if (check_run) QD_RETURN_IF_ERROR(check_run->step(check_observer));
      const Clock::time_point t0 = Clock::now();
      QD_RETURN_IF_ERROR(other_run.step(other_observer));
      for (ValueId a : rerun_reads[ni]) release(a);
      other_ms += ms_between(t0, Clock::now());
    }
    while (!ref_run.done()) QD_RETURN_IF_ERROR(step_ref());
  } else {
    // A dump: the reference runs first, keeping its paired tensors as produced.
    QD_ASSERT(options.kernel_check == nullptr);  // the kernel check runs an executor's graph
    while (!ref_run.done()) QD_RETURN_IF_ERROR(step_ref());
    const Clock::time_point t0 = Clock::now();
    QD_RETURN_IF_ERROR(other.run(other_observer));
    other_ms = ms_between(t0, Clock::now());
  }
  if (options.ref_outputs) {
    QD_ASSIGN_OR_RETURN(*options.ref_outputs, ref_run.outputs());
  }
  report.timings.ref_ms = ref_ms;
  report.timings.other_ms = other_ms;

  // Pairs whose element counts turned out to differ at run time are not pairs after all.
  report.pairs.clear();
  for (size_t i = 0; i < records.size(); ++i) {
    if (measured[i]) {
      report.pairs.push_back(std::move(records[i]));
      continue;
    }
    const PairRecord& r = records[i];
    const std::string reason =
        fmt::format("paired by {} with '{}', but {} has another element count than {}", match_method_name(r.method),
                    r.other.tensor, shape_str(r.other.shape), shape_str(r.ref.shape));
    report.unmatched.push_back({"ref", r.ref.tensor, r.ref.node, r.ref.op, reason});
  }
  for (const UnmatchedRecord& u : mapping.unmatched) report.unmatched.push_back(u);
  report.thresholds = options.thresholds;
  report.first_divergence = -1;
  for (size_t i = 0; i < report.pairs.size(); ++i)
    if (report.pairs[i].divergent) {
      report.first_divergence = static_cast<int64_t>(i);
      break;
    }
  report.top1_agreement =
      top1_rows_total > 0 ? static_cast<double>(top1_agree) / static_cast<double>(top1_rows_total) : -1.0;
  // Observer time is inside both runs: report it apart from the executors'.
  report.timings.measure_ms = measure_ms;
  return Status::ok();
}

}  // namespace qdrift
