// run_drift on hand-built QDQ graphs whose tensors are known in closed form: the pairs, the
// first divergent layer, steps in the reference's scale, top-1 agreement, NaN reporting.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "diff/drift.h"
#include "kernels/ref/ref_kernels.h"
#include "tests/unit/lowered_graph_builder.h"

namespace qdrift {
namespace {

using testing_util::LoweredGraphBuilder;

Tensor f32(Shape shape, std::vector<float> v) {
  Tensor t = Tensor::zeros(DType::f32, shape);
  std::copy(v.begin(), v.end(), t.data<float>());
  return t;
}

Tensor scalar(DType dtype, double v) {
  Tensor t = Tensor::zeros(dtype, {});
  if (dtype == DType::f32) *t.data<float>() = static_cast<float>(v);
  if (dtype == DType::s8) *t.data<int8_t>() = static_cast<int8_t>(v);
  return t;
}

// x -> Q(0.5) xq -> DQ xd -> Relu y -> Q(out_scale) yq -> DQ yd (graph output), s8 codes.
Graph qdq_relu(float out_scale) {
  LoweredGraphBuilder b;
  ValueId x = b.input("x", DType::f32, {1, 4});
  ValueId s_in = b.constant("s_in", scalar(DType::f32, 0.5));
  ValueId s_out = b.constant("s_out", scalar(DType::f32, out_scale));
  ValueId zp = b.constant("zp", scalar(DType::s8, 0));
  ValueId xq = b.value("xq", DType::s8), xd = b.value("xd", DType::f32), y = b.value("y", DType::f32);
  ValueId yq = b.value("yq", DType::s8), yd = b.value("yd", DType::f32);
  b.node(OpKind::QuantizeLinear, "q_in", {x, s_in, zp}, {xq});
  b.node(OpKind::DequantizeLinear, "dq_in", {xq, s_in, zp}, {xd});
  b.node(OpKind::Relu, "relu", {xd}, {y});
  b.node(OpKind::QuantizeLinear, "q_out", {y, s_out, zp}, {yq});
  b.node(OpKind::DequantizeLinear, "dq_out", {yq, s_out, zp}, {yd});
  b.output(yd);
  return b.graph;
}

struct Ran {
  Graph a, b;
  Report report;
};

void run(Ran& r, const Tensor& x, Thresholds t) {
  auto ea = Executor::create(r.a, ref_kernel_table());
  auto eb = Executor::create(r.b, ref_kernel_table());
  ASSERT_TRUE(ea && eb);
  const std::vector<Tensor> feeds = {x};
  DriftOptions options;
  options.thresholds = t;
  const Status s = run_drift(*ea, feeds, *eb, feeds, options, r.report);
  ASSERT_TRUE(s.is_ok()) << s.message();
}

// x = [1, -2, 3, 0.6]: xq = [2,-4,6,1], xd = [1,-2,3,0.5], y = [1,0,3,0.5].
// The reference re-quantizes y with scale 0.5 (exact); the other side with scale 1.0, where
// 0.5 rounds half to even to 0: yd = [1,0,3,0], one step of 0.5 off at element 3.
TEST(RunDrift, FindsTheFirstDivergentLayerInTheReferenceScale) {
  Ran r{qdq_relu(0.5f), qdq_relu(1.0f), {}};
  run(r, f32({1, 4}, {1.f, -2.f, 3.f, 0.6f}), {.max_steps = 0.5, .min_sqnr_db = 30});
  const Report& rep = r.report;
  ASSERT_EQ(rep.pairs.size(), 5u);  // xq, xd, y, yq, yd: all by name
  const char* names[] = {"xq", "xd", "y", "yq", "yd"};
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(rep.pairs[i].ref.tensor, names[i]);
    EXPECT_EQ(rep.pairs[i].other.tensor, names[i]);
    EXPECT_EQ(rep.pairs[i].method, MatchMethod::name);
  }
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(rep.pairs[i].drift.max_abs, 0.0) << names[i];
  EXPECT_EQ(rep.first_divergence, 3);
  const PairRecord& yq = rep.pairs[3];
  EXPECT_TRUE(yq.divergent);
  EXPECT_TRUE(yq.ref.quantized);
  EXPECT_EQ(yq.ref.scale, std::vector<float>{0.5f});
  EXPECT_EQ(yq.other.scale, std::vector<float>{1.0f});
  EXPECT_EQ(yq.ref.stats.max, 6.0);    // codes [2,0,6,1]
  EXPECT_EQ(yq.other.stats.max, 3.0);  // codes [1,0,3,0]
  EXPECT_TRUE(yq.drift.has_steps);
  EXPECT_DOUBLE_EQ(yq.drift.max_abs, 0.5);
  EXPECT_DOUBLE_EQ(yq.drift.max_abs_steps, 1.0);
  EXPECT_EQ(yq.drift.max_abs_index, 3);
  EXPECT_DOUBLE_EQ(yq.drift.frac_differ, 0.25);
  // The graph output yd lives on the DQ's grid (0.5) too; its argmax (element 2) agrees.
  EXPECT_TRUE(rep.pairs[4].graph_output);
  EXPECT_DOUBLE_EQ(rep.pairs[4].drift.max_abs_steps, 1.0);
  EXPECT_DOUBLE_EQ(rep.top1_agreement, 1.0);
  EXPECT_TRUE(rep.unmatched.empty());
}

TEST(RunDrift, WithinThresholdsThereIsNoDivergence) {
  Ran r{qdq_relu(0.5f), qdq_relu(1.0f), {}};
  run(r, f32({1, 4}, {1.f, -2.f, 3.f, 0.6f}), {.max_steps = 1.0, .min_sqnr_db = 30});
  EXPECT_EQ(r.report.first_divergence, -1);
  for (const PairRecord& p : r.report.pairs) EXPECT_FALSE(p.divergent) << p.ref.tensor;
}

// NaN and Inf in the input: QuantizeLinear maps NaN to the zero point and saturates Inf, so
// the quantized tensors are finite; the report counts them where they are (the input).
// A graph that passes the float input on (Relu of x) shows them per side, never as a number.
TEST(RunDrift, NonFiniteValuesAreCountedNotMeasured) {
  LoweredGraphBuilder b;
  ValueId x = b.input("x", DType::f32, {1, 4});
  ValueId y = b.value("y", DType::f32);
  b.node(OpKind::Identity, "id", {x}, {y});
  b.output(y);
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  Ran r{b.graph, b.graph, {}};
  run(r, f32({1, 4}, {nan, 1.f, inf, -2.f}), {});
  ASSERT_EQ(r.report.pairs.size(), 1u);
  const DriftMeasures& d = r.report.pairs[0].drift;
  EXPECT_EQ(d.nan_ref, 1);
  EXPECT_EQ(d.inf_ref, 1);
  EXPECT_EQ(d.nan_other, 1);
  EXPECT_EQ(d.inf_other, 1);
  EXPECT_EQ(d.count, 2);  // the two finite positions
  EXPECT_EQ(d.max_abs, 0.0);
  // NaN on both sides at the same place is still a NaN: it counts as a non-finite mismatch.
  EXPECT_EQ(d.nonfinite_mismatch, 1);
  EXPECT_TRUE(r.report.pairs[0].divergent);
  EXPECT_EQ(r.report.pairs[0].ref.stats.nan_count, 1);
}

TEST(RunDrift, TensorGridFollowsQuantizeAndDequantize) {
  const Graph g = qdq_relu(0.25f);
  auto grid = [&](const char* name) { return tensor_grid(g, g.find_value(name), nullptr); };
  ASSERT_TRUE(grid("xq"));
  EXPECT_EQ(grid("xq")->scale, std::vector<float>{0.5f});
  EXPECT_EQ(grid("xd")->scale, std::vector<float>{0.5f});
  EXPECT_EQ(grid("y")->scale, std::vector<float>{0.25f});  // its only consumer quantizes it
  EXPECT_EQ(grid("yq")->zero_point_type, DType::s8);
  ASSERT_TRUE(grid("x"));  // a float input read only by a QuantizeLinear lives on its grid
  EXPECT_EQ(grid("x")->scale, std::vector<float>{0.5f});
  const Graph plain = [] {
    LoweredGraphBuilder b;
    ValueId x = b.input("x", DType::f32, {1, 4});
    ValueId y = b.value("y", DType::f32);
    b.node(OpKind::Relu, "relu", {x}, {y});
    b.output(y);
    return b.graph;
  }();
  EXPECT_FALSE(tensor_grid(plain, plain.find_value("y"), nullptr));  // plain float: no grid
}

}  // namespace
}  // namespace qdrift
