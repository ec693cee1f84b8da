#include "core/lower.h"

#include "core/act_scales.h"

#include <algorithm>

#include <fmt/format.h>

#include "core/lower/lowering.h"

namespace qdrift {

namespace {

std::string quant_text(const QuantParams& q) {
  if (!q.is_per_axis()) return fmt::format("{} s={:.6g} zp={}", dtype_name(q.zero_point_type), q.scale[0], q.zero_point[0]);
  const auto [lo, hi] = std::minmax_element(q.scale.begin(), q.scale.end());
  return fmt::format("{} per-axis({}) x{} s=[{:.6g}..{:.6g}]", dtype_name(q.zero_point_type), q.axis, q.scale.size(), *lo,
                     *hi);
}

std::string attr_text(const AttrValue& a) {
  return std::visit(
      [](const auto& v) -> std::string {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, int64_t> || std::is_same_v<T, float>) return fmt::format("{}", v);
        else if constexpr (std::is_same_v<T, std::string>) return fmt::format("\"{}\"", v);
        else if constexpr (std::is_same_v<T, Tensor>) return fmt::format("tensor{}", shape_str(v.shape));
        else if constexpr (std::is_same_v<T, std::vector<float>>) {
          if (v.size() > 8) return fmt::format("[{} values]", v.size());
          return fmt::format("[{:.6g}]", fmt::join(v, ","));
        } else return fmt::format("[{}]", fmt::join(v, ","));
      },
      a);
}

}  // namespace

Result<LoweredGraph> lower(const Graph& source, const Int8Policy& policy) {
  if (policy.act_scales == ActScales::observed_max) {  // core/act_scales.h: rescale, then lower as usual
    auto rescaled = with_observed_act_scales(source, policy.observed_max_abs);
    if (!rescaled) return rescaled.status().with_context(source.source_path.empty() ? "lowering" : source.source_path);
    Int8Policy model_scales = policy;
    model_scales.act_scales = ActScales::model;
    return lower(*rescaled, model_scales);
  }
  Lowering l(source, policy);
  auto r = l.run();
  if (!r) return r.status().with_context(source.source_path.empty() ? "lowering" : source.source_path);
  return r;
}

std::string format_graph_text(const Graph& g) {
  std::string out = fmt::format("graph '{}' ({} nodes, {} values)\n", g.name, g.nodes.size(), g.values.size());
  auto value_text = [&](ValueId id) {
    if (id == kNoValue) return std::string("-");
    const Value& v = g.value(id);
    std::string s = fmt::format("{}: {}{}", v.name, dtype_name(v.dtype), v.has_shape ? shape_str(v.shape) : "");
    if (v.quant) s += " " + quant_text(*v.quant);
    if (!v.provenance.rewrite.empty())
      s += fmt::format("  <- {} [{}]", v.provenance.source.empty() ? "(new)" : v.provenance.source, v.provenance.rewrite);
    return s;
  };
  for (ValueId in : g.inputs) out += "input  " + value_text(in) + "\n";
  for (const Node& n : g.nodes) {
    out += fmt::format("node {} ({}{}{})\n", n.name, n.domain, n.domain.empty() ? "" : ".", n.op_type);
    for (const auto& [k, v] : n.attrs) out += fmt::format("    @{} = {}\n", k, attr_text(v));
    for (ValueId in : n.inputs) {
      const bool init = in != kNoValue && g.value(in).initializer.has_value();
      out += fmt::format("    in  {}{}\n", value_text(in), init ? " (constant)" : "");
    }
    for (ValueId o : n.outputs) out += "    out " + value_text(o) + "\n";
  }
  for (ValueId o : g.outputs) out += "output " + value_text(o) + "\n";
  return out;
}

}  // namespace qdrift
