#include "core/qdq_params.h"

#include <cmath>

#include <fmt/format.h>

namespace qdrift {

const Tensor* constant_tensor(const Graph& graph, ValueId v) {
  if (v == kNoValue) return nullptr;
  const Value& sv = graph.value(v);
  if (sv.initializer) return &*sv.initializer;
  const Node* p = graph.producer(v);
  if (p && p->kind == OpKind::Constant) return p->attr_tensor("value");
  return nullptr;
}

Result<std::optional<QuantParams>> qdq_node_params(const Graph& graph, const Node& n) {
  const Tensor* scale = constant_tensor(graph, n.input(1));
  if (!scale) return std::optional<QuantParams>{};
  const bool has_zp = n.input(2) != kNoValue;
  const Tensor* zp = has_zp ? constant_tensor(graph, n.input(2)) : nullptr;
  if (has_zp && !zp) return std::optional<QuantParams>{};
  if (scale->dtype != DType::f32) return invalid_input("scale of '{}' is {}, not f32", n.name, dtype_name(scale->dtype));
  QuantParams q;
  q.scale.assign(scale->values<float>().begin(), scale->values<float>().end());
  if (q.scale.empty()) return invalid_input("'{}': empty scale", n.name);
  for (float s : q.scale)
    if (!(s > 0.f) || !std::isfinite(s) || !std::isnormal(s))
      return invalid_input("'{}': scale {} is not a positive, finite, normal number", n.name, s);
  if (zp) {
    if (zp->dtype != DType::u8 && zp->dtype != DType::s8 && zp->dtype != DType::s32)
      return invalid_input("'{}': zero point type {} is not u8, s8 or s32", n.name, dtype_name(zp->dtype));
    q.zero_point_type = zp->dtype;
    for (int64_t i = 0; i < zp->numel(); ++i) q.zero_point.push_back(static_cast<int32_t>(zp->value_as_double(i)));
    if (q.zero_point.size() != q.scale.size())
      return invalid_input("'{}': {} zero points for {} scales", n.name, q.zero_point.size(), q.scale.size());
  } else {
    q.zero_point.assign(q.scale.size(), 0);
    // DequantizeLinear without a zero point takes its input's type; QuantizeLinear makes u8.
    const Value& in = graph.value(n.input(0));
    q.zero_point_type = n.kind == OpKind::DequantizeLinear && in.dtype != DType::undefined ? in.dtype : DType::u8;
  }
  q.axis = static_cast<int>(n.attr_int("axis", 1));
  if (q.is_per_axis()) {
    // Per-axis parameters are indexed by the input's `axis` coordinate: check the count
    // against that dim where the shape is known (constant weights always are).
    const Value& in = graph.value(n.input(0));
    if (in.has_shape) {
      const int64_t rank = static_cast<int64_t>(in.shape.size());
      const int64_t axis = q.axis < 0 ? q.axis + rank : q.axis;
      if (axis < 0 || axis >= rank)
        return invalid_input("'{}': axis {} is out of range for input '{}' of rank {}", n.name, q.axis, in.name,
                             rank);
      const int64_t dim = in.shape[static_cast<size_t>(axis)];
      if (dim >= 0 && dim != static_cast<int64_t>(q.scale.size()))
        return invalid_input("'{}': {} scales, input '{}' {} has {} along axis {}", n.name, q.scale.size(), in.name,
                             shape_str(in.shape), dim, q.axis);
    }
  }
  return std::optional<QuantParams>{q};
}

}  // namespace qdrift
