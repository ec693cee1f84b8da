// int_qconv.cpp: the simple form of the integer oracle's QConv and QMatMul: direct loops,
// exact int32 accumulation of (x - zp_x) * (w - zp_w), then the epilogue of
// core/lowered_ops.h one f32 step at a time. Obviously right first; no blocking, no
// vectorization on purpose. The oracle table runs the blocked form (int_qconv_blocked.cpp),
// which tests compare with this one byte for byte.
#include <algorithm>
#include <array>
#include <memory>
#include <vector>

#include "core/op_attrs.h"
#include "kernels/int/int_ops.h"

namespace qdrift::intk {

namespace {

using KernelPtr = Result<std::unique_ptr<Kernel>>;

// Elements of an integer tensor minus a zero point, as exact int32.
template <typename T>
void centered(const Tensor& t, int32_t zp, std::vector<int32_t>& out) {
  const T* p = t.data<T>();
  out.resize(static_cast<size_t>(t.numel()));
  for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<int32_t>(p[i]) - zp;
}
void centered_any(const Tensor& t, int32_t zp, std::vector<int32_t>& out) {
  dispatch_int8(t.dtype, [&](auto tag) { centered<decltype(tag)>(t, zp, out); });
}

// What QConv and QMatMul share: parameters read at creation, checks of the optional
// inputs per run, and the epilogue.
class Epilogue {
 public:
  static Result<Epilogue> create(const Graph& g, const Node& n) {
    Epilogue e;
    QD_ASSIGN_OR_RETURN(e.params_, parse_lowered_params(n));
    if (n.inputs.size() < 2 || n.outputs.size() != 1)
      return internal_error("{} takes x, w, [bias], [sum] and one output", n.op_type);
    const Value& y = g.value(n.outputs[0]);
    e.y_dtype_ = y.dtype;
    if (e.y_dtype_ != DType::u8 && e.y_dtype_ != DType::s8 && e.y_dtype_ != DType::s32 && e.y_dtype_ != DType::f32)
      return internal_error("output '{}' has dtype {}, must be u8, s8, s32 or f32", y.name, dtype_name(e.y_dtype_));
    if (e.y_dtype_ != DType::f32) {
      QD_ASSIGN_OR_RETURN(e.zp_y_, per_tensor_zero_point(g, n.outputs[0], "output"));
    }
    QD_ASSIGN_OR_RETURN(e.zp_x_, per_tensor_zero_point(g, n.inputs[0], "input"));
    const int sums = static_cast<int>(std::count_if(e.params_.post_ops.begin(), e.params_.post_ops.end(),
                                                    [](const PostOp& p) { return p.kind == PostOpKind::sum; }));
    if (sums > 1) return internal_error("more than one sum post-op");
    if ((sums == 1) != (n.input(3) != kNoValue)) return internal_error("a sum post-op needs input 3 and vice versa");
    return e;
  }

  // Checks bias/sum against the output and allocates it.
  Result<Tensor*> prepare(KernelContext& ctx, const Shape& y_shape, int64_t channels) {
    if (params_.output_scales.size() != 1 && static_cast<int64_t>(params_.output_scales.size()) != channels)
      return internal_error("{} output scales for {} output channels", params_.output_scales.size(), channels);
    bias_ = ctx.input(2);
    if (bias_ && ((bias_->dtype != DType::s32 && bias_->dtype != DType::f32) || bias_->numel() != channels))
      return internal_error("bias has dtype {} and shape {}; expected s32 or f32 with {} values",
                            dtype_name(bias_->dtype), shape_str(bias_->shape), channels);
    sum_ = ctx.input(3);
    if (sum_ && sum_->shape != y_shape)
      return internal_error("sum input has shape {}, the output {}", shape_str(sum_->shape), shape_str(y_shape));
    if (sum_ && sum_->dtype != DType::u8 && sum_->dtype != DType::s8 && sum_->dtype != DType::s32 &&
        sum_->dtype != DType::f32)
      return internal_error("sum input has dtype {}", dtype_name(sum_->dtype));
    QD_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate(0, y_dtype_, y_shape));
    y->quant = ctx.graph.value(ctx.node.outputs[0]).quant;
    y_ = y;
    return y;
  }

  // y[i] from the exact accumulator of output channel `oc`.
  void store(int64_t i, int64_t oc, int32_t acc) const {
    float v = static_cast<float>(acc);
    if (bias_) v += bias_->dtype == DType::s32 ? static_cast<float>(bias_->data<int32_t>()[oc]) : bias_->data<float>()[oc];
    v *= params_.output_scale(oc);
    const float sum_value = sum_ ? static_cast<float>(sum_->value_as_double(i)) : 0.f;  // exact for u8/s8/f32
    for (const PostOp& op : params_.post_ops) v = apply_post_op(op, v, sum_value);
    switch (y_dtype_) {
      case DType::f32: y_->data<float>()[i] = v; break;
      case DType::u8: y_->data<uint8_t>()[i] = intk::store<uint8_t>(v + static_cast<float>(zp_y_)); break;
      case DType::s8: y_->data<int8_t>()[i] = intk::store<int8_t>(v + static_cast<float>(zp_y_)); break;
      case DType::s32: y_->data<int32_t>()[i] = intk::store<int32_t>(v + static_cast<float>(zp_y_)); break;
      default: QD_ASSERT(false);
    }
  }

  int32_t zp_x() const { return zp_x_; }

 private:
  LoweredParams params_;
  DType y_dtype_ = DType::undefined;
  int32_t zp_x_ = 0;
  int32_t zp_y_ = 0;
  // Per run:
  const Tensor* bias_ = nullptr;
  const Tensor* sum_ = nullptr;
  Tensor* y_ = nullptr;
};

Status check_int8_inputs(const Tensor& x, const Tensor& w) {
  if (x.dtype != DType::u8 && x.dtype != DType::s8) return internal_error("x has dtype {}, must be u8 or s8", dtype_name(x.dtype));
  if (w.dtype != DType::u8 && w.dtype != DType::s8) return internal_error("w has dtype {}, must be u8 or s8", dtype_name(w.dtype));
  return Status::ok();
}

class QConvKernel final : public Kernel {
 public:
  static KernelPtr create(const Graph& g, const Node& n, const ExecOptions&) {
    auto k = std::unique_ptr<QConvKernel>(new QConvKernel());
    QD_ASSIGN_OR_RETURN(k->epilogue_, Epilogue::create(g, n));
    QD_ASSIGN_OR_RETURN(k->attrs_, parse_conv_attrs(n));
    k->w_ = n.inputs[1];
    return std::unique_ptr<Kernel>(std::move(k));
  }

  Status run(KernelContext& ctx) override {
    const Tensor& x = *ctx.input(0);
    const Tensor& w = *ctx.input(1);
    QD_RETURN_IF_ERROR(check_int8_inputs(x, w));
    QD_ASSIGN_OR_RETURN(ConvGeometry geo, conv_geometry(attrs_, x.shape, w.shape));
    if (geo.spatial_rank() > 3) return unsupported("QConv with {} spatial dimensions", geo.spatial_rank());
    QD_ASSIGN_OR_RETURN(std::vector<int32_t> zp_w, channel_zero_points(ctx.graph, w_, geo.out_channels));
    QD_ASSIGN_OR_RETURN(Tensor * y, epilogue_.prepare(ctx, geo.output_shape(), geo.out_channels));
    (void)y;

    // Centered operands: padding and (x - zp_x) = 0 are the same thing.
    centered_any(x, epilogue_.zp_x(), xc_);
    const int64_t w_per_oc = w.numel() / geo.out_channels;
    centered_any(w, 0, wc_);
    for (int64_t oc = 0; oc < geo.out_channels; ++oc)
      for (int64_t j = 0; j < w_per_oc; ++j) wc_[static_cast<size_t>(oc * w_per_oc + j)] -= zp_w[static_cast<size_t>(oc)];

    // Spatial dims padded to 3 (depth, height, width) with size-1 leading axes.
    const Conv3dShape g3 = conv_3d(geo);
    const auto &in = g3.in, &out = g3.out, &k = g3.k, &s = g3.s, &d = g3.d, &p = g3.p;
    const int64_t cg = geo.in_channels_per_group(), mg = geo.out_channels_per_group();
    const int64_t in_plane = in[0] * in[1] * in[2], out_plane = out[0] * out[1] * out[2];
    for (int64_t nb = 0; nb < geo.batch; ++nb)
      for (int64_t oc = 0; oc < geo.out_channels; ++oc) {
        const int64_t grp = oc / mg;
        const int32_t* wo = wc_.data() + oc * w_per_oc;
        for (int64_t oz = 0; oz < out[0]; ++oz)
          for (int64_t oy = 0; oy < out[1]; ++oy)
            for (int64_t ox = 0; ox < out[2]; ++ox) {
              int64_t acc = 0;  // exact; stored as int32 modulo 2^32 like oneDNN's accumulator
              for (int64_t ic = 0; ic < cg; ++ic) {
                const int32_t* xi = xc_.data() + (nb * geo.in_channels + grp * cg + ic) * in_plane;
                const int32_t* wi = wo + ic * k[0] * k[1] * k[2];
                for (int64_t kz = 0; kz < k[0]; ++kz) {
                  const int64_t iz = oz * s[0] - p[0] + kz * d[0];
                  if (iz < 0 || iz >= in[0]) continue;
                  for (int64_t ky = 0; ky < k[1]; ++ky) {
                    const int64_t iy = oy * s[1] - p[1] + ky * d[1];
                    if (iy < 0 || iy >= in[1]) continue;
                    for (int64_t kx = 0; kx < k[2]; ++kx) {
                      const int64_t ix = ox * s[2] - p[2] + kx * d[2];
                      if (ix < 0 || ix >= in[2]) continue;
                      acc += int64_t{xi[(iz * in[1] + iy) * in[2] + ix]} * wi[(kz * k[1] + ky) * k[2] + kx];
                    }
                  }
                }
              }
              const int64_t i = (nb * geo.out_channels + oc) * out_plane + (oz * out[1] + oy) * out[2] + ox;
              epilogue_.store(i, oc, static_cast<int32_t>(acc));
            }
      }
    return Status::ok();
  }

 private:
  QConvKernel() = default;
  Epilogue epilogue_;
  ConvAttrs attrs_;
  ValueId w_ = kNoValue;
  std::vector<int32_t> xc_, wc_;  // scratch reused across runs
};

class QMatMulKernel final : public Kernel {
 public:
  static KernelPtr create(const Graph& g, const Node& n, const ExecOptions&) {
    auto k = std::unique_ptr<QMatMulKernel>(new QMatMulKernel());
    QD_ASSIGN_OR_RETURN(k->epilogue_, Epilogue::create(g, n));
    k->w_ = n.inputs[1];
    return std::unique_ptr<Kernel>(std::move(k));
  }

  Status run(KernelContext& ctx) override {
    const Tensor& x = *ctx.input(0);
    const Tensor& w = *ctx.input(1);
    QD_RETURN_IF_ERROR(check_int8_inputs(x, w));
    if (x.rank() < 2 || w.rank() != 2 || x.shape.back() != w.shape[0])
      return internal_error("QMatMul shapes {} x {}: need x [..., M, K] and w [K, N]", shape_str(x.shape), shape_str(w.shape));
    const int64_t kk = w.shape[0], nn = w.shape[1], rows = x.numel() / kk;
    Shape y_shape = x.shape;
    y_shape.back() = nn;
    QD_ASSIGN_OR_RETURN(std::vector<int32_t> zp_w, channel_zero_points(ctx.graph, w_, nn));
    QD_ASSIGN_OR_RETURN(Tensor * y, epilogue_.prepare(ctx, y_shape, nn));
    (void)y;
    centered_any(x, epilogue_.zp_x(), xc_);
    centered_any(w, 0, wc_);
    for (int64_t k = 0; k < kk; ++k)
      for (int64_t c = 0; c < nn; ++c) wc_[static_cast<size_t>(k * nn + c)] -= zp_w[static_cast<size_t>(c)];
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < nn; ++c) {
        int64_t acc = 0;
        for (int64_t k = 0; k < kk; ++k) acc += int64_t{xc_[static_cast<size_t>(r * kk + k)]} * wc_[static_cast<size_t>(k * nn + c)];
        epilogue_.store(r * nn + c, c, static_cast<int32_t>(acc));
      }
    return Status::ok();
  }

 private:
  QMatMulKernel() = default;
  Epilogue epilogue_;
  ValueId w_ = kNoValue;
  std::vector<int32_t> xc_, wc_;
};

}  // namespace

Result<std::unique_ptr<Kernel>> create_qconv_simple(const Graph& g, const Node& n, const ExecOptions& options) {
  return QConvKernel::create(g, n, options);
}
Result<std::unique_ptr<Kernel>> create_qmatmul_simple(const Graph& g, const Node& n, const ExecOptions& options) {
  return QMatMulKernel::create(g, n, options);
}

}  // namespace qdrift::intk
