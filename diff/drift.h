// drift.h: runs the reference and the other side, pairs their tensors and measures every
// pair as the other side produces it: the heart of `qdrift diff`.
//
//   Report report;                                     // models, inputs, policy: the caller's
//   DriftOptions options{.thresholds = {.max_steps = 1}, .rules = &rules};
//   QD_RETURN_IF_ERROR(run_drift(ref_executor, inputs, int8_executor, inputs, options, report));
//   fmt::print("{}", format_report_text(report));      // pairs, first divergence, unmatched
//
// Executors know nothing of this file: it subscribes to their observers (core/executor.h).
// Both sides run in lockstep (ExecutorRun::step): the other side runs a node as soon as the
// reference has produced the partners it needs, so a paired reference tensor is kept (as
// produced: codes for quantized tensors) only until its partners are measured. A dump
// (a TensorSource without an executor) is read after the reference has run.
// Local drift: each other-side node with a paired output is also re-run alone
// (Executor::run_node) on the reference partners of its inputs, quantized with the other
// side's input parameters, and measured against the reference like the pair itself.
#pragma once

#include <functional>
#include <optional>
#include <span>

#include "core/executor.h"
#include "diff/mapping.h"
#include "diff/mapping_rules.h"
#include "diff/report.h"
#include "diff/tensor_source.h"

namespace qdrift {

struct DriftOptions {
  Thresholds thresholds;
  const MappingRules* rules = nullptr;  // optional
  bool other_derives_from_ref = true;   // false: the other side is a second model (map_tensors)
  // Optional: the other side's graph on a second kernel table (the integer oracle next to
  // oneDNN), run on other_inputs; each paired tensor of the other side is then compared
  // with it element by element (PairRecord::has_kernel_check).
  const Executor* kernel_check = nullptr;
  // Optional: receive each side's graph outputs as its executor returns them (qdrift eval
  // ranks the classes of both without running them again).
  std::vector<Tensor>* ref_outputs = nullptr;
  std::vector<Tensor>* other_outputs = nullptr;
  // Optional, for many runs of the same two executors (qdrift eval): the tensor mapping is
  // made on the first call, kept here, and reused.
  std::optional<Mapping>* mapping_cache = nullptr;
  // false: SideRecord gets names, dtype, shape and grid but no statistics or saturation
  // counts (qdrift eval aggregates the drift measures only).
  bool describe_sides = true;
  // Optional: called with every paired tensor of each side as it is produced (row-major,
  // native dtype), e.g. to save it (qdrift diff --save-tensors) or keep it (the GUI).
  std::function<void(bool ref_side, const Node& node, size_t output_index, const Value& value, const Tensor& tensor)> on_paired_tensor;
  // For a second model or a dump: complete the mapping by structure and value after names
  // and rules (diff/mapping_value.h; both sides then run once more). use_structure false:
  // by value and execution order only (a dump without its graph).
  bool map_by_value = true;
  bool use_structure = true;
  // Re-run each other-side node with a paired output on the reference's tensors and
  // measure it (PairRecord::local_drift): the error a layer adds, apart from what it inherits.
  bool local_drift = true;
};

// Fills report.pairs, unmatched, first_divergence, top1_agreement, thresholds and the
// ref/other/measure timings. Errors: the executors' (bad inputs), nothing else.
Status run_drift(const Executor& ref, std::span<const Tensor> ref_inputs, const Executor& other,
                 std::span<const Tensor> other_inputs, const DriftOptions& options, Report& report);
// The same with any source of the other side's tensors (an executor, a dump directory).
Status run_drift(const Executor& ref, std::span<const Tensor> ref_inputs, const TensorSource& other,
                 const DriftOptions& options, Report& report);

// The quantization grid a tensor of `graph` lives on, for dequantizing it and measuring
// steps: the tensor's own parameters, else its value's (lowered graphs), else those of the
// QuantizeLinear/DequantizeLinear that produced it, or the output scale and zero point of
// the QOperator node that produced it (QLinearConv, ...), or for int8 codes moved by
// MaxPool/Reshape/Concat/... the grid of their input; else that of the QuantizeLinear that
// is its only consumer (a float tensor about to be quantized). nullopt: a plain float tensor.
std::optional<QuantParams> tensor_grid(const Graph& graph, ValueId v, const Tensor* t);

}  // namespace qdrift
