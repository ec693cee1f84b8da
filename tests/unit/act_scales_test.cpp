// act_scales=observed_max (core/act_scales.h): the calibration pass records max |x| of every
// tensor a QuantizeLinear quantizes, and the lowering then quantizes each activation with
// max|x| / (qmax - zero_point). Expected values are computed here from the reference's own
// tensors (an observer written in the test), not by the code under test.
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "core/act_scales.h"
#include "core/lower.h"
#include "core/onnx_loader.h"
#include "core/qdq_params.h"
#include "core/tensor_io.h"
#include "kernels/ref/ref_kernels.h"

namespace qdrift {
namespace {

const std::string kQdq = std::string(QDRIFT_SOURCE_DIR) + "/testdata/qdq/";

TEST(ActScales, ObservedMaxIsTheLargestMagnitudeAtEachQuantize) {
  auto g = load_onnx(kQdq + "depthwise_s8.onnx");
  ASSERT_TRUE(g) << g.status().message();
  auto x = read_tensor_file(kQdq + "depthwise_s8_input.npy");
  ASSERT_TRUE(x);
  auto ex = Executor::create(*g, ref_kernel_table());
  ASSERT_TRUE(ex);
  const std::vector<std::vector<Tensor>> feeds = {{*x}};
  auto seen = observe_quantized_max_abs(*ex, feeds);
  ASSERT_TRUE(seen);

  // Independently: every tensor produced (and the input), max |x|, for those a Q reads.
  std::map<std::string, float> expected;
  auto track = [&](const std::string& name, const Tensor& t) {
    for (const Node& n : g->nodes)
      if (n.kind == OpKind::QuantizeLinear && g->value(n.input(0)).name == name) {
        float m = 0;
        for (float v : t.values<float>()) m = std::max(m, std::fabs(v));
        expected[name] = m;
      }
  };
  track(g->value(g->inputs[0]).name, *x);
  ASSERT_TRUE(ex->run(feeds[0], [&](const Node& node, size_t i, const Value&, const Tensor& t) {
    track(g->value(node.outputs[i]).name, t);
  }));
  ASSERT_GE(expected.size(), 3u);
  EXPECT_EQ(*seen, expected);

  // The rescaled graph: each activation Q and its DQ read max|x| / 127 (s8, zero point 0).
  auto rescaled = with_observed_act_scales(*g, *seen);
  ASSERT_TRUE(rescaled) << rescaled.status().message();
  int checked = 0;
  for (const Node& n : rescaled->nodes) {
    if (n.kind != OpKind::QuantizeLinear) continue;
    auto q = qdq_node_params(*rescaled, n);
    ASSERT_TRUE(q && q->has_value());
    const float m = expected.at(rescaled->value(n.input(0)).name);
    EXPECT_FLOAT_EQ((**q).scale[0], m / 127.f) << n.name;
    for (NodeId c : rescaled->value(n.outputs[0]).consumers) {
      const Node& dq = rescaled->nodes[static_cast<size_t>(c)];
      if (dq.kind == OpKind::DequantizeLinear) EXPECT_EQ(dq.input(1), n.input(1)) << dq.name;
    }
    ++checked;
  }
  EXPECT_EQ(checked, static_cast<int>(expected.size()));
  EXPECT_TRUE(rescaled->validate().is_ok());

  // Through lower(): the policy knob gives the same scales on the int8 values.
  auto policy = int8_policy_preset("onnx");
  ASSERT_TRUE(policy);
  ASSERT_TRUE(int8_policy_set(*policy, "act_scales=observed_max").is_ok());
  policy->observed_max_abs = *seen;
  auto low = lower(*g, *policy);
  ASSERT_TRUE(low) << low.status().message();
  int lowered = 0;
  for (const Value& v : low->graph.values) {
    if (!v.quant || v.quant->scale.size() != 1) continue;
    // Values stand for the Q outputs; find the Q whose output they stand for.
    for (const Node& n : g->nodes)
      if (n.kind == OpKind::QuantizeLinear && g->value(n.outputs[0]).name == v.provenance.source) {
        EXPECT_FLOAT_EQ(v.quant->scale[0], expected.at(g->value(n.input(0)).name) / 127.f) << v.name;
        ++lowered;
      }
  }
  EXPECT_GE(lowered, 2);
}

TEST(ActScales, LoweringWithoutCalibrationIsAnError) {
  auto g = load_onnx(kQdq + "depthwise_s8.onnx");
  ASSERT_TRUE(g);
  auto policy = int8_policy_preset("paddle-onednn");
  ASSERT_TRUE(policy);
  ASSERT_TRUE(int8_policy_set(*policy, "act_scales=observed_max").is_ok());
  auto low = lower(*g, *policy);
  ASSERT_FALSE(low);
  EXPECT_NE(low.status().message().find("act_scales=observed_max: no calibration value"), std::string::npos)
      << low.status().message();
}

}  // namespace
}  // namespace qdrift
