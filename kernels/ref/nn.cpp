// nn.cpp: reference kernels of the float network ops: Conv, Gemm, MatMul,
// BatchNormalization, GlobalAveragePool, AveragePool, MaxPool, Softmax, ReduceMean.
//
// Numerics (the oracle must be deterministic and obviously right):
//   - every sum is accumulated in double, in a fixed order written next to each kernel,
//     and rounded once to f32 at the end; f32 x f32 products are exact in double;
//   - OpenMP splits work over independent outputs only (images x channels, rows), each
//     output computed by one thread in the same order: results are bit-identical
//     whatever the thread count.
// Semantics follow the ONNX operator spec for opsets 1..17; output shapes agree with
// ONNX 1.12 shape inference (core/op_attrs.h).
#include <cmath>
#include <limits>
#include <memory>
#include <type_traits>
#include <vector>

#include "core/op_attrs.h"
#include "kernels/ref/nn_common.h"
#include "kernels/ref/ref_ops.h"

namespace qdrift::ref {

namespace {

// ---- Conv -----------------------------------------------------------------------------

// y[n, m] = float(sum + B[m]): `sum` runs over the group's input channels ci ascending,
// then kernel offsets (kd, kh, kw) ascending, in double (nn_common.h); the bias is added
// last, in double, before the single rounding to f32. Zero padding contributes nothing.
class ConvKernel final : public Kernel {
 public:
  static Result<std::unique_ptr<Kernel>> create(const Graph&, const Node& node, const ExecOptions&) {
    QD_ASSIGN_OR_RETURN(ConvAttrs attrs, parse_conv_attrs(node));
    return std::unique_ptr<Kernel>(new ConvKernel(std::move(attrs)));
  }

  Status run(KernelContext& ctx) override {
    QD_ASSIGN_OR_RETURN(const Tensor* x, required_input(ctx, 0, "X"));
    QD_ASSIGN_OR_RETURN(const Tensor* w, required_input(ctx, 1, "W"));
    const Tensor* b = optional_input(ctx, 2);
    QD_RETURN_IF_ERROR(expect_dtype(*x, DType::f32, "X"));
    QD_RETURN_IF_ERROR(expect_dtype(*w, DType::f32, "W"));
    QD_ASSIGN_OR_RETURN(ConvGeometry g, conv_geometry(attrs_, x->shape, w->shape));
    if (g.spatial_rank() > 3)
      return unsupported("Conv with {} spatial dimensions (the reference runs 1-D, 2-D and 3-D)", g.spatial_rank());
    if (b) QD_RETURN_IF_ERROR(expect_conv_bias(*b, DType::f32, g.out_channels));
    QD_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate(0, DType::f32, g.output_shape()));

    const Conv3d c = to_conv3d(g);
    const float* xp = x->data<float>();
    const float* wp = w->data<float>();
    const float* bp = b ? b->data<float>() : nullptr;
    float* yp = y->data<float>();
    const int64_t out_channels = g.out_channels;
    const int64_t cg = g.in_channels_per_group();
    const int64_t mg = g.out_channels_per_group();
    const int64_t in_plane = c.in_plane();
    const int64_t out_plane = c.out_plane();
    const int64_t w_per_m = cg * c.kernel_plane();
    const int64_t jobs = g.batch * out_channels;
#pragma omp parallel for schedule(static)
    for (int64_t job = 0; job < jobs; ++job) {
      const int64_t n = job / out_channels;
      const int64_t m = job % out_channels;
      const int64_t group = m / mg;
      std::vector<double> acc(static_cast<size_t>(out_plane), 0.0);
      conv_accumulate<float, double>(c, xp + (n * g.in_channels + group * cg) * in_plane, wp + m * w_per_m,
                                     acc.data());
      float* out = yp + job * out_plane;
      if (bp) {
        const double bias = bp[m];
        for (int64_t i = 0; i < out_plane; ++i) out[i] = static_cast<float>(acc[static_cast<size_t>(i)] + bias);
      } else {
        for (int64_t i = 0; i < out_plane; ++i) out[i] = static_cast<float>(acc[static_cast<size_t>(i)]);
      }
    }
    return Status::ok();
  }

 private:
  explicit ConvKernel(ConvAttrs attrs) : attrs_(std::move(attrs)) {}
  ConvAttrs attrs_;
};

// ---- Gemm / MatMul ----------------------------------------------------------------------

// A row-major [rows, cols] copy of `t` ([cols, rows]) transposed.
std::vector<float> transposed(const float* t, int64_t rows, int64_t cols) {
  std::vector<float> out(static_cast<size_t>(rows * cols));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) out[static_cast<size_t>(r * cols + c)] = t[c * rows + r];
  return out;
}

// Y = alpha * A' * B' + beta * C. Per element: acc = sum over k ascending of A'[m,k] *
// B'[k,n] in double; y = float(alpha * acc + beta * C[m,n]), both terms in double.
// Without C: y = float(alpha * acc). C broadcasts unidirectionally to [M, N] (opset 7+;
// the legacy `broadcast` attribute of opsets 1-6 is accepted and implied).
class GemmKernel final : public Kernel {
 public:
  static Result<std::unique_ptr<Kernel>> create(const Graph&, const Node& node, const ExecOptions&) {
    auto k = std::unique_ptr<GemmKernel>(new GemmKernel());
    QD_ASSIGN_OR_RETURN(k->alpha_, checked_attr_float(node, "alpha", 1.0f));
    QD_ASSIGN_OR_RETURN(k->beta_, checked_attr_float(node, "beta", 1.0f));
    QD_ASSIGN_OR_RETURN(int64_t ta, checked_attr_int(node, "transA", 0));
    QD_ASSIGN_OR_RETURN(int64_t tb, checked_attr_int(node, "transB", 0));
    k->trans_a_ = ta != 0;
    k->trans_b_ = tb != 0;
    return std::unique_ptr<Kernel>(std::move(k));
  }

  Status run(KernelContext& ctx) override {
    QD_ASSIGN_OR_RETURN(const Tensor* a, required_input(ctx, 0, "A"));
    QD_ASSIGN_OR_RETURN(const Tensor* b, required_input(ctx, 1, "B"));
    const Tensor* c = optional_input(ctx, 2);
    QD_RETURN_IF_ERROR(expect_dtype(*a, DType::f32, "A"));
    QD_RETURN_IF_ERROR(expect_dtype(*b, DType::f32, "B"));
    QD_ASSIGN_OR_RETURN(const GemmDims d, gemm_dims(*a, *b, trans_a_, trans_b_, "Gemm"));
    const int64_t m = d.m, k = d.k, n = d.n;
    const Shape out_shape = d.out();
    MatrixStrides cs;
    if (c) {
      QD_ASSIGN_OR_RETURN(cs, gemm_c_strides(*c, DType::f32, d));
    }
    QD_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate(0, DType::f32, out_shape));

    std::vector<float> a_buf, b_buf;
    const float* ap = a->data<float>();
    const float* bp = b->data<float>();
    if (trans_a_) ap = (a_buf = transposed(ap, m, k)).data();
    if (trans_b_) bp = (b_buf = transposed(bp, k, n)).data();
    const float* cp = c ? c->data<float>() : nullptr;
    float* yp = y->data<float>();
    const double alpha = alpha_;
    const double beta = beta_;
#pragma omp parallel for schedule(static)
    for (int64_t row = 0; row < m; ++row) {
      std::vector<double> acc(static_cast<size_t>(n), 0.0);
      matmul_row_accumulate<float, double>(ap + row * k, bp, k, n, acc.data());
      for (int64_t col = 0; col < n; ++col) {
        const size_t e = static_cast<size_t>(row * n + col);
        const double v = alpha * acc[static_cast<size_t>(col)];
        yp[e] = static_cast<float>(cp ? v + beta * static_cast<double>(cp[row * cs.row + col * cs.col]) : v);
      }
    }
    return Status::ok();
  }

 private:
  GemmKernel() = default;
  float alpha_ = 1.0f;
  float beta_ = 1.0f;
  bool trans_a_ = false;
  bool trans_b_ = false;
};

// numpy matmul: y = float(sum over k ascending of a[m,k] * b[k,n]) in double.
Status matmul_run(KernelContext& ctx) {
  QD_ASSIGN_OR_RETURN(const Tensor* a, required_input(ctx, 0, "A"));
  QD_ASSIGN_OR_RETURN(const Tensor* b, required_input(ctx, 1, "B"));
  QD_RETURN_IF_ERROR(expect_dtype(*a, DType::f32, "A"));
  QD_RETURN_IF_ERROR(expect_dtype(*b, DType::f32, "B"));
  QD_ASSIGN_OR_RETURN(MatMulShape s, matmul_shape(a->shape, b->shape, "A", "B"));
  QD_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate(0, DType::f32, s.out));
  const float* ap = a->data<float>();
  const float* bp = b->data<float>();
  float* yp = y->data<float>();
  const int64_t rows = s.batch * s.m;
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t bi = r / s.m;
    const int64_t mi = r % s.m;
    std::vector<double> acc(static_cast<size_t>(s.n), 0.0);
    matmul_row_accumulate<float, double>(ap + (s.a_batch_offset[static_cast<size_t>(bi)] * s.m + mi) * s.k,
                                         bp + s.b_batch_offset[static_cast<size_t>(bi)] * s.k * s.n, s.k, s.n,
                                         acc.data());
    for (int64_t col = 0; col < s.n; ++col) yp[r * s.n + col] = static_cast<float>(acc[static_cast<size_t>(col)]);
  }
  return Status::ok();
}

// ---- BatchNormalization -----------------------------------------------------------------

// Inference form: y = (x - mean) * (scale / sqrt(var + epsilon)) + B, in double per
// element with the per-channel factor scale / sqrt(var + epsilon) computed once in double,
// rounded once to f32. Opsets 1-6 `is_test`/`consumed_inputs` and `momentum` do not
// affect inference and are accepted; `spatial` = 0 (opsets < 9) takes per-activation
// parameters of shape X.shape[1:]. Training (training_mode = 1, or the running/saved
// statistics outputs) is unsupported.
class BatchNormKernel final : public Kernel {
 public:
  static Result<std::unique_ptr<Kernel>> create(const Graph&, const Node& node, const ExecOptions&) {
    auto k = std::unique_ptr<BatchNormKernel>(new BatchNormKernel());
    QD_ASSIGN_OR_RETURN(k->epsilon_, checked_attr_float(node, "epsilon", 1e-5f));
    QD_ASSIGN_OR_RETURN(int64_t training, checked_attr_int(node, "training_mode", 0));
    if (training != 0)
      return unsupported("attribute 'training_mode' = {}: only inference (training_mode = 0) is supported", training);
    QD_ASSIGN_OR_RETURN(int64_t spatial, checked_attr_int(node, "spatial", 1));
    k->spatial_ = spatial != 0;
    for (size_t i = 1; i < node.outputs.size(); ++i)
      if (node.outputs[i] != kNoValue)
        return unsupported("output {} (running or saved statistics) is requested: only the inference output Y is "
                           "supported",
                           i);
    return std::unique_ptr<Kernel>(std::move(k));
  }

  Status run(KernelContext& ctx) override {
    static constexpr const char* kNames[] = {"X", "scale", "B", "input_mean", "input_var"};
    const Tensor* in[5];
    for (size_t i = 0; i < 5; ++i) {
      QD_ASSIGN_OR_RETURN(in[i], required_input(ctx, i, kNames[i]));
      QD_RETURN_IF_ERROR(expect_dtype(*in[i], DType::f32, kNames[i]));
    }
    const Tensor& x = *in[0];
    if (x.rank() < 2) return invalid_input("input 'X' has shape {}: expected rank >= 2 (N, C, ...)", shape_str(x.shape));
    const int64_t channels = x.shape[1];
    int64_t inner = 1;  // elements per (n, c)
    for (int i = 2; i < x.rank(); ++i) inner *= x.shape[static_cast<size_t>(i)];
    // Parameters per channel ([C]) or, with spatial = 0, per activation (X.shape[1:], also
    // accepted flattened).
    const Shape want = spatial_ ? Shape{channels} : Shape(x.shape.begin() + 1, x.shape.end());
    const int64_t params = shape_numel(want);
    for (size_t i = 1; i < 5; ++i) {
      const Shape& s = in[i]->shape;
      if (s != want && !(s == Shape{params}))
        return invalid_input("input '{}' has shape {}: expected {}{}", kNames[i], shape_str(s), shape_str(want),
                             spatial_ ? " (one value per channel)" : " (spatial = 0: one value per activation)");
    }
    QD_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate(0, DType::f32, x.shape));

    std::vector<double> factor(static_cast<size_t>(params));
    const float* scale = in[1]->data<float>();
    const float* bias = in[2]->data<float>();
    const float* mean = in[3]->data<float>();
    const float* var = in[4]->data<float>();
    for (int64_t p = 0; p < params; ++p)
      factor[static_cast<size_t>(p)] =
          static_cast<double>(scale[p]) / std::sqrt(static_cast<double>(var[p]) + static_cast<double>(epsilon_));
    const float* xp = x.data<float>();
    float* yp = y->data<float>();
    const int64_t planes = x.shape[0] * channels;
    const bool per_activation = !spatial_;
#pragma omp parallel for schedule(static)
    for (int64_t plane = 0; plane < planes; ++plane) {
      const int64_t c = plane % channels;
      for (int64_t i = 0; i < inner; ++i) {
        const int64_t p = per_activation ? c * inner + i : c;  // parameter index
        const int64_t e = plane * inner + i;
        yp[e] = static_cast<float>((static_cast<double>(xp[e]) - mean[p]) * factor[static_cast<size_t>(p)] + bias[p]);
      }
    }
    return Status::ok();
  }

 private:
  BatchNormKernel() = default;
  float epsilon_ = 1e-5f;
  bool spatial_ = true;
};

// ---- pools ------------------------------------------------------------------------------

// A pool with its spatial axes padded to three (leading axes of size 1).
struct Pool3d {
  int64_t in[3] = {1, 1, 1};
  int64_t kernel[3] = {1, 1, 1};
  int64_t stride[3] = {1, 1, 1};
  int64_t dilation[3] = {1, 1, 1};
  int64_t pad_begin[3] = {0, 0, 0};
  int64_t pad_end[3] = {0, 0, 0};
  int64_t out[3] = {1, 1, 1};
  int64_t in_plane() const { return in[0] * in[1] * in[2]; }
  int64_t out_plane() const { return out[0] * out[1] * out[2]; }
};

Pool3d to_pool3d(const PoolGeometry& g) {
  Pool3d p;
  const int r = g.spatial_rank();
  for (int i = 0; i < r; ++i) {
    const int j = 3 - r + i;
    p.in[j] = g.in_spatial[i];
    p.kernel[j] = g.kernel[i];
    p.stride[j] = g.strides[i];
    p.dilation[j] = g.dilations[i];
    p.pad_begin[j] = g.pads_begin[i];
    p.pad_end[j] = g.pads_end[i];
    p.out[j] = g.out_spatial[i];
  }
  return p;
}

// AveragePool: y = float(sum / count), the sum over the window's input elements in
// row-major order in double. count = the elements inside the input (count_include_pad =
// 0), or the window clipped to the padded input [-pad_begin, in + pad_end) (= 1):
// with ceil_mode a window may overhang even the padding, and that overhang never counts
// (as ONNX Runtime and ONNX's reference do). A window with nothing to count (no input
// element; with count_include_pad, not even padding: ONNX 1.12 shapes allow a last
// window past the end pad) gives 0/0 = NaN, as numpy's mean of an empty window.
void average_pool(const Pool3d& p, bool count_include_pad, const float* x, float* y, int64_t planes) {
  const int64_t in_plane = p.in_plane();
  const int64_t out_plane = p.out_plane();
#pragma omp parallel for schedule(static)
  for (int64_t plane = 0; plane < planes; ++plane) {
    const float* xc = x + plane * in_plane;
    float* yc = y + plane * out_plane;
    for (int64_t o0 = 0; o0 < p.out[0]; ++o0)
      for (int64_t o1 = 0; o1 < p.out[1]; ++o1)
        for (int64_t o2 = 0; o2 < p.out[2]; ++o2) {
          const int64_t o[3] = {o0, o1, o2};
          int64_t lo[3], hi[3], padded = 1, inside = 1;
          for (int j = 0; j < 3; ++j) {
            const int64_t start = o[j] * p.stride[j] - p.pad_begin[j];
            const int64_t end = std::min(start + p.kernel[j], p.in[j] + p.pad_end[j]);
            padded *= std::max<int64_t>(end - start, 0);  // a window may start past the end pad
            lo[j] = std::max<int64_t>(start, 0);
            hi[j] = std::min(end, p.in[j]);
            inside *= std::max<int64_t>(hi[j] - lo[j], 0);
          }
          double sum = 0.0;
          for (int64_t i0 = lo[0]; i0 < hi[0]; ++i0)
            for (int64_t i1 = lo[1]; i1 < hi[1]; ++i1)
              for (int64_t i2 = lo[2]; i2 < hi[2]; ++i2) sum += xc[(i0 * p.in[1] + i1) * p.in[2] + i2];
          const double count = static_cast<double>(count_include_pad ? padded : inside);
          yc[(o0 * p.out[1] + o1) * p.out[2] + o2] = static_cast<float>(sum / count);
        }
  }
}

// MaxPool: the largest input element of the (dilated) window, padding excluded. Ties go
// to the first element in row-major window order; a NaN wins over numbers (NaN
// propagates, as in ONNX's numpy reference). A window with no input element (possible
// with ceil_mode) gives NaN for f32, the type's lowest value for u8/s8, index -1.
// Indices (int64) are flat over the whole input [N, C, spatial...], the spatial part
// row-major (storage_order 0) or column-major (storage_order 1).
template <typename T>
void max_pool(const Pool3d& p, int64_t storage_order, const T* x, T* y, int64_t* indices, int64_t planes) {
  const int64_t in_plane = p.in_plane();
  const int64_t out_plane = p.out_plane();
  T empty_value;
  if constexpr (std::is_floating_point_v<T>)
    empty_value = std::numeric_limits<T>::quiet_NaN();
  else
    empty_value = std::numeric_limits<T>::lowest();
#pragma omp parallel for schedule(static)
  for (int64_t plane = 0; plane < planes; ++plane) {
    const T* xc = x + plane * in_plane;
    for (int64_t o0 = 0; o0 < p.out[0]; ++o0)
      for (int64_t o1 = 0; o1 < p.out[1]; ++o1)
        for (int64_t o2 = 0; o2 < p.out[2]; ++o2) {
          const int64_t o[3] = {o0, o1, o2};
          // Window taps k in [lo, hi) land inside the input: start + k * dilation in [0, in).
          int64_t start[3], lo[3], hi[3];
          for (int j = 0; j < 3; ++j) {
            start[j] = o[j] * p.stride[j] - p.pad_begin[j];
            lo[j] = std::max<int64_t>(0, ceil_div_signed(-start[j], p.dilation[j]));
            hi[j] = std::min(p.kernel[j], ceil_div_signed(p.in[j] - start[j], p.dilation[j]));
          }
          bool found = false;
          T best = empty_value;
          int64_t best_pos[3] = {0, 0, 0};
          for (int64_t k0 = lo[0]; k0 < hi[0]; ++k0) {
            const int64_t i0 = start[0] + k0 * p.dilation[0];
            for (int64_t k1 = lo[1]; k1 < hi[1]; ++k1) {
              const int64_t i1 = start[1] + k1 * p.dilation[1];
              for (int64_t k2 = lo[2]; k2 < hi[2]; ++k2) {
                const int64_t i2 = start[2] + k2 * p.dilation[2];
                const T v = xc[(i0 * p.in[1] + i1) * p.in[2] + i2];
                bool take = !found;
                if constexpr (std::is_floating_point_v<T>) {
                  if (found && !std::isnan(best)) take = std::isnan(v) || v > best;
                } else {
                  if (found) take = v > best;
                }
                if (take) {
                  best = v;
                  best_pos[0] = i0;
                  best_pos[1] = i1;
                  best_pos[2] = i2;
                  found = true;
                }
              }
            }
          }
          const int64_t e = plane * out_plane + (o0 * p.out[1] + o1) * p.out[2] + o2;
          y[e] = best;
          if (indices) {
            const int64_t spatial = storage_order == 0
                                        ? (best_pos[0] * p.in[1] + best_pos[1]) * p.in[2] + best_pos[2]
                                        : best_pos[0] + best_pos[1] * p.in[0] + best_pos[2] * p.in[0] * p.in[1];
            indices[e] = found ? plane * in_plane + spatial : -1;
          }
        }
  }
}

template <PoolKind kKind>
class PoolKernel final : public Kernel {
 public:
  static Result<std::unique_ptr<Kernel>> create(const Graph&, const Node& node, const ExecOptions&) {
    QD_ASSIGN_OR_RETURN(PoolAttrs attrs, parse_pool_attrs(node, kKind));
    return std::unique_ptr<Kernel>(new PoolKernel(std::move(attrs)));
  }

  Status run(KernelContext& ctx) override {
    QD_ASSIGN_OR_RETURN(const Tensor* x, required_input(ctx, 0, "X"));
    constexpr bool is_max = kKind == PoolKind::max;
    const bool int8 = x->dtype == DType::u8 || x->dtype == DType::s8;
    if (x->dtype != DType::f32 && !(is_max && int8))
      return unsupported("input 'X' has dtype {}; {} takes {}", dtype_name(x->dtype), is_max ? "MaxPool" : "AveragePool",
                         is_max ? "f32, u8 or s8" : "f32");
    QD_ASSIGN_OR_RETURN(PoolGeometry g, pool_geometry(attrs_, x->shape));
    if (g.spatial_rank() > 3)
      return unsupported("pooling over {} spatial dimensions (the reference runs 1-D, 2-D and 3-D)", g.spatial_rank());
    const Shape out_shape = g.output_shape();
    QD_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate(0, x->dtype, out_shape));
    const Pool3d p = to_pool3d(g);
    const int64_t planes = g.batch * g.channels;
    if constexpr (!is_max) {
      average_pool(p, g.count_include_pad, x->data<float>(), y->data<float>(), planes);
      return Status::ok();
    }
    int64_t* indices = nullptr;
    if (output_requested(ctx, 1)) {
      QD_ASSIGN_OR_RETURN(Tensor * ind, ctx.allocate(1, DType::s64, out_shape));
      indices = ind->data<int64_t>();
    }
    switch (x->dtype) {
      case DType::f32: max_pool(p, g.storage_order, x->data<float>(), y->data<float>(), indices, planes); break;
      case DType::u8: max_pool(p, g.storage_order, x->data<uint8_t>(), y->data<uint8_t>(), indices, planes); break;
      case DType::s8: max_pool(p, g.storage_order, x->data<int8_t>(), y->data<int8_t>(), indices, planes); break;
      default: break;
    }
    return Status::ok();
  }

 private:
  explicit PoolKernel(PoolAttrs attrs) : attrs_(std::move(attrs)) {}
  PoolAttrs attrs_;
};

// GlobalAveragePool: y[n, c] = float(sum / count), the sum over the spatial elements in
// row-major order in double. Any rank >= 3 (rank 2 has no spatial axes: y = x).
Status global_average_pool_run(KernelContext& ctx) {
  QD_ASSIGN_OR_RETURN(const Tensor* x, required_input(ctx, 0, "X"));
  QD_RETURN_IF_ERROR(expect_dtype(*x, DType::f32, "X"));
  if (x->rank() < 2) return invalid_input("input 'X' has shape {}: expected rank >= 2 (N, C, ...)", shape_str(x->shape));
  Shape out_shape = x->shape;
  int64_t spatial = 1;
  for (size_t i = 2; i < out_shape.size(); ++i) {
    spatial *= out_shape[i];
    out_shape[i] = 1;
  }
  QD_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate(0, DType::f32, out_shape));
  const float* xp = x->data<float>();
  float* yp = y->data<float>();
  const int64_t planes = x->shape[0] * x->shape[1];
#pragma omp parallel for schedule(static)
  for (int64_t plane = 0; plane < planes; ++plane) {
    double sum = 0.0;
    for (int64_t i = 0; i < spatial; ++i) sum += xp[plane * spatial + i];
    yp[plane] = static_cast<float>(sum / static_cast<double>(spatial));
  }
  return Status::ok();
}

// ---- Softmax ----------------------------------------------------------------------------

// y_i = float(e_i / sum_j e_j) with e_i = exp(x_i - max) in double, the sum in index order.
// Opsets 1-12 coerce the input to 2-D [prod(dims[:axis]), prod(dims[axis:])] (default
// axis 1) and normalise each row; opset 13+ normalises along `axis` alone (default -1).
class SoftmaxKernel final : public Kernel {
 public:
  static Result<std::unique_ptr<Kernel>> create(const Graph& graph, const Node& node, const ExecOptions&) {
    auto k = std::unique_ptr<SoftmaxKernel>(new SoftmaxKernel());
    k->coerce_2d_ = graph.opset < 13;
    QD_ASSIGN_OR_RETURN(k->axis_, checked_attr_int(node, "axis", k->coerce_2d_ ? 1 : -1));
    return std::unique_ptr<Kernel>(std::move(k));
  }

  Status run(KernelContext& ctx) override {
    QD_ASSIGN_OR_RETURN(const Tensor* x, required_input(ctx, 0, "input"));
    QD_RETURN_IF_ERROR(expect_dtype(*x, DType::f32, "input"));
    QD_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(axis_, x->rank(), "attribute 'axis'"));
    QD_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate(0, DType::f32, x->shape));
    // Rows of `len` elements `stride` apart; row r starts at (r / stride) * len * stride + r % stride.
    int64_t outer = 1, len = 1, stride = 1;
    for (int64_t i = 0; i < x->rank(); ++i) {
      const int64_t d = x->shape[static_cast<size_t>(i)];
      if (i < axis)
        outer *= d;
      else if (i == axis || coerce_2d_)
        len *= d;
      else
        stride *= d;
    }
    const float* xp = x->data<float>();
    float* yp = y->data<float>();
    const int64_t rows = outer * stride;
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t base = (r / stride) * len * stride + r % stride;
      if (len == 0) continue;
      float mx = xp[base];
      for (int64_t i = 1; i < len; ++i) mx = std::max(mx, xp[base + i * stride]);
      std::vector<double> e(static_cast<size_t>(len));
      double sum = 0.0;
      for (int64_t i = 0; i < len; ++i) {
        e[static_cast<size_t>(i)] = std::exp(static_cast<double>(xp[base + i * stride]) - static_cast<double>(mx));
        sum += e[static_cast<size_t>(i)];
      }
      for (int64_t i = 0; i < len; ++i) yp[base + i * stride] = static_cast<float>(e[static_cast<size_t>(i)] / sum);
    }
    return Status::ok();
  }

 private:
  SoftmaxKernel() = default;
  bool coerce_2d_ = false;
  int64_t axis_ = -1;
};

// ---- LayerNormalization ----------------------------------------------------------------

// LayerNormalization-17: each row of the dimensions from `axis` on is normalised,
// y = (x - mean) / sqrt(var + epsilon) * Scale + B, the mean and the (biased) variance
// summed in double in row-major order (stash_type 1: float statistics). Scale and B
// broadcast to the normalised shape. Optional outputs Mean and InvStdDev have the input's
// rank with the normalised dimensions set to 1.
class LayerNormKernel final : public Kernel {
 public:
  static Result<std::unique_ptr<Kernel>> create(const Graph&, const Node& node, const ExecOptions&) {
    auto k = std::unique_ptr<LayerNormKernel>(new LayerNormKernel());
    QD_ASSIGN_OR_RETURN(k->axis_, checked_attr_int(node, "axis", -1));
    k->epsilon_ = node.attr_float("epsilon", 1e-5f);
    if (!(k->epsilon_ >= 0.f) || !std::isfinite(k->epsilon_))
      return invalid_input("attribute 'epsilon' is {}: expected a finite value >= 0", k->epsilon_);
    QD_ASSIGN_OR_RETURN(int64_t stash, checked_attr_int(node, "stash_type", 1));
    if (stash != 1) return unsupported("attribute 'stash_type' {} (only 1, float statistics, is supported)", stash);
    return std::unique_ptr<Kernel>(std::move(k));
  }

  Status run(KernelContext& ctx) override {
    QD_ASSIGN_OR_RETURN(const Tensor* x, required_input(ctx, 0, "X"));
    QD_ASSIGN_OR_RETURN(const Tensor* scale, required_input(ctx, 1, "Scale"));
    const Tensor* bias = optional_input(ctx, 2);
    QD_RETURN_IF_ERROR(expect_dtype(*x, DType::f32, "X"));
    QD_RETURN_IF_ERROR(expect_dtype(*scale, DType::f32, "Scale"));
    if (bias) {
      QD_RETURN_IF_ERROR(expect_dtype(*bias, DType::f32, "B"));
    }
    QD_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(axis_, x->rank(), "attribute 'axis'"));
    const Shape inner_shape(x->shape.begin() + axis, x->shape.end());
    if (!broadcasts_to(scale->shape, inner_shape))
      return invalid_input("input 'Scale' {} does not broadcast to the normalised shape {}", shape_str(scale->shape),
                           shape_str(inner_shape));
    if (bias && !broadcasts_to(bias->shape, inner_shape))
      return invalid_input("input 'B' {} does not broadcast to the normalised shape {}", shape_str(bias->shape),
                           shape_str(inner_shape));
    const int64_t inner = shape_numel(inner_shape);
    const int64_t outer = inner > 0 ? x->numel() / inner : 0;
    // Scale and B expanded to one value per normalised element.
    auto expand = [&](const Tensor& t) {
      std::vector<float> v(static_cast<size_t>(inner));
      const size_t lead = inner_shape.size() - t.shape.size();
      for (int64_t i = 0; i < inner; ++i) {
        int64_t rem = i, src = 0, stride = 1;
        for (size_t d = inner_shape.size(); d-- > 0;) {
          const int64_t c = rem % inner_shape[d];
          rem /= inner_shape[d];
          if (d >= lead) {
            const int64_t td = t.shape[d - lead];
            src += (td == 1 ? 0 : c) * stride;
            stride *= td;
          }
        }
        v[static_cast<size_t>(i)] = t.data<float>()[src];
      }
      return v;
    };
    const std::vector<float> gamma = expand(*scale);
    const std::vector<float> beta = bias ? expand(*bias) : std::vector<float>(static_cast<size_t>(inner), 0.f);
    QD_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate(0, DType::f32, x->shape));
    Shape stat_shape = x->shape;
    for (size_t d = static_cast<size_t>(axis); d < stat_shape.size(); ++d) stat_shape[d] = 1;
    Tensor* mean_out = nullptr;
    Tensor* inv_out = nullptr;
    if (output_requested(ctx, 1)) {
      QD_ASSIGN_OR_RETURN(mean_out, ctx.allocate(1, DType::f32, stat_shape));
    }
    if (output_requested(ctx, 2)) {
      QD_ASSIGN_OR_RETURN(inv_out, ctx.allocate(2, DType::f32, stat_shape));
    }
    const float* xp = x->data<float>();
    float* yp = y->data<float>();
    for (int64_t r = 0; r < outer; ++r) {
      const float* row = xp + r * inner;
      double sum = 0.0;
      for (int64_t i = 0; i < inner; ++i) sum += row[i];
      const double mean = sum / static_cast<double>(inner);
      double sq = 0.0;
      for (int64_t i = 0; i < inner; ++i) sq += (row[i] - mean) * (row[i] - mean);
      const double inv = 1.0 / std::sqrt(sq / static_cast<double>(inner) + static_cast<double>(epsilon_));
      for (int64_t i = 0; i < inner; ++i)
        yp[r * inner + i] = static_cast<float>((row[i] - mean) * inv * gamma[static_cast<size_t>(i)] +
                                               beta[static_cast<size_t>(i)]);
      if (mean_out) mean_out->data<float>()[r] = static_cast<float>(mean);
      if (inv_out) inv_out->data<float>()[r] = static_cast<float>(inv);
    }
    return Status::ok();
  }

 private:
  LayerNormKernel() = default;
  int64_t axis_ = -1;
  float epsilon_ = 1e-5f;
};

// ---- ReduceMean -------------------------------------------------------------------------

// y = float(sum / count) per output element, the sum over the reduced elements in
// row-major input order, in double. `axes` (attribute, opsets 1-17) may be negative;
// absent or empty reduces every axis.
class ReduceMeanKernel final : public Kernel {
 public:
  static Result<std::unique_ptr<Kernel>> create(const Graph&, const Node& node, const ExecOptions&) {
    auto k = std::unique_ptr<ReduceMeanKernel>(new ReduceMeanKernel());
    QD_ASSIGN_OR_RETURN(k->axes_, checked_attr_ints(node, "axes"));
    QD_ASSIGN_OR_RETURN(int64_t keepdims, checked_attr_int(node, "keepdims", 1));
    k->keepdims_ = keepdims != 0;
    if (node.input(1) != kNoValue)
      return unsupported("axes given as an input (opset 18 form); this reference reads the opset 1-17 attribute");
    return std::unique_ptr<Kernel>(std::move(k));
  }

  Status run(KernelContext& ctx) override {
    QD_ASSIGN_OR_RETURN(const Tensor* x, required_input(ctx, 0, "data"));
    QD_RETURN_IF_ERROR(expect_dtype(*x, DType::f32, "data"));
    const int64_t rank = x->rank();
    std::vector<bool> reduced(static_cast<size_t>(rank), axes_.empty());
    for (int64_t a : axes_) {
      QD_ASSIGN_OR_RETURN(int64_t ax, normalize_axis(a, rank, "attribute 'axes' value"));
      if (reduced[static_cast<size_t>(ax)])
        return invalid_input("attribute 'axes' names axis {} twice", ax);
      reduced[static_cast<size_t>(ax)] = true;
    }
    Shape out_shape, kept_shape;  // kept_shape: the output with reduced axes as 1
    int64_t count = 1;
    for (int64_t i = 0; i < rank; ++i) {
      const int64_t d = x->shape[static_cast<size_t>(i)];
      if (reduced[static_cast<size_t>(i)]) {
        count *= d;
        kept_shape.push_back(1);
        if (keepdims_) out_shape.push_back(1);
      } else {
        kept_shape.push_back(d);
        out_shape.push_back(d);
      }
    }
    QD_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate(0, DType::f32, out_shape));
    // Each input element, in row-major order, adds into the output element it reduces to
    // (the output read as `kept_shape` broadcast to the input's shape).
    std::vector<double> sum(static_cast<size_t>(y->numel()), 0.0);
    const float* xp = x->data<float>();
    BroadcastCursor target(x->shape, {&kept_shape});
    for (int64_t e = 0; e < x->numel(); ++e, target.next()) sum[static_cast<size_t>(target.offset(0))] += xp[e];
    float* yp = y->data<float>();
    for (size_t i = 0; i < sum.size(); ++i) yp[i] = static_cast<float>(sum[i] / static_cast<double>(count));
    return Status::ok();
  }

 private:
  ReduceMeanKernel() = default;
  std::vector<int64_t> axes_;
  bool keepdims_ = true;
};

}  // namespace

void register_nn_ops(KernelTable& table) {
  set_kernel<ConvKernel>(table, OpKind::Conv);
  set_kernel<GemmKernel>(table, OpKind::Gemm);
  set_kernel<FunctionKernel<matmul_run>>(table, OpKind::MatMul);
  set_kernel<BatchNormKernel>(table, OpKind::BatchNormalization);
  set_kernel<FunctionKernel<global_average_pool_run>>(table, OpKind::GlobalAveragePool);
  set_kernel<PoolKernel<PoolKind::average>>(table, OpKind::AveragePool);
  set_kernel<PoolKernel<PoolKind::max>>(table, OpKind::MaxPool);
  set_kernel<SoftmaxKernel>(table, OpKind::Softmax);
  set_kernel<ReduceMeanKernel>(table, OpKind::ReduceMean);
  set_kernel<LayerNormKernel>(table, OpKind::LayerNormalization);
}

}  // namespace qdrift::ref
