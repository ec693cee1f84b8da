// Reference data-movement ops (Flatten, Reshape, Transpose, Concat, Squeeze, Unsqueeze,
// Pad, Identity, Constant, Shape, Gather): closed-form cases plus ONNX's own node tests.
#include <numeric>

#include <gtest/gtest.h>

#include "tests/unit/ref_test_helpers.h"

namespace qdrift::test {
namespace {

template <typename T>
Tensor t1d(std::vector<T> v) {
  return Tensor::from_vector<T>({static_cast<int64_t>(v.size())}, v);
}
// 0, 1, 2, ... in `shape` (f32), so every element says where it came from.
Tensor iota_f32(Shape shape) {
  std::vector<float> v(static_cast<size_t>(shape_numel(shape)));
  std::iota(v.begin(), v.end(), 0.0f);
  return Tensor::from_vector<float>(std::move(shape), v);
}
Tensor ints(std::vector<int64_t> v) { return t1d<int64_t>(std::move(v)); }

NodeCase node(OpKind kind, std::vector<std::optional<Tensor>> inputs, int64_t opset = 13) {
  return node_case(kind, std::move(inputs), opset);
}

// Runs `c` and checks dtype, shape and every element.
template <typename T>
void expect_output(const NodeCase& c, const Shape& shape, const std::vector<T>& values) {
  auto out = run1(c);
  ASSERT_TRUE(out) << out.status().message();
  EXPECT_EQ(out->dtype, dtype_of<T>);
  EXPECT_EQ(out->shape, shape) << shape_str(out->shape);
  if (out->dtype == dtype_of<T>) {
    EXPECT_EQ(values_of<T>(*out), values);
  }
}

void expect_error(const NodeCase& c, StatusCode code, std::vector<std::string> parts) {
  auto out = run_node(c);
  ASSERT_FALSE(out);
  EXPECT_EQ(out.status().code(), code) << out.status().message();
  for (const auto& p : parts) EXPECT_NE(out.status().message().find(p), std::string::npos) << out.status().message();
}

std::vector<float> iota_values(int n) {
  std::vector<float> v(static_cast<size_t>(n));
  std::iota(v.begin(), v.end(), 0.0f);
  return v;
}

// ---- Flatten -------------------------------------------------------------------------

TEST(RefFlatten, Axes) {
  const std::vector<float> all = iota_values(24);
  auto c = node(OpKind::Flatten, {iota_f32({2, 3, 4})});
  expect_output<float>(c, {2, 12}, all);  // default axis 1
  for (auto [axis, shape] : {std::pair<int64_t, Shape>{0, {1, 24}}, {2, {6, 4}}, {3, {24, 1}}, {-1, {6, 4}},
                             {-3, {1, 24}}}) {
    SCOPED_TRACE(axis);
    c.attrs["axis"] = axis;
    expect_output<float>(c, shape, all);
  }
  c.attrs["axis"] = int64_t{4};
  expect_error(c, StatusCode::invalid_input, {"axis 4", "in0"});
  c.attrs["axis"] = int64_t{-4};
  expect_error(c, StatusCode::invalid_input, {"axis -4"});
}

// ---- Reshape -------------------------------------------------------------------------

TEST(RefReshape, ZeroCopiesAndMinusOneInfers) {
  const std::vector<float> all = iota_values(24);
  expect_output<float>(node(OpKind::Reshape, {iota_f32({2, 3, 4}), ints({0, -1})}), {2, 12}, all);
  expect_output<float>(node(OpKind::Reshape, {iota_f32({2, 3, 4}), ints({-1})}), {24}, all);
  expect_output<float>(node(OpKind::Reshape, {iota_f32({2, 3, 4}), ints({4, 0, -1})}), {4, 3, 2}, all);
  expect_output<float>(node(OpKind::Reshape, {iota_f32({2, 3, 4}), ints({1, 1, 24, 1})}), {1, 1, 24, 1}, all);
  expect_output<float>(node(OpKind::Reshape, {iota_f32({1}), ints({})}), {}, std::vector<float>{0.0f});
}

TEST(RefReshape, AllowZero) {
  auto c = node(OpKind::Reshape, {iota_f32({0, 3}), ints({3, 0})}, 14);
  c.attrs["allowzero"] = int64_t{1};
  expect_output<float>(c, {3, 0}, {});
  // Without allowzero the 0 copies dim 1 (3): [3,3] has 9 elements, not 0.
  c.attrs.clear();
  expect_error(c, StatusCode::invalid_input, {"cannot reshape"});
  c.attrs["allowzero"] = int64_t{1};
  c.inputs[1] = ints({0, -1});
  expect_error(c, StatusCode::invalid_input, {"in1", "both 0 and -1"});
}

TEST(RefReshape, Validation) {
  auto bad = [](std::vector<int64_t> shape, std::vector<std::string> parts) {
    SCOPED_TRACE(shape_str(shape));
    expect_error(node(OpKind::Reshape, {iota_f32({2, 3, 4}), ints(shape)}), StatusCode::invalid_input, parts);
  };
  bad({-1, -1}, {"in1", "more than one -1"});
  bad({5, -1}, {"-1 dim cannot be inferred"});
  bad({2, 3, 4, 0}, {"in1", "0 at position 3"});
  bad({2, 3, 5}, {"24 elements", "30 elements"});
  bad({2, -2, 12}, {"in1", "invalid dim -2"});
  bad({INT64_MAX, INT64_MAX, 2}, {"not a valid size"});
  expect_error(node(OpKind::Reshape, {iota_f32({2, 3}), t1d<int32_t>({6})}), StatusCode::invalid_input,
               {"in1", "s32", "s64"});
}

TEST(RefReshape, Opset1Attribute) {
  auto c = node(OpKind::Reshape, {iota_f32({2, 3})}, 4);
  c.attrs["shape"] = std::vector<int64_t>{3, -1};
  expect_output<float>(c, {3, 2}, iota_values(6));
}

// ---- Transpose -----------------------------------------------------------------------

TEST(RefTranspose, DefaultReversesAxes) {
  expect_output<float>(node(OpKind::Transpose, {iota_f32({2, 3})}), {3, 2}, {0, 3, 1, 4, 2, 5});
}

TEST(RefTranspose, Permutation3d) {
  // out[j][k][i] = in[i][j][k] = 12i + 4j + k for perm {1, 2, 0}.
  std::vector<float> want;
  for (int j = 0; j < 3; ++j)
    for (int k = 0; k < 4; ++k)
      for (int i = 0; i < 2; ++i) want.push_back(static_cast<float>(12 * i + 4 * j + k));
  auto c = node(OpKind::Transpose, {iota_f32({2, 3, 4})});
  c.attrs["perm"] = std::vector<int64_t>{1, 2, 0};
  expect_output<float>(c, {3, 4, 2}, want);
}

TEST(RefTranspose, OtherDtypesAndValidation) {
  auto c = node(OpKind::Transpose, {Tensor::from_vector<int8_t>({2, 2}, {1, 2, 3, 4})});
  expect_output<int8_t>(c, {2, 2}, {1, 3, 2, 4});
  auto s64 = node(OpKind::Transpose, {Tensor::from_vector<int64_t>({1, 2}, {INT64_MIN, 5})});
  expect_output<int64_t>(s64, {2, 1}, {INT64_MIN, 5});
  c.attrs["perm"] = std::vector<int64_t>{0, 0};
  expect_error(c, StatusCode::invalid_input, {"perm", "not a permutation"});
  c.attrs["perm"] = std::vector<int64_t>{0, 1, 2};
  expect_error(c, StatusCode::invalid_input, {"perm has 3 entries", "rank 2"});
}

// ---- Concat --------------------------------------------------------------------------

TEST(RefConcat, AxesAndDtypes) {
  auto c = node(OpKind::Concat, {Tensor::from_vector<float>({2, 2}, {1, 2, 3, 4}), Tensor::from_vector<float>({2, 1}, {9, 8})});
  c.attrs["axis"] = int64_t{-1};
  expect_output<float>(c, {2, 3}, {1, 2, 9, 3, 4, 8});
  auto s64 = node(OpKind::Concat, {ints({1, 2}), ints({}), ints({3})});
  s64.attrs["axis"] = int64_t{0};
  expect_output<int64_t>(s64, {3}, {1, 2, 3});
  auto b = node(OpKind::Concat, {Tensor::from_vector<bool>({1, 1}, {true}), Tensor::from_vector<bool>({1, 1}, {false})});
  b.attrs["axis"] = int64_t{0};
  expect_output<bool>(b, {2, 1}, {true, false});
  auto one = node(OpKind::Concat, {Tensor::from_vector<uint8_t>({2}, {7, 9})});
  one.attrs["axis"] = int64_t{0};
  expect_output<uint8_t>(one, {2}, {7, 9});
}

TEST(RefConcat, Validation) {
  auto c = node(OpKind::Concat, {iota_f32({2, 2}), iota_f32({3, 1})});
  c.attrs["axis"] = int64_t{1};
  expect_error(c, StatusCode::invalid_input, {"in1", "[3,1]", "axis 1"});
  c.inputs[1] = ints({1, 2});
  expect_error(c, StatusCode::invalid_input, {"in1", "s64"});
  c.inputs[1] = iota_f32({2, 2});
  c.attrs["axis"] = int64_t{2};
  expect_error(c, StatusCode::invalid_input, {"axis 2 is out of range"});
  c.attrs.clear();
  expect_error(c, StatusCode::invalid_input, {"'axis' is required"});
}

// ---- Squeeze / Unsqueeze -------------------------------------------------------------

TEST(RefSqueeze, AttributeAndInputAxes) {
  auto attr = node(OpKind::Squeeze, {iota_f32({1, 3, 1})}, 11);
  attr.attrs["axes"] = std::vector<int64_t>{0, -1};
  expect_output<float>(attr, {3}, {0, 1, 2});
  attr.attrs["axes"] = std::vector<int64_t>{2};
  expect_output<float>(attr, {1, 3}, {0, 1, 2});
  expect_output<float>(node(OpKind::Squeeze, {iota_f32({1, 3, 1})}, 11), {3}, {0, 1, 2});  // no axes: all 1s
  expect_output<float>(node(OpKind::Squeeze, {iota_f32({1, 3, 1}), ints({-3})}), {3, 1}, {0, 1, 2});
  expect_output<float>(node(OpKind::Squeeze, {iota_f32({1, 1})}), {}, {0});
}

TEST(RefSqueeze, Validation) {
  expect_error(node(OpKind::Squeeze, {iota_f32({1, 3}), ints({1})}), StatusCode::invalid_input,
               {"axis 1", "in0", "not 1"});
  expect_error(node(OpKind::Squeeze, {iota_f32({1, 3}), ints({0, -2})}), StatusCode::invalid_input, {"repeated"});
  expect_error(node(OpKind::Squeeze, {iota_f32({1, 3}), ints({2})}), StatusCode::invalid_input, {"out of range"});
}

TEST(RefUnsqueeze, AttributeAndInputAxes) {
  auto attr = node(OpKind::Unsqueeze, {iota_f32({3})}, 11);
  attr.attrs["axes"] = std::vector<int64_t>{0, -1};
  expect_output<float>(attr, {1, 3, 1}, {0, 1, 2});
  expect_output<float>(node(OpKind::Unsqueeze, {iota_f32({3, 2}), ints({3, 0})}), {1, 3, 2, 1}, iota_values(6));
  expect_output<float>(node(OpKind::Unsqueeze, {iota_f32({3, 2}), ints({2, 0})}), {1, 3, 1, 2}, iota_values(6));
  expect_output<int64_t>(node(OpKind::Unsqueeze, {Tensor::scalar<int64_t>(7), ints({0})}), {1}, {7});
}

TEST(RefUnsqueeze, Validation) {
  expect_error(node(OpKind::Unsqueeze, {iota_f32({3}), ints({2})}), StatusCode::invalid_input, {"out of range"});
  expect_error(node(OpKind::Unsqueeze, {iota_f32({3}), ints({0, -3})}), StatusCode::invalid_input, {"repeated"});
  expect_error(node(OpKind::Unsqueeze, {iota_f32({3})}), StatusCode::invalid_input, {"axes"});
  expect_error(node(OpKind::Unsqueeze, {iota_f32({3})}, 11), StatusCode::invalid_input, {"'axes' is required"});
}

// ---- Pad -----------------------------------------------------------------------------

NodeCase pad(Tensor x, std::vector<int64_t> pads, const char* mode, std::optional<Tensor> value = std::nullopt) {
  auto c = node(OpKind::Pad, {std::move(x), ints(std::move(pads))});
  if (value) c.inputs.push_back(std::move(*value));
  c.attrs["mode"] = std::string(mode);
  return c;
}

TEST(RefPad, ConstantMode) {
  // [[0,1],[2,3]] padded by 1 row above, 2 columns right, value 9.
  expect_output<float>(pad(iota_f32({2, 2}), {1, 0, 0, 2}, "constant", Tensor::scalar(9.0f)), {3, 4},
                       {9, 9, 9, 9, 0, 1, 9, 9, 2, 3, 9, 9});
  // Default constant value 0, integer dtype with its own value.
  expect_output<float>(pad(iota_f32({2}), {1, 1}, "constant"), {4}, {0, 0, 1, 0});
  expect_output<int8_t>(pad(t1d<int8_t>({5, 6}), {2, 0}, "constant", Tensor::scalar<int8_t>(-128)), {4},
                        {-128, -128, 5, 6});
}

TEST(RefPad, ReflectAndEdgeModes) {
  expect_output<float>(pad(iota_f32({3}), {2, 2}, "reflect"), {7}, {2, 1, 0, 1, 2, 1, 0});
  expect_output<float>(pad(iota_f32({3}), {2, 2}, "edge"), {7}, {0, 0, 0, 1, 2, 2, 2});
  // Wider than the input: numpy.pad([1,2,3], (5,4), 'reflect') = [2 1 2 3 2 1 2 3 2 1 2 3].
  expect_output<int32_t>(pad(t1d<int32_t>({1, 2, 3}), {5, 4}, "reflect"), {12}, {2, 1, 2, 3, 2, 1, 2, 3, 2, 1, 2, 3});
  // A dim of one element reflects onto itself (numpy).
  expect_output<float>(pad(Tensor::from_vector<float>({1}, {7}), {2, 2}, "reflect"), {5}, {7, 7, 7, 7, 7});
  // 2-D edge: [[0,1],[2,3]] with one on every side.
  expect_output<float>(pad(iota_f32({2, 2}), {1, 1, 1, 1}, "edge"), {4, 4},
                       {0, 0, 1, 1, 0, 0, 1, 1, 2, 2, 3, 3, 2, 2, 3, 3});
}

TEST(RefPad, NegativePadsCrop) {
  // [[0,1,2],[3,4,5]]: drop the first column, add one 0 column at the end.
  expect_output<float>(pad(iota_f32({2, 3}), {0, -1, 0, 1}, "constant"), {2, 3}, {1, 2, 0, 4, 5, 0});
  expect_output<float>(pad(iota_f32({4}), {-1, -2}, "edge"), {1}, {1});
}

TEST(RefPad, AttributeFormBeforeOpset11) {
  auto c = node(OpKind::Pad, {iota_f32({2})}, 2);
  c.attrs["pads"] = std::vector<int64_t>{1, 2};
  c.attrs["value"] = 1.5f;
  expect_output<float>(c, {5}, {1.5f, 0, 1, 1.5f, 1.5f});
  auto v1 = node(OpKind::Pad, {iota_f32({2})}, 1);
  v1.attrs["paddings"] = std::vector<int64_t>{0, 1};
  expect_output<float>(v1, {3}, {0, 1, 0});
}

TEST(RefPad, Validation) {
  expect_error(pad(iota_f32({2, 2}), {1, 1}, "constant"), StatusCode::invalid_input, {"2 entries", "needs 4"});
  expect_error(pad(iota_f32({2}), {-3, 0}, "constant"), StatusCode::invalid_input, {"negative"});
  expect_error(pad(iota_f32({0}), {1, 0}, "edge"), StatusCode::invalid_input, {"edge-pad", "empty"});
  expect_error(pad(iota_f32({0}), {1, 0}, "reflect"), StatusCode::invalid_input, {"reflect-pad"});
  expect_error(pad(iota_f32({2}), {1, 0}, "constant", Tensor::scalar<int8_t>(1)), StatusCode::invalid_input,
               {"in2", "constant_value", "s8"});
  expect_error(pad(iota_f32({2}), {1, 0}, "wrap"), StatusCode::invalid_input, {"mode 'wrap'"});
  expect_error(pad(iota_f32({2}), {INT64_MAX, 1}, "constant"), StatusCode::invalid_input, {"overflowing"});
  expect_error(pad(iota_f32({2}), {int64_t{1} << 40, 0}, "constant"), StatusCode::invalid_input, {"memory cap"});
}

// ---- Identity, Constant, Shape -------------------------------------------------------

TEST(RefIdentity, CopiesAnyDtype) {
  expect_output<int64_t>(node(OpKind::Identity, {ints({1, -2})}), {2}, {1, -2});
  expect_output<bool>(node(OpKind::Identity, {t1d<bool>({true})}), {1}, {true});
}

TEST(RefConstant, ValueForms) {
  auto c = node(OpKind::Constant, {});
  c.attrs["value"] = Tensor::from_vector<int8_t>({2, 1}, {-1, 2});
  expect_output<int8_t>(c, {2, 1}, {-1, 2});
  c.attrs = {{"value_float", 2.5f}};
  expect_output<float>(c, {}, {2.5f});
  c.attrs = {{"value_floats", std::vector<float>{1.0f, 2.0f}}};
  expect_output<float>(c, {2}, {1.0f, 2.0f});
  c.attrs = {{"value_int", int64_t{-7}}};
  expect_output<int64_t>(c, {}, {-7});
  c.attrs = {{"value_ints", std::vector<int64_t>{3, 4, 5}}};
  expect_output<int64_t>(c, {3}, {3, 4, 5});
}

TEST(RefConstant, Validation) {
  auto c = node(OpKind::Constant, {});
  c.attrs = {{"value_string", std::string("hello")}};
  expect_error(c, StatusCode::unsupported, {"value_string"});
  c.attrs = {{"value_strings", std::vector<std::string>{"a"}}};
  expect_error(c, StatusCode::unsupported, {"value_strings"});
  c.attrs.clear();
  expect_error(c, StatusCode::invalid_input, {"exactly one", "0 found"});
  c.attrs = {{"value_int", int64_t{1}}, {"value_float", 1.0f}};
  expect_error(c, StatusCode::invalid_input, {"2 found"});
}

TEST(RefShape, StartAndEnd) {
  auto c = node(OpKind::Shape, {iota_f32({2, 3, 4})}, 15);
  expect_output<int64_t>(c, {3}, {2, 3, 4});
  c.attrs["start"] = int64_t{1};
  expect_output<int64_t>(c, {2}, {3, 4});
  c.attrs["end"] = int64_t{-1};
  expect_output<int64_t>(c, {1}, {3});
  c.attrs = {{"start", int64_t{-10}}, {"end", int64_t{10}}};
  expect_output<int64_t>(c, {3}, {2, 3, 4});
  c.attrs = {{"start", int64_t{2}}, {"end", int64_t{1}}};
  expect_output<int64_t>(c, {0}, {});
  expect_output<int64_t>(node(OpKind::Shape, {Tensor::scalar(1.0f)}), {0}, {});
}

// ---- Gather --------------------------------------------------------------------------

TEST(RefGather, AxisZeroNegativeIndices) {
  // rows of [[0,1],[2,3],[4,5]]: 2, -1 (= 2), 0.
  expect_output<float>(node(OpKind::Gather, {iota_f32({3, 2}), ints({2, -1, 0})}), {3, 2}, {4, 5, 4, 5, 0, 1});
}

TEST(RefGather, OtherAxisAndIndexShapes) {
  // axis 1 of [2,3] with s32 indices [[2,0],[1,1]] -> [2,2,2]: out[i][a][b] = in[i][idx[a][b]].
  auto c = node(OpKind::Gather, {iota_f32({2, 3}), Tensor::from_vector<int32_t>({2, 2}, {2, 0, 1, 1})});
  c.attrs["axis"] = int64_t{1};
  expect_output<float>(c, {2, 2, 2}, {2, 0, 1, 1, 5, 3, 4, 4});
  c.attrs["axis"] = int64_t{-1};
  expect_output<float>(c, {2, 2, 2}, {2, 0, 1, 1, 5, 3, 4, 4});
  // A scalar index removes the axis.
  auto s = node(OpKind::Gather, {iota_f32({2, 3}), Tensor::scalar<int64_t>(-2)});
  s.attrs["axis"] = int64_t{1};
  expect_output<float>(s, {2}, {1, 4});
  expect_output<uint8_t>(node(OpKind::Gather, {t1d<uint8_t>({10, 20, 30}), ints({})}), {0}, {});
}

TEST(RefGather, Validation) {
  expect_error(node(OpKind::Gather, {iota_f32({3, 2}), ints({0, 3})}), StatusCode::invalid_input,
               {"node 'node'", "in1", "element 1 is 3", "[-3, 2]"});
  expect_error(node(OpKind::Gather, {iota_f32({3, 2}), ints({-4})}), StatusCode::invalid_input, {"element 0 is -4"});
  expect_error(node(OpKind::Gather, {iota_f32({3, 2}), Tensor::from_vector<float>({1}, {0})}),
               StatusCode::invalid_input, {"in1", "f32"});
  auto c = node(OpKind::Gather, {iota_f32({3, 2}), ints({0})});
  c.attrs["axis"] = int64_t{2};
  expect_error(c, StatusCode::invalid_input, {"axis 2 is out of range"});
  expect_error(node(OpKind::Gather, {Tensor::scalar(1.0f), ints({0})}), StatusCode::invalid_input, {"rank >= 1"});
}

// ---- ONNX node tests -----------------------------------------------------------------

const std::vector<std::string> kStems = {"test_flatten",   "test_reshape",   "test_transpose",   "test_concat",
                                         "test_squeeze",   "test_unsqueeze", "test_constant",    "test_edge_pad",
                                         "test_reflect_pad", "test_identity", "test_shape",      "test_gather"};
// test_gather_elements_* are GatherElements, another op.
const std::vector<std::string> kOtherOps = {"test_gather_elements"};

// Node tests of these ops that cannot pass, with the reason their load must give.
const UnrunnableNodeTest kCannotPass[] = {
    // qdrift graphs hold tensors only; these feed Identity an optional / a sequence.
    {"test_identity_opt", "not a tensor"},
    {"test_identity_sequence", "not a tensor"},
};

std::vector<std::string> runnable_tests() {
  return runnable_node_tests(list_node_tests(kOnnxNodeTests, kStems, kOtherOps), kCannotPass);
}

class OnnxShapeNodeTest : public ::testing::TestWithParam<std::string> {};

TEST_P(OnnxShapeNodeTest, MatchesExpectedOutputs) { EXPECT_TRUE(run_onnx_node_test(GetParam())); }

INSTANTIATE_TEST_SUITE_P(Onnx, OnnxShapeNodeTest, ::testing::ValuesIn(runnable_tests()),
                         [](const auto& info) { return info.param; });

TEST(OnnxShapeNodeTests, UnrunnableOnesFailWithTheirReason) {
  expect_unrunnable_node_tests(kCannotPass);
}

TEST(OnnxShapeNodeTests, SelectionIsComplete) {
  // flatten 9, reshape 10, transpose 7, concat 12, squeeze 2, unsqueeze 8, constant +
  // constant_pad 2, edge_pad 1, reflect_pad 1, identity 3, shape 10, gather 4 (libonnx-testdata 1.12).
  EXPECT_EQ(list_node_tests(kOnnxNodeTests, kStems, kOtherOps).size(), 69u);
  EXPECT_EQ(runnable_tests().size(), 67u);
}

}  // namespace
}  // namespace qdrift::test
