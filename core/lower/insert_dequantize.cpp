// insert_dequantize.cpp: rule insert_dequantize. A DequantizeLinear with constant parameters
// emits nothing where it stands: val() materializes a Dequantize where a float op reads its
// output (the int8 output of an int8 op is then renamed dequantize/in/N, Paddle's name), so
// int8 consumers read the codes directly. A DQ with runtime parameters stays an ONNX op.
#include "core/lower/lowering.h"

#include <fmt/format.h>

namespace qdrift {

Result<bool> Lowering::insert_dequantize(NodeId id) {
  QD_ASSIGN_OR_RETURN(auto params, qdq_params(node(id)));
  return params.has_value();
}

ValueId Lowering::emit_dequantize(ValueId q, ValueId source) {
  Value& qv = out_.value(q);
  // Paddle names the int8 output of an int8 op that a float op reads dequantize/in/N.
  const Node* maker = qv.producer == kNoNode ? nullptr : &out_.nodes[static_cast<size_t>(qv.producer)];
  if (maker && (maker->kind == OpKind::QConv || maker->kind == OpKind::QMatMul) &&
      qv.name == qv.provenance.source) {
    qv.name = fresh_name(fmt::format("dequantize/in/{}", n_dequantize_));
  }
  const int index = n_dequantize_++;
  ValueId f = new_value(src_.value(source).name, DType::f32, source, "insert_dequantize");
  Node n = lowered_node(OpKind::Dequantize, fmt::format("dequantize/{}", index));
  n.inputs = {q};
  n.outputs = {f};
  emit(std::move(n));
  return f;
}

}  // namespace qdrift
