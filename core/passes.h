// passes.h: graph-to-graph rewrites that live in core (lowering arrives with the int8 issue).
//
//   Graph fp32 = strip_qdq(graph);   // the quantization-error baseline: QDQ removed
#pragma once

#include "core/graph.h"

namespace qdrift {

// Removes fake quantization: every QuantizeLinear->DequantizeLinear pair becomes a direct
// edge from the Q input to the DQ consumers; a DequantizeLinear of a constant (quantized
// weights, int32 bias) becomes a float initializer holding its dequantized values. Q or DQ
// nodes at the graph boundary that have no float counterpart are kept. Value names of the
// surviving tensors are unchanged, so the result maps onto the reference by name.
Graph strip_qdq(const Graph& graph);

}  // namespace qdrift
