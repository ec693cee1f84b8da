// qdq_params.h: the constant quantization parameters of QuantizeLinear/DequantizeLinear
// nodes, read once for every pass and tool (lowering, the drift report).
//
//   QD_ASSIGN_OR_RETURN(std::optional<QuantParams> q, qdq_node_params(graph, node));
//   if (q) use(q->scale[0], q->zero_point[0], q->zero_point_type);   // nullopt: runtime params
#pragma once

#include <optional>

#include "core/graph.h"
#include "core/status.h"

namespace qdrift {

// The tensor a value holds when it is constant (an initializer or a Constant node's
// output); nullptr otherwise.
const Tensor* constant_tensor(const Graph& graph, ValueId v);

// Scale and zero point of a QuantizeLinear/DequantizeLinear node whose parameters are
// constants; nullopt when they are runtime inputs. Rejects (invalid_input, naming the node)
// scales that are not positive finite normal f32 numbers, zero points of another type than
// u8/s8/s32, count mismatches, and per-axis counts that do not fit the input's known shape.
Result<std::optional<QuantParams>> qdq_node_params(const Graph& graph, const Node& n);

}  // namespace qdrift
