// nn_common.h: input checks, broadcasting, and the direct convolution and matrix-product
// loops shared by the float (nn.cpp) and integer (integer.cpp) reference kernels.
// Private to kernels/ref.
//
//   Conv3d g = to_conv3d(geometry);                       // 1-D/2-D/3-D as 3-D
//   std::vector<double> acc(g.out_plane(), 0.0);
//   conv_accumulate<float, double>(g, x_of_group, w_of_channel, acc.data());
//
// Summation order (the determinism contract of the reference): every output element is
// the sum of its products in a fixed order, input channel ci ascending, then kernel
// offsets kd, kh, kw ascending (matrix products: k ascending), added one by one into its
// own accumulator. Loops over output positions sit inside the reduction loops, so they
// vectorise across outputs and never reorder a sum: the result does not depend on the
// compiler's vector width nor on the thread count.
//
// Accumulators: float kernels accumulate in double (each f32 x f32 product is exact in
// double); integer kernels accumulate in uint32, which is int32 arithmetic with the
// wrap-around ONNX's int32 accumulation has, without signed-overflow UB.
#pragma once

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <string_view>
#include <vector>

#include "core/executor.h"
#include "core/op_attrs.h"

namespace qdrift::ref {

// ---- input checks (messages name the input; the executor prefixes the node) -----------

// Input i, or invalid_input when it is missing or omitted.
inline Result<const Tensor*> required_input(const KernelContext& ctx, size_t i, std::string_view name) {
  const Tensor* t = ctx.input(i);
  if (!t || t->empty()) return invalid_input("required input {} '{}' is missing", i, name);
  return t;
}

// Input i or nullptr when omitted.
inline const Tensor* optional_input(const KernelContext& ctx, size_t i) {
  const Tensor* t = ctx.input(i);
  return t && !t->empty() ? t : nullptr;
}

inline Status expect_dtype(const Tensor& t, DType want, std::string_view name) {
  if (t.dtype != want)
    return unsupported("input '{}' has dtype {}; this kernel takes {}", name, dtype_name(t.dtype), dtype_name(want));
  return Status::ok();
}

// True when output i exists in the node (not omitted).
inline bool output_requested(const KernelContext& ctx, size_t i) {
  return i < ctx.node.outputs.size() && ctx.node.outputs[i] != kNoValue;
}

// ---- broadcasting ----------------------------------------------------------------------

// numpy (multidirectional) broadcast of two shapes.
inline Result<Shape> broadcast_shapes(const Shape& a, const Shape& b, std::string_view a_name,
                                      std::string_view b_name) {
  const size_t rank = std::max(a.size(), b.size());
  Shape out(rank, 1);
  for (size_t i = 0; i < rank; ++i) {
    const int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    const int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (da != db && da != 1 && db != 1)
      return invalid_input("inputs '{}' {} and '{}' {} cannot be broadcast together", a_name, shape_str(a), b_name,
                           shape_str(b));
    out[i] = da == 1 ? db : da;
  }
  return out;
}

// True when `in` broadcasts to `out` unidirectionally (numpy rules, `out` unchanged).
inline bool broadcasts_to(const Shape& in, const Shape& out) {
  if (in.size() > out.size()) return false;
  const size_t lead = out.size() - in.size();
  for (size_t i = 0; i < in.size(); ++i)
    if (in[i] != 1 && in[i] != out[lead + i]) return false;
  return true;
}

// Element strides of `in` read as `out` under numpy broadcasting (0 on broadcast axes),
// one per axis of `out`. `in` must broadcast to `out`.
inline std::vector<int64_t> broadcast_strides(const Shape& in, const Shape& out) {
  const size_t lead = out.size() - in.size();
  std::vector<int64_t> stride(out.size(), 0);
  int64_t s = 1;
  for (size_t i = in.size(); i-- > 0;) {
    stride[lead + i] = in[i] == 1 ? 0 : s;
    s *= in[i];
  }
  return stride;
}

// Walks the elements of `out` in row-major order and tracks, for each input shape that
// broadcasts to `out`, the flat offset of the element it reads; no index table is built.
//
//   BroadcastCursor cur(out_shape, {&a.shape, &b.shape});
//   for (int64_t e = 0; e < n; ++e, cur.next()) y[e] = a[cur.offset(0)] + b[cur.offset(1)];
class BroadcastCursor {
 public:
  BroadcastCursor(const Shape& out, std::initializer_list<const Shape*> ins)
      : out_(out), index_(out.size(), 0), offset_(ins.size(), 0) {
    for (const Shape* in : ins) stride_.push_back(broadcast_strides(*in, out));
  }
  int64_t offset(size_t input) const { return offset_[input]; }
  void next() {
    for (size_t ax = out_.size(); ax-- > 0;) {  // odometer, last axis fastest
      for (size_t i = 0; i < offset_.size(); ++i) offset_[i] += stride_[i][ax];
      if (++index_[ax] < out_[ax]) return;
      for (size_t i = 0; i < offset_.size(); ++i) offset_[i] -= stride_[i][ax] * out_[ax];
      index_[ax] = 0;
    }
  }

 private:
  Shape out_;
  std::vector<int64_t> index_;
  std::vector<int64_t> offset_;
  std::vector<std::vector<int64_t>> stride_;
};

// For each element of `out` (row-major), the flat offset of the element of `in` it reads
// under numpy broadcasting (for small shapes such as matmul batch dims).
inline std::vector<int64_t> broadcast_offsets(const Shape& in, const Shape& out) {
  std::vector<int64_t> offsets(static_cast<size_t>(shape_numel(out)));
  BroadcastCursor cur(out, {&in});
  for (size_t e = 0; e < offsets.size(); ++e, cur.next()) offsets[e] = cur.offset(0);
  return offsets;
}

// Strides of a Gemm bias C (rank <= 2) broadcast to [M, N]: C[m, n] is at
// m * row + n * col.
struct MatrixStrides {
  int64_t row = 0;
  int64_t col = 0;
};
inline MatrixStrides bias_strides(const Shape& c, int64_t m, int64_t n) {
  const std::vector<int64_t> s = broadcast_strides(c, Shape{m, n});
  return {s[0], s[1]};
}

// ---- inputs shared by the float and integer kernels ---------------------------------------

// Gemm / QGemm: A' = transA ? A^T : A is [M, K], B' likewise [K, N]; both inputs matrices.
struct GemmDims {
  int64_t m = 0, k = 0, n = 0;
  Shape out() const { return {m, n}; }
};
inline Result<GemmDims> gemm_dims(const Tensor& a, const Tensor& b, bool trans_a, bool trans_b, std::string_view op) {
  if (a.rank() != 2) return invalid_input("input 'A' has shape {}: {} needs a matrix", shape_str(a.shape), op);
  if (b.rank() != 2) return invalid_input("input 'B' has shape {}: {} needs a matrix", shape_str(b.shape), op);
  GemmDims d;
  d.m = trans_a ? a.shape[1] : a.shape[0];
  d.k = trans_a ? a.shape[0] : a.shape[1];
  const int64_t kb = trans_b ? b.shape[1] : b.shape[0];
  d.n = trans_b ? b.shape[0] : b.shape[1];
  if (d.k != kb)
    return invalid_input("inputs 'A' {} (transA={}) and 'B' {} (transB={}): inner dimensions {} and {} differ",
                         shape_str(a.shape), trans_a ? 1 : 0, shape_str(b.shape), trans_b ? 1 : 0, d.k, kb);
  return d;
}

// Gemm's C (f32) or QGemm's (s32): broadcasts unidirectionally to [M, N]; where each
// C[m, n] is.
inline Result<MatrixStrides> gemm_c_strides(const Tensor& c, DType type, const GemmDims& d) {
  QD_RETURN_IF_ERROR(expect_dtype(c, type, "C"));
  if (!broadcasts_to(c.shape, d.out()))
    return invalid_input("input 'C' has shape {}: it must broadcast to [M, N] = {}", shape_str(c.shape),
                         shape_str(d.out()));
  return bias_strides(c.shape, d.m, d.n);
}

// A convolution's bias input 'B': `type`, one per output channel.
inline Status expect_conv_bias(const Tensor& b, DType type, int64_t out_channels) {
  QD_RETURN_IF_ERROR(expect_dtype(b, type, "B"));
  if (b.rank() != 1 || b.shape[0] != out_channels)
    return invalid_input("input 'B' has shape {}: expected [{}] (one {} bias per output channel)", shape_str(b.shape),
                         out_channels, dtype_name(type));
  return Status::ok();
}

// numpy matmul shapes: a [..., M, K] (or [K]), b [..., K, N] (or [K]); batch dims
// broadcast; a 1-D a gains and loses a leading 1, a 1-D b a trailing 1.
struct MatMulShape {
  int64_t m = 1, k = 1, n = 1;
  int64_t batch = 1;                    // number of [M, N] products
  std::vector<int64_t> a_batch_offset;  // per product: index of the [M, K] matrix of a
  std::vector<int64_t> b_batch_offset;  // per product: index of the [K, N] matrix of b
  Shape out;
};

inline Result<MatMulShape> matmul_shape(const Shape& a, const Shape& b, std::string_view a_name,
                                        std::string_view b_name) {
  if (a.empty() || b.empty())
    return invalid_input("inputs '{}' {} and '{}' {}: matmul needs rank >= 1", a_name, shape_str(a), b_name,
                         shape_str(b));
  MatMulShape r;
  const bool a_vec = a.size() == 1;
  const bool b_vec = b.size() == 1;
  r.m = a_vec ? 1 : a[a.size() - 2];
  r.k = a.back();
  const int64_t kb = b_vec ? b[0] : b[b.size() - 2];
  r.n = b_vec ? 1 : b.back();
  if (kb != r.k)
    return invalid_input("inputs '{}' {} and '{}' {}: inner dimensions {} and {} differ", a_name, shape_str(a),
                         b_name, shape_str(b), r.k, kb);
  const Shape a_batch = a_vec ? Shape{} : Shape(a.begin(), a.end() - 2);
  const Shape b_batch = b_vec ? Shape{} : Shape(b.begin(), b.end() - 2);
  QD_ASSIGN_OR_RETURN(Shape batch, broadcast_shapes(a_batch, b_batch, a_name, b_name));
  r.batch = shape_numel(batch);
  r.a_batch_offset = broadcast_offsets(a_batch, batch);
  r.b_batch_offset = broadcast_offsets(b_batch, batch);
  r.out = batch;
  if (!a_vec) r.out.push_back(r.m);
  if (!b_vec) r.out.push_back(r.n);
  return r;
}

// ---- loops -----------------------------------------------------------------------------

// A convolution with its spatial axes padded to three (leading axes of size 1).
struct Conv3d {
  int64_t in[3] = {1, 1, 1};
  int64_t kernel[3] = {1, 1, 1};
  int64_t stride[3] = {1, 1, 1};
  int64_t dilation[3] = {1, 1, 1};
  int64_t pad[3] = {0, 0, 0};  // begin pads; end pads only shape the output
  int64_t out[3] = {1, 1, 1};
  int64_t in_channels_per_group = 1;

  int64_t in_plane() const { return in[0] * in[1] * in[2]; }
  int64_t kernel_plane() const { return kernel[0] * kernel[1] * kernel[2]; }
  int64_t out_plane() const { return out[0] * out[1] * out[2]; }
};

// Spatial rank must be 1..3 (callers report larger ranks as unsupported).
inline Conv3d to_conv3d(const ConvGeometry& g) {
  Conv3d c;
  const int r = g.spatial_rank();
  for (int i = 0; i < r; ++i) {
    const int j = 3 - r + i;
    c.in[j] = g.in_spatial[i];
    c.kernel[j] = g.kernel[i];
    c.stride[j] = g.strides[i];
    c.dilation[j] = g.dilations[i];
    c.pad[j] = g.pads_begin[i];
    c.out[j] = g.out_spatial[i];
  }
  c.in_channels_per_group = g.in_channels_per_group();
  return c;
}

// ceil(a / b) for b > 0 and any sign of a.
inline int64_t ceil_div_signed(int64_t a, int64_t b) { return a >= 0 ? (a + b - 1) / b : -((-a) / b); }

// Output positions o in [lo, hi) whose input position o*stride - pad + offset lies in
// [0, in); the others read padding, which contributes nothing.
inline void valid_outputs(int64_t in, int64_t out, int64_t stride, int64_t pad, int64_t offset, int64_t& lo,
                          int64_t& hi) {
  lo = std::max<int64_t>(0, ceil_div_signed(pad - offset, stride));
  hi = std::min<int64_t>(out, ceil_div_signed(in + pad - offset, stride));
  if (hi < lo) hi = lo;
}

// acc[o] += sum over (ci, kd, kh, kw) of Acc(w) * Acc(x), for one output channel of one
// image. `x` points at the first input channel of the output channel's group, `w` at the
// output channel's filter [Cg, kd, kh, kw]; acc has out_plane() elements.
template <typename In, typename Acc>
void conv_accumulate(const Conv3d& g, const In* x, const In* w, Acc* acc) {
  const int64_t in_plane = g.in_plane();
  const int64_t k_plane = g.kernel_plane();
  for (int64_t ci = 0; ci < g.in_channels_per_group; ++ci) {
    const In* xc = x + ci * in_plane;
    const In* wc = w + ci * k_plane;
    for (int64_t kd = 0; kd < g.kernel[0]; ++kd) {
      int64_t d_lo, d_hi;
      valid_outputs(g.in[0], g.out[0], g.stride[0], g.pad[0], kd * g.dilation[0], d_lo, d_hi);
      for (int64_t kh = 0; kh < g.kernel[1]; ++kh) {
        int64_t h_lo, h_hi;
        valid_outputs(g.in[1], g.out[1], g.stride[1], g.pad[1], kh * g.dilation[1], h_lo, h_hi);
        for (int64_t kw = 0; kw < g.kernel[2]; ++kw) {
          int64_t w_lo, w_hi;
          const int64_t w_off = kw * g.dilation[2] - g.pad[2];
          valid_outputs(g.in[2], g.out[2], g.stride[2], g.pad[2], kw * g.dilation[2], w_lo, w_hi);
          const Acc wv = static_cast<Acc>(wc[(kd * g.kernel[1] + kh) * g.kernel[2] + kw]);
          const int64_t sw = g.stride[2];
          for (int64_t od = d_lo; od < d_hi; ++od) {
            const int64_t id = od * g.stride[0] - g.pad[0] + kd * g.dilation[0];
            for (int64_t oh = h_lo; oh < h_hi; ++oh) {
              const int64_t ih = oh * g.stride[1] - g.pad[1] + kh * g.dilation[1];
              const In* xrow = xc + (id * g.in[1] + ih) * g.in[2];  // row start: in bounds
              Acc* arow = acc + (od * g.out[1] + oh) * g.out[2];
              if (sw == 1) {
#pragma omp simd
                for (int64_t ow = w_lo; ow < w_hi; ++ow) arow[ow] += wv * static_cast<Acc>(xrow[ow + w_off]);
              } else {
#pragma omp simd
                for (int64_t ow = w_lo; ow < w_hi; ++ow) arow[ow] += wv * static_cast<Acc>(xrow[ow * sw + w_off]);
              }
            }
          }
        }
      }
    }
  }
}

// acc[n] += sum over k of Acc(a[k]) * Acc(b[k * n_cols + n]), k ascending: one row of a
// matrix product with `b` row-major [K, N].
template <typename In, typename Acc>
void matmul_row_accumulate(const In* a, const In* b, int64_t k_dim, int64_t n_cols, Acc* acc) {
  for (int64_t k = 0; k < k_dim; ++k) {
    const Acc av = static_cast<Acc>(a[k]);
    const In* brow = b + k * n_cols;
#pragma omp simd
    for (int64_t n = 0; n < n_cols; ++n) acc[n] += av * static_cast<Acc>(brow[n]);
  }
}

}  // namespace qdrift::ref
