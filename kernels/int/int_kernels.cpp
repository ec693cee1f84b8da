// int_kernels.cpp: the integer oracle's table, its Quantize/Dequantize/Requantize kernels,
// and the readers of value quantization shared with the oneDNN table (int_common.h).
//
// Formulas (core/lowered_ops.h), each step one f32 operation as oneDNN's jit reorder does it:
//   Quantize    y = store(x * (1/s_y) + zp_y)
//   Dequantize  y = (f32(x) - f32(zp_x)) * s_x
//   Requantize  y = store((f32(x) - f32(zp_x)) * (s_x/s_y) + zp_y)
//   QAdd        y = saturate(round_half_even(act((f32(a) - f32(zp_a)) * s_a + (f32(b) - f32(zp_b)) * s_b) / s_y) + zp_y)
#include "kernels/int/int_kernels.h"

#include <cmath>
#include <memory>

#include "core/quant_math.h"

#include "kernels/int/int_common.h"
#include "kernels/int/int_ops.h"
#include "kernels/ref/ref_kernels.h"

namespace qdrift {

namespace intk {

Result<int32_t> per_tensor_zero_point(const Graph& g, ValueId v, std::string_view role) {
  if (v == kNoValue) return 0;
  const Value& val = g.value(v);
  if (!val.quant || val.quant->zero_point.empty()) return 0;
  const std::vector<int32_t>& zp = val.quant->zero_point;
  for (int32_t z : zp)
    if (z != zp[0])
      return unsupported("{} '{}' has per-axis zero points; only a per-tensor zero point is supported", role, val.name);
  return zp[0];
}

Result<std::vector<int32_t>> channel_zero_points(const Graph& g, ValueId w, int64_t channels) {
  const Value& val = g.value(w);
  if (!val.quant || val.quant->zero_point.empty()) return std::vector<int32_t>(static_cast<size_t>(channels), 0);
  const std::vector<int32_t>& zp = val.quant->zero_point;
  if (zp.size() == 1) return std::vector<int32_t>(static_cast<size_t>(channels), zp[0]);
  if (static_cast<int64_t>(zp.size()) != channels)
    return internal_error("weights '{}' have {} zero points for {} output channels", val.name, zp.size(), channels);
  return zp;
}

Result<AxisQuant> axis_quant(const Graph& g, ValueId v, const Shape& shape, std::string_view role) {
  const Value& val = g.value(v);
  if (!val.quant || val.quant->scale.empty()) return internal_error("{} '{}' has no quantization", role, val.name);
  const QuantParams& q = *val.quant;
  if (q.zero_point.size() != q.scale.size())
    return internal_error("{} '{}' has {} scales and {} zero points", role, val.name, q.scale.size(), q.zero_point.size());
  AxisQuant a;
  a.scale = q.scale;
  a.zero_point = q.zero_point;
  a.outer = shape_numel(shape);
  if (q.is_per_axis()) {
    const int rank = static_cast<int>(shape.size());
    const int axis = q.axis < 0 ? q.axis + rank : q.axis;
    if (axis < 0 || axis >= rank || shape[static_cast<size_t>(axis)] != static_cast<int64_t>(q.scale.size()))
      return internal_error("{} '{}': {} scales along axis {} of shape {}", role, val.name, q.scale.size(), q.axis,
                            shape_str(shape));
    a.outer = shape_numel(Shape(shape.begin(), shape.begin() + axis));
    a.channels = shape[static_cast<size_t>(axis)];
    a.inner = shape_numel(Shape(shape.begin() + axis + 1, shape.end()));
  }
  return a;
}

}  // namespace intk

namespace {

using KernelPtr = Result<std::unique_ptr<Kernel>>;

// Applies f(value, channel) to every element of an [outer, channels, inner] layout.
template <typename In, typename Out, typename F>
void for_each_channel(const In* x, Out* y, const intk::AxisQuant& layout, F&& f) {
  int64_t i = 0;
  for (int64_t o = 0; o < layout.outer; ++o)
    for (int64_t c = 0; c < layout.channels; ++c)
      for (int64_t k = 0; k < layout.inner; ++k, ++i) y[i] = f(x[i], c);
}

// Quantize: f32 -> u8/s8, y = store(x * (1/s_y) + zp_y).
class QuantizeKernel final : public Kernel {
 public:
  static KernelPtr create(const Graph& g, const Node& n, const ExecOptions&) {
    if (n.inputs.size() != 1 || n.outputs.size() != 1) return internal_error("Quantize takes one input and one output");
    const DType out = g.value(n.outputs[0]).dtype;
    if (out != DType::u8 && out != DType::s8)
      return internal_error("Quantize output '{}' has dtype {}, must be u8 or s8", g.value(n.outputs[0]).name, dtype_name(out));
    return std::unique_ptr<Kernel>(new QuantizeKernel(out));
  }
  Status run(KernelContext& ctx) override {
    const Tensor& x = *ctx.input(0);
    if (x.dtype != DType::f32) return internal_error("Quantize input has dtype {}, must be f32", dtype_name(x.dtype));
    QD_ASSIGN_OR_RETURN(intk::AxisQuant q, intk::axis_quant(ctx.graph, ctx.node.outputs[0], x.shape, "output"));
    std::vector<float> inv(q.scale.size());
    for (size_t c = 0; c < inv.size(); ++c) inv[c] = 1.f / q.scale[c];
    QD_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_uninitialized(0, out_, x.shape));
    y->quant = ctx.graph.value(ctx.node.outputs[0]).quant;
    intk::dispatch_int8(out_, [&](auto tag) {
      using T = decltype(tag);
      for_each_channel(x.data<float>(), y->data<T>(), q, [&](float v, int64_t c) {
        const size_t k = q.scale.size() == 1 ? 0 : static_cast<size_t>(c);
        const float scaled = v * inv[k];
        return intk::store<T>(scaled + static_cast<float>(q.zero_point[k]));
      });
    });
    return Status::ok();
  }

 private:
  explicit QuantizeKernel(DType out) : out_(out) {}
  DType out_;
};

// Dequantize: u8/s8/s32 -> f32, y = (f32(x) - f32(zp_x)) * s_x.
class DequantizeKernel final : public Kernel {
 public:
  static KernelPtr create(const Graph& g, const Node& n, const ExecOptions&) {
    if (n.inputs.size() != 1 || n.outputs.size() != 1) return internal_error("Dequantize takes one input and one output");
    return std::unique_ptr<Kernel>(new DequantizeKernel());
  }
  Status run(KernelContext& ctx) override {
    const Tensor& x = *ctx.input(0);
    if (x.dtype != DType::u8 && x.dtype != DType::s8 && x.dtype != DType::s32)
      return internal_error("Dequantize input has dtype {}, must be u8, s8 or s32", dtype_name(x.dtype));
    QD_ASSIGN_OR_RETURN(intk::AxisQuant q, intk::axis_quant(ctx.graph, ctx.node.inputs[0], x.shape, "input"));
    QD_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_uninitialized(0, DType::f32, x.shape));
    dispatch_dtype(x.dtype, [&](auto tag) {
      using T = decltype(tag);
      if constexpr (std::is_same_v<T, uint8_t> || std::is_same_v<T, int8_t> || std::is_same_v<T, int32_t>) {
        for_each_channel(x.data<T>(), y->data<float>(), q, [&](T v, int64_t c) {
          const size_t k = q.scale.size() == 1 ? 0 : static_cast<size_t>(c);
          const float centered = static_cast<float>(v) - static_cast<float>(q.zero_point[k]);
          return centered * q.scale[k];
        });
      }
    });
    return Status::ok();
  }
};

// Requantize: u8/s8 -> u8/s8, y = store((f32(x) - f32(zp_x)) * (s_x/s_y) + zp_y).
class RequantizeKernel final : public Kernel {
 public:
  static KernelPtr create(const Graph& g, const Node& n, const ExecOptions&) {
    if (n.inputs.size() != 1 || n.outputs.size() != 1) return internal_error("Requantize takes one input and one output");
    const DType out = g.value(n.outputs[0]).dtype;
    if (out != DType::u8 && out != DType::s8)
      return internal_error("Requantize output '{}' has dtype {}, must be u8 or s8", g.value(n.outputs[0]).name,
                            dtype_name(out));
    return std::unique_ptr<Kernel>(new RequantizeKernel(out));
  }
  Status run(KernelContext& ctx) override {
    const Tensor& x = *ctx.input(0);
    if (x.dtype != DType::u8 && x.dtype != DType::s8)
      return internal_error("Requantize input has dtype {}, must be u8 or s8", dtype_name(x.dtype));
    QD_ASSIGN_OR_RETURN(intk::RequantParams p, intk::requant_params(ctx.graph, ctx.node, x.shape));
    QD_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_uninitialized(0, out_, x.shape));
    y->quant = ctx.graph.value(ctx.node.outputs[0]).quant;
    intk::dispatch_int8(x.dtype, [&](auto in_tag) {
      using In = decltype(in_tag);
      intk::dispatch_int8(out_, [&](auto out_tag) {
        using Out = decltype(out_tag);
        for_each_channel(x.data<In>(), y->data<Out>(), p.layout, [&](In v, int64_t c) {
          const size_t k = p.scale.size() == 1 ? 0 : static_cast<size_t>(c);
          const float centered = static_cast<float>(v) - static_cast<float>(p.zp_x[k]);
          const float scaled = centered * p.scale[k];
          return intk::store<Out>(scaled + static_cast<float>(p.zp_y[k]));
        });
      });
    });
    return Status::ok();
  }

 private:
  explicit RequantizeKernel(DType out) : out_(out) {}
  DType out_;
};

// QAdd: the formula of core/lowered_ops.h, one element at a time.
class QAddKernel final : public Kernel {
 public:
  explicit QAddKernel(intk::QAddParams p) : p_(p) {}
  Status run(KernelContext& ctx) override {
    const Tensor& a = *ctx.input(0);
    const Tensor& b = *ctx.input(1);
    QD_RETURN_IF_ERROR(intk::check_qadd_inputs(p_, a, b));
    QD_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_uninitialized(0, p_.y, a.shape));
    y->quant = ctx.graph.value(ctx.node.outputs[0]).quant;
    const QuantGrid grid = quant_grid(p_.y, QuantRange::full);
    intk::dispatch_int8(p_.a, [&](auto ta) {
      intk::dispatch_int8(p_.b, [&](auto tb) {
        intk::dispatch_int8(p_.y, [&](auto ty) {
          using A = decltype(ta);
          using B = decltype(tb);
          using Y = decltype(ty);
          const A* pa = a.data<A>();
          const B* pb = b.data<B>();
          Y* py = y->data<Y>();
          for (int64_t i = 0; i < a.numel(); ++i) {
            const float fa = (static_cast<float>(pa[i]) - static_cast<float>(p_.zp_a)) * p_.scale_a;
            const float fb = (static_cast<float>(pb[i]) - static_cast<float>(p_.zp_b)) * p_.scale_b;
            float v = fa + fb;
            v = v > p_.act_min ? v : p_.act_min;
            v = v < p_.act_max ? v : p_.act_max;
            const float r = std::nearbyint(v / p_.scale_y) + static_cast<float>(p_.zp_y);
            py[i] = static_cast<Y>(saturate_rounded(r, grid));
          }
        });
      });
    });
    return Status::ok();
  }

 private:
  intk::QAddParams p_;
};

// QGlobalAveragePool: per (n, c) the exact integer sum of x - zp_x, then qpool_code.
class QGlobalAveragePoolKernel final : public Kernel {
 public:
  explicit QGlobalAveragePoolKernel(intk::QPoolParams p) : p_(p) {}
  Status run(KernelContext& ctx) override {
    const Tensor& x = *ctx.input(0);
    if (x.dtype != p_.x || x.rank() < 3)
      return internal_error("QGlobalAveragePool input is {} {}, expected {} of rank >= 3", dtype_name(x.dtype),
                            shape_str(x.shape), dtype_name(p_.x));
    Shape y_shape = x.shape;
    int64_t count = 1;
    for (size_t i = 2; i < y_shape.size(); ++i) {
      count *= y_shape[i];
      y_shape[i] = 1;
    }
    QD_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_uninitialized(0, p_.y, y_shape));
    y->quant = ctx.graph.value(ctx.node.outputs[0]).quant;
    const QuantGrid grid = quant_grid(p_.y, QuantRange::full);
    intk::dispatch_int8(p_.x, [&](auto tx) {
      intk::dispatch_int8(p_.y, [&](auto ty) {
        using X = decltype(tx);
        using Y = decltype(ty);
        const X* px = x.data<X>();
        Y* py = y->data<Y>();
        for (int64_t plane = 0; plane < x.shape[0] * x.shape[1]; ++plane) {
          int64_t sum = 0;
          for (int64_t i = 0; i < count; ++i) sum += static_cast<int64_t>(px[plane * count + i]) - p_.zp_x;
          py[plane] = static_cast<Y>(intk::qpool_code(sum, count, p_, grid));
        }
      });
    });
    return Status::ok();
  }

 private:
  intk::QPoolParams p_;
};

KernelTable make_int_table() {
  KernelTable table;
  table.name = "int";
  table.factories[static_cast<size_t>(OpKind::Quantize)] = &QuantizeKernel::create;
  table.factories[static_cast<size_t>(OpKind::Dequantize)] = &DequantizeKernel::create;
  table.factories[static_cast<size_t>(OpKind::Requantize)] = &RequantizeKernel::create;
  table.factories[static_cast<size_t>(OpKind::QConv)] = &intk::create_qconv;
  table.factories[static_cast<size_t>(OpKind::QMatMul)] = &intk::create_qmatmul;
  table.factories[static_cast<size_t>(OpKind::QAdd)] = &intk::create_qadd;
  table.factories[static_cast<size_t>(OpKind::QGlobalAveragePool)] = &intk::create_qglobal_average_pool;
  register_lowered_ref_kinds(table);
  return table;
}

}  // namespace

namespace intk {

Result<RequantParams> requant_params(const Graph& g, const Node& n, const Shape& shape) {
  QD_ASSIGN_OR_RETURN(AxisQuant qx, axis_quant(g, n.inputs[0], shape, "input"));
  QD_ASSIGN_OR_RETURN(AxisQuant qy, axis_quant(g, n.outputs[0], shape, "output"));
  if (qx.scale.size() > 1 && qy.scale.size() > 1 && (qx.outer != qy.outer || qx.channels != qy.channels))
    return internal_error("Requantize: input and output are quantized along different axes");
  RequantParams p;
  p.layout = qx.scale.size() > 1 ? qx : qy;
  const size_t count = std::max(qx.scale.size(), qy.scale.size());
  auto at = [](const auto& v, size_t i) { return v.size() == 1 ? v[0] : v[i]; };
  for (size_t c = 0; c < count; ++c) {
    p.scale.push_back(at(qx.scale, c) / at(qy.scale, c));
    p.zp_x.push_back(at(qx.zero_point, c));
    p.zp_y.push_back(at(qy.zero_point, c));
  }
  return p;
}

Result<QAddParams> qadd_params(const Graph& g, const Node& n) {
  if (n.inputs.size() != 2 || n.outputs.size() != 1) return internal_error("QAdd takes two inputs and one output");
  QAddParams p;
  auto read = [&](ValueId id, DType& t, float& scale, int32_t& zp) -> Status {
    const Value& v = g.value(id);
    if (!v.quant || v.quant->scale.size() != 1 || v.quant->zero_point.size() != 1)
      return internal_error("QAdd operand '{}' needs per-tensor quantization", v.name);
    t = v.dtype != DType::undefined ? v.dtype : v.quant->zero_point_type;
    if (t != DType::u8 && t != DType::s8)
      return internal_error("QAdd operand '{}' has dtype {}, must be u8 or s8", v.name, dtype_name(t));
    scale = v.quant->scale[0];
    zp = v.quant->zero_point[0];
    return Status::ok();
  };
  QD_RETURN_IF_ERROR(read(n.inputs[0], p.a, p.scale_a, p.zp_a));
  QD_RETURN_IF_ERROR(read(n.inputs[1], p.b, p.scale_b, p.zp_b));
  QD_RETURN_IF_ERROR(read(n.outputs[0], p.y, p.scale_y, p.zp_y));
  p.act_min = n.attr_float("act_min", p.act_min);
  p.act_max = n.attr_float("act_max", p.act_max);
  return p;
}

Status check_qadd_inputs(const QAddParams& p, const Tensor& a, const Tensor& b) {
  if (a.dtype != p.a || b.dtype != p.b || a.shape != b.shape)
    return internal_error("QAdd inputs {} {} and {} {}: expected {} and {} of one shape", dtype_name(a.dtype),
                          shape_str(a.shape), dtype_name(b.dtype), shape_str(b.shape), dtype_name(p.a),
                          dtype_name(p.b));
  return Status::ok();
}

Result<std::unique_ptr<Kernel>> create_qadd(const Graph& g, const Node& n, const ExecOptions&) {
  QD_ASSIGN_OR_RETURN(QAddParams p, qadd_params(g, n));
  return std::unique_ptr<Kernel>(new QAddKernel(p));
}

Result<QPoolParams> qpool_params(const Graph& g, const Node& n) {
  if (n.inputs.size() != 1 || n.outputs.size() != 1)
    return internal_error("{} takes one input and one output", n.op_type);
  QPoolParams p;
  float scale[2];
  int32_t zp[2];
  DType* types[2] = {&p.x, &p.y};
  const ValueId ids[2] = {n.inputs[0], n.outputs[0]};
  for (int i = 0; i < 2; ++i) {
    const Value& v = g.value(ids[i]);
    if (!v.quant || v.quant->scale.size() != 1 || v.quant->zero_point.size() != 1)
      return internal_error("{} operand '{}' needs per-tensor quantization", n.op_type, v.name);
    *types[i] = v.dtype != DType::undefined ? v.dtype : v.quant->zero_point_type;
    if (*types[i] != DType::u8 && *types[i] != DType::s8)
      return internal_error("{} operand '{}' has dtype {}, must be u8 or s8", n.op_type, v.name, dtype_name(*types[i]));
    scale[i] = v.quant->scale[0];
    zp[i] = v.quant->zero_point[0];
  }
  p.scale_x = scale[0];
  p.scale_y = scale[1];
  p.zp_x = zp[0];
  p.zp_y = zp[1];
  return p;
}

Result<std::unique_ptr<Kernel>> create_qglobal_average_pool(const Graph& g, const Node& n, const ExecOptions&) {
  QD_ASSIGN_OR_RETURN(QPoolParams p, qpool_params(g, n));
  return std::unique_ptr<Kernel>(new QGlobalAveragePoolKernel(p));
}

}  // namespace intk

void register_lowered_ref_kinds(KernelTable& table) {
  const KernelTable& ref = ref_kernel_table();
  for (OpKind k : kLoweredRefKinds) table.factories[static_cast<size_t>(k)] = ref.factories[static_cast<size_t>(k)];
}

const KernelTable& int_kernel_table() {
  static const KernelTable table = make_int_table();
  return table;
}

}  // namespace qdrift
