// eval_command.h: `qdrift eval MODEL --inputs X [--labels Y]`: fp32, fake-quant and real int8
// over a data set: top-1/top-5 against the labels and against each other, per-layer drift
// aggregated over the inputs, the inputs where fake-quant and int8 disagree; `--shard K/N`
// evaluates one contiguous block and `qdrift merge` combines the shards' JSON exactly
// (docs/scale.md).
//
//   EvalOptions opts;
//   CLI::App* eval = add_eval_command(app, opts);
//   ... app.parse(argc, argv) ...
//   if (eval->parsed()) status = eval_command(opts);
#pragma once

#include <string>
#include <vector>

#include "cli/eval_inputs.h"
#include "core/status.h"
#include "diff/report.h"

namespace CLI {
class App;
}

namespace qdrift::cli {

struct EvalOptions {
  std::string model;
  std::string inputs;                  // .npy, .npz or a directory of images
  std::string labels;                  // .npy or text, "" = none
  std::string policy = "onnx";
  std::vector<std::string> policy_sets;
  std::string shard;                   // "K/N", "" = everything
  ImagePreprocess preprocess;
  Thresholds thresholds;
  size_t rows = 10;                    // layers on screen
  bool progress = true;
  std::string json_path;
};

struct MergeOptions {
  std::vector<std::string> shards;     // eval JSON files
  size_t rows = 10;
  std::string json_path;
};

CLI::App* add_eval_command(CLI::App& app, EvalOptions& options);
Status eval_command(const EvalOptions& options);
CLI::App* add_merge_command(CLI::App& app, MergeOptions& options);
Status merge_command(const MergeOptions& options);

}  // namespace qdrift::cli
