// quant.cpp: reference QuantizeLinear and DequantizeLinear, exactly as ONNX defines them.
//
//   QuantizeLinear:   y = saturate(round(x / scale) + zero_point)   (core/quant_math.h)
//   DequantizeLinear: y = (x - zero_point) * scale
//
// Opset 10: scale and zero point are scalars (per tensor). Opset 13: a 1-D scale gives one
// scale per index of `axis` (default 1, negative allowed); a one-element scale is per
// tensor. Without a zero point, QuantizeLinear produces u8 with zero point 0.
//
// The trainer variants (ExecOptions::fake_quant: narrow range, half-away rounding) apply
// to QuantizeLinear only: DequantizeLinear is the same affine map under every convention.
//
// NaN inputs of QuantizeLinear map to the zero point (the code of real 0): ONNX leaves NaN
// undefined, numpy's reference turns it into whatever the float->int cast gives, and a
// defined, recognisable code is more useful to someone hunting for where NaNs appear.
// +-inf saturate to qmax / qmin like any value beyond the range. The element loops are
// core/quant_math.h's quantize_tensor / dequantize_tensor, shared with the passes.
#include <cmath>
#include <limits>
#include <memory>
#include <vector>

#include "core/quant_math.h"
#include "kernels/ref/broadcast.h"
#include "kernels/ref/ref_ops.h"

namespace qdrift::ref {

namespace {

using KernelPtr = Result<std::unique_ptr<Kernel>>;

// Reads and checks inputs 1 (scale) and 2 (zero point, optional) of a Q or DQ node.
// `zp_default_type` is the zero point type when it is omitted.
// The result fits x (core/quant_math.h quantize_tensor): per-axis parameters have a
// normalized axis with one entry per index of it.
Result<QuantParams> resolve_params(const KernelContext& ctx, const Tensor& x, int64_t opset, int64_t axis_attr,
                                   DType zp_default_type) {
  QD_ASSIGN_OR_RETURN(const Tensor* scale, required_input(ctx, 1));
  const Tensor* zp = ctx.input(2);
  if (scale->dtype != DType::f32)
    return invalid_input("scale '{}' has dtype {}, must be f32", input_name(ctx, 1), dtype_name(scale->dtype));
  if (scale->rank() > 1)
    return invalid_input("scale '{}' has shape {}: must be a scalar or 1-D", input_name(ctx, 1),
                         shape_str(scale->shape));
  const int64_t count = scale->numel();
  if (count == 0) return invalid_input("scale '{}' is empty", input_name(ctx, 1));

  QuantParams p;
  const bool per_axis = count > 1;
  if (per_axis) {
    if (opset < 13)
      return invalid_input("scale '{}' has shape {}: opset {} takes a scalar scale (per-axis needs opset 13)",
                           input_name(ctx, 1), shape_str(scale->shape), opset);
    QD_ASSIGN_OR_RETURN(int axis, normalize_axis(axis_attr, x.rank(), "attribute axis"));
    const int64_t dim = x.shape[static_cast<size_t>(axis)];
    if (dim != count)
      return invalid_input("scale '{}' has {} values, input '{}' {} has {} along axis {}", input_name(ctx, 1), count,
                           input_name(ctx, 0), shape_str(x.shape), dim, axis);
    p.axis = axis;
  }
  p.scale.assign(scale->data<float>(), scale->data<float>() + count);
  for (size_t i = 0; i < p.scale.size(); ++i)
    if (!(p.scale[i] > 0.0f) || !std::isfinite(p.scale[i]))
      return invalid_input("scale '{}' value {} at index {} is not positive and finite", input_name(ctx, 1),
                           p.scale[i], i);
    else if (!std::isnormal(p.scale[i]))  // x / 1e-40 overflows: no quantizer means this
      return invalid_input("scale '{}' value {} at index {} is denormal (smaller than {})", input_name(ctx, 1),
                           p.scale[i], i, std::numeric_limits<float>::min());

  if (!zp) {
    p.zero_point.assign(static_cast<size_t>(count), 0);
    p.zero_point_type = zp_default_type;
    return p;
  }
  if (zp->dtype != DType::u8 && zp->dtype != DType::s8 && zp->dtype != DType::s32)
    return invalid_input("zero point '{}' has dtype {}, must be u8, s8 or s32", input_name(ctx, 2),
                         dtype_name(zp->dtype));
  if (zp->numel() != count || zp->rank() != scale->rank())
    return invalid_input("zero point '{}' has shape {}, scale '{}' has {}: they must match", input_name(ctx, 2),
                         shape_str(zp->shape), input_name(ctx, 1), shape_str(scale->shape));
  p.zero_point_type = zp->dtype;
  for (int64_t v : zp->to_int64_vector()) p.zero_point.push_back(static_cast<int32_t>(v));
  return p;
}

class QuantizeLinearKernel final : public Kernel {
 public:
  QuantizeLinearKernel(int64_t opset, int64_t axis) : opset_(opset), axis_(axis) {}
  static KernelPtr create(const Graph& g, const Node& n, const ExecOptions&) {
    const int64_t opset = kernel_opset(g);
    return std::unique_ptr<Kernel>(new QuantizeLinearKernel(opset, opset >= 13 ? n.attr_int("axis", 1) : 1));
  }

  Status run(KernelContext& ctx) override {
    QD_ASSIGN_OR_RETURN(const Tensor* x, required_input(ctx, 0));
    if (x->dtype != DType::f32 && x->dtype != DType::s32)
      return invalid_input("input '{}' has dtype {}; QuantizeLinear takes f32 or s32", input_name(ctx, 0),
                           dtype_name(x->dtype));
    QD_ASSIGN_OR_RETURN(QuantParams p, resolve_params(ctx, *x, opset_, axis_, DType::u8));
    if (p.zero_point_type != DType::u8 && p.zero_point_type != DType::s8)
      return invalid_input("zero point '{}' has dtype {}; QuantizeLinear produces u8 or s8", input_name(ctx, 2),
                           dtype_name(p.zero_point_type));
    const QuantGrid grid = quant_grid(p.zero_point_type, ctx.options.fake_quant.range);
    const Rounding rounding = ctx.options.fake_quant.rounding;
    QD_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_uninitialized(0, p.zero_point_type, x->shape));
    quantize_tensor_into(*x, p, grid, rounding, *y);
    return Status::ok();
  }

 private:
  int64_t opset_;
  int64_t axis_;
};

class DequantizeLinearKernel final : public Kernel {
 public:
  DequantizeLinearKernel(int64_t opset, int64_t axis) : opset_(opset), axis_(axis) {}
  static KernelPtr create(const Graph& g, const Node& n, const ExecOptions&) {
    const int64_t opset = kernel_opset(g);
    return std::unique_ptr<Kernel>(new DequantizeLinearKernel(opset, opset >= 13 ? n.attr_int("axis", 1) : 1));
  }

  Status run(KernelContext& ctx) override {
    QD_ASSIGN_OR_RETURN(const Tensor* x, required_input(ctx, 0));
    if (x->dtype != DType::u8 && x->dtype != DType::s8 && x->dtype != DType::s32)
      return invalid_input("input '{}' has dtype {}; DequantizeLinear takes u8, s8 or s32", input_name(ctx, 0),
                           dtype_name(x->dtype));
    QD_ASSIGN_OR_RETURN(QuantParams p, resolve_params(ctx, *x, opset_, axis_, x->dtype));
    if (p.zero_point_type != x->dtype)
      return invalid_input("zero point '{}' has dtype {}, input '{}' has {}: they must match", input_name(ctx, 2),
                           dtype_name(p.zero_point_type), input_name(ctx, 0), dtype_name(x->dtype));
    // An s32 input is a bias in accumulator units: its zero point must be 0.
    if (x->dtype == DType::s32)
      for (size_t c = 0; c < p.zero_point.size(); ++c)
        if (p.zero_point[c] != 0)
          return invalid_input("zero point '{}' is {} at index {}: an s32 input takes zero point 0",
                               input_name(ctx, 2), p.zero_point[c], c);
    QD_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_uninitialized(0, DType::f32, x->shape));
    dequantize_tensor_into(*x, p, *y);
    return Status::ok();
  }

 private:
  int64_t opset_;
  int64_t axis_;
};

}  // namespace

void register_quant_ops(KernelTable& table) {
  set_kernel<QuantizeLinearKernel>(table, OpKind::QuantizeLinear);
  set_kernel<DequantizeLinearKernel>(table, OpKind::DequantizeLinear);
}

}  // namespace qdrift::ref
