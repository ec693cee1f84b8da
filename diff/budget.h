// budget.h: the CI gate: limits a drift report must stay within (schema "qdrift.budget/1",
// docs/gate.md), and the check of a report against them and against a baseline report.
//
//   {"schema": "qdrift.budget/1",
//    "global":   {"min_sqnr_db": 25, "max_steps": 2, "min_cosine": 0.999},
//    "layers":   [{"match": "^conv1", "max_steps": 4}],         // regex on the reference tensor
//    "outputs":  {"min_top1_agreement": 1.0},
//    "baseline": {"max_sqnr_drop_db": 1.0, "max_steps_increase": 1}}
//
//   QD_ASSIGN_OR_RETURN(Budget b, read_budget("budget.json", limits));
//   GateResult g = evaluate_gate(report, b, baseline_or_null);
//   return g.pass ? kExitOk : kExitGateFailed;
//
// A layer entry overrides the global limits field by field for the tensors it matches (the
// first matching entry wins). Non-finite mismatches always fail the gate unless
// "allow_nonfinite": true.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/limits.h"
#include "core/status.h"
#include "diff/report.h"
#include "diff/user_regex.h"

namespace qdrift {

inline constexpr const char* kBudgetSchema = "qdrift.budget/1";

struct PairLimits {
  std::optional<double> min_sqnr_db;
  std::optional<double> max_steps;     // max_abs_steps, for pairs with a reference scale
  std::optional<double> max_abs;       // real units
  std::optional<double> min_cosine;
};

struct Budget {
  PairLimits global;
  struct Layer {
    UserRegex match;                   // searched anywhere in the reference tensor name (RE2 syntax)
    PairLimits limits;
  };
  std::vector<Layer> layers;
  std::optional<double> min_top1_agreement;  // of graph outputs
  bool allow_nonfinite = false;
  // Against a baseline report, pair by pair (matched by reference tensor name):
  std::optional<double> baseline_max_sqnr_drop_db;
  std::optional<double> baseline_max_steps_increase;
};

Result<Budget> parse_budget(std::string_view text, std::string_view label);
Result<Budget> read_budget(const std::string& path, const Limits& limits);

struct GateViolation {
  std::string tensor;   // reference tensor, "" for run-wide checks
  std::string check;    // "min_sqnr_db", "max_steps", "baseline_max_sqnr_drop_db", ...
  double limit = 0;
  double actual = 0;
  std::string message;  // one line for people
};

// One limit evaluated on one pair (or on the whole run): a JUnit testcase (diff/junit.h).
struct GateCheck {
  std::string tensor;      // reference tensor, "" for run-wide checks
  std::string check;       // as in GateViolation
  int64_t violation = -1;  // index into GateResult::violations, -1 when it passed
};

struct GateResult {
  bool pass = true;
  int64_t checks = 0;   // limits evaluated
  std::vector<GateViolation> violations;
  std::vector<GateCheck> evaluated;  // every check in evaluation order (checks entries)
};

// `baseline` may be null. Pure function of its inputs.
GateResult evaluate_gate(const Report& report, const Budget& budget, const Report* baseline);

}  // namespace qdrift
