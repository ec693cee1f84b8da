// Reference activations, Clip, Add/Sub/Mul/Div and Cast: closed-form cases plus ONNX's
// own node tests. Expected values are written out by hand (or by numpy where noted).
#include <cmath>
#include <limits>

#include <gtest/gtest.h>

#include "tests/unit/ref_test_helpers.h"

namespace qdrift::test {
namespace {

constexpr float kNan = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

Tensor f32(Shape s, std::vector<float> v) { return Tensor::from_vector<float>(std::move(s), v); }
Tensor f32_1d(const std::vector<float>& v) { return f32({static_cast<int64_t>(v.size())}, v); }
template <typename T>
Tensor t1d(std::vector<T> v) {
  return Tensor::from_vector<T>({static_cast<int64_t>(v.size())}, v);
}

NodeCase node(OpKind kind, std::vector<std::optional<Tensor>> inputs, int64_t opset = 14) {
  return node_case(kind, std::move(inputs), opset);
}

template <typename T>
std::vector<T> run_ok(const NodeCase& c) {
  auto out = run1(c);
  EXPECT_TRUE(out) << out.status().message();
  if (!out) return {};
  EXPECT_EQ(out->dtype, dtype_of<T>);
  if (out->dtype != dtype_of<T>) return {};
  return values_of<T>(*out);
}

// Float comparison that treats NaN as equal to NaN and is exact otherwise (unless tol > 0).
void expect_floats(const std::vector<float>& got, const std::vector<float>& want, float tol = 0.0f) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::isnan(want[i])) {
      EXPECT_TRUE(std::isnan(got[i])) << "element " << i << ": " << got[i];
    } else if (tol == 0.0f) {
      EXPECT_EQ(got[i], want[i]) << "element " << i;
    } else {
      EXPECT_NEAR(got[i], want[i], tol) << "element " << i;
    }
  }
}

void expect_error(const NodeCase& c, StatusCode code, std::vector<std::string> parts) {
  auto out = run_node(c);
  ASSERT_FALSE(out);
  EXPECT_EQ(out.status().code(), code) << out.status().message();
  for (const auto& p : parts) EXPECT_NE(out.status().message().find(p), std::string::npos) << out.status().message();
}

// ---- activations ---------------------------------------------------------------------

TEST(RefRelu, FloatKeepsNanAndInfinities) {
  expect_floats(run_ok<float>(node(OpKind::Relu, {f32_1d({-2.0f, -0.0f, 0.5f, kNan, kInf, -kInf})})),
                {0.0f, 0.0f, 0.5f, kNan, kInf, 0.0f});
}

TEST(RefRelu, IntegerTypes) {
  EXPECT_EQ(run_ok<int8_t>(node(OpKind::Relu, {t1d<int8_t>({-128, -1, 0, 127})})),
            (std::vector<int8_t>{0, 0, 0, 127}));
  EXPECT_EQ(run_ok<int32_t>(node(OpKind::Relu, {t1d<int32_t>({-5, 7})})), (std::vector<int32_t>{0, 7}));
  EXPECT_EQ(run_ok<int64_t>(node(OpKind::Relu, {t1d<int64_t>({-5, 7})})), (std::vector<int64_t>{0, 7}));
  expect_error(node(OpKind::Relu, {t1d<bool>({true})}), StatusCode::invalid_input, {"in0", "bool"});
}

TEST(RefLeakyRelu, AlphaAndDefault) {
  auto c = node(OpKind::LeakyRelu, {f32_1d({-2.0f, 0.0f, 3.0f})});
  c.attrs["alpha"] = 0.5f;
  expect_floats(run_ok<float>(c), {-1.0f, 0.0f, 3.0f});
  c.attrs.clear();  // default alpha 0.01
  expect_floats(run_ok<float>(c), {-0.02f, 0.0f, 3.0f});
}

TEST(RefHardSigmoid, DefaultAndAttributes) {
  // default alpha 0.2, beta 0.5: max(0, min(1, 0.2x + 0.5)).
  expect_floats(run_ok<float>(node(OpKind::HardSigmoid, {f32_1d({-3.0f, 0.0f, 1.0f, 3.0f, kNan})}, 6)),
                {0.0f, 0.5f, 0.7f, 1.0f, kNan}, 1e-7f);
  auto c = node(OpKind::HardSigmoid, {f32_1d({-2.0f, 0.0f, 0.5f})}, 6);
  c.attrs["alpha"] = 0.5f;
  c.attrs["beta"] = 0.25f;
  expect_floats(run_ok<float>(c), {0.0f, 0.25f, 0.5f});
}

TEST(RefHardSwish, Knees) {
  // x * max(0, min(1, x/6 + 0.5)): zero at and below -3, identity at and above 3.
  expect_floats(run_ok<float>(node(OpKind::HardSwish, {f32_1d({-4.0f, -3.0f, 0.0f, 1.5f, 3.0f, 4.0f})})),
                {0.0f, 0.0f, 0.0f, 1.125f, 3.0f, 4.0f}, 1e-6f);
}

TEST(RefSigmoidTanh, KnownValues) {
  // 1/(1+e^-1) = 0.7310585786, tanh(1) = 0.7615941559.
  expect_floats(run_ok<float>(node(OpKind::Sigmoid, {f32_1d({0.0f, 1.0f, -200.0f, 200.0f, kNan})})),
                {0.5f, 0.7310586f, 0.0f, 1.0f, kNan}, 1e-7f);
  expect_floats(run_ok<float>(node(OpKind::Tanh, {f32_1d({0.0f, 1.0f, -1.0f, 50.0f})})),
                {0.0f, 0.7615942f, -0.7615942f, 1.0f}, 1e-7f);
  expect_error(node(OpKind::Sigmoid, {t1d<int8_t>({1})}), StatusCode::invalid_input, {"in0", "s8", "f32"});
}

// ---- Clip ----------------------------------------------------------------------------

TEST(RefClip, AttributeFormBeforeOpset11) {
  auto c = node(OpKind::Clip, {f32_1d({-5.0f, -1.0f, 0.5f, 7.0f, kNan})}, 6);
  c.attrs["min"] = -1.0f;
  c.attrs["max"] = 6.0f;
  expect_floats(run_ok<float>(c), {-1.0f, -1.0f, 0.5f, 6.0f, kNan});
  c.attrs.erase("max");  // only min: no upper bound
  expect_floats(run_ok<float>(c), {-1.0f, -1.0f, 0.5f, 7.0f, kNan});
}

TEST(RefClip, InputFormWithOptionalBounds) {
  const Tensor x = f32_1d({-5.0f, -1.0f, 0.5f, 7.0f});
  expect_floats(run_ok<float>(node(OpKind::Clip, {x, Tensor::scalar(0.0f), Tensor::scalar(6.0f)}, 13)),
                {0.0f, 0.0f, 0.5f, 6.0f});
  expect_floats(run_ok<float>(node(OpKind::Clip, {x, std::nullopt, Tensor::scalar(0.0f)}, 13)),
                {-5.0f, -1.0f, 0.0f, 0.0f});
  expect_floats(run_ok<float>(node(OpKind::Clip, {x, Tensor::scalar(0.0f)}, 11)), {0.0f, 0.0f, 0.5f, 7.0f});
  expect_floats(run_ok<float>(node(OpKind::Clip, {x}, 13)), {-5.0f, -1.0f, 0.5f, 7.0f});
  // min > max: every element becomes max (min(max(x, lo), hi)).
  expect_floats(run_ok<float>(node(OpKind::Clip, {x, Tensor::scalar(3.0f), Tensor::scalar(1.0f)}, 13)),
                {1.0f, 1.0f, 1.0f, 1.0f});
}

TEST(RefClip, IntegerTypes) {
  EXPECT_EQ(run_ok<int8_t>(node(OpKind::Clip, {t1d<int8_t>({-128, -5, 5, 127}), Tensor::scalar<int8_t>(-4),
                                                Tensor::scalar<int8_t>(4)},
                                13)),
            (std::vector<int8_t>{-4, -4, 4, 4}));
  // Omitted bounds default to the type's range.
  EXPECT_EQ(run_ok<uint8_t>(node(OpKind::Clip, {t1d<uint8_t>({0, 255}), std::nullopt, std::nullopt}, 13)),
            (std::vector<uint8_t>{0, 255}));
  EXPECT_EQ(run_ok<int32_t>(node(OpKind::Clip, {t1d<int32_t>({-100000, 100000}), Tensor::scalar<int32_t>(-7)}, 13)),
            (std::vector<int32_t>{-7, 100000}));
}

TEST(RefClip, Validation) {
  // Integer Clip arrived in opset 12.
  expect_error(node(OpKind::Clip, {t1d<int8_t>({1})}, 11), StatusCode::invalid_input, {"in0", "s8", "Clip-11"});
  expect_error(node(OpKind::Clip, {f32_1d({1.0f}), Tensor::scalar<int8_t>(0)}, 13), StatusCode::invalid_input,
               {"in1", "min", "s8"});
  expect_error(node(OpKind::Clip, {f32_1d({1.0f}), std::nullopt, f32_1d({1.0f, 2.0f})}, 13),
               StatusCode::invalid_input, {"in2", "max", "scalar"});
  expect_error(node(OpKind::Clip, {}, 13), StatusCode::invalid_input, {"node 'node'", "input 0"});
}

// ---- binary arithmetic ---------------------------------------------------------------

TEST(RefBinary, MultidirectionalBroadcasting) {
  // a [2,1,3] = 100*i + k, b [4,1] = 10*j: sum [2,4,3] = 100*i + 10*j + k.
  std::vector<float> a, b, want;
  for (int i = 0; i < 2; ++i)
    for (int k = 0; k < 3; ++k) a.push_back(static_cast<float>(100 * i + k));
  for (int j = 0; j < 4; ++j) b.push_back(static_cast<float>(10 * j));
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 4; ++j)
      for (int k = 0; k < 3; ++k) want.push_back(static_cast<float>(100 * i + 10 * j + k));
  auto out = run1(node(OpKind::Add, {f32({2, 1, 3}, a), f32({4, 1}, b)}));
  ASSERT_TRUE(out) << out.status().message();
  EXPECT_EQ(out->shape, (Shape{2, 4, 3}));
  expect_floats(values_of<float>(*out), want);
}

TEST(RefBinary, ScalarsAndEmptyDims) {
  expect_floats(run_ok<float>(node(OpKind::Sub, {Tensor::scalar(10.0f), f32_1d({1.0f, 2.0f, 3.0f})})),
                {9.0f, 8.0f, 7.0f});
  expect_floats(run_ok<float>(node(OpKind::Mul, {f32_1d({1.5f, -2.0f}), Tensor::scalar(2.0f)})), {3.0f, -4.0f});
  auto out = run1(node(OpKind::Add, {f32({0, 3}, {}), f32({1, 3}, {1, 2, 3})}));
  ASSERT_TRUE(out) << out.status().message();
  EXPECT_EQ(out->shape, (Shape{0, 3}));
  auto scalar = run1(node(OpKind::Div, {Tensor::scalar(1.0f), Tensor::scalar(4.0f)}));
  ASSERT_TRUE(scalar) << scalar.status().message();
  EXPECT_EQ(scalar->shape, Shape{});
  EXPECT_EQ(values_of<float>(*scalar), std::vector<float>{0.25f});
}

TEST(RefBinary, RejectsBadShapesAndTypes) {
  expect_error(node(OpKind::Add, {f32({2, 3}, {1, 2, 3, 4, 5, 6}), f32_1d({1, 2})}), StatusCode::invalid_input,
               {"node 'node'", "in0", "[2,3]", "in1", "[2]", "broadcast"});
  expect_error(node(OpKind::Mul, {f32_1d({1}), t1d<int32_t>({1})}), StatusCode::invalid_input,
               {"in0", "f32", "in1", "s32"});
  expect_error(node(OpKind::Add, {t1d<bool>({true}), t1d<bool>({true})}), StatusCode::invalid_input, {"bool"});
  expect_error(node(OpKind::Add, {f32_1d({1})}), StatusCode::invalid_input, {"input 1"});
}

TEST(RefBinary, IntegerArithmeticWraps) {
  EXPECT_EQ(run_ok<int8_t>(node(OpKind::Add, {t1d<int8_t>({100, -100, 127}), t1d<int8_t>({100, -100, 1})})),
            (std::vector<int8_t>{-56, 56, -128}));
  EXPECT_EQ(run_ok<uint8_t>(node(OpKind::Add, {t1d<uint8_t>({200, 255}), t1d<uint8_t>({100, 1})})),
            (std::vector<uint8_t>{44, 0}));
  EXPECT_EQ(run_ok<uint8_t>(node(OpKind::Sub, {t1d<uint8_t>({3, 0}), t1d<uint8_t>({5, 1})})),
            (std::vector<uint8_t>{254, 255}));
  EXPECT_EQ(run_ok<int8_t>(node(OpKind::Mul, {t1d<int8_t>({16, -128, 3}), t1d<int8_t>({16, -1, -3})})),
            (std::vector<int8_t>{0, -128, -9}));
  EXPECT_EQ(run_ok<int32_t>(node(OpKind::Mul, {t1d<int32_t>({65536, INT32_MAX}), t1d<int32_t>({65536, 2})})),
            (std::vector<int32_t>{0, -2}));
  EXPECT_EQ(run_ok<int64_t>(node(OpKind::Add, {t1d<int64_t>({INT64_MAX}), t1d<int64_t>({1})})),
            (std::vector<int64_t>{INT64_MIN}));
  EXPECT_EQ(run_ok<int64_t>(node(OpKind::Sub, {t1d<int64_t>({INT64_MIN}), t1d<int64_t>({1})})),
            (std::vector<int64_t>{INT64_MAX}));
}

TEST(RefBinary, IntegerDivisionTruncates) {
  EXPECT_EQ(run_ok<uint8_t>(node(OpKind::Div, {t1d<uint8_t>({7, 200, 1}), t1d<uint8_t>({2, 3, 5})})),
            (std::vector<uint8_t>{3, 66, 0}));
  EXPECT_EQ(run_ok<int32_t>(node(OpKind::Div, {t1d<int32_t>({-7, 7, -7}), t1d<int32_t>({2, -2, -2})})),
            (std::vector<int32_t>{-3, -3, 3}));
  // The one overflowing quotient wraps.
  EXPECT_EQ(run_ok<int8_t>(node(OpKind::Div, {t1d<int8_t>({-128}), t1d<int8_t>({-1})})), (std::vector<int8_t>{-128}));
  EXPECT_EQ(run_ok<int64_t>(node(OpKind::Div, {t1d<int64_t>({INT64_MIN}), t1d<int64_t>({-1})})),
            (std::vector<int64_t>{INT64_MIN}));
  expect_error(node(OpKind::Div, {t1d<int32_t>({1, 2}), t1d<int32_t>({1, 0})}), StatusCode::invalid_input,
               {"in1", "zero divisor", "element 1"});
}

TEST(RefBinary, FloatDivisionByZeroIsIeee) {
  expect_floats(run_ok<float>(node(OpKind::Div, {f32_1d({1.0f, -1.0f, 0.0f}), Tensor::scalar(0.0f)})),
                {kInf, -kInf, kNan});
}

TEST(RefBinary, LegacyBroadcastBeforeOpset7) {
  // Add-6 with broadcast=1, axis=1: B [3] runs along A's axis 1.
  auto c = node(OpKind::Add, {f32({2, 3, 2}, {0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1}), f32_1d({10, 20, 30})}, 6);
  c.attrs["broadcast"] = int64_t{1};
  c.attrs["axis"] = int64_t{1};
  expect_floats(run_ok<float>(c), {10, 10, 20, 20, 30, 30, 11, 11, 21, 21, 31, 31});
  // Without axis B matches A's trailing dims.
  c.attrs.erase("axis");
  c.inputs[1] = f32_1d({10, 20});
  expect_floats(run_ok<float>(c), {10, 20, 10, 20, 10, 20, 11, 21, 11, 21, 11, 21});
  // broadcast=0: shapes must be equal.
  c.attrs.clear();
  expect_error(c, StatusCode::invalid_input, {"broadcast=0"});
}

TEST(RefBinary, UnsetOpsetMeansNewest) {
  // A graph built in code with opset 0 broadcasts like opset >= 7 (and Clip takes inputs).
  expect_floats(run_ok<float>(node(OpKind::Add, {f32({2, 1}, {1, 2}), f32_1d({10, 20})}, 0)), {11, 21, 12, 22});
  expect_floats(run_ok<float>(node(OpKind::Clip, {f32_1d({-1, 9}), Tensor::scalar(0.0f), Tensor::scalar(6.0f)}, 0)),
                {0, 6});
}

// ---- Cast ----------------------------------------------------------------------------

NodeCase cast(Tensor x, DType to, int64_t opset = 13) {
  auto c = node(OpKind::Cast, {std::move(x)}, opset);
  c.attrs["to"] = int64_t{dtype_to_onnx(to)};
  return c;
}

TEST(RefCast, FloatToIntegerTruncatesLikeNumpy) {
  // Expected values from numpy 1.24 on x86-64: astype truncates toward zero; out of range
  // and NaN go through a 32-bit (s8/u8/s32) or 64-bit (s64) conversion.
  const Tensor x = f32_1d({-1.0f, 300.0f, kNan, 1e10f, -1e10f, 2.7f, -2.7f, 3e9f});
  EXPECT_EQ(run_ok<uint8_t>(cast(x, DType::u8)), (std::vector<uint8_t>{255, 44, 0, 0, 0, 2, 254, 0}));
  EXPECT_EQ(run_ok<int8_t>(cast(x, DType::s8)), (std::vector<int8_t>{-1, 44, 0, 0, 0, 2, -2, 0}));
  EXPECT_EQ(run_ok<int32_t>(cast(x, DType::s32)),
            (std::vector<int32_t>{-1, 300, INT32_MIN, INT32_MIN, INT32_MIN, 2, -2, INT32_MIN}));
  EXPECT_EQ(run_ok<int64_t>(cast(x, DType::s64)),
            (std::vector<int64_t>{-1, 300, INT64_MIN, 10000000000, -10000000000, 2, -2, 3000000000}));
  EXPECT_EQ(run_ok<int64_t>(cast(f32_1d({1e20f, -1e20f}), DType::s64)), (std::vector<int64_t>{INT64_MIN, INT64_MIN}));
}

TEST(RefCast, BoolAndIntegerConversions) {
  EXPECT_EQ(run_ok<bool>(cast(f32_1d({0.0f, -0.0f, 0.1f, kNan}), DType::boolean)),
            (std::vector<bool>{false, false, true, true}));
  expect_floats(run_ok<float>(cast(t1d<bool>({true, false}), DType::f32)), {1.0f, 0.0f});
  EXPECT_EQ(run_ok<int8_t>(cast(t1d<int64_t>({300, -129, 127}), DType::s8)), (std::vector<int8_t>{44, 127, 127}));
  EXPECT_EQ(run_ok<int8_t>(cast(t1d<uint8_t>({200, 5}), DType::s8)), (std::vector<int8_t>{-56, 5}));
  EXPECT_EQ(run_ok<uint8_t>(cast(t1d<int32_t>({-1, 256}), DType::u8)), (std::vector<uint8_t>{255, 0}));
  // int -> f32 rounds to nearest even: 2^24 + 1 is not representable.
  expect_floats(run_ok<float>(cast(t1d<int32_t>({16777217, -3}), DType::f32)), {16777216.0f, -3.0f});
  EXPECT_EQ(run_ok<int64_t>(cast(t1d<bool>({true, false}), DType::s64)), (std::vector<int64_t>{1, 0}));
  expect_floats(run_ok<float>(cast(f32_1d({1.5f}), DType::f32)), {1.5f});
}

TEST(RefCast, Opset1StringTarget) {
  auto c = node(OpKind::Cast, {f32_1d({2.9f, -2.9f})}, 1);
  c.attrs["to"] = std::string("INT32");
  EXPECT_EQ(run_ok<int32_t>(c), (std::vector<int32_t>{2, -2}));
  c.attrs["to"] = std::string("DOUBLE");
  expect_error(c, StatusCode::unsupported, {"DOUBLE"});
}

TEST(RefCast, UnsupportedTargets) {
  auto c = node(OpKind::Cast, {f32_1d({1.0f})});
  c.attrs["to"] = int64_t{11};  // DOUBLE
  expect_error(c, StatusCode::unsupported, {"node 'node'", "to", "double"});
  c.attrs.clear();
  expect_error(c, StatusCode::invalid_input, {"'to'"});
}

// ---- ONNX node tests -----------------------------------------------------------------

const std::vector<std::string> kStems = {"test_relu",    "test_leakyrelu", "test_clip",    "test_hardsigmoid",
                                         "test_hardswish", "test_sigmoid", "test_tanh",    "test_add",
                                         "test_sub",     "test_mul",       "test_div",     "test_cast"};

// Node tests of these ops that cannot pass, each with the reason, checked to fail with it.
const UnrunnableNodeTest kCannotPass[] = {
    // qdrift tensors are f32/s8/u8/s32/s64/bool; these casts involve other element types.
    {"test_cast_BFLOAT16_to_FLOAT", "bfloat16"}, {"test_cast_DOUBLE_to_FLOAT", "double"},
    {"test_cast_DOUBLE_to_FLOAT16", "double"},   {"test_cast_FLOAT16_to_DOUBLE", "float16"},
    {"test_cast_FLOAT16_to_FLOAT", "float16"},   {"test_cast_FLOAT_to_BFLOAT16", "bfloat16"},
    {"test_cast_FLOAT_to_DOUBLE", "double"},     {"test_cast_FLOAT_to_FLOAT16", "float16"},
    {"test_cast_FLOAT_to_STRING", "string"},     {"test_cast_STRING_to_FLOAT", "string"},
};

std::vector<std::string> runnable_tests() {
  return runnable_node_tests(list_node_tests(kOnnxNodeTests, kStems), kCannotPass);
}

class OnnxElementwiseNodeTest : public ::testing::TestWithParam<std::string> {};

TEST_P(OnnxElementwiseNodeTest, MatchesExpectedOutputs) { EXPECT_TRUE(run_onnx_node_test(GetParam())); }

INSTANTIATE_TEST_SUITE_P(Onnx, OnnxElementwiseNodeTest, ::testing::ValuesIn(runnable_tests()),
                         [](const auto& info) { return info.param; });

TEST(OnnxElementwiseNodeTests, UnrunnableOnesFailWithTheirReason) {
  expect_unrunnable_node_tests(kCannotPass);
}

TEST(OnnxElementwiseNodeTests, ComparisonCatchesDifferences) {
  // The node-test comparison itself: tolerance, NaN, dtype and shape.
  const Tensor want = f32_1d({1.0f, kNan, 100.0f});
  EXPECT_EQ(compare_tensors(f32_1d({1.0f, kNan, 100.05f}), want), "");
  EXPECT_NE(compare_tensors(f32_1d({1.0f, kNan, 100.2f}), want), "");
  EXPECT_NE(compare_tensors(f32_1d({1.0f, 0.0f, 100.0f}), want), "");
  EXPECT_NE(compare_tensors(f32({1, 3}, {1.0f, kNan, 100.0f}), want), "");
  EXPECT_NE(compare_tensors(t1d<int32_t>({1, 0, 100}), want), "");
  EXPECT_NE(compare_tensors(t1d<int64_t>({5}), t1d<int64_t>({6})), "");
}

TEST(OnnxElementwiseNodeTests, SelectionIsComplete) {
  // 1 relu, 3 leakyrelu, 11 clip, 3 hardsigmoid, 2 hardswish, 2 sigmoid, 2 tanh, 3 add,
  // 4 sub, 4 mul, 4 div, 10 cast in libonnx-testdata 1.12.
  EXPECT_EQ(list_node_tests(kOnnxNodeTests, kStems).size(), 49u);
  EXPECT_EQ(runnable_tests().size(), 39u);
}

}  // namespace
}  // namespace qdrift::test
