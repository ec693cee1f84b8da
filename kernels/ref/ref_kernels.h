// ref_kernels.h: the reference kernel table: fp32 with fake quantization simulated
// exactly as ONNX defines QuantizeLinear/DequantizeLinear, plus the integer ONNX ops.
//
//   auto ex = Executor::create(graph, ref_kernel_table(), options);             // reference
//   auto fp = Executor::create(strip_qdq(graph), ref_kernel_table(), options);   // fp32 baseline
//
// These kernels are the oracle: simple, readable, obviously right. Speed is secondary.
#pragma once

#include "core/executor.h"

namespace qdrift {

const KernelTable& ref_kernel_table();

}  // namespace qdrift
