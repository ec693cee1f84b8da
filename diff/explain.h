// explain.h: which policy knob is responsible for the drift: `qdrift explain`'s ranking
// (docs/explain.md). The caller runs the drift report for each trial policy (diff/drift.h);
// this file only measures and ranks the reports it is given.
//
//   ExplainResult e;
//   e.baseline = summarize_drift(report_under_P);            // e.g. paddle-onednn
//   e.target = summarize_drift(report_under_to);             // e.g. onnx (the exact semantics)
//   for (knob where P and `to` differ)
//     e.knobs.push_back({knob, from, to, summarize_drift(report_with_knob_set_back),
//                                        summarize_drift(report_with_only_this_knob_left)});
//   rank_knobs(e);                                           // best explanation first
//   std::string json = explain_to_json(e);                   // schema qdrift.explain/1
#pragma once

#include <string>
#include <vector>

#include "diff/report.h"

namespace qdrift {

inline constexpr const char* kExplainSchema = "qdrift.explain/1";

// What a trial's report says about the output drift, in the numbers the ranking uses.
struct DriftSummary {
  int64_t first_divergence = -1;   // index into that report's pairs, -1 when none
  std::string first_divergence_tensor;  // its reference tensor, "" when none
  int64_t divergent_pairs = 0;
  double output_error_energy = 0;  // sum over graph-output pairs of sum (ref - other)^2
  double output_sqnr_db = 0;       // 10 log10(sum ref^2 / output_error_energy); inf when 0 error; nan without outputs
  double top1_agreement = -1;      // as in the report, -1 without outputs
};
DriftSummary summarize_drift(const Report& r);

struct KnobExplanation {
  std::string knob;                // "act_order"
  std::string from;                // its value under the policy explained ("after_scale")
  std::string to;                  // its value under the target policy ("exact")
  DriftSummary set_back;           // the policy with this knob alone set back to `to`
  DriftSummary only_this;          // the target policy with only this knob at `from`
  // Filled by rank_knobs:
  double explained = 0;            // fraction of the output drift this knob accounts for, [0, 1]
  bool removes_first_divergence = false;  // set back alone, the first divergence is gone or later
};

struct ExplainResult {
  std::string model;
  std::string policy;              // int8_policy_describe() of the policy explained
  std::string target;              // int8_policy_describe() of --to
  DriftSummary baseline;           // under the policy
  DriftSummary target_summary;     // under the target policy
  std::vector<KnobExplanation> knobs;  // ranked best first after rank_knobs
  // --keep-float: layers kept in fp32 (skip_nodes) that bring the report under the budget.
  bool has_keep_float = false;
  bool keep_float_found = false;   // false: even every candidate layer in fp32 fails the budget
  std::vector<std::string> keep_float_layers;  // source node names, execution order
  int64_t keep_float_candidates = 0;
  int64_t keep_float_trials = 0;   // drift runs the search took
  DriftSummary keep_float_summary; // the report with those layers in fp32
};

// explained = mean of (1 - E_set_back / E_baseline) and (E_only_this / E_baseline), each
// clamped to [0, 1] (E: output error energy); 0 when the baseline has no output drift.
// Ranked by explained (to 1%), then removes_first_divergence, then top-1 agreement after
// the set-back, then the knob's name (stable).
void rank_knobs(ExplainResult& e);

std::string explain_to_json(const ExplainResult& e);
// `--set skip_nodes=` value naming exactly these nodes: ^(a|b\.c)$ (metacharacters escaped).
std::string skip_nodes_regex(const std::vector<std::string>& nodes);
// One line per knob, best first, then the keep-float result.
std::string format_explain_text(const ExplainResult& e);

}  // namespace qdrift
