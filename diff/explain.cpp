#include "diff/explain.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "diff/json_util.h"

namespace qdrift {

DriftSummary summarize_drift(const Report& r) {
  DriftSummary s;
  s.first_divergence = r.first_divergence;
  if (r.first_divergence >= 0) s.first_divergence_tensor = r.pairs[static_cast<size_t>(r.first_divergence)].ref.tensor;
  s.top1_agreement = r.top1_agreement;
  double ref_energy = 0;
  bool any_output = false;
  for (const PairRecord& p : r.pairs) {
    s.divergent_pairs += p.divergent;
    if (!p.graph_output) continue;
    any_output = true;
    const double n = static_cast<double>(p.drift.count);
    s.output_error_energy += p.drift.rmse * p.drift.rmse * n;
    // sum ref^2 from the reference's native statistics (graph outputs are real values).
    ref_energy += n * (p.ref.stats.std * p.ref.stats.std + p.ref.stats.avg * p.ref.stats.avg);
  }
  if (!any_output) s.output_sqnr_db = std::numeric_limits<double>::quiet_NaN();
  else if (s.output_error_energy == 0) s.output_sqnr_db = std::numeric_limits<double>::infinity();
  else s.output_sqnr_db = 10.0 * std::log10(ref_energy / s.output_error_energy);
  return s;
}

void rank_knobs(ExplainResult& e) {
  const double base = e.baseline.output_error_energy;
  const int64_t base_fd = e.baseline.first_divergence;
  for (KnobExplanation& k : e.knobs) {
    if (base > 0) {
      const double removed = std::clamp(1.0 - k.set_back.output_error_energy / base, 0.0, 1.0);
      const double alone = std::clamp(k.only_this.output_error_energy / base, 0.0, 1.0);
      k.explained = 0.5 * (removed + alone);
    }
    k.removes_first_divergence =
        base_fd >= 0 && (k.set_back.first_divergence < 0 || k.set_back.first_divergence_tensor != e.baseline.first_divergence_tensor);
  }
  std::stable_sort(e.knobs.begin(), e.knobs.end(), [](const KnobExplanation& a, const KnobExplanation& b) {
    const long pa = std::lround(a.explained * 100), pb = std::lround(b.explained * 100);
    if (pa != pb) return pa > pb;
    if (a.removes_first_divergence != b.removes_first_divergence) return a.removes_first_divergence;
    if (a.set_back.top1_agreement != b.set_back.top1_agreement) return a.set_back.top1_agreement > b.set_back.top1_agreement;
    return a.knob < b.knob;
  });
}

namespace {

ordered_json summary_json(const DriftSummary& s) {
  return {{"first_divergence", s.first_divergence},
          {"first_divergence_tensor", s.first_divergence_tensor},
          {"divergent_pairs", s.divergent_pairs},
          {"output_sqnr_db", json_number(s.output_sqnr_db)},
          {"output_error_energy", json_number(s.output_error_energy)},
          {"top1_agreement", json_number(s.top1_agreement)}};
}

std::string db_text(double db) {
  if (std::isnan(db)) return "n/a";
  if (std::isinf(db)) return "identical";
  return fmt::format("{:.1f} dB", db);
}

std::string top1_text(double t) { return t < 0 ? "n/a" : fmt::format("{:.0f}%", t * 100); }

std::string fd_text(const DriftSummary& s) {
  return s.first_divergence < 0 ? "none" : fmt::format("#{} {}", s.first_divergence, s.first_divergence_tensor);
}

}  // namespace

std::string explain_to_json(const ExplainResult& e) {
  ordered_json j;
  j["schema"] = kExplainSchema;
  j["model"] = e.model;
  j["policy"] = e.policy;
  j["to"] = e.target;
  j["baseline"] = summary_json(e.baseline);
  j["target"] = summary_json(e.target_summary);
  ordered_json knobs = ordered_json::array();
  for (const KnobExplanation& k : e.knobs) {
    knobs.push_back({{"knob", k.knob},
                     {"from", k.from},
                     {"to", k.to},
                     {"explained", json_number(k.explained)},
                     {"removes_first_divergence", k.removes_first_divergence},
                     {"first_divergence_after", k.set_back.first_divergence},
                     {"first_divergence_tensor_after", k.set_back.first_divergence_tensor},
                     {"output_sqnr_db_after", json_number(k.set_back.output_sqnr_db)},
                     {"top1_agreement_after", json_number(k.set_back.top1_agreement)},
                     {"only_this_knob", summary_json(k.only_this)}});
  }
  j["knobs"] = std::move(knobs);
  if (e.has_keep_float) {
    ordered_json layers = ordered_json::array();
    for (const std::string& l : e.keep_float_layers) layers.push_back(l);
    j["keep_float"] = {{"found", e.keep_float_found},
                       {"layers", std::move(layers)},
                       {"candidates", e.keep_float_candidates},
                       {"trials", e.keep_float_trials},
                       {"after", summary_json(e.keep_float_summary)}};
  }
  return json_entry_per_line(j) + "\n";
}

std::string format_explain_text(const ExplainResult& e) {
  std::string out;
  auto o = std::back_inserter(out);
  fmt::format_to(o, "explain: {}\n  policy {}\n  to     {}\n", e.model, e.policy, e.target);
  fmt::format_to(o, "under the policy: output SQNR {}, top-1 {}, first divergence {}\n", db_text(e.baseline.output_sqnr_db),
                 top1_text(e.baseline.top1_agreement), fd_text(e.baseline));
  fmt::format_to(o, "under --to:       output SQNR {}, top-1 {}, first divergence {}\n",
                 db_text(e.target_summary.output_sqnr_db), top1_text(e.target_summary.top1_agreement),
                 fd_text(e.target_summary));
  if (e.knobs.empty()) out += "the two policies set every knob alike: nothing to explain\n";
  for (size_t i = 0; i < e.knobs.size(); ++i) {
    const KnobExplanation& k = e.knobs[i];
    fmt::format_to(o,
                   "{:>2}. {}={} (policy {}): explains {:.0f}% of the output drift; set back: output SQNR {}, top-1 "
                   "{}, first divergence {}{}\n",
                   i + 1, k.knob, k.to, k.from, k.explained * 100, db_text(k.set_back.output_sqnr_db),
                   top1_text(k.set_back.top1_agreement), fd_text(k.set_back),
                   k.removes_first_divergence ? " (removed)" : "");
  }
  if (e.has_keep_float) {
    if (!e.keep_float_found)
      fmt::format_to(o, "keep-float: even all {} candidate layers in fp32 do not meet the budget ({} runs)\n",
                     e.keep_float_candidates, e.keep_float_trials);
    else
      fmt::format_to(o, "keep-float: {} of {} layers in fp32 meet the budget ({} runs): {}\n  --set skip_nodes='{}'\n",
                     e.keep_float_layers.size(), e.keep_float_candidates, e.keep_float_trials,
                     fmt::join(e.keep_float_layers, ", "), skip_nodes_regex(e.keep_float_layers));
  }
  return out;
}

std::string skip_nodes_regex(const std::vector<std::string>& layers) {
  std::string re = "^(";
  for (size_t i = 0; i < layers.size(); ++i) {
    if (i) re += '|';
    for (char c : layers[i]) {
      if (std::string_view("\\^$.|?*+()[]{}").find(c) != std::string_view::npos) re += '\\';
      re += c;
    }
  }
  return re + ")$";
}

}  // namespace qdrift
