// fuzz_budget_json: bytes -> parse_budget, and every budget it accepts evaluated on a small
// fixed report (with a baseline). Rejections must be one-line invalid_input messages naming
// the input; an accepted budget must evaluate without a crash or a hang, and the verdict must
// be consistent (pass exactly when nothing was violated, never more violations than checks).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <string_view>

#include "diff/budget.h"
#include "tests/fuzz/fuzz_common.h"

namespace {

using namespace qdrift;

PairRecord pair(const char* tensor, double sqnr_db, double max_abs_steps, bool has_steps, int64_t nonfinite) {
  PairRecord p;
  p.ref.tensor = tensor;
  p.other.tensor = tensor;
  p.drift.count = 4;
  p.drift.sqnr_db = sqnr_db;
  p.drift.max_abs = max_abs_steps * 0.1;
  p.drift.cosine = 0.99;
  p.drift.has_steps = has_steps;
  p.drift.max_abs_steps = max_abs_steps;
  p.drift.nonfinite_mismatch = nonfinite;
  return p;
}

// Edge values the gate must handle: identical (inf dB), NaN, no scale, a NaN mismatch, a
// reference tensor paired twice, a name with a newline.
const Report& fixed_report(bool baseline) {
  static const Report reports[2] = {
      [] {
        Report r;
        r.pairs = {pair("conv1_out", 31.5, 1, true, 0), pair("conv1_out", 18, 3, true, 0),
                   pair("relu\nout", std::numeric_limits<double>::infinity(), 0, true, 0),
                   pair("fc_out", std::numeric_limits<double>::quiet_NaN(), 0, false, 2), pair("y", 40, 0.5, true, 0)};
        r.top1_agreement = 0.5;
        return r;
      }(),
      [] {
        Report r;
        r.pairs = {pair("conv1_out", 32, 1, true, 0), pair("relu\nout", std::numeric_limits<double>::infinity(), 0,
                                                            true, 0),
                   pair("y", std::numeric_limits<double>::infinity(), 0, true, 0)};
        return r;
      }()};
  return reports[baseline ? 1 : 0];
}

void check_verdict(const GateResult& g) {
  if (g.pass != g.violations.empty() || static_cast<int64_t>(g.violations.size()) > g.checks) std::abort();
  for (const GateViolation& v : g.violations)
    if (v.message.empty() || v.message.find('\n') != std::string::npos || v.check.empty()) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto b = parse_budget(bytes, "fuzz.json");
  if (!b) {
    fuzz::check_rejection(b.status(), "fuzz.json");
    return 0;
  }
  check_verdict(evaluate_gate(fixed_report(false), *b, nullptr));
  check_verdict(evaluate_gate(fixed_report(false), *b, &fixed_report(true)));
  return 0;
}
