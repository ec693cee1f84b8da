// Per-channel errors in the report and `qdrift diff --save-tensors`: channel_max_abs on a
// closed-form case; the new report fields survive a round trip and are optional on read;
// every pair's saved files hold the tensors the report describes (shape, dtype, stats), and
// the per-channel errors recomputed here from the files agree with the report.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "core/tensor_io.h"
#include "diff/measure.h"
#include "diff/report_json.h"
#include "diff/tensor_stats.h"
#include "diff/tensor_views.h"
#include "qdrift_process.h"

namespace qdrift {
namespace {

using testing_util::run_qdrift;
using testing_util::slurp;
using testing_util::TempDir;

TEST(ChannelMaxAbs, ClosedForm) {
  // [2, 3, 2]: batch 2, channels 3, two elements each; other = ref + e at chosen places.
  Tensor a = Tensor::zeros(DType::f32, {2, 3, 2}), b = Tensor::zeros(DType::f32, {2, 3, 2});
  b.data<float>()[1] = 0.25f;                                       // n0 c0
  b.data<float>()[3] = -1.5f;                                       // n0 c1
  b.data<float>()[6 + 2] = 2.0f;                                    // n1 c1
  b.data<float>()[6 + 5] = std::numeric_limits<float>::quiet_NaN();  // n1 c2: not finite, not counted
  EXPECT_EQ(channel_max_abs(a, b), (std::vector<double>{0.25, 2.0, 0.0}));
  EXPECT_EQ(channel_max_abs(Tensor::zeros(DType::f32, {4}), Tensor::zeros(DType::f32, {4})), (std::vector<double>{0.0}));
  EXPECT_TRUE(channel_max_abs(a, Tensor::zeros(DType::f32, {5})).empty());
  EXPECT_EQ(unravel_index(11, {2, 3, 2}), (std::vector<int64_t>{1, 2, 1}));
  EXPECT_TRUE(unravel_index(12, {2, 3, 2}).empty());
}

TEST(ReportFields, FilesAndChannelErrorsRoundTripAndAreOptional) {
  Report r;
  PairRecord p;
  p.ref.tensor = "a";
  p.other.tensor = "b";
  p.ref.file = "t/ref/a.npy";
  p.channel_max_abs = {0.5, std::numeric_limits<double>::infinity(), 0};
  r.pairs = {p};
  auto back = parse_report_json(report_to_json(r), "r.json");
  ASSERT_TRUE(back) << back.status().message();
  EXPECT_EQ(back->pairs[0].ref.file, "t/ref/a.npy");
  EXPECT_EQ(back->pairs[0].other.file, "");
  EXPECT_EQ(back->pairs[0].channel_max_abs, p.channel_max_abs);
  // A report written before these fields existed.
  auto old = read_report_json(QDRIFT_SOURCE_DIR "/tests/bad_inputs/report_ok.json", Limits{});
  ASSERT_TRUE(old) << old.status().message();
  ASSERT_FALSE(old->pairs.empty());
  EXPECT_TRUE(old->pairs[0].channel_max_abs.empty());
  EXPECT_EQ(old->pairs[0].ref.file, "");
  // Wrong types are named.
  std::string bad = report_to_json(r);
  bad.replace(bad.find("\"channel_max_abs\":["), 19, "\"channel_max_abs\":[\"x\",");
  auto e = parse_report_json(bad, "r.json");
  ASSERT_FALSE(e);
  EXPECT_NE(e.status().message().find("pairs[0].channel_max_abs[0]"), std::string::npos) << e.status().message();
}

TEST(DiffSaveTensors, EveryPairsFilesHoldTheTensorsTheReportDescribes) {
  TempDir dir("save_tensors");
  const std::string data = QDRIFT_SOURCE_DIR "/testdata/qdq/";
  const auto p = run_qdrift({"diff", data + "conv_chain_u8.onnx", "--input", data + "conv_chain_u8_input.npy", "--policy",
                             "paddle-onednn", "--json", dir.path("out/r.json"), "--save-tensors", dir.path("out/t")},
                            dir);
  ASSERT_EQ(p.exit_code, 0) << p.err;
  EXPECT_NE(p.out.find("paired tensors to"), std::string::npos) << p.out;
  auto r = read_report_json(dir.path("out/r.json"), Limits{});
  ASSERT_TRUE(r) << r.status().message();
  ASSERT_FALSE(r->pairs.empty());
  EXPECT_TRUE(std::filesystem::exists(dir.path("out/t/ref/index.json")));
  for (const PairRecord& pr : r->pairs) {
    Tensor real[2];
    int s = 0;
    for (const SideRecord* side : {&pr.ref, &pr.other}) {
      ASSERT_EQ(side->file.rfind("t/", 0), 0u) << side->file;  // relative to the report's folder
      auto t = read_tensor_file(dir.path("out/" + side->file));
      ASSERT_TRUE(t) << t.status().message();
      EXPECT_EQ(t->shape, side->shape) << side->file;
      EXPECT_EQ(t->dtype, side->dtype) << side->file;
      const TensorStats st = compute_stats(*t);
      EXPECT_EQ(st.count, side->stats.count);
      EXPECT_DOUBLE_EQ(st.max, side->stats.max) << side->file;
      EXPECT_EQ(st.argmax, side->stats.argmax) << side->file;
      // Real values by hand: integer codes are (code - zero point) * scale of the element's
      // channel; a float tensor on a grid (a fake-quant output) is its own real value.
      Tensor f = Tensor::uninitialized(DType::f32, t->shape);
      const int64_t n = t->numel(), channels = t->shape.size() >= 2 ? t->shape[1] : 1;
      const int64_t inner = t->shape.size() >= 2 ? n / (t->shape[0] * channels) : n;
      for (int64_t i = 0; i < n; ++i) {
        const double v = t->value_as_double(i);
        const size_t c = side->scale.size() > 1 ? static_cast<size_t>((i / inner) % channels) : 0;
        f.data<float>()[i] = side->quantized && side->dtype != DType::f32 ? static_cast<float>((v - side->zero_point[c]) * side->scale[c]) : static_cast<float>(v);
      }
      real[s++] = std::move(f);
    }
    // The report's per-channel errors, recomputed from the files.
    ASSERT_EQ(real[0].numel(), real[1].numel());
    const int64_t n = real[0].numel(), channels = pr.ref.shape.size() >= 2 ? pr.ref.shape[1] : 1;
    const int64_t inner = pr.ref.shape.size() >= 2 ? n / (pr.ref.shape[0] * channels) : n;
    std::vector<double> expect(static_cast<size_t>(channels), 0.0);
    for (int64_t i = 0; i < n; ++i) {
      const size_t c = static_cast<size_t>((i / inner) % channels);
      expect[c] = std::max(expect[c], std::fabs(static_cast<double>(real[0].data<float>()[i]) - real[1].data<float>()[i]));
    }
    ASSERT_EQ(pr.channel_max_abs.size(), expect.size()) << pr.ref.tensor;
    for (size_t c = 0; c < expect.size(); ++c) EXPECT_NEAR(pr.channel_max_abs[c], expect[c], 1e-6) << pr.ref.tensor << " c" << c;
    EXPECT_NEAR(*std::max_element(expect.begin(), expect.end()), pr.drift.max_abs, 1e-6) << pr.ref.tensor;
  }
}

}  // namespace
}  // namespace qdrift
