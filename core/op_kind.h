// op_kind.h: every operator qdrift knows, as an enum with a name table.
//
//   OpKind k = op_kind_from_onnx("", "Conv");    // OpKind::Conv
//   op_kind_name(k)                              // "Conv"
//
// Executors map OpKind -> kernel in an explicit table (see core/executor.h); ops not in
// this enum load as OpKind::Unknown and are reported as unsupported, all at once.
#pragma once

#include <cstdint>
#include <string_view>

namespace qdrift {

// X-macro: (enum name, ONNX domain, ONNX op_type). Order is the enum order.
#define QDRIFT_OP_KINDS(X)                                   \
  X(Conv, "", "Conv")                                        \
  X(Gemm, "", "Gemm")                                        \
  X(MatMul, "", "MatMul")                                    \
  X(BatchNormalization, "", "BatchNormalization")            \
  X(Relu, "", "Relu")                                        \
  X(LeakyRelu, "", "LeakyRelu")                              \
  X(Clip, "", "Clip")                                        \
  X(HardSigmoid, "", "HardSigmoid")                          \
  X(HardSwish, "", "HardSwish")                              \
  X(Sigmoid, "", "Sigmoid")                                  \
  X(Tanh, "", "Tanh")                                        \
  X(Add, "", "Add")                                          \
  X(Sub, "", "Sub")                                          \
  X(Mul, "", "Mul")                                          \
  X(Div, "", "Div")                                          \
  X(GlobalAveragePool, "", "GlobalAveragePool")              \
  X(AveragePool, "", "AveragePool")                          \
  X(MaxPool, "", "MaxPool")                                  \
  X(Flatten, "", "Flatten")                                  \
  X(Reshape, "", "Reshape")                                  \
  X(Transpose, "", "Transpose")                              \
  X(Concat, "", "Concat")                                    \
  X(Softmax, "", "Softmax")                                  \
  X(Squeeze, "", "Squeeze")                                  \
  X(Unsqueeze, "", "Unsqueeze")                              \
  X(Pad, "", "Pad")                                          \
  X(Identity, "", "Identity")                                \
  X(Constant, "", "Constant")                                \
  X(Shape, "", "Shape")                                      \
  X(Gather, "", "Gather")                                    \
  X(Cast, "", "Cast")                                        \
  X(ReduceMean, "", "ReduceMean")                            \
  X(QuantizeLinear, "", "QuantizeLinear")                    \
  X(DequantizeLinear, "", "DequantizeLinear")                \
  X(QLinearConv, "", "QLinearConv")                          \
  X(QLinearMatMul, "", "QLinearMatMul")                      \
  X(ConvInteger, "", "ConvInteger")                          \
  X(MatMulInteger, "", "MatMulInteger")                      \
  X(QLinearAdd, "com.microsoft", "QLinearAdd")               \
  X(QLinearGlobalAveragePool, "com.microsoft", "QLinearGlobalAveragePool") \
  X(QGemm, "com.microsoft", "QGemm")                         \
  /* ONNX Runtime's contrib ops, as its CPU optimizer writes them (docs/foreign_ops.md) */ \
  X(DynamicQuantizeLinear, "", "DynamicQuantizeLinear")      \
  X(MsQLinearConv, "com.microsoft", "QLinearConv")           \
  X(QLinearMul, "com.microsoft", "QLinearMul")               \
  X(QLinearAveragePool, "com.microsoft", "QLinearAveragePool") \
  X(QLinearConcat, "com.microsoft", "QLinearConcat")         \
  X(QLinearSigmoid, "com.microsoft", "QLinearSigmoid")       \
  X(QLinearLeakyRelu, "com.microsoft", "QLinearLeakyRelu")   \
  X(QLinearSoftmax, "com.microsoft", "QLinearSoftmax")       \
  X(NhwcMaxPool, "com.microsoft", "NhwcMaxPool")             \
  X(FusedConv, "com.microsoft", "FusedConv")                 \
  X(FusedGemm, "com.microsoft", "FusedGemm")                 \
  X(MatMulIntegerToFloat, "com.microsoft", "MatMulIntegerToFloat") \
  X(NchwcConv, "com.microsoft.nchwc", "Conv")                \
  X(NchwcReorderInput, "com.microsoft.nchwc", "ReorderInput") \
  X(NchwcReorderOutput, "com.microsoft.nchwc", "ReorderOutput") \
  X(NchwcMaxPool, "com.microsoft.nchwc", "MaxPool")          \
  X(NchwcAveragePool, "com.microsoft.nchwc", "AveragePool")  \
  X(NchwcGlobalAveragePool, "com.microsoft.nchwc", "GlobalAveragePool") \
  X(NchwcGlobalMaxPool, "com.microsoft.nchwc", "GlobalMaxPool") \
  /* ops of the lowered int8 graph (core/lowered_ops.h); never read from a file */ \
  X(Quantize, "qdrift", "Quantize")                          \
  X(Dequantize, "qdrift", "Dequantize")                      \
  X(Requantize, "qdrift", "Requantize")                      \
  X(QConv, "qdrift", "QConv")                                \
  X(QMatMul, "qdrift", "QMatMul")                            \
  X(QAdd, "qdrift", "QAdd")                                  \
  X(QGlobalAveragePool, "qdrift", "QGlobalAveragePool")

enum class OpKind : uint16_t {
#define QDRIFT_OP_ENUM(name, domain, type) name,
  QDRIFT_OP_KINDS(QDRIFT_OP_ENUM)
#undef QDRIFT_OP_ENUM
  Unknown,  // an op qdrift does not know; always unsupported
  Count,
};
inline constexpr int kOpKindCount = static_cast<int>(OpKind::Count);

std::string_view op_kind_name(OpKind k);
std::string_view op_kind_domain(OpKind k);
// Maps an ONNX (domain, op_type) to an OpKind; "ai.onnx" counts as the default domain.
OpKind op_kind_from_onnx(std::string_view domain, std::string_view op_type);

}  // namespace qdrift
