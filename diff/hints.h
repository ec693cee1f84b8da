// hints.h: cause hints that need no more than the report itself (the full diagnosis of
// DESIGN.md's causes comes later and will live beside these).
//
//   add_nonfinite_input_hint(report);                 // NaN/Inf fed in: say so, at the first pair it reaches
//   add_kernel_drift_hint(report, {"2.6.3", "avx2", false});
#pragma once

#include <string>

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

}  // namespace qdrift
