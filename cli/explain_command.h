// explain_command.h: `qdrift explain MODEL --input FILE --policy P [--to POLICY]`: which knob
// of P is responsible for the drift. For each knob where P differs from --to (default onnx,
// the exact semantics) it runs the drift report with that knob alone set back, and with
// only that knob left, and ranks the knobs (diff/explain.h, docs/explain.md).
// `--keep-float BUDGET.json` also finds a small set of layers which, kept in fp32
// (skip_nodes), bring the report under the budget (docs/gate.md).
//
//   ExplainOptions opts;
//   CLI::App* explain = add_explain_command(app, opts);
//   ... app.parse(argc, argv) ...
//   if (explain->parsed()) status = explain_command(opts);
#pragma once

#include <string>
#include <vector>

#include "cli/diff_command.h"
#include "core/status.h"
#include "diff/explain.h"

namespace CLI {
class App;
}

namespace qdrift::cli {

struct ExplainOptions {
  DiffOptions diff;                  // model, inputs, --against, policy, --set, fake quant, thresholds
  std::string to = "onnx";           // the policy knobs are set back to
  std::string keep_float_budget;     // qdrift.budget/1 file, "" = no search
  std::string json_path;             // qdrift.explain/1
};

CLI::App* add_explain_command(CLI::App& app, ExplainOptions& options);
Status explain_command(const ExplainOptions& options);
// The whole analysis, without printing (tests call it in-process).
Result<ExplainResult> run_explain(const ExplainOptions& options);

}  // namespace qdrift::cli
