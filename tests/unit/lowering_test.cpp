// Structure of the lowered int8 graph: which rules fire, the names Paddle users know,
// provenance, and what each policy knob changes. Expected values are worked out by hand
// from the test models' parameters (testdata/qdq, made by testdata/gen/make_lowering_models.py).
#include <gtest/gtest.h>

#include <cmath>

#include "core/int8_policy.h"
#include "core/lower.h"
#include "core/lowered_ops.h"
#include "core/onnx_loader.h"

namespace qdrift {
namespace {

Graph load(const std::string& name) {
  auto g = load_onnx(std::string(QDRIFT_SOURCE_DIR) + "/testdata/qdq/" + name + ".onnx");
  EXPECT_TRUE(g) << g.status().message();
  return std::move(*g);
}

LoweredGraph lower_with(const Graph& g, const std::string& preset, std::vector<std::string> sets = {}) {
  auto p = int8_policy_preset(preset);
  EXPECT_TRUE(p) << p.status().message();
  for (const auto& s : sets) EXPECT_TRUE(int8_policy_set(*p, s));
  auto l = lower(g, *p);
  EXPECT_TRUE(l) << l.status().message();
  return std::move(*l);
}

std::vector<std::string> op_sequence(const Graph& g) {
  std::vector<std::string> ops;
  for (const Node& n : g.nodes) ops.push_back(n.op_type);
  return ops;
}

const Node* find_node(const Graph& g, const std::string& name) {
  for (const Node& n : g.nodes)
    if (n.name == name) return &n;
  return nullptr;
}

// The source QuantizeLinear's parameters of the tensor `q_output`.
QuantParams source_q_params(const Graph& g, const std::string& q_output) {
  const Node* q = g.producer(g.find_value(q_output));
  EXPECT_TRUE(q && q->kind == OpKind::QuantizeLinear);
  QuantParams p;
  p.scale = {g.value(q->inputs[1]).initializer->data<float>()[0]};
  const Tensor& zp = *g.value(q->inputs[2]).initializer;
  p.zero_point = {static_cast<int32_t>(zp.value_as_double(0))};
  p.zero_point_type = zp.dtype;
  return p;
}

TEST(Lowering, ConvChainFusesConvActAndPassesMaxPoolThroughInt8) {
  Graph g = load("conv_chain_u8");
  LoweredGraph l = lower_with(g, "onnx");
  EXPECT_EQ(op_sequence(l.graph), (std::vector<std::string>{"Quantize", "QConv", "QConv", "MaxPool", "QConv", "Dequantize"}));
  // The first conv's Relu is fused as a post-op; the last conv's Clip(0, 6) becomes a clip
  // with bounds in output units: 6 / s_y.
  const Node* c1 = find_node(l.graph, "conv2");
  ASSERT_TRUE(c1);
  auto p1 = parse_lowered_params(*c1);
  ASSERT_TRUE(p1);
  ASSERT_EQ(p1->post_ops.size(), 1u);
  EXPECT_EQ(p1->post_ops[0].kind, PostOpKind::relu);
  const Node* c3 = find_node(l.graph, "conv9");
  ASSERT_TRUE(c3);
  auto p3 = parse_lowered_params(*c3);
  ASSERT_TRUE(p3);
  ASSERT_EQ(p3->post_ops.size(), 1u);
  EXPECT_EQ(p3->post_ops[0].kind, PostOpKind::clip);
  const QuantParams py = *l.graph.value(c3->outputs[0]).quant;
  EXPECT_FLOAT_EQ(p3->post_ops[0].alpha, 0.f);
  EXPECT_FLOAT_EQ(p3->post_ops[0].beta, 6.f / py.scale[0]);
  // MaxPool runs on u8 codes; input and output share the grid, so no requantize.
  const Node* pool = find_node(l.graph, "maxpool7");
  ASSERT_TRUE(pool);
  EXPECT_EQ(l.graph.value(pool->inputs[0]).dtype, DType::u8);
  EXPECT_EQ(l.graph.value(pool->outputs[0]).dtype, DType::u8);
  EXPECT_EQ(l.graph.value(pool->outputs[0]).provenance.rewrite, "int8_passthrough");
}

TEST(Lowering, InsertedTensorsUsePaddleNamesAndRecordProvenance) {
  Graph g = load("conv_chain_u8");
  LoweredGraph l = lower_with(g, "onnx");
  const ValueId q0 = l.graph.find_value("quantize/out/0");
  ASSERT_NE(q0, kNoValue);
  const Value& qv = l.graph.value(q0);
  EXPECT_EQ(qv.dtype, DType::u8);
  EXPECT_EQ(qv.provenance.rewrite, "insert_quantize");
  // It stands for the source QuantizeLinear output of the graph input, with its parameters.
  ASSERT_NE(g.find_value(qv.provenance.source), kNoValue);
  EXPECT_EQ(g.producer(g.find_value(qv.provenance.source))->kind, OpKind::QuantizeLinear);
  EXPECT_EQ(*qv.quant, source_q_params(g, qv.provenance.source));
  // The last conv's int8 output feeds the float graph output: Paddle's dequantize/in/N.
  const Node* last = find_node(l.graph, "conv9");
  EXPECT_EQ(l.graph.value(last->outputs[0]).name.rfind("dequantize/in/", 0), 0u);
  // Every lowered value says which rule made it; values standing for source tensors name them.
  for (const Value& v : l.graph.values) {
    EXPECT_FALSE(v.provenance.rewrite.empty()) << v.name;
    if (!v.provenance.source.empty()) {
      EXPECT_NE(g.find_value(v.provenance.source), kNoValue) << v.name;
    }
  }
}

TEST(Lowering, OutputScalesAreInputTimesWeightOverOutputScale) {
  Graph g = load("conv_chain_u8");
  LoweredGraph l = lower_with(g, "onnx");
  const Node* c1 = find_node(l.graph, "conv2");
  const Value& x = l.graph.value(c1->inputs[0]);
  const Value& w = l.graph.value(c1->inputs[1]);
  const Value& y = l.graph.value(c1->outputs[0]);
  auto p = parse_lowered_params(*c1);
  ASSERT_TRUE(p);
  ASSERT_EQ(p->output_scales.size(), w.quant->scale.size());
  for (size_t c = 0; c < p->output_scales.size(); ++c)
    EXPECT_FLOAT_EQ(p->output_scales[c], x.quant->scale[0] * w.quant->scale[c] / y.quant->scale[0]);
  // The model's int32 bias has scale s_x * s_w: kept as it is.
  const Value& b = l.graph.value(c1->inputs[2]);
  EXPECT_EQ(b.dtype, DType::s32);
  EXPECT_EQ(b.provenance.rewrite, "bias_model_s32");
}

TEST(Lowering, HardSwishRunsInTheRealDomainUnderExactOrder) {
  Graph g = load("depthwise_s8");
  LoweredGraph l = lower_with(g, "onnx");
  const Node* c = find_node(l.graph, "conv2");
  auto p = parse_lowered_params(*c);
  ASSERT_TRUE(p);
  ASSERT_EQ(p->post_ops.size(), 2u);
  EXPECT_EQ(p->post_ops[0].kind, PostOpKind::hardswish);
  EXPECT_EQ(p->post_ops[1].kind, PostOpKind::linear);
  const QuantParams& py = *l.graph.value(c->outputs[0]).quant;
  EXPECT_FLOAT_EQ(p->post_ops[1].alpha, 1.f / py.scale[0]);
  const QuantParams& px = *l.graph.value(c->inputs[0]).quant;
  const QuantParams& pw = *l.graph.value(c->inputs[1]).quant;
  EXPECT_FLOAT_EQ(p->output_scales[0], px.scale[0] * pw.scale[0]);  // real units, no 1/s_y

  // after_scale: the activation sees output-scaled values, no final linear.
  LoweredGraph a = lower_with(g, "onnx", {"act_order=after_scale"});
  auto pa = parse_lowered_params(*find_node(a.graph, "conv2"));
  ASSERT_TRUE(pa);
  ASSERT_EQ(pa->post_ops.size(), 1u);
  EXPECT_EQ(pa->post_ops[0].kind, PostOpKind::hardswish);
  EXPECT_FLOAT_EQ(pa->output_scales[0], px.scale[0] * pw.scale[0] / py.scale[0]);
}

TEST(Lowering, ResidualAddBecomesSumPostOp) {
  Graph g = load("residual_u8");
  LoweredGraph l = lower_with(g, "onnx");
  const Node* c = find_node(l.graph, "conv5");
  ASSERT_TRUE(c);
  ASSERT_EQ(c->inputs.size(), 4u);  // x, w, bias, sum
  auto p = parse_lowered_params(*c);
  ASSERT_TRUE(p);
  ASSERT_EQ(p->post_ops.size(), 2u);
  EXPECT_EQ(p->post_ops[0].kind, PostOpKind::sum);
  EXPECT_EQ(p->post_ops[1].kind, PostOpKind::relu);
  const QuantParams& ps = *l.graph.value(c->inputs[3]).quant;
  const QuantParams& py = *l.graph.value(c->outputs[0]).quant;
  EXPECT_FLOAT_EQ(p->post_ops[0].alpha, ps.scale[0] / py.scale[0]);
  EXPECT_FLOAT_EQ(p->post_ops[0].beta, static_cast<float>(ps.zero_point[0]));
  EXPECT_EQ(l.graph.value(c->outputs[0]).provenance.rewrite, "fuse_conv_sum");
  // The Add of two quantized tensors becomes a QAdd of their codes (rule int8_add).
  const Node* add = find_node(l.graph, "add11");
  ASSERT_TRUE(add);
  EXPECT_EQ(add->kind, OpKind::QAdd);
  ASSERT_EQ(add->inputs.size(), 2u);
  ASSERT_EQ(add->outputs.size(), 1u);
  for (ValueId in : add->inputs) {
    EXPECT_EQ(l.graph.value(in).dtype, DType::u8) << l.graph.value(in).name;
    ASSERT_TRUE(l.graph.value(in).quant.has_value());
  }
  const Value& y = l.graph.value(add->outputs[0]);
  EXPECT_EQ(y.provenance.rewrite, "int8_add");
  EXPECT_EQ(y.dtype, DType::u8);
  // The output stands for the source's QuantizeLinear after the Add, with its parameters.
  const Node* src_add = find_node(g, "add11");
  ASSERT_TRUE(src_add);
  const Value& src_sum = g.value(src_add->outputs[0]);
  ASSERT_EQ(src_sum.consumers.size(), 1u);
  const Node& src_q = g.nodes[static_cast<size_t>(src_sum.consumers[0])];
  ASSERT_EQ(src_q.kind, OpKind::QuantizeLinear);
  EXPECT_EQ(y.provenance.source, g.value(src_q.outputs[0]).name);
  const QuantParams want = source_q_params(g, y.provenance.source);
  EXPECT_EQ(y.quant->scale, want.scale);
  EXPECT_EQ(y.quant->zero_point, want.zero_point);
  // The inputs are the codes the source's DequantizeLinear nodes read.
  for (size_t i = 0; i < 2; ++i) {
    const Node* dq = g.producer(src_add->inputs[i]);
    ASSERT_TRUE(dq && dq->kind == OpKind::DequantizeLinear);
    EXPECT_EQ(l.graph.value(add->inputs[i]).provenance.source, g.value(dq->inputs[0]).name) << i;
  }
  // No float Add, and no Dequantize feeding one, is left.
  for (const Node& n : l.graph.nodes) EXPECT_NE(n.kind, OpKind::Add) << n.name;

  // Where the policy keeps Add in f32 it stays a float Add between Dequantize and Quantize.
  LoweredGraph f = lower_with(g, "onnx", {"fp32_ops=Add"});
  const Node* fadd = find_node(f.graph, "add11");
  ASSERT_TRUE(fadd);
  EXPECT_EQ(fadd->kind, OpKind::Add);
}

// torchvision's residual (Add, then Relu, then QuantizeLinear) and an Add -> Clip -> Q of two
// quantized tensors: each one QAdd with the activation's real-valued bounds, no float op left.
TEST(Lowering, AddWithReluOrClipBecomesOneQAddWithTheActivationFused) {
  Graph g = load("int8_ops_u8");
  LoweredGraph l = lower_with(g, "onnx");
  const Node* relu_add = find_node(l.graph, "add7");
  ASSERT_TRUE(relu_add);
  EXPECT_EQ(relu_add->kind, OpKind::QAdd);
  EXPECT_EQ(relu_add->attr_float("act_min", -1.f), 0.f);
  EXPECT_EQ(relu_add->attrs.count("act_max"), 0u);
  const Node* clip_add = find_node(l.graph, "add10");
  ASSERT_TRUE(clip_add);
  EXPECT_EQ(clip_add->kind, OpKind::QAdd);
  EXPECT_EQ(clip_add->attr_float("act_min", 0.f), -0.5f);
  EXPECT_EQ(clip_add->attr_float("act_max", 0.f), 1.5f);
  for (const Node* n : {relu_add, clip_add}) {
    const Value& y = l.graph.value(n->outputs[0]);
    EXPECT_EQ(y.provenance.rewrite, "int8_add");
    // It stands for the QuantizeLinear after the activation, with that Q's parameters.
    const Node* q = g.producer(g.find_value(y.provenance.source));
    ASSERT_TRUE(q);
    EXPECT_EQ(q->kind, OpKind::QuantizeLinear);
    const Node* act = g.producer(q->inputs[0]);
    ASSERT_TRUE(act);
    EXPECT_TRUE(act->kind == OpKind::Relu || act->kind == OpKind::Clip) << act->name;
    EXPECT_EQ(y.quant->scale, source_q_params(g, y.provenance.source).scale);
  }
  for (const Node& n : l.graph.nodes) {
    EXPECT_NE(n.kind, OpKind::Add) << n.name;
    EXPECT_NE(n.kind, OpKind::Relu) << n.name;
    EXPECT_NE(n.kind, OpKind::Clip) << n.name;
  }
  // Where the policy keeps Add in f32, the Relu stays with it.
  LoweredGraph f = lower_with(g, "onnx", {"fp32_ops=Add"});
  const Node* fadd = find_node(f.graph, "add7");
  ASSERT_TRUE(fadd);
  EXPECT_EQ(fadd->kind, OpKind::Add);
}

// DQ -> GlobalAveragePool -> Q becomes one QGlobalAveragePool on the codes (u8 and s8 models),
// standing for the Q's output with its parameters; Paddle's presets keep it in f32.
TEST(Lowering, GlobalAveragePoolBetweenDqAndQBecomesQGlobalAveragePool) {
  for (const char* model : {"int8_ops_u8", "gemm_concat_s8"}) {
    Graph g = load(model);
    LoweredGraph l = lower_with(g, "onnx");
    int pools = 0;
    for (const Node& n : l.graph.nodes) {
      EXPECT_NE(n.kind, OpKind::GlobalAveragePool) << model << " " << n.name;
      if (n.kind != OpKind::QGlobalAveragePool) continue;
      ++pools;
      const Value& x = l.graph.value(n.inputs[0]);
      const Value& y = l.graph.value(n.outputs[0]);
      EXPECT_TRUE(x.dtype == DType::u8 || x.dtype == DType::s8) << model;
      EXPECT_EQ(y.provenance.rewrite, "int8_pool");
      EXPECT_EQ(*y.quant, source_q_params(g, y.provenance.source)) << model;
    }
    EXPECT_EQ(pools, 1) << model;
    LoweredGraph p = lower_with(g, "paddle-onednn");
    for (const Node& n : p.graph.nodes) EXPECT_NE(n.kind, OpKind::QGlobalAveragePool) << model;
  }
}

TEST(Lowering, PaddleOnednnKeepsResidualAddsAsSumPostOpOrFloat) {
  // paddle-onednn keeps Add in f32 (fp32_ops), as Paddle's int8 pass does; the residual fed
  // by a conv's float output is still fused as the conv's sum post-op.
  Graph g = load("residual_u8");
  LoweredGraph l = lower_with(g, "paddle-onednn");
  const Node* c = find_node(l.graph, "conv5");
  ASSERT_TRUE(c);
  EXPECT_EQ(l.graph.value(c->outputs[0]).provenance.rewrite, "fuse_conv_sum");
  const Node* add = find_node(l.graph, "add11");
  ASSERT_TRUE(add);
  EXPECT_EQ(add->kind, OpKind::Add);
  for (const Node& n : l.graph.nodes) EXPECT_NE(n.kind, OpKind::QAdd) << n.name;
}

TEST(Lowering, ConcatRequantizesTheBranchOnAnotherGridAndGemmBecomesQMatMul) {
  Graph g = load("gemm_concat_s8");
  LoweredGraph l = lower_with(g, "onnx");
  EXPECT_EQ(op_sequence(l.graph),
            (std::vector<std::string>{"Quantize", "QConv", "QConv", "Requantize", "Concat", "QGlobalAveragePool",
                                      "Flatten", "QMatMul", "QMatMul", "Dequantize"}));
  EXPECT_NE(l.graph.find_value("requantize/out/0"), kNoValue);
  // Gemm(transB=1) weights [11, 17] become [K, N] = [17, 11] with per-N scales.
  const Node* gemm = find_node(l.graph, "gemm12");
  const Value& w = l.graph.value(gemm->inputs[1]);
  EXPECT_EQ(w.shape, (Shape{17, 11}));
  EXPECT_EQ(w.quant->axis, 1);
  EXPECT_EQ(w.quant->scale.size(), 11u);
  const Tensor& src_w = *g.value(g.find_value("gemm12.weight_q")).initializer;
  const Tensor& low_w = *w.initializer;
  for (int64_t n = 0; n < 11; ++n)
    for (int64_t k = 0; k < 17; ++k) ASSERT_EQ(low_w.data<int8_t>()[k * 11 + n], src_w.data<int8_t>()[n * 17 + k]);
}

TEST(Lowering, BatchNormStaysFloatUnderOnnxAndFoldsUnderRequantize) {
  Graph g = load("bn_conv_u8");
  LoweredGraph onnx = lower_with(g, "onnx");
  EXPECT_EQ(op_sequence(onnx.graph),
            (std::vector<std::string>{"Quantize", "QConv", "BatchNormalization", "Relu", "Quantize", "Dequantize"}));
  EXPECT_EQ(onnx.graph.value(find_node(onnx.graph, "conv2")->outputs[0]).dtype, DType::f32);

  LoweredGraph folded = lower_with(g, "onnx", {"weights=requantize"});
  EXPECT_EQ(op_sequence(folded.graph), (std::vector<std::string>{"Quantize", "QConv", "Dequantize"}));
  const Node* c = find_node(folded.graph, "conv2");
  const Value& w = folded.graph.value(c->inputs[1]);
  EXPECT_EQ(w.provenance.rewrite, "requantize_weights");
  // Re-quantized per channel with max|w|/127: every channel reaches +-127 and never -128.
  const int64_t per = w.initializer->numel() / 9;
  for (int64_t oc = 0; oc < 9; ++oc) {
    int max_abs = 0;
    for (int64_t i = 0; i < per; ++i) {
      const int v = w.initializer->data<int8_t>()[oc * per + i];
      EXPECT_NE(v, -128);
      max_abs = std::max(max_abs, std::abs(v));
    }
    EXPECT_EQ(max_abs, 127) << "channel " << oc;
  }
}

TEST(Lowering, PaddleOnednnUsesUnsignedGridAfterReluAndRoundedBias) {
  Graph g = load("paddle_style_s8");
  LoweredGraph l = lower_with(g, "paddle-onednn");
  const Node* c = find_node(l.graph, "conv2");
  const Value& y = l.graph.value(c->outputs[0]);
  const QuantParams src = source_q_params(g, y.provenance.source);
  ASSERT_EQ(src.zero_point_type, DType::s8);
  EXPECT_EQ(y.dtype, DType::u8);
  EXPECT_FLOAT_EQ(y.quant->scale[0], src.scale[0] * 127.f / 255.f);
  EXPECT_EQ(y.quant->zero_point[0], 0);
  // bias=s32: round(b / (s_x * s_w)) computed from the f32 bias of the depthwise conv.
  const Node* dw = find_node(l.graph, "conv5");
  const Value& b = l.graph.value(dw->inputs[2]);
  EXPECT_EQ(b.dtype, DType::s32);
  const Tensor& bias_f32 = *g.value(g.find_value("conv5.bias")).initializer;
  const QuantParams& px = *l.graph.value(dw->inputs[0]).quant;
  const QuantParams& pw = *l.graph.value(dw->inputs[1]).quant;
  for (int64_t ch = 0; ch < 13; ++ch)
    EXPECT_EQ(b.initializer->data<int32_t>()[ch],
              static_cast<int32_t>(std::nearbyint(bias_f32.data<float>()[ch] / (px.scale[0] * pw.scale[ch]))));
  // HardSwish is not among paddle-onednn's int8 ops and is not fusable after the conv's Q... it
  // is fused into the conv but applied after the output scale (act_order=after_scale).
  auto p = parse_lowered_params(*find_node(l.graph, "conv8"));
  ASSERT_TRUE(p);
  ASSERT_FALSE(p->post_ops.empty());
  EXPECT_EQ(p->post_ops.back().kind, PostOpKind::hardswish);
}

TEST(Lowering, NarrowRangeClipsEveryS8Output) {
  Graph g = load("depthwise_s8");
  LoweredGraph l = lower_with(g, "onnx", {"range=narrow"});
  for (const Node& n : l.graph.nodes) {
    if (n.kind != OpKind::QConv) continue;
    const Value& y = l.graph.value(n.outputs[0]);
    if (y.dtype != DType::s8) continue;
    auto p = parse_lowered_params(n);
    ASSERT_TRUE(p);
    ASSERT_FALSE(p->post_ops.empty());
    EXPECT_EQ(p->post_ops.back().kind, PostOpKind::clip) << n.name;
    EXPECT_FLOAT_EQ(p->post_ops.back().alpha, -127.f - static_cast<float>(y.quant->zero_point[0]));
  }
  // The input Quantize gets a float Clip at -127 * s in front of it.
  EXPECT_EQ(l.graph.nodes[0].kind, OpKind::Clip);
}

TEST(Lowering, SkipNodesAndFp32OpsKeepOpsInFloat) {
  Graph g = load("conv_chain_u8");
  LoweredGraph skip = lower_with(g, "onnx", {"skip_nodes=^conv5$"});
  const Node* c = find_node(skip.graph, "conv5");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->kind, OpKind::Conv);
  LoweredGraph fp = lower_with(g, "onnx", {"fp32_ops=MaxPool"});
  const Node* pool = find_node(fp.graph, "maxpool7");
  ASSERT_TRUE(pool);
  EXPECT_EQ(fp.graph.value(pool->inputs[0]).dtype, DType::f32);
}

TEST(Lowering, KnobsThatCannotBeHonouredAreErrors) {
  Graph g = load("conv_chain_u8");
  auto p = int8_policy_preset("onnx");
  ASSERT_TRUE(p);
  ASSERT_TRUE(int8_policy_set(*p, "rounding=half_away"));
  auto l = lower(g, *p);
  ASSERT_FALSE(l);
  EXPECT_NE(l.status().message().find("rounding=half_away"), std::string::npos);

  EXPECT_FALSE(int8_policy_set(*p, "bias=float64"));
  EXPECT_FALSE(int8_policy_set(*p, "colour=blue"));
  EXPECT_FALSE(int8_policy_set(*p, "skip_nodes=(unclosed"));
  EXPECT_FALSE(int8_policy_set(*p, "fp32_ops=NotAnOp"));
  EXPECT_FALSE(int8_policy_preset("tensorrt"));
}

TEST(Lowering, PresetsSetTheDocumentedKnobs) {
  auto onnx = int8_policy_preset("onnx");
  auto paddle = int8_policy_preset("paddle-onednn");
  auto lite = int8_policy_preset("paddle-lite-arm");
  ASSERT_TRUE(onnx && paddle && lite);
  EXPECT_EQ(onnx->range, QuantRange::full);
  EXPECT_FALSE(onnx->unsigned_after_relu);
  EXPECT_TRUE(onnx->all_int8_ops);
  EXPECT_TRUE(paddle->unsigned_after_relu);
  EXPECT_EQ(paddle->bias, BiasMode::s32);
  EXPECT_EQ(paddle->weights, WeightsMode::requantize);
  EXPECT_EQ(paddle->act_order, ActOrder::after_scale);
  EXPECT_TRUE(paddle->op_allowed_int8(OpKind::MaxPool));
  EXPECT_FALSE(paddle->op_allowed_int8(OpKind::Add));
  EXPECT_EQ(lite->range, QuantRange::narrow);
  EXPECT_EQ(lite->bias, BiasMode::f32);
  EXPECT_FALSE(lite->op_allowed_int8(OpKind::MaxPool));
}

}  // namespace
}  // namespace qdrift
