#include "diff/mapping_value.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <unordered_map>
#include <unordered_set>

#include <fmt/format.h>

#include "diff/drift.h"
#include "diff/mapping_structure.h"
#include "diff/measure.h"

namespace qdrift {

namespace {

// Score terms (docs/mapping.md): a structural candidate and a matching kind (integer codes
// with codes, floats with floats) each weigh like a small gain in correlation; distance in
// execution order a little against.
constexpr double kStructureBonus = 0.05;
constexpr double kKindBonus = 0.03;   // frameworks often dump quantized tensors dequantized: a weak hint
constexpr double kGridBonus = 0.1;    // both on the reference's grid (quantized values), or both off it
constexpr double kShapeBonus = 0.02;  // the very same shape (a reshape of it holds the same values too)
constexpr double kOrderWeight = 0.1;
constexpr double kDistinctMargin = 0.05;  // a runner-up this far behind leaves no doubt

// Fixed sample positions in a tensor of n elements: all of them for small tensors, else one
// per stride at a pseudo-random offset (so channel periods do not alias).
std::vector<int64_t> sample_positions(int64_t n) {
  std::vector<int64_t> pos;
  if (n <= kSketchSize) {
    pos.resize(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) pos[static_cast<size_t>(i)] = i;
    return pos;
  }
  pos.resize(static_cast<size_t>(kSketchSize));
  uint64_t state = 0x9e3779b97f4a7c15ull;
  for (int64_t k = 0; k < kSketchSize; ++k) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    const int64_t lo = k * n / kSketchSize, hi = (k + 1) * n / kSketchSize;
    pos[static_cast<size_t>(k)] = lo + static_cast<int64_t>(state % static_cast<uint64_t>(std::max<int64_t>(1, hi - lo)));
  }
  return pos;
}

bool is_code(DType t) { return t == DType::u8 || t == DType::s8 || t == DType::s32; }

// Fraction of the values that lie on a per-tensor grid (within 1e-3 of a step): quantized
// values do, the float values a quantizer reads do not.
double on_grid(std::span<const float> values, const std::optional<QuantParams>& grid) {
  if (!grid || grid->scale.size() != 1 || values.empty()) return -1;
  const double scale = grid->scale[0];
  size_t on = 0;
  for (float v : values) {
    const double steps = static_cast<double>(v) / scale;
    on += std::isfinite(steps) && std::fabs(steps - std::nearbyint(steps)) < 1e-3;
  }
  return static_cast<double>(on) / static_cast<double>(values.size());
}

struct RefTensor {
  Shape shape;
  bool code = false;
  std::optional<QuantParams> grid;
  bool quantized_values = false;  // its values lie on its grid
  int shape_id = -1;          // index into the distinct shapes
  std::vector<float> sketch;
  bool seen = false;
};

struct OtherSketch {
  int shape_id;
  LayoutMatch layout;
  std::vector<float> sketch;
};

struct OtherTensor {
  Shape shape;
  bool code = false;
  std::vector<OtherSketch> sketches;
  bool seen = false;
};

struct Candidate {
  ValueId ref = kNoValue, other = kNoValue;
  bool structural = false;
  double prior = 0;
  std::string detail;
  double cosine = -2;         // best over layouts
  LayoutMatch layout;
  double score = 0;
  double evidence = 0;        // the score without the execution-order term (confidence uses it)
};

std::vector<int64_t> order_of(const Graph& g, const std::function<bool(ValueId)>& keep) {
  std::vector<int64_t> order(g.values.size(), -1);
  int64_t next = 0;
  for (const Node& n : g.nodes)
    for (ValueId v : n.outputs)
      if (v != kNoValue && keep(v)) order[static_cast<size_t>(v)] = next++;
  return order;
}

}  // namespace

double centred_cosine(std::span<const float> a, std::span<const float> b) {
  QD_ASSERT(a.size() == b.size());
  const size_t n = a.size();
  if (n == 0) return 0;
  double ma = 0, mb = 0;
  for (size_t i = 0; i < n; ++i) {
    ma += std::isfinite(a[i]) ? a[i] : 0.0;
    mb += std::isfinite(b[i]) ? b[i] : 0.0;
  }
  ma /= static_cast<double>(n);
  mb /= static_cast<double>(n);
  double ab = 0, aa = 0, bb = 0;
  for (size_t i = 0; i < n; ++i) {
    const double x = (std::isfinite(a[i]) ? a[i] : 0.0) - ma, y = (std::isfinite(b[i]) ? b[i] : 0.0) - mb;
    ab += x * y;
    aa += x * x;
    bb += y * y;
  }
  const double tiny = 1e-30;
  if (aa <= tiny && bb <= tiny) return std::fabs(ma - mb) <= 1e-6 * std::max({1.0, std::fabs(ma), std::fabs(mb)}) ? 1.0 : 0.0;
  if (aa <= tiny || bb <= tiny) return 0;
  return ab / std::sqrt(aa * bb);
}

Status map_by_structure_and_value(const Executor& ref, std::span<const Tensor> ref_inputs, const TensorSource& other,
                                  Mapping& m, const ValueMatchOptions& options) {
  const Graph& ga = ref.graph();
  const Graph& gb = other.graph();
  std::vector<bool> ref_free(ga.values.size(), false), other_free(gb.values.size(), false);
  for (const Node& n : ga.nodes)
    for (ValueId v : n.outputs)
      if (v != kNoValue) ref_free[static_cast<size_t>(v)] = true;
  for (const Node& n : gb.nodes)
    for (ValueId v : n.outputs)
      if (v != kNoValue && other.produces(v)) other_free[static_cast<size_t>(v)] = true;
  std::vector<std::pair<ValueId, ValueId>> known;
  for (const TensorPair& p : m.pairs) {
    ref_free[static_cast<size_t>(p.ref)] = false;
    other_free[static_cast<size_t>(p.other)] = false;
    known.emplace_back(p.ref, p.other);
  }
  const auto any = [](const std::vector<bool>& v) { return std::find(v.begin(), v.end(), true) != v.end(); };
  if (!any(ref_free) || !any(other_free)) return Status::ok();

  std::vector<Candidate> candidates;
  std::vector<std::vector<size_t>> structural_of_ref(ga.values.size());
  std::unordered_set<int64_t> structural_key;  // ref * values_b + other
  const auto key = [&](ValueId r, ValueId o) { return static_cast<int64_t>(r) * static_cast<int64_t>(gb.values.size()) + o; };
  if (options.use_structure) {
    for (StructureCandidate& s : structure_candidates(ga, gb, known, ref_free, other_free)) {
      structural_key.insert(key(s.ref, s.other));
      structural_of_ref[static_cast<size_t>(s.ref)].push_back(candidates.size());
      Candidate& c = candidates.emplace_back();
      c.ref = s.ref;
      c.other = s.other;
      c.structural = true;
      c.prior = s.prior;
      c.detail = std::move(s.detail);
    }
  }

  // 1. The reference: a sketch of every free tensor, on the distinct shapes seen.
  std::vector<std::optional<RefTensor>> refs(ga.values.size());
  std::vector<Shape> shapes;
  std::map<Shape, int> shape_ids;
  auto ref_run = ref.run(ref_inputs, [&](const Node& node, size_t index, const Value&, const Tensor& t) {
    const ValueId v = node.outputs[index];
    if (!ref_free[static_cast<size_t>(v)] || t.numel() == 0) return;
    const std::optional<QuantParams> grid = tensor_grid(ga, v, &t);
    const Tensor real = real_values(t, grid ? &*grid : nullptr);
    RefTensor r;
    r.shape = t.shape;
    r.code = is_code(t.dtype);
    r.grid = grid;
    auto [it, added] = shape_ids.emplace(t.shape, static_cast<int>(shapes.size()));
    if (added) shapes.push_back(t.shape);
    r.shape_id = it->second;
    const float* x = real.data<float>();
    for (int64_t i : sample_positions(t.numel())) r.sketch.push_back(x[i]);
    r.quantized_values = on_grid(r.sketch, grid) > 0.99;
    r.seen = true;
    refs[static_cast<size_t>(v)] = std::move(r);
  });
  if (!ref_run) return ref_run.status();
  std::vector<std::vector<int64_t>> positions(shapes.size());
  for (size_t s = 0; s < shapes.size(); ++s) positions[s] = sample_positions(shape_numel(shapes[s]));

  // 2. The other side: a sketch per reference shape and layout its shape allows.
  std::vector<std::optional<OtherTensor>> others(gb.values.size());
  QD_RETURN_IF_ERROR(other.run([&](const Node& node, size_t index, const Value&, const Tensor& t) {
    const ValueId v = node.outputs[index];
    if (v == kNoValue || !other_free[static_cast<size_t>(v)] || t.numel() == 0) return;
    const std::optional<QuantParams> grid = tensor_grid(gb, v, &t);
    const Tensor real = real_values(t, grid ? &*grid : nullptr);
    OtherTensor o;
    o.shape = t.shape;
    o.code = is_code(t.dtype);
    const float* x = real.data<float>();
    for (size_t s = 0; s < shapes.size(); ++s)
      for (const LayoutMatch& l : layout_matches(shapes[s], t.shape)) {
        const LayoutIndexer at(shapes[s], t.shape, l);
        OtherSketch k{static_cast<int>(s), l, {}};
        k.sketch.reserve(positions[s].size());
        for (int64_t i : positions[s]) k.sketch.push_back(x[at(i)]);
        o.sketches.push_back(std::move(k));
      }
    o.seen = true;
    others[static_cast<size_t>(v)] = std::move(o);
  }));

  // 3. Value candidates: every free pair whose shapes allow it, unless structure has one.
  const std::vector<int64_t> ref_order = order_of(ga, [&](ValueId v) { return refs[static_cast<size_t>(v)].has_value(); });
  const std::vector<int64_t> other_order = order_of(gb, [&](ValueId v) { return others[static_cast<size_t>(v)].has_value(); });
  const auto count_of = [](const std::vector<int64_t>& o) { return *std::max_element(o.begin(), o.end()) + 1; };
  const double ref_count = static_cast<double>(std::max<int64_t>(2, count_of(ref_order)) - 1);
  const double other_count = static_cast<double>(std::max<int64_t>(2, count_of(other_order)) - 1);
  for (size_t r = 0; r < refs.size(); ++r) {
    if (!refs[r]) continue;
    for (size_t o = 0; o < others.size(); ++o) {
      if (!others[o] || structural_key.count(key(static_cast<ValueId>(r), static_cast<ValueId>(o)))) continue;
      const bool fits = std::any_of(others[o]->sketches.begin(), others[o]->sketches.end(),
                                    [&](const OtherSketch& k) { return k.shape_id == refs[r]->shape_id; });
      if (!fits) continue;
      Candidate& c = candidates.emplace_back();
      c.ref = static_cast<ValueId>(r);
      c.other = static_cast<ValueId>(o);
    }
  }

  // 4. Score every candidate: the best correlation over the layouts its shapes allow.
  for (Candidate& c : candidates) {
    const std::optional<RefTensor>& r = refs[static_cast<size_t>(c.ref)];
    const std::optional<OtherTensor>& o = others[static_cast<size_t>(c.other)];
    if (!r || !o) continue;  // not produced in this run (a tensor the dump lacks)
    const OtherSketch* best = nullptr;
    for (const OtherSketch& k : o->sketches) {
      if (k.shape_id != r->shape_id) continue;
      const double cos = centred_cosine(r->sketch, k.sketch);
      if (cos > c.cosine) {
        c.cosine = cos;
        c.layout = k.layout;
        best = &k;
      }
    }
    if (!best) continue;
    // Integer codes are quantized values on their own grid (which may differ from the
    // reference's, e.g. requantized for a Concat); float values are checked on the reference's.
    const bool other_quantized = o->code || on_grid(best->sketch, r->grid) > 0.99;
    const bool grid_agrees = r->grid && r->grid->scale.size() == 1 && other_quantized == r->quantized_values;
    const double distance = std::fabs(static_cast<double>(ref_order[static_cast<size_t>(c.ref)]) / ref_count -
                                      static_cast<double>(other_order[static_cast<size_t>(c.other)]) / other_count);
    c.score = c.cosine + (c.structural ? kStructureBonus * (1 + c.prior) : 0) + (r->code == o->code ? kKindBonus : 0) +
              (grid_agrees ? kGridBonus : 0) + (r->shape == o->shape ? kShapeBonus : 0) - kOrderWeight * distance;
    c.evidence = c.score + kOrderWeight * distance;
  }
  const auto acceptable = [&](const Candidate& c) {
    return c.cosine >= (c.structural ? options.min_structure_cosine : options.min_value_cosine);
  };

  // 5. Greedy, best score first; then the confidence from the runner-up.
  std::vector<size_t> by_score;
  for (size_t i = 0; i < candidates.size(); ++i)
    if (acceptable(candidates[i])) by_score.push_back(i);
  std::stable_sort(by_score.begin(), by_score.end(), [&](size_t a, size_t b) { return candidates[a].score > candidates[b].score; });
  std::vector<double> runner_up_ref(ga.values.size(), -1e9), runner_up_other(gb.values.size(), -1e9);
  std::vector<int64_t> chosen_of_ref(ga.values.size(), -1), chosen_of_other(gb.values.size(), -1);
  std::vector<size_t> chosen;
  for (size_t i : by_score) {
    const Candidate& c = candidates[i];
    int64_t& cr = chosen_of_ref[static_cast<size_t>(c.ref)];
    int64_t& co = chosen_of_other[static_cast<size_t>(c.other)];
    if (cr < 0 && co < 0) {
      cr = co = static_cast<int64_t>(i);
      chosen.push_back(i);
    }
  }
  // The best alternative each chosen pair beat, on the evidence of values and structure:
  // where only the execution order decided, the confidence stays low.
  for (size_t i : by_score) {
    const Candidate& c = candidates[i];
    if (chosen_of_ref[static_cast<size_t>(c.ref)] != static_cast<int64_t>(i))
      runner_up_ref[static_cast<size_t>(c.ref)] = std::max(runner_up_ref[static_cast<size_t>(c.ref)], c.evidence);
    if (chosen_of_other[static_cast<size_t>(c.other)] != static_cast<int64_t>(i))
      runner_up_other[static_cast<size_t>(c.other)] = std::max(runner_up_other[static_cast<size_t>(c.other)], c.evidence);
  }

  std::unordered_set<std::string> paired_ref_names, paired_other_names;
  for (size_t i : chosen) {
    const Candidate& c = candidates[i];
    const double runner_up = std::max(runner_up_ref[static_cast<size_t>(c.ref)], runner_up_other[static_cast<size_t>(c.other)]);
    const double distinct = std::clamp((c.evidence - runner_up) / kDistinctMargin, 0.0, 1.0);
    const double agreement = std::clamp((c.cosine - 0.5) / 0.5, 0.0, 1.0);
    double confidence = agreement * (0.2 + 0.8 * distinct) * (c.structural ? 0.6 + 0.4 * c.prior : 0.8);
    confidence = std::round(confidence * 1000) / 1000;
    TensorPair p;
    p.ref = c.ref;
    p.other = c.other;
    p.method = c.structural ? MatchMethod::structure : MatchMethod::value;
    p.detail = c.structural ? fmt::format("{}; correlation {:.4f}", c.detail, c.cosine)
                            : fmt::format("correlation {:.4f}", c.cosine);
    if (!layout_name(c.layout).empty()) p.detail += ", other in " + layout_name(c.layout);
    p.confidence = confidence;
    p.layout = c.layout;
    m.pairs.push_back(std::move(p));
    paired_ref_names.insert(ga.value(c.ref).name);
    paired_other_names.insert(gb.value(c.other).name);
  }

  // Structural partners the values contradict: say so instead of the generic reason.
  std::unordered_map<std::string, std::string> reasons;
  for (size_t r = 0; r < structural_of_ref.size(); ++r) {
    if (structural_of_ref[r].empty() || chosen_of_ref[r] >= 0) continue;
    const Candidate* best = nullptr;
    for (size_t i : structural_of_ref[r])
      if (candidates[i].cosine > -2 && (!best || candidates[i].cosine > best->cosine)) best = &candidates[i];
    if (!best) continue;
    reasons[ga.value(static_cast<ValueId>(r)).name] =
        best->cosine < options.min_structure_cosine
            ? fmt::format("structure pairs it with '{}' ({}), but the values contradict it: correlation {:.3f}",
                          gb.value(best->other).name, best->detail, best->cosine)
            : fmt::format("its structural partner '{}' pairs better with another tensor", gb.value(best->other).name);
  }
  std::vector<UnmatchedRecord> kept;
  for (UnmatchedRecord& u : m.unmatched) {
    if (u.side == "ref" ? paired_ref_names.count(u.tensor) : paired_other_names.count(u.tensor)) continue;
    if (u.side == "ref")
      if (auto it = reasons.find(u.tensor); it != reasons.end()) u.reason = it->second;
    kept.push_back(std::move(u));
  }
  m.unmatched = std::move(kept);

  // Keep the documented order: reference production order, then the other's.
  const std::vector<int64_t> ra = order_of(ga, [](ValueId) { return true; });
  const std::vector<int64_t> ob = order_of(gb, [](ValueId) { return true; });
  std::stable_sort(m.pairs.begin(), m.pairs.end(), [&](const TensorPair& a, const TensorPair& b) {
    const int64_t x = ra[static_cast<size_t>(a.ref)], y = ra[static_cast<size_t>(b.ref)];
    if (x != y) return x < y;
    return ob[static_cast<size_t>(a.other)] < ob[static_cast<size_t>(b.other)];
  });
  return Status::ok();
}

}  // namespace qdrift
