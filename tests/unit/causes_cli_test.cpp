// Named causes (docs/causes.md) through the real binary: each fires on the small model (or
// model and twin) built to have its mechanism, with the evidence the mechanism implies, and
// nothing else fires there; no cause fires on any bundled model under the onnx policy. The
// mechanisms come from testdata/gen/make_cause_models.py and the policy knobs, independent
// of the rules; expected numbers are closed-form facts about those models.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/tensor_io.h"
#include "diff/report_json.h"
#include "tests/unit/qdrift_process.h"

namespace qdrift {
namespace {

using testing_util::diff_report;
using testing_util::TempDir;

const std::string kSource = QDRIFT_SOURCE_DIR;
std::string qdq(const std::string& name) { return kSource + "/testdata/qdq/" + name; }
std::string causes(const std::string& name) { return kSource + "/testdata/causes/" + name; }

std::set<std::string> cause_ids(const Report& r) {
  std::set<std::string> ids;
  for (const CauseHint& c : r.causes) ids.insert(c.cause);
  return ids;
}

const CauseHint* find(const Report& r, const std::string& id) {
  for (const CauseHint& c : r.causes)
    if (c.cause == id) return &c;
  return nullptr;
}

double ev(const CauseHint& c, const std::string& key) {
  for (const auto& [k, v] : c.evidence)
    if (k == key) return v;
  ADD_FAILURE() << c.cause << ": no evidence " << key;
  return std::nan("");
}

struct Case {
  std::vector<std::string> args;
  std::set<std::string> expected;  // exactly these fire
  std::string cause;               // the one checked in detail
  std::string knob;
};

Report run_case(const Case& c, TempDir& dir) {
  Report r = diff_report(c.args, dir);
  EXPECT_EQ(cause_ids(r), c.expected);
  const CauseHint* h = find(r, c.cause);
  EXPECT_NE(h, nullptr);
  if (h) {
    EXPECT_EQ(h->knob, c.knob);
    EXPECT_GE(h->pair, 0);
    EXPECT_GE(h->pair_count, 1);
    EXPECT_FALSE(h->message.empty());
  }
  return r;
}

std::vector<std::string> twin(const std::string& name) {
  return {causes(name + ".onnx"), "--input", causes(name + "_input.npy"), "--other", causes(name + "_twin.onnx"),
          "--against", "ref"};
}

TEST(Causes, UnsignedGridAfterRelu) {
  TempDir dir("causes");
  const Report r = run_case({{qdq("paddle_style_s8.onnx"), "--input", qdq("paddle_style_s8_input.npy"), "--set",
                              "unsigned_after_relu=on", "--against", "oracle"},
                             {"unsigned_grid"}, "unsigned_grid", "unsigned_after_relu=on"},
                            dir);
  const CauseHint* h_found = find(r, "unsigned_grid");
  ASSERT_NE(h_found, nullptr);
  const CauseHint& h = *h_found;
  EXPECT_NEAR(ev(h, "scale_ratio"), 127.0 / 255.0, 1e-6);  // T/255 instead of T/127
  EXPECT_EQ(r.pairs[static_cast<size_t>(h.pair)].other.dtype, DType::u8);
  EXPECT_EQ(r.pairs[static_cast<size_t>(h.pair)].ref.dtype, DType::s8);
}

TEST(Causes, WronglyUnsignedClipsNegatives) {
  TempDir dir("causes");
  const Report r = run_case({twin("hswish_s8"), {"wrongly_unsigned"}, "wrongly_unsigned", ""}, dir);
  const CauseHint* h_found = find(r, "wrongly_unsigned");
  ASSERT_NE(h_found, nullptr);
  const CauseHint& h = *h_found;
  // HardSwish reaches down to -0.375 (at x = -1.5); the u8 twin holds nothing below 0.
  EXPECT_LT(ev(h, "ref_min"), -0.1);
  EXPECT_GE(ev(h, "ref_min"), -0.375 - 0.01);
  EXPECT_EQ(ev(h, "other_min"), 0.0);
  EXPECT_NEAR(ev(h, "max_abs"), -ev(h, "ref_min"), 1e-6);  // the worst negative, clipped to 0
}

TEST(Causes, CodeMinus128AgainstANarrowReference) {
  TempDir dir("causes");
  const Report r = run_case({{qdq("depthwise_s8.onnx"), "--input", qdq("depthwise_s8_input.npy"), "--fake-range",
                              "narrow", "--against", "oracle"},
                             {"code_minus_128"}, "code_minus_128", "range=[-128,127]"},
                            dir);
  const CauseHint* h_found = find(r, "code_minus_128");
  ASSERT_NE(h_found, nullptr);
  const CauseHint& h = *h_found;
  EXPECT_EQ(ev(h, "ref_min_code"), -127.0);
  EXPECT_GE(ev(h, "other_count_at_minus_128"), 1.0);
  EXPECT_LE(ev(h, "max_abs_steps"), 1.0 + 1e-6);  // one code apart, never more
}

TEST(Causes, ActivationScaleFromObservedMax) {
  TempDir dir("causes");
  const Report r = run_case({{qdq("residual_u8.onnx"), "--input", qdq("residual_u8_input.npy"), "--set",
                              "act_scales=observed_max", "--against", "oracle"},
                             {"act_scale_source"}, "act_scale_source", "act_scales=observed_max"},
                            dir);
  const CauseHint* h_found = find(r, "act_scale_source");
  ASSERT_NE(h_found, nullptr);
  const CauseHint& h = *h_found;
  const PairRecord& p = r.pairs[static_cast<size_t>(h.pair)];
  EXPECT_NE(p.ref.scale[0], p.other.scale[0]);
  EXPECT_NEAR(ev(h, "scale_ratio"), p.other.scale[0] / static_cast<double>(p.ref.scale[0]), 1e-9);
}

TEST(Causes, ExtraSaturationWithAQuarterScale) {
  TempDir dir("causes");
  const Report r = run_case({twin("saturate_s8"), {"extra_saturation", "act_scale_source"}, "extra_saturation", ""}, dir);
  const CauseHint* scale = find(r, "act_scale_source");
  ASSERT_NE(scale, nullptr);
  EXPECT_NEAR(ev(*scale, "scale_ratio"), 0.25, 1e-6);  // the twin's scale is s/4
  const CauseHint* h_found = find(r, "extra_saturation");
  ASSERT_NE(h_found, nullptr);
  const CauseHint& h = *h_found;
  EXPECT_EQ(ev(h, "ref_saturated"), 0.0);  // calibrated on this very input: nothing saturates
  EXPECT_GT(ev(h, "other_saturated"), 10.0);
  EXPECT_EQ(ev(h, "other_saturated"), ev(h, "other_count_at_qmin") + ev(h, "other_count_at_qmax"));
}

TEST(Causes, BiasRoundedToInt32) {
  TempDir dir("causes");
  const Report r = run_case({{qdq("paddle_style_s8.onnx"), "--input", qdq("paddle_style_s8_input.npy"), "--set",
                              "bias=s32", "--against", "oracle"},
                             {"bias_rounding"}, "bias_rounding", "bias=s32"},
                            dir);
  const CauseHint* h_found = find(r, "bias_rounding");
  ASSERT_NE(h_found, nullptr);
  const CauseHint& h = *h_found;
  // Rounding to accumulator units moves a bias by at most half of s_x*s_w, a sliver of a step.
  EXPECT_GT(ev(h, "max_bias_error_steps"), 0.0);
  EXPECT_LT(ev(h, "max_bias_error_steps"), 0.5);
  EXPECT_LE(ev(h, "max_abs_steps"), 1.0 + 1e-6);
}

TEST(Causes, WeightsRequantizedPerChannel) {
  TempDir dir("causes");
  const Report r = run_case({{causes("per_tensor_w_s8.onnx"), "--input", causes("per_tensor_w_s8_input.npy"), "--set",
                              "weights=requantize", "--against", "oracle"},
                             {"weights_requantized", "per_channel_mismatch"}, "weights_requantized", "weights=requantize"},
                            dir);
  const CauseHint* wr = find(r, "weights_requantized");
  ASSERT_NE(wr, nullptr);
  EXPECT_GT(ev(*wr, "max_weight_scale_change"), 0.5);  // channels 30x apart
  const CauseHint* pc_found = find(r, "per_channel_mismatch");
  ASSERT_NE(pc_found, nullptr);
  const CauseHint& pc = *pc_found;
  EXPECT_EQ(pc.knob, "weights=requantize");
  EXPECT_EQ(ev(pc, "ref_weight_scales"), 1.0);
  EXPECT_EQ(ev(pc, "other_weight_scales"), 6.0);  // six output channels
  EXPECT_GT(ev(pc, "other_weight_scale_spread"), 5.0);
}

TEST(Causes, ActivationAfterTheOutputScale) {
  TempDir dir("causes");
  const Report r = run_case({{qdq("conv_chain_u8.onnx"), "--input", qdq("conv_chain_u8_input.npy"), "--set",
                              "act_order=after_scale", "--against", "oracle"},
                             {"act_order"}, "act_order", "act_order=after_scale"},
                            dir);
  const CauseHint* h_found = find(r, "act_order");
  ASSERT_NE(h_found, nullptr);
  const CauseHint& h = *h_found;
  EXPECT_EQ(h.pair, r.first_divergence);
  EXPECT_EQ(ev(h, "clip_max_codes"), 6.0);  // Clip(0,6)'s bound applied to codes
  EXPECT_NEAR(ev(h, "knee_shift") * ev(h, "output_scale"), 1.0, 1e-9);
}

TEST(Causes, RoundingTiesOnlyOneStep) {
  TempDir dir("causes");
  const Report r = run_case({{causes("ties_s8.onnx"), "--input", causes("ties_s8_input.npy"), "--fake-rounding",
                              "half_away", "--against", "oracle"},
                             {"rounding_ties"}, "rounding_ties", ""},
                            dir);
  const CauseHint* h_found = find(r, "rounding_ties");
  ASSERT_NE(h_found, nullptr);
  const CauseHint& h = *h_found;
  EXPECT_EQ(h.pair, 0);  // the input's own quantization
  // Every input element is (k + 0.5)/16: half away and half to even differ where the even
  // neighbour is the one towards zero. Count them from the input itself.
  auto x = read_tensor_file(causes("ties_s8_input.npy"), Limits{});
  ASSERT_TRUE(x);
  int64_t expected = 0;
  for (float v : x->values<float>()) {
    const double t = static_cast<double>(v) * 16.0;
    expected += std::nearbyint(t) != std::round(t);  // nearbyint: half to even (default mode)
  }
  EXPECT_GT(expected, 0);
  EXPECT_EQ(ev(h, "one_step_elements"), static_cast<double>(expected));
  EXPECT_LE(ev(h, "max_abs_steps"), 1.0 + 1e-6);
}

TEST(Causes, FloatIslandRequantizedWithItsInputScale) {
  TempDir dir("causes");
  const Report r = run_case({twin("island_s8"), {"float_island"}, "float_island", ""}, dir);
  const CauseHint* h_found = find(r, "float_island");
  ASSERT_NE(h_found, nullptr);
  const CauseHint& h = *h_found;
  EXPECT_EQ(ev(h, "island_ops"), 1.0);  // the Clip
  EXPECT_EQ(ev(h, "island_input_scale"), ev(h, "other_scale"));
  EXPECT_GT(ev(h, "island_input_scale") / ev(h, "ref_scale"), 3.0);  // Clip(-0.5,0.5) of a wider range
}

TEST(Causes, ResidualSkipRescaled) {
  TempDir dir("causes");
  const Report r = run_case({twin("residual_s8"), {"residual_rescale"}, "residual_rescale", ""}, dir);
  const CauseHint* h_found = find(r, "residual_rescale");
  ASSERT_NE(h_found, nullptr);
  const CauseHint& h = *h_found;
  EXPECT_GE(h.pair, r.first_divergence);
  EXPECT_LT(ev(h, "rescale"), 1.0);
  EXPECT_NEAR(ev(h, "rescale"), ev(h, "skip_scale") / ev(h, "output_scale"), 1e-6);
}

TEST(Causes, NoneFiresOnAnyBundledModelUnderOnnx) {
  std::vector<std::pair<std::string, std::string>> models = {
      {kSource + "/testdata/mobilenet_tiny_qdq.onnx", kSource + "/testdata/mobilenet_tiny_input.npy"}};
  for (const char* n : {"bn_conv_u8", "conv_chain_u8", "depthwise_s8", "gemm_concat_s8", "paddle_style_s8", "residual_u8"})
    models.push_back({qdq(std::string(n) + ".onnx"), qdq(std::string(n) + "_input.npy")});
  for (const char* n : {"per_tensor_w_s8", "ties_s8", "hswish_s8", "saturate_s8", "island_s8", "residual_s8"})
    models.push_back({causes(std::string(n) + ".onnx"), causes(std::string(n) + "_input.npy")});
  for (const auto& [model, input] : models) {
    for (const char* against : {"int8", "oracle"}) {
      TempDir dir("causes");
      const Report r = diff_report({model, "--input", input, "--against", against}, dir);
      for (const CauseHint& c : r.causes)
        EXPECT_TRUE(c.cause == "kernel_drift" || c.cause == "non_vnni_saturation")  // oneDNN's own, apart
            << model << " --against " << against << ": " << c.cause << ": " << c.message;
    }
  }
}

TEST(Causes, TextShowsTheKnobAndEvidence) {
  TempDir dir("causes");
  const auto p = testing_util::run_qdrift(
      {"diff", qdq("conv_chain_u8.onnx"), "--input", qdq("conv_chain_u8_input.npy"), "--set", "act_order=after_scale", "--against", "oracle"},
      dir);
  ASSERT_EQ(p.exit_code, 0) << p.err;
  EXPECT_NE(p.out.find("act_order (pair "), std::string::npos) << p.out;
  EXPECT_NE(p.out.find("knob act_order=after_scale; evidence: output_scale="), std::string::npos) << p.out;
}

}  // namespace
}  // namespace qdrift
