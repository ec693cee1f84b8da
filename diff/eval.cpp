#include "diff/eval.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <numeric>

#include <fmt/format.h>

#include "diff/drift.h"
#include "diff/json_util.h"

namespace qdrift {

namespace {

constexpr double kFixedOne = 1048576.0;  // 2^20: per-input values are summed in these units
constexpr int kBinsPerOctave = 8;
constexpr int kMinExponent = -30;
constexpr int kMaxExponent = 30;
constexpr int kLastBin = (kMaxExponent - kMinExponent) * kBinsPerOctave + 1;
// Per-input values are clamped here so a sum over 2^31 inputs still fits in an int64.
constexpr double kMaxValue = 1e6;

constexpr std::array<const char*, 3> kSideNames = {"fp32", "fake_quant", "int8"};
constexpr std::array<const char*, 3> kAgreementNames = {"fp32_vs_fake_quant", "fake_quant_vs_int8", "fp32_vs_int8"};

// Classes of one output row, ordered by value, largest first (lowest index on ties).
std::vector<int64_t> ranked_classes(const Tensor& t) {
  const int64_t n = t.numel();
  const float* p = t.data<float>();
  std::vector<int64_t> idx(static_cast<size_t>(n));
  std::iota(idx.begin(), idx.end(), 0);
  const size_t k = std::min<size_t>(5, idx.size());
  std::partial_sort(idx.begin(), idx.begin() + static_cast<std::ptrdiff_t>(k), idx.end(), [p](int64_t a, int64_t b) {
    // NaN ranks last, so a NaN output is never "the top class".
    const bool na = std::isnan(p[a]), nb = std::isnan(p[b]);
    if (na != nb) return nb;
    return p[a] > p[b] || (p[a] == p[b] && a < b);
  });
  idx.resize(k);
  return idx;
}

// The value a pair contributes: its largest error in steps of the reference's scale, else in
// real units; a non-finite mismatch counts as the largest value.
double pair_value(const PairRecord& p, std::string* unit) {
  *unit = p.drift.has_steps ? "steps" : "abs";
  if (p.drift.nonfinite_mismatch > 0) return kMaxValue;
  const double v = p.drift.has_steps ? p.drift.max_abs_steps : p.drift.max_abs;
  return std::isfinite(v) ? std::clamp(v, 0.0, kMaxValue) : kMaxValue;
}

void add_value(EvalLayer& l, int64_t input, double v, bool divergent) {
  ++l.inputs;
  l.sum_fixed += static_cast<int64_t>(std::llround(v * kFixedOne));
  if (l.worst_input < 0 || v > l.worst || (v == l.worst && input < l.worst_input)) {
    l.worst = v;
    l.worst_input = input;
  }
  l.divergent_inputs += divergent;
  EvalBin& b = l.histogram[eval_bin_of(v)];
  ++b.count;
  b.max = std::max(b.max, v);
}

void merge_layer(EvalLayer& into, const EvalLayer& l) {
  into.inputs += l.inputs;
  into.sum_fixed += l.sum_fixed;
  if (l.worst_input >= 0 && (into.worst_input < 0 || l.worst > into.worst ||
                             (l.worst == into.worst && l.worst_input < into.worst_input))) {
    into.worst = l.worst;
    into.worst_input = l.worst_input;
  }
  into.divergent_inputs += l.divergent_inputs;
  for (const auto& [bin, b] : l.histogram) {
    EvalBin& d = into.histogram[bin];
    d.count += b.count;
    d.max = std::max(d.max, b.max);
  }
}

void normalise_ranges(std::vector<std::pair<int64_t, int64_t>>& r) {
  std::sort(r.begin(), r.end());
  std::vector<std::pair<int64_t, int64_t>> out;
  for (const auto& x : r) {
    if (x.first == x.second) continue;
    if (!out.empty() && out.back().second == x.first)
      out.back().second = x.second;
    else
      out.push_back(x);
  }
  r = std::move(out);
}

ordered_json fractions(const std::array<int64_t, 3>& counts, int64_t over, const std::array<const char*, 3>& names) {
  ordered_json j;
  for (size_t i = 0; i < 3; ++i)
    j[names[i]] = over > 0 ? ordered_json(static_cast<double>(counts[i]) / static_cast<double>(over)) : ordered_json();
  return j;
}

ordered_json counts_json(const std::array<int64_t, 3>& c, const std::array<const char*, 3>& names) {
  ordered_json j;
  for (size_t i = 0; i < 3; ++i) j[names[i]] = c[i];
  return j;
}

Result<int64_t> read_count(const JsonField& f) {
  QD_ASSIGN_OR_RETURN(int64_t v, f.integer());
  if (v < 0) return f.error(fmt::format("expected a count >= 0, got {}", v));
  return v;
}

Status read_counts3(const JsonField& f, const std::array<const char*, 3>& names, std::array<int64_t, 3>* out) {
  QD_RETURN_IF_ERROR(f.expect_object());
  for (size_t i = 0; i < 3; ++i) {
    QD_ASSIGN_OR_RETURN((*out)[i], read_count(f[names[i]]));
  }
  return Status::ok();
}

template <typename Fn>
Status for_each(const JsonField& array, Fn&& fn) {
  QD_ASSIGN_OR_RETURN(size_t n, array.array_size());
  for (size_t i = 0; i < n; ++i) QD_RETURN_IF_ERROR(fn(array.at(i)));
  return Status::ok();
}

}  // namespace

double EvalLayer::mean() const { return inputs > 0 ? static_cast<double>(sum_fixed) / kFixedOne / static_cast<double>(inputs) : 0.0; }

double EvalLayer::p95() const {
  if (inputs == 0) return 0.0;
  // The smallest value v with at least 95% of the inputs <= v (nearest-rank), rounded up to its bin's maximum.
  const int64_t rank = (inputs * 95 + 99) / 100;
  int64_t seen = 0;
  for (const auto& [bin, b] : histogram) {
    seen += b.count;
    if (seen >= rank) return b.max;
  }
  return worst;
}

int eval_bin_of(double v) {
  if (!(v > 0)) return 0;
  const double e = std::floor(std::log2(v) * kBinsPerOctave);
  const double lo = kMinExponent * kBinsPerOctave;
  return 1 + static_cast<int>(std::clamp(e - lo, 0.0, static_cast<double>(kLastBin - 1)));
}

std::pair<int64_t, int64_t> eval_shard_range(int64_t total, int64_t k, int64_t n) {
  return {total * k / n, total * (k + 1) / n};
}

Result<std::pair<int64_t, int64_t>> parse_shard_spec(std::string_view spec) {
  const size_t slash = spec.find('/');
  int64_t k = -1, n = -1;
  auto number = [](std::string_view s, int64_t* out) {
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
    return !s.empty() && ec == std::errc() && end == s.data() + s.size();
  };
  if (slash == std::string_view::npos || !number(spec.substr(0, slash), &k) || !number(spec.substr(slash + 1), &n))
    return invalid_input("--shard '{}': expected K/N with 0 <= K < N (e.g. 0/4)", spec);
  if (n < 1 || k < 0 || k >= n)
    return invalid_input("--shard '{}': shard index {} is outside 0..{} (K/N counts shards from 0)", spec, k,
                         n < 1 ? 0 : n - 1);
  return std::pair{k, n};
}

Status eval_add_input(EvalReport& e, int64_t index, const Report& drift, const std::array<const Tensor*, 3>& outputs,
                      int64_t label) {
  std::array<std::vector<int64_t>, 3> ranked;
  for (size_t s = 0; s < 3; ++s) {
    const Tensor* t = outputs[s];
    QD_ASSERT(t != nullptr);
    if (t->dtype != DType::f32 || t->numel() == 0)
      return invalid_input("the first graph output of the {} run is {} {}: eval needs f32 scores of one input",
                           kSideNames[s], dtype_name(t->dtype), shape_str(t->shape));
    ranked[s] = ranked_classes(*t);
  }
  if (outputs[0]->numel() != outputs[1]->numel() || outputs[1]->numel() != outputs[2]->numel())
    return invalid_input("the outputs of the fp32, fake-quant and int8 runs differ in size");
  if (label >= outputs[0]->numel())
    return invalid_input("input {}: label {} is not a class of the model's output {} (classes 0..{})", index, label,
                         shape_str(outputs[0]->shape), outputs[0]->numel() - 1);
  EvalCounts& c = e.counts;
  ++c.inputs;
  if (label >= 0) {
    ++c.labelled;
    for (size_t s = 0; s < 3; ++s) {
      c.top1[s] += ranked[s][0] == label;
      c.top5[s] += std::find(ranked[s].begin(), ranked[s].end(), label) != ranked[s].end();
    }
  }
  c.agree_top1[kFp32VsFakeQuant] += ranked[kFp32][0] == ranked[kFakeQuant][0];
  c.agree_top1[kFakeQuantVsInt8] += ranked[kFakeQuant][0] == ranked[kInt8][0];
  c.agree_top1[kFp32VsInt8] += ranked[kFp32][0] == ranked[kInt8][0];
  if (ranked[kFakeQuant][0] != ranked[kInt8][0])
    e.disagreements.push_back({index, ranked[kFakeQuant][0], ranked[kInt8][0], label});

  // Layers in the drift report's (reference) order; the same order for every input.
  for (size_t i = 0; i < drift.pairs.size(); ++i) {
    const PairRecord& p = drift.pairs[i];
    EvalLayer* layer = i < e.layers.size() && e.layers[i].tensor == p.ref.tensor ? &e.layers[i] : nullptr;
    if (!layer) {
      auto it = std::find_if(e.layers.begin(), e.layers.end(), [&](const EvalLayer& l) { return l.tensor == p.ref.tensor; });
      if (it == e.layers.end()) {
        EvalLayer l;
        l.tensor = p.ref.tensor;
        l.node = p.ref.node;
        l.op = p.ref.op;
        e.layers.push_back(std::move(l));
        it = e.layers.end() - 1;
      }
      layer = &*it;
    }
    std::string unit;
    const double v = pair_value(p, &unit);
    if (layer->unit.empty()) layer->unit = unit;
    add_value(*layer, index, v, p.divergent);
  }
  return Status::ok();
}

Status eval_run(EvalReport& e, const EvalExecutors& ex, const EvalFeeds& feeds, int64_t begin, int64_t end,
                std::span<const int64_t> labels, const std::function<void()>& on_input) {
  QD_ASSERT(ex.fp32 && ex.fake_quant && ex.int8);
  DriftOptions options;
  options.thresholds = e.thresholds;
  std::vector<Tensor> fake_quant_out, int8_out;
  options.ref_outputs = &fake_quant_out;
  options.other_outputs = &int8_out;
  std::optional<Mapping> mapping;  // the same two graphs for every input: map them once
  options.mapping_cache = &mapping;
  options.describe_sides = false;
  for (int64_t i = begin; i < end; ++i) {
    const auto at = [i](const Status& s) { return s.with_context(fmt::format("input {}", i)); };
    auto in = feeds(i);
    if (!in) return in.status();
    Report drift;
    if (Status s = run_drift(*ex.fake_quant, *in, *ex.int8, *in, options, drift); !s) return at(s);
    auto fp32_out = ex.fp32->run(*in);
    if (!fp32_out) return at(fp32_out.status());
    if (fp32_out->empty() || fake_quant_out.empty() || int8_out.empty())
      return invalid_input("the model has no graph output to rank");
    const int64_t label = labels.empty() ? -1 : labels[static_cast<size_t>(i)];
    if (Status s = eval_add_input(e, i, drift, {&(*fp32_out)[0], &fake_quant_out[0], &int8_out[0]}, label); !s)
      return at(s);
    if (on_input) on_input();
  }
  return Status::ok();
}

Status eval_merge(EvalReport& into, const EvalReport& s, std::string_view label) {
  auto differs = [&](std::string_view what, const std::string& a, const std::string& b) {
    return invalid_input("{}: {} differs from the first shard's ({} vs {}): not shards of one evaluation", label, what,
                         b, a);
  };
  if (s.model.xxh64 != into.model.xxh64) return differs("the model", into.model.xxh64, s.model.xxh64);
  if (s.policy != into.policy) return differs("the policy", into.policy, s.policy);
  if (s.inputs_source != into.inputs_source) return differs("--inputs", into.inputs_source, s.inputs_source);
  if (s.labels_source != into.labels_source) return differs("--labels", into.labels_source, s.labels_source);
  if (s.inputs_total != into.inputs_total)
    return differs("the input count", std::to_string(into.inputs_total), std::to_string(s.inputs_total));
  if (s.thresholds.max_steps != into.thresholds.max_steps || s.thresholds.min_sqnr_db != into.thresholds.min_sqnr_db)
    return invalid_input("{}: the divergence thresholds differ from the first shard's", label);
  for (const auto& a : into.ranges)
    for (const auto& b : s.ranges)
      if (a.first < b.second && b.first < a.second)
        return invalid_input("{}: inputs {}..{} were evaluated by another shard already", label,
                             std::max(a.first, b.first), std::min(a.second, b.second) - 1);
  into.ranges.insert(into.ranges.end(), s.ranges.begin(), s.ranges.end());
  normalise_ranges(into.ranges);
  EvalCounts& c = into.counts;
  c.inputs += s.counts.inputs;
  c.labelled += s.counts.labelled;
  for (size_t i = 0; i < 3; ++i) {
    c.top1[i] += s.counts.top1[i];
    c.top5[i] += s.counts.top5[i];
    c.agree_top1[i] += s.counts.agree_top1[i];
  }
  for (const EvalLayer& l : s.layers) {
    auto it = std::find_if(into.layers.begin(), into.layers.end(), [&](const EvalLayer& x) { return x.tensor == l.tensor; });
    if (it == into.layers.end())
      into.layers.push_back(l);
    else
      merge_layer(*it, l);
  }
  into.disagreements.insert(into.disagreements.end(), s.disagreements.begin(), s.disagreements.end());
  std::sort(into.disagreements.begin(), into.disagreements.end(),
            [](const EvalDisagreement& a, const EvalDisagreement& b) { return a.input < b.input; });
  into.elapsed_ms += s.elapsed_ms;
  return Status::ok();
}

std::string eval_to_json(const EvalReport& e) {
  ordered_json j;
  j["schema"] = e.schema;
  j["tool_version"] = e.tool_version;
  j["model"] = {{"path", e.model.path}, {"xxh64", e.model.xxh64}, {"opset", e.model.opset}, {"nodes", e.model.nodes}};
  j["policy"] = e.policy;
  j["inputs_source"] = e.inputs_source;
  j["labels_source"] = e.labels_source;
  j["inputs_total"] = e.inputs_total;
  ordered_json ranges = ordered_json::array();
  for (const auto& [b, en] : e.ranges) ranges.push_back({b, en});
  j["ranges"] = ranges;
  j["inputs"] = e.counts.inputs;
  const bool labelled = e.counts.labelled > 0;
  j["top1"] = labelled ? fractions(e.counts.top1, e.counts.labelled, kSideNames) : ordered_json();
  j["top5"] = labelled ? fractions(e.counts.top5, e.counts.labelled, kSideNames) : ordered_json();
  j["agreement_top1"] = fractions(e.counts.agree_top1, e.counts.inputs, kAgreementNames);
  j["counts"] = {{"inputs", e.counts.inputs},
                 {"labelled", e.counts.labelled},
                 {"top1", counts_json(e.counts.top1, kSideNames)},
                 {"top5", counts_json(e.counts.top5, kSideNames)},
                 {"agreement_top1", counts_json(e.counts.agree_top1, kAgreementNames)}};
  j["thresholds"] = {{"max_steps", json_number(e.thresholds.max_steps)},
                     {"min_sqnr_db", json_number(e.thresholds.min_sqnr_db)}};
  ordered_json layers = ordered_json::array();
  for (const EvalLayer& l : e.layers) {
    ordered_json h = ordered_json::array();
    for (const auto& [bin, b] : l.histogram) h.push_back({bin, b.count, b.max});
    layers.push_back({{"tensor", l.tensor},
                      {"node", l.node},
                      {"op", l.op},
                      {"unit", l.unit},
                      {"inputs", l.inputs},
                      {"mean", l.mean()},
                      {"p95", l.p95()},
                      {"worst", l.worst},
                      {"worst_input", l.worst_input},
                      {"divergent_inputs", l.divergent_inputs},
                      {"sum_fixed", l.sum_fixed},
                      {"histogram", h}});
  }
  j["layers"] = layers;
  ordered_json dis = ordered_json::array();
  for (const EvalDisagreement& d : e.disagreements)
    dis.push_back({{"input", d.input}, {"fake_quant", d.fake_quant}, {"int8", d.int8}, {"label", d.label}});
  j["disagreements"] = dis;
  j["notes"] = e.notes;
  j["timings"] = {{"elapsed_ms", e.elapsed_ms},
                  {"inputs_per_s", e.elapsed_ms > 0 ? static_cast<double>(e.counts.inputs) * 1000.0 / e.elapsed_ms : 0.0}};
  return json_entry_per_line(j);
}

Result<EvalReport> eval_from_json(std::string_view text, std::string_view label) {
  QD_ASSIGN_OR_RETURN(ordered_json doc, parse_json_document(text, label));
  const JsonField root{doc, std::string(label)};
  QD_RETURN_IF_ERROR(root.expect_object());
  EvalReport e;
  QD_ASSIGN_OR_RETURN(e.schema, root["schema"].string());
  if (e.schema != kEvalSchema)
    return root["schema"].error(fmt::format("expected \"{}\" (an eval result), found another schema", kEvalSchema));
  QD_ASSIGN_OR_RETURN(e.tool_version, root["tool_version"].string());
  const JsonField model = root["model"];
  QD_RETURN_IF_ERROR(model.expect_object());
  QD_ASSIGN_OR_RETURN(e.model.path, model["path"].string());
  QD_ASSIGN_OR_RETURN(e.model.xxh64, model["xxh64"].string());
  QD_ASSIGN_OR_RETURN(e.model.opset, model["opset"].integer());
  QD_ASSIGN_OR_RETURN(e.model.nodes, read_count(model["nodes"]));
  QD_ASSIGN_OR_RETURN(e.policy, root["policy"].string());
  QD_ASSIGN_OR_RETURN(e.inputs_source, root["inputs_source"].string());
  QD_ASSIGN_OR_RETURN(e.labels_source, root["labels_source"].string());
  QD_ASSIGN_OR_RETURN(e.inputs_total, read_count(root["inputs_total"]));
  int64_t covered = 0;
  QD_RETURN_IF_ERROR(for_each(root["ranges"], [&](const JsonField& r) -> Status {
    QD_ASSIGN_OR_RETURN(size_t n, r.array_size());
    if (n != 2) return r.error("expected [begin, end]");
    QD_ASSIGN_OR_RETURN(int64_t b, read_count(r.at(0)));
    QD_ASSIGN_OR_RETURN(int64_t en, read_count(r.at(1)));
    if (b > en || en > e.inputs_total) return r.error(fmt::format("[{}, {}] is not a range of 0..{}", b, en, e.inputs_total));
    e.ranges.emplace_back(b, en);
    covered += en - b;
    return Status::ok();
  }));
  const JsonField counts = root["counts"];
  QD_RETURN_IF_ERROR(counts.expect_object());
  QD_ASSIGN_OR_RETURN(e.counts.inputs, read_count(counts["inputs"]));
  QD_ASSIGN_OR_RETURN(e.counts.labelled, read_count(counts["labelled"]));
  QD_RETURN_IF_ERROR(read_counts3(counts["top1"], kSideNames, &e.counts.top1));
  QD_RETURN_IF_ERROR(read_counts3(counts["top5"], kSideNames, &e.counts.top5));
  QD_RETURN_IF_ERROR(read_counts3(counts["agreement_top1"], kAgreementNames, &e.counts.agree_top1));
  if (e.counts.inputs != covered)
    return counts["inputs"].error(fmt::format("{} inputs, but the ranges cover {}", e.counts.inputs, covered));
  const JsonField thresholds = root["thresholds"];
  QD_RETURN_IF_ERROR(thresholds.expect_object());
  QD_ASSIGN_OR_RETURN(e.thresholds.max_steps, thresholds["max_steps"].number());
  QD_ASSIGN_OR_RETURN(e.thresholds.min_sqnr_db, thresholds["min_sqnr_db"].number());
  QD_RETURN_IF_ERROR(for_each(root["layers"], [&](const JsonField& f) -> Status {
    EvalLayer& l = e.layers.emplace_back();
    QD_ASSIGN_OR_RETURN(l.tensor, f["tensor"].string());
    QD_ASSIGN_OR_RETURN(l.node, f["node"].string());
    QD_ASSIGN_OR_RETURN(l.op, f["op"].string());
    QD_ASSIGN_OR_RETURN(l.unit, f["unit"].string());
    QD_ASSIGN_OR_RETURN(l.inputs, read_count(f["inputs"]));
    QD_ASSIGN_OR_RETURN(l.sum_fixed, read_count(f["sum_fixed"]));
    QD_ASSIGN_OR_RETURN(l.worst, f["worst"].number());
    QD_ASSIGN_OR_RETURN(l.worst_input, f["worst_input"].integer());
    QD_ASSIGN_OR_RETURN(l.divergent_inputs, read_count(f["divergent_inputs"]));
    int64_t binned = 0;
    QD_RETURN_IF_ERROR(for_each(f["histogram"], [&](const JsonField& h) -> Status {
      QD_ASSIGN_OR_RETURN(size_t n, h.array_size());
      if (n != 3) return h.error("expected [bin, count, max]");
      QD_ASSIGN_OR_RETURN(int64_t bin, read_count(h.at(0)));
      if (bin > kLastBin) return h.error(fmt::format("bin {} is past the last bin {}", bin, kLastBin));
      EvalBin& b = l.histogram[static_cast<int>(bin)];
      QD_ASSIGN_OR_RETURN(b.count, read_count(h.at(1)));
      QD_ASSIGN_OR_RETURN(b.max, h.at(2).number());
      binned += b.count;
      return Status::ok();
    }));
    if (binned != l.inputs) return f["histogram"].error(fmt::format("holds {} inputs, not {}", binned, l.inputs));
    return Status::ok();
  }));
  QD_RETURN_IF_ERROR(for_each(root["disagreements"], [&](const JsonField& f) -> Status {
    EvalDisagreement& d = e.disagreements.emplace_back();
    QD_ASSIGN_OR_RETURN(d.input, read_count(f["input"]));
    QD_ASSIGN_OR_RETURN(d.fake_quant, read_count(f["fake_quant"]));
    QD_ASSIGN_OR_RETURN(d.int8, read_count(f["int8"]));
    QD_ASSIGN_OR_RETURN(d.label, f["label"].integer());
    return Status::ok();
  }));
  QD_RETURN_IF_ERROR(for_each(root["notes"], [&](const JsonField& f) -> Status {
    QD_ASSIGN_OR_RETURN(std::string s, f.string());
    e.notes.push_back(std::move(s));
    return Status::ok();
  }));
  const JsonField timings = root["timings"];
  QD_RETURN_IF_ERROR(timings.expect_object());
  QD_ASSIGN_OR_RETURN(e.elapsed_ms, timings["elapsed_ms"].number());
  return e;
}

std::string format_eval_text(const EvalReport& e, size_t max_layers) {
  std::string out;
  const EvalCounts& c = e.counts;
  out += fmt::format("{} inputs of {} ({}), policy {}\n", c.inputs, e.inputs_total, e.inputs_source, e.policy);
  auto pct = [](int64_t n, int64_t d) { return d > 0 ? 100.0 * static_cast<double>(n) / static_cast<double>(d) : 0.0; };
  if (c.labelled > 0) {
    out += fmt::format("{:<12} {:>8} {:>8}   (against {} labels)\n", "", "top-1", "top-5", c.labelled);
    for (size_t s = 0; s < 3; ++s)
      out += fmt::format("{:<12} {:>7.2f}% {:>7.2f}%\n", kSideNames[s], pct(c.top1[s], c.labelled),
                         pct(c.top5[s], c.labelled));
  }
  out += fmt::format("top-1 agreement: fp32 vs fake_quant {:.2f}%, fake_quant vs int8 {:.2f}%, fp32 vs int8 {:.2f}%\n",
                     pct(c.agree_top1[0], c.inputs), pct(c.agree_top1[1], c.inputs), pct(c.agree_top1[2], c.inputs));
  // The layers with the largest p95, reference order among equals.
  std::vector<size_t> order(e.layers.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const EvalLayer &x = e.layers[a], &y = e.layers[b];
    if ((x.unit == "steps") != (y.unit == "steps")) return x.unit == "steps";
    if (x.p95() != y.p95()) return x.p95() > y.p95();
    if (x.mean() != y.mean()) return x.mean() > y.mean();
    return x.worst > y.worst;
  });
  if (!order.empty()) {
    out += fmt::format("{:<36} {:<18} {:>6} {:>9} {:>9} {:>9} {:>7} {:>10}\n", "layer drift (worst p95 first)", "op",
                       "unit", "mean", "p95", "worst", "input", "divergent");
    for (size_t i = 0; i < order.size() && (max_layers == 0 || i < max_layers); ++i) {
      const EvalLayer& l = e.layers[order[i]];
      out += fmt::format("{:<36} {:<18} {:>6} {:>9.3g} {:>9.3g} {:>9.3g} {:>7} {:>10}\n", l.tensor, l.op, l.unit,
                         l.mean(), l.p95(), l.worst, l.worst_input, l.divergent_inputs);
    }
  }
  if (e.disagreements.empty()) {
    out += "fake-quant and int8 agree on the top class of every input\n";
  } else {
    out += fmt::format("{} inputs where fake-quant and int8 disagree (input: fake_quant -> int8):", e.disagreements.size());
    for (size_t i = 0; i < e.disagreements.size() && i < 20; ++i)
      out += fmt::format(" {}:{}->{}", e.disagreements[i].input, e.disagreements[i].fake_quant, e.disagreements[i].int8);
    out += e.disagreements.size() > 20 ? " ...\n" : "\n";
  }
  return out;
}

}  // namespace qdrift
