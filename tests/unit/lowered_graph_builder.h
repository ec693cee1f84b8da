// lowered_graph_builder.h: builds small lowered int8 graphs in code for the oracle and
// oneDNN tests (no ONNX file, no lowering pass in between).
//
//   LoweredGraphBuilder b;
//   ValueId x = b.input("x", DType::u8, {1, 3, 5, 5}, QuantParams::per_tensor(0.1f, 128, DType::u8));
//   ValueId w = b.constant("w", weights, QuantParams::per_tensor(0.02f, 0, DType::s8));
//   ValueId y = b.value("y", DType::u8, QuantParams::per_tensor(0.05f, 3, DType::u8));
//   b.qconv("conv", x, w, kNoValue, kNoValue, y, {0.04f}, {{PostOpKind::relu}}, {{"pads", ...}});
//   b.output(y);
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/graph.h"
#include "core/lowered_ops.h"

namespace qdrift::testing_util {

class LoweredGraphBuilder {
 public:
  Graph graph;

  ValueId input(const std::string& name, DType dtype, Shape shape, std::optional<QuantParams> quant = std::nullopt) {
    ValueId id = graph.add_value(name);
    Value& v = graph.value(id);
    v.dtype = dtype;
    v.shape = std::move(shape);
    v.has_shape = true;
    v.quant = std::move(quant);
    graph.inputs.push_back(id);
    return id;
  }
  ValueId constant(const std::string& name, Tensor t, std::optional<QuantParams> quant = std::nullopt) {
    ValueId id = graph.add_initializer(name, std::move(t));
    graph.value(id).quant = std::move(quant);
    return id;
  }
  // A node output; its shape is left unknown (the executor then checks only the dtype).
  ValueId value(const std::string& name, DType dtype, std::optional<QuantParams> quant = std::nullopt) {
    ValueId id = graph.add_value(name);
    graph.value(id).dtype = dtype;
    graph.value(id).quant = std::move(quant);
    return id;
  }
  void output(ValueId v) { graph.outputs.push_back(v); }

  Node& node(OpKind kind, const std::string& name, std::vector<ValueId> inputs, std::vector<ValueId> outputs) {
    Node n;
    n.kind = kind;
    n.name = name;
    n.op_type = std::string(op_kind_name(kind));
    n.domain = std::string(op_kind_domain(kind));
    n.inputs = std::move(inputs);
    n.outputs = std::move(outputs);
    graph.add_node(std::move(n));
    return graph.nodes.back();
  }

  // QConv/QMatMul with x, w, optional bias and sum (kNoValue when absent).
  Node& int8_op(OpKind kind, const std::string& name, ValueId x, ValueId w, ValueId bias, ValueId sum, ValueId y,
                const LoweredParams& params) {
    std::vector<ValueId> ins{x, w, bias};
    if (sum != kNoValue) ins.push_back(sum);
    while (ins.back() == kNoValue) ins.pop_back();
    Node& n = node(kind, name, ins, {y});
    set_lowered_params(n, params);
    return n;
  }
};

inline QuantParams per_tensor(float scale, int32_t zp, DType type) { return QuantParams::per_tensor(scale, zp, type); }

inline QuantParams per_channel(std::vector<float> scales, std::vector<int32_t> zps, DType type, int axis) {
  QuantParams q;
  q.scale = std::move(scales);
  q.zero_point = std::move(zps);
  q.zero_point_type = type;
  q.axis = axis;
  return q;
}

}  // namespace qdrift::testing_util
