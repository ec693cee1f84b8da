// int_ops.h: the integer oracle's kernel factories and helpers shared between its files
// and the oneDNN table (which runs a node on the oracle when oneDNN cannot take it).
#pragma once

#include <cmath>
#include <limits>
#include <memory>
#include <vector>

#include "core/executor.h"
#include "kernels/int/int_common.h"

namespace qdrift::intk {

// Factories of the oracle's QConv and QMatMul kernels (entries of int_kernel_table()).
Result<std::unique_ptr<Kernel>> create_qconv(const Graph& g, const Node& n, const ExecOptions& options);
Result<std::unique_ptr<Kernel>> create_qmatmul(const Graph& g, const Node& n, const ExecOptions& options);

// Per-channel parameters of a Requantize node: scale s_x/s_y (one f32 division each) and
// the two zero points, all of the same length, over `layout`.
struct RequantParams {
  AxisQuant layout;
  std::vector<float> scale;
  std::vector<int32_t> zp_x;
  std::vector<int32_t> zp_y;
};
Result<RequantParams> requant_params(const Graph& g, const Node& n, const Shape& shape);

// Parameters of a QAdd node (core/lowered_ops.h), read from its values' quantization.
struct QAddParams {
  DType a = DType::undefined, b = DType::undefined, y = DType::undefined;
  float scale_a = 1.f, scale_b = 1.f, scale_y = 1.f;
  int32_t zp_a = 0, zp_b = 0, zp_y = 0;
  float act_min = -std::numeric_limits<float>::infinity();  // fused activation, real units
  float act_max = std::numeric_limits<float>::infinity();
};
Result<QAddParams> qadd_params(const Graph& g, const Node& n);
// The run-time inputs match the parameters: the declared dtypes and one shape.
Status check_qadd_inputs(const QAddParams& p, const Tensor& a, const Tensor& b);
// The oracle's QAdd kernel (entry of int_kernel_table()).
Result<std::unique_ptr<Kernel>> create_qadd(const Graph& g, const Node& n, const ExecOptions& options);

// Parameters of a QGlobalAveragePool node (core/lowered_ops.h), and its output code for one
// (n, c): the one formula both int8 tables call, so they agree bit for bit.
struct QPoolParams {
  DType x = DType::undefined, y = DType::undefined;
  float scale_x = 1.f, scale_y = 1.f;
  int32_t zp_x = 0, zp_y = 0;
};
Result<QPoolParams> qpool_params(const Graph& g, const Node& n);
// `sum` = sum of (x - zp_x) over `count` codes.
inline int32_t qpool_code(int64_t sum, int64_t count, const QPoolParams& p, const QuantGrid& grid) {
  const float v = static_cast<float>(static_cast<double>(sum) * static_cast<double>(p.scale_x) /
                                     static_cast<double>(count));
  return saturate_rounded(std::nearbyint(v / p.scale_y) + static_cast<float>(p.zp_y), grid);
}
// The oracle's QGlobalAveragePool kernel (entry of int_kernel_table()).
Result<std::unique_ptr<Kernel>> create_qglobal_average_pool(const Graph& g, const Node& n, const ExecOptions& options);

// Calls f(uint8_t{}) or f(int8_t{}); any other dtype is a broken invariant.
template <typename F>
void dispatch_int8(DType t, F&& f) {
  if (t == DType::u8) {
    f(uint8_t{});
  } else {
    QD_ASSERT(t == DType::s8);
    f(int8_t{});
  }
}

}  // namespace qdrift::intk
