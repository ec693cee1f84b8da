// fuse_conv.cpp: rules fuse_conv, fuse_conv_sum and fuse_matmul. DQ(x) -> Conv|Gemm|MatMul(DQ(w)
// constant, bias) -> [BatchNormalization] -> [Add(., DQ(skip))] -> [activation] -> Q becomes
// one QConv/QMatMul: output scales, bias in accumulator units, the Add as a sum post-op, the
// activation as an eltwise post-op (arithmetic in docs/lowering.md).
#include "core/lower/lowering.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>

#include <fmt/format.h>

namespace qdrift {

namespace {

Tensor transpose_2d(const Tensor& t) {
  Tensor out = Tensor::zeros(t.dtype, {t.shape[1], t.shape[0]});
  const size_t es = dtype_size(t.dtype);
  for (int64_t r = 0; r < t.shape[0]; ++r)
    for (int64_t c = 0; c < t.shape[1]; ++c)
      std::memcpy(out.bytes.data() + (c * t.shape[0] + r) * es, t.bytes.data() + (r * t.shape[1] + c) * es, es);
  return out;
}

}  // namespace

Result<bool> Lowering::fuse_conv(NodeId id) {
  const Node& n = node(id);
  if (!int8_allowed(n)) {
    if (activation_dq(n.input(0))) notes_.push_back(fmt::format("{} kept in f32 by the policy", src_.describe(n)));
    return false;
  }
  if (!activation_dq(n.input(0))) return false;
  if (n.kind == OpKind::Gemm && (n.attr_int("transA", 0) != 0)) return false;
  QD_ASSIGN_OR_RETURN(auto w, quantized_weights(n.input(1)));
  if (!w) {
    notes_.push_back(fmt::format("{}: weights are not quantized constants, kept in f32", src_.describe(n)));
    return false;
  }
  if (n.kind != OpKind::Conv && w->codes.rank() != 2) return false;
  const ValueId bias_in = n.kind == OpKind::MatMul ? kNoValue : n.input(2);
  if (bias_in != kNoValue) {
    const int64_t channels = n.kind == OpKind::Conv || (n.kind == OpKind::Gemm && n.attr_int("transB", 0))
                                 ? w->codes.shape[0]
                                 : w->codes.shape[1];
    std::optional<std::vector<float>> real, scale;
    std::vector<int32_t> codes;
    bool s32 = false;
    if (Status s = read_bias(bias_in, channels, real, codes, scale, s32); !s) {
      notes_.push_back(fmt::format("{}: {}, kept in f32", src_.describe(n), s.message()));
      return false;
    }
  }

  FusedPlan plan;
  plan.anchor = id;
  ValueId cur = n.outputs[0];
  if (n.kind == OpKind::Conv && policy_.weights == WeightsMode::requantize) {
    if (const Node* c = sole_consumer(cur); c && c->kind == OpKind::BatchNormalization && bn_constants(*c)) {
      plan.bn = sole_consumer_id(cur);
      cur = c->outputs[0];
    }
  }
  if (n.kind == OpKind::Conv) {
    if (const Node* c = sole_consumer(cur); c && c->kind == OpKind::Add && c->inputs.size() == 2) {
      const ValueId other = c->inputs[0] == cur ? c->inputs[1] : c->inputs[0];
      const Value& ov = src_.value(other);
      const Value& cv = src_.value(c->outputs[0]);
      if (other != cur && activation_dq(other) && ov.has_shape && cv.has_shape && ov.shape == cv.shape &&
          shape_is_known(ov.shape)) {
        plan.add = sole_consumer_id(cur);
        plan.skip = other;
        cur = c->outputs[0];
      }
    }
  }
  if (const Node* c = sole_consumer(cur); c && fusable_activation(*c)) {
    plan.act = sole_consumer_id(cur);
    cur = c->outputs[0];
  }
  if (closing_q(cur)) {
    plan.q = sole_consumer_id(cur);
  } else {
    // No closing Q: an f32 destination, without the optional parts.
    plan.bn = plan.add = plan.act = kNoNode;
    plan.skip = kNoValue;
  }
  // Mark the parts and emit at the terminal node, after every input exists.
  for (NodeId part : {plan.bn, plan.add, plan.act, plan.q})
    if (part != kNoNode) handled_[static_cast<size_t>(part)] = 1;
  if (plan.q == kNoNode) {
    QD_RETURN_IF_ERROR(emit_fused(plan));
  } else {
    defer(plan.q, [this, plan] { return emit_fused(plan); });
    handled_[static_cast<size_t>(plan.q)] = 0;  // visited to emit
  }
  return true;
}

bool Lowering::fusable_activation(const Node& n) const {
  switch (n.kind) {
    case OpKind::Relu:
    case OpKind::LeakyRelu:
    case OpKind::HardSwish: return true;
    case OpKind::Clip: {
      // Bounds fuse only as constant f32 scalars; anything else stays a float Clip,
      // whose kernel reports a malformed bound (an empty one used to be read here).
      for (size_t i = 1; i < n.inputs.size(); ++i) {
        if (n.inputs[i] == kNoValue) continue;
        const Tensor* t = constant(n.inputs[i]);
        if (!t || t->dtype != DType::f32 || t->numel() != 1) return false;
      }
      return true;
    }
    default: return false;
  }
}

Activation Lowering::activation_of(const Node& n) const {
  switch (n.kind) {
    case OpKind::Relu: return {PostOpKind::relu, 0, 0, true};
    case OpKind::LeakyRelu: return {PostOpKind::leaky_relu, n.attr_float("alpha", 0.01f), 0, false};
    case OpKind::HardSwish: return {PostOpKind::hardswish, 0, 0, false};
    case OpKind::Clip: {
      float lo = -FLT_MAX, hi = FLT_MAX;
      if (src_.opset < 11) {
        lo = n.attr_float("min", lo);
        hi = n.attr_float("max", hi);
      } else {
        if (const Tensor* t = constant(n.input(1))) lo = t->data<float>()[0];
        if (const Tensor* t = constant(n.input(2))) hi = t->data<float>()[0];
      }
      return {PostOpKind::clip, lo, hi, lo >= 0.f};
    }
    default: QD_ASSERT(false);
  }
  return {};
}

Status Lowering::emit_fused(const FusedPlan& plan) {
  const Node& anchor = node(plan.anchor);
  const bool is_conv = anchor.kind == OpKind::Conv;
  const Node* dq_x = activation_dq(anchor.input(0));
  QD_ASSIGN_OR_RETURN(ValueId xq, int8_value(*dq_x));
  const QuantParams px = *out_.value(xq).quant;
  QD_ASSIGN_OR_RETURN(auto resolved, quantized_weights(anchor.input(1)));
  QuantizedWeights w = std::move(*resolved);
  const int64_t channels = is_conv ? w.codes.shape[0]
                                   : (anchor.kind == OpKind::Gemm && anchor.attr_int("transB", 0) ? w.codes.shape[0]
                                                                                                 : w.codes.shape[1]);
  // Real-valued bias per output channel (absent = none).
  std::optional<std::vector<float>> bias_real;
  bool bias_is_model_s32 = false;
  std::vector<int32_t> bias_codes;
  std::optional<std::vector<float>> bias_scale;
  const ValueId bias_in = is_conv ? anchor.input(2) : (anchor.kind == OpKind::Gemm ? anchor.input(2) : kNoValue);
  if (bias_in != kNoValue) {
    QD_RETURN_IF_ERROR(read_bias(bias_in, channels, bias_real, bias_codes, bias_scale, bias_is_model_s32));
    if (anchor.kind == OpKind::Gemm) {
      const float beta = anchor.attr_float("beta", 1.f);
      for (float& b : *bias_real) b *= beta;
      if (beta != 1.f) bias_is_model_s32 = false;
    }
  }
  float alpha = anchor.kind == OpKind::Gemm ? anchor.attr_float("alpha", 1.f) : 1.f;

  // Gemm with transB and MatMul weights become [K, N]; conv weights stay [M, C/g, k...].
  if (anchor.kind == OpKind::Gemm && anchor.attr_int("transB", 0)) {
    w.codes = transpose_2d(w.codes);
    if (w.q.is_per_axis()) w.q.axis = 1 - w.q.axis;
  }
  const int channel_axis = is_conv ? 0 : 1;
  if (w.q.is_per_axis() && w.q.axis != channel_axis)
    return unsupported("weights are quantized along axis {}, not along the output channels", w.q.axis);

  // weights=requantize: dequantize, fold BN, re-quantize per channel with max|w|/127.
  if (policy_.weights == WeightsMode::requantize || plan.bn != kNoNode) {
    Tensor real = dequantize_tensor(w.codes, w.q);
    if (!bias_real && plan.bn != kNoNode) bias_real = std::vector<float>(static_cast<size_t>(channels), 0.f);
    if (plan.bn != kNoNode) fold_batchnorm(node(plan.bn), real, *bias_real);
    w = requantize_weights(real, channel_axis);
    bias_is_model_s32 = false;
  }
  if (w.codes.dtype == DType::u8 && w.q.zero_point_type == DType::u8 &&
      std::all_of(w.q.zero_point.begin(), w.q.zero_point.end(), [](int32_t z) { return z == 128; })) {
    // u8 weights with zero point 128 are s8 weights shifted by 128: exact.
    Tensor s8 = Tensor::zeros(DType::s8, w.codes.shape);
    for (int64_t i = 0; i < s8.numel(); ++i)
      s8.data<int8_t>()[i] = static_cast<int8_t>(static_cast<int32_t>(w.codes.data<uint8_t>()[i]) - 128);
    w.codes = std::move(s8);
    w.q.zero_point_type = DType::s8;
    std::fill(w.q.zero_point.begin(), w.q.zero_point.end(), 0);
  }

  auto w_scale = [&](int64_t c) { return w.q.scale.size() == 1 ? w.q.scale[0] : w.q.scale[static_cast<size_t>(c)]; };
  const float sx = px.scale[0];
  if (bias_is_model_s32)  // ONNX requires bias scale = s_x * s_w; anything else is re-expressed
    for (int64_t c = 0; c < channels && bias_is_model_s32; ++c) {
      const float sb = bias_scale->size() == 1 ? (*bias_scale)[0] : (*bias_scale)[static_cast<size_t>(c)];
      bias_is_model_s32 = nearly_equal(sb, sx * w_scale(c));
    }

  // Output quantization (after policy) and activation.
  std::optional<Activation> act;
  if (plan.act != kNoNode) act = activation_of(node(plan.act));
  std::optional<QuantParams> py;
  ValueId y_source = anchor.outputs[0];
  if (plan.q != kNoNode) {
    QD_ASSIGN_OR_RETURN(auto qp, qdq_params(node(plan.q)));
    py = adjusted_output_quant(*qp, act && act->nonnegative);
    y_source = node(plan.q).outputs[0];
  } else if (plan.bn != kNoNode) {
    y_source = node(plan.bn).outputs[0];
  }
  const float sy = py ? py->scale[0] : 1.f;

  // Real domain (scale s_x*s_w) when an activation has knees in real units that the
  // output scale would move (exact order); else fold 1/s_y into the output scale.
  const bool real_domain = !py || (act && act->kind == PostOpKind::hardswish && policy_.act_order == ActOrder::exact);
  const float domain = real_domain ? 1.f : sy;

  LoweredParams params;
  for (int64_t c = 0; c < (w.q.is_per_axis() ? channels : 1); ++c)
    params.output_scales.push_back(alpha * sx * w_scale(c) / domain);

  // Bias in accumulator units (added before the output scale, as oneDNN does).
  ValueId bias_v = kNoValue;
  if (bias_real) {
    const BiasMode mode = policy_.bias;
    if (mode == BiasMode::model && bias_is_model_s32 && alpha == 1.f) {
      Tensor b = Tensor::from_vector<int32_t>({channels}, bias_codes);
      bias_v = new_constant(anchor.name + ".bias_s32", std::move(b), "bias_model_s32", bias_in);
    } else if (mode == BiasMode::s32) {
      std::vector<int32_t> codes(static_cast<size_t>(channels));
      const QuantGrid g = quant_grid(DType::s32, QuantRange::full);
      for (int64_t c = 0; c < channels; ++c)
        codes[static_cast<size_t>(c)] = quantize_value((*bias_real)[static_cast<size_t>(c)], alpha * sx * w_scale(c), 0,
                                                       g, Rounding::half_even);
      bias_v = new_constant(anchor.name + ".bias_s32", Tensor::from_vector<int32_t>({channels}, codes),
                            "bias_requantize_s32", bias_in);
    } else {
      std::vector<float> acc_units(static_cast<size_t>(channels));
      for (int64_t c = 0; c < channels; ++c)
        acc_units[static_cast<size_t>(c)] = (*bias_real)[static_cast<size_t>(c)] / (alpha * sx * w_scale(c));
      bias_v = new_constant(anchor.name + ".bias_f32", Tensor::from_vector<float>({channels}, acc_units),
                            "bias_f32_prescaled", bias_in);
    }
  }

  ValueId sum_v = kNoValue;
  if (plan.add != kNoNode) {
    const Node* dq_skip = activation_dq(plan.skip);
    QD_ASSIGN_OR_RETURN(sum_v, int8_value(*dq_skip));
    const QuantParams& ps = *out_.value(sum_v).quant;
    params.post_ops.push_back({PostOpKind::sum, ps.scale[0] / domain, static_cast<float>(ps.zero_point[0])});
  }
  if (act) {
    PostOp op{act->kind, act->alpha, act->beta};
    if (act->kind == PostOpKind::clip && !real_domain && policy_.act_order == ActOrder::exact) {
      // The bounds are real values; in the output domain they scale with 1/s_y.
      op.alpha = act->alpha == -FLT_MAX ? -FLT_MAX : act->alpha / sy;
      op.beta = act->beta == FLT_MAX ? FLT_MAX : act->beta / sy;
    }
    params.post_ops.push_back(op);
  }
  if (py && real_domain) params.post_ops.push_back({PostOpKind::linear, 1.f / sy, 0.f});
  if (py && policy_.range == QuantRange::narrow && py->zero_point_type == DType::s8) {
    const QuantGrid g = quant_grid(DType::s8, QuantRange::narrow);
    params.post_ops.push_back({PostOpKind::clip, static_cast<float>(g.qmin - py->zero_point[0]),
                               static_cast<float>(g.qmax - py->zero_point[0])});
  }

  // Weights constant: per-channel quantization along the output channels.
  QuantParams wq = w.q;
  wq.axis = channel_axis;
  Tensor codes = std::move(w.codes);
  ValueId w_v = new_constant(anchor.name + (policy_.weights == WeightsMode::requantize ? ".weights_requantized" : ".weights"),
                             std::move(codes), policy_.weights == WeightsMode::requantize ? "requantize_weights" : "quantized_weights",
                             anchor.input(1), wq);

  const std::string rule = is_conv ? (plan.add != kNoNode ? "fuse_conv_sum" : "fuse_conv") : "fuse_matmul";
  ValueId y;
  if (py) {
    y = new_value(src_.value(y_source).name, py->zero_point_type, y_source, rule, *py);
  } else {
    y = new_value(src_.value(y_source).name, DType::f32, y_source, rule);
  }
  Node q = lowered_node(is_conv ? OpKind::QConv : OpKind::QMatMul, anchor.name);
  if (is_conv) {
    for (const char* key : {"kernel_shape", "strides", "pads", "dilations", "group", "auto_pad"})
      if (auto it = anchor.attrs.find(key); it != anchor.attrs.end()) q.attrs.emplace(key, it->second);
  }
  set_lowered_params(q, params);
  q.inputs = {xq, w_v, bias_v};
  if (sum_v != kNoValue) q.inputs.push_back(sum_v);
  while (!q.inputs.empty() && q.inputs.back() == kNoValue) q.inputs.pop_back();
  q.outputs = {y};
  emit(std::move(q));
  val_[static_cast<size_t>(y_source)] = y;
  return Status::ok();
}

Status Lowering::read_bias(ValueId b, int64_t channels, std::optional<std::vector<float>>& real, std::vector<int32_t>& codes,
                 std::optional<std::vector<float>>& scale, bool& model_s32) {
  const Node* dq = producer(b);
  if (dq && dq->kind == OpKind::DequantizeLinear) {
    const Tensor* c = constant(dq->input(0));
    QD_ASSIGN_OR_RETURN(auto params, qdq_params(*dq));
    if (!c || !params) return unsupported("bias '{}' is not a constant", src_.value(b).name);
    if (c->numel() != channels) return invalid_input("bias '{}' has {} values for {} channels", src_.value(b).name, c->numel(), channels);
    QD_RETURN_IF_ERROR(check_dequantizable(*c, *params, src_.value(b).name));
    Tensor r = dequantize_tensor(*c, *params);
    real = std::vector<float>(r.values<float>().begin(), r.values<float>().end());
    if (c->dtype == DType::s32) {
      codes.assign(c->values<int32_t>().begin(), c->values<int32_t>().end());
      scale = params->scale;
      model_s32 = std::all_of(params->zero_point.begin(), params->zero_point.end(), [](int32_t z) { return z == 0; });
    }
    return Status::ok();
  }
  const Tensor* c = constant(b);
  if (!c || c->dtype != DType::f32) return unsupported("bias '{}' is neither an f32 constant nor DQ(int32)", src_.value(b).name);
  if (c->numel() == 1 && channels > 1) {
    real = std::vector<float>(static_cast<size_t>(channels), c->data<float>()[0]);
  } else if (c->numel() == channels) {
    real = std::vector<float>(c->values<float>().begin(), c->values<float>().end());
  } else {
    return unsupported("bias '{}' has {} values for {} channels", src_.value(b).name, c->numel(), channels);
  }
  return Status::ok();
}

}  // namespace qdrift
