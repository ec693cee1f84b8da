#include "cli/explain_command.h"

#include <algorithm>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "cli/common_options.h"
#include "core/lower.h"
#include "core/onnx_loader.h"
#include "core/tensor_io.h"
#include "diff/budget.h"

namespace qdrift::cli {

CLI::App* add_explain_command(CLI::App& app, ExplainOptions& o) {
  CLI::App* cmd = app.add_subcommand(
      "explain", "Rank the int8 policy's knobs by how much of the drift each is responsible for");
  cmd->add_option("model", o.diff.model, "The QDQ (fake-quant) ONNX model")->required()->type_name("MODEL");
  add_input_option(cmd, o.diff.inputs);
  add_policy_options(cmd, o.diff.policy, o.diff.policy_sets);
  cmd->add_option("--to", o.to,
                  "The policy whose knob values the knobs are set back to (default onnx: the model's exact "
                  "semantics)")
      ->check(CLI::IsMember({"onnx", "paddle-onednn", "paddle-lite-arm"}))
      ->capture_default_str();
  cmd->add_option("--against", o.diff.against, "The int8 side: int8 (oneDNN) or oracle (the integer oracle)")
      ->check(CLI::IsMember({"int8", "oracle"}))
      ->capture_default_str();
  add_fake_quant_options(cmd, o.diff.fake_quant);
  cmd->add_option("--max-steps", o.diff.thresholds.max_steps,
                  "A pair with a reference scale diverges beyond this many steps of that scale")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--min-sqnr-db", o.diff.thresholds.min_sqnr_db,
                  "A pair without a reference scale diverges when its SQNR (dB) is below this")
      ->capture_default_str();
  cmd->add_option("--keep-float", o.keep_float_budget,
                  "Also find a small set of layers which, kept in fp32 (skip_nodes), bring the drift report under "
                  "this budget (qdrift.budget/1, docs/gate.md): bisection over execution order, then pruning")
      ->type_name("BUDGET.json");
  cmd->add_option("--json", o.json_path, "Write the ranking to FILE (schema qdrift.explain/1, docs/explain.md)")
      ->type_name("FILE");
  cmd->footer(
      "Examples:\n"
      "  qdrift explain model.onnx --input x.npy --policy paddle-onednn\n"
      "  qdrift explain model.onnx --input x.npy --policy paddle-onednn --json explain.json\n"
      "  qdrift explain model.onnx --input x.npy --policy onnx --set act_order=after_scale --keep-float budget.json\n"
      "For each knob where the policy differs from --to: the drift with that knob alone set back, and with\n"
      "only that knob left. One line per knob, best explanation first: the share of the output drift it\n"
      "explains, the output SQNR, top-1 agreement and first divergence once it is set back.\n"
      "Exit 0 whatever the drift; 2 on bad usage or input.");
  return cmd;
}

namespace {

// Knob values of a policy by name (int8_policy_knobs order).
using KnobValues = std::vector<std::pair<std::string, std::string>>;

// `--set` text that gives `knob` this value (the knob listing's "none" for skip_nodes is
// the empty regex on input).
std::string assignment(const std::string& knob, const std::string& value) {
  if (knob == "skip_nodes" && value == "none") return knob + "=";
  return knob + "=" + value;
}

// One trial: the preset and sets given, everything else as the user asked.
Result<Report> trial(const ExplainOptions& o, const std::string& preset, std::vector<std::string> sets) {
  DiffOptions d = o.diff;
  d.policy = preset;
  d.policy_sets = std::move(sets);
  d.kernel_check = false;  // the ranking compares semantics; kernel drift is `qdrift diff`'s
  d.json_path.clear();
  return make_diff_report(d);
}

// Source nodes the policy runs as int8 ops, in execution order: the --keep-float candidates.
Result<std::vector<std::string>> int8_layers(const ExplainOptions& o) {
  QD_ASSIGN_OR_RETURN(Graph g, load_onnx(o.diff.model));
  QD_ASSIGN_OR_RETURN(Int8Policy p, int8_policy_from(o.diff.policy, o.diff.policy_sets));
  QD_ASSIGN_OR_RETURN(LoweredGraph low, lower(g, p));
  std::vector<std::string> names;
  for (const Node& n : low.graph.nodes)
    if ((n.kind == OpKind::QConv || n.kind == OpKind::QMatMul || n.kind == OpKind::QAdd) &&
        std::find(names.begin(), names.end(), n.name) == names.end())
      names.push_back(n.name);
  return names;
}

// Bisection over execution order for the shortest prefix of `layers` that passes the
// budget, then pruning: each layer of it is tried back in int8 and stays int8 if the
// budget still holds (Polygraphy's `debug precision`, naming the layers).
Status keep_float_search(const ExplainOptions& o, ExplainResult& e) {
  const LoadOptions load;
  QD_ASSIGN_OR_RETURN(Budget budget, read_budget(o.keep_float_budget, load.limits));
  QD_ASSIGN_OR_RETURN(std::vector<std::string> layers, int8_layers(o));
  e.has_keep_float = true;
  e.keep_float_candidates = static_cast<int64_t>(layers.size());
  auto passes = [&](const std::vector<std::string>& kept, DriftSummary* summary) -> Result<bool> {
    std::vector<std::string> sets = o.diff.policy_sets;
    if (!kept.empty()) sets.push_back("skip_nodes=" + skip_nodes_regex(kept));
    QD_ASSIGN_OR_RETURN(Report r, trial(o, o.diff.policy, sets));
    ++e.keep_float_trials;
    if (summary) *summary = summarize_drift(r);
    return evaluate_gate(r, budget, nullptr).pass;
  };
  auto prefix = [&](size_t k) { return std::vector<std::string>(layers.begin(), layers.begin() + static_cast<long>(k)); };
  QD_ASSIGN_OR_RETURN(bool all_pass, passes(layers, &e.keep_float_summary));
  if (!all_pass) return Status::ok();  // found stays false
  e.keep_float_found = true;
  size_t lo = 0, hi = layers.size();  // prefix(hi) passes; is prefix(lo) known to fail? test it
  QD_ASSIGN_OR_RETURN(bool none_pass, passes({}, nullptr));
  if (none_pass) {
    hi = 0;
  } else {
    while (hi - lo > 1) {  // invariant: prefix(lo) fails, prefix(hi) passes
      const size_t mid = (lo + hi) / 2;
      QD_ASSIGN_OR_RETURN(bool ok, passes(prefix(mid), nullptr));
      (ok ? hi : lo) = mid;
    }
  }
  std::vector<std::string> kept = prefix(hi);
  for (size_t i = 0; i < kept.size() && kept.size() > 1;) {  // one layer alone: prefix(0) already failed
    std::vector<std::string> without = kept;
    without.erase(without.begin() + static_cast<long>(i));
    QD_ASSIGN_OR_RETURN(bool ok, passes(without, nullptr));
    if (ok) kept = std::move(without);
    else ++i;
  }
  e.keep_float_layers = kept;
  QD_ASSIGN_OR_RETURN(bool final_pass, passes(kept, &e.keep_float_summary));
  QD_ASSERT(final_pass);  // every step above kept a passing set
  return Status::ok();
}

}  // namespace

Result<ExplainResult> run_explain(const ExplainOptions& o) {
  QD_ASSIGN_OR_RETURN(Int8Policy policy, int8_policy_from(o.diff.policy, o.diff.policy_sets));
  QD_ASSIGN_OR_RETURN(Int8Policy target, int8_policy_preset(o.to));
  ExplainResult e;
  e.model = o.diff.model;
  e.policy = int8_policy_describe(policy);
  e.target = int8_policy_describe(target);
  QD_ASSIGN_OR_RETURN(Report base, trial(o, o.diff.policy, o.diff.policy_sets));
  e.baseline = summarize_drift(base);
  QD_ASSIGN_OR_RETURN(Report to_report, trial(o, o.to, {}));
  e.target_summary = summarize_drift(to_report);

  const KnobValues from = int8_policy_knobs(policy);
  const KnobValues to = int8_policy_knobs(target);
  QD_ASSERT(from.size() == to.size());
  for (size_t i = 0; i < from.size(); ++i) {
    if (from[i].second == to[i].second) continue;
    KnobExplanation k;
    k.knob = from[i].first;
    k.from = from[i].second;
    k.to = to[i].second;
    std::vector<std::string> set_back = o.diff.policy_sets;
    set_back.push_back(assignment(k.knob, k.to));
    QD_ASSIGN_OR_RETURN(Report a, trial(o, o.diff.policy, set_back));
    k.set_back = summarize_drift(a);
    QD_ASSIGN_OR_RETURN(Report b, trial(o, o.to, {assignment(k.knob, k.from)}));
    k.only_this = summarize_drift(b);
    e.knobs.push_back(std::move(k));
  }
  rank_knobs(e);
  if (!o.keep_float_budget.empty()) QD_RETURN_IF_ERROR(keep_float_search(o, e));
  return e;
}

Status explain_command(const ExplainOptions& o) {
  QD_ASSIGN_OR_RETURN(ExplainResult e, run_explain(o));
  if (!o.json_path.empty()) QD_RETURN_IF_ERROR(write_file_bytes(o.json_path, explain_to_json(e)));
  fmt::print("{}", format_explain_text(e));
  if (!o.json_path.empty()) fmt::print("wrote the ranking to {}\n", o.json_path);
  return Status::ok();
}

}  // namespace qdrift::cli
