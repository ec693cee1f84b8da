// integer_ops.cpp: rules qlinear_conv, conv_integer, qlinear_matmul, matmul_integer: real int8
// ONNX ops with constant quantization parameters become QConv / QMatMul.
#include "core/lower/lowering.h"

namespace qdrift {

Result<bool> Lowering::integer_ops(NodeId id) {
  const Node& n = node(id);
  // Inputs: QLinearConv (x, sx, zx, w, sw, zw, sy, zy, [B]); QLinearMatMul (a, sa, za, b, sb, zb, sy, zy);
  // ConvInteger / MatMulInteger (x, w, [zx], [zw]).
  const bool qlinear = n.kind == OpKind::QLinearConv || n.kind == OpKind::QLinearMatMul;
  const bool conv = n.kind == OpKind::QLinearConv || n.kind == OpKind::ConvInteger;
  const ValueId x = n.input(0);
  const ValueId w = qlinear ? n.input(3) : n.input(1);
  const Tensor* wt = constant(w);
  if (!wt || !is_int8(wt->dtype)) return false;
  auto scalar_f = [&](ValueId v, float fallback) -> std::optional<float> {
    if (v == kNoValue) return fallback;
    const Tensor* t = constant(v);
    if (!t || t->dtype != DType::f32 || t->numel() != 1) return std::nullopt;
    return t->data<float>()[0];
  };
  auto zps = [&](ValueId v, DType type, size_t count) -> std::optional<std::vector<int32_t>> {
    if (v == kNoValue) return std::vector<int32_t>(count, 0);
    const Tensor* t = constant(v);
    if (!t || t->dtype != type) return std::nullopt;
    std::vector<int32_t> out;
    for (int64_t i = 0; i < t->numel(); ++i) out.push_back(static_cast<int32_t>(t->value_as_double(i)));
    if (out.size() == 1 && count > 1) out.assign(count, out[0]);
    if (out.size() != count) return std::nullopt;
    return out;
  };
  const Value& xv = src_.value(x);
  if (!is_int8(xv.dtype)) return false;
  const int64_t channels = conv ? wt->shape[0] : wt->shape[wt->rank() - 1];
  if (!conv && wt->rank() != 2) return false;

  QuantParams px;
  px.zero_point_type = xv.dtype;
  QuantParams pw;
  pw.zero_point_type = wt->dtype;
  pw.axis = conv ? 0 : 1;
  std::optional<QuantParams> py;
  if (qlinear) {
    auto sx = scalar_f(n.input(1), 1.f);
    auto zx = zps(n.input(2), xv.dtype, 1);
    const Tensor* sw = constant(n.input(4));
    auto sy = scalar_f(n.input(6), 1.f);
    const Tensor* zyt = constant(n.input(7));
    if (!sx || !zx || !sw || sw->dtype != DType::f32 || !sy || !zyt) return false;
    px.scale = {*sx};
    px.zero_point = *zx;
    pw.scale.assign(sw->values<float>().begin(), sw->values<float>().end());
    auto zw = zps(n.input(5), wt->dtype, pw.scale.size());
    if (!zw) return false;
    pw.zero_point = *zw;
    QuantParams q;
    q.zero_point_type = zyt->dtype;
    q.scale = {*sy};
    q.zero_point = {static_cast<int32_t>(zyt->value_as_double(0))};
    py = q;
  } else {
    auto zx = zps(n.input(2), xv.dtype, 1);
    if (!zx) return false;
    px.scale = {1.f};
    px.zero_point = *zx;
    auto zw = zps(n.input(3), wt->dtype, 1);
    if (!zw) return false;
    pw.scale = {1.f};
    pw.zero_point = *zw;
  }
  if (pw.scale.size() != 1 && static_cast<int64_t>(pw.scale.size()) != channels)
    return invalid_input("{} weight scales for {} output channels", pw.scale.size(), channels);

  QD_ASSIGN_OR_RETURN(ValueId xq, val(x));
  // The kernel reads x's zero point from its value; the scale only enters through the
  // output scales below. A graph input takes the node's parameters.
  if (!out_.value(xq).quant) out_.value(xq).quant = px;
  else if (out_.value(xq).quant->zero_point != px.zero_point) return false;

  Tensor codes = *wt;
  LoweredParams params;
  for (size_t c = 0; c < pw.scale.size(); ++c)
    params.output_scales.push_back(qlinear ? px.scale[0] * pw.scale[c] / py->scale[0] : 1.f);
  ValueId w_v = new_constant(n.name + ".weights", std::move(codes), "quantized_weights", w, pw);
  ValueId bias_v = kNoValue;
  if (n.kind == OpKind::QLinearConv && n.input(8) != kNoValue) {
    const Tensor* b = constant(n.input(8));
    if (!b || b->dtype != DType::s32) return false;
    bias_v = new_constant(n.name + ".bias_s32", *b, "bias_model_s32", n.input(8));
  }
  const ValueId y_src = n.outputs[0];
  ValueId y = py ? new_value(src_.value(y_src).name, py->zero_point_type, y_src,
                             conv ? "qlinear_conv" : "qlinear_matmul", *py)
                 : new_value(src_.value(y_src).name, DType::s32, y_src, conv ? "conv_integer" : "matmul_integer");
  Node q = lowered_node(conv ? OpKind::QConv : OpKind::QMatMul, n.name);
  if (conv)
    for (const char* key : {"kernel_shape", "strides", "pads", "dilations", "group", "auto_pad"})
      if (auto it = n.attrs.find(key); it != n.attrs.end()) q.attrs.emplace(key, it->second);
  set_lowered_params(q, params);
  q.inputs = {xq, w_v};
  if (bias_v != kNoValue) q.inputs.push_back(bias_v);
  q.outputs = {y};
  emit(std::move(q));
  val_[static_cast<size_t>(y_src)] = y;
  return true;
}

}  // namespace qdrift
