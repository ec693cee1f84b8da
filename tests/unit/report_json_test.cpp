// The drift report as JSON (qdrift.report/1) and as text: a hand-built Report survives a
// round trip field by field (NaN, ±inf, per-axis scales, unmatched tensors, causes); a
// bad file is rejected with one line naming the field; the text table marks the first
// divergence, shows NaN/Inf findings and keeps to max_rows. Expected values are the ones
// this file builds, never output of the code under test.
#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <set>
#include <string>
#include <vector>

#include "diff/report_json.h"
#include "diff/report_text.h"

namespace qdrift {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

// ---------------------------------------------------------------- a report by hand

TensorStats stats(int64_t count, double avg, double min, double max, int64_t argmax, double std, int64_t nans = 0,
                  int64_t infs = 0) {
  TensorStats s;
  s.count = count;
  s.avg = avg;
  s.min = min;
  s.max = max;
  s.argmax = argmax;
  s.std = std;
  s.nan_count = nans;
  s.inf_count = infs;
  return s;
}

SideRecord side(std::string tensor, std::string node, std::string op, DType dtype, Shape shape) {
  SideRecord s;
  s.tensor = std::move(tensor);
  s.node = std::move(node);
  s.op = std::move(op);
  s.dtype = dtype;
  s.shape = std::move(shape);
  return s;
}

PairRecord pair_record(std::string ref_tensor, std::string other_tensor, MatchMethod method, double sqnr_db) {
  PairRecord p;
  p.method = method;
  p.ref = side(ref_tensor, ref_tensor + "_node", "Conv", DType::f32, {1, 4});
  p.other = side(other_tensor, other_tensor + "_node", "QConv", DType::u8, {1, 4});
  p.ref.stats = stats(4, 0.5, -1, 2, 3, 0.75);
  p.other.stats = stats(4, 130, 120, 150, 3, 11.5);
  p.drift.count = 4;
  p.drift.max_abs = 0.01;
  p.drift.max_abs_index = 2;
  p.drift.sqnr_db = sqnr_db;
  p.drift.cosine = 0.99991;
  return p;
}

// Three pairs: 0 identical (sqnr inf, u8 per tensor), 1 divergent per-axis s8 (the first
// divergence), 2 with NaN and Inf on the reference side; plus inputs, unmatched, causes.
Report sample_report() {
  Report r;
  r.tool_version = "0.3.0-test";
  r.ref_model = {"models/net.onnx", "0123456789abcdef", 13, 42};
  r.other_model = {"models/net.onnx", "0123456789abcdef", 13, 42};
  r.ref_executor = "ref(range=narrow,rounding=half_away)";
  r.other_executor = "int8";
  r.policy = "onnx: u8 activations, s8 weights per channel";
  r.notes = {"conv1: Relu fused", "fc: weights requantized per channel"};
  InputRecord in;
  in.name = "x";
  in.file = "inputs.npz";
  in.member = "x";
  in.dtype = DType::f32;
  in.shape = {1, 3, 2, 2};
  in.stats = stats(12, kNaN, -kInf, kInf, 5, kNaN, 2, 2);
  r.inputs.push_back(in);
  InputRecord in2;
  in2.name = "mask";
  in2.file = "mask.npy";
  in2.dtype = DType::boolean;
  in2.shape = {};
  in2.stats = stats(1, 1, 1, 1, 0, 0);
  r.inputs.push_back(in2);
  r.thresholds.max_steps = 1.5;
  r.thresholds.min_sqnr_db = 27.25;

  PairRecord p0 = pair_record("conv1_out", "conv1_q", MatchMethod::provenance, kInf);
  p0.match_detail = "fuse_conv_relu";
  p0.ref.quantized = p0.other.quantized = true;
  p0.ref.dtype = DType::u8;
  p0.ref.scale = {0.1f};
  p0.ref.zero_point = {128};
  p0.other.scale = {0.1f};
  p0.other.zero_point = {128};
  p0.ref.count_at_qmax = 1;
  p0.drift.max_abs = 0;
  p0.drift.frac_differ = 0;
  p0.drift.has_steps = true;
  p0.drift.steps_histogram = {4, 0, 0, 0, 0, 0, 0, 0};

  PairRecord p1 = pair_record("block2/conv/weights_quantized_output_with_a_very_long_name_indeed", "b2", MatchMethod::rule, 21.5);
  p1.match_detail = "rule 3: block2/* -> b2";
  p1.ref.dtype = DType::s8;
  p1.ref.shape = {1, 3, 2, 2};
  p1.ref.quantized = true;
  // Per axis 1: a scale with a short decimal, the smallest normal float, and one whose
  // shortest decimal has nine digits.
  p1.ref.scale = {0.1f, FLT_MIN, 0.123456791f};
  p1.ref.zero_point = {0, -5, std::numeric_limits<int32_t>::min()};
  p1.ref.axis = 1;
  p1.ref.stats = stats(12, -0.25, -128, 127, 7, 60.5);
  p1.ref.count_at_qmin = 2;
  p1.ref.count_at_qmax = 3;
  p1.other.dtype = DType::s32;
  p1.other.shape = {12};
  p1.other.stats = stats(12, 1e300, -1e-300, 1e300, 11, 5e-324);
  p1.drift.count = 12;
  p1.drift.max_abs_index = 11;
  p1.drift.max_abs = 0.30000000000000004;
  p1.drift.mean_abs = 1.0 / 3.0;
  p1.drift.rmse = 0.2;
  p1.drift.rel_l2 = -0.0;
  p1.drift.cosine = -1;
  p1.drift.argmax_agree = false;
  p1.drift.frac_differ = 0.75;
  p1.drift.has_steps = true;
  p1.drift.max_abs_steps = 3.5;
  p1.drift.steps_histogram = {1, 2, 3, 4, 0, 0, 0, 9223372036854775807};
  p1.divergent = true;
  p1.has_kernel_check = true;
  p1.kernel_differ = 5;
  p1.kernel_max_abs = 0.0625;
  p1.kernel_max_steps = 2.5;
  p1.has_local_drift = true;  // p0 and p2 have none: absent in the JSON
  p1.local_drift = p1.drift;
  p1.local_drift.max_abs_steps = 0.5;
  p1.local_drift.sqnr_db = kInf;
  p1.local_divergent = false;

  PairRecord p2 = pair_record("logits", "logits", MatchMethod::name, kNaN);
  p2.drift.count = 1;
  p2.drift.rel_l2 = kInf;
  p2.drift.max_abs = kNaN;
  p2.drift.max_abs_index = 3;
  p2.drift.nan_ref = 2;
  p2.drift.inf_ref = 1;
  p2.drift.nonfinite_mismatch = 3;
  p2.ref.stats = stats(4, kNaN, -kInf, -kInf, 1, kNaN, 2, 1);
  p2.divergent = true;
  p2.graph_output = true;

  r.pairs = {p0, p1, p2};
  r.first_divergence = 1;
  r.top1_agreement = 0.5;
  r.unmatched = {{"ref", "x_scale", "", "", "constant of a QuantizeLinear"},
                 {"other", "b2_requant", "b2", "QConv", "fused into QConv 'b2'"}};
  r.causes = {{"unsigned_grid", 1, "activations on u8 where the reference uses s8",
               {{"scale_ratio", 127.0 / 255.0}, {"max_abs_steps", std::numeric_limits<double>::infinity()}},
               "unsigned_after_relu=on", 2},
              {"non_vnni_saturation", -1, "whole run: 16-bit accumulator saturation", {}, "", 0}};
  r.timings = {12.5, 3.25, 1.0 / 7.0, 0.5, 17.0};
  return r;
}

// ---------------------------------------------------------------- field-by-field equality

// Equal as written: NaN equals NaN, and -0.0 differs from 0.0.
void expect_same(double a, double b, const std::string& what) {
  if (std::isnan(a) || std::isnan(b)) {
    EXPECT_TRUE(std::isnan(a) && std::isnan(b)) << what << ": " << a << " vs " << b;
    return;
  }
  EXPECT_EQ(a, b) << what;
  EXPECT_EQ(std::signbit(a), std::signbit(b)) << what << " (sign)";
}

void expect_same(const TensorStats& a, const TensorStats& b, const std::string& w) {
  EXPECT_EQ(a.count, b.count) << w;
  expect_same(a.avg, b.avg, w + ".avg");
  expect_same(a.min, b.min, w + ".min");
  expect_same(a.max, b.max, w + ".max");
  EXPECT_EQ(a.argmax, b.argmax) << w;
  expect_same(a.std, b.std, w + ".std");
  EXPECT_EQ(a.nan_count, b.nan_count) << w;
  EXPECT_EQ(a.inf_count, b.inf_count) << w;
}

void expect_same(const SideRecord& a, const SideRecord& b, const std::string& w) {
  EXPECT_EQ(a.tensor, b.tensor) << w;
  EXPECT_EQ(a.node, b.node) << w;
  EXPECT_EQ(a.op, b.op) << w;
  EXPECT_EQ(a.dtype, b.dtype) << w;
  EXPECT_EQ(a.shape, b.shape) << w;
  EXPECT_EQ(a.quantized, b.quantized) << w;
  ASSERT_EQ(a.scale.size(), b.scale.size()) << w;
  for (size_t i = 0; i < a.scale.size(); ++i) EXPECT_EQ(a.scale[i], b.scale[i]) << w << ".scale[" << i << "]";
  EXPECT_EQ(a.zero_point, b.zero_point) << w;
  EXPECT_EQ(a.axis, b.axis) << w;
  expect_same(a.stats, b.stats, w + ".stats");
  EXPECT_EQ(a.count_at_qmin, b.count_at_qmin) << w;
  EXPECT_EQ(a.count_at_qmax, b.count_at_qmax) << w;
}

void expect_same(const DriftMeasures& a, const DriftMeasures& b, const std::string& w) {
  EXPECT_EQ(a.count, b.count) << w;
  expect_same(a.max_abs, b.max_abs, w + ".max_abs");
  EXPECT_EQ(a.max_abs_index, b.max_abs_index) << w;
  expect_same(a.mean_abs, b.mean_abs, w + ".mean_abs");
  expect_same(a.rmse, b.rmse, w + ".rmse");
  expect_same(a.rel_l2, b.rel_l2, w + ".rel_l2");
  expect_same(a.sqnr_db, b.sqnr_db, w + ".sqnr_db");
  expect_same(a.cosine, b.cosine, w + ".cosine");
  EXPECT_EQ(a.argmax_agree, b.argmax_agree) << w;
  expect_same(a.frac_differ, b.frac_differ, w + ".frac_differ");
  EXPECT_EQ(a.has_steps, b.has_steps) << w;
  expect_same(a.max_abs_steps, b.max_abs_steps, w + ".max_abs_steps");
  EXPECT_EQ(a.steps_histogram, b.steps_histogram) << w;
  EXPECT_EQ(a.nan_ref, b.nan_ref) << w;
  EXPECT_EQ(a.inf_ref, b.inf_ref) << w;
  EXPECT_EQ(a.nan_other, b.nan_other) << w;
  EXPECT_EQ(a.inf_other, b.inf_other) << w;
  EXPECT_EQ(a.nonfinite_mismatch, b.nonfinite_mismatch) << w;
}

void expect_same(const ModelRecord& a, const ModelRecord& b, const std::string& w) {
  EXPECT_EQ(a.path, b.path) << w;
  EXPECT_EQ(a.xxh64, b.xxh64) << w;
  EXPECT_EQ(a.opset, b.opset) << w;
  EXPECT_EQ(a.nodes, b.nodes) << w;
}

void expect_same(const Report& a, const Report& b) {
  EXPECT_EQ(a.schema, b.schema);
  EXPECT_EQ(a.tool_version, b.tool_version);
  expect_same(a.ref_model, b.ref_model, "ref_model");
  expect_same(a.other_model, b.other_model, "other_model");
  EXPECT_EQ(a.ref_executor, b.ref_executor);
  EXPECT_EQ(a.other_executor, b.other_executor);
  EXPECT_EQ(a.policy, b.policy);
  EXPECT_EQ(a.notes, b.notes);
  ASSERT_EQ(a.inputs.size(), b.inputs.size());
  for (size_t i = 0; i < a.inputs.size(); ++i) {
    const std::string w = "inputs[" + std::to_string(i) + "]";
    EXPECT_EQ(a.inputs[i].name, b.inputs[i].name) << w;
    EXPECT_EQ(a.inputs[i].file, b.inputs[i].file) << w;
    EXPECT_EQ(a.inputs[i].member, b.inputs[i].member) << w;
    EXPECT_EQ(a.inputs[i].dtype, b.inputs[i].dtype) << w;
    EXPECT_EQ(a.inputs[i].shape, b.inputs[i].shape) << w;
    expect_same(a.inputs[i].stats, b.inputs[i].stats, w + ".stats");
  }
  expect_same(a.thresholds.max_steps, b.thresholds.max_steps, "thresholds.max_steps");
  expect_same(a.thresholds.min_sqnr_db, b.thresholds.min_sqnr_db, "thresholds.min_sqnr_db");
  ASSERT_EQ(a.pairs.size(), b.pairs.size());
  for (size_t i = 0; i < a.pairs.size(); ++i) {
    const std::string w = "pairs[" + std::to_string(i) + "]";
    EXPECT_EQ(a.pairs[i].method, b.pairs[i].method) << w;
    EXPECT_EQ(a.pairs[i].match_detail, b.pairs[i].match_detail) << w;
    expect_same(a.pairs[i].ref, b.pairs[i].ref, w + ".ref");
    expect_same(a.pairs[i].other, b.pairs[i].other, w + ".other");
    expect_same(a.pairs[i].drift, b.pairs[i].drift, w + ".drift");
    EXPECT_EQ(a.pairs[i].divergent, b.pairs[i].divergent) << w;
    EXPECT_EQ(a.pairs[i].graph_output, b.pairs[i].graph_output) << w;
    EXPECT_EQ(a.pairs[i].has_kernel_check, b.pairs[i].has_kernel_check) << w;
    EXPECT_EQ(a.pairs[i].kernel_differ, b.pairs[i].kernel_differ) << w;
    expect_same(a.pairs[i].kernel_max_abs, b.pairs[i].kernel_max_abs, w + ".kernel_max_abs");
    expect_same(a.pairs[i].kernel_max_steps, b.pairs[i].kernel_max_steps, w + ".kernel_max_steps");
    EXPECT_EQ(a.pairs[i].has_local_drift, b.pairs[i].has_local_drift) << w;
    if (a.pairs[i].has_local_drift && b.pairs[i].has_local_drift)
      expect_same(a.pairs[i].local_drift, b.pairs[i].local_drift, w + ".local_drift");
    EXPECT_EQ(a.pairs[i].local_divergent, b.pairs[i].local_divergent) << w;
  }
  ASSERT_EQ(a.unmatched.size(), b.unmatched.size());
  for (size_t i = 0; i < a.unmatched.size(); ++i) {
    EXPECT_EQ(a.unmatched[i].side, b.unmatched[i].side);
    EXPECT_EQ(a.unmatched[i].tensor, b.unmatched[i].tensor);
    EXPECT_EQ(a.unmatched[i].node, b.unmatched[i].node);
    EXPECT_EQ(a.unmatched[i].op, b.unmatched[i].op);
    EXPECT_EQ(a.unmatched[i].reason, b.unmatched[i].reason);
  }
  EXPECT_EQ(a.first_divergence, b.first_divergence);
  expect_same(a.top1_agreement, b.top1_agreement, "top1_agreement");
  ASSERT_EQ(a.causes.size(), b.causes.size());
  for (size_t i = 0; i < a.causes.size(); ++i) {
    EXPECT_EQ(a.causes[i].cause, b.causes[i].cause);
    EXPECT_EQ(a.causes[i].pair, b.causes[i].pair);
    EXPECT_EQ(a.causes[i].message, b.causes[i].message);
    EXPECT_EQ(a.causes[i].knob, b.causes[i].knob);
    EXPECT_EQ(a.causes[i].pair_count, b.causes[i].pair_count);
    EXPECT_EQ(a.causes[i].evidence, b.causes[i].evidence);  // in order, doubles exact (inf as "inf")
  }
  expect_same(a.timings.load_ms, b.timings.load_ms, "timings.load_ms");
  expect_same(a.timings.ref_ms, b.timings.ref_ms, "timings.ref_ms");
  expect_same(a.timings.other_ms, b.timings.other_ms, "timings.other_ms");
  expect_same(a.timings.measure_ms, b.timings.measure_ms, "timings.measure_ms");
  expect_same(a.timings.total_ms, b.timings.total_ms, "timings.total_ms");
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  return lines;
}

// ---------------------------------------------------------------- JSON

TEST(ReportJson, RoundTripIsFieldByFieldEqual) {
  const Report r = sample_report();
  const std::string text = report_to_json(r);
  auto back = parse_report_json(text, "r.json");
  ASSERT_TRUE(back) << back.status().message();
  expect_same(r, *back);
}

TEST(ReportJson, TopLevelKeysInDocumentedOrderAndOnePairPerLine) {
  const Report r = sample_report();
  const ordered_json j = report_to_json_value(r);
  std::vector<std::string> keys;
  for (const auto& [k, v] : j.items()) keys.push_back(k);
  EXPECT_EQ(keys, (std::vector<std::string>{"schema", "tool_version", "ref_model", "other_model", "ref_executor",
                                            "other_executor", "policy", "notes", "inputs", "thresholds",
                                            "first_divergence", "top1_agreement", "pairs", "unmatched", "causes",
                                            "timings"}));
  EXPECT_EQ(j["schema"], "qdrift.report/1");
  EXPECT_EQ(j["pairs"][1]["ref"]["dtype"], "s8");
  EXPECT_EQ(j["pairs"][0]["method"], "provenance");
  EXPECT_EQ(j["pairs"][0]["drift"]["sqnr_db"], "inf");
  EXPECT_EQ(j["pairs"][2]["drift"]["max_abs"], "nan");
  EXPECT_EQ(j["inputs"][0]["stats"]["min"], "-inf");
  EXPECT_EQ(j["pairs"][1]["ref"]["scale"][0].get<double>(), 0.1);  // the short decimal, not 0.10000000149011612
  int pair_lines = 0;
  for (const std::string& l : lines_of(report_to_json(r))) {
    if (l.find("\"method\"") != std::string::npos) {
      ++pair_lines;
      EXPECT_NE(l.find("\"drift\""), std::string::npos) << l;  // the whole pair on this line
    }
  }
  EXPECT_EQ(pair_lines, 3);
}

TEST(ReportJson, ReadsTheFileItWasGivenAndNamesIt) {
  const std::string path = (std::filesystem::temp_directory_path() / "qdrift_report_json_test.json").string();
  {
    std::ofstream out(path, std::ios::binary);
    out << report_to_json(sample_report());
  }
  auto back = read_report_json(path, Limits{});
  std::remove(path.c_str());
  ASSERT_TRUE(back) << back.status().message();
  expect_same(sample_report(), *back);
  auto missing = read_report_json(path, Limits{});
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.status().message().find(path), std::string::npos) << missing.status().message();
}

TEST(ReportJson, UnknownFieldsAreIgnored) {
  ordered_json j = report_to_json_value(sample_report());
  j["added_in_1_1"] = {{"x", 1}};
  j["pairs"][0]["p99_steps"] = 0.5;
  j["pairs"][0]["drift"]["p99_abs"] = 0.25;
  auto back = parse_report_json(j.dump(), "r.json");
  ASSERT_TRUE(back) << back.status().message();
  expect_same(sample_report(), *back);
}

// Reports written before causes had knob, pair_count and evidence still read.
TEST(ReportJson, CausesWithoutKnobOrEvidenceRead) {
  ordered_json j = report_to_json_value(sample_report());
  for (auto& c : j["causes"]) {
    c.erase("knob");
    c.erase("pair_count");
    c.erase("evidence");
  }
  auto back = parse_report_json(j.dump(), "r.json");
  ASSERT_TRUE(back) << back.status().message();
  ASSERT_EQ(back->causes.size(), 2u);
  EXPECT_TRUE(back->causes[0].evidence.empty());
  EXPECT_EQ(back->causes[0].knob, "");
  EXPECT_EQ(back->causes[0].pair_count, 0);
  j["causes"][0]["evidence"] = {{"scale_ratio", "half"}};
  auto bad = parse_report_json(j.dump(), "r.json");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.status().message().find("causes[0].evidence.scale_ratio"), std::string::npos) << bad.status().message();
}

void expect_rejected(const ordered_json& j, const std::string& expected) {
  auto r = parse_report_json(j.dump(), "r.json");
  ASSERT_FALSE(r) << "accepted; expected: " << expected;
  const std::string& m = r.status().message();
  EXPECT_EQ(r.status().code(), StatusCode::invalid_input) << m;
  EXPECT_EQ(m.find('\n'), std::string::npos) << m;
  EXPECT_EQ(m, expected);
}

TEST(ReportJson, SchemaMismatchNamesTheSchemaFound) {
  ordered_json j = report_to_json_value(sample_report());
  j["schema"] = "qdrift.report/2";
  expect_rejected(j, "r.json: schema: expected \"qdrift.report/1\", found \"qdrift.report/2\"");
  j["schema"] = "qdrift.run/1\nsecond line";
  expect_rejected(j, "r.json: schema: expected \"qdrift.report/1\", found \"qdrift.run/1\\nsecond line\"");
  j.erase("schema");
  expect_rejected(j, "r.json: schema: expected a string, got nothing");
  expect_rejected(ordered_json::array(), "r.json: expected an object, got array");
}

struct BadField {
  std::string pointer;  // JSON pointer of the field to replace or ("-" value) remove
  ordered_json value;
  std::string message;  // the whole expected message
};

TEST(ReportJson, MistypedOrMissingFieldsNameTheirPath) {
  const ordered_json remove = "<remove>";
  const std::vector<BadField> cases = {
      {"/pairs/1/drift/sqnr_db", ordered_json::object(), "r.json: pairs[1].drift.sqnr_db: expected a number, got object"},
      {"/pairs/0/ref/dtype", remove, "r.json: pairs[0].ref.dtype: expected a string, got nothing"},
      {"/pairs/0/ref/dtype", "f16", "r.json: pairs[0].ref.dtype: unknown dtype \"f16\""},
      {"/pairs/2/method", "telepathy", "r.json: pairs[2].method: unknown match method \"telepathy\""},
      {"/timings/total_ms", true, "r.json: timings.total_ms: expected a number, got boolean"},
      {"/timings", remove, "r.json: timings: expected an object, got nothing"},
      {"/inputs/0/shape", "1x3", "r.json: inputs[0].shape: expected an array, got string"},
      {"/inputs/0/shape/1", -3, "r.json: inputs[0].shape[1]: negative dimension"},
      {"/inputs/1/stats/count", 2.5, "r.json: inputs[1].stats.count: expected an integer, got number"},
      {"/pairs/0/other/stats/nan_count", -1, "r.json: pairs[0].other.stats.nan_count: expected a count >= 0, got -1"},
      {"/pairs/0/ref/stats/argmax", 4, "r.json: pairs[0].ref.stats.argmax: element index 4 is out of range [-1, 4)"},
      {"/pairs/0/drift/max_abs_index", 4, "r.json: pairs[0].drift.max_abs_index: element index 4 is out of range [-1, 4)"},
      {"/pairs/1/ref/zero_point/0", 2147483648LL, "r.json: pairs[1].ref.zero_point[0]: 2147483648 is outside the int32 range"},
      {"/pairs/1/ref/scale/1", 1e39, "r.json: pairs[1].ref.scale[1]: 1e+39 is outside the f32 range"},
      {"/pairs/1/ref/axis", 0,
       "r.json: pairs[1].ref: 3 scales and 3 zero points along axis 0 do not fit shape [1,3,2,2]"},
      {"/pairs/1/drift/steps_histogram", std::vector<int>(65, 1),
       "r.json: pairs[1].drift.steps_histogram: 65 bins, more than the limit of 64"},
      {"/pairs/1/drift/steps_histogram/2", "3", "r.json: pairs[1].drift.steps_histogram[2]: expected an integer, got string"},
      {"/pairs/1/other/shape", std::vector<int>(17, 1), "r.json: pairs[1].other.shape: rank 17 is above the limit of 16"},
      {"/pairs/1/divergent", 1, "r.json: pairs[1].divergent: expected true or false, got number"},
      {"/pairs/1/kernel_differ", -5, "r.json: pairs[1].kernel_differ: expected a count >= 0, got -5"},
      {"/pairs/0/kernel_max_steps", remove, "r.json: pairs[0].kernel_max_steps: expected a number, got nothing"},
      {"/pairs/1/local_drift/count", -1, "r.json: pairs[1].local_drift.count: expected a count >= 0, got -1"},
      {"/pairs/1/local_divergent", remove, "r.json: pairs[1].local_divergent: expected true or false, got nothing"},
      {"/unmatched/0/side", "both", "r.json: unmatched[0].side: expected \"ref\" or \"other\", got \"both\""},
      {"/causes/0/pair", 3, "r.json: causes[0].pair: pair index 3 is out of range [-1, 3)"},
      {"/notes/1", nullptr, "r.json: notes[1]: expected a string, got nothing"},
      {"/ref_model/opset", "13", "r.json: ref_model.opset: expected an integer, got string"},
  };
  for (const BadField& c : cases) {
    SCOPED_TRACE(c.pointer);
    ordered_json j = report_to_json_value(sample_report());
    const ordered_json::json_pointer ptr(c.pointer);
    if (c.value == remove)
      j[ptr.parent_pointer()].erase(ptr.back());
    else
      j[ptr] = c.value;
    expect_rejected(j, c.message);
  }
}

TEST(ReportJson, FirstDivergenceMustIndexAPair) {
  ordered_json j = report_to_json_value(sample_report());
  j["first_divergence"] = 3;
  expect_rejected(j, "r.json: first_divergence: pair index 3 is out of range [-1, 3)");
  j["first_divergence"] = -2;
  expect_rejected(j, "r.json: first_divergence: pair index -2 is out of range [-1, 3)");
  j["first_divergence"] = 9223372036854775807LL;
  expect_rejected(j, "r.json: first_divergence: pair index 9223372036854775807 is out of range [-1, 3)");
  j["first_divergence"] = -1;
  auto ok = parse_report_json(j.dump(), "r.json");
  ASSERT_TRUE(ok) << ok.status().message();
  EXPECT_EQ(ok->first_divergence, -1);
}

TEST(ReportJson, NestingBombIsRejectedInOneLine) {
  const std::string bomb = std::string(100000, '[') + std::string(100000, ']');
  auto r = parse_report_json(bomb, "bomb.json");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.status().message(), "bomb.json: JSON nested deeper than 64 levels");
  // The same inside an otherwise valid report.
  std::string text = report_to_json(sample_report());
  text.insert(1, "\"future\": " + std::string(70, '[') + std::string(70, ']') + ",");
  auto r2 = parse_report_json(text, "r.json");
  ASSERT_FALSE(r2);
  EXPECT_EQ(r2.status().message(), "r.json: JSON nested deeper than 64 levels");
  const std::string plain = report_to_json(sample_report());
  auto r3 = parse_report_json(plain.substr(0, plain.size() / 2), "r.json");
  ASSERT_FALSE(r3);
  EXPECT_EQ(r3.status().message(), "r.json: not valid JSON");
}

// ---------------------------------------------------------------- text

// The line after the first line starting with `prefix` ("" if none).
std::string text_of_row_after(const std::vector<std::string>& lines, const std::string& prefix) {
  for (size_t i = 0; i + 1 < lines.size(); ++i)
    if (lines[i].rfind(prefix, 0) == 0) return lines[i + 1];
  return "";
}

TEST(ReportText, MarksTheFirstDivergenceAndShowsNaNInf) {
  const Report r = sample_report();
  const std::vector<std::string> lines = lines_of(format_report_text(r));
  int marks = 0;
  size_t logits_row = lines.size();
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string& l = lines[i];
    if (l.find("<- first divergence") != std::string::npos) {
      ++marks;
      EXPECT_EQ(l.rfind("  1  block2/", 0), 0u) << l;  // pair 1's row
      EXPECT_NE(l.find("b2"), std::string::npos) << l;
      EXPECT_NE(l.find("3.50"), std::string::npos) << l;  // its max steps
    }
    if (l.rfind("  2  logits", 0) == 0) logits_row = i;
    if (l.rfind("  1  ", 0) == 0) {  // the table row: the long name cut in the middle, both ends kept
      EXPECT_EQ(l.find("weights_quantized_output_with_a_very_long_name_indeed"), std::string::npos) << l;
      EXPECT_NE(l.find("..."), std::string::npos) << l;
      EXPECT_NE(l.find("name_indeed"), std::string::npos) << l;
    }
  }
  EXPECT_EQ(marks, 1);
  ASSERT_LT(logits_row + 1, lines.size());
  EXPECT_NE(text_of_row_after(lines, "  1  ").find("kernel: oneDNN differs from the integer oracle at 5 elements, max 0.0625 (2.50 steps)"),
            std::string::npos);
  EXPECT_NE(lines[logits_row + 1].find("NaN/Inf: ref 2 NaN 1 Inf, other 0 NaN 0 Inf, 3 positions mismatched"),
            std::string::npos)
      << lines[logits_row + 1];
  const std::string text = format_report_text(r);
  EXPECT_NE(text.find("(2 NaN, 2 Inf of 12)"), std::string::npos) << text;  // input x
  EXPECT_NE(text.find("first divergence: pair 1,"), std::string::npos) << text;
  EXPECT_NE(text.find("unmatched: 2 tensors (1 ref, 1 other)"), std::string::npos) << text;
  EXPECT_NE(text.find("unsigned_grid"), std::string::npos) << text;
  EXPECT_NE(text.find("top-1 agreement: 50.0%"), std::string::npos) << text;
}

TEST(ReportText, ColumnsStayAlignedWithLongNames) {
  const std::vector<std::string> lines = lines_of(format_report_text(sample_report()));
  // Every table row (header and pairs) has its "sqnr_db" column ending at the same place.
  std::string header, row[3];
  for (const std::string& l : lines) {
    if (l.find("ref tensor") != std::string::npos) header = l;
    for (int i = 0; i < 3; ++i)
      if (l.rfind("  " + std::to_string(i) + "  ", 0) == 0) row[i] = l;
  }
  ASSERT_NE(header.find("sqnr_db"), std::string::npos);
  const size_t end = header.find("sqnr_db") + 7;
  EXPECT_EQ(row[0].substr(end - 3, 3), "inf") << row[0];
  EXPECT_EQ(row[1].substr(end - 4, 4), "21.5") << row[1];
  EXPECT_EQ(row[2].substr(end - 3, 3), "nan") << row[2];
}

TEST(ReportText, MaxRowsShowsTheNeighbourhoodAndTheWorst) {
  Report r;
  for (int i = 0; i < 40; ++i) r.pairs.push_back(pair_record("t" + std::to_string(i), "o" + std::to_string(i), MatchMethod::name, 60));
  r.first_divergence = 20;
  r.pairs[20].divergent = true;
  r.pairs[20].drift.sqnr_db = 25;
  r.pairs[35].divergent = true;
  r.pairs[35].drift.sqnr_db = 10;  // the worst
  r.pairs[3].drift.sqnr_db = 45;   // next worst, not divergent
  const std::vector<std::string> lines = lines_of(format_report_text(r, {.max_rows = 7}));
  std::vector<std::string> shown;
  int skipped = 0;
  for (const std::string& l : lines) {
    int n = 0;
    char name[16];
    if (std::sscanf(l.c_str(), " %d t%15s", &n, name) == 2) shown.push_back(std::to_string(n));
    if (std::sscanf(l.c_str(), " ... %d more pair", &n) == 1) skipped += n;
  }
  EXPECT_EQ(shown, (std::vector<std::string>{"3", "18", "19", "20", "21", "22", "35"}));
  EXPECT_EQ(skipped, 33);
  // max_rows 0: every pair.
  int rows = 0;
  for (const std::string& l : lines_of(format_report_text(r))) rows += l.find("  t") != std::string::npos;
  EXPECT_EQ(rows, 40);
}

// A MobileNetV2-like column: 16 blocks x (expand, dw, project) x (q, dq), plus the stem.
std::vector<std::string> block_names() {
  std::vector<std::string> names = {"/stem/q/QuantizeLinear_output_0", "/stem/conv/Conv_output_0"};
  for (int b = 0; b < 16; ++b)
    for (const char* layer : {"expand", "dw", "project"})
      for (const char* qdq : {"q/QuantizeLinear", "dq/DequantizeLinear"})
        names.push_back(fmt::format("/blocks/blocks.{}/{}/{}_output_0", b, layer, qdq));
  return names;
}

TEST(ReportText, ShortenNamesKeepsTheSegmentsThatTellRowsApart) {
  const std::vector<std::string> names = block_names();
  const std::vector<std::string> shown = shorten_names(names, 40);
  ASSERT_EQ(shown.size(), names.size());
  // The example: block number, layer and Q/DQ all survive.
  EXPECT_EQ(shown[2 + 3 * 2 * 3], "/blocks.3/expand/q/QuantizeLinear");
  std::set<std::string> distinct;
  for (size_t i = 0; i < shown.size(); ++i) {
    EXPECT_LE(shown[i].size(), 40u) << shown[i];
    distinct.insert(shown[i]);
  }
  EXPECT_EQ(distinct.size(), names.size());  // no two rows look alike
  // Short names are left alone; a name without path segments is cut in the middle.
  EXPECT_EQ(shorten_names({"conv1_out", "x"}, 32), (std::vector<std::string>{"conv1_out", "x"}));
  const std::string flat = "weights_quantized_output_with_a_very_long_name_indeed";
  const std::string cut = shorten_names({flat}, 20)[0];
  EXPECT_EQ(cut, "weights_q...e_indeed");
  // Narrower: the most shared segments give way first ("..."), the last segment stays.
  const std::vector<std::string> narrow = shorten_names(names, 28);
  EXPECT_EQ(narrow[2 + 3 * 2 * 3], "/blocks.3/.../QuantizeLinear");
  // Control characters never reach the terminal.
  EXPECT_EQ(shorten_names({"a\x01/b"}, 32)[0], "a?/b");
}

TEST(ReportText, WideShowsFullNames) {
  Report r;
  for (const std::string& n : block_names()) r.pairs.push_back(pair_record(n, n, MatchMethod::provenance, 60));
  const std::string narrow = format_report_text(r);
  const std::string wide = format_report_text(r, {.wide = true});
  EXPECT_EQ(narrow.find("/blocks/blocks.3/expand/q/QuantizeLinear_output_0"), std::string::npos);
  EXPECT_NE(narrow.find("  /blocks.3/expand/q/QuantizeLinear  "), std::string::npos) << narrow;
  EXPECT_NE(wide.find("  /blocks/blocks.3/expand/q/QuantizeLinear_output_0  "), std::string::npos) << wide;
}

}  // namespace
}  // namespace qdrift
