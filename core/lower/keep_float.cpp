// keep_float.cpp: the fallback (rule keep_float): a node no rule took runs in f32 as it is.
#include "core/lower/lowering.h"

#include <fmt/format.h>

namespace qdrift {

// Copies a node as it is, reading every input in its source dtype.
Status Lowering::keep_float(const Node& n) {
  Node copy = n;
  for (ValueId& in : copy.inputs) {
    QD_ASSIGN_OR_RETURN(in, val(in));
  }
  for (size_t o = 0; o < n.outputs.size(); ++o) {
    if (n.outputs[o] == kNoValue) continue;
    const Value& sv = src_.value(n.outputs[o]);
    copy.outputs[o] = new_value(sv.name, sv.dtype, n.outputs[o], "keep_float");
    val_[static_cast<size_t>(n.outputs[o])] = copy.outputs[o];
  }
  emit(std::move(copy));
  return Status::ok();
}

// Integer ONNX ops and Q/DQ no rule took (runtime quantization parameters) run on the
// reference integer kernels, which both int8 tables register: tell the user.
Status Lowering::keep_float_with_note(NodeId id) {
  const Node& n = node(id);
  switch (n.kind) {
    case OpKind::QuantizeLinear:
    case OpKind::DequantizeLinear:
    case OpKind::QLinearConv:
    case OpKind::ConvInteger:
    case OpKind::QLinearMatMul:
    case OpKind::MatMulInteger:
    case OpKind::QLinearAdd:
    case OpKind::QLinearGlobalAveragePool:
    case OpKind::QGemm:
      notes_.push_back(fmt::format(
          "{} kept as an ONNX op (runtime quantization parameters or a form the int8 ops do not take): it runs on "
          "the reference integer kernel",
          src_.describe(n)));
      break;
    default: break;
  }
  return keep_float(n);
}

}  // namespace qdrift
