// strip_qdq: QDQ graphs built in code; after the pass no Q/DQ remain on float paths,
// quantized constants are dequantized initializers, names survive, and running the result
// gives what the float graph computes by hand.
#include <algorithm>

#include <gtest/gtest.h>

#include "core/passes.h"
#include "tests/unit/ref_test_helpers.h"

namespace qdrift::test {
namespace {

// Adds a node of `kind` reading `ins` and producing new values named `outs`.
std::vector<ValueId> add(Graph& g, OpKind kind, std::vector<ValueId> ins, std::vector<std::string> outs,
                         std::map<std::string, AttrValue, std::less<>> attrs = {}) {
  Node n;
  n.kind = kind;
  n.op_type = std::string(op_kind_name(kind));
  n.name = outs.at(0) + "_node";
  n.inputs = std::move(ins);
  n.attrs = std::move(attrs);
  for (auto& o : outs) n.outputs.push_back(g.add_value(o));
  std::vector<ValueId> ids = n.outputs;
  g.add_node(std::move(n));
  return ids;
}

ValueId add_input(Graph& g, const std::string& name, DType t, Shape s) {
  const ValueId v = g.add_value(name);
  g.value(v).dtype = t;
  g.value(v).shape = std::move(s);
  g.value(v).has_shape = true;
  g.inputs.push_back(v);
  return v;
}

std::vector<OpKind> kinds(const Graph& g) {
  std::vector<OpKind> k;
  for (const Node& n : g.nodes) k.push_back(n.kind);
  return k;
}

std::vector<float> floats(const Tensor& t) { return values_of<float>(t); }

void expect_near(const std::vector<float>& got, const std::vector<float>& want, float tol = 1e-5f) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], tol) << "element " << i;
}

// x [2,3] f32 --Q(0.5, s8)--DQ--> xd ─┐
// w_q s8 [1,3] --DQ(per axis 1)--> wd ┴ Mul -> m ─┐
// b_q s32 [3] --DQ(0.25)--> bd ──────────── Add -> a ─┐
// u u8 [3] (runtime) --DQ(0.1, zp 10)--> ud ──────── Add -> c -> Relu -> r
// r --Q(0.5, u8)--DQ--> y (graph output);  r --Q(0.5, u8)--> r_q (graph output)
struct QdqModel {
  Graph g;
  Tensor x = Tensor::from_vector<float>({2, 3}, {1.3f, -0.7f, 2.2f, 0.1f, 0.25f, -3.0f});
  Tensor u = Tensor::from_vector<uint8_t>({3}, {10, 20, 30});

  QdqModel() {
    g.name = "qdq";
    g.opset = 13;
    g.opset_imports[""] = 13;
    const ValueId xv = add_input(g, "x", DType::f32, {2, 3});
    const ValueId uv = add_input(g, "u", DType::u8, {3});
    const ValueId sx = g.add_initializer("x_scale", Tensor::scalar(0.5f));
    const ValueId zx = g.add_initializer("x_zp", Tensor::scalar<int8_t>(0));
    const ValueId xq = add(g, OpKind::QuantizeLinear, {xv, sx, zx}, {"x_q"})[0];
    const ValueId xd = add(g, OpKind::DequantizeLinear, {xq, sx, zx}, {"x_dq"})[0];
    // Weights: s8 [1,3] per channel along axis 1: scales {0.5, 0.25, 0.1}, zp {0, 0, 2}.
    const ValueId wq = g.add_initializer("w_q", Tensor::from_vector<int8_t>({1, 3}, {2, -4, 10}));
    const ValueId sw = g.add_initializer("w_scale", Tensor::from_vector<float>({3}, {0.5f, 0.25f, 0.1f}));
    const ValueId zw = g.add_initializer("w_zp", Tensor::from_vector<int8_t>({3}, {0, 0, 2}));
    const ValueId wd = add(g, OpKind::DequantizeLinear, {wq, sw, zw}, {"w"}, {{"axis", int64_t{1}}})[0];
    // Bias: s32 with scale 0.25, no zero point.
    const ValueId bq = g.add_initializer("b_q", Tensor::from_vector<int32_t>({3}, {4, -8, 20}));
    const ValueId sb = g.add_initializer("b_scale", Tensor::scalar(0.25f));
    const ValueId bd = add(g, OpKind::DequantizeLinear, {bq, sb}, {"b"})[0];
    // A runtime u8 input: its DQ has no float counterpart.
    const ValueId su = g.add_initializer("u_scale", Tensor::scalar(0.1f));
    const ValueId zu = g.add_initializer("u_zp", Tensor::scalar<uint8_t>(10));
    const ValueId ud = add(g, OpKind::DequantizeLinear, {uv, su, zu}, {"u_dq"})[0];
    const ValueId m = add(g, OpKind::Mul, {xd, wd}, {"m"})[0];
    const ValueId a = add(g, OpKind::Add, {m, bd}, {"a"})[0];
    const ValueId c = add(g, OpKind::Add, {a, ud}, {"c"})[0];
    const ValueId r = add(g, OpKind::Relu, {c}, {"r"})[0];
    const ValueId sy = g.add_initializer("y_scale", Tensor::scalar(0.5f));
    const ValueId zy = g.add_initializer("y_zp", Tensor::scalar<uint8_t>(0));
    const ValueId rq = add(g, OpKind::QuantizeLinear, {r, sy, zy}, {"r_qq"})[0];
    const ValueId y = add(g, OpKind::DequantizeLinear, {rq, sy, zy}, {"y"})[0];
    const ValueId rq_out = add(g, OpKind::QuantizeLinear, {r, sy, zy}, {"r_q"})[0];
    g.outputs = {y, rq_out};
    QD_ASSERT(g.validate().is_ok());
  }
};

TEST(StripQdq, RemovesFakeQuantAndKeepsBoundary) {
  QdqModel model;
  const Graph s = strip_qdq(model.g);
  ASSERT_TRUE(s.validate()) << s.validate().message();
  // Left: the boundary DQ of u, the float ops, Identity for the graph output y, the Q of r_q.
  EXPECT_EQ(kinds(s), (std::vector<OpKind>{OpKind::DequantizeLinear, OpKind::Mul, OpKind::Add, OpKind::Add,
                                           OpKind::Relu, OpKind::Identity, OpKind::QuantizeLinear}));
  // Every remaining Q/DQ touches a non-float tensor: u (u8 input) or r_q (u8 output).
  for (const Node& n : s.nodes) {
    if (n.kind == OpKind::DequantizeLinear) {
      EXPECT_EQ(s.value(n.inputs[0]).name, "u");
    }
    if (n.kind == OpKind::QuantizeLinear) {
      EXPECT_EQ(s.value(n.outputs[0]).name, "r_q");
    }
  }
  // Mul reads x directly; names of surviving tensors are unchanged.
  const Node& mul = s.nodes[1];
  EXPECT_EQ(s.value(mul.inputs[0]).name, "x");
  EXPECT_EQ(s.value(mul.inputs[1]).name, "w");
  for (const char* name : {"x", "u", "w", "b", "u_dq", "m", "a", "c", "r", "y", "r_q"})
    EXPECT_NE(s.find_value(name), kNoValue) << name;
  for (const char* name : {"x_q", "x_dq", "r_qq", "w_q", "b_q"}) EXPECT_EQ(s.find_value(name), kNoValue) << name;
  EXPECT_EQ(s.value(s.outputs[0]).name, "y");
  EXPECT_EQ(s.value(s.outputs[1]).name, "r_q");
  ASSERT_EQ(s.inputs.size(), 2u);
  EXPECT_EQ(s.value(s.inputs[0]).name, "x");
  EXPECT_EQ(s.value(s.inputs[1]).name, "u");
  // The source graph is untouched.
  EXPECT_EQ(model.g.nodes.size(), 12u);
}

TEST(StripQdq, WeightsAndBiasBecomeDequantizedFloats) {
  QdqModel model;
  const Graph s = strip_qdq(model.g);
  const Value& w = s.value(s.find_value("w"));
  ASSERT_TRUE(w.initializer);
  EXPECT_EQ(w.dtype, DType::f32);
  EXPECT_EQ(w.initializer->shape, (Shape{1, 3}));
  // (2-0)*0.5, (-4-0)*0.25, (10-2)*0.1
  expect_near(floats(*w.initializer), {1.0f, -1.0f, 0.8f}, 1e-7f);
  EXPECT_EQ(w.producer, kNoNode);
  const Value& b = s.value(s.find_value("b"));
  ASSERT_TRUE(b.initializer);
  EXPECT_EQ(floats(*b.initializer), (std::vector<float>{1.0f, -2.0f, 5.0f}));
}

TEST(StripQdq, RunsLikeTheFloatGraphByHand) {
  QdqModel model;
  const Graph s = strip_qdq(model.g);
  auto ex = Executor::create(s, ref_kernel_table());
  ASSERT_TRUE(ex) << ex.status().message();
  auto out = ex->run(std::vector<Tensor>{model.x, model.u});
  ASSERT_TRUE(out) << out.status().message();
  // w = {1, -1, 0.8}, b = {1, -2, 5}, u_dq = (u - 10) * 0.1 = {0, 1, 2}.
  // c = x*w + b + u_dq: row 0: 1.3+1+0, 0.7-2+1, 1.76+5+2; row 1: 0.1+1, -0.25-2+1, -2.4+5+2.
  const std::vector<float> y = {2.3f, 0.0f, 8.76f, 1.1f, 0.0f, 4.6f};  // after Relu
  expect_near(floats((*out)[0]), y);
  // r_q = Q(r, 0.5): 4.6 -> 5, 17.52 -> 18, 2.2 -> 2, 9.2 -> 9.
  EXPECT_EQ(values_of<uint8_t>((*out)[1]), (std::vector<uint8_t>{5, 0, 18, 2, 0, 9}));

  // The fake-quant graph itself also runs, and differs where x is off its 0.5 grid.
  auto ref = Executor::create(model.g, ref_kernel_table());
  ASSERT_TRUE(ref) << ref.status().message();
  auto ref_out = ref->run(std::vector<Tensor>{model.x, model.u});
  ASSERT_TRUE(ref_out) << ref_out.status().message();
  // x_dq = {1.5, -0.5, 2, 0, 0, -3}; c = {2.5, -0.5, 8.6, 1, -1.0, 4.6}; relu; Q/DQ at 0.5:
  // 2.5, 0, 8.6 -> 17.2 -> 17 -> 8.5, 1, 0, 4.6 -> 9.2 -> 9 -> 4.5.
  expect_near(floats((*ref_out)[0]), {2.5f, 0.0f, 8.5f, 1.0f, 0.0f, 4.5f});
}

TEST(StripQdq, QuantizedTensorReadElsewhereKeepsItsQ) {
  // x -> Q -> xq -> DQ -> Relu -> r; xq is also a graph output: Q stays, DQ is bypassed.
  Graph g;
  g.opset = 13;
  const ValueId x = add_input(g, "x", DType::f32, {2});
  const ValueId s = g.add_initializer("s", Tensor::scalar(1.0f));
  const ValueId xq = add(g, OpKind::QuantizeLinear, {x, s}, {"xq"})[0];
  const ValueId xd = add(g, OpKind::DequantizeLinear, {xq, s}, {"xd"})[0];
  const ValueId r = add(g, OpKind::Relu, {xd}, {"r"})[0];
  g.outputs = {r, xq};
  const Graph st = strip_qdq(g);
  ASSERT_TRUE(st.validate()) << st.validate().message();
  EXPECT_EQ(kinds(st), (std::vector<OpKind>{OpKind::QuantizeLinear, OpKind::Relu}));
  EXPECT_EQ(st.value(st.nodes[1].inputs[0]).name, "x");
  EXPECT_EQ(st.find_value("xd"), kNoValue);
}

TEST(StripQdq, ChainsCollapseAndConstantNodesFold) {
  // x -> Q -> DQ -> Q -> DQ -> Add(., DQ(Constant w_q)) -> out.
  Graph g;
  g.opset = 13;
  const ValueId x = add_input(g, "x", DType::f32, {2});
  const ValueId s = g.add_initializer("s", Tensor::scalar(0.5f));
  const ValueId z = g.add_initializer("z", Tensor::scalar<int8_t>(0));
  const ValueId q1 = add(g, OpKind::QuantizeLinear, {x, s, z}, {"q1"})[0];
  const ValueId d1 = add(g, OpKind::DequantizeLinear, {q1, s, z}, {"d1"})[0];
  const ValueId q2 = add(g, OpKind::QuantizeLinear, {d1, s, z}, {"q2"})[0];
  const ValueId d2 = add(g, OpKind::DequantizeLinear, {q2, s, z}, {"d2"})[0];
  const ValueId wq = add(g, OpKind::Constant, {}, {"w_q"}, {{"value", Tensor::from_vector<int8_t>({2}, {3, -5})}})[0];
  const ValueId w = add(g, OpKind::DequantizeLinear, {wq, s, z}, {"w"})[0];
  const ValueId out = add(g, OpKind::Add, {d2, w}, {"out"})[0];
  g.outputs = {out};
  ASSERT_TRUE(g.validate());
  const Graph st = strip_qdq(g);
  ASSERT_TRUE(st.validate()) << st.validate().message();
  EXPECT_EQ(kinds(st), (std::vector<OpKind>{OpKind::Add}));
  EXPECT_EQ(st.value(st.nodes[0].inputs[0]).name, "x");
  EXPECT_EQ(st.value(st.nodes[0].inputs[1]).name, "w");
  auto ex = Executor::create(st, ref_kernel_table());
  ASSERT_TRUE(ex) << ex.status().message();
  auto res = ex->run(std::vector<Tensor>{Tensor::from_vector<float>({2}, {0.3f, 1.0f})});
  ASSERT_TRUE(res) << res.status().message();
  // w = {1.5, -2.5}: out = x + w.
  expect_near(floats((*res)[0]), {1.8f, -1.5f});
}

TEST(StripQdq, MalformedConstantDequantizeIsLeftForTheExecutor) {
  Graph g;
  g.opset = 13;
  const ValueId q = g.add_initializer("q", Tensor::from_vector<int8_t>({2}, {1, 2}));
  const ValueId s = g.add_initializer("s", Tensor::scalar(0.0f));  // invalid scale
  const ValueId x = add_input(g, "x", DType::f32, {2});
  const ValueId d = add(g, OpKind::DequantizeLinear, {q, s}, {"d"})[0];
  const ValueId out = add(g, OpKind::Add, {x, d}, {"out"})[0];
  g.outputs = {out};
  const Graph st = strip_qdq(g);
  EXPECT_EQ(kinds(st), (std::vector<OpKind>{OpKind::DequantizeLinear, OpKind::Add}));
  auto ex = Executor::create(st, ref_kernel_table());
  ASSERT_TRUE(ex) << ex.status().message();
  auto res = ex->run(std::vector<Tensor>{Tensor::from_vector<float>({2}, {0, 0})});
  ASSERT_FALSE(res);
  EXPECT_NE(res.status().message().find("scale 's'"), std::string::npos) << res.status().message();
}

TEST(StripQdq, GraphWithoutQdqIsUnchanged) {
  Graph g;
  g.opset = 13;
  const ValueId x = add_input(g, "x", DType::f32, {2});
  const ValueId r = add(g, OpKind::Relu, {x}, {"r"})[0];
  g.outputs = {r};
  const Graph st = strip_qdq(g);
  EXPECT_EQ(kinds(st), std::vector<OpKind>{OpKind::Relu});
  EXPECT_EQ(st.values.size(), g.values.size());
  EXPECT_EQ(st.value(st.outputs[0]).name, "r");
}

}  // namespace
}  // namespace qdrift::test
