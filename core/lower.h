// lower.h: QDQ (or QOperator) model -> real int8 graph, under an int8 policy.
//
//   Result<LoweredGraph> low = lower(graph, policy);
//   if (!low) return low.status();
//   auto ex = Executor::create(low->graph, onednn_kernel_table(), options);
//   for (const Value& v : low->graph.values)
//     fmt::print("{} stands for {} ({})\n", v.name, v.provenance.source, v.provenance.rewrite);
//
// The rules, each in its own file of core/lower/ with one line in the rule table
// (core/lower/rule_table.cpp), each recording provenance on the values it makes (see
// docs/lowering.md):
//   fuse_conv        DQ(x) -> Conv(DQ(w), bias) -> [Relu|Clip|HardSwish|LeakyRelu] -> Q  => QConv
//   fuse_conv_sum    ... Conv -> Add(., DQ(skip)) -> [act] -> Q                          => QConv + sum post-op
//   fold_batchnorm   Conv -> BatchNormalization folded into re-quantized weights (weights=requantize)
//   fuse_matmul      DQ(x) -> Gemm/MatMul(DQ(w) const, bias) -> [act] -> Q               => QMatMul
//   int8_passthrough DQ -> MaxPool|Reshape|Flatten|Transpose|Squeeze|Unsqueeze|Concat -> Q on int8 codes
//   insert_quantize  Q of a float tensor                                                 => Quantize (quantize/out/N)
//   fold_requantize  DQ -> Q with other parameters                                       => Requantize (requantize/out/N)
//   insert_dequantize an int8 tensor read by a float op                                  => Dequantize; the int8
//                    tensor is renamed dequantize/in/N when an int8 op made it (Paddle's names)
//   qlinear_conv, qlinear_matmul, conv_integer, matmul_integer: real int8 ONNX ops with
//                    constant quantization parameters => QConv / QMatMul
//   keep_float       everything else runs in f32, as in the source model
#pragma once

#include <string>
#include <vector>

#include "core/graph.h"
#include "core/int8_policy.h"

namespace qdrift {

struct LoweredGraph {
  Graph graph;
  std::vector<std::string> notes;  // decisions worth telling the user (one line each)
};

// Fails with invalid_input/unsupported when the policy asks for something the lowering
// cannot honour (e.g. rounding=half_away, which oneDNN cannot execute).
Result<LoweredGraph> lower(const Graph& source, const Int8Policy& policy);

// Human-readable listing of a graph with every value's dtype, shape, quantization and
// provenance (for --dump-lowered).
std::string format_graph_text(const Graph& graph);

}  // namespace qdrift
