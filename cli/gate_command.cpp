#include "cli/gate_command.h"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "core/limits.h"
#include "core/tensor_io.h"
#include "diff/budget.h"
#include "diff/json_util.h"
#include "diff/junit.h"
#include "diff/report_json.h"

namespace qdrift::cli {

CLI::App* add_gate_command(CLI::App& app, GateOptions& o) {
  CLI::App* gate = app.add_subcommand("gate", "Check a drift report against a budget (and a baseline report), for CI");
  gate->add_option("report", o.report, "The report to check: `qdrift diff --json` output (schema qdrift.report/1)")
      ->required()
      ->type_name("REPORT.json");
  gate->add_option("--budget", o.budget,
                   "The limits (schema qdrift.budget/1, docs/gate.md): global and per-layer min_sqnr_db, max_steps, "
                   "max_abs, min_cosine; min_top1_agreement of the graph outputs; how far drift may grow from the "
                   "baseline")
      ->required()
      ->type_name("BUDGET.json");
  gate->add_option("--baseline", o.baseline,
                   "An earlier report (e.g. from the main branch): pairs are matched by reference tensor name and "
                   "checked against the budget's \"baseline\" limits (SQNR drop, steps increase)")
      ->type_name("BASE.json");
  gate->add_option("--json", o.json_path,
                   "Also write the verdict to FILE (schema qdrift.gate/1, docs/gate.md): pass, checks, and each "
                   "violation with its tensor, check, limit and actual value")
      ->type_name("FILE");
  gate->add_option("--junit", o.junit_path,
                   "Also write the verdict as JUnit XML for CI test reporters (GitLab, Jenkins, GitHub): one "
                   "testcase per check, a failed one with its violation line (docs/ci.md)")
      ->type_name("FILE.xml");
  gate->footer(
      "Examples:\n"
      "  qdrift diff model.onnx --input x.npy --json report.json\n"
      "  qdrift gate report.json --budget budget.json\n"
      "  qdrift gate report.json --budget budget.json --baseline main-report.json --json gate.json\n"
      "  qdrift gate report.json --budget budget.json --junit gate.xml   # CI test report (docs/ci.md)\n"
      "A budget:\n"
      "  {\"schema\": \"qdrift.budget/1\",\n"
      "   \"global\": {\"min_sqnr_db\": 25, \"max_steps\": 2},\n"
      "   \"layers\": [{\"match\": \"^conv1\", \"max_steps\": 4}],\n"
      "   \"outputs\": {\"min_top1_agreement\": 1.0},\n"
      "   \"baseline\": {\"max_sqnr_drop_db\": 1.0, \"max_steps_increase\": 1}}\n"
      "A non-finite mismatch (a NaN on either side, an Inf on one side only) fails the gate unless the\n"
      "budget says \"allow_nonfinite\": true.\n"
      "Prints 'gate: PASS (N checks)' or 'gate: FAIL: K of N checks' and one line per violation.\n"
      "Exit codes: 0 the gate passed, 1 it failed, 2 bad usage or an unreadable or malformed report,\n"
      "baseline or budget, 3 internal error.");
  return gate;
}

namespace {

constexpr const char* kGateSchema = "qdrift.gate/1";

std::string gate_to_json(const GateOptions& o, const GateResult& g) {
  ordered_json j;
  j["schema"] = kGateSchema;
  j["pass"] = g.pass;
  j["checks"] = g.checks;
  j["failed"] = g.violations.size();
  j["report"] = o.report;
  j["budget"] = o.budget;
  j["baseline"] = o.baseline.empty() ? ordered_json() : ordered_json(o.baseline);
  ordered_json violations = ordered_json::array();
  for (const GateViolation& v : g.violations)
    violations.push_back({{"tensor", v.tensor},
                          {"check", v.check},
                          {"limit", json_number(v.limit)},
                          {"actual", json_number(v.actual)},
                          {"message", v.message}});
  j["violations"] = std::move(violations);
  return json_entry_per_line(j);
}

bool has_baseline_limits(const Budget& b) { return b.baseline_max_sqnr_drop_db || b.baseline_max_steps_increase; }

}  // namespace

Status gate_command(const GateOptions& o, int* exit) {
  const Limits limits;
  // The budget first: a typo in it is the likeliest mistake, and it costs nothing to read.
  QD_ASSIGN_OR_RETURN(Budget budget, read_budget(o.budget, limits));
  QD_ASSIGN_OR_RETURN(Report report, read_report_json(o.report, limits));
  std::optional<Report> baseline;
  if (!o.baseline.empty()) {
    QD_ASSIGN_OR_RETURN(baseline, read_report_json(o.baseline, limits));
  }

  const GateResult g = evaluate_gate(report, budget, baseline ? &*baseline : nullptr);
  if (g.pass)
    fmt::print("gate: PASS ({} check{})\n", g.checks, g.checks == 1 ? "" : "s");
  else
    fmt::print("gate: FAIL: {} of {} check{}\n", g.violations.size(), g.checks, g.checks == 1 ? "" : "s");
  for (const GateViolation& v : g.violations) fmt::print("  {}\n", v.message);
  // Limits that silently check nothing are worth a line: a CI job that forgot --baseline
  // would otherwise pass for ever.
  if (g.checks == 0) fmt::print("note: the budget checks nothing in this report\n");
  if (baseline && !has_baseline_limits(budget))
    fmt::print("note: --baseline given, but the budget has no \"baseline\" limits\n");
  if (!baseline && has_baseline_limits(budget))
    fmt::print("note: the budget's \"baseline\" limits are not checked without --baseline\n");

  if (!o.json_path.empty()) QD_RETURN_IF_ERROR(write_file_bytes(o.json_path, gate_to_json(o, g)));
  if (!o.junit_path.empty())
    QD_RETURN_IF_ERROR(write_file_bytes(o.junit_path, gate_to_junit(g, fmt::format("qdrift gate {}", o.report))));
  *exit = g.pass ? kExitOk : kExitGateFailed;
  return Status::ok();
}

}  // namespace qdrift::cli
