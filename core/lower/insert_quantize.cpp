// insert_quantize.cpp: rule insert_quantize. QuantizeLinear (constant per-tensor u8/s8
// parameters) of a float tensor becomes a Quantize, output quantize/out/N; under a narrow s8
// range the float is clipped first.
#include "core/lower/lowering.h"

#include <fmt/format.h>

namespace qdrift {

Result<bool> Lowering::insert_quantize(NodeId id) {
  const Node& q = node(id);
  QD_ASSIGN_OR_RETURN(auto params, qdq_params(q));
  if (!params || !is_int8(params->zero_point_type) || params->is_per_axis()) return false;
  const QuantParams py = adjusted_output_quant(*params, /*nonnegative=*/false);
  const ValueId y = q.outputs[0];
  QD_ASSIGN_OR_RETURN(ValueId x, val(q.inputs[0]));
  if (out_.value(x).dtype != DType::f32) return false;
  x = clip_to_grid(x, py, y);
  const int index = n_quantize_++;
  ValueId out = new_value(fmt::format("quantize/out/{}", index), py.zero_point_type, y, "insert_quantize", py);
  Node n = lowered_node(OpKind::Quantize, fmt::format("quantize/{}", index));
  n.inputs = {x};
  n.outputs = {out};
  emit(std::move(n));
  val_[static_cast<size_t>(y)] = out;
  return true;
}

// Narrow range: Quantize saturates to the type's range, so clip the float first.
ValueId Lowering::clip_to_grid(ValueId x, const QuantParams& py, ValueId source) {
  if (policy_.range != QuantRange::narrow || py.zero_point_type != DType::s8) return x;
  const QuantGrid g = quant_grid(DType::s8, QuantRange::narrow);
  const float lo = static_cast<float>(g.qmin - py.zero_point[0]) * py.scale[0];
  const float hi = static_cast<float>(g.qmax - py.zero_point[0]) * py.scale[0];
  ValueId clipped = new_value(src_.value(source).name + ".narrow", DType::f32, kNoValue, "narrow_range");
  Node n;
  n.kind = OpKind::Clip;
  n.op_type = "Clip";
  n.name = src_.value(source).name + ".narrow_clip";
  if (out_.opset < 11) {  // Clip took its bounds as attributes before opset 11
    n.attrs["min"] = lo;
    n.attrs["max"] = hi;
    n.inputs = {x};
  } else {
    ValueId lo_v = new_constant(src_.value(source).name + ".narrow_min", Tensor::scalar(lo), "narrow_range");
    ValueId hi_v = new_constant(src_.value(source).name + ".narrow_max", Tensor::scalar(hi), "narrow_range");
    n.inputs = {x, lo_v, hi_v};
  }
  n.outputs = {clipped};
  emit(std::move(n));
  return clipped;
}

}  // namespace qdrift
