// integer.cpp: reference kernels of the integer ONNX ops (QLinearConv, QLinearMatMul,
// ConvInteger, MatMulInteger) and of ONNX Runtime's com.microsoft QLinearAdd,
// QLinearGlobalAveragePool and QGemm.
//
// Integer semantics, exactly as ONNX defines them: inputs minus their zero points as
// int32, products summed in int32 (wrapping like numpy's int32; nn_common.h), the int32
// bias added to the sum. The QLinear ops then requantize:
//
//   multiplier = (x_scale * w_scale[m]) / y_scale          in f32, left to right
//   y = saturate(round_half_even(double(acc) * double(multiplier)) + y_zp)
//
// which is the order of ONNX's reference implementation (onnx/reference/ops/
// op_qlinear_conv.py, op_qlinear_matmul.py: `res * (x_scale * w_scale / y_scale)`, f32
// scales, and the int32 x float32 product promoted to float64 by numpy). ONNX Runtime's
// MLAS and oneDNN form the product in f32 instead; the two differ only where the product
// lies within an f32 ulp of a .5 tie (or |acc| >= 2^24), which qdrift reports as ties.
// The saturation range is the zero point type's full range (core/quant_math.h).
//
// The com.microsoft ops follow ONNX Runtime (docs/ContribOperators.md and its CPU
// kernels), noted at each kernel. Their attributes have no schema in libonnx, so every
// attribute read here is type-checked (core/op_attrs.h).
#include <cmath>
#include <memory>
#include <string_view>
#include <vector>

#include "core/op_attrs.h"
#include "core/quant_math.h"
#include "kernels/ref/layout.h"
#include "kernels/ref/nn_common.h"
#include "kernels/ref/qlinear_common.h"
#include "kernels/ref/ref_ops.h"

namespace qdrift::ref {

namespace {

// ---- convolutions -------------------------------------------------------------------------

// Runs the integer convolution of centred x and w; calls store(job, acc) per (n, m) with
// job = n * M + m and acc the int32 sums (wrapped) of that output plane.
template <typename Store>
Status int_conv(const ConvGeometry& g, const std::vector<int32_t>& x, const std::vector<int32_t>& w, Store store) {
  if (g.spatial_rank() > 3)
    return unsupported("convolution with {} spatial dimensions (the reference runs 1-D, 2-D and 3-D)",
                       g.spatial_rank());
  const Conv3d c = to_conv3d(g);
  const int64_t out_channels = g.out_channels;
  const int64_t cg = g.in_channels_per_group();
  const int64_t mg = g.out_channels_per_group();
  const int64_t in_plane = c.in_plane();
  const int64_t w_per_m = cg * c.kernel_plane();
  const int64_t jobs = g.batch * out_channels;
#pragma omp parallel for schedule(static)
  for (int64_t job = 0; job < jobs; ++job) {
    const int64_t n = job / out_channels;
    const int64_t m = job % out_channels;
    std::vector<uint32_t> acc(static_cast<size_t>(c.out_plane()), 0u);
    conv_accumulate<int32_t, uint32_t>(c, x.data() + (n * g.in_channels + (m / mg) * cg) * in_plane,
                                       w.data() + m * w_per_m, acc.data());
    store(job, m, acc);
  }
  return Status::ok();
}

// Centres w per output channel: w[m, ...] - w_zp[m].
std::vector<int32_t> centered_weights(const Tensor& w, const std::vector<int32_t>& w_zp) {
  const int64_t per_m = w.shape[0] == 0 ? 0 : w.numel() / w.shape[0];
  return centered(w, [&](int64_t e) { return at(w_zp, e / per_m); });
}

// ConvInteger (opset 10): y = int32 sum of (x - x_zp)(w - w_zp[m]); x_zp per tensor, w_zp
// per tensor or per output channel; padding holds x_zp (contributes 0).
class ConvIntegerKernel final : public Kernel {
 public:
  static Result<std::unique_ptr<Kernel>> create(const Graph&, const Node& node, const ExecOptions&) {
    QD_ASSIGN_OR_RETURN(ConvAttrs attrs, parse_conv_attrs(node));
    return std::unique_ptr<Kernel>(new ConvIntegerKernel(std::move(attrs)));
  }

  Status run(KernelContext& ctx) override {
    QD_ASSIGN_OR_RETURN(const Tensor* x, required_input(ctx, 0, "x"));
    QD_ASSIGN_OR_RETURN(const Tensor* w, required_input(ctx, 1, "w"));
    QD_RETURN_IF_ERROR(expect_int8(*x, "x"));
    QD_RETURN_IF_ERROR(expect_int8(*w, "w"));
    QD_ASSIGN_OR_RETURN(ConvGeometry g, conv_geometry(attrs_, x->shape, w->shape));
    QD_ASSIGN_OR_RETURN(std::vector<int32_t> x_zp, read_zero_points(optional_input(ctx, 2), "x_zero_point", x->dtype));
    QD_ASSIGN_OR_RETURN(std::vector<int32_t> w_zp, read_zero_points(optional_input(ctx, 3), "w_zero_point", w->dtype,
                                                                    g.out_channels, "one per output channel"));
    QD_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate(0, DType::s32, g.output_shape()));
    const std::vector<int32_t> xc = centered(*x, [&](int64_t) { return x_zp[0]; });
    const std::vector<int32_t> wc = centered_weights(*w, w_zp);
    int32_t* yp = y->data<int32_t>();
    const int64_t out_plane = shape_numel(g.out_spatial);
    return int_conv(g, xc, wc, [&](int64_t job, int64_t, const std::vector<uint32_t>& acc) {
      for (int64_t i = 0; i < out_plane; ++i) yp[job * out_plane + i] = static_cast<int32_t>(acc[static_cast<size_t>(i)]);
    });
  }

 private:
  explicit ConvIntegerKernel(ConvAttrs attrs) : attrs_(std::move(attrs)) {}
  ConvAttrs attrs_;
};

// QLinearConv (opset 10): acc = int32 sum of (x - x_zp)(w - w_zp[m]) + B[m], requantized
// with multiplier (x_scale * w_scale[m]) / y_scale. w_scale and w_zp are per tensor or per
// output channel; the output type is y_zero_point's (x's when it is omitted, as ONNX's
// reference does).
class QLinearConvKernel final : public Kernel {
 public:
  static Result<std::unique_ptr<Kernel>> create(const Graph&, const Node& node, const ExecOptions&) {
    QD_ASSIGN_OR_RETURN(ConvAttrs attrs, parse_conv_attrs(node));
    return std::unique_ptr<Kernel>(new QLinearConvKernel(std::move(attrs)));
  }

  Status run(KernelContext& ctx) override {
    QD_ASSIGN_OR_RETURN(const Tensor* x, required_input(ctx, 0, "x"));
    QD_ASSIGN_OR_RETURN(const Tensor* w, required_input(ctx, 3, "w"));
    QD_RETURN_IF_ERROR(expect_int8(*x, "x"));
    QD_RETURN_IF_ERROR(expect_int8(*w, "w"));
    QD_ASSIGN_OR_RETURN(ConvGeometry g, conv_geometry(attrs_, x->shape, w->shape));
    const int64_t m_count = g.out_channels;
    QD_ASSIGN_OR_RETURN(std::vector<float> x_scale, read_scales(optional_input(ctx, 1), "x_scale"));
    QD_ASSIGN_OR_RETURN(std::vector<int32_t> x_zp, read_zero_points(optional_input(ctx, 2), "x_zero_point", x->dtype));
    QD_ASSIGN_OR_RETURN(std::vector<float> w_scale,
                        read_scales(optional_input(ctx, 4), "w_scale", m_count, "one per output channel"));
    QD_ASSIGN_OR_RETURN(std::vector<int32_t> w_zp, read_zero_points(optional_input(ctx, 5), "w_zero_point", w->dtype,
                                                                    m_count, "one per output channel"));
    QD_ASSIGN_OR_RETURN(std::vector<float> y_scale, read_scales(optional_input(ctx, 6), "y_scale"));
    const Tensor* y_zp_t = optional_input(ctx, 7);
    QD_ASSIGN_OR_RETURN(std::vector<int32_t> y_zp, read_zero_points(y_zp_t, "y_zero_point", DType::undefined));
    const DType y_type = y_zp_t ? y_zp_t->dtype : x->dtype;
    const Tensor* bias = optional_input(ctx, 8);
    if (bias) QD_RETURN_IF_ERROR(expect_conv_bias(*bias, DType::s32, m_count));
    std::vector<float> multiplier(static_cast<size_t>(m_count));
    for (int64_t m = 0; m < m_count; ++m) {
      multiplier[static_cast<size_t>(m)] = (x_scale[0] * at(w_scale, m)) / y_scale[0];
      QD_RETURN_IF_ERROR(check_multiplier(multiplier[static_cast<size_t>(m)], "x_scale * w_scale / y_scale"));
    }
    QD_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate(0, y_type, g.output_shape()));

    const std::vector<int32_t> xc = centered(*x, [&](int64_t) { return x_zp[0]; });
    const std::vector<int32_t> wc = centered_weights(*w, w_zp);
    const int32_t* bp = bias ? bias->data<int32_t>() : nullptr;
    const QuantGrid grid = quant_grid(y_type, QuantRange::full);
    const int64_t out_plane = shape_numel(g.out_spatial);
    return int_conv(g, xc, wc, [&](int64_t job, int64_t m, const std::vector<uint32_t>& acc) {
      const uint32_t b = bp ? static_cast<uint32_t>(bp[m]) : 0u;
      const float mult = multiplier[static_cast<size_t>(m)];
      for (int64_t i = 0; i < out_plane; ++i) {
        const int32_t sum = static_cast<int32_t>(acc[static_cast<size_t>(i)] + b);  // int32, wrapping
        store_int8(*y, job * out_plane + i,
                   ort_rounding_ ? requantize_f32(sum, mult, y_zp[0], grid) : requantize(sum, mult, y_zp[0], grid));
      }
    });
  }

 private:
  explicit QLinearConvKernel(ConvAttrs attrs) : attrs_(std::move(attrs)) {}
  ConvAttrs attrs_;
  bool ort_rounding_ = false;  // com.microsoft QLinearConv: requantize_f32, as ORT
  friend Result<std::unique_ptr<Kernel>> create_ms_qlinear_conv(const Graph&, const Node&, const ExecOptions&);
};

// ---- matrix products ------------------------------------------------------------------------

// Runs the integer matmul of centred a and b under numpy shapes; calls store(row, acc)
// per output row (row = batch * M + m) with acc the int32 sums (wrapped) of its N outputs.
template <typename Store>
void int_matmul(const MatMulShape& s, const std::vector<int32_t>& a, const std::vector<int32_t>& b, Store store) {
  const int64_t rows = s.batch * s.m;
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t bi = r / s.m;
    const int64_t mi = r % s.m;
    std::vector<uint32_t> acc(static_cast<size_t>(s.n), 0u);
    matmul_row_accumulate<int32_t, uint32_t>(a.data() + (s.a_batch_offset[static_cast<size_t>(bi)] * s.m + mi) * s.k,
                                             b.data() + s.b_batch_offset[static_cast<size_t>(bi)] * s.k * s.n, s.k,
                                             s.n, acc.data());
    store(r, mi, acc);
  }
}

// A (is_a) or B of MatMulInteger minus its zero point, which may be a scalar, a 1-D
// per-row [M] (A) or per-column [N] (B) vector, or an N-D tensor ([D1, D2, M, 1] for A,
// [D1, D2, 1, N] for B) that does not vary along K.
Result<std::vector<int32_t>> matmul_integer_centered(const Tensor& data, const Tensor* zp, std::string_view data_name,
                                                     std::string_view zp_name, bool is_a) {
  if (!zp) return centered(data, [](int64_t) { return 0; });
  if (zp->dtype != data.dtype)
    return invalid_input("input '{}' has dtype {}; it must match '{}' ({})", zp_name, dtype_name(zp->dtype), data_name,
                         dtype_name(data.dtype));
  Shape zshape = zp->shape;
  const int64_t rank = data.rank();
  if (zp->numel() == 1) {
    zshape = {};
  } else if (zp->rank() == 1 && rank >= 2) {
    const int64_t rows_or_cols = is_a ? data.shape[static_cast<size_t>(rank - 2)] : data.shape.back();
    if (zp->shape[0] != rows_or_cols)
      return invalid_input("input '{}' has shape {}: a 1-D zero point needs {} elements (one per {} of '{}' {})",
                           zp_name, shape_str(zp->shape), rows_or_cols, is_a ? "row" : "column", data_name,
                           shape_str(data.shape));
    if (is_a) zshape = {zp->shape[0], 1};
  } else {
    const bool ok_rank = zp->rank() == rank && rank >= 2;
    const size_t k_axis = ok_rank ? zshape.size() - (is_a ? 1 : 2) : 0;
    if (!ok_rank || !broadcasts_to(zshape, data.shape) || zshape[k_axis] != 1)
      return invalid_input("input '{}' has shape {}: expected a scalar, a 1-D per-{} vector or a tensor like {} with "
                           "size 1 along K",
                           zp_name, shape_str(zp->shape), is_a ? "row" : "column", shape_str(data.shape));
  }
  std::vector<int32_t> zv(static_cast<size_t>(zp->numel()));
  for (size_t i = 0; i < zv.size(); ++i) zv[i] = static_cast<int32_t>(zp->value_as_double(static_cast<int64_t>(i)));
  // centered() visits elements in order: walk the zero point along with them.
  BroadcastCursor cur(data.shape, {&zshape});
  return centered(data, [&](int64_t) {
    const int32_t z = zv[static_cast<size_t>(cur.offset(0))];
    cur.next();
    return z;
  });
}

// MatMulInteger (opset 10): y = int32 numpy matmul of (A - a_zp)(B - b_zp).
Status matmul_integer_run(KernelContext& ctx) {
  QD_ASSIGN_OR_RETURN(const Tensor* a, required_input(ctx, 0, "A"));
  QD_ASSIGN_OR_RETURN(const Tensor* b, required_input(ctx, 1, "B"));
  QD_RETURN_IF_ERROR(expect_int8(*a, "A"));
  QD_RETURN_IF_ERROR(expect_int8(*b, "B"));
  QD_ASSIGN_OR_RETURN(MatMulShape s, matmul_shape(a->shape, b->shape, "A", "B"));
  QD_ASSIGN_OR_RETURN(std::vector<int32_t> ac,
                      matmul_integer_centered(*a, optional_input(ctx, 2), "A", "a_zero_point", true));
  QD_ASSIGN_OR_RETURN(std::vector<int32_t> bc,
                      matmul_integer_centered(*b, optional_input(ctx, 3), "B", "b_zero_point", false));
  QD_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate(0, DType::s32, s.out));
  int32_t* yp = y->data<int32_t>();
  int_matmul(s, ac, bc, [&](int64_t r, int64_t, const std::vector<uint32_t>& acc) {
    for (int64_t n = 0; n < s.n; ++n) yp[r * s.n + n] = static_cast<int32_t>(acc[static_cast<size_t>(n)]);
  });
  return Status::ok();
}

// QLinearMatMul (opset 10): acc = int32 numpy matmul of (a - a_zp[m])(b - b_zp[n]),
// requantized with multiplier (a_scale[m] * b_scale[n]) / y_scale. a's scale and zero
// point are per tensor or per row (M), b's per tensor or per column (N).
Status qlinear_matmul_run(KernelContext& ctx) {
  QD_ASSIGN_OR_RETURN(const Tensor* a, required_input(ctx, 0, "a"));
  QD_ASSIGN_OR_RETURN(const Tensor* b, required_input(ctx, 3, "b"));
  QD_RETURN_IF_ERROR(expect_int8(*a, "a"));
  QD_RETURN_IF_ERROR(expect_int8(*b, "b"));
  QD_ASSIGN_OR_RETURN(MatMulShape s, matmul_shape(a->shape, b->shape, "a", "b"));
  QD_ASSIGN_OR_RETURN(std::vector<float> a_scale, read_scales(optional_input(ctx, 1), "a_scale", s.m, "one per row of a"));
  QD_ASSIGN_OR_RETURN(std::vector<int32_t> a_zp, read_zero_points(optional_input(ctx, 2), "a_zero_point", a->dtype,
                                                                  s.m, "one per row of a"));
  QD_ASSIGN_OR_RETURN(std::vector<float> b_scale,
                      read_scales(optional_input(ctx, 4), "b_scale", s.n, "one per column of b"));
  QD_ASSIGN_OR_RETURN(std::vector<int32_t> b_zp, read_zero_points(optional_input(ctx, 5), "b_zero_point", b->dtype,
                                                                  s.n, "one per column of b"));
  QD_ASSIGN_OR_RETURN(std::vector<float> y_scale, read_scales(optional_input(ctx, 6), "y_scale"));
  const Tensor* y_zp_t = optional_input(ctx, 7);
  QD_ASSIGN_OR_RETURN(std::vector<int32_t> y_zp, read_zero_points(y_zp_t, "y_zero_point", DType::undefined));
  const DType y_type = y_zp_t ? y_zp_t->dtype : a->dtype;
  std::vector<float> multiplier(static_cast<size_t>(a_scale.size() * b_scale.size()));
  for (size_t i = 0; i < a_scale.size(); ++i)
    for (size_t j = 0; j < b_scale.size(); ++j) {
      float& mult = multiplier[i * b_scale.size() + j];
      mult = (a_scale[i] * b_scale[j]) / y_scale[0];
      QD_RETURN_IF_ERROR(check_multiplier(mult, "a_scale * b_scale / y_scale"));
    }
  QD_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate(0, y_type, s.out));
  const int64_t k = s.k;
  const int64_t m_count = s.m;
  const int64_t n_count = s.n;
  const std::vector<int32_t> ac = centered(*a, [&](int64_t e) { return at(a_zp, (e / k) % m_count); });
  const std::vector<int32_t> bc = centered(*b, [&](int64_t e) { return at(b_zp, e % n_count); });
  const QuantGrid grid = quant_grid(y_type, QuantRange::full);
  const size_t b_count = b_scale.size();
  int_matmul(s, ac, bc, [&](int64_t r, int64_t mi, const std::vector<uint32_t>& acc) {
    const size_t row = a_scale.size() == 1 ? 0 : static_cast<size_t>(mi);
    for (int64_t n = 0; n < n_count; ++n) {
      const float mult = multiplier[row * b_count + (b_count == 1 ? 0 : static_cast<size_t>(n))];
      store_int8(*y, r * n_count + n, requantize(static_cast<int32_t>(acc[static_cast<size_t>(n)]), mult, y_zp[0], grid));
    }
  });
  return Status::ok();
}

// com.microsoft QGemm (ONNX Runtime contrib_ops/cpu/quantization/quant_gemm.cc):
//   acc = int32 sum over k of (A'[m,k] - a_zp)(B'[k,n] - b_zp[n]) + C[m,n]
//   multiplier[n] = ((alpha * a_scale) * b_scale[n]) / y_scale   (f32, ORT's order)
//   y = requantize_f32(acc, multiplier[n], y_zp)      when y_zero_point is given
//   y = float(acc) * multiplier[n]   (f32)            otherwise (f32 output; without
//       y_scale the division is skipped)
// in f32, as MLAS's output processors do.
// A' = A or A^T (transA), B' likewise; C (int32, in units of a_scale * b_scale) broadcasts
// unidirectionally to [M, N]; b's scale and zero point are per tensor or per column.
class QGemmKernel final : public Kernel {
 public:
  static Result<std::unique_ptr<Kernel>> create(const Graph&, const Node& node, const ExecOptions&) {
    auto k = std::unique_ptr<QGemmKernel>(new QGemmKernel());
    QD_ASSIGN_OR_RETURN(k->alpha_, checked_attr_float(node, "alpha", 1.0f));
    QD_ASSIGN_OR_RETURN(int64_t ta, checked_attr_int(node, "transA", 0));
    QD_ASSIGN_OR_RETURN(int64_t tb, checked_attr_int(node, "transB", 0));
    k->trans_a_ = ta != 0;
    k->trans_b_ = tb != 0;
    return std::unique_ptr<Kernel>(std::move(k));
  }

  Status run(KernelContext& ctx) override {
    QD_ASSIGN_OR_RETURN(const Tensor* a, required_input(ctx, 0, "A"));
    QD_ASSIGN_OR_RETURN(const Tensor* b, required_input(ctx, 3, "B"));
    QD_RETURN_IF_ERROR(expect_int8(*a, "A"));
    QD_RETURN_IF_ERROR(expect_int8(*b, "B"));
    QD_ASSIGN_OR_RETURN(const GemmDims d, gemm_dims(*a, *b, trans_a_, trans_b_, "QGemm"));
    const int64_t m = d.m, k = d.k, n = d.n;
    QD_ASSIGN_OR_RETURN(std::vector<float> a_scale, read_scales(optional_input(ctx, 1), "a_scale"));
    QD_ASSIGN_OR_RETURN(std::vector<int32_t> a_zp, read_zero_points(optional_input(ctx, 2), "a_zero_point", a->dtype));
    QD_ASSIGN_OR_RETURN(std::vector<float> b_scale,
                        read_scales(optional_input(ctx, 4), "b_scale", n, "one per column of B'"));
    QD_ASSIGN_OR_RETURN(std::vector<int32_t> b_zp, read_zero_points(optional_input(ctx, 5), "b_zero_point", b->dtype,
                                                                    n, "one per column of B'"));
    const Shape out_shape = d.out();
    const Tensor* c = optional_input(ctx, 6);
    MatrixStrides cs;
    if (c) {
      QD_ASSIGN_OR_RETURN(cs, gemm_c_strides(*c, DType::s32, d));
    }
    const Tensor* y_scale_t = optional_input(ctx, 7);
    const Tensor* y_zp_t = optional_input(ctx, 8);
    if (y_zp_t && !y_scale_t) return invalid_input("input 'y_zero_point' is given without 'y_scale'");
    std::vector<float> y_scale{1.0f};
    if (y_scale_t) {
      QD_ASSIGN_OR_RETURN(y_scale, read_scales(y_scale_t, "y_scale"));
    }
    QD_ASSIGN_OR_RETURN(std::vector<int32_t> y_zp, read_zero_points(y_zp_t, "y_zero_point", DType::undefined));
    std::vector<float> multiplier(b_scale.size());
    for (size_t j = 0; j < b_scale.size(); ++j) {
      multiplier[j] = (alpha_ * a_scale[0]) * b_scale[j];
      if (y_scale_t) multiplier[j] /= y_scale[0];
      if (!std::isfinite(multiplier[j]))
        return invalid_input("the output multiplier alpha * a_scale * b_scale / y_scale = {} is not finite",
                             multiplier[j]);
    }
    const DType y_type = y_zp_t ? y_zp_t->dtype : DType::f32;
    QD_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate(0, y_type, out_shape));

    // A' [M, K] and B' [K, N] row-major, centred.
    const int64_t a_cols = a->shape[1];
    const int64_t b_cols = b->shape[1];
    const std::vector<int32_t> a_raw = centered(*a, [&](int64_t) { return a_zp[0]; });
    const std::vector<int32_t> b_raw = centered(*b, [&](int64_t e) {
      const int64_t col = trans_b_ ? e / b_cols : e % b_cols;  // the column of B' this element lands in
      return at(b_zp, col);
    });
    std::vector<int32_t> ac(static_cast<size_t>(m * k)), bc(static_cast<size_t>(k * n));
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < k; ++j)
        ac[static_cast<size_t>(i * k + j)] = trans_a_ ? a_raw[static_cast<size_t>(j * a_cols + i)]
                                                      : a_raw[static_cast<size_t>(i * a_cols + j)];
    for (int64_t i = 0; i < k; ++i)
      for (int64_t j = 0; j < n; ++j)
        bc[static_cast<size_t>(i * n + j)] = trans_b_ ? b_raw[static_cast<size_t>(j * b_cols + i)]
                                                      : b_raw[static_cast<size_t>(i * b_cols + j)];
    MatMulShape s;
    s.m = m;
    s.k = k;
    s.n = n;
    s.a_batch_offset = {0};
    s.b_batch_offset = {0};
    s.out = out_shape;
    const int32_t* cp = c ? c->data<int32_t>() : nullptr;
    const QuantGrid grid = y_zp_t ? quant_grid(y_type, QuantRange::full) : QuantGrid{0, 0};
    int_matmul(s, ac, bc, [&](int64_t r, int64_t, const std::vector<uint32_t>& acc) {
      for (int64_t j = 0; j < n; ++j) {
        const int64_t e = r * n + j;
        const uint32_t bias = cp ? static_cast<uint32_t>(cp[r * cs.row + j * cs.col]) : 0u;
        const int32_t sum = static_cast<int32_t>(acc[static_cast<size_t>(j)] + bias);  // int32, wrapping
        const float mult = at(multiplier, j);
        if (y_zp_t)
          store_int8(*y, e, requantize_f32(sum, mult, y_zp[0], grid));
        else
          y->data<float>()[e] = static_cast<float>(sum) * mult;
      }
    });
    return Status::ok();
  }

 private:
  QGemmKernel() = default;
  float alpha_ = 1.0f;
  bool trans_a_ = false;
  bool trans_b_ = false;
};

// ---- element-wise and pooling ------------------------------------------------------------

// The element-wise QLinear ops of com.microsoft: inputs A, A_scale, A_zero_point, B,
// B_scale, B_zero_point, C_scale, C_zero_point; A, B and C of one u8/s8 type, parameters
// per tensor, numpy broadcasting. `code(a, b, grid)` gives C's code from A's and B's.
struct QLinearBinaryParams {
  float a_scale, b_scale, c_scale;
  int32_t a_zp, b_zp, c_zp;
};
template <typename Code>
Status qlinear_binary_run(KernelContext& ctx, Code code) {
  QD_ASSIGN_OR_RETURN(const Tensor* a, required_input(ctx, 0, "A"));
  QD_ASSIGN_OR_RETURN(const Tensor* b, required_input(ctx, 3, "B"));
  QD_RETURN_IF_ERROR(expect_int8(*a, "A"));
  if (b->dtype != a->dtype)
    return invalid_input("inputs 'A' ({}) and 'B' ({}) must have the same dtype", dtype_name(a->dtype),
                         dtype_name(b->dtype));
  QD_ASSIGN_OR_RETURN(std::vector<float> a_scale, read_scales(optional_input(ctx, 1), "A_scale"));
  QD_ASSIGN_OR_RETURN(std::vector<int32_t> a_zp, read_zero_points(optional_input(ctx, 2), "A_zero_point", a->dtype));
  QD_ASSIGN_OR_RETURN(std::vector<float> b_scale, read_scales(optional_input(ctx, 4), "B_scale"));
  QD_ASSIGN_OR_RETURN(std::vector<int32_t> b_zp, read_zero_points(optional_input(ctx, 5), "B_zero_point", a->dtype));
  QD_ASSIGN_OR_RETURN(std::vector<float> c_scale, read_scales(optional_input(ctx, 6), "C_scale"));
  QD_ASSIGN_OR_RETURN(std::vector<int32_t> c_zp, read_zero_points(optional_input(ctx, 7), "C_zero_point", a->dtype));
  const QLinearBinaryParams p{a_scale[0], b_scale[0], c_scale[0], a_zp[0], b_zp[0], c_zp[0]};
  QD_ASSIGN_OR_RETURN(Shape out_shape, broadcast_shapes(a->shape, b->shape, "A", "B"));
  QD_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate(0, a->dtype, out_shape));
  const QuantGrid grid = quant_grid(a->dtype, QuantRange::full);
  BroadcastCursor cur(out_shape, {&a->shape, &b->shape});
  for (int64_t e = 0; e < y->numel(); ++e, cur.next())
    store_int8(*y, e, code(int8_value(*a, cur.offset(0)), int8_value(*b, cur.offset(1)), p, grid));
  return Status::ok();
}

// com.microsoft QLinearAdd: C = (A_scale * (A - A_zp) + B_scale * (B - B_zp)) / C_scale
// + C_zp, as its schema writes it, term by term in f32: each operand dequantized
// (core/quant_math.h dequantize_value), summed, and quantized like ONNX QuantizeLinear
// (divide, round half to even, add the zero point, saturate). This is exactly the QDQ
// graph DQ -> Add -> Q. (ORT's MLAS kernel instead folds the scales into two f32 ratios,
// which can differ at rounding ties.)
Status qlinear_add_run(KernelContext& ctx) {
  return qlinear_binary_run(ctx, [](int32_t qa, int32_t qb, const QLinearBinaryParams& p, QuantGrid grid) {
    const float ra = dequantize_value(qa, p.a_scale, p.a_zp);
    const float rb = dequantize_value(qb, p.b_scale, p.b_zp);
    return quantize_value(ra + rb, p.c_scale, p.c_zp, grid, Rounding::half_even);
  });
}

// com.microsoft QLinearMul (ORT qlinear_binary_op.cc, MLAS qlmul.cpp): with ratio =
// A_scale * B_scale / C_scale in f32, left to right,
//   C = saturate(round_half_even(ratio * float((A - A_zp) * (B - B_zp))) + C_zp)
Status qlinear_mul_run(KernelContext& ctx) {
  return qlinear_binary_run(ctx, [](int32_t qa, int32_t qb, const QLinearBinaryParams& p, QuantGrid grid) {
    const float ratio = p.a_scale * p.b_scale / p.c_scale;
    const float r = std::nearbyint(ratio * static_cast<float>((qa - p.a_zp) * (qb - p.b_zp))) +
                    static_cast<float>(p.c_zp);
    return saturate_rounded(r, grid);
  });
}

// com.microsoft QLinearGlobalAveragePool (ORT qlinear_global_average_pool.cc, MLAS):
//   acc = sum over the spatial positions of (x - x_zp), exact
//   multiplier = x_scale / (y_scale * float(image_size))    (f32, MLAS's order)
//   y = requantize_f32(acc, multiplier, y_zp)   (f32 product, as MLAS)
// channels_last = 0: X is [N, C, D1..Dk], Y [N, C, 1..1]; = 1: X is [N, D1..Dk, C], Y
// [N, 1..1, C]. Y has X's type.
class QLinearGlobalAveragePoolKernel final : public Kernel {
 public:
  static Result<std::unique_ptr<Kernel>> create(const Graph&, const Node& node, const ExecOptions&) {
    auto k = std::unique_ptr<QLinearGlobalAveragePoolKernel>(new QLinearGlobalAveragePoolKernel());
    QD_ASSIGN_OR_RETURN(int64_t channels_last, checked_attr_int(node, "channels_last", 0));
    k->channels_last_ = channels_last != 0;
    return std::unique_ptr<Kernel>(std::move(k));
  }

  Status run(KernelContext& ctx) override {
    QD_ASSIGN_OR_RETURN(const Tensor* x, required_input(ctx, 0, "X"));
    QD_RETURN_IF_ERROR(expect_int8(*x, "X"));
    if (x->rank() < 3)
      return invalid_input("input 'X' has shape {}: expected rank >= 3 ({})", shape_str(x->shape),
                           channels_last_ ? "N, spatial..., C" : "N, C, spatial...");
    QD_ASSIGN_OR_RETURN(std::vector<float> x_scale, read_scales(optional_input(ctx, 1), "x_scale"));
    QD_ASSIGN_OR_RETURN(std::vector<int32_t> x_zp, read_zero_points(optional_input(ctx, 2), "x_zero_point", x->dtype));
    QD_ASSIGN_OR_RETURN(std::vector<float> y_scale, read_scales(optional_input(ctx, 3), "y_scale"));
    QD_ASSIGN_OR_RETURN(std::vector<int32_t> y_zp, read_zero_points(optional_input(ctx, 4), "y_zero_point", x->dtype));
    const int64_t batch = x->shape[0];
    const size_t c_axis = channels_last_ ? x->shape.size() - 1 : 1;
    const int64_t channels = x->shape[c_axis];
    Shape out_shape(x->shape.size(), 1);
    out_shape[0] = batch;
    out_shape[c_axis] = channels;
    int64_t image = 1;
    for (size_t i = 1; i < x->shape.size(); ++i)
      if (i != c_axis) image *= x->shape[i];
    if (image == 0) return invalid_input("input 'X' has shape {}: no spatial element to average", shape_str(x->shape));
    const float multiplier = x_scale[0] / (y_scale[0] * static_cast<float>(image));
    QD_RETURN_IF_ERROR(check_multiplier(multiplier, "x_scale / (y_scale * image_size)"));
    QD_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate(0, x->dtype, out_shape));
    const std::vector<int32_t> xc = centered(*x, [&](int64_t) { return x_zp[0]; });
    const QuantGrid grid = quant_grid(x->dtype, QuantRange::full);
    const int64_t planes = batch * channels;
    for (int64_t p = 0; p < planes; ++p) {
      const int64_t n = p / channels;
      const int64_t c = p % channels;
      int64_t acc = 0;
      for (int64_t i = 0; i < image; ++i)
        acc += xc[static_cast<size_t>(channels_last_ ? (n * image + i) * channels + c : p * image + i)];
      store_int8(*y, p, requantize_f32(acc, multiplier, y_zp[0], grid));
    }
    return Status::ok();
  }

 private:
  QLinearGlobalAveragePoolKernel() = default;
  bool channels_last_ = false;
};

// com.microsoft QLinearConv (ORT contrib_ops/cpu/quantization/qlinear_conv.cc): ONNX's
// QLinearConv plus `channels_last`: with 1, X is [N, D1..Dk, C] and Y [N, D1..Dk, M]
// (weights stay [M, C/group, k...]). Requantized as ORT's MLAS does, in f32
// (requantize_f32: float(acc) * multiplier rounded to f32 first).
Result<std::unique_ptr<Kernel>> create_ms_qlinear_conv(const Graph& graph, const Node& node, const ExecOptions& options) {
  QD_ASSIGN_OR_RETURN(int64_t channels_last, checked_attr_int(node, "channels_last", 0));
  QD_ASSIGN_OR_RETURN(std::unique_ptr<Kernel> nchw, QLinearConvKernel::create(graph, node, options));
  static_cast<QLinearConvKernel*>(nchw.get())->ort_rounding_ = true;
  if (channels_last == 0) return nchw;
  return std::unique_ptr<Kernel>(new ChannelsLastKernel(std::move(nchw), {0}));
}

}  // namespace

void register_integer_ops(KernelTable& table) {
  table.factories[static_cast<size_t>(OpKind::MsQLinearConv)] = &create_ms_qlinear_conv;
  set_kernel<QLinearConvKernel>(table, OpKind::QLinearConv);
  set_kernel<FunctionKernel<qlinear_matmul_run>>(table, OpKind::QLinearMatMul);
  set_kernel<ConvIntegerKernel>(table, OpKind::ConvInteger);
  set_kernel<FunctionKernel<matmul_integer_run>>(table, OpKind::MatMulInteger);
  set_kernel<FunctionKernel<qlinear_add_run>>(table, OpKind::QLinearAdd);
  set_kernel<FunctionKernel<qlinear_mul_run>>(table, OpKind::QLinearMul);
  set_kernel<QLinearGlobalAveragePoolKernel>(table, OpKind::QLinearGlobalAveragePool);
  set_kernel<QGemmKernel>(table, OpKind::QGemm);
}

}  // namespace qdrift::ref
