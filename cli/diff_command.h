// diff_command.h: `qdrift diff MODEL --input FILE ...`: runs the fake-quant reference and
// the real int8 runtime (or the oracle, the fp32 baseline, or a second model), pairs their
// tensors and reports per-layer drift, the first divergent layer and unmatched tensors, on
// screen and as JSON (schema qdrift.report/1, docs/report.md).
//
//   DiffOptions opts;
//   CLI::App* diff = add_diff_command(app, opts);
//   ... app.parse(argc, argv) ...
//   if (diff->parsed()) status = diff_command(opts);
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "core/executor.h"
#include "core/status.h"
#include "diff/report.h"

namespace CLI {
class App;
}

namespace qdrift::cli {

struct DiffOptions {
  std::string model;                     // the QDQ (fake-quant) model: the reference side
  std::vector<std::string> inputs;       // [NAME=]FILE
  std::string against = "int8";          // the other side: int8 | oracle | fp32 | ref
  std::string other_model;               // a second model for the other side ("" = MODEL)
  FakeQuantOptions fake_quant;           // the reference's fake quantization
  std::string policy = "onnx";
  std::vector<std::string> policy_sets;
  std::string rules_path;                // mapping rules (qdrift.rules/1)
  bool kernel_check = true;              // --against int8: also run the oracle on the same int8 graph
  Thresholds thresholds;
  size_t rows = 40;                      // table rows on screen, 0 = all
  bool wide = false;                     // full tensor names in the table
  std::string json_path;                 // the report (qdrift.report/1)
  std::string save_tensors_dir;          // every paired tensor of both sides as .npy ("" = none)
  std::string other_dump;                // a directory of tensors another framework dumped (the other side)
  std::string other_graph;               // the model that dump came from (pairs by structure too)
};

CLI::App* add_diff_command(CLI::App& app, DiffOptions& options);
Status diff_command(const DiffOptions& options);
// Sees every paired tensor of both sides as it is produced (DriftOptions::on_paired_tensor).
using PairedTensorSink =
    std::function<void(bool ref_side, const Node& node, size_t output_index, const Value& value, const Tensor& tensor)>;
// The report `qdrift diff` prints and writes, without printing or writing it (explain's
// trials, the GUI's live mode in a background thread); `on_paired_tensor`, when set, is
// how --save-tensors and the GUI get the tensors.
Result<Report> make_diff_report(const DiffOptions& options, const PairedTensorSink& on_paired_tensor = {});

}  // namespace qdrift::cli
