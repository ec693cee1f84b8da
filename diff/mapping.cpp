#include "diff/mapping.h"

#include <algorithm>
#include <string_view>
#include <unordered_map>

#include <fmt/format.h>

#include "core/qdq_params.h"

namespace qdrift {

namespace {

// Position of every produced value (node output) in execution order; -1 for the rest.
std::vector<int64_t> production_order(const Graph& g) {
  std::vector<int64_t> order(g.values.size(), -1);
  int64_t next = 0;
  for (const Node& n : g.nodes)
    for (ValueId v : n.outputs)
      if (v != kNoValue) order[static_cast<size_t>(v)] = next++;
  return order;
}

// Element counts differ only when both shapes are fully known (lowered values may not be).
bool counts_conflict(const Value& a, const Value& b) {
  if (!a.has_shape || !b.has_shape || !shape_is_known(a.shape) || !shape_is_known(b.shape)) return false;
  return shape_numel(a.shape) != shape_numel(b.shape);
}

UnmatchedRecord unmatched(const Graph& g, ValueId v, std::string side, std::string reason) {
  const Value& value = g.value(v);
  const Node& n = g.nodes[static_cast<size_t>(value.producer)];
  return {std::move(side), value.name, n.name, n.op_type, std::move(reason)};
}

// Lowering rewrites whose tensors stand for a reference tensor on another grid by design.
bool regrids(const std::string& rewrite) { return rewrite == "requantize_concat_input"; }

}  // namespace

Mapping map_tensors(const Graph& ref, const Graph& other, const MappingRules* rules, bool other_derives_from_ref,
                    const std::vector<bool>* other_produced) {
  const std::vector<int64_t> ref_order = production_order(ref);
  std::vector<int64_t> other_order = production_order(other);
  if (other_produced)
    for (size_t v = 0; v < other_order.size(); ++v)
      if (!(*other_produced)[v]) other_order[v] = -1;
  const auto produced_in = [](const std::vector<int64_t>& order, ValueId v) {
    return v != kNoValue && order[static_cast<size_t>(v)] >= 0;
  };
  std::vector<bool> ref_done(ref.values.size(), false);
  std::vector<bool> other_done(other.values.size(), false);
  std::vector<std::string> ref_reason(ref.values.size());  // why a rule's pair was not made
  Mapping m;

  const auto try_pair = [&](ValueId r, ValueId o, MatchMethod method, std::string detail) {
    if (counts_conflict(ref.value(r), other.value(o))) {
      ref_reason[static_cast<size_t>(r)] =
          fmt::format("'{}' {} has another element count than {}", other.value(o).name,
                      shape_str(other.value(o).shape), shape_str(ref.value(r).shape));
      return;
    }
    TensorPair& p = m.pairs.emplace_back();
    p.ref = r;
    p.other = o;
    p.method = method;
    p.detail = std::move(detail);
    ref_done[static_cast<size_t>(r)] = true;
    other_done[static_cast<size_t>(o)] = true;
  };

  // The other graph's produced values by name, and, for a lowering, by the source tensor
  // they stand for (so names written against the unlowered model still find them).
  std::unordered_map<std::string_view, ValueId> stands_for;
  for (const Node& n : other.nodes)
    for (ValueId o : n.outputs)
      if (o != kNoValue && !other.value(o).provenance.source.empty())
        stands_for.emplace(other.value(o).provenance.source, o);  // first producer wins
  const auto other_named = [&](std::string_view name) {
    const ValueId o = other.find_value(name);
    if (produced_in(other_order, o) || other_derives_from_ref) return produced_in(other_order, o) ? o : kNoValue;
    auto it = stands_for.find(name);
    return it == stands_for.end() ? kNoValue : it->second;
  };

  // 1. provenance: the other graph is our lowering of ref; each value names its source tensor.
  if (other_derives_from_ref) {
    for (const Node& n : other.nodes)
      for (ValueId o : n.outputs) {
        if (o == kNoValue) continue;
        const Provenance& p = other.value(o).provenance;
        if (p.source.empty()) continue;
        const ValueId r = ref.find_value(p.source);
        if (!produced_in(ref_order, r)) continue;
        try_pair(r, o, MatchMethod::provenance, p.rewrite);
        if (!m.pairs.empty() && m.pairs.back().other == o) m.pairs.back().steps_in_other_grid = regrids(p.rewrite);
      }
  }

  // 2. identical names (for a lowered second model: the name of the tensor a value stands for).
  for (const Node& n : ref.nodes)
    for (ValueId r : n.outputs) {
      if (r == kNoValue || ref_done[static_cast<size_t>(r)]) continue;
      const ValueId o = other_named(ref.value(r).name);
      if (o == kNoValue || other_done[static_cast<size_t>(o)]) continue;
      // A value standing for another source tensor keeps that pairing.
      const std::string& source = other.value(o).provenance.source;
      if (other_derives_from_ref && !source.empty() && source != ref.value(r).name) continue;
      try_pair(r, o, MatchMethod::name, other.value(o).name == ref.value(r).name ? "" : "stands for '" + source + "'");
    }

  // 3. the user's rules, for what is still unpaired on the reference side.
  if (rules) {
    for (const Node& n : ref.nodes)
      for (ValueId r : n.outputs) {
        if (r == kNoValue || ref_done[static_cast<size_t>(r)]) continue;
        std::string rule;
        for (const std::string& name : rules->other_names_for(ref.value(r).name, &rule)) {
          const ValueId o = other_named(name);
          if (o == kNoValue) {
            ref_reason[static_cast<size_t>(r)] = fmt::format("{} names '{}', not a tensor the other graph produces", rule, name);
            continue;
          }
          try_pair(r, o, MatchMethod::rule, rule);
        }
      }
  }

  std::stable_sort(m.pairs.begin(), m.pairs.end(), [&](const TensorPair& a, const TensorPair& b) {
    const int64_t ra = ref_order[static_cast<size_t>(a.ref)], rb = ref_order[static_cast<size_t>(b.ref)];
    if (ra != rb) return ra < rb;
    return other_order[static_cast<size_t>(a.other)] < other_order[static_cast<size_t>(b.other)];
  });

  for (const Node& n : ref.nodes)
    for (ValueId r : n.outputs) {
      if (r == kNoValue || ref_done[static_cast<size_t>(r)]) continue;
      std::string reason = ref_reason[static_cast<size_t>(r)];
      const Node* p = ref.producer(r);
      if (reason.empty() && p->kind == OpKind::DequantizeLinear && constant_tensor(ref, p->input(0)))
        reason = "a dequantized constant (weights or bias): the other graph folds it into the op that reads it";
      if (reason.empty())
        reason = other_derives_from_ref ? "no tensor of the other graph stands for it (fused, folded or removed by the rewrite)"
                                        : "no tensor of that name in the other graph";
      m.unmatched.push_back(unmatched(ref, r, "ref", std::move(reason)));
    }
  for (const Node& n : other.nodes)
    for (ValueId o : n.outputs) {
      if (o == kNoValue || other_done[static_cast<size_t>(o)] || !produced_in(other_order, o)) continue;
      const Provenance& p = other.value(o).provenance;
      std::string reason = !p.rewrite.empty() && p.source.empty()
                               ? fmt::format("made by the lowering ({}), no source tensor", p.rewrite)
                           : !p.source.empty() ? fmt::format("stands for '{}', which the reference does not produce", p.source)
                                               : "no tensor of that name in the reference";
      m.unmatched.push_back(unmatched(other, o, "other", std::move(reason)));
    }
  return m;
}

}  // namespace qdrift
