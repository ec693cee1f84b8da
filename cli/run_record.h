// run_record.h: everything `qdrift run` learned, in one plain struct that every printer
// (text summary, --stats table, --json) reads. Nothing here computes; run_command fills it.
//
//   RunRecord r;                       // filled by run_command()
//   print_run_summary(r, stdout);      // cli/print.h
//   std::string j = run_to_json(r);    // cli/run_json.h
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/executor.h"
#include "core/tensor.h"
#include "diff/tensor_stats.h"

namespace qdrift::cli {

// One tensor: a graph input, a produced tensor or a graph output.
struct TensorRecord {
  std::string name;          // value name in the graph
  std::string node;          // producing node; "" for graph inputs and initializers
  std::string op;            // the producing node's op type; "" when there is none
  size_t output_index = 0;   // which output of `node`
  DType dtype = DType::undefined;
  Shape shape;
  TensorStats stats;
  bool has_stats = false;    // false when statistics were not requested
  std::string file;          // file it came from (inputs) or was written to (dump, outputs); "" if none
  std::string member;        // .npz member it came from (inputs only)
};

struct RunRecord {
  std::string model_path;
  int64_t opset = 0;
  size_t node_count = 0;             // of the graph that ran (fp32: after strip_qdq)
  std::string executor;              // "ref", "fp32", "int8" or "oracle"
  FakeQuantOptions fake_quant;
  std::string policy;                // int8/oracle: int8_policy_describe(); "" otherwise
  std::vector<std::string> notes;    // lowering decisions and kernel notes (run log), one line each
  std::vector<TensorRecord> inputs;  // graph input order
  std::vector<TensorRecord> tensors; // every produced tensor, execution order (with --stats / --json)
  std::vector<TensorRecord> outputs; // graph output order, always with stats
  std::string dump_dir;              // "" when --dump was not given
  std::string save_outputs_dir;      // "" when --save-outputs was not given
  double load_ms = 0;                // reading and checking the model
  double run_ms = 0;                 // Executor::run, including the observer (stats, dump)
  double total_ms = 0;               // the whole command up to writing the summary
  // --repeat N: N more runs after the first (load and first run excluded), no observer.
  std::vector<double> repeat_ms;
};

}  // namespace qdrift::cli
