#include "diff/mapping_structure.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <string_view>

#include <fmt/format.h>

#include "core/qdq_params.h"
#include "diff/tensor_layouts.h"

namespace qdrift {

namespace {

bool is_one_of(std::string_view op, std::initializer_list<std::string_view> names) {
  return std::find(names.begin(), names.end(), op) != names.end();
}

// Ambiguous anchors keep at most this many candidates (the nearest in execution order).
constexpr size_t kMaxAnchorCandidates = 4;

struct Anchor {
  NodeId node = kNoNode;        // kNoNode: a graph input
  std::string family;
  Shape shape;                  // first output's, when known
  bool has_shape = false;
  std::vector<int64_t> kernel;  // spatial kernel size for convolutions and pools, when known
  std::vector<int> preds;       // anchors feeding this one (through transparent ops)
  std::vector<ValueId> tensors; // free produced values of this group
  double position = 0;          // relative position in execution order, [0, 1]
  std::string label;            // "Conv 'a'"
};

struct Groups {
  std::vector<Anchor> anchors;
  std::vector<int> group_of;    // per value: anchor index, -1 for constants
};

std::vector<int64_t> kernel_of(const Graph& g, const Node& n, const std::string& family) {
  std::vector<int64_t> k = n.attr_ints("kernel_shape");
  if (!k.empty() || family != "conv") return k;
  const ValueId w = n.input(n.op_type == "QLinearConv" ? 3 : 1);
  if (w == kNoValue) return k;
  const Value& wv = g.value(w);
  const Shape* s = wv.initializer ? &wv.initializer->shape : wv.has_shape ? &wv.shape : nullptr;
  if (const Tensor* c = constant_tensor(g, w)) s = &c->shape;
  if (s && s->size() >= 3 && shape_is_known(*s)) k.assign(s->begin() + 2, s->end());
  return k;
}

bool gates_itself(const std::vector<int>& input_groups) {
  return input_groups.size() >= 2 &&
         std::all_of(input_groups.begin(), input_groups.end(), [&](int x) { return x == input_groups[0]; });
}

Groups build_groups(const Graph& g, const std::vector<bool>& free) {
  Groups out;
  out.group_of.assign(g.values.size(), -1);
  for (ValueId in : g.inputs) {
    Anchor a;
    a.family = "input";
    a.shape = g.value(in).shape;
    a.has_shape = g.value(in).has_shape && shape_is_known(a.shape);
    a.label = fmt::format("input '{}'", g.value(in).name);
    out.group_of[static_cast<size_t>(in)] = static_cast<int>(out.anchors.size());
    out.anchors.push_back(std::move(a));
  }
  const double count = std::max<double>(1, static_cast<double>(g.nodes.size()) - 1);
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    std::vector<int> inputs;  // groups of the non-constant inputs, in input order
    for (ValueId v : n.inputs)
      if (v != kNoValue && out.group_of[static_cast<size_t>(v)] >= 0) inputs.push_back(out.group_of[static_cast<size_t>(v)]);
    const std::string family = op_family(n);
    int group = -1;
    if (inputs.empty() && n.kind != OpKind::Unknown && family != "input") {
      group = -1;  // folded constant (Constant, DequantizeLinear of weights, Shape, ...)
    } else if ((family.empty() || family == "act" || (family == "mul" && gates_itself(inputs))) && !inputs.empty()) {
      // x * f(x) (HardSwish as ONNX Runtime writes it: Mul(x, HardSigmoid(x))) is an activation.
      group = inputs[0];
    } else if (!inputs.empty() || n.kind == OpKind::Unknown) {
      Anchor a;
      a.node = static_cast<NodeId>(i);
      a.family = family;
      const ValueId y = n.outputs.empty() ? kNoValue : n.outputs[0];
      if (y != kNoValue) {
        a.shape = g.value(y).shape;
        a.has_shape = g.value(y).has_shape && shape_is_known(a.shape);
      }
      a.kernel = kernel_of(g, n, family);
      std::sort(inputs.begin(), inputs.end());
      inputs.erase(std::unique(inputs.begin(), inputs.end()), inputs.end());
      a.preds = inputs;
      a.position = static_cast<double>(i) / count;
      a.label = fmt::format("{} '{}'", n.op_type, n.name);
      group = static_cast<int>(out.anchors.size());
      out.anchors.push_back(std::move(a));
    }
    for (ValueId v : n.outputs) {
      if (v == kNoValue) continue;
      out.group_of[static_cast<size_t>(v)] = group;
      if (group >= 0 && free[static_cast<size_t>(v)]) out.anchors[static_cast<size_t>(group)].tensors.push_back(v);
    }
  }
  return out;
}

bool shapes_agree(const Shape& a, bool a_known, const Shape& b, bool b_known) {
  if (!a_known || !b_known) return true;  // unknown: the values decide
  return !layout_matches(a, b).empty();
}

bool families_agree(const std::string& a, const std::string& b) { return a == b; }

}  // namespace

std::string op_family(const Node& n) {
  const std::string_view op = n.op_type;
  if (is_one_of(op, {"QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear", "Quantize", "Dequantize",
                     "Requantize", "Transpose", "ReorderInput", "ReorderOutput", "Reshape", "Flatten", "Squeeze",
                     "Unsqueeze", "Identity", "Cast", "Pad"}))
    return "";
  if (is_one_of(op, {"Relu", "Clip", "LeakyRelu", "HardSwish", "HardSigmoid", "Sigmoid", "Tanh", "QLinearLeakyRelu",
                     "QLinearSigmoid", "BatchNormalization", "Gelu", "FastGelu", "QuickGelu", "Elu", "Selu"}))
    return "act";
  if (is_one_of(op, {"Conv", "QLinearConv", "ConvInteger", "FusedConv", "NhwcFusedConv", "QConv"})) return "conv";
  if (is_one_of(op, {"Gemm", "QGemm", "MatMul", "QLinearMatMul", "MatMulInteger", "FusedGemm", "FusedMatMul",
                     "MatMulIntegerToFloat", "DynamicQuantizeMatMul", "QMatMul"}))
    return "gemm";
  if (is_one_of(op, {"Add", "QLinearAdd", "QAdd", "Sum"})) return "add";
  if (is_one_of(op, {"Mul", "QLinearMul"})) return "mul";
  if (is_one_of(op, {"Concat", "QLinearConcat"})) return "concat";
  if (is_one_of(op, {"MaxPool", "NhwcMaxPool"})) return "maxpool";
  if (is_one_of(op, {"AveragePool", "QLinearAveragePool"})) return "avgpool";
  if (is_one_of(op, {"GlobalAveragePool", "QLinearGlobalAveragePool"})) return "gap";
  if (is_one_of(op, {"Softmax", "QLinearSoftmax"})) return "softmax";
  return std::string(op);
}

std::vector<StructureCandidate> structure_candidates(const Graph& ref, const Graph& other,
                                                     const std::vector<std::pair<ValueId, ValueId>>& known,
                                                     const std::vector<bool>& ref_free,
                                                     const std::vector<bool>& other_free,
                                                     std::vector<std::pair<NodeId, NodeId>>* anchor_pairs) {
  const Groups ga = build_groups(ref, ref_free);
  const Groups gb = build_groups(other, other_free);
  const size_t na = ga.anchors.size(), nb = gb.anchors.size();
  std::vector<std::vector<int>> cand(na);     // other anchors per ref anchor
  std::vector<double> quality(na, 0);         // how well the inputs agreed
  std::vector<int> claimed_by(nb, -1);        // ref anchor holding it alone
  std::vector<bool> shared(nb, false);        // held by an ambiguous ref anchor

  // Seeds: anchors whose tensors are already paired by name or rules.
  for (const auto& [r, o] : known) {
    const int a = ga.group_of[static_cast<size_t>(r)], b = gb.group_of[static_cast<size_t>(o)];
    if (a < 0 || b < 0) continue;
    if (std::find(cand[static_cast<size_t>(a)].begin(), cand[static_cast<size_t>(a)].end(), b) == cand[static_cast<size_t>(a)].end())
      cand[static_cast<size_t>(a)].push_back(b);
    quality[static_cast<size_t>(a)] = 1;
    claimed_by[static_cast<size_t>(b)] = a;
  }
  // Graph inputs pair in order when both graphs have as many, else by shape.
  const size_t inputs_a = ref.inputs.size(), inputs_b = other.inputs.size();
  for (size_t i = 0; i < inputs_a; ++i) {
    if (!cand[i].empty()) continue;
    for (size_t j = 0; j < inputs_b; ++j) {
      const Anchor &a = ga.anchors[i], &b = gb.anchors[j];
      if ((inputs_a == inputs_b && i == j) || (inputs_a != inputs_b && a.has_shape && b.has_shape && a.shape == b.shape)) {
        cand[i].push_back(static_cast<int>(j));
        quality[i] = 1;
        claimed_by[j] = static_cast<int>(i);
      }
    }
  }

  for (size_t a = inputs_a; a < na; ++a) {
    if (!cand[a].empty()) continue;
    const Anchor& x = ga.anchors[a];
    std::vector<std::pair<double, int>> scored;  // (agreement of inputs, other anchor)
    double best = 0;
    for (size_t b = inputs_b; b < nb; ++b) {
      if (claimed_by[b] >= 0 && !shared[b]) continue;
      const Anchor& y = gb.anchors[b];
      if (!families_agree(x.family, y.family) || !shapes_agree(x.shape, x.has_shape, y.shape, y.has_shape)) continue;
      if (!x.kernel.empty() && !y.kernel.empty() && x.kernel != y.kernel) continue;
      size_t agree = 0;
      for (int p : x.preds)
        for (int c : cand[static_cast<size_t>(p)])
          if (std::find(y.preds.begin(), y.preds.end(), c) != y.preds.end()) {
            ++agree;
            break;
          }
      const double s = static_cast<double>(agree) / static_cast<double>(std::max({x.preds.size(), y.preds.size(), size_t{1}}));
      if (s <= 0) continue;
      best = std::max(best, s);
      scored.emplace_back(s, static_cast<int>(b));
    }
    if (scored.empty()) continue;
    std::vector<int> picks;
    for (const auto& [s, b] : scored)
      if (s == best) picks.push_back(b);
    if (picks.size() > kMaxAnchorCandidates) {
      std::sort(picks.begin(), picks.end(), [&](int p, int q) {
        return std::fabs(gb.anchors[static_cast<size_t>(p)].position - x.position) <
               std::fabs(gb.anchors[static_cast<size_t>(q)].position - x.position);
      });
      picks.resize(kMaxAnchorCandidates);
    }
    for (int b : picks) {
      if (picks.size() > 1) shared[static_cast<size_t>(b)] = true;
      claimed_by[static_cast<size_t>(b)] = static_cast<int>(a);
    }
    cand[a] = std::move(picks);
    quality[a] = best;
  }

  std::vector<StructureCandidate> out;
  for (size_t a = 0; a < na; ++a) {
    const Anchor& x = ga.anchors[a];
    for (int b : cand[a]) {
      const Anchor& y = gb.anchors[static_cast<size_t>(b)];
      if (anchor_pairs && x.node != kNoNode && y.node != kNoNode) anchor_pairs->emplace_back(x.node, y.node);
      const double prior = quality[a] / static_cast<double>(cand[a].size());
      for (ValueId r : x.tensors)
        for (ValueId o : y.tensors) {
          const Value &rv = ref.value(r), &ov = other.value(o);
          if (!shapes_agree(rv.shape, rv.has_shape && shape_is_known(rv.shape), ov.shape,
                            ov.has_shape && shape_is_known(ov.shape)))
            continue;
          out.push_back({r, o, prior, fmt::format("{} ~ {}", x.label, y.label)});
        }
    }
  }
  return out;
}

}  // namespace qdrift
