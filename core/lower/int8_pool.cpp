// int8_pool.cpp: rule int8_pool. DQ(x) -> GlobalAveragePool -> Q, x and the output per-tensor
// int8 with constant parameters, becomes one QGlobalAveragePool on the codes: the exact sum of
// x - zp_x per channel, its mean in real units, quantized to the output grid
// (core/lowered_ops.h). Not under a narrow s8 range (the float path clips before quantizing)
// or where the policy keeps GlobalAveragePool in f32.
#include "core/lower/lowering.h"

namespace qdrift {

Result<bool> Lowering::int8_pool(NodeId id) {
  const Node& n = node(id);
  if (!int8_allowed(n) || n.inputs.size() != 1 || n.outputs.size() != 1) return false;
  if (!activation_dq(n.inputs[0])) return false;
  const Value& x = src_.value(n.inputs[0]);
  if (!x.has_shape || x.shape.size() < 3) return false;
  const Node* q = closing_q(n.outputs[0]);
  if (!q) return false;
  QD_ASSIGN_OR_RETURN(auto qp, qdq_params(*q));
  if (policy_.range == QuantRange::narrow && qp->zero_point_type == DType::s8) return false;
  const NodeId qid = sole_consumer_id(n.outputs[0]);
  defer(qid, [this, plan = PassthroughPlan{id, qid}] { return emit_pool(plan); });
  return true;
}

Status Lowering::emit_pool(const PassthroughPlan& plan) {
  const Node& n = node(plan.op);
  const Node& q = node(plan.q);
  QD_ASSIGN_OR_RETURN(auto qp, qdq_params(q));
  const QuantParams py = adjusted_output_quant(*qp, false);
  Node pool = lowered_node(OpKind::QGlobalAveragePool, n.name);
  QD_ASSIGN_OR_RETURN(ValueId xq, int8_value(*activation_dq(n.inputs[0])));
  if (out_.value(xq).quant->is_per_axis())
    return internal_error("int8_pool: input '{}' is quantized per axis", out_.value(xq).name);
  pool.inputs = {xq};
  const ValueId y_source = q.outputs[0];
  const ValueId y = new_value(src_.value(y_source).name, py.zero_point_type, y_source, "int8_pool", py);
  pool.outputs = {y};
  emit(std::move(pool));
  val_[static_cast<size_t>(y_source)] = y;
  return Status::ok();
}

}  // namespace qdrift
