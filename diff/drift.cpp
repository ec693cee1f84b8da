#include "diff/drift.h"

#include <algorithm>
#include <chrono>
#include <cmath>

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
  double measure_ms = ms_between(t_map, Clock::now());

  // Which pairs each tensor takes part in.
  std::vector<std::vector<size_t>> pairs_of_ref(ga.values.size()), pairs_of_other(gb.values.size());
  for (size_t i = 0; i < mapping.pairs.size(); ++i) {
    pairs_of_ref[static_cast<size_t>(mapping.pairs[i].ref)].push_back(i);
    pairs_of_other[static_cast<size_t>(mapping.pairs[i].other)].push_back(i);
  }
  std::vector<bool> is_output(ga.values.size(), false);
  for (ValueId v : ga.outputs) is_output[static_cast<size_t>(v)] = true;

  struct Kept {
    Tensor real;                      // f32 real values
    std::optional<QuantParams> grid;  // steps are measured in this grid
    SideRecord side;
    size_t pending = 0;               // pairs not measured yet
  };
  std::vector<std::optional<Kept>> kept(ga.values.size());

  const Clock::time_point t_ref = Clock::now();
  auto ref_run = ref.run(ref_inputs, [&](const Node& node, size_t index, const Value&, const Tensor& t) {
    const ValueId v = node.outputs[index];
    if (pairs_of_ref[static_cast<size_t>(v)].empty()) return;
    if (options.on_paired_tensor) options.on_paired_tensor(true, node, index, ga.value(v), t);  // not measure time
    const Clock::time_point t0 = Clock::now();
    Kept k;
    k.grid = tensor_grid(ga, v, &t);
    const QuantParams* q = k.grid ? &*k.grid : nullptr;
    k.side = side_record(ga, node, v, t, q, options.describe_sides);
    k.real = real_values(t, q);
    k.pending = pairs_of_ref[static_cast<size_t>(v)].size();
    kept[static_cast<size_t>(v)] = std::move(k);
    measure_ms += ms_between(t0, Clock::now());
  });
  if (!ref_run) return ref_run.status();
  report.timings.ref_ms = ms_between(t_ref, Clock::now());
  if (options.ref_outputs) *options.ref_outputs = std::move(*ref_run);

  // The kernel check runs the other side's graph: keep its paired tensors by value id.
  std::vector<std::optional<Tensor>> check(gb.values.size());
  if (options.kernel_check) {
    QD_ASSERT(&options.kernel_check->graph() == &gb);  // the same graph, another kernel table
    QD_ASSERT(other.executor() != nullptr);
    auto check_run = options.kernel_check->run(other.inputs(), [&](const Node& node, size_t index, const Value&, const Tensor& t) {
      const ValueId o = node.outputs[index];
      if (!pairs_of_other[static_cast<size_t>(o)].empty()) check[static_cast<size_t>(o)] = t;
    });
    if (!check_run) return check_run.status();
  }
  const Clock::time_point t_other = Clock::now();

  std::vector<PairRecord> records(mapping.pairs.size());
  std::vector<bool> measured(mapping.pairs.size(), false);
  int64_t top1_agree = 0, top1_rows_total = 0;
  // The other side's graph outputs, as they are produced (a TensorSource returns none).
  std::vector<int> other_output_index(gb.values.size(), -1);
  if (options.other_outputs) {
    options.other_outputs->assign(gb.outputs.size(), Tensor{});
    for (size_t k = 0; k < gb.outputs.size(); ++k) other_output_index[static_cast<size_t>(gb.outputs[k])] = static_cast<int>(k);
  }
  const Status other_run = other.run([&](const Node& node, size_t index, const Value&, const Tensor& t) {
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
    const Tensor real = real_values(t, q);
    KernelCheck kc;
    if (std::optional<Tensor>& c = check[static_cast<size_t>(o)]) {
      kc = compare_kernels(real, real_values(*c, q), q);
      c.reset();
    }
    for (size_t i : mine) {
      const TensorPair& p = mapping.pairs[i];
      std::optional<Kept>& k = kept[static_cast<size_t>(p.ref)];
      QD_ASSERT(k.has_value());  // the reference ran first and kept every paired tensor
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
      // Another framework's layout (NHWC, NCHWc): its elements in the reference's order first.
      std::optional<Tensor> reordered;
      if (p.layout.kind != LayoutKind::same) reordered = to_ref_order(real, k->side.shape, p.layout);
      const Tensor& in_ref_order = reordered ? *reordered : real;
      if (k->real.numel() == in_ref_order.numel()) {
        const QuantParams* step_grid = p.steps_in_other_grid && q ? q : k->grid ? &*k->grid : nullptr;
        r.drift = measure_drift(k->real, in_ref_order, step_grid);
        r.divergent = is_divergent(r.drift, options.thresholds);
        r.channel_max_abs = channel_max_abs(k->real, in_ref_order);
        measured[i] = true;
        if (r.graph_output) {
          const auto [agree, rows] = top1_rows(k->real, in_ref_order, k->side.shape);
          top1_agree += agree;
          top1_rows_total += rows;
        }
      }
      if (--k->pending == 0) k.reset();  // every pair of this reference tensor is measured
    }
    measure_ms += ms_between(t0, Clock::now());
  });
  if (!other_run) return other_run;
  report.timings.other_ms = ms_between(t_other, Clock::now()) ;

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
