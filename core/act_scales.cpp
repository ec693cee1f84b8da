#include "core/act_scales.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "core/qdq_params.h"

namespace qdrift {

namespace {

bool quantizes_activation(const Graph& g, const Node& n) {
  return n.kind == OpKind::QuantizeLinear && n.input(0) != kNoValue && !constant_tensor(g, n.input(0));
}

}  // namespace

Result<std::map<std::string, float>> observe_quantized_max_abs(const Executor& ref,
                                                               std::span<const std::vector<Tensor>> feeds) {
  const Graph& g = ref.graph();
  std::vector<bool> watched(g.values.size(), false);
  for (const Node& n : g.nodes)
    if (quantizes_activation(g, n)) watched[static_cast<size_t>(n.input(0))] = true;
  std::map<std::string, float> seen;
  auto observe = [&](ValueId v, const Tensor& t) {
    if (!watched[static_cast<size_t>(v)] || t.dtype != DType::f32) return;
    float m = 0.f;
    for (float x : t.values<float>())
      if (std::isfinite(x)) m = std::max(m, std::fabs(x));
    float& slot = seen[g.value(v).name];
    slot = std::max(slot, m);
  };
  for (const std::vector<Tensor>& inputs : feeds) {
    for (size_t i = 0; i < g.inputs.size() && i < inputs.size(); ++i) observe(g.inputs[i], inputs[i]);
    auto ran = ref.run(inputs, [&](const Node& node, size_t index, const Value&, const Tensor& t) {
      observe(node.outputs[index], t);
    });
    if (!ran) return ran.status();
  }
  return seen;
}

Result<Graph> with_observed_act_scales(const Graph& graph, const std::map<std::string, float>& observed) {
  Graph g = graph;
  for (size_t ni = 0; ni < g.nodes.size(); ++ni) {
    if (!quantizes_activation(g, g.nodes[ni])) continue;
    const Node& q = g.nodes[ni];
    QD_ASSIGN_OR_RETURN(std::optional<QuantParams> params, qdq_node_params(g, q));
    if (!params || params->is_per_axis()) continue;  // runtime or per-axis scales: left as they are
    const std::string& x = g.value(q.input(0)).name;
    auto it = observed.find(x);
    if (it == observed.end())
      return invalid_input("act_scales=observed_max: no calibration value for '{}' (quantized by {})", x, g.describe(q));
    if (!(it->second > 0.f)) continue;
    const int32_t qmax = params->zero_point_type == DType::u8 ? 255 : 127;
    const int32_t span = qmax - params->zero_point[0];
    if (span <= 0) continue;
    const float scale = it->second / static_cast<float>(span);
    const ValueId old_scale = q.input(1);
    Tensor t = *constant_tensor(g, old_scale);  // qdq_node_params found it constant
    std::fill(t.data<float>(), t.data<float>() + t.numel(), scale);
    const ValueId fresh = g.add_initializer(g.value(q.outputs[0]).name + ".observed_scale", std::move(t));
    g.nodes[ni].inputs[1] = fresh;
    for (Node& dq : g.nodes)
      if (dq.kind == OpKind::DequantizeLinear && dq.input(0) == g.nodes[ni].outputs[0] && dq.input(1) == old_scale)
        dq.inputs[1] = fresh;
  }
  g.rebuild_links();
  return g;
}

}  // namespace qdrift
