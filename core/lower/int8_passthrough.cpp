// int8_passthrough.cpp: rule int8_passthrough. DQ -> MaxPool|Reshape|Flatten|Transpose|Squeeze|
// Unsqueeze|Concat -> Q runs the op on the int8 codes; Requantize where input and output
// grids differ (Concat requantizes its inputs to the output's grid).
#include "core/lower/lowering.h"

namespace qdrift {

Result<bool> Lowering::int8_passthrough(NodeId id) {
  const Node& n = node(id);
  if (!int8_allowed(n)) return false;
  if (n.kind == OpKind::MaxPool && n.outputs.size() > 1 && n.outputs[1] != kNoValue) return false;
  const size_t data_inputs = n.kind == OpKind::Concat ? n.inputs.size() : 1;
  for (size_t i = 0; i < data_inputs; ++i)
    if (!activation_dq(n.input(i))) return false;
  if (!closing_q(n.outputs[0])) return false;
  const NodeId q = sole_consumer_id(n.outputs[0]);
  defer(q, [this, plan = PassthroughPlan{id, q}] { return emit_passthrough(plan); });
  return true;
}

Status Lowering::emit_passthrough(const PassthroughPlan& plan) {
  const Node& n = node(plan.op);
  const Node& q = node(plan.q);
  QD_ASSIGN_OR_RETURN(auto qp, qdq_params(q));
  const QuantParams py = adjusted_output_quant(*qp, false);
  const ValueId y_source = q.outputs[0];
  Node copy = n;
  const size_t data_inputs = n.kind == OpKind::Concat ? n.inputs.size() : 1;
  std::optional<QuantParams> pin;
  for (size_t i = 0; i < copy.inputs.size(); ++i) {
    if (i < data_inputs) {
      const Node* dq = activation_dq(n.inputs[i]);
      QD_ASSIGN_OR_RETURN(ValueId xq, int8_value(*dq));
      // Concat needs one grid: requantize inputs to the output's parameters.
      if (n.kind == OpKind::Concat && !same_quant(*out_.value(xq).quant, py))
        xq = emit_requantize(xq, py, n.inputs[i], "requantize_concat_input");
      copy.inputs[i] = xq;
      pin = *out_.value(xq).quant;
    } else {
      QD_ASSIGN_OR_RETURN(copy.inputs[i], val(n.inputs[i]));
    }
  }
  const bool same = same_quant(*pin, py);
  ValueId mid = new_value(same ? src_.value(y_source).name : src_.value(n.outputs[0]).name, pin->zero_point_type,
                          same ? y_source : n.outputs[0], "int8_passthrough", *pin);
  copy.outputs = {mid};
  emit(std::move(copy));
  val_[static_cast<size_t>(y_source)] = same ? mid : emit_requantize(mid, py, y_source, "int8_passthrough_requantize");
  return Status::ok();
}

}  // namespace qdrift
