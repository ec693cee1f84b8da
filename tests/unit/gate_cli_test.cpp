// Tests of `qdrift gate` through the real binary (QDRIFT_BINARY): exit 0 on pass, 1 on a
// failed gate, 2 on an unreadable or malformed report, baseline or budget. Reports are
// written with report_to_json from hand-built Report structs, so the numbers are known.
#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <utility>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "diff/junit.h"
#include "diff/report_json.h"
#include "tests/unit/qdrift_process.h"

namespace {

using qdrift::PairRecord;
using qdrift::Report;
using qdrift::testing_util::Proc;
using qdrift::testing_util::run_qdrift;
using qdrift::testing_util::slurp;
using qdrift::testing_util::spit;
using qdrift::testing_util::TempDir;

PairRecord pair(const std::string& tensor, double sqnr_db, double max_abs_steps, int64_t nonfinite = 0) {
  PairRecord p;
  p.ref.tensor = tensor;
  p.other.tensor = tensor;
  p.drift.count = 6;
  p.drift.sqnr_db = sqnr_db;
  p.drift.has_steps = true;
  p.drift.max_abs_steps = max_abs_steps;
  p.drift.nonfinite_mismatch = nonfinite;
  p.drift.nan_other = nonfinite;
  return p;
}

Report report(std::vector<PairRecord> pairs, double top1) {
  Report r;
  r.tool_version = "test";
  r.ref_executor = "ref";
  r.other_executor = "int8";
  r.pairs = std::move(pairs);
  r.top1_agreement = top1;
  return r;
}

constexpr const char* kBudget = R"({"schema": "qdrift.budget/1",
  "global": {"min_sqnr_db": 25, "max_steps": 2},
  "layers": [{"match": "^conv1", "max_steps": 4}],
  "outputs": {"min_top1_agreement": 1.0},
  "baseline": {"max_sqnr_drop_db": 1.0}})";

class GateCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    spit(path("budget.json"), kBudget);
    // 3 pairs x (min_sqnr_db, max_steps, non-finite) + top-1 = 10 checks, all within limits.
    spit(path("good.json"), qdrift::report_to_json(report(
                                {pair("conv1_out", 30, 4), pair("relu_out", 25, 2), pair("y", 40, 0)}, 1.0)));
  }

  std::string path(const std::string& name) const { return dir_.path(name); }

  Proc run(const std::vector<std::string>& args) { return run_qdrift(args, dir_); }

  TempDir dir_{"gate_cli_test"};  // kept for inspection when a test fails
};

TEST_F(GateCliTest, PassExitsZero) {
  Proc p = run({"gate", path("good.json"), "--budget", path("budget.json")});
  EXPECT_EQ(p.exit_code, 0) << p.err;
  EXPECT_EQ(p.err, "");
  EXPECT_NE(p.out.find("gate: PASS (10 checks)\n"), std::string::npos) << p.out;
  // The budget has baseline limits and no --baseline was given: said, not silently skipped.
  EXPECT_NE(p.out.find("not checked without --baseline"), std::string::npos) << p.out;
}

TEST_F(GateCliTest, FailExitsOneAndListsEachViolation) {
  // relu_out: 24.5 dB < 25 and 3 steps > 2; y: a NaN on the other side; top-1 0.5 < 1.
  spit(path("bad.json"), qdrift::report_to_json(report(
                             {pair("conv1_out", 30, 4), pair("relu_out", 24.5, 3), pair("y", 40, 0, 1)}, 0.5)));
  Proc p = run({"gate", path("bad.json"), "--budget", path("budget.json"), "--json", path("gate.json")});
  EXPECT_EQ(p.exit_code, 1) << p.err;
  EXPECT_EQ(p.err, "");
  EXPECT_NE(p.out.find("gate: FAIL: 4 of 10 checks\n"), std::string::npos) << p.out;
  EXPECT_NE(p.out.find("  relu_out: min_sqnr_db: sqnr_db 24.5 dB is below the limit 25 dB\n"), std::string::npos)
      << p.out;
  EXPECT_NE(p.out.find("  relu_out: max_steps: max_abs_steps 3 is above the limit 2\n"), std::string::npos) << p.out;
  EXPECT_NE(p.out.find("  y: nonfinite: 1 position"), std::string::npos) << p.out;
  EXPECT_NE(p.out.find("  min_top1_agreement: top1_agreement 0.5 is below the limit 1\n"), std::string::npos)
      << p.out;

  auto j = nlohmann::json::parse(slurp(path("gate.json")));
  EXPECT_EQ(j["schema"], "qdrift.gate/1");
  EXPECT_EQ(j["pass"], false);
  EXPECT_EQ(j["checks"], 10);
  EXPECT_EQ(j["failed"], 4);
  ASSERT_EQ(j["violations"].size(), 4u);
  EXPECT_EQ(j["violations"][0]["tensor"], "relu_out");
  EXPECT_EQ(j["violations"][0]["check"], "min_sqnr_db");
  EXPECT_EQ(j["violations"][0]["limit"], 25.0);
  EXPECT_EQ(j["violations"][0]["actual"], 24.5);
  EXPECT_EQ(j["violations"][3]["tensor"], "");
  EXPECT_EQ(j["violations"][3]["check"], "min_top1_agreement");
}

TEST_F(GateCliTest, BaselineDropFails) {
  // Against itself: nothing dropped (3 more checks). Against a baseline where y was exact
  // (inf dB), y's 40 dB is an infinite drop.
  Proc same = run({"gate", path("good.json"), "--budget", path("budget.json"), "--baseline", path("good.json")});
  EXPECT_EQ(same.exit_code, 0) << same.err;
  EXPECT_NE(same.out.find("gate: PASS (13 checks)\n"), std::string::npos) << same.out;

  const double inf = std::numeric_limits<double>::infinity();
  spit(path("base.json"), qdrift::report_to_json(report(
                              {pair("conv1_out", 30.5, 4), pair("relu_out", 25, 2), pair("y", inf, 0)}, 1.0)));
  Proc p = run({"gate", path("good.json"), "--budget", path("budget.json"), "--baseline", path("base.json"), "--json",
                path("gate.json")});
  EXPECT_EQ(p.exit_code, 1) << p.err;
  EXPECT_NE(p.out.find("gate: FAIL: 1 of 13 checks\n"), std::string::npos) << p.out;
  EXPECT_NE(p.out.find("  y: baseline_max_sqnr_drop_db: sqnr_db dropped by inf dB (inf -> 40)"), std::string::npos)
      << p.out;
  auto j = nlohmann::json::parse(slurp(path("gate.json")));
  EXPECT_EQ(j["violations"][0]["actual"], "inf");  // JSON has no inf: written as a string
  EXPECT_EQ(j["baseline"], path("base.json"));
}

TEST_F(GateCliTest, BadInputExitsTwo) {
  const auto expect_bad = [&](const std::vector<std::string>& args, const std::string& fragment) {
    Proc p = run(args);
    EXPECT_EQ(p.exit_code, 2) << p.out << p.err;
    EXPECT_EQ(p.out, "");
    EXPECT_EQ(p.err.rfind("qdrift: ", 0), 0u) << p.err;
    EXPECT_EQ(std::count(p.err.begin(), p.err.end(), '\n'), p.err.find("--help") == std::string::npos ? 1 : 2)
        << p.err;
    EXPECT_NE(p.err.find(fragment), std::string::npos) << p.err;
  };
  spit(path("typo.json"), R"({"schema": "qdrift.budget/1", "global": {"min_sqrn_db": 25}})");
  expect_bad({"gate", path("good.json"), "--budget", path("typo.json")}, "global.min_sqrn_db: unknown field");
  spit(path("not_json.json"), "min_sqnr_db = 25\n");
  expect_bad({"gate", path("good.json"), "--budget", path("not_json.json")}, "not valid JSON");
  expect_bad({"gate", path("good.json"), "--budget", path("missing.json")}, path("missing.json"));
  // The report and the baseline are read as strictly as the budget.
  spit(path("truncated.json"), slurp(path("good.json")).substr(0, 200));
  expect_bad({"gate", path("truncated.json"), "--budget", path("budget.json")}, path("truncated.json"));
  expect_bad({"gate", path("budget.json"), "--budget", path("budget.json")}, "schema");
  expect_bad({"gate", path("good.json"), "--budget", path("budget.json"), "--baseline", path("missing.json")},
             path("missing.json"));
  // Usage errors: no --budget, no report.
  expect_bad({"gate", path("good.json")}, "--budget");
  expect_bad({"gate", "--budget", path("budget.json")}, "report is required");
}

// Output of a shell command (xmllint), and its exit status.
std::pair<int, std::string> shell(const std::string& command) {
  std::string out;
  FILE* f = popen(command.c_str(), "r");
  if (!f) return {-1, out};
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof buf, f)) > 0;) out.append(buf, n);
  const int status = pclose(f);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

TEST_F(GateCliTest, JunitIsWellFormedWithOneTestcasePerCheck) {
  // Names straight from a model: markup, a control character, invalid UTF-8, and UTF-8 kept.
  const std::string hostile = std::string("a<b>&\"c\"\x01/\xff\xfe/") + "\xc3\xa9t\xc3\xa9";
  spit(path("bad.json"), qdrift::report_to_json(report(
                             {pair("conv1_out", 30, 4), pair(hostile, 24.5, 3), pair("y", 40, 0, 1)}, 0.5)));
  Proc p = run({"gate", path("bad.json"), "--budget", path("budget.json"), "--junit", path("gate.xml")});
  EXPECT_EQ(p.exit_code, 1) << p.err;
  const std::string xml = path("gate.xml");
  // xmllint (libxml2-utils, installed by scripts/setup.sh): well-formed, and the structure
  // Jenkins' and GitLab's JUnit readers walk.
  auto [lint_rc, lint_out] = shell("xmllint --noout " + xml + " 2>&1");
  EXPECT_EQ(lint_rc, 0) << lint_out << slurp(xml);
  const auto xpath = [&](const std::string& expr) {
    auto [rc, out] = shell("xmllint --xpath '" + expr + "' " + xml + " 2>&1");
    EXPECT_EQ(rc, 0) << expr << ": " << out;
    while (!out.empty() && out.back() == '\n') out.pop_back();
    return out;
  };
  EXPECT_EQ(xpath("count(/testsuites/testsuite)"), "1");
  EXPECT_EQ(xpath("count(/testsuites/testsuite/testcase)"), "10");  // the 10 checks
  EXPECT_EQ(xpath("string(/testsuites/testsuite/@tests)"), "10");
  EXPECT_EQ(xpath("string(/testsuites/testsuite/@failures)"), "4");
  EXPECT_EQ(xpath("count(/testsuites/testsuite/testcase/failure)"), "4");
  EXPECT_EQ(xpath("string(/testsuites/testsuite/testcase[failure][1]/@name)"),
            "a<b>&\"c\"?/\xef\xbf\xbd\xef\xbf\xbd/\xc3\xa9t\xc3\xa9: min_sqnr_db");  // the report's JSON made U+FFFD
  // The failure carries the violation line the console prints.
  EXPECT_EQ(xpath("string(/testsuites/testsuite/testcase[@name=\"y: nonfinite\"]/failure/@message)").rfind(
                "y: nonfinite: 1 position", 0),
            0u);
  EXPECT_EQ(xpath("string(/testsuites/testsuite/testcase[@name=\"min_top1_agreement\"]/failure/@message)"),
            "min_top1_agreement: top1_agreement 0.5 is below the limit 1");
  EXPECT_EQ(xpath("count(/testsuites/testsuite/testcase[@name=\"conv1_out: max_steps\"]/failure)"), "0");
}

// docs/ci.md's job: scripts/ci_drift.sh on the bundled model with the documented budget.
// The oracle side makes the result the same on every ISA; under policy onnx it is within one
// step everywhere, so the gate passes, and a second run against the first as baseline too.
TEST_F(GateCliTest, CiScriptWritesEveryArtifact) {
  const std::string src = QDRIFT_SOURCE_DIR;
  const std::string job = "QDRIFT=" + std::string(QDRIFT_BINARY) + " bash " + src + "/scripts/ci_drift.sh " + src +
                          "/testdata/mobilenet_tiny_qdq.onnx " + src + "/testdata/mobilenet_tiny_input.npy " + src +
                          "/testdata/ci_budget.json ";
  auto [rc, out] = shell(job + path("out") + " " + path("none.json") + " -- --against oracle 2>&1");
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("gate: PASS"), std::string::npos) << out;
  for (const char* f : {"report.json", "report.txt", "gate.json", "gate.xml"})
    EXPECT_TRUE(std::filesystem::exists(path("out") + "/" + f)) << f;
  EXPECT_NE(slurp(path("out") + "/report.txt").find("first divergence: none"), std::string::npos);
  auto [lint_rc, lint_out] = shell("xmllint --noout " + path("out") + "/gate.xml 2>&1");
  EXPECT_EQ(lint_rc, 0) << lint_out;
  auto [rc2, out2] = shell(job + path("out2") + " " + path("out") + "/report.json -- --against oracle 2>&1");
  EXPECT_EQ(rc2, 0) << out2;
  EXPECT_EQ(nlohmann::json::parse(slurp(path("out2") + "/gate.json"))["baseline"], path("out") + "/report.json");
}

// What the report's JSON reader already repairs (invalid UTF-8) is repaired here too, for
// GateResults built otherwise: XML 1.0 admits no control characters, even escaped.
TEST(GateJunit, EscapesMarkupControlCharactersAndInvalidUtf8) {
  EXPECT_EQ(qdrift::xml_escape("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&apos;");
  EXPECT_EQ(qdrift::xml_escape(std::string("t\x01\x1f\x7f\tx")), "t????x");
  EXPECT_EQ(qdrift::xml_escape("\xff\xc3(\xe2\x82"), "?\?(?\?");  // invalid and truncated sequences
  EXPECT_EQ(qdrift::xml_escape("\xed\xa0\x80\xc0\xaf"), "?????");      // a surrogate, an overlong '/'
  EXPECT_EQ(qdrift::xml_escape("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"), "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
}

TEST_F(GateCliTest, HelpListsExitCodes) {
  Proc p = run({"gate", "--help"});
  EXPECT_EQ(p.exit_code, 0);
  EXPECT_NE(p.out.find("--baseline"), std::string::npos);
  EXPECT_NE(p.out.find("--junit"), std::string::npos);
  EXPECT_NE(p.out.find("Exit codes: 0 the gate passed, 1 it failed, 2"), std::string::npos) << p.out;
}

}  // namespace
