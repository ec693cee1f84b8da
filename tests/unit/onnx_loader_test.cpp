// The ONNX loader on malformed graphs: each must give a Status naming the problem, never
// a crash (libonnx's own shape inference divides by strides, so those are checked first).
#include <gtest/gtest.h>

#include <onnx/onnx_pb.h>

#include "core/onnx_loader.h"

namespace qdrift {
namespace {

onnx::ValueInfoProto tensor_info(const std::string& name, std::vector<int64_t> dims) {
  onnx::ValueInfoProto v;
  v.set_name(name);
  auto* tt = v.mutable_type()->mutable_tensor_type();
  tt->set_elem_type(onnx::TensorProto::FLOAT);
  for (int64_t d : dims) tt->mutable_shape()->add_dim()->set_dim_value(d);
  return v;
}

// x [1,1,5,5] -> Conv(w [1,1,3,3]) -> y, with one attribute overridden.
onnx::ModelProto conv_model(const std::string& attr, std::vector<int64_t> values) {
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(13);
  auto* g = m.mutable_graph();
  g->set_name("conv");
  *g->add_input() = tensor_info("x", {1, 1, 5, 5});
  *g->add_output() = tensor_info("y", {1, 1, 3, 3});
  auto* w = g->add_initializer();
  w->set_name("w");
  w->set_data_type(onnx::TensorProto::FLOAT);
  for (int64_t d : {1, 1, 3, 3}) w->add_dims(d);
  for (int i = 0; i < 9; ++i) w->add_float_data(1.f);
  auto* n = g->add_node();
  n->set_op_type("Conv");
  n->set_name("conv0");
  n->add_input("x");
  n->add_input("w");
  n->add_output("y");
  auto* a = n->add_attribute();
  a->set_name(attr);
  a->set_type(attr == "group" ? onnx::AttributeProto::INT : onnx::AttributeProto::INTS);
  if (attr == "group") a->set_i(values[0]);
  else
    for (int64_t v : values) a->add_ints(v);
  return m;
}

Result<Graph> load_model(const onnx::ModelProto& m) { return load_onnx_bytes(m.SerializeAsString(), "test.onnx"); }

void expect_error(const Result<Graph>& g, const std::string& fragment) {
  ASSERT_FALSE(g);
  EXPECT_NE(g.status().message().find(fragment), std::string::npos) << g.status().message();
  EXPECT_EQ(g.status().message().find('\n'), std::string::npos) << "one line";
  EXPECT_EQ(exit_code(g.status()), kExitBadInput);
}

TEST(OnnxLoader, AcceptsAWellFormedConv) {
  auto g = load_model(conv_model("strides", {1, 1}));
  ASSERT_TRUE(g) << g.status().message();
  EXPECT_EQ(g->nodes.size(), 1u);
  const Value& y = g->value(g->outputs[0]);
  EXPECT_EQ(y.shape, (Shape{1, 1, 3, 3}));
  EXPECT_EQ(y.dtype, DType::f32);
}

TEST(OnnxLoader, RejectsGeometryThatWouldCrashShapeInference) {
  expect_error(load_model(conv_model("strides", {0, 1})), "attribute strides has the value 0");
  expect_error(load_model(conv_model("dilations", {1, -2})), "attribute dilations has the value -2");
  expect_error(load_model(conv_model("kernel_shape", {0, 3})), "attribute kernel_shape has the value 0");
  expect_error(load_model(conv_model("pads", {0, 0, -1, 0})), "attribute pads has the value -1");
  expect_error(load_model(conv_model("group", {0})), "attribute group has the value 0");
  expect_error(load_model(conv_model("strides", {int64_t{1} << 40, 1})), "attribute strides");
}

TEST(OnnxLoader, RejectsCyclesDanglingInputsAndDuplicateOutputs) {
  onnx::ModelProto m = conv_model("strides", {1, 1});
  auto* g = m.mutable_graph();
  // Relu reads a value nobody produces.
  auto* r = g->add_node();
  r->set_op_type("Relu");
  r->set_name("dangling");
  r->add_input("nowhere");
  r->add_output("r");
  expect_error(load_model(m), "input 'nowhere'");

  onnx::ModelProto dup = conv_model("strides", {1, 1});
  auto* d = dup.mutable_graph()->add_node();
  d->set_op_type("Relu");
  d->set_name("again");
  d->add_input("x");
  d->add_output("y");  // y is also the conv's output
  auto gd = load_model(dup);
  ASSERT_FALSE(gd);

  onnx::ModelProto cyc;
  cyc.set_ir_version(8);
  cyc.add_opset_import()->set_version(13);
  auto* cg = cyc.mutable_graph();
  *cg->add_input() = tensor_info("x", {2});
  *cg->add_output() = tensor_info("b", {2});
  for (auto [name, in, out] : {std::tuple{"n1", "b", "a"}, std::tuple{"n2", "a", "b"}}) {
    auto* n = cg->add_node();
    n->set_op_type("Relu");
    n->set_name(name);
    n->add_input(in);
    n->add_output(out);
  }
  auto gc = load_onnx_bytes(cyc.SerializeAsString(), "cycle.onnx", LoadOptions{{}, false, false});
  ASSERT_FALSE(gc);
  EXPECT_NE(gc.status().message().find("cycle"), std::string::npos) << gc.status().message();
}

TEST(OnnxLoader, RejectsBytesThatAreNotAModel) {
  expect_error(load_onnx_bytes("", "empty.onnx"), "empty.onnx: empty file");
  expect_error(load_onnx_bytes(std::string("\x08\x07\x12\xff\xff", 5), "junk.onnx"), "junk.onnx");
  const std::string good = conv_model("strides", {1, 1}).SerializeAsString();
  expect_error(load_onnx_bytes(good.substr(0, good.size() / 2), "half.onnx"), "half.onnx");
  expect_error(load_onnx("/nonexistent/model.onnx"), "/nonexistent/model.onnx: cannot open");
}

TEST(OnnxLoader, RejectsInitializerWhoseDataDisagreesWithItsDims) {
  onnx::ModelProto m = conv_model("strides", {1, 1});
  m.mutable_graph()->mutable_initializer(0)->add_dims(1000000);  // [1,1,3,3,1000000], 9 values
  expect_error(load_model(m), "tensor 'w'");
}

}  // namespace
}  // namespace qdrift
