// contrib.cpp: reference kernels of the ops ONNX Runtime's CPU optimizer writes into the
// graphs it saves (SessionOptions.optimizedModelFilePath): com.microsoft QLinearAveragePool, QLinearConcat, QLinearSigmoid, QLinearLeakyRelu, QLinearSoftmax,
// NhwcMaxPool, FusedConv, FusedGemm, MatMulIntegerToFloat, ONNX's DynamicQuantizeLinear,
// and the com.microsoft.nchwc ops (QLinearConv with channels_last, QLinearAdd, QLinearMul,
// QGemm and QLinearGlobalAveragePool live in integer.cpp).
//
// Each follows ORT 1.30's CPU kernel (contrib_ops/cpu/..., core/mlas), noted at each kernel,
// in the reference's plain style: where ORT's arithmetic is exact integer or a written f32
// order, the same order is used here; where ORT uses an approximation (MLAS's logistic and
// tanh polynomials), the reference computes the exact function and docs/foreign_ops.md
// states the tolerance. Attributes have no schema in libonnx: every read is type-checked.
#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "core/op_attrs.h"
#include "core/quant_math.h"
#include "kernels/ref/layout.h"
#include "kernels/ref/nn_common.h"
#include "kernels/ref/qlinear_common.h"
#include "kernels/ref/ref_kernels.h"
#include "kernels/ref/ref_ops.h"

namespace qdrift::ref {

namespace {

// The reference kernel of another op for the same node (its attributes are read as that op's).
Result<std::unique_ptr<Kernel>> create_as(OpKind kind, const Graph& graph, const Node& node,
                                          const ExecOptions& options) {
  KernelFactory f = ref_kernel_table().factories[static_cast<size_t>(kind)];
  QD_ASSERT(f != nullptr);
  return f(graph, node, options);
}

// One u8/s8 scale and zero point (per tensor), as ORT's lookup-table kernels require.
struct Grid {
  float scale = 1.0f;
  int32_t zero_point = 0;
};
Result<Grid> read_grid(const KernelContext& ctx, size_t scale_index, size_t zp_index, std::string_view scale_name,
                       std::string_view zp_name, DType type) {
  QD_ASSIGN_OR_RETURN(std::vector<float> s, read_scales(optional_input(ctx, scale_index), scale_name));
  QD_ASSIGN_OR_RETURN(std::vector<int32_t> z, read_zero_points(optional_input(ctx, zp_index), zp_name, type));
  return Grid{s[0], z[0]};
}

// MlasQuantizeLinear: saturate(round_half_even(x / scale) + zero_point), as ONNX.
int32_t mlas_quantize(float x, float scale, int32_t zero_point, QuantGrid grid) {
  return quantize_value(x, scale, zero_point, grid, Rounding::half_even);
}

// ---- fused float activations (FusedConv, FusedGemm) -----------------------------------------

// ORT's fused activations (core/mlas MLAS_ACTIVATION, contrib_ops/cpu/fused_activation.cc).
struct Activation {
  enum class Kind { none, relu, tanh, sigmoid, leaky_relu, clip, hard_sigmoid } kind = Kind::none;
  float alpha = 0.0f;  // LeakyRelu alpha; Clip min; HardSigmoid alpha
  float beta = 0.0f;   // Clip max; HardSigmoid beta

  float apply(float v) const {
    switch (kind) {
      case Kind::none: return v;
      case Kind::relu: return v > 0.0f ? v : 0.0f;
      case Kind::tanh: return std::tanh(v);
      case Kind::sigmoid: return 1.0f / (1.0f + std::exp(-v));
      case Kind::leaky_relu: return v >= 0.0f ? v : alpha * v;
      case Kind::clip: return std::min(std::max(v, alpha), beta);
      case Kind::hard_sigmoid: return std::min(std::max(alpha * v + beta, 0.0f), 1.0f);
    }
    return v;
  }
};

// `activation` with its parameters: FusedConv gives them as activation_params (floats),
// FusedGemm as activation_alpha / activation_beta.
Result<Activation> parse_activation(const Node& node) {
  QD_ASSIGN_OR_RETURN(std::string name, checked_attr_string(node, "activation", ""));
  std::vector<float> params;
  if (auto it = node.attrs.find("activation_params"); it != node.attrs.end()) {
    const auto* v = std::get_if<std::vector<float>>(&it->second);
    if (!v) return invalid_input("attribute activation_params must be a list of floats");
    params = *v;
  } else {
    QD_ASSIGN_OR_RETURN(float a, checked_attr_float(node, "activation_alpha", std::numeric_limits<float>::quiet_NaN()));
    QD_ASSIGN_OR_RETURN(float b, checked_attr_float(node, "activation_beta", std::numeric_limits<float>::quiet_NaN()));
    if (!std::isnan(a)) params.push_back(a);
    if (!std::isnan(b)) params.push_back(b);
  }
  Activation act;
  auto need = [&](size_t n) -> Status {
    if (params.size() < n)
      return invalid_input("activation {} needs {} parameter(s), the node gives {}", name, n, params.size());
    return Status::ok();
  };
  if (name.empty()) {
    act.kind = Activation::Kind::none;
  } else if (name == "Relu") {
    act.kind = Activation::Kind::relu;
  } else if (name == "Tanh") {
    act.kind = Activation::Kind::tanh;
  } else if (name == "Sigmoid") {
    act.kind = Activation::Kind::sigmoid;
  } else if (name == "LeakyRelu") {
    act.kind = Activation::Kind::leaky_relu;
    act.alpha = params.empty() ? 0.01f : params[0];
  } else if (name == "Clip") {
    QD_RETURN_IF_ERROR(need(2));
    act.kind = Activation::Kind::clip;
    act.alpha = params[0];
    act.beta = params[1];
  } else if (name == "HardSigmoid") {
    act.kind = Activation::Kind::hard_sigmoid;
    act.alpha = params.size() > 0 ? params[0] : 0.2f;
    act.beta = params.size() > 1 ? params[1] : 0.5f;
  } else {
    return unsupported("fused activation '{}' (the reference knows Relu, Tanh, Sigmoid, LeakyRelu, Clip, HardSigmoid)",
                       name);
  }
  return act;
}

// FusedConv (ORT contrib_ops/cpu/fused_conv.cc, MLAS MlasConv): Y = activation(Conv(X, W,
// B) + Z), Z the optional fourth input of Y's shape (a residual added before the
// activation). FusedGemm (fused_gemm.cc): Y = activation(Gemm(A, B, C)).
template <OpKind kInner, size_t kSumInput>
class FusedKernel final : public Kernel {
 public:
  static Result<std::unique_ptr<Kernel>> create(const Graph& graph, const Node& node, const ExecOptions& options) {
    auto k = std::unique_ptr<FusedKernel>(new FusedKernel());
    QD_ASSIGN_OR_RETURN(k->act_, parse_activation(node));
    QD_ASSIGN_OR_RETURN(k->inner_, create_as(kInner, graph, node, options));
    return std::unique_ptr<Kernel>(std::move(k));
  }

  Status run(KernelContext& ctx) override {
    QD_RETURN_IF_ERROR(inner_->run(ctx));
    Tensor& y = ctx.outputs[0];
    float* yp = y.data<float>();
    const Tensor* z = kSumInput > 0 ? optional_input(ctx, kSumInput) : nullptr;
    if (z) {
      QD_RETURN_IF_ERROR(expect_dtype(*z, DType::f32, "Z"));
      if (z->shape != y.shape)
        return invalid_input("input 'Z' has shape {}; it must be the output's {}", shape_str(z->shape),
                             shape_str(y.shape));
      const float* zp = z->data<float>();
      for (int64_t i = 0; i < y.numel(); ++i) yp[i] += zp[i];
    }
    for (int64_t i = 0; i < y.numel(); ++i) yp[i] = act_.apply(yp[i]);
    return Status::ok();
  }

 private:
  FusedKernel() = default;
  Activation act_;
  std::unique_ptr<Kernel> inner_;
};

// ---- NHWC pooling ---------------------------------------------------------------------------

// NhwcMaxPool (ORT contrib_ops/cpu/quantization/nhwc_max_pool.cc): MaxPool on u8/s8 codes
// of an [N, D1..Dk, C] tensor; the same attributes as MaxPool.
Result<std::unique_ptr<Kernel>> create_nhwc_max_pool(const Graph& graph, const Node& node, const ExecOptions& options) {
  QD_ASSIGN_OR_RETURN(std::unique_ptr<Kernel> nchw, create_as(OpKind::MaxPool, graph, node, options));
  return std::unique_ptr<Kernel>(new ChannelsLastKernel(std::move(nchw), {0}));
}

// QLinearAveragePool (ORT qlinear_pool.cc): each code dequantized in f32
// (x_scale * (x - x_zp)); per output, the window [o*stride - pad_begin, +kernel) clipped
// to the input, its values summed in f32 (outer spatial axis first), divided by the
// element count (the whole kernel with count_include_pad, else the clipped window), and
// quantized as ORT writes it: saturate(nearbyintf(y / y_scale + y_zp)), the zero point
// added before rounding. channels_last = 1: X is [N, D1..Dk, C]. 1 to 3 spatial axes.
class QLinearAveragePoolKernel final : public Kernel {
 public:
  static Result<std::unique_ptr<Kernel>> create(const Graph&, const Node& node, const ExecOptions&) {
    auto k = std::unique_ptr<QLinearAveragePoolKernel>(new QLinearAveragePoolKernel());
    QD_ASSIGN_OR_RETURN(k->attrs_, parse_pool_attrs(node, PoolKind::average));
    QD_ASSIGN_OR_RETURN(int64_t channels_last, checked_attr_int(node, "channels_last", 0));
    k->channels_last_ = channels_last != 0;
    return std::unique_ptr<Kernel>(std::move(k));
  }

  Status run(KernelContext& ctx) override {
    QD_ASSIGN_OR_RETURN(const Tensor* x, required_input(ctx, 0, "X"));
    QD_RETURN_IF_ERROR(expect_int8(*x, "X"));
    if (x->rank() < 3 || x->rank() > 5)
      return invalid_input("input 'X' has shape {}: expected 1 to 3 spatial axes", shape_str(x->shape));
    QD_ASSIGN_OR_RETURN(Grid x_grid, read_grid(ctx, 1, 2, "x_scale", "x_zero_point", x->dtype));
    QD_ASSIGN_OR_RETURN(Grid out, read_grid(ctx, 3, 4, "y_scale", "y_zero_point", x->dtype));
    const Tensor xn = channels_last_ ? nhwc_to_nchw(*x) : *x;
    QD_ASSIGN_OR_RETURN(PoolGeometry g, pool_geometry(attrs_, xn.shape));
    // Spatial axes padded to three (leading axes of size 1).
    const int r = g.spatial_rank();
    int64_t in[3] = {1, 1, 1}, outd[3] = {1, 1, 1}, k[3] = {1, 1, 1}, st[3] = {1, 1, 1}, pad[3] = {0, 0, 0};
    for (int i = 0; i < r; ++i) {
      in[3 - r + i] = g.in_spatial[i];
      outd[3 - r + i] = g.out_spatial[i];
      k[3 - r + i] = g.kernel[i];
      st[3 - r + i] = g.strides[i];
      pad[3 - r + i] = g.pads_begin[i];
    }
    Tensor y = Tensor::uninitialized(x->dtype, g.output_shape());
    const QuantGrid grid = quant_grid(x->dtype, QuantRange::full);
    const int64_t in_plane = in[0] * in[1] * in[2], out_plane = outd[0] * outd[1] * outd[2];
    for (int64_t p = 0; p < g.batch * g.channels; ++p)
      for (int64_t o = 0; o < out_plane; ++o) {
        int64_t lo[3], hi[3], idx[3] = {o / (outd[1] * outd[2]), (o / outd[2]) % outd[1], o % outd[2]};
        for (int a = 0; a < 3; ++a) {
          lo[a] = idx[a] * st[a] - pad[a];
          hi[a] = std::min(lo[a] + k[a], in[a]);
          lo[a] = std::max<int64_t>(lo[a], 0);
        }
        float sum = 0.0f;
        for (int64_t d = lo[0]; d < hi[0]; ++d)
          for (int64_t h = lo[1]; h < hi[1]; ++h)
            for (int64_t w = lo[2]; w < hi[2]; ++w)
              sum += x_grid.scale *
                     static_cast<float>(int8_value(xn, p * in_plane + (d * in[1] + h) * in[2] + w) - x_grid.zero_point);
        const int64_t count = g.count_include_pad ? k[0] * k[1] * k[2]
                                                  : (hi[0] - lo[0]) * (hi[1] - lo[1]) * (hi[2] - lo[2]);
        const float avg = count > 0 ? sum / static_cast<float>(count) : 0.0f;
        const float q = std::nearbyint(avg / out.scale + static_cast<float>(out.zero_point));
        store_int8(y, p * out_plane + o, saturate_rounded(q, grid));
      }
    if (channels_last_) y = nchw_to_nhwc(y);
    QD_ASSIGN_OR_RETURN(Tensor * yt, ctx.allocate(0, x->dtype, y.shape));
    *yt = std::move(y);
    return Status::ok();
  }

 private:
  QLinearAveragePoolKernel() = default;
  PoolAttrs attrs_;
  bool channels_last_ = false;
};

// ---- element-wise -----------------------------------------------------------------------------

// QLinearSigmoid and QLinearLeakyRelu (ORT qlinear_activations.cc, qlinear_lookup_table.cc):
// a 256-entry table, entry q = MlasQuantizeLinear(f(x_scale * (q - x_zp)), y_scale, y_zp);
// the output is table[x]. ORT's sigmoid is MLAS's logistic polynomial; the reference
// takes 1 / (1 + exp(-v)), so entries whose value lies at a rounding boundary may differ
// by one code (docs/foreign_ops.md).
template <bool kSigmoid>
class QLinearLookupKernel final : public Kernel {
 public:
  static Result<std::unique_ptr<Kernel>> create(const Graph&, const Node& node, const ExecOptions&) {
    auto k = std::unique_ptr<QLinearLookupKernel>(new QLinearLookupKernel());
    if (!kSigmoid) {
      QD_ASSIGN_OR_RETURN(k->alpha_, checked_attr_float(node, "alpha", 0.01f));
    }
    return std::unique_ptr<Kernel>(std::move(k));
  }

  Status run(KernelContext& ctx) override {
    QD_ASSIGN_OR_RETURN(const Tensor* x, required_input(ctx, 0, "X"));
    QD_RETURN_IF_ERROR(expect_int8(*x, "X"));
    QD_ASSIGN_OR_RETURN(Grid in, read_grid(ctx, 1, 2, "X_scale", "X_zero_point", x->dtype));
    QD_ASSIGN_OR_RETURN(Grid out, read_grid(ctx, 3, 4, "Y_scale", "Y_zero_point", x->dtype));
    const QuantGrid grid = quant_grid(x->dtype, QuantRange::full);
    int32_t table[256];
    for (int32_t q = grid.qmin; q <= grid.qmax; ++q) {
      const float v = in.scale * static_cast<float>(q - in.zero_point);
      const float fv = kSigmoid ? 1.0f / (1.0f + std::exp(-v)) : (v >= 0.0f ? v : alpha_ * v);
      table[q - grid.qmin] = mlas_quantize(fv, out.scale, out.zero_point, grid);
    }
    QD_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate(0, x->dtype, x->shape));
    for (int64_t i = 0; i < x->numel(); ++i) store_int8(*y, i, table[int8_value(*x, i) - grid.qmin]);
    return Status::ok();
  }

 private:
  QLinearLookupKernel() = default;
  float alpha_ = 0.01f;
};

// QLinearConcat (ORT qlinear_concat.cc): inputs Y_scale, Y_zero_point, then one (X_i,
// X_scale_i, X_zero_point_i) triple per input; each code is requantized as
// MlasQuantizeLinear(X_scale_i * (x - X_zp_i), Y_scale, Y_zp) (copied when its scale and
// zero point equal Y's), then concatenated along `axis` as Concat does.
class QLinearConcatKernel final : public Kernel {
 public:
  static Result<std::unique_ptr<Kernel>> create(const Graph& graph, const Node& node, const ExecOptions& options) {
    if (node.inputs.size() < 5 || (node.inputs.size() - 2) % 3 != 0)
      return invalid_input("QLinearConcat takes Y_scale, Y_zero_point and (X, X_scale, X_zero_point) triples; the node "
                           "has {} inputs",
                           node.inputs.size());
    auto k = std::unique_ptr<QLinearConcatKernel>(new QLinearConcatKernel());
    QD_ASSIGN_OR_RETURN(k->concat_, create_as(OpKind::Concat, graph, node, options));
    return std::unique_ptr<Kernel>(std::move(k));
  }

  Status run(KernelContext& ctx) override {
    const Tensor* y_zp_t = optional_input(ctx, 1);
    if (!y_zp_t) return invalid_input("required input 1 'Y_zero_point' is missing");
    QD_RETURN_IF_ERROR(expect_int8(*y_zp_t, "Y_zero_point"));
    const DType type = y_zp_t->dtype;
    QD_ASSIGN_OR_RETURN(Grid out, read_grid(ctx, 0, 1, "Y_scale", "Y_zero_point", type));
    const QuantGrid grid = quant_grid(type, QuantRange::full);
    const size_t count = (ctx.inputs.size() - 2) / 3;
    std::vector<Tensor> requantized(count);
    std::vector<const Tensor*> parts(count);
    for (size_t i = 0; i < count; ++i) {
      const size_t at_i = 2 + 3 * i;
      QD_ASSIGN_OR_RETURN(const Tensor* x, required_input(ctx, at_i, "X"));
      if (x->dtype != type)
        return invalid_input("input {} has dtype {}; QLinearConcat's inputs take Y_zero_point's dtype {}", at_i,
                             dtype_name(x->dtype), dtype_name(type));
      QD_ASSIGN_OR_RETURN(Grid in, read_grid(ctx, at_i + 1, at_i + 2, "X_scale", "X_zero_point", type));
      requantized[i] = Tensor::uninitialized(type, x->shape);
      for (int64_t e = 0; e < x->numel(); ++e) {
        const int32_t q = int8_value(*x, e);
        const bool copy = in.scale == out.scale && in.zero_point == out.zero_point;
        store_int8(requantized[i], e,
                   copy ? q : mlas_quantize(in.scale * static_cast<float>(q - in.zero_point), out.scale, out.zero_point, grid));
      }
      parts[i] = &requantized[i];
    }
    KernelContext concat_ctx{ctx.graph, ctx.node, ctx.options, parts, ctx.outputs};
    return concat_->run(concat_ctx);
  }

 private:
  QLinearConcatKernel() = default;
  std::unique_ptr<Kernel> concat_;
};

// QLinearSoftmax (ORT qlinear_softmax.cc), attributes opset (required) and axis (default 1
// before opset 13, -1 from 13). D = the reduced size: opset < 13 the product of the dims
// from axis on (rows of the 2-D coerced input), opset 13 the axis alone. With f32 t[i] =
// float(exp((double(i) - 255 + shift) * double(x_scale))), i in 0..255, where shift =
// max(0, ln(FLT_MAX / D) - 5) / x_scale, every row is
//   e(x) = t[255 - (xmax - x)]   (xmax the row's largest code)
//   sum  = f32 sum of e(x) in order
//   y    = min(nearbyintf((e(x) * floor(1 / y_scale)) / sum) + y_zp, qmax)
// (ORT 1.30 caps at the type's largest code only; y >= y_zp holds by construction.)
class QLinearSoftmaxKernel final : public Kernel {
 public:
  static Result<std::unique_ptr<Kernel>> create(const Graph&, const Node& node, const ExecOptions&) {
    auto k = std::unique_ptr<QLinearSoftmaxKernel>(new QLinearSoftmaxKernel());
    if (!node.attrs.count("opset")) return invalid_input("attribute 'opset' is required");
    QD_ASSIGN_OR_RETURN(k->opset_, checked_attr_int(node, "opset", 0));
    QD_ASSIGN_OR_RETURN(k->axis_, checked_attr_int(node, "axis", k->opset_ < 13 ? 1 : -1));
    return std::unique_ptr<Kernel>(std::move(k));
  }

  Status run(KernelContext& ctx) override {
    QD_ASSIGN_OR_RETURN(const Tensor* x, required_input(ctx, 0, "X"));
    QD_RETURN_IF_ERROR(expect_int8(*x, "X"));
    if (x->rank() == 0) return invalid_input("input 'X' is a scalar: softmax needs an axis");
    QD_ASSIGN_OR_RETURN(const int64_t axis, normalize_axis(axis_, x->rank(), "axis"));
    QD_ASSIGN_OR_RETURN(Grid in, read_grid(ctx, 1, 2, "X_scale", "X_zero_point", x->dtype));
    QD_ASSIGN_OR_RETURN(Grid out, read_grid(ctx, 3, 4, "Y_scale", "Y_zero_point", x->dtype));
    QD_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate(0, x->dtype, x->shape));
    if (x->numel() == 0) return Status::ok();
    // Rows: [outer, d, inner] with the reduced elements at stride `inner`.
    int64_t outer = 1, d = 1, inner = 1;
    for (int64_t i = 0; i < x->rank(); ++i) {
      const int64_t dim = x->shape[static_cast<size_t>(i)];
      if (i < axis) outer *= dim;
      else if (i == axis || opset_ < 13) d *= dim;
      else inner *= dim;
    }
    const double shift =
        std::max(0.0, std::log(static_cast<double>(std::numeric_limits<float>::max()) / static_cast<double>(d)) - 5.0) /
        static_cast<double>(in.scale);
    float table[256];
    for (int i = 0; i < 256; ++i)
      table[i] = static_cast<float>(std::exp((static_cast<double>(i) - 255 + shift) * static_cast<double>(in.scale)));
    const float y_scale_inv = std::floor(1.0f / out.scale);
    const QuantGrid grid = quant_grid(x->dtype, QuantRange::full);
    std::vector<float> e(static_cast<size_t>(d));
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t r = 0; r < inner; ++r) {
        const int64_t base = o * d * inner + r;
        int32_t xmax = std::numeric_limits<int32_t>::min();
        for (int64_t j = 0; j < d; ++j) xmax = std::max(xmax, int8_value(*x, base + j * inner));
        float sum = 0.0f;
        for (int64_t j = 0; j < d; ++j) {
          e[static_cast<size_t>(j)] = table[255 - (xmax - int8_value(*x, base + j * inner))];
          sum += e[static_cast<size_t>(j)];
        }
        if (sum == 0.0f) continue;  // ORT leaves such a row unwritten; the reference writes zeros
        for (int64_t j = 0; j < d; ++j) {
          const int32_t q =
              static_cast<int32_t>(std::nearbyint((e[static_cast<size_t>(j)] * y_scale_inv) / sum)) + out.zero_point;
          const int64_t at = base + j * inner;
          store_int8(*y, at, std::min(q, grid.qmax));
        }
      }
    return Status::ok();
  }

 private:
  QLinearSoftmaxKernel() = default;
  int64_t opset_ = 13;
  int64_t axis_ = -1;
};

// ---- dynamic quantization -------------------------------------------------------------------

// DynamicQuantizeLinear (ONNX opset 11; ORT core/providers/cpu/quantization/
// dynamicquantizelinear.cc): u8 with
//   min = min(0, min(x)), max = max(0, max(x)), scale = (max - min) / 255 (f32; 1 when 0)
//   zero_point = saturate(round_half_even(0 - min / scale)), y = saturate(round(x / scale) + zp)
// Outputs y, y_scale (f32 scalar), y_zero_point (u8 scalar).
Status dynamic_quantize_linear_run(KernelContext& ctx) {
  QD_ASSIGN_OR_RETURN(const Tensor* x, required_input(ctx, 0, "x"));
  QD_RETURN_IF_ERROR(expect_dtype(*x, DType::f32, "x"));
  float lo = 0.0f, hi = 0.0f;
  for (float v : x->values<float>()) {
    if (std::isnan(v)) return invalid_input("input 'x' holds NaN: DynamicQuantizeLinear has no range for it");
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  float scale = (hi - lo) / 255.0f;
  if (scale == 0.0f) scale = 1.0f;
  if (!std::isfinite(scale)) return invalid_input("input 'x' spans an infinite range: no u8 scale for it");
  const QuantGrid grid = quant_grid(DType::u8, QuantRange::full);
  const int32_t zp = saturate_rounded(std::nearbyint(0.0f - lo / scale), grid);
  QD_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate(0, DType::u8, x->shape));
  for (int64_t i = 0; i < x->numel(); ++i)
    y->data<uint8_t>()[i] = static_cast<uint8_t>(mlas_quantize(x->data<float>()[i], scale, zp, grid));
  if (output_requested(ctx, 1)) {
    QD_ASSIGN_OR_RETURN(Tensor * s, ctx.allocate(1, DType::f32, {}));
    s->data<float>()[0] = scale;
  }
  if (output_requested(ctx, 2)) {
    QD_ASSIGN_OR_RETURN(Tensor * z, ctx.allocate(2, DType::u8, {}));
    z->data<uint8_t>()[0] = static_cast<uint8_t>(zp);
  }
  return Status::ok();
}

// MatMulIntegerToFloat (ORT contrib_ops/cpu/quantization/matmul_integer_to_float.cc):
// inputs A, B, a_scale, b_scale, a_zero_point, b_zero_point, bias:
//   Y = float(int32 matmul of (A - a_zp)(B - b_zp[n])) * (a_scale * b_scale[n]) + bias[n]
// a's scale and zero point per tensor; b's per tensor or per column (N); the scale
// product in f32; bias f32 [N].
Status matmul_integer_to_float_run(KernelContext& ctx) {
  QD_ASSIGN_OR_RETURN(const Tensor* a, required_input(ctx, 0, "A"));
  QD_ASSIGN_OR_RETURN(const Tensor* b, required_input(ctx, 1, "B"));
  QD_RETURN_IF_ERROR(expect_int8(*a, "A"));
  QD_RETURN_IF_ERROR(expect_int8(*b, "B"));
  QD_ASSIGN_OR_RETURN(MatMulShape s, matmul_shape(a->shape, b->shape, "A", "B"));
  QD_ASSIGN_OR_RETURN(std::vector<float> a_scale, read_scales(optional_input(ctx, 2), "a_scale"));
  QD_ASSIGN_OR_RETURN(std::vector<float> b_scale, read_scales(optional_input(ctx, 3), "b_scale", s.n, "one per column of B"));
  QD_ASSIGN_OR_RETURN(std::vector<int32_t> a_zp, read_zero_points(optional_input(ctx, 4), "a_zero_point", a->dtype));
  QD_ASSIGN_OR_RETURN(std::vector<int32_t> b_zp,
                      read_zero_points(optional_input(ctx, 5), "b_zero_point", b->dtype, s.n, "one per column of B"));
  const Tensor* bias = optional_input(ctx, 6);
  if (bias) {
    QD_RETURN_IF_ERROR(expect_dtype(*bias, DType::f32, "bias"));
    if (bias->numel() != s.n || bias->rank() != 1)
      return invalid_input("input 'bias' has shape {}: expected [{}]", shape_str(bias->shape), s.n);
  }
  QD_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate(0, DType::f32, s.out));
  const int64_t n_count = s.n;
  const std::vector<int32_t> ac = centered(*a, [&](int64_t) { return a_zp[0]; });
  const std::vector<int32_t> bc = centered(*b, [&](int64_t e) { return at(b_zp, e % n_count); });
  float* yp = y->data<float>();
  const int64_t rows = s.batch * s.m;
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t bi = r / s.m, mi = r % s.m;
    std::vector<uint32_t> acc(static_cast<size_t>(n_count), 0u);
    matmul_row_accumulate<int32_t, uint32_t>(ac.data() + (s.a_batch_offset[static_cast<size_t>(bi)] * s.m + mi) * s.k,
                                             bc.data() + s.b_batch_offset[static_cast<size_t>(bi)] * s.k * n_count, s.k,
                                             n_count, acc.data());
    for (int64_t n = 0; n < n_count; ++n) {
      const float scale = a_scale[0] * at(b_scale, n);
      float v = static_cast<float>(static_cast<int32_t>(acc[static_cast<size_t>(n)])) * scale;
      if (bias) v += bias->data<float>()[n];
      yp[r * n_count + n] = v;
    }
  }
  return Status::ok();
}

// ---- com.microsoft.nchwc ------------------------------------------------------------------------

// ORT's NCHWc block size is MlasNchwcGetBlockSize() of the machine that saved the graph
// (16 with AVX-512, 8 with AVX2); the graph does not record it. Every padded channel count
// (the reordered filters' output dims) is a multiple of it: 16 unless one is not.
int64_t nchwc_block_size(const Graph& graph) {
  for (const Node& n : graph.nodes) {
    if (n.kind != OpKind::NchwcConv || n.inputs.size() < 2) continue;
    const Value& w = graph.value(n.inputs[1]);
    if (w.has_shape && !w.shape.empty() && w.shape[0] > 0 && w.shape[0] % 16 != 0) return 8;
  }
  return 16;
}

Status expect_nchwc(const Tensor& t, int64_t block, std::string_view name) {
  QD_RETURN_IF_ERROR(expect_dtype(t, DType::f32, name));
  if (t.rank() != 4 || t.shape[1] % block != 0)
    return invalid_input("input '{}' has shape {}: an NCHWc tensor is [N, C, H, W] with C a multiple of the block {}",
                         name, shape_str(t.shape), block);
  return Status::ok();
}

// ReorderInput (attribute channels_last): NCHW (or NHWC) f32 -> NCHWc, channels padded with
// zeros to the block.
class NchwcReorderInputKernel final : public Kernel {
 public:
  static Result<std::unique_ptr<Kernel>> create(const Graph& graph, const Node& node, const ExecOptions&) {
    auto k = std::unique_ptr<NchwcReorderInputKernel>(new NchwcReorderInputKernel());
    QD_ASSIGN_OR_RETURN(int64_t channels_last, checked_attr_int(node, "channels_last", 0));
    k->channels_last_ = channels_last != 0;
    k->block_ = nchwc_block_size(graph);
    return std::unique_ptr<Kernel>(std::move(k));
  }
  Status run(KernelContext& ctx) override {
    QD_ASSIGN_OR_RETURN(const Tensor* x, required_input(ctx, 0, "X"));
    QD_RETURN_IF_ERROR(expect_dtype(*x, DType::f32, "X"));
    if (x->rank() != 4) return invalid_input("input 'X' has shape {}: ReorderInput takes rank 4", shape_str(x->shape));
    Tensor y = nchw_to_nchwc(channels_last_ ? nhwc_to_nchw(*x) : *x, block_);
    QD_ASSIGN_OR_RETURN(Tensor * out, ctx.allocate(0, DType::f32, y.shape));
    *out = std::move(y);
    return Status::ok();
  }

 private:
  NchwcReorderInputKernel() = default;
  bool channels_last_ = false;
  int64_t block_ = 16;
};

// ReorderOutput (attributes channels, channels_last): NCHWc -> the first `channels`
// channels as NCHW (or NHWC).
class NchwcReorderOutputKernel final : public Kernel {
 public:
  static Result<std::unique_ptr<Kernel>> create(const Graph& graph, const Node& node, const ExecOptions&) {
    auto k = std::unique_ptr<NchwcReorderOutputKernel>(new NchwcReorderOutputKernel());
    QD_ASSIGN_OR_RETURN(int64_t channels_last, checked_attr_int(node, "channels_last", 0));
    QD_ASSIGN_OR_RETURN(k->channels_, checked_attr_int(node, "channels", 0));
    if (k->channels_ <= 0) return invalid_input("attribute 'channels' must be given and positive");
    k->channels_last_ = channels_last != 0;
    k->block_ = nchwc_block_size(graph);
    return std::unique_ptr<Kernel>(std::move(k));
  }
  Status run(KernelContext& ctx) override {
    QD_ASSIGN_OR_RETURN(const Tensor* x, required_input(ctx, 0, "X"));
    QD_RETURN_IF_ERROR(expect_nchwc(*x, block_, "X"));
    if (channels_ > x->shape[1] || x->shape[1] - channels_ >= block_)
      return invalid_input("attribute channels = {} does not fit the input's {} block-padded channels", channels_,
                           x->shape[1]);
    Tensor y = nchwc_to_nchw(*x, block_, channels_);
    if (channels_last_) y = nchw_to_nhwc(y);
    QD_ASSIGN_OR_RETURN(Tensor * out, ctx.allocate(0, DType::f32, y.shape));
    *out = std::move(y);
    return Status::ok();
  }

 private:
  NchwcReorderOutputKernel() = default;
  bool channels_last_ = false;
  int64_t channels_ = 0;
  int64_t block_ = 16;
};

// nchwc Conv (ORT nchwc_ops.cc, MLAS MlasNchwcConv): Y = activation(Conv(X, W, B) + Sum) in
// NCHWc. X is NCHW when it has fewer channels than the block, else NCHWc. W is the filter
// ORT's NchwcTransformer reordered, [Op, Ig, kh, kw] with Op the output channels padded to
// the block: OIHWBo ([Op/b][Ig][kh][kw][b]) for an NCHW input or a depthwise conv, else
// OIHWBiBo ([Op/b][Ig/b][kh][kw][b_in][b_out]). B is [Op]. The reference undoes the
// reorders and runs the plain Conv.
class NchwcConvKernel final : public Kernel {
 public:
  static Result<std::unique_ptr<Kernel>> create(const Graph& graph, const Node& node, const ExecOptions& options) {
    auto k = std::unique_ptr<NchwcConvKernel>(new NchwcConvKernel());
    QD_ASSIGN_OR_RETURN(k->act_, parse_activation(node));
    QD_ASSIGN_OR_RETURN(k->attrs_, parse_conv_attrs(node));
    (void)options;
    k->block_ = nchwc_block_size(graph);
    return std::unique_ptr<Kernel>(std::move(k));
  }

  Status run(KernelContext& ctx) override {
    QD_ASSIGN_OR_RETURN(const Tensor* x, required_input(ctx, 0, "X"));
    QD_ASSIGN_OR_RETURN(const Tensor* w, required_input(ctx, 1, "W"));
    QD_RETURN_IF_ERROR(expect_dtype(*x, DType::f32, "X"));
    QD_RETURN_IF_ERROR(expect_dtype(*w, DType::f32, "W"));
    const int64_t b = block_;
    if (x->rank() != 4 || w->rank() != 4)
      return invalid_input("inputs 'X' {} and 'W' {}: nchwc Conv takes rank 4", shape_str(x->shape), shape_str(w->shape));
    const bool nchw_input = x->shape[1] < b;
    if (!nchw_input) QD_RETURN_IF_ERROR(expect_nchwc(*x, b, "X"));
    const int64_t op = w->shape[0], ig = w->shape[1];
    const int64_t taps = w->shape[2] * w->shape[3];
    if (op % b != 0) return invalid_input("input 'W' has shape {}: its output channels must be a multiple of the block {}",
                                          shape_str(w->shape), b);
    ConvAttrs attrs = attrs_;
    const bool depthwise = attrs.group > 1 && ig == 1;
    if (depthwise) attrs.group = x->shape[1];  // the padded channels are groups too (zero filters)
    const bool bo_only = nchw_input || depthwise;
    if (!bo_only && ig % b != 0)
      return invalid_input("input 'W' has shape {}: OIHWBiBo filters need input channels a multiple of the block {}",
                           shape_str(w->shape), b);
    // Undo the filter reorder into plain OIHW [op, ig, kh, kw].
    Tensor plain = Tensor::uninitialized(DType::f32, w->shape);
    const float* wp = w->data<float>();
    float* pp = plain.data<float>();
    for (int64_t o = 0; o < op; ++o)
      for (int64_t i = 0; i < ig; ++i)
        for (int64_t t = 0; t < taps; ++t) {
          const int64_t from = bo_only ? (((o / b) * ig + i) * taps + t) * b + o % b
                                       : ((((o / b) * (ig / b) + i / b) * taps + t) * b + i % b) * b + o % b;
          pp[(o * ig + i) * taps + t] = wp[from];
        }
    const Tensor xn = nchw_input ? *x : nchwc_to_nchw(*x, b, x->shape[1]);
    QD_ASSIGN_OR_RETURN(ConvGeometry g, conv_geometry(attrs, xn.shape, plain.shape));
    const Tensor* bias = optional_input(ctx, 2);
    if (bias) QD_RETURN_IF_ERROR(expect_conv_bias(*bias, DType::f32, op));
    // Plain direct convolution, double accumulation (as the float Conv kernel).
    const Conv3d c = to_conv3d(g);
    Tensor y = Tensor::zeros(DType::f32, g.output_shape());
    const int64_t cg = g.in_channels_per_group(), mg = g.out_channels_per_group();
    for (int64_t job = 0; job < g.batch * op; ++job) {
      const int64_t n = job / op, m = job % op;
      std::vector<double> acc(static_cast<size_t>(c.out_plane()), 0.0);
      conv_accumulate<float, double>(c, xn.data<float>() + (n * g.in_channels + (m / mg) * cg) * c.in_plane(),
                                     pp + m * cg * c.kernel_plane(), acc.data());
      float* out = y.data<float>() + job * c.out_plane();
      for (int64_t i = 0; i < c.out_plane(); ++i)
        out[i] = static_cast<float>(acc[static_cast<size_t>(i)]) + (bias ? bias->data<float>()[m] : 0.0f);
    }
    Tensor yc = nchw_to_nchwc(y, b);
    if (const Tensor* sum = optional_input(ctx, 3)) {
      QD_RETURN_IF_ERROR(expect_dtype(*sum, DType::f32, "Sum"));
      if (sum->shape != yc.shape)
        return invalid_input("input 'Sum' has shape {}; it must be the output's {}", shape_str(sum->shape),
                             shape_str(yc.shape));
      for (int64_t i = 0; i < yc.numel(); ++i) yc.data<float>()[i] += sum->data<float>()[i];
    }
    for (int64_t i = 0; i < yc.numel(); ++i) yc.data<float>()[i] = act_.apply(yc.data<float>()[i]);
    QD_ASSIGN_OR_RETURN(Tensor * out, ctx.allocate(0, DType::f32, yc.shape));
    *out = std::move(yc);
    return Status::ok();
  }

 private:
  NchwcConvKernel() = default;
  Activation act_;
  ConvAttrs attrs_;
  int64_t block_ = 16;
};

// nchwc MaxPool / AveragePool / GlobalAveragePool / GlobalMaxPool: the float pool on the
// un-blocked tensor (the padded channels pool to zeros), blocked again.
template <OpKind kPlain>
class NchwcPoolKernel final : public Kernel {
 public:
  static Result<std::unique_ptr<Kernel>> create(const Graph& graph, const Node& node, const ExecOptions& options) {
    auto k = std::unique_ptr<NchwcPoolKernel>(new NchwcPoolKernel());
    if (kPlain != OpKind::Unknown) {
      QD_ASSIGN_OR_RETURN(k->plain_, create_as(kPlain, graph, node, options));
    }
    k->block_ = nchwc_block_size(graph);
    return std::unique_ptr<Kernel>(std::move(k));
  }
  Status run(KernelContext& ctx) override {
    QD_ASSIGN_OR_RETURN(const Tensor* x, required_input(ctx, 0, "X"));
    QD_RETURN_IF_ERROR(expect_nchwc(*x, block_, "X"));
    const Tensor xn = nchwc_to_nchw(*x, block_, x->shape[1]);
    std::vector<Tensor> pooled(ctx.outputs.size());
    if (plain_) {
      const Tensor* in[] = {&xn};
      KernelContext plain_ctx{ctx.graph, ctx.node, ctx.options, in, pooled};
      QD_RETURN_IF_ERROR(plain_->run(plain_ctx));
    } else {  // GlobalMaxPool
      const int64_t planes = xn.shape[0] * xn.shape[1], plane = xn.shape[2] * xn.shape[3];
      pooled[0] = Tensor::zeros(DType::f32, {xn.shape[0], xn.shape[1], 1, 1});
      for (int64_t p = 0; p < planes; ++p) {
        const float* src = xn.data<float>() + p * plane;
        pooled[0].data<float>()[p] = plane ? *std::max_element(src, src + plane) : 0.0f;
      }
    }
    Tensor y = nchw_to_nchwc(pooled[0], block_);
    QD_ASSIGN_OR_RETURN(Tensor * out, ctx.allocate(0, DType::f32, y.shape));
    *out = std::move(y);
    return Status::ok();
  }

 private:
  NchwcPoolKernel() = default;
  std::unique_ptr<Kernel> plain_;
  int64_t block_ = 16;
};

}  // namespace

void register_contrib_ops(KernelTable& table) {
  set_kernel<QLinearAveragePoolKernel>(table, OpKind::QLinearAveragePool);
  set_kernel<QLinearConcatKernel>(table, OpKind::QLinearConcat);
  set_kernel<QLinearLookupKernel<true>>(table, OpKind::QLinearSigmoid);
  set_kernel<QLinearLookupKernel<false>>(table, OpKind::QLinearLeakyRelu);
  set_kernel<QLinearSoftmaxKernel>(table, OpKind::QLinearSoftmax);
  table.factories[static_cast<size_t>(OpKind::NhwcMaxPool)] = &create_nhwc_max_pool;
  set_kernel<FusedKernel<OpKind::Conv, 3>>(table, OpKind::FusedConv);
  set_kernel<FusedKernel<OpKind::Gemm, 0>>(table, OpKind::FusedGemm);
  set_kernel<FunctionKernel<dynamic_quantize_linear_run>>(table, OpKind::DynamicQuantizeLinear);
  set_kernel<FunctionKernel<matmul_integer_to_float_run>>(table, OpKind::MatMulIntegerToFloat);
  set_kernel<NchwcReorderInputKernel>(table, OpKind::NchwcReorderInput);
  set_kernel<NchwcReorderOutputKernel>(table, OpKind::NchwcReorderOutput);
  set_kernel<NchwcConvKernel>(table, OpKind::NchwcConv);
  set_kernel<NchwcPoolKernel<OpKind::MaxPool>>(table, OpKind::NchwcMaxPool);
  set_kernel<NchwcPoolKernel<OpKind::AveragePool>>(table, OpKind::NchwcAveragePool);
  set_kernel<NchwcPoolKernel<OpKind::GlobalAveragePool>>(table, OpKind::NchwcGlobalAveragePool);
  set_kernel<NchwcPoolKernel<OpKind::Unknown>>(table, OpKind::NchwcGlobalMaxPool);
}

}  // namespace qdrift::ref
