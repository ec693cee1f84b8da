#include "diff/hints.h"

#include <algorithm>

#include <fmt/format.h>

namespace qdrift {

void add_nonfinite_input_hint(Report& report) {
  std::string inputs;
  for (const InputRecord& in : report.inputs) {
    if (in.stats.nan_count == 0 && in.stats.inf_count == 0) continue;
    inputs += fmt::format("{}'{}' ({} NaN, {} Inf of {})", inputs.empty() ? "" : ", ", in.name, in.stats.nan_count,
                          in.stats.inf_count, in.stats.count);
  }
  if (inputs.empty()) return;
  CauseHint h;
  h.cause = "nonfinite_input";
  for (size_t i = 0; i < report.pairs.size() && h.pair < 0; ++i) {
    const DriftMeasures& d = report.pairs[i].drift;
    if (report.pairs[i].divergent || d.nan_ref + d.inf_ref + d.nan_other + d.inf_other > 0)
      h.pair = static_cast<int64_t>(i);
  }
  h.message = fmt::format(
      "input {} holds non-finite values; QuantizeLinear of NaN is undefined in ONNX (the reference maps it to the "
      "zero point, saturating kernels usually to the lowest code) and Inf saturates, so drift downstream of it "
      "says more about the input than about the int8 runtime",
      inputs);
  report.causes.push_back(std::move(h));
}

void add_kernel_drift_hint(Report& report, const KernelInfo& kernels) {
  int64_t first = -1, count = 0;
  double worst = 0;
  for (size_t i = 0; i < report.pairs.size(); ++i) {
    const PairRecord& p = report.pairs[i];
    if (!p.has_kernel_check || p.kernel_differ == 0) continue;
    if (first < 0) first = static_cast<int64_t>(i);
    ++count;
    worst = std::max(worst, p.kernel_max_steps);
  }
  if (first < 0) return;
  const PairRecord& p = report.pairs[static_cast<size_t>(first)];
  CauseHint h;
  h.pair = first;
  const std::string what = fmt::format(
      "the int8 runtime differs from the integer oracle on the same int8 graph in {} tensor{}, first '{}' ({} "
      "element{}, up to {:.0f} step{}): kernel drift, not int8 semantics",
      count, count == 1 ? "" : "s", p.other.tensor, p.kernel_differ, p.kernel_differ == 1 ? "" : "s", worst,
      worst == 1 ? "" : "s");
  if (!kernels.int8_vnni) {
    h.cause = "non_vnni_saturation";
    h.message = fmt::format(
        "{}. This CPU runs {} on {} without VNNI, where int8 convolutions add u8*s8 products in pairs that saturate "
        "at 16 bits (and halve the weights for s8 inputs)",
        what, kernels.library, kernels.isa);
  } else {
    h.cause = "kernel_drift";
    h.message = fmt::format("{} ({} on {})", what, kernels.library, kernels.isa);
  }
  report.causes.push_back(std::move(h));
}

}  // namespace qdrift
