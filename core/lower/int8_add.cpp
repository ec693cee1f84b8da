// int8_add.cpp: rule int8_add. DQ(a) + DQ(b) -> [Relu | Clip] -> Q becomes one QAdd on the
// codes, the activation fused as its real-valued bounds (act_min, act_max).
#include "core/lower/lowering.h"

#include <cfloat>

namespace qdrift {

// DQ(a) + DQ(b) -> [Relu|Clip] -> Q, both inputs and the output per-tensor int8 with
// constant parameters, a and b of one known shape (no broadcasting): one QAdd, which
// computes the reference's float steps exactly (core/lowered_ops.h), the activation clamping
// the real sum before the division by s_y as the reference's float Relu/Clip does (ResNet's
// residual: Add, then Relu, then QuantizeLinear). A residual Add fed by a conv's float output
// was already taken by fuse_conv_sum at the conv. Not under a narrow s8 range (the float
// path clips before quantizing) or where the policy keeps Add in f32.
Result<bool> Lowering::int8_add(NodeId id) {
  const Node& n = node(id);
  if (!int8_allowed(n) || n.inputs.size() != 2 || n.outputs.size() != 1) return false;
  for (ValueId in : n.inputs) {
    if (!activation_dq(in)) return false;
    const Value& v = src_.value(in);
    if (!v.has_shape || !shape_is_known(v.shape)) return false;
  }
  if (src_.value(n.inputs[0]).shape != src_.value(n.inputs[1]).shape) return false;
  AddPlan plan;
  plan.add = id;
  ValueId cur = n.outputs[0];
  if (const Node* c = sole_consumer(cur);
      c && (c->kind == OpKind::Relu || c->kind == OpKind::Clip) && fusable_activation(*c) && int8_allowed(*c)) {
    plan.act = sole_consumer_id(cur);
    cur = c->outputs[0];
  }
  const Node* q = closing_q(cur);
  if (!q) return false;
  QD_ASSIGN_OR_RETURN(auto qp, qdq_params(*q));
  if (policy_.range == QuantRange::narrow && qp->zero_point_type == DType::s8) return false;
  plan.q = sole_consumer_id(cur);
  if (plan.act != kNoNode) handled_[static_cast<size_t>(plan.act)] = 1;
  defer(plan.q, [this, plan] { return emit_add(plan); });
  return true;
}

Status Lowering::emit_add(const AddPlan& plan) {
  const Node& n = node(plan.add);
  const Node& q = node(plan.q);
  std::optional<Activation> act;
  if (plan.act != kNoNode) act = activation_of(node(plan.act));
  QD_ASSIGN_OR_RETURN(auto qp, qdq_params(q));
  const QuantParams py = adjusted_output_quant(*qp, act && act->nonnegative);
  Node add = lowered_node(OpKind::QAdd, n.name);
  for (ValueId in : n.inputs) {
    QD_ASSIGN_OR_RETURN(ValueId xq, int8_value(*activation_dq(in)));
    const QuantParams& pin = *out_.value(xq).quant;
    if (pin.is_per_axis()) return internal_error("int8_add: input '{}' is quantized per axis", out_.value(xq).name);
    add.inputs.push_back(xq);
  }
  if (act) {  // Relu is the clip [0, +inf); Clip's absent bounds are -FLT_MAX / FLT_MAX, as in the reference
    add.attrs["act_min"] = act->kind == PostOpKind::relu ? 0.f : act->alpha;
    if (act->kind == PostOpKind::clip) add.attrs["act_max"] = act->beta;
  }
  const ValueId y_source = q.outputs[0];
  const ValueId y = new_value(src_.value(y_source).name, py.zero_point_type, y_source, "int8_add", py);
  add.outputs = {y};
  emit(std::move(add));
  val_[static_cast<size_t>(y_source)] = y;
  return Status::ok();
}

}  // namespace qdrift
