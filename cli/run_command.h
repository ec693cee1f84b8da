// run_command.h: `qdrift run MODEL --input [NAME=]FILE ...`: runs one model on one
// executor (the fake-quant reference, its fp32 baseline, the real int8 runtime on oneDNN
// or the integer oracle) and reports its tensors.
//
//   RunOptions opts;
//   CLI::App* run = add_run_command(app, opts);   // registers the subcommand and its options
//   ... app.parse(argc, argv) ...
//   if (run->parsed()) status = run_command(opts);  // Status; cli::main maps it to an exit code
#pragma once

#include <string>
#include <vector>

#include "core/executor.h"
#include "core/status.h"

namespace CLI {
class App;
}

namespace qdrift::cli {

struct RunOptions {
  std::string model;
  std::vector<std::string> inputs;  // [NAME=]FILE, in command-line order
  std::string executor = "ref";     // "ref": the graph as given; "fp32": strip_qdq(graph);
                                    // "int8": lower(graph, policy) on oneDNN; "oracle": the same on the integer oracle
  FakeQuantOptions fake_quant;
  std::string policy = "onnx";      // int8 policy preset (int8/oracle)
  std::vector<std::string> policy_sets;  // "knob=value" applied on top of the preset
  std::string dump_lowered_path;    // the lowered graph with provenance: JSON for *.json, else text
  int repeat = 0;                   // extra timed runs after the first
  bool stats = false;               // one table row per produced tensor
  std::string dump_dir;             // every produced tensor as .npy + index.json
  std::string save_outputs_dir;     // graph outputs as output_<i>.pb
  std::string json_path;            // run summary, schema qdrift.run/1
};

CLI::App* add_run_command(CLI::App& app, RunOptions& options);
Status run_command(const RunOptions& options);

}  // namespace qdrift::cli
