// gate_command.h: `qdrift gate REPORT.json --budget BUDGET.json [--baseline BASE.json] [--junit FILE.xml]`:
// checks a drift report (qdrift.report/1, from `qdrift diff --json`) against a budget
// (qdrift.budget/1, docs/gate.md) and optionally against a baseline report, for CI.
//
//   GateOptions opts;
//   CLI::App* gate = add_gate_command(app, opts);
//   ... app.parse(argc, argv) ...
//   int gate_exit = kExitOk;
//   if (gate->parsed()) status = gate_command(opts, &gate_exit);  // bad input -> Status (exit 2)
//   return status.is_ok() ? gate_exit : exit_code(status);        // a failed gate -> exit 1
#pragma once

#include <string>

#include "core/status.h"

namespace CLI {
class App;
}

namespace qdrift::cli {

struct GateOptions {
  std::string report;       // the report to check (qdrift.report/1)
  std::string budget;       // the limits (qdrift.budget/1)
  std::string baseline;     // an earlier report to compare with, "" for none
  std::string json_path;    // the verdict as JSON (schema qdrift.gate/1), "" for none
  std::string junit_path;   // the verdict as JUnit XML (one testcase per check), "" for none
};

CLI::App* add_gate_command(CLI::App& app, GateOptions& options);

// Prints the verdict. Unreadable or malformed files are a Status; otherwise `*exit` becomes
// kExitOk when the gate passes and kExitGateFailed when it does not.
Status gate_command(const GateOptions& options, int* exit);

}  // namespace qdrift::cli
