// int_kernels.h: the integer oracle: the lowered int8 graph (core/lowered_ops.h) executed
// in plain C++, int32 accumulation and the exact float steps oneDNN 2.6 takes.
//
//   Result<LoweredGraph> low = lower(graph, policy);
//   auto oracle = Executor::create(low->graph, int_kernel_table(), options);
//   auto onednn = Executor::create(low->graph, onednn_kernel_table(), options);
//   // On a VNNI machine both produce the same bytes for every tensor; a difference is
//   // kernel drift (e.g. 16-bit saturation of vpmaddubsw on AVX2), not semantics.
//
// The oracle takes what oneDNN cannot (u8 weights with any zero point, per-channel weight
// zero points); the oneDNN table runs such nodes with these kernels and says so in the log.
// Every op of a lowered graph that is not an int8 op (float ops between Dequantize and
// Quantize, int8 pass-through ops such as MaxPool or Reshape) runs on the reference
// kernels, listed kind by kind in kLoweredRefKinds.
#pragma once

#include <array>

#include "core/executor.h"

namespace qdrift {

const KernelTable& int_kernel_table();

// The lowered int8 ops themselves: every int8 table must provide its own kernel for these.
inline constexpr std::array<OpKind, 7> kLoweredInt8Kinds = {
    OpKind::Quantize, OpKind::Dequantize, OpKind::Requantize,        OpKind::QConv,
    OpKind::QMatMul,  OpKind::QAdd,       OpKind::QGlobalAveragePool};

// Every other op a lowered graph may hold: both int8 tables register the reference
// kernel for each, explicitly (a kind missing here stays unsupported, never falls back).
inline constexpr std::array<OpKind, 60> kLoweredRefKinds = {
    OpKind::Conv,          OpKind::Gemm,           OpKind::MatMul,        OpKind::BatchNormalization,
    OpKind::Relu,          OpKind::LeakyRelu,      OpKind::Clip,          OpKind::HardSigmoid,
    OpKind::HardSwish,     OpKind::Sigmoid,        OpKind::Tanh,          OpKind::Add,
    OpKind::Sub,           OpKind::Mul,            OpKind::Div,           OpKind::GlobalAveragePool,
    OpKind::AveragePool,   OpKind::MaxPool,        OpKind::Flatten,       OpKind::Reshape,
    OpKind::Transpose,     OpKind::Concat,         OpKind::Softmax,       OpKind::Squeeze,
    OpKind::Unsqueeze,     OpKind::Pad,            OpKind::Identity,      OpKind::Constant,
    OpKind::Shape,         OpKind::Gather,         OpKind::Cast,          OpKind::ReduceMean,
    OpKind::QuantizeLinear, OpKind::DequantizeLinear, OpKind::QLinearConv, OpKind::QLinearMatMul,
    OpKind::ConvInteger,   OpKind::MatMulInteger,  OpKind::QLinearAdd,    OpKind::QLinearGlobalAveragePool,
    OpKind::QGemm,
    // ONNX Runtime's contrib ops (a second model saved by ORT): the reference kernels
    OpKind::DynamicQuantizeLinear, OpKind::MsQLinearConv, OpKind::QLinearMul, OpKind::QLinearAveragePool,
    OpKind::QLinearConcat, OpKind::QLinearSigmoid, OpKind::QLinearLeakyRelu, OpKind::QLinearSoftmax,
    OpKind::NhwcMaxPool, OpKind::FusedConv, OpKind::FusedGemm, OpKind::MatMulIntegerToFloat,
    OpKind::NchwcConv, OpKind::NchwcReorderInput, OpKind::NchwcReorderOutput, OpKind::NchwcMaxPool,
    OpKind::NchwcAveragePool, OpKind::NchwcGlobalAveragePool, OpKind::NchwcGlobalMaxPool,
};
// Adding an OpKind forces a decision: int8 kernel or reference kernel (Unknown is neither).
static_assert(kLoweredInt8Kinds.size() + kLoweredRefKinds.size() + 1 == static_cast<size_t>(kOpKindCount),
              "every OpKind but Unknown is either a lowered int8 op or run by the reference kernels");

// Copies the reference table's entries for kLoweredRefKinds into `table`.
void register_lowered_ref_kinds(KernelTable& table);

}  // namespace qdrift
