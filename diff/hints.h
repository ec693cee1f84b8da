// hints.h: named causes of drift, each with the numbers that fired it (docs/causes.md).
// Some need only the report; the rest also read the two graphs and the int8 policy.
//
//   add_nonfinite_input_hint(report);                 // NaN/Inf fed in: say so, at the first pair it reaches
//   add_kernel_drift_hint(report, {"2.6.3", "avx2", false});
//   add_cause_hints(report, {.ref = &model, .other = &lowered, .policy = &policy});
//   for (const CauseHint& c : report.causes) fmt::print("{} at pair {} ({})\n", c.cause, c.pair, c.knob);
//
// Each rule labels the first pair with its signature and counts the others alike
// (CauseHint::pair_count). Rules fire only on what the two sides do differently: under the
// onnx policy, whose int8 graph agrees with the reference apart from rounding ties, none fires.
#pragma once

#include <string>

#include "core/executor.h"
#include "core/graph.h"
#include "core/int8_policy.h"
#include "diff/report.h"

namespace qdrift {

// The int8 runtime's kernels, as the caller knows them (diff/ does not link oneDNN).
struct KernelInfo {
  std::string library;  // "oneDNN 2.6.3"
  std::string isa;      // "avx2", "avx512_core_vnni"
  bool int8_vnni = false;
};

// When an input holds NaN or Inf: a `nonfinite_input` hint naming the inputs and the first
// pair whose sides hold non-finite values or diverge (quantizing NaN is undefined in ONNX,
// so the two sides may legitimately disagree there).
void add_nonfinite_input_hint(Report& report);

// When the kernel check found oneDNN != the integer oracle somewhere: one hint at the first
// such pair: `non_vnni_saturation` on a CPU without VNNI, else `kernel_drift`.
void add_kernel_drift_hint(Report& report, const KernelInfo& kernels);

// What the cause rules read beyond the report.
struct CauseContext {
  const Graph* ref = nullptr;          // the reference model (the graph the report's ref side ran)
  const Graph* other = nullptr;        // the other side's graph: our lowering, or a second model
  const Int8Policy* policy = nullptr;  // set when `other` is our lowering of `ref` under it
  FakeQuantOptions fake_quant;         // the reference's QuantizeLinear (--fake-range, --fake-rounding)
};

// The named causes of docs/causes.md (all but nonfinite_input and the kernel check's):
// unsigned_grid, wrongly_unsigned, code_minus_128, act_scale_source, bias_rounding,
// weights_requantized, act_order, extra_saturation, rounding_ties, per_channel_mismatch,
// float_island, residual_rescale. Appends at most one CauseHint per cause.
void add_cause_hints(Report& report, const CauseContext& context);

}  // namespace qdrift
