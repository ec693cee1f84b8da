// fold_requantize.cpp: rule fold_requantize. DQ -> Q with constant per-tensor parameters: the
// identity where both grids are equal, else one Requantize (output requantize/out/N).
#include "core/lower/lowering.h"

#include <fmt/format.h>

namespace qdrift {

Result<bool> Lowering::fold_requantize(NodeId id) {
  const Node& q = node(id);
  QD_ASSIGN_OR_RETURN(auto params, qdq_params(q));
  if (!params || !is_int8(params->zero_point_type) || params->is_per_axis()) return false;
  const Node* dq = activation_dq(q.inputs[0]);
  if (!dq || skipped(q)) return false;
  const QuantParams py = adjusted_output_quant(*params, /*nonnegative=*/false);
  const ValueId y = q.outputs[0];
  QD_ASSIGN_OR_RETURN(ValueId xq, int8_value(*dq));
  const QuantParams& px = *out_.value(xq).quant;
  if (same_quant(px, py)) {
    val_[static_cast<size_t>(y)] = xq;  // DQ -> Q with equal parameters is the identity
    return true;
  }
  val_[static_cast<size_t>(y)] = emit_requantize(xq, py, y, "fold_requantize");
  return true;
}

ValueId Lowering::emit_requantize(ValueId xq, const QuantParams& py, ValueId source, std::string rewrite) {
  const int index = n_requantize_++;
  ValueId out = new_value(fmt::format("requantize/out/{}", index), py.zero_point_type, source, std::move(rewrite), py);
  Node n = lowered_node(OpKind::Requantize, fmt::format("requantize/{}", index));
  n.inputs = {xq};
  n.outputs = {out};
  emit(std::move(n));
  return out;
}

}  // namespace qdrift
