// ref_kernels.h: the reference kernel table: fp32 with fake quantization simulated
// exactly as ONNX defines QuantizeLinear/DequantizeLinear, plus the integer ONNX ops.
//
//   auto ex = Executor::create(graph, ref_kernel_table(), options);             // reference
//   auto fp = Executor::create(strip_qdq(graph), ref_kernel_table(), options);   // fp32 baseline
//
// These kernels are the oracle: simple, readable, obviously right. The one exception is
// the float arithmetic of Conv, Gemm and MatMul, where ref_kernel_table() runs oneDNN's
// fp32 primitives and sgemm (kernels/ref/nn_fast.cpp): ONNX does not fix the order of a
// float sum, so only fp32 reassociation separates them from the straightforward kernels,
// which ref_naive_kernel_table() keeps (double accumulation in index order, bit-identical
// whatever the thread count) as the baseline the fast ones are tested against.
// QuantizeLinear, DequantizeLinear and every other op are the same in both tables.
#pragma once

#include "core/executor.h"

namespace qdrift {

const KernelTable& ref_kernel_table();        // "ref": fast Conv/Gemm/MatMul
const KernelTable& ref_naive_kernel_table();  // "ref-naive": the straightforward Conv/Gemm/MatMul

}  // namespace qdrift
