#include "cli/eval_command.h"

#include <chrono>
#include <optional>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "cli/common_options.h"
#include "cli/progress.h"
#include "core/lower.h"
#include "core/onnx_loader.h"
#include "core/passes.h"
#include "core/tensor_io.h"
#include "diff/eval.h"

#ifndef QDRIFT_VERSION
#define QDRIFT_VERSION "unknown"
#endif

namespace qdrift::cli {

CLI::App* add_eval_command(CLI::App& app, EvalOptions& o) {
  CLI::App* eval = app.add_subcommand(
      "eval", "Evaluate fp32, fake-quant and real int8 over a data set: accuracy, agreement, drift per layer");
  eval->add_option("model", o.model, "The QDQ (fake-quant) ONNX model")->required()->type_name("MODEL");
  eval->add_option("--inputs", o.inputs,
                   "The inputs: an .npy (or an .npz with a member per model input) with the batch on the first "
                   "axis, or a directory of PNG/JPEG images (taken in name order, preprocessed as below)")
      ->required()
      ->type_name("X");
  eval->add_option("--labels", o.labels,
                   "Class index of each input: an .npy of integers, or a text file with one index per line")
      ->type_name("Y");
  add_policy_options(eval, o.policy, o.policy_sets);
  eval->add_option("--shard", o.shard,
                   "Evaluate only shard K of N (0 <= K < N): a contiguous block of the inputs; combine the shards' "
                   "--json files with 'qdrift merge' (docs/scale.md)")
      ->type_name("K/N");
  eval->add_option("--resize", o.preprocess.resize, "Images: resize the shorter side to this many pixels")
      ->check(CLI::Range(int64_t{1}, int64_t{16384}));
  eval->add_option("--crop", o.preprocess.crop, "Images: centre crop (default: the model's input size)")
      ->check(CLI::Range(int64_t{1}, int64_t{16384}));
  eval->add_option("--mean", o.preprocess.mean, "Images: mean per channel, after --scale (one value or one per channel)")
      ->delimiter(',')
      ->expected(1, 4);
  eval->add_option("--std", o.preprocess.std, "Images: standard deviation per channel, after --scale")
      ->delimiter(',')
      ->expected(1, 4);
  eval->add_option("--scale", o.preprocess.scale, "Images: pixel values [0,255] are multiplied by this first")
      ->default_str("1/255");
  eval->add_option("--layout", o.preprocess.layout, "Images: the model input's layout")
      ->check(CLI::IsMember({"nchw", "nhwc"}))
      ->capture_default_str();
  eval->add_option("--max-steps", o.thresholds.max_steps,
                   "A layer diverges on an input when its largest error exceeds this many steps of the reference's "
                   "scale")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  eval->add_option("--min-sqnr-db", o.thresholds.min_sqnr_db,
                   "A layer without a reference scale diverges when its SQNR (dB) is below this")
      ->capture_default_str();
  eval->add_option("--rows", o.rows, "Layers on screen, worst p95 first; 0 = all")->capture_default_str();
  eval->add_flag("!--no-progress", o.progress, "No progress on stderr");
  eval->add_option("--json", o.json_path, "Write the result to FILE (schema qdrift.eval/1, docs/eval.md)")
      ->type_name("FILE");
  eval->footer(
      "Examples:\n"
      "  qdrift eval model.onnx --inputs x.npy --labels y.npy --json eval.json\n"
      "  qdrift eval model.onnx --inputs val/ --labels val.txt --resize 256 --crop 224 \\\n"
      "      --mean 0.485,0.456,0.406 --std 0.229,0.224,0.225 --policy paddle-onednn\n"
      "  qdrift eval model.onnx --inputs x.npy --shard 3/8 --json shard3.json   # then: qdrift merge shard*.json\n"
      "Each input runs three ways: fp32 (QuantizeLinear/DequantizeLinear removed), the fake-quant reference, and\n"
      "the model lowered to int8 under --policy on oneDNN. Top-1 and top-5 are counted against the labels and\n"
      "between the runs; per layer, each input's largest error (steps of the reference's scale, or real units)\n"
      "gives a mean, a p95 and the worst input. Exit 0 whatever the drift.");
  return eval;
}

CLI::App* add_merge_command(CLI::App& app, MergeOptions& o) {
  CLI::App* merge = app.add_subcommand("merge", "Combine the --json results of 'qdrift eval --shard' exactly");
  merge->add_option("shards", o.shards, "The shards' eval JSON files (qdrift.eval/1)")
      ->required()
      ->expected(1, -1)
      ->type_name("A.json B.json ...");
  merge->add_option("--rows", o.rows, "Layers on screen, worst p95 first; 0 = all")->capture_default_str();
  merge->add_option("--json", o.json_path, "Write the merged result to FILE")->type_name("FILE");
  merge->footer(
      "The shards must come from one evaluation: the same model, policy, inputs, labels and thresholds, and\n"
      "disjoint input ranges. Counts, sums and histograms add up, so the merged result equals the unsharded run\n"
      "(timings aside). The shards need not cover every input; 'ranges' says which were evaluated.");
  return merge;
}

Status eval_command(const EvalOptions& o) {
  const auto start = std::chrono::steady_clock::now();
  const LoadOptions load_options;
  const Limits& limits = load_options.limits;
  std::pair<int64_t, int64_t> shard{0, 1};
  if (!o.shard.empty()) {
    QD_ASSIGN_OR_RETURN(shard, parse_shard_spec(o.shard));
  }

  EvalReport e;
  e.tool_version = QDRIFT_VERSION;
  e.thresholds = o.thresholds;
  e.inputs_source = o.inputs;
  e.labels_source = o.labels;
  QD_ASSIGN_OR_RETURN(Graph model, load_model(o.model, load_options, &e.model));
  QD_ASSIGN_OR_RETURN(Int8Policy policy, int8_policy_from(o.policy, o.policy_sets));
  e.policy = int8_policy_describe(policy);
  auto lowered = lower(model, policy);
  if (!lowered) return lowered.status().with_context(o.model);
  e.notes = lowered->notes;
  const Graph fp32_graph = strip_qdq(model);

  ExecOptions options;
  options.limits = limits;
  auto ref_ex = Executor::create(model, kernel_table_for("ref"), options);
  if (!ref_ex) return ref_ex.status().with_context(o.model);
  auto fp32_ex = Executor::create(fp32_graph, kernel_table_for("fp32"), options);
  if (!fp32_ex) return fp32_ex.status().with_context(o.model);
  auto int8_ex = Executor::create(lowered->graph, kernel_table_for("int8"), options);
  if (!int8_ex) return int8_ex.status().with_context(o.model);

  QD_ASSIGN_OR_RETURN(EvalInputs inputs, EvalInputs::open(model, o.inputs, o.preprocess, limits));
  std::vector<int64_t> labels;
  if (!o.labels.empty()) {
    QD_ASSIGN_OR_RETURN(labels, read_labels(o.labels, inputs.size(), limits));
  }
  e.inputs_total = inputs.size();
  const auto [begin, end] = eval_shard_range(inputs.size(), shard.first, shard.second);
  e.ranges = {{begin, end}};
  if (begin == end) e.ranges.clear();

  std::optional<Progress> progress;
  if (o.progress) progress.emplace("eval", end - begin);
  const EvalFeeds feeds = [&](int64_t i) -> Result<std::vector<Tensor>> {
    auto f = inputs.feeds(i);
    if (!f) return f.status();
    return std::move(*f);
  };
  if (Status s = eval_run(e, {&*fp32_ex, &*ref_ex, &*int8_ex}, feeds, begin, end, labels,
                          [&] { if (progress) progress->advance(); });
      !s) {
    // Image errors name their file already; a tensor file's say "input N" and get the file.
    return inputs.images().empty() ? s.with_context(o.inputs) : s;
  }
  if (progress) progress->finish();
  e.elapsed_ms = ms_since(start);

  if (!o.json_path.empty()) QD_RETURN_IF_ERROR(write_file_bytes(o.json_path, eval_to_json(e)));
  fmt::print("{}", format_eval_text(e, o.rows));
  if (!o.json_path.empty()) fmt::print("wrote the evaluation to {}\n", o.json_path);
  return Status::ok();
}

Status merge_command(const MergeOptions& o) {
  const Limits limits;
  std::optional<EvalReport> merged;
  for (const std::string& path : o.shards) {
    QD_ASSIGN_OR_RETURN(std::string text, read_file_bytes(path, limits.max_file_bytes));
    QD_ASSIGN_OR_RETURN(EvalReport shard, eval_from_json(text, path));
    if (!merged) {
      merged = std::move(shard);
      continue;
    }
    QD_RETURN_IF_ERROR(eval_merge(*merged, shard, path));
  }
  QD_ASSERT(merged.has_value());
  if (!o.json_path.empty()) QD_RETURN_IF_ERROR(write_file_bytes(o.json_path, eval_to_json(*merged)));
  fmt::print("{}", format_eval_text(*merged, o.rows));
  if (!o.json_path.empty()) fmt::print("wrote the merged evaluation to {}\n", o.json_path);
  return Status::ok();
}

}  // namespace qdrift::cli
