// strip_qdq.cpp: the fp32 baseline: a QDQ graph with its fake quantization removed.
//
// Two rules, applied in one walk over the nodes in topological order:
//   fold_dequantize   DequantizeLinear(constant q, constant scale[, constant zp]) becomes
//                     an f32 initializer under the DQ output's name (weights, int32 bias);
//   bypass_qdq        QuantizeLinear(x) -> DequantizeLinear -> consumers: the consumers
//                     read x directly. A DQ output that is a graph output becomes
//                     Identity(x), so the graph output keeps its name.
// A Q whose output is then read by nobody (and is no graph output) is removed, as is a
// Constant left unread by folding. Q/DQ at the boundary (DQ of a runtime int8 input, Q
// feeding an integer op or a graph output) have no float counterpart and stay.
#include <cmath>
#include <numeric>
#include <optional>

#include "core/passes.h"
#include "core/qdq_params.h"
#include "core/quant_math.h"

namespace qdrift {

namespace {

// DequantizeLinear evaluated on constant inputs, or nullopt when the inputs are not all
// constant or not well formed (the node is then left for the executor to report).
std::optional<Tensor> fold_dequantize(const Graph& g, const Node& n) {
  const Tensor* x = constant_tensor(g, n.input(0));
  const Tensor* scale = constant_tensor(g, n.input(1));
  const Tensor* zp = n.input(2) == kNoValue ? nullptr : constant_tensor(g, n.input(2));
  if (!x || !scale || (n.input(2) != kNoValue && !zp)) return std::nullopt;
  if (x->dtype != DType::s8 && x->dtype != DType::u8 && x->dtype != DType::s32) return std::nullopt;
  if (scale->dtype != DType::f32 || scale->rank() > 1 || scale->numel() < 1) return std::nullopt;
  const int64_t count = scale->numel();
  if (zp && (zp->dtype != x->dtype || zp->numel() != count)) return std::nullopt;

  const float* s = scale->data<float>();
  for (int64_t c = 0; c < count; ++c)
    if (!(s[c] > 0.0f) || !std::isfinite(s[c])) return std::nullopt;
  QuantParams q;
  q.scale.assign(s, s + count);
  q.zero_point_type = x->dtype;
  if (zp)
    for (int64_t v : zp->to_int64_vector()) q.zero_point.push_back(static_cast<int32_t>(v));
  else
    q.zero_point.assign(static_cast<size_t>(count), 0);
  if (count > 1) {  // per axis (opset 13); an axis attribute past int range must not wrap
    const int64_t axis = n.attr_int("axis", 1);
    if (g.opset < 13 || axis < -x->rank() || axis >= x->rank()) return std::nullopt;
    q.axis = static_cast<int>(axis);
    if (!quant_params_fit(x->shape, q)) return std::nullopt;
  }
  return dequantize_tensor(*x, q);
}

bool is_float_or_unknown(const Graph& g, ValueId v) {
  const DType t = g.value(v).dtype;
  return t == DType::f32 || t == DType::undefined;
}

// Drops values no node, graph input or graph output refers to (the quantized weights
// after folding, the outputs of removed nodes) and renumbers the rest.
void compact_values(Graph& g) {
  std::vector<char> used(g.values.size(), 0);
  auto mark = [&](ValueId v) {
    if (v != kNoValue) used[static_cast<size_t>(v)] = 1;
  };
  for (const Node& n : g.nodes) {
    for (ValueId v : n.inputs) mark(v);
    for (ValueId v : n.outputs) mark(v);
  }
  for (ValueId v : g.inputs) mark(v);
  for (ValueId v : g.outputs) mark(v);
  std::vector<ValueId> new_id(g.values.size(), kNoValue);
  std::vector<Value> kept;
  for (size_t i = 0; i < g.values.size(); ++i)
    if (used[i]) {
      new_id[i] = static_cast<ValueId>(kept.size());
      kept.push_back(std::move(g.values[i]));
    }
  auto remap = [&](ValueId& v) {
    if (v != kNoValue) v = new_id[static_cast<size_t>(v)];
  };
  for (Node& n : g.nodes) {
    for (ValueId& v : n.inputs) remap(v);
    for (ValueId& v : n.outputs) remap(v);
  }
  for (ValueId& v : g.inputs) remap(v);
  for (ValueId& v : g.outputs) remap(v);
  g.values = std::move(kept);
}

}  // namespace

Graph strip_qdq(const Graph& graph) {
  Graph g = graph;
  g.rebuild_links();  // producer links of the copy are what the rules below read

  // replacement[v]: the value read instead of v (itself when v is not bypassed).
  std::vector<ValueId> replacement(g.values.size());
  std::iota(replacement.begin(), replacement.end(), 0);
  std::vector<char> is_graph_output(g.values.size(), 0);
  for (ValueId v : g.outputs) is_graph_output[static_cast<size_t>(v)] = 1;
  std::vector<char> removed(g.nodes.size(), 0);

  for (size_t ni = 0; ni < g.nodes.size(); ++ni) {
    Node& n = g.nodes[ni];
    // Producers come first (topological order), so one lookup resolves whole chains.
    for (ValueId& in : n.inputs)
      if (in != kNoValue) in = replacement[static_cast<size_t>(in)];
    if (n.kind != OpKind::DequantizeLinear || n.outputs.empty() || n.outputs[0] == kNoValue) continue;
    const ValueId out = n.outputs[0];

    if (std::optional<Tensor> folded = fold_dequantize(g, n)) {
      Value& v = g.value(out);
      v.dtype = DType::f32;
      v.shape = folded->shape;
      v.has_shape = true;
      v.initializer = std::move(*folded);
      v.provenance = {v.name, "fold_dequantize"};
      removed[ni] = 1;
      continue;
    }

    const Node* q = g.producer(n.input(0));
    if (!q || q->kind != OpKind::QuantizeLinear || q->input(0) == kNoValue || !is_float_or_unknown(g, q->input(0)))
      continue;  // a boundary DQ: its input has no float counterpart
    const ValueId x = q->input(0);
    if (is_graph_output[static_cast<size_t>(out)]) {
      n.kind = OpKind::Identity;
      n.op_type = "Identity";
      n.domain.clear();
      n.inputs = {x};
      n.attrs.clear();
      g.value(out).provenance = {g.value(out).name, "bypass_qdq"};
    } else {
      replacement[static_cast<size_t>(out)] = x;
      removed[ni] = 1;
    }
  }

  // Remove Q nodes (and Constants) whose outputs nobody reads any more.
  std::vector<int> readers(g.values.size(), 0);
  for (size_t ni = 0; ni < g.nodes.size(); ++ni)
    if (!removed[ni])
      for (ValueId in : g.nodes[ni].inputs)
        if (in != kNoValue) ++readers[static_cast<size_t>(in)];
  for (size_t ni = g.nodes.size(); ni-- > 0;) {
    const Node& n = g.nodes[ni];
    if (removed[ni] || (n.kind != OpKind::QuantizeLinear && n.kind != OpKind::Constant)) continue;
    bool dead = true;
    for (ValueId out : n.outputs)
      if (out != kNoValue && (readers[static_cast<size_t>(out)] > 0 || is_graph_output[static_cast<size_t>(out)]))
        dead = false;
    if (!dead) continue;
    removed[ni] = 1;
    for (ValueId in : n.inputs)
      if (in != kNoValue) --readers[static_cast<size_t>(in)];
  }

  std::vector<Node> kept;
  for (size_t ni = 0; ni < g.nodes.size(); ++ni)
    if (!removed[ni]) kept.push_back(std::move(g.nodes[ni]));
  g.nodes = std::move(kept);
  compact_values(g);
  g.rebuild_links();
  return g;
}

}  // namespace qdrift
