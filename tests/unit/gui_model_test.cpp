// The GUI's model layer (gui/model/, no window): table order and filters, selection, lazy
// tensor loading from --save-tensors files, bad reports, change marks between live runs,
// policy knob choices, and a live re-run on a bundled model. Reports and tensors are built
// here by hand; expected values come from that construction (closed form), never from the
// code under test.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "core/tensor_io.h"
#include "diff/report_json.h"
#include "gui/model/inspector.h"
#include "gui/model/live_run.h"
#include "gui/model/table.h"
#include "qdrift_process.h"

namespace qdrift::gui {
namespace {

using testing_util::spit;
using testing_util::TempDir;

// Pair i: ref "layer<i>/out", other "q<i>"; steps and sqnr as given; divergent above 1 step.
PairRecord pair(int i, double steps, double sqnr_db, double frac_differ = 0.1) {
  PairRecord p;
  p.method = MatchMethod::provenance;
  p.ref.tensor = "layer" + std::to_string(i) + "/out";
  p.other.tensor = "q" + std::to_string(i);
  p.ref.dtype = DType::f32;
  p.other.dtype = DType::u8;
  p.ref.shape = p.other.shape = {1, 2, 2, 3};
  p.ref.stats.count = p.other.stats.count = 12;
  p.drift.count = 12;
  p.drift.has_steps = steps == steps;  // NaN: no steps
  p.drift.max_abs_steps = steps == steps ? steps : 0;
  p.drift.steps_histogram.assign(kStepsHistogramBins, 0);
  p.drift.sqnr_db = sqnr_db;
  p.drift.frac_differ = frac_differ;
  p.divergent = steps == steps && steps > 1;
  return p;
}

Report four_pairs() {
  Report r;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  r.pairs = {pair(0, 0, 60, 0), pair(1, 3, 25), pair(2, nan, 35), pair(3, 2, 28)};
  r.first_divergence = 1;
  return r;
}

TableQuery sorted(Column c, bool descending) {
  TableQuery q;
  q.sort = {c, descending};
  return q;
}
TableQuery filtered(std::string regex, bool divergent_only) {
  TableQuery q;
  q.filter = {std::move(regex), divergent_only};
  return q;
}

std::vector<size_t> rows(const Report& r, const TableQuery& q) {
  auto v = visible_rows(r, q);
  EXPECT_TRUE(v) << v.status().message();
  return v ? *v : std::vector<size_t>{};
}

TEST(GuiTable, SortsByAnyColumnBothWaysNaNLast) {
  const Report r = four_pairs();
  EXPECT_EQ(rows(r, {}), (std::vector<size_t>{0, 1, 2, 3}));
  EXPECT_EQ(rows(r, sorted(Column::steps, true)), (std::vector<size_t>{1, 3, 0, 2}));  // pair 2 has no steps
  EXPECT_EQ(rows(r, sorted(Column::steps, false)), (std::vector<size_t>{0, 3, 1, 2}));
  EXPECT_EQ(rows(r, sorted(Column::sqnr_db, false)), (std::vector<size_t>{1, 3, 2, 0}));
  EXPECT_EQ(rows(r, sorted(Column::index, true)), (std::vector<size_t>{3, 2, 1, 0}));
  EXPECT_EQ(rows(r, sorted(Column::other_tensor, true)), (std::vector<size_t>{3, 2, 1, 0}));
  EXPECT_EQ(column_text(r.pairs[2], 2, Column::steps), "-");
  EXPECT_EQ(column_text(r.pairs[0], 0, Column::ref_tensor), "layer0/out");  // in full
}

TEST(GuiTable, FiltersByRegexOnEitherNameAndDivergence) {
  const Report r = four_pairs();
  EXPECT_EQ(rows(r, filtered("^layer[12]/", false)), (std::vector<size_t>{1, 2}));
  EXPECT_EQ(rows(r, filtered("^q3$", false)), (std::vector<size_t>{3}));  // the other side's name
  EXPECT_EQ(rows(r, filtered("", true)), (std::vector<size_t>{1, 3}));
  EXPECT_EQ(rows(r, {.filter = {"layer3", true}, .sort = {Column::sqnr_db, true}}), (std::vector<size_t>{3}));
  EXPECT_FALSE(visible_rows(r, filtered("layer(", false)));
  EXPECT_EQ(pair_severity(r.pairs[0]), Severity::identical);
  EXPECT_EQ(pair_severity(r.pairs[2]), Severity::within);
  EXPECT_EQ(pair_severity(r.pairs[1]), Severity::divergent);
}

// The report as a file, so the Inspector reads it like the gate does.
std::string write_report(const TempDir& dir, const Report& r, const std::string& name = "report.json") {
  spit(dir.path(name), report_to_json(r));
  return dir.path(name);
}

TEST(GuiInspector, SelectionAndQueryDriveTheRows) {
  TempDir dir("gui_model");
  Inspector in;
  ASSERT_TRUE(in.open_report(write_report(dir, four_pairs())).is_ok());
  EXPECT_EQ(in.rows().size(), 4u);
  in.select_first_divergence();
  EXPECT_EQ(in.selected(), 1);
  in.select_next_divergent(+1);
  EXPECT_EQ(in.selected(), 3);
  in.select_next_divergent(+1);  // wraps
  EXPECT_EQ(in.selected(), 1);
  in.select_next_divergent(-1);
  EXPECT_EQ(in.selected(), 3);
  EXPECT_TRUE(in.select_tensor("q2"));
  EXPECT_EQ(in.selected(), 2);
  EXPECT_TRUE(in.select_tensor("layer0/out"));
  EXPECT_EQ(in.selected(), 0);
  EXPECT_FALSE(in.select_tensor("nope"));
  EXPECT_EQ(in.selected(), 0);

  ASSERT_TRUE(in.set_query(sorted(Column::steps, true)).is_ok());
  EXPECT_EQ(in.rows(), (std::vector<size_t>{1, 3, 0, 2}));
  in.select(1);
  in.select_row_step(+1);  // down in the sorted table, not in execution order
  EXPECT_EQ(in.selected(), 3);
  in.select_row_step(+1);
  EXPECT_EQ(in.selected(), 0);

  // A bad regex is refused and the rows stay.
  const Status bad = in.set_query(filtered("(", false));
  EXPECT_FALSE(bad.is_ok());
  EXPECT_NE(bad.message().find("name filter"), std::string::npos) << bad.message();
  EXPECT_EQ(in.rows(), (std::vector<size_t>{1, 3, 0, 2}));
}

TEST(GuiInspector, BadReportsAreErrorsAndKeepWhatWasShown) {
  TempDir dir("gui_model");
  Inspector in;
  ASSERT_TRUE(in.open_report(write_report(dir, four_pairs())).is_ok());
  const std::string good = report_to_json(four_pairs());
  spit(dir.path("truncated.json"), good.substr(0, good.size() / 2));
  spit(dir.path("schema.json"), std::string(R"({"schema": "qdrift.run/1"})"));
  spit(dir.path("field.json"), std::string(R"({"schema": "qdrift.report/1", "tool_version": 3})"));
  for (const char* name : {"truncated.json", "schema.json", "field.json", "absent.json"}) {
    const Status s = in.open_report(dir.path(name));
    ASSERT_FALSE(s.is_ok()) << name;
    EXPECT_NE(s.message().find(name), std::string::npos) << s.message();  // names the file
  }
  EXPECT_NE(in.open_report(dir.path("schema.json")).message().find("qdrift.report/1"), std::string::npos);
  EXPECT_NE(in.open_report(dir.path("field.json")).message().find("tool_version"), std::string::npos);
  ASSERT_TRUE(in.has_report());
  EXPECT_EQ(in.report().pairs.size(), 4u);
}

// One pair over a u8 tensor [1,2,2,3] with scale 0.5, zero point 10 against f32 values;
// the real values are (code - 10) * 0.5, written out here.
TEST(GuiInspector, LoadsTensorsLazilyAndReportsMissingFiles) {
  TempDir dir("gui_model");
  Report r;
  PairRecord p = pair(0, 2, 20);
  p.ref.dtype = DType::u8;
  p.ref.quantized = true;
  p.ref.scale = {0.5f};
  p.ref.zero_point = {10};
  p.ref.file = "t/ref.npy";
  p.other.dtype = DType::f32;
  p.other.file = "t/other.npy";
  p.channel_max_abs = {1.0, 2.5};
  r.pairs = {p};
  r.first_divergence = 0;
  std::filesystem::create_directories(dir.path("t"));
  Tensor codes = Tensor::uninitialized(DType::u8, {1, 2, 2, 3});
  Tensor other = Tensor::uninitialized(DType::f32, {1, 2, 2, 3});
  for (int i = 0; i < 12; ++i) {
    codes.data<uint8_t>()[i] = static_cast<uint8_t>(10 + i);  // real: 0, 0.5, ..., 5.5
    other.data<float>()[i] = 0.5f * static_cast<float>(i) + (i == 7 ? 2.5f : 0.f);
  }
  ASSERT_TRUE(write_npy(dir.path("t/ref.npy"), codes).is_ok());
  ASSERT_TRUE(write_npy(dir.path("t/other.npy"), other).is_ok());

  Inspector in;
  ASSERT_TRUE(in.open_report(write_report(dir, r, "report.json")).is_ok());
  in.select(0);
  const PairView& v = in.pair_view();
  ASSERT_TRUE(v.error.empty()) << v.error;
  ASSERT_TRUE(v.has_tensors);
  for (int i = 0; i < 12; ++i) EXPECT_FLOAT_EQ(v.ref_real.data<float>()[i], 0.5f * static_cast<float>(i));
  EXPECT_DOUBLE_EQ(v.ref_real_stats.max, 5.5);
  EXPECT_EQ(v.worst_channel, 1);  // from the report's channel_max_abs
  EXPECT_EQ(v.channel, 1);        // the planes start on the worst channel
  ASSERT_EQ(v.diff_plane.values.size(), 6u);
  EXPECT_EQ(v.diff_plane.rows, 2);
  EXPECT_EQ(v.diff_plane.cols, 3);
  EXPECT_FLOAT_EQ(v.diff_plane.values[1], 2.5f);  // element 7 = channel 1, pixel 1
  EXPECT_FLOAT_EQ(v.diff_plane.hi, 2.5f);
  EXPECT_EQ(v.diff_plane.flat_index[1], 7);
  double total_ref = 0, total_other = 0;
  for (size_t b = 0; b < v.histogram.ref.size(); ++b) total_ref += v.histogram.ref[b], total_other += v.histogram.other[b];
  EXPECT_EQ(total_ref, 12);
  EXPECT_EQ(total_other, 12);
  EXPECT_DOUBLE_EQ(v.histogram.lo, 0);
  EXPECT_DOUBLE_EQ(v.histogram.hi, 6.0);  // 3.5 + 2.5
  const uint64_t before = v.generation;
  in.set_channel(0);
  EXPECT_FLOAT_EQ(in.pair_view().ref_plane.values[5], 2.5f);  // element 5
  EXPECT_NE(in.pair_view().generation, before);  // heatmap textures know to re-upload

  // A missing file: an error naming it, no tensors, no crash.
  std::filesystem::remove(dir.path("t/other.npy"));
  Inspector again;
  ASSERT_TRUE(again.open_report(dir.path("report.json")).is_ok());
  again.select(0);
  EXPECT_FALSE(again.pair_view().has_tensors);
  EXPECT_NE(again.pair_view().error.find("other.npy"), std::string::npos) << again.pair_view().error;

  // A file whose shape is not the report's.
  ASSERT_TRUE(write_npy(dir.path("t/other.npy"), Tensor::uninitialized(DType::f32, {12})).is_ok());
  Inspector third;
  ASSERT_TRUE(third.open_report(dir.path("report.json")).is_ok());
  third.select(0);
  EXPECT_NE(third.pair_view().error.find("shape [12]"), std::string::npos) << third.pair_view().error;
}

TEST(GuiInspector, ExportsTheReportShownAsJson) {
  TempDir dir("gui_model");
  Inspector in;
  EXPECT_FALSE(in.export_json(dir.path("none.json")).is_ok());  // nothing shown yet
  Report live = four_pairs();
  live.pairs[2].ref.tensor = "renamed";
  in.show_report(live, nullptr, "live: x");
  ASSERT_TRUE(in.export_json(dir.path("x.json")).is_ok());
  auto back = read_report_json(dir.path("x.json"), Limits{});
  ASSERT_TRUE(back) << back.status().message();
  ASSERT_EQ(back->pairs.size(), 4u);
  EXPECT_EQ(back->pairs[2].ref.tensor, "renamed");
  EXPECT_EQ(back->first_divergence, 1);
  EXPECT_FALSE(in.export_json(dir.path("no/such/dir/x.json")).is_ok());
}

TEST(GuiInspector, MarksPairsChangedByALiveRun) {
  Inspector in;
  Report a = four_pairs();
  in.show_report(a, nullptr, "live: a");
  in.select(2);
  EXPECT_EQ(in.changed_count(), 0u);
  const uint64_t generation = in.pair_view().generation;
  Report b = four_pairs();
  b.pairs[3].drift.max_abs = 7;
  b.pairs[1].other.dtype = DType::s8;
  in.show_report(b, nullptr, "live: b");
  EXPECT_EQ(in.changed(), (std::vector<bool>{false, true, false, true}));
  EXPECT_EQ(in.changed_count(), 2u);
  EXPECT_EQ(in.selected(), 2);  // the same reference tensor stays selected
  EXPECT_NE(in.pair_view().generation, generation);  // but its view is rebuilt from the new run
}

TEST(GuiPolicy, KnobChoicesAndSets) {
  auto choices = policy_choices("onnx", {"bias=f32"});
  ASSERT_TRUE(choices) << choices.status().message();
  bool saw_bias = false;
  for (const KnobChoice& k : *choices)
    if (k.knob == "bias") {
      saw_bias = true;
      EXPECT_EQ(k.value, "f32");
      EXPECT_EQ(k.values, (std::vector<std::string>{"model", "s32", "f32"}));
    }
  EXPECT_TRUE(saw_bias);
  auto sets = set_knob("onnx", {"bias=f32", "range=narrow"}, "bias", "s32");
  ASSERT_TRUE(sets);
  EXPECT_EQ(*sets, (std::vector<std::string>{"range=narrow", "bias=s32"}));
  sets = set_knob("onnx", {"bias=f32"}, "bias", "model");  // the preset's own value
  ASSERT_TRUE(sets);
  EXPECT_TRUE(sets->empty());
  EXPECT_FALSE(set_knob("onnx", {}, "bias", "f64"));
  EXPECT_FALSE(policy_choices("tflite", {}));
}

// A live re-run on a bundled model: under paddle-onednn (u8 after relu, re-quantized weights,
// s32 bias) some pairs of conv_chain_u8 move against the onnx run.
TEST(GuiLive, ReRunUnderAnotherPolicyChangesPairs) {
  const std::string dir = QDRIFT_SOURCE_DIR "/testdata/qdq/";
  cli::DiffOptions o;
  o.model = dir + "conv_chain_u8.onnx";
  o.inputs = {dir + "conv_chain_u8_input.npy"};
  o.against = "oracle";
  LiveRunner runner;
  runner.start(o);
  runner.wait_idle();
  std::optional<LiveResult> first = runner.take_result();
  ASSERT_TRUE(first.has_value());
  ASSERT_TRUE(first->status.is_ok()) << first->status.message();
  ASSERT_FALSE(first->report.pairs.empty());
  EXPECT_EQ(runner.progress(), 1.0);  // the next run is measured against this one's tensor count
  Inspector in;
  in.show_report(std::move(first->report), first->tensors, "live");
  in.select(0);
  EXPECT_TRUE(in.pair_view().has_tensors) << in.pair_view().error;  // kept in memory

  o.policy = "paddle-onednn";
  runner.start(o);
  runner.wait_idle();
  std::optional<LiveResult> second = runner.take_result();
  ASSERT_TRUE(second.has_value());
  ASSERT_TRUE(second->status.is_ok()) << second->status.message();
  in.show_report(std::move(second->report), second->tensors, "live");
  EXPECT_GT(in.changed_count(), 0u);

  o.inputs = {dir + "missing.npy"};
  runner.start(o);
  runner.wait_idle();
  std::optional<LiveResult> bad = runner.take_result();
  ASSERT_TRUE(bad.has_value());
  EXPECT_FALSE(bad->status.is_ok());
  EXPECT_NE(bad->status.message().find("missing.npy"), std::string::npos) << bad->status.message();
}

}  // namespace
}  // namespace qdrift::gui
