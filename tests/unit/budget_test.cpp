// Tests of the CI gate (diff/budget.h): budget files rejected with the field named, and
// evaluate_gate on hand-built reports, each check at its limit (pass) and just past it (fail).
#include <cmath>
#include <limits>
#include <string>

#include <gtest/gtest.h>

#include "diff/budget.h"

namespace qdrift {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

Budget parse_ok(const std::string& text) {
  auto b = parse_budget(text, "budget.json");
  EXPECT_TRUE(b.has_value()) << b.status().message();
  return b ? *b : Budget{};
}

// The error message of a budget that must be rejected; checks it is one line naming the file.
std::string parse_error(const std::string& text) {
  auto b = parse_budget(text, "budget.json");
  if (b) {
    ADD_FAILURE() << "accepted: " << text;
    return "";
  }
  const std::string& m = b.status().message();
  EXPECT_EQ(exit_code(b.status()), kExitBadInput);
  EXPECT_EQ(m.find('\n'), std::string::npos) << m;
  EXPECT_EQ(m.rfind("budget.json: ", 0), 0u) << m;
  return m;
}

std::string budget(const std::string& members) {
  return R"({"schema": "qdrift.budget/1")" + (members.empty() ? "" : ", " + members) + "}";
}

// ---- parsing --------------------------------------------------------------------------

TEST(BudgetParse, EveryField) {
  Budget b = parse_ok(R"({"schema": "qdrift.budget/1",
    "global": {"min_sqnr_db": 25, "max_steps": 2, "max_abs": 0.5, "min_cosine": 0.999},
    "layers": [{"match": "^conv1", "max_steps": 4}, {"match": "fc", "min_sqnr_db": -3.5, "min_cosine": -1}],
    "outputs": {"min_top1_agreement": 1.0},
    "baseline": {"max_sqnr_drop_db": 1.0, "max_steps_increase": 0},
    "allow_nonfinite": true})");
  EXPECT_EQ(b.global.min_sqnr_db, 25.0);
  EXPECT_EQ(b.global.max_steps, 2.0);
  EXPECT_EQ(b.global.max_abs, 0.5);
  EXPECT_EQ(b.global.min_cosine, 0.999);
  ASSERT_EQ(b.layers.size(), 2u);
  EXPECT_EQ(b.layers[0].match.pattern(), "^conv1");
  EXPECT_EQ(b.layers[0].limits.max_steps, 4.0);
  EXPECT_FALSE(b.layers[0].limits.min_sqnr_db.has_value());
  EXPECT_EQ(b.layers[1].limits.min_sqnr_db, -3.5);
  EXPECT_EQ(b.layers[1].limits.min_cosine, -1.0);
  EXPECT_TRUE(b.layers[0].match.search("conv1_out"));
  EXPECT_FALSE(b.layers[0].match.search("xconv1"));
  EXPECT_EQ(b.min_top1_agreement, 1.0);
  EXPECT_EQ(b.baseline_max_sqnr_drop_db, 1.0);
  EXPECT_EQ(b.baseline_max_steps_increase, 0.0);
  EXPECT_TRUE(b.allow_nonfinite);
}

TEST(BudgetParse, OnlySchemaMeansNoLimits) {
  Budget b = parse_ok(budget(""));
  EXPECT_FALSE(b.global.min_sqnr_db || b.global.max_steps || b.global.max_abs || b.global.min_cosine);
  EXPECT_TRUE(b.layers.empty());
  EXPECT_FALSE(b.min_top1_agreement || b.baseline_max_sqnr_drop_db || b.baseline_max_steps_increase);
  EXPECT_FALSE(b.allow_nonfinite);
  // null is the same as absent, for sections and limits alike.
  Budget n = parse_ok(budget(R"("global": {"max_steps": null}, "layers": null, "outputs": null)"));
  EXPECT_FALSE(n.global.max_steps.has_value());
}

TEST(BudgetParse, UnknownFieldsAreNamed) {
  EXPECT_EQ(parse_error(budget(R"("global": {"min_sqrn_db": 25})")), "budget.json: global.min_sqrn_db: unknown field");
  EXPECT_EQ(parse_error(budget(R"("globals": {})")), "budget.json: globals: unknown field");
  EXPECT_EQ(parse_error(budget(R"("layers": [{"match": "a"}, {"match": "b", "max_step": 1}])")),
            "budget.json: layers[1].max_step: unknown field");
  EXPECT_EQ(parse_error(budget(R"("outputs": {"min_top5_agreement": 1})")),
            "budget.json: outputs.min_top5_agreement: unknown field");
  EXPECT_EQ(parse_error(budget(R"("baseline": {"max_sqnr_drop": 1})")),
            "budget.json: baseline.max_sqnr_drop: unknown field");
  // A key from the file with a newline in it (fuzz_budget_json): still one line.
  EXPECT_EQ(parse_error(budget(R"("glo\nbal": {})")), "budget.json: glo?bal: unknown field");
}

TEST(BudgetParse, WrongTypesAreNamed) {
  EXPECT_EQ(parse_error(budget(R"("global": {"max_steps": "two"})")),
            "budget.json: global.max_steps: expected a number, got string");
  EXPECT_EQ(parse_error(budget(R"("global": [])")), "budget.json: global: expected an object, got array");
  EXPECT_EQ(parse_error(budget(R"("layers": {})")), "budget.json: layers: expected an array, got object");
  EXPECT_EQ(parse_error(budget(R"("layers": [3])")), "budget.json: layers[0]: expected an object, got number");
  EXPECT_EQ(parse_error(budget(R"("layers": [{"max_steps": 1}])")),
            "budget.json: layers[0].match: expected a string, got nothing");
  EXPECT_EQ(parse_error(budget(R"("allow_nonfinite": "yes")")),
            "budget.json: allow_nonfinite: expected true or false, got string");
  EXPECT_EQ(parse_error(R"([1, 2])"), "budget.json: expected an object, got array");
}

TEST(BudgetParse, SchemaMustMatch) {
  EXPECT_EQ(parse_error(R"({"global": {}})"), "budget.json: schema: expected a string, got nothing");
  EXPECT_EQ(parse_error(R"({"schema": "qdrift.budget/2"})"),
            "budget.json: schema: expected \"qdrift.budget/1\", got \"qdrift.budget/2\"");
  EXPECT_EQ(parse_error(R"({"schema": "qdrift.report/1"})"),
            "budget.json: schema: expected \"qdrift.budget/1\", got \"qdrift.report/1\"");
}

TEST(BudgetParse, LimitsMustBeSensible) {
  EXPECT_EQ(parse_error(budget(R"("global": {"max_steps": -1})")), "budget.json: global.max_steps: must be >= 0, got -1");
  EXPECT_EQ(parse_error(budget(R"("layers": [{"match": "x", "max_steps": -0.5}])")),
            "budget.json: layers[0].max_steps: must be >= 0, got -0.5");
  EXPECT_EQ(parse_error(budget(R"("global": {"max_abs": -0.1})")), "budget.json: global.max_abs: must be >= 0, got -0.1");
  EXPECT_EQ(parse_error(budget(R"("global": {"min_cosine": 1.5})")),
            "budget.json: global.min_cosine: must be in [-1, 1], got 1.5");
  EXPECT_EQ(parse_error(budget(R"("global": {"min_cosine": -1.01})")),
            "budget.json: global.min_cosine: must be in [-1, 1], got -1.01");
  EXPECT_EQ(parse_error(budget(R"("outputs": {"min_top1_agreement": 1.01})")),
            "budget.json: outputs.min_top1_agreement: must be in [0, 1], got 1.01");
  EXPECT_EQ(parse_error(budget(R"("outputs": {"min_top1_agreement": -0.1})")),
            "budget.json: outputs.min_top1_agreement: must be in [0, 1], got -0.1");
  EXPECT_EQ(parse_error(budget(R"("baseline": {"max_sqnr_drop_db": -1})")),
            "budget.json: baseline.max_sqnr_drop_db: must be >= 0, got -1");
  EXPECT_EQ(parse_error(budget(R"("baseline": {"max_steps_increase": -2})")),
            "budget.json: baseline.max_steps_increase: must be >= 0, got -2");
  // JSON has no non-finite numbers, but the readers take "inf"/"nan": never as a limit.
  EXPECT_EQ(parse_error(budget(R"("global": {"min_sqnr_db": "inf"})")),
            "budget.json: global.min_sqnr_db: must be a finite number, got inf");
  EXPECT_EQ(parse_error(budget(R"("global": {"max_steps": "nan"})")),
            "budget.json: global.max_steps: must be a finite number, got nan");
  // The edges themselves are fine.
  Budget b = parse_ok(budget(R"("global": {"max_steps": 0, "min_cosine": 1, "max_abs": 0},
                                "outputs": {"min_top1_agreement": 0})"));
  EXPECT_EQ(b.global.max_steps, 0.0);
  EXPECT_EQ(b.min_top1_agreement, 0.0);
}

TEST(BudgetParse, BadRegexIsNamed) {
  const std::string m = parse_error(budget(R"("layers": [{"match": "conv("}])"));
  EXPECT_EQ(m.rfind("budget.json: layers[0].match: not a valid regex", 0), 0u) << m;
  const std::string m2 = parse_error(budget(R"("layers": [{"match": "a"}, {"match": "[z-a]"}])"));
  EXPECT_EQ(m2.rfind("budget.json: layers[1].match: ", 0), 0u) << m2;
  // RE2 refuses repetition counts over 1000 and patterns past its memory budget.
  const std::string m3 = parse_error(budget(R"("layers": [{"match": "a{100000}"}])"));
  EXPECT_EQ(m3.rfind("budget.json: layers[0].match: ", 0), 0u) << m3;
  const std::string m4 = parse_error(budget(R"("layers": [{"match": ")" + std::string(5000, 'a') + R"("}])"));
  EXPECT_EQ(m4.rfind("budget.json: layers[0].match: ", 0), 0u) << m4;
}

TEST(BudgetParse, NotJsonAndDeepNesting) {
  EXPECT_EQ(parse_error("schema: qdrift.budget/1"), "budget.json: not valid JSON");
  EXPECT_EQ(parse_error(""), "budget.json: not valid JSON");
  const std::string deep = std::string(1000, '[') + std::string(1000, ']');
  EXPECT_NE(parse_error(deep).find("nested deeper"), std::string::npos);
}

TEST(BudgetParse, ReadBudgetLabelsWithThePath) {
  auto b = read_budget("/nonexistent/budget.json", Limits{});
  ASSERT_FALSE(b);
  EXPECT_NE(b.status().message().find("/nonexistent/budget.json"), std::string::npos) << b.status().message();
}

// ---- evaluate_gate --------------------------------------------------------------------

struct PairSpec {
  std::string tensor;
  double sqnr_db = 40;
  double max_abs = 0.01;
  double cosine = 0.9999;
  bool has_steps = true;
  double max_abs_steps = 1;
  int64_t nonfinite_mismatch = 0;
};

PairRecord pair(const PairSpec& s) {
  PairRecord p;
  p.ref.tensor = s.tensor;
  p.other.tensor = s.tensor;
  p.drift.count = 100;
  p.drift.sqnr_db = s.sqnr_db;
  p.drift.max_abs = s.max_abs;
  p.drift.cosine = s.cosine;
  p.drift.has_steps = s.has_steps;
  p.drift.max_abs_steps = s.max_abs_steps;
  p.drift.nonfinite_mismatch = s.nonfinite_mismatch;
  return p;
}

Report report(std::initializer_list<PairSpec> pairs, double top1 = -1) {
  Report r;
  for (const PairSpec& s : pairs) r.pairs.push_back(pair(s));
  r.top1_agreement = top1;
  return r;
}

// Only the checks named: no non-finite check unless a test asks for it.
Budget limits(const std::string& members) {
  Budget b = parse_ok(budget(members));
  return b;
}

TEST(EvaluateGate, MinSqnrAtAndPastTheLimit) {
  Budget b = limits(R"("global": {"min_sqnr_db": 25}, "allow_nonfinite": true)");
  GateResult at = evaluate_gate(report({{.tensor = "a", .sqnr_db = 25}}), b, nullptr);
  EXPECT_TRUE(at.pass);
  EXPECT_EQ(at.checks, 1);
  GateResult past = evaluate_gate(report({{.tensor = "a", .sqnr_db = 24.99}}), b, nullptr);
  EXPECT_FALSE(past.pass);
  ASSERT_EQ(past.violations.size(), 1u);
  const GateViolation& v = past.violations[0];
  EXPECT_EQ(v.tensor, "a");
  EXPECT_EQ(v.check, "min_sqnr_db");
  EXPECT_EQ(v.limit, 25);
  EXPECT_EQ(v.actual, 24.99);
  EXPECT_EQ(v.message, "a: min_sqnr_db: sqnr_db 24.99 dB is below the limit 25 dB");
  // Identical tensors have an infinite SQNR: that passes any limit.
  EXPECT_TRUE(evaluate_gate(report({{.tensor = "a", .sqnr_db = kInf}}), b, nullptr).pass);
  // A NaN measure never passes.
  EXPECT_FALSE(evaluate_gate(report({{.tensor = "a", .sqnr_db = kNaN}}), b, nullptr).pass);
}

TEST(EvaluateGate, MaxStepsOnlyForPairsWithSteps) {
  Budget b = limits(R"("global": {"max_steps": 2}, "allow_nonfinite": true)");
  GateResult at = evaluate_gate(report({{.tensor = "a", .max_abs_steps = 2}}), b, nullptr);
  EXPECT_TRUE(at.pass);
  EXPECT_EQ(at.checks, 1);
  GateResult past = evaluate_gate(report({{.tensor = "a", .max_abs_steps = 2.01}}), b, nullptr);
  ASSERT_EQ(past.violations.size(), 1u);
  EXPECT_EQ(past.violations[0].check, "max_steps");
  EXPECT_EQ(past.violations[0].message, "a: max_steps: max_abs_steps 2.01 is above the limit 2");
  // No reference scale: nothing to check, and nothing counted.
  GateResult none = evaluate_gate(report({{.tensor = "a", .has_steps = false, .max_abs_steps = 100}}), b, nullptr);
  EXPECT_TRUE(none.pass);
  EXPECT_EQ(none.checks, 0);
  EXPECT_FALSE(evaluate_gate(report({{.tensor = "a", .max_abs_steps = kNaN}}), b, nullptr).pass);
}

TEST(EvaluateGate, MaxAbsAtAndPastTheLimit) {
  Budget b = limits(R"("global": {"max_abs": 0.5}, "allow_nonfinite": true)");
  EXPECT_TRUE(evaluate_gate(report({{.tensor = "a", .max_abs = 0.5}}), b, nullptr).pass);
  GateResult past = evaluate_gate(report({{.tensor = "a", .max_abs = 0.5001}}), b, nullptr);
  ASSERT_EQ(past.violations.size(), 1u);
  EXPECT_EQ(past.violations[0].check, "max_abs");
  EXPECT_EQ(past.violations[0].actual, 0.5001);
}

TEST(EvaluateGate, MinCosineAtAndPastTheLimit) {
  Budget b = limits(R"("global": {"min_cosine": 0.999}, "allow_nonfinite": true)");
  EXPECT_TRUE(evaluate_gate(report({{.tensor = "a", .cosine = 0.999}}), b, nullptr).pass);
  GateResult past = evaluate_gate(report({{.tensor = "a", .cosine = 0.9989}}), b, nullptr);
  ASSERT_EQ(past.violations.size(), 1u);
  EXPECT_EQ(past.violations[0].check, "min_cosine");
  EXPECT_EQ(past.violations[0].limit, 0.999);
}

TEST(EvaluateGate, NonfiniteMismatchFailsUnlessAllowed) {
  // No limits at all: the non-finite check still runs, one per pair.
  Budget strict = limits("");
  GateResult clean = evaluate_gate(report({{.tensor = "a"}, {.tensor = "b"}}), strict, nullptr);
  EXPECT_TRUE(clean.pass);
  EXPECT_EQ(clean.checks, 2);
  GateResult nan = evaluate_gate(report({{.tensor = "a"}, {.tensor = "b", .nonfinite_mismatch = 3}}), strict, nullptr);
  EXPECT_FALSE(nan.pass);
  EXPECT_EQ(nan.checks, 2);
  ASSERT_EQ(nan.violations.size(), 1u);
  EXPECT_EQ(nan.violations[0].tensor, "b");
  EXPECT_EQ(nan.violations[0].check, "nonfinite");
  EXPECT_EQ(nan.violations[0].limit, 0);
  EXPECT_EQ(nan.violations[0].actual, 3);

  Budget allowed = limits(R"("allow_nonfinite": true)");
  GateResult ok = evaluate_gate(report({{.tensor = "b", .nonfinite_mismatch = 3}}), allowed, nullptr);
  EXPECT_TRUE(ok.pass);
  EXPECT_EQ(ok.checks, 0);
}

TEST(EvaluateGate, LayerOverridesFieldByField) {
  Budget b = limits(R"("global": {"min_sqnr_db": 25, "max_steps": 2},
                       "layers": [{"match": "^conv1", "max_steps": 4}, {"match": "conv", "max_steps": 10}],
                       "allow_nonfinite": true)");
  // conv1_out: max_steps from layers[0] (4), min_sqnr_db still global (25).
  EXPECT_TRUE(evaluate_gate(report({{.tensor = "conv1_out", .sqnr_db = 25, .max_abs_steps = 4}}), b, nullptr).pass);
  GateResult c1 = evaluate_gate(report({{.tensor = "conv1_out", .sqnr_db = 24, .max_abs_steps = 5}}), b, nullptr);
  EXPECT_EQ(c1.checks, 2);
  ASSERT_EQ(c1.violations.size(), 2u);
  EXPECT_EQ(c1.violations[0].check, "min_sqnr_db");
  EXPECT_EQ(c1.violations[0].limit, 25);
  EXPECT_EQ(c1.violations[1].check, "max_steps");
  EXPECT_EQ(c1.violations[1].limit, 4);  // the first matching entry wins, not layers[1]'s 10
  EXPECT_EQ(c1.violations[1].message, "conv1_out: max_steps: max_abs_steps 5 is above the limit 4 (layers[0])");
  // conv2_out: layers[1] (10); relu_out: global (2).
  EXPECT_TRUE(evaluate_gate(report({{.tensor = "conv2_out", .max_abs_steps = 10}}), b, nullptr).pass);
  GateResult relu = evaluate_gate(report({{.tensor = "relu_out", .max_abs_steps = 3}}), b, nullptr);
  ASSERT_EQ(relu.violations.size(), 1u);
  EXPECT_EQ(relu.violations[0].limit, 2);
  EXPECT_EQ(relu.violations[0].message, "relu_out: max_steps: max_abs_steps 3 is above the limit 2");
}

TEST(EvaluateGate, Top1Agreement) {
  Budget b = limits(R"("outputs": {"min_top1_agreement": 0.75}, "allow_nonfinite": true)");
  GateResult at = evaluate_gate(report({}, 0.75), b, nullptr);
  EXPECT_TRUE(at.pass);
  EXPECT_EQ(at.checks, 1);
  GateResult past = evaluate_gate(report({}, 0.5), b, nullptr);
  ASSERT_EQ(past.violations.size(), 1u);
  EXPECT_EQ(past.violations[0].tensor, "");
  EXPECT_EQ(past.violations[0].check, "min_top1_agreement");
  EXPECT_EQ(past.violations[0].actual, 0.5);
  // Asked for, but the report has no graph output pair: a violation, not a silent pass.
  GateResult none = evaluate_gate(report({}, -1), b, nullptr);
  ASSERT_EQ(none.violations.size(), 1u);
  EXPECT_NE(none.violations[0].message.find("no graph output pair to check"), std::string::npos);
  // Not asked for: not checked.
  EXPECT_EQ(evaluate_gate(report({}, -1), limits(""), nullptr).checks, 0);
}

TEST(EvaluateGate, BaselineSqnrDrop) {
  Budget b = limits(R"("baseline": {"max_sqnr_drop_db": 1}, "allow_nonfinite": true)");
  Report base = report({{.tensor = "a", .sqnr_db = 40}, {.tensor = "b", .sqnr_db = kInf}, {.tensor = "c", .sqnr_db = 30}});
  GateResult at = evaluate_gate(report({{.tensor = "a", .sqnr_db = 39}}), b, &base);
  EXPECT_TRUE(at.pass);
  EXPECT_EQ(at.checks, 1);
  GateResult past = evaluate_gate(report({{.tensor = "a", .sqnr_db = 38.5}}), b, &base);
  ASSERT_EQ(past.violations.size(), 1u);
  EXPECT_EQ(past.violations[0].check, "baseline_max_sqnr_drop_db");
  EXPECT_EQ(past.violations[0].limit, 1);
  EXPECT_EQ(past.violations[0].actual, 1.5);
  EXPECT_EQ(past.violations[0].message,
            "a: baseline_max_sqnr_drop_db: sqnr_db dropped by 1.5 dB (40 -> 38.5), above the limit 1 dB");
  // inf -> inf is no drop; inf -> finite is an infinite drop; finite -> inf is a gain.
  EXPECT_TRUE(evaluate_gate(report({{.tensor = "b", .sqnr_db = kInf}}), b, &base).pass);
  GateResult lost = evaluate_gate(report({{.tensor = "b", .sqnr_db = 90}}), b, &base);
  ASSERT_EQ(lost.violations.size(), 1u);
  EXPECT_EQ(lost.violations[0].actual, kInf);
  EXPECT_TRUE(evaluate_gate(report({{.tensor = "c", .sqnr_db = kInf}}), b, &base).pass);
  EXPECT_FALSE(evaluate_gate(report({{.tensor = "c", .sqnr_db = kNaN}}), b, &base).pass);
  // A tensor the baseline does not have is not compared (and not counted).
  GateResult fresh = evaluate_gate(report({{.tensor = "new", .sqnr_db = 1}}), b, &base);
  EXPECT_TRUE(fresh.pass);
  EXPECT_EQ(fresh.checks, 0);
  // Without a baseline report the baseline limits are not checked.
  EXPECT_EQ(evaluate_gate(report({{.tensor = "a", .sqnr_db = 1}}), b, nullptr).checks, 0);
}

TEST(EvaluateGate, BaselineStepsIncrease) {
  Budget b = limits(R"("baseline": {"max_steps_increase": 1}, "allow_nonfinite": true)");
  Report base = report({{.tensor = "a", .max_abs_steps = 1}, {.tensor = "n", .has_steps = false}});
  EXPECT_TRUE(evaluate_gate(report({{.tensor = "a", .max_abs_steps = 2}}), b, &base).pass);
  GateResult past = evaluate_gate(report({{.tensor = "a", .max_abs_steps = 2.5}}), b, &base);
  ASSERT_EQ(past.violations.size(), 1u);
  EXPECT_EQ(past.violations[0].check, "baseline_max_steps_increase");
  EXPECT_EQ(past.violations[0].actual, 1.5);
  // Steps on one side only: not comparable, not counted.
  GateResult n = evaluate_gate(report({{.tensor = "n", .max_abs_steps = 50}}), b, &base);
  EXPECT_TRUE(n.pass);
  EXPECT_EQ(n.checks, 0);
}

TEST(EvaluateGate, BaselineRepeatedNamesPairInOrder) {
  // One reference tensor paired with two others: the k-th meets the k-th.
  Budget b = limits(R"("baseline": {"max_sqnr_drop_db": 0}, "allow_nonfinite": true)");
  Report base = report({{.tensor = "x", .sqnr_db = 30}, {.tensor = "x", .sqnr_db = 50}});
  EXPECT_TRUE(evaluate_gate(report({{.tensor = "x", .sqnr_db = 30}, {.tensor = "x", .sqnr_db = 50}}), b, &base).pass);
  GateResult r = evaluate_gate(report({{.tensor = "x", .sqnr_db = 50}, {.tensor = "x", .sqnr_db = 30}}), b, &base);
  EXPECT_EQ(r.checks, 2);
  ASSERT_EQ(r.violations.size(), 1u);
  EXPECT_EQ(r.violations[0].actual, 20);
  // A third "x" has no baseline partner.
  EXPECT_EQ(evaluate_gate(report({{.tensor = "x"}, {.tensor = "x"}, {.tensor = "x"}}), b, &base).checks, 2);
}

TEST(EvaluateGate, ChecksAreCountedAndEveryViolationListed) {
  Budget b = limits(R"("global": {"min_sqnr_db": 25, "max_steps": 2, "max_abs": 0.5, "min_cosine": 0.99},
                       "outputs": {"min_top1_agreement": 1})");
  // 2 pairs x (4 limits + non-finite) + top-1 = 11 checks; the second pair fails all five.
  GateResult r = evaluate_gate(
      report({{.tensor = "ok"},
              {.tensor = "bad", .sqnr_db = 10, .max_abs = 1, .cosine = 0.5, .max_abs_steps = 9, .nonfinite_mismatch = 1}},
             1.0),
      b, nullptr);
  EXPECT_EQ(r.checks, 11);
  EXPECT_FALSE(r.pass);
  ASSERT_EQ(r.violations.size(), 5u);
  for (const GateViolation& v : r.violations) {
    EXPECT_EQ(v.tensor, "bad");
    EXPECT_EQ(v.message.rfind("bad: " + v.check + ": ", 0), 0u) << v.message;
  }
}

TEST(EvaluateGate, MessagesStayOnOneLine) {
  Budget b = limits(R"("global": {"min_sqnr_db": 25})");
  GateResult r = evaluate_gate(report({{.tensor = "a\nb", .sqnr_db = 1}}), b, nullptr);
  ASSERT_EQ(r.violations.size(), 1u);
  EXPECT_EQ(r.violations[0].tensor, "a\nb");
  EXPECT_EQ(r.violations[0].message.find('\n'), std::string::npos);
}

// RE2 matches in time linear in the name: a pattern that makes a backtracking matcher
// explode ((a|b)*c on 100,000 'a's never matches) is answered at once, not by a violation.
TEST(EvaluateGate, HugeNamesAreMatchedInLinearTime) {
  Budget b = limits(R"("global": {"max_steps": 1}, "layers": [{"match": "(a|b)*c", "max_steps": 4}, {"match": "(a*)*$", "max_steps": 8}])");
  GateResult r = evaluate_gate(report({{.tensor = std::string(100000, 'a'), .max_abs_steps = 6}}), b, nullptr);
  // layers[0] does not match (no 'c'); layers[1] does, so 6 steps are within its 8.
  EXPECT_TRUE(r.pass) << (r.violations.empty() ? "" : r.violations[0].message);
}

}  // namespace
}  // namespace qdrift
