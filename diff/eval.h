// eval.h: a drift evaluation over many inputs (`qdrift eval`), and the exact merge of shards.
//
//   EvalReport e = eval_begin(model_record, "onnx", inputs_total, {begin, end});
//   for (int64_t i = begin; i < end; ++i) {
//     Report drift = ...;                                 // run_drift on input i
//     eval_add_input(e, i, drift, {fp32, fake_quant, int8}, label_or_minus_one);
//   }
//   std::string text = eval_to_json(e);                   // schema qdrift.eval/1
//   QD_RETURN_IF_ERROR(eval_merge(e, other_shard, "b.json"));  // shards combine exactly
//
// Every aggregate merges exactly, in any order: counts and integer (fixed-point) sums, maxima
// with the lowest input index on ties, and a fixed-bin histogram per layer whose bins keep
// their count and the largest value that fell in them. The mean and the p95 are derived from
// those when written, so a merged evaluation is byte-identical to the unsharded run (timings
// aside). docs/eval.md documents the JSON.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/executor.h"
#include "core/status.h"
#include "core/tensor.h"
#include "diff/report.h"

namespace qdrift {

inline constexpr const char* kEvalSchema = "qdrift.eval/1";

// The three executions compared; index into the arrays below.
enum EvalSide : int { kFp32 = 0, kFakeQuant = 1, kInt8 = 2 };
// Agreement pairs: fp32 vs fake-quant, fake-quant vs int8, fp32 vs int8.
enum EvalAgreement : int { kFp32VsFakeQuant = 0, kFakeQuantVsInt8 = 1, kFp32VsInt8 = 2 };

struct EvalCounts {
  int64_t inputs = 0;
  int64_t labelled = 0;                  // inputs that have a label
  std::array<int64_t, 3> top1{};         // per EvalSide: label == argmax
  std::array<int64_t, 3> top5{};         // per EvalSide: label among the 5 largest (all when fewer classes)
  std::array<int64_t, 3> agree_top1{};   // per EvalAgreement: same argmax
};

// One fixed-bin histogram bin: how many inputs fell in it and the largest value among them.
struct EvalBin {
  int64_t count = 0;
  double max = 0;
};

// Per-layer drift over the inputs: each input contributes its pair's largest error, in
// steps of the reference's scale when the tensor has one ("steps"), else in real units ("abs").
struct EvalLayer {
  std::string tensor;            // reference tensor
  std::string node;              // its producing node
  std::string op;
  std::string unit;              // "steps" or "abs"
  int64_t inputs = 0;            // inputs measured
  int64_t sum_fixed = 0;         // sum of the per-input values in units of 2^-20 (exact to merge)
  double worst = 0;              // largest per-input value
  int64_t worst_input = -1;      // its input index (the lowest on ties)
  int64_t divergent_inputs = 0;  // inputs where the pair was over the thresholds
  std::map<int, EvalBin> histogram;  // bin index (eval_bin_of) -> bin

  double mean() const;
  // The 95th percentile, rounded up to the largest value seen in its bin (bins are 1/8
  // octave wide), so it is an observed value within 9% above the exact percentile.
  double p95() const;
};

// An input where the fake-quant reference and int8 disagree on the top class.
struct EvalDisagreement {
  int64_t input = 0;
  int64_t fake_quant = 0;        // argmax of the reference
  int64_t int8 = 0;              // argmax of the int8 runtime
  int64_t label = -1;            // -1 without labels
};

struct EvalReport {
  std::string schema = kEvalSchema;
  std::string tool_version;
  ModelRecord model;
  std::string policy;                       // int8_policy_describe()
  std::string inputs_source;                // the --inputs path as given
  std::string labels_source;                // "" without labels
  int64_t inputs_total = 0;                 // inputs in the whole set (every shard)
  std::vector<std::pair<int64_t, int64_t>> ranges;  // [begin, end) evaluated, sorted, disjoint
  Thresholds thresholds;
  EvalCounts counts;
  std::vector<EvalLayer> layers;            // reference order
  std::vector<EvalDisagreement> disagreements;  // by input index
  std::vector<std::string> notes;           // lowering notes (identical for every shard)
  double elapsed_ms = 0;                    // wall time (summed over merged shards)
};

// Which bin a value falls in: 0 for 0, then 8 bins per octave from 2^-30 to 2^30.
int eval_bin_of(double v);

// Inputs [begin, end) of shard k of n over `total` inputs (contiguous blocks).
std::pair<int64_t, int64_t> eval_shard_range(int64_t total, int64_t k, int64_t n);

// Parses "K/N" (0 <= K < N). Errors are one line naming the spec.
Result<std::pair<int64_t, int64_t>> parse_shard_spec(std::string_view spec);

// Adds input `index`: its drift report (pairs in reference order) and the first graph
// output of each side (logits or probabilities, classes on the last axis, one row).
// label < 0: no label.
Status eval_add_input(EvalReport& e, int64_t index, const Report& drift, const std::array<const Tensor*, 3>& outputs,
                      int64_t label);

// The executors one evaluation runs: the stripped fp32 graph and the reference (both on the
// reference kernels), and the lowered graph on the int8 runtime.
struct EvalExecutors {
  const Executor* fp32 = nullptr;
  const Executor* fake_quant = nullptr;
  const Executor* int8 = nullptr;
};
using EvalFeeds = std::function<Result<std::vector<Tensor>>(int64_t index)>;

// Runs inputs [begin, end): run_drift (fake-quant vs int8, tensor by tensor, under
// e.thresholds) and the fp32 graph on each, adding each to `e` with its label (`labels`
// indexed by input, empty = none). `on_input` (optional) is called after each input.
// Errors name the input ("input 17: ...").
Status eval_run(EvalReport& e, const EvalExecutors& executors, const EvalFeeds& feeds, int64_t begin, int64_t end,
                std::span<const int64_t> labels, const std::function<void()>& on_input = {});

// Adds `shard` into `into`: same model, policy, inputs and thresholds, disjoint ranges.
Status eval_merge(EvalReport& into, const EvalReport& shard, std::string_view shard_label);

std::string eval_to_json(const EvalReport& e);
Result<EvalReport> eval_from_json(std::string_view text, std::string_view label);
// A few lines for people: accuracies, agreements, the worst layers, the disagreeing inputs.
std::string format_eval_text(const EvalReport& e, size_t max_layers = 10);

}  // namespace qdrift
