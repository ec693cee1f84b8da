// Regression tests for the fuzz_onnx_loader findings (docs/robustness.md): per-axis Q/DQ
// parameters that do not fit their input, a Clip with an empty bound after a fusable Conv,
// an s32 DequantizeLinear far from its zero point, denormal scales. Graphs are built in code
// (no loader in between), so each case reaches lower() exactly as the fuzzer's did.
// Expected values are worked out by hand in the comments, never computed by qdrift.
#include <gtest/gtest.h>

#include <cfloat>
#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "core/executor.h"
#include "core/int8_policy.h"
#include "core/lower.h"
#include "core/lowered_ops.h"
#include "core/quant_math.h"
#include "kernels/int/int_kernels.h"
#include "kernels/ref/ref_kernels.h"

namespace qdrift {
namespace {

class Builder {
 public:
  Graph g;
  explicit Builder(int64_t opset = 13) {
    g.name = "fuzz_fix";
    g.ir_version = 8;
    g.opset = opset;
    g.opset_imports[""] = opset;
  }
  ValueId input(const std::string& name, DType dtype, Shape shape) {
    ValueId id = g.add_value(name);
    g.value(id).dtype = dtype;
    g.value(id).shape = std::move(shape);
    g.value(id).has_shape = true;
    g.inputs.push_back(id);
    return id;
  }
  ValueId constant(const std::string& name, Tensor t) { return g.add_initializer(name, std::move(t)); }
  ValueId value(const std::string& name, DType dtype) {
    ValueId id = g.add_value(name);
    g.value(id).dtype = dtype;
    return id;
  }
  ValueId op(OpKind kind, const std::string& name, std::vector<ValueId> inputs, DType out_dtype,
             std::map<std::string, AttrValue, std::less<>> attrs = {}) {
    Node n;
    n.kind = kind;
    n.name = name;
    n.op_type = std::string(op_kind_name(kind));
    n.inputs = std::move(inputs);
    n.outputs = {value(name + "_out", out_dtype)};
    n.attrs = std::move(attrs);
    g.add_node(std::move(n));
    return g.nodes.back().outputs[0];
  }
  void output(ValueId v) { g.outputs.push_back(v); }
};

Result<LoweredGraph> lower_onnx(const Graph& g) {
  auto policy = int8_policy_preset("onnx");
  EXPECT_TRUE(policy) << policy.status().message();
  return lower(g, *policy);
}

void expect_invalid(const Status& s, const std::vector<std::string>& parts) {
  EXPECT_EQ(s.code(), StatusCode::invalid_input) << s.message();
  EXPECT_EQ(s.message().find('\n'), std::string::npos) << s.message();
  for (const auto& p : parts) EXPECT_NE(s.message().find(p), std::string::npos) << "missing '" << p << "' in: " << s.message();
}

bool has_op(const Graph& g, OpKind kind) {
  for (const Node& n : g.nodes)
    if (n.kind == kind) return true;
  return false;
}

// The f32 initializer lowering folded from DequantizeLinear(constant), or nullptr.
const Tensor* folded_constant(const Graph& g) {
  for (const Value& v : g.values)
    if (v.provenance.rewrite == "fold_dequantize" && v.initializer) return &*v.initializer;
  return nullptr;
}

// ---- per-axis parameters against the input's axis -------------------------------------

// w (s8 [2,3]) -> DequantizeLinear(scale, zero point, axis) -> Identity -> output.
Graph per_axis_constant_dq(std::vector<float> scales, int64_t axis) {
  Builder b;
  const auto n = static_cast<int64_t>(scales.size());
  ValueId w = b.constant("w", Tensor::from_vector<int8_t>({2, 3}, {1, 2, 3, -4, -5, -6}));
  ValueId s = b.constant("w_scale", Tensor::from_vector<float>({n}, scales));
  ValueId zp = b.constant("w_zp", Tensor::from_vector<int8_t>({n}, std::vector<int8_t>(scales.size(), 0)));
  ValueId d = b.op(OpKind::DequantizeLinear, "dq_w", {w, s, zp}, DType::f32, {{"axis", axis}});
  b.output(b.op(OpKind::Identity, "id", {d}, DType::f32));
  return std::move(b.g);
}

TEST(FuzzFixes, PerAxisScalesMatchingTheAxisFoldExactly) {
  // Positive control for the rejections below: 2 scales along axis 0 of [2,3].
  auto l = lower_onnx(per_axis_constant_dq({0.5f, 0.25f}, 0));
  ASSERT_TRUE(l) << l.status().message();
  const Tensor* w = folded_constant(l->graph);
  ASSERT_TRUE(w);
  // Row 0 times 0.5, row 1 times 0.25.
  const std::vector<float> expected{0.5f, 1.f, 1.5f, -1.f, -1.25f, -1.5f};
  EXPECT_EQ(std::vector<float>(w->values<float>().begin(), w->values<float>().end()), expected);
}

TEST(FuzzFixes, PerAxisScaleCountOtherThanTheAxisDimIsRejected) {
  // 2 scales along axis 1, whose dim is 3: lowering used to read scale[2] (heap overflow).
  auto l = lower_onnx(per_axis_constant_dq({0.5f, 0.25f}, 1));
  ASSERT_FALSE(l);
  expect_invalid(l.status(), {"dq_w", "2 scales", "'w' [2,3] has 3 along axis 1"});
  // 3 scales along axis 0 (dim 2): one too many is as wrong as one too few.
  auto l3 = lower_onnx(per_axis_constant_dq({0.5f, 0.25f, 0.125f}, 0));
  ASSERT_FALSE(l3);
  expect_invalid(l3.status(), {"dq_w", "3 scales", "has 2 along axis 0"});
}

TEST(FuzzFixes, PerAxisAxisOutOfRangeIsRejected) {
  for (int64_t axis : {2, 7, -3}) {
    SCOPED_TRACE(axis);
    auto l = lower_onnx(per_axis_constant_dq({0.5f, 0.25f}, axis));
    ASSERT_FALSE(l);
    expect_invalid(l.status(), {"dq_w", "axis " + std::to_string(axis) + " is out of range", "rank 2"});
  }
  // -2 is axis 0 of a rank-2 input: accepted.
  EXPECT_TRUE(lower_onnx(per_axis_constant_dq({0.5f, 0.25f}, -2)));
}

TEST(FuzzFixes, PerAxisQuantizeOfAnActivationWithKnownShapeIsChecked) {
  // x [1,3,2,2] quantized with 2 per-channel scales along axis 1.
  Builder b;
  ValueId x = b.input("x", DType::f32, {1, 3, 2, 2});
  ValueId s = b.constant("s", Tensor::from_vector<float>({2}, {0.1f, 0.2f}));
  ValueId zp = b.constant("zp", Tensor::from_vector<uint8_t>({2}, {0, 0}));
  b.output(b.op(OpKind::QuantizeLinear, "q_x", {x, s, zp}, DType::u8, {{"axis", int64_t{1}}}));
  auto l = lower_onnx(b.g);
  ASSERT_FALSE(l);
  expect_invalid(l.status(), {"q_x", "2 scales", "'x' [1,3,2,2] has 3 along axis 1"});
}

// ---- Clip bounds when fusing into a Conv --------------------------------------------------

// x -> Q -> DQ -> Conv(DQ(w)) -> Clip(min, max) -> Q -> DQ -> output, the fuse_conv pattern.
Graph conv_clip(Tensor lo, Tensor hi) {
  Builder b;
  ValueId x = b.input("x", DType::f32, {1, 2, 3, 3});
  ValueId sx = b.constant("sx", Tensor::scalar<float>(0.1f));
  ValueId zx = b.constant("zx", Tensor::scalar<uint8_t>(128));
  ValueId xq = b.op(OpKind::QuantizeLinear, "q_x", {x, sx, zx}, DType::u8);
  ValueId xd = b.op(OpKind::DequantizeLinear, "dq_x", {xq, sx, zx}, DType::f32);
  ValueId w = b.constant("w", Tensor::from_vector<int8_t>({2, 2, 1, 1}, {1, -2, 3, 4}));
  ValueId sw = b.constant("sw", Tensor::scalar<float>(0.05f));
  ValueId zw = b.constant("zw", Tensor::scalar<int8_t>(0));
  ValueId wd = b.op(OpKind::DequantizeLinear, "dq_w", {w, sw, zw}, DType::f32);
  ValueId c = b.op(OpKind::Conv, "conv", {xd, wd}, DType::f32);
  ValueId lo_v = b.constant("lo", std::move(lo));
  ValueId hi_v = b.constant("hi", std::move(hi));
  ValueId r = b.op(OpKind::Clip, "clip", {c, lo_v, hi_v}, DType::f32);
  ValueId sy = b.constant("sy", Tensor::scalar<float>(0.04f));
  ValueId zy = b.constant("zy", Tensor::scalar<uint8_t>(0));
  ValueId yq = b.op(OpKind::QuantizeLinear, "q_y", {r, sy, zy}, DType::u8);
  b.output(b.op(OpKind::DequantizeLinear, "dq_y", {yq, sy, zy}, DType::f32));
  return std::move(b.g);
}

TEST(FuzzFixes, ClipWithScalarF32BoundsFusesIntoTheConv) {
  // Positive control: Clip(0, 6) becomes the QConv's clip post-op, bounds in output steps.
  Graph g = conv_clip(Tensor::scalar<float>(0.f), Tensor::scalar<float>(6.f));
  auto l = lower_onnx(g);
  ASSERT_TRUE(l) << l.status().message();
  EXPECT_FALSE(has_op(l->graph, OpKind::Clip));
  const Node* conv = nullptr;
  for (const Node& n : l->graph.nodes)
    if (n.kind == OpKind::QConv) conv = &n;
  ASSERT_TRUE(conv);
  auto p = parse_lowered_params(*conv);
  ASSERT_TRUE(p) << p.status().message();
  ASSERT_EQ(p->post_ops.size(), 1u);
  EXPECT_EQ(p->post_ops[0].kind, PostOpKind::clip);
  EXPECT_FLOAT_EQ(p->post_ops[0].beta, 6.f / 0.04f);  // 150 steps of the output scale
}

TEST(FuzzFixes, ClipWithAMalformedBoundIsNotFusedAndFailsCleanlyWhenRun) {
  struct Case {
    const char* what;
    Tensor lo;
    const char* run_error;
  };
  std::vector<Case> cases;
  cases.push_back({"empty min", Tensor::from_vector<float>({0}, {}), "must be a scalar, has shape [0]"});
  cases.push_back({"two-element min", Tensor::from_vector<float>({2}, {0.f, 1.f}), "must be a scalar, has shape [2]"});
  cases.push_back({"s32 min", Tensor::scalar<int32_t>(0), "has dtype s32"});
  for (auto& c : cases) {
    SCOPED_TRACE(c.what);
    Graph g = conv_clip(c.lo, Tensor::scalar<float>(6.f));
    // Lowering used to read the empty bound through a null pointer while fusing.
    auto l = lower_onnx(g);
    ASSERT_TRUE(l) << l.status().message();
    EXPECT_TRUE(has_op(l->graph, OpKind::Clip));  // kept as a float Clip
    // The conv itself still lowers to int8 (with an f32 destination for the Clip to read).
    EXPECT_TRUE(has_op(l->graph, OpKind::QConv));
    // Run on the integer oracle: the float Clip's kernel reports the bound, one line.
    auto ex = Executor::create(l->graph, int_kernel_table());
    ASSERT_TRUE(ex) << ex.status().message();
    std::vector<Tensor> feeds{Tensor::zeros(DType::f32, {1, 2, 3, 3})};
    auto out = ex->run(feeds);
    ASSERT_FALSE(out);
    expect_invalid(out.status(), {"clip", "'lo' (min)", c.run_error});
  }
}

// ---- s32 DequantizeLinear far from its zero point ---------------------------------------

TEST(FuzzFixes, DequantizeValueSubtractsTheZeroPointWithoutInt32Overflow) {
  constexpr int32_t kMin = std::numeric_limits<int32_t>::min();  // -2^31
  constexpr int32_t kMax = std::numeric_limits<int32_t>::max();  //  2^31 - 1
  // (2^31 - 256) - (-(2^31 - 256)) = 2^32 - 512, a multiple of 256 and so exact in f32;
  // times 0.25: 2^30 - 128. In int32 the difference wraps to -512 (and is UB).
  EXPECT_EQ(dequantize_value(kMax - 255, 0.25f, kMin + 256), 1073741696.f);
  EXPECT_EQ(dequantize_value(kMin + 256, 0.25f, kMax - 255), -1073741696.f);
  // 2^31 - 1 - (-2^31) = 2^32 - 1, which rounds to the f32 2^32 (spacing 256 below 2^32).
  EXPECT_EQ(dequantize_value(kMax, 1.f, kMin), 4294967296.f);
  // u8/s8 as before: (3 - 128) * 0.5.
  EXPECT_EQ(dequantize_value(3, 0.5f, 128), -62.5f);
}

TEST(FuzzFixes, LoweringFoldsAnS32DequantizeFarFromItsZeroPointExactly) {
  // DequantizeLinear(s32 constant, 0.25, zero point -(2^31 - 256)) -> Identity -> output:
  // lowering folds it into an f32 constant (this overflowed int32 in dequantize_tensor).
  Builder b;
  constexpr int32_t kMin = std::numeric_limits<int32_t>::min();
  ValueId q = b.constant("bias_q", Tensor::from_vector<int32_t>({3}, {2147483392, -2147483392, kMin}));
  ValueId s = b.constant("bias_s", Tensor::scalar<float>(0.25f));
  ValueId zp = b.constant("bias_zp", Tensor::scalar<int32_t>(-2147483392));
  ValueId d = b.op(OpKind::DequantizeLinear, "dq_bias", {q, s, zp}, DType::f32);
  b.output(b.op(OpKind::Identity, "id", {d}, DType::f32));
  auto l = lower_onnx(b.g);
  ASSERT_TRUE(l) << l.status().message();
  const Tensor* f = folded_constant(l->graph);
  ASSERT_TRUE(f);
  // (2^32 - 512) / 4, 0 / 4, (-2^31 + 2^31 - 256) / 4.
  const std::vector<float> expected{1073741696.f, 0.f, -64.f};
  EXPECT_EQ(std::vector<float>(f->values<float>().begin(), f->values<float>().end()), expected);
}

// ---- denormal scales ----------------------------------------------------------------------

// x -> QuantizeLinear(scale) -> output.
Graph quantize_with_scale(float scale) {
  Builder b;
  ValueId x = b.input("x", DType::f32, {2, 3});
  ValueId s = b.constant("s", Tensor::scalar<float>(scale));
  ValueId zp = b.constant("zp", Tensor::scalar<int8_t>(0));
  b.output(b.op(OpKind::QuantizeLinear, "q_x", {x, s, zp}, DType::s8));
  return std::move(b.g);
}

TEST(FuzzFixes, DenormalScalesAreRejectedByLoweringAndTheReference) {
  const float denormals[] = {1e-40f, std::numeric_limits<float>::denorm_min(), FLT_MIN / 2};
  for (float scale : denormals) {
    SCOPED_TRACE(scale);
    Graph g = quantize_with_scale(scale);
    auto l = lower_onnx(g);
    ASSERT_FALSE(l);
    expect_invalid(l.status(), {"q_x", "not a positive, finite, normal number"});
    auto ex = Executor::create(g, ref_kernel_table());
    ASSERT_TRUE(ex) << ex.status().message();
    std::vector<Tensor> feeds{Tensor::zeros(DType::f32, {2, 3})};
    auto out = ex->run(feeds);
    ASSERT_FALSE(out);
    expect_invalid(out.status(), {"scale 's'", "denormal"});
  }
  // The smallest normal float is a valid (if odd) scale for both.
  Graph g = quantize_with_scale(FLT_MIN);
  EXPECT_TRUE(lower_onnx(g));
  auto ex = Executor::create(g, ref_kernel_table());
  ASSERT_TRUE(ex) << ex.status().message();
  std::vector<Tensor> feeds{Tensor::zeros(DType::f32, {2, 3})};
  auto out = ex->run(feeds);
  ASSERT_TRUE(out) << out.status().message();
  // 0 / FLT_MIN = 0 -> code 0.
  EXPECT_EQ((*out)[0].values<int8_t>()[0], 0);
}

}  // namespace
}  // namespace qdrift
