// rule_table.cpp: the lowering rules in the order they are tried on a source node of the
// listed kinds (like the kernel tables: one line per rule, a rule's code in its own file).
// A node no rule takes runs in f32 as it is (keep_float.cpp).
#include "core/lower/lowering.h"

namespace qdrift {

const std::vector<LoweringRule>& lowering_rules() {
  using K = OpKind;
  static const std::vector<LoweringRule> rules = {
      {"fuse_conv", {K::Conv, K::Gemm, K::MatMul}, &Lowering::fuse_conv},
      {"int8_passthrough",
       {K::MaxPool, K::Reshape, K::Flatten, K::Transpose, K::Squeeze, K::Unsqueeze, K::Concat},
       &Lowering::int8_passthrough},
      {"int8_add", {K::Add}, &Lowering::int8_add},
      {"int8_pool", {K::GlobalAveragePool}, &Lowering::int8_pool},
      {"fold_requantize", {K::QuantizeLinear}, &Lowering::fold_requantize},
      {"insert_quantize", {K::QuantizeLinear}, &Lowering::insert_quantize},
      {"insert_dequantize", {K::DequantizeLinear}, &Lowering::insert_dequantize},
      {"integer_ops", {K::QLinearConv, K::ConvInteger, K::QLinearMatMul, K::MatMulInteger}, &Lowering::integer_ops},
  };
  return rules;
}

}  // namespace qdrift
