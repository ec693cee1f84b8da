// ref_ops.h: registration hooks of the reference kernel families (one .cpp each).
#pragma once

#include "core/executor.h"

namespace qdrift::ref {

// Each fills the table entries of its ops; kernels/ref/ref_kernels.cpp calls them all.
void register_nn_ops(KernelTable& table);           // nn.cpp: Conv, Gemm, MatMul, BatchNormalization, pools, Softmax, ReduceMean
void register_integer_ops(KernelTable& table);      // integer.cpp: QLinearConv, QLinearMatMul, ConvInteger, MatMulInteger, com.microsoft QLinear*/QGemm
void register_elementwise_ops(KernelTable& table);  // elementwise.cpp: activations, Add/Sub/Mul/Div, Cast
void register_shape_ops(KernelTable& table);        // shape.cpp: Flatten, Reshape, Transpose, Concat, Squeeze, Unsqueeze, Pad, Identity, Constant, Shape, Gather
void register_quant_ops(KernelTable& table);        // quant.cpp: QuantizeLinear, DequantizeLinear
void register_contrib_ops(KernelTable& table);      // contrib.cpp: ONNX Runtime's contrib ops (docs/foreign_ops.md); registered last

template <typename KernelT>
void set_kernel(KernelTable& table, OpKind kind) {
  table.factories[static_cast<size_t>(kind)] = &KernelT::create;
}

}  // namespace qdrift::ref
