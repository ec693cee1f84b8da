// report.h: the drift report: one plain struct that JSON, the text table, the gate and the
// GUI all read. Nothing here computes; diff/drift.h fills it, report_json.h reads and writes it.
//
//   Report r = ...;                                  // from run_drift() or read_report_json()
//   for (const PairRecord& p : r.pairs)              // reference topological order
//     if (p.drift.max_abs_steps > 1) fmt::print("{} -> {}\n", p.ref.tensor, p.other.tensor);
//   if (r.first_divergence >= 0) explain(r.pairs[r.first_divergence]);
//
// Two sides: `ref` is the fake-quant reference (the graph as given), `other` is what is
// compared against it (the int8 runtime, the integer oracle, the fp32 baseline, or a second
// model). Both are compared in real values, each tensor dequantized with its own scale and
// zero point; each side is also described in its native domain (integer codes for int8
// tensors), as the seed report's tables were.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/dtype.h"
#include "core/tensor.h"
#include "diff/tensor_stats.h"

namespace qdrift {

inline constexpr const char* kReportSchema = "qdrift.report/1";

// How a pair of tensors was found, most certain first (docs/report.md).
enum class MatchMethod : uint8_t {
  provenance,  // exact: the other graph is our lowering of the reference
  name,        // identical tensor names
  rule,        // the user's mapping-rules file (diff/mapping_rules.h)
  structure,   // same position among anchor ops, same shape
  value,       // best correlation of dequantized values
};
std::string_view match_method_name(MatchMethod m);
bool parse_match_method(std::string_view s, MatchMethod* out);

// One side of a pair, in its own (native) domain.
struct SideRecord {
  std::string tensor;         // value name in its graph
  std::string node;           // producing node ("" for a graph input)
  std::string op;             // that node's op type as written ("QConv", "QuantizeLinear", ...)
  DType dtype = DType::undefined;
  Shape shape;
  bool quantized = false;     // scale/zero_point below are meaningful
  std::vector<float> scale;   // one per tensor, or one per index of `axis`
  std::vector<int32_t> zero_point;
  int axis = 1;
  TensorStats stats;          // native domain: integer codes for u8/s8/s32 tensors
  int64_t count_at_qmin = 0;  // elements at the lowest code of the type (quantized only)
  int64_t count_at_qmax = 0;  // elements at the highest code (saturation)
  // The tensor as .npy in its native dtype (`qdrift diff --save-tensors`), relative to the
  // report's folder; "" when not saved. Optional on read.
  std::string file;
};

// Drift of `other` from `ref`, both in real values, over the positions where both are
// finite. Non-finite elements are counted, never folded into a number: a NaN on either
// side shows in nan_ref/nan_other and `nonfinite_mismatch`, not as a NaN max_abs.
struct DriftMeasures {
  int64_t count = 0;              // elements compared (both finite)
  double max_abs = 0;             // max |ref - other|
  int64_t max_abs_index = -1;     // flat index of the first element where max_abs occurs; -1 when count is 0
  double mean_abs = 0;
  double rmse = 0;
  double rel_l2 = 0;              // ||ref - other|| / ||ref||; inf when ref is all zeros and other is not
  double sqnr_db = 0;             // 10 log10(sum ref^2 / sum (ref-other)^2); inf when identical
  double cosine = 1;              // cosine similarity; 1 when both are all zeros
  bool argmax_agree = true;       // flat argmax of both sides equal
  double frac_differ = 0;         // fraction of compared elements with ref != other
  // Error in steps of the reference's quantization scale (per element's channel when
  // per-axis): |ref - other| / scale. Only when the reference tensor has a scale.
  bool has_steps = false;
  double max_abs_steps = 0;
  // steps_histogram[k] = elements whose error rounds to k steps (k < size-1); the last
  // bin holds everything at or above size-1 steps.
  std::vector<int64_t> steps_histogram;
  int64_t nan_ref = 0, inf_ref = 0;      // non-finite elements of each side
  int64_t nan_other = 0, inf_other = 0;
  int64_t nonfinite_mismatch = 0;        // positions where exactly one side is finite, or both are inf of different sign, or one is NaN
};
inline constexpr size_t kStepsHistogramBins = 8;  // 0, 1, ..., 6, >=7 steps

struct PairRecord {
  MatchMethod method = MatchMethod::name;
  std::string match_detail;   // e.g. the rule that matched, the provenance rewrite
  SideRecord ref;
  SideRecord other;
  DriftMeasures drift;
  bool divergent = false;     // over the report's thresholds
  bool graph_output = false;  // ref tensor is a graph output (counts for top1_agreement)
  // Kernel check (other = the oneDNN runtime): the same int8 graph on the integer oracle,
  // compared with oneDNN element by element. A difference is kernel drift (e.g. non-VNNI
  // 16-bit saturation), not a difference of semantics.
  bool has_kernel_check = false;
  int64_t kernel_differ = 0;       // elements where oneDNN != the oracle
  double kernel_max_abs = 0;       // largest |oneDNN - oracle| in real values
  double kernel_max_steps = -1;    // the same in steps of the other tensor's scale; -1 without one
  // Largest |ref - other| (real values) per index of axis 1, the channel that breaks; empty
  // below rank 2 or above kMaxReportedChannels channels (diff/tensor_views.h). Optional on read.
  std::vector<double> channel_max_abs;
  // How sure the pairing is, in [0, 1]: 1 for provenance, name and rule; for structure and
  // value, from the structural match and the agreement of the values (docs/mapping.md).
  double confidence = 1;
  // How the other tensor's elements are laid out relative to the reference's logical shape:
  // "" the same order, "nhwc" channels last, "nchwc<B>" channel blocks of B (docs/mapping.md).
  // The other side is measured after moving its elements into the reference's order.
  std::string other_layout;
  // Local drift: the other side's op re-run on the reference's inputs (each quantized with
  // the other side's input parameters) and measured against the reference as `drift` is:
  // the error this layer adds, apart from the error it inherits. Absent (has_local_drift
  // false) where the op cannot be re-run: an input without a reference partner, of another
  // shape, or not on an int8 grid the reference can be quantized to.
  bool has_local_drift = false;
  DriftMeasures local_drift;
  bool local_divergent = false;    // local_drift over the report's thresholds
};

// A tensor of one side with no partner; listed, never dropped.
struct UnmatchedRecord {
  std::string side;           // "ref" or "other"
  std::string tensor;
  std::string node;
  std::string op;
  std::string reason;         // e.g. "fused into QConv 'conv1'", "no tensor of that name"
};

// A hint at a cause (docs/report.md lists the recognised ones); filled by diagnosis.
struct CauseHint {
  std::string cause;          // stable id: "unsigned_grid", "bias_rounding", "non_vnni_saturation", ...
  int64_t pair = -1;          // index into Report::pairs, -1 for the whole run
  std::string message;        // one line for people
  // The numbers that fired it (docs/causes.md lists them per cause), e.g. {"ref_max_code", 127}.
  std::vector<std::pair<std::string, double>> evidence;
  std::string knob;           // the policy knob responsible ("act_order=after_scale"), "" when none
  int64_t pair_count = 0;     // pairs with the same signature (this entry names the first); 0 = not counted
};

struct ModelRecord {
  std::string path;
  std::string xxh64;          // hex digest of the file's bytes
  int64_t opset = 0;
  int64_t nodes = 0;
};

struct InputRecord {
  std::string name;           // graph input
  std::string file;
  std::string member;         // .npz member, "" if none
  DType dtype = DType::undefined;
  Shape shape;
  TensorStats stats;          // the input's NaN/Inf are visible here
};

// When a pair counts as divergent (the first such pair in reference order is the first
// divergence): more than `max_steps` steps of the reference scale when it has one, else
// an SQNR below `min_sqnr_db`; any non-finite mismatch always.
struct Thresholds {
  double max_steps = 1.0;
  double min_sqnr_db = 30.0;
};

struct Timings {
  double load_ms = 0;         // reading models and inputs, lowering
  double ref_ms = 0;          // running the reference
  double other_ms = 0;        // running the other side
  double measure_ms = 0;      // mapping and measuring (inside the observers)
  double total_ms = 0;
};

struct Report {
  std::string schema = kReportSchema;
  std::string tool_version;             // qdrift's version
  ModelRecord ref_model;
  ModelRecord other_model;              // same path as ref_model when other is a lowering of it
  std::string ref_executor;             // "ref", or "ref(range=narrow,rounding=half_away)"
  std::string other_executor;           // "int8", "oracle", "fp32", "ref" (second model)
  std::string policy;                   // int8_policy_describe() for int8/oracle, "" otherwise
  std::vector<std::string> notes;       // lowering and kernel notes, one line each
  std::vector<InputRecord> inputs;
  Thresholds thresholds;
  std::vector<PairRecord> pairs;        // reference production order
  std::vector<UnmatchedRecord> unmatched;
  int64_t first_divergence = -1;        // index into pairs, -1 when none
  // Graph outputs: fraction of output pairs whose argmax agrees (top-1 agreement), over
  // the pairs that are graph outputs on both sides; -1 when no output pair exists.
  double top1_agreement = -1;
  std::vector<CauseHint> causes;
  Timings timings;
};

}  // namespace qdrift
