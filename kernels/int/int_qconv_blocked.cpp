// int_qconv_blocked.cpp: the integer oracle's QConv and QMatMul (int_kernel_table()):
// the arithmetic of int_qconv.cpp's simple form, in loops a compiler vectorizes.
//
//   - operands centered once: x - zp_x per run (channels-last int32, so padding, where the
//     simple form skips the tap, and a centered zero are the same thing), w - zp_w[oc] at
//     kernel creation, arranged [group][tap][ic][oc] (depthwise: [tap][channel]);
//   - the accumulator is a row of output channels for a block of output positions, and the
//     innermost loop runs over contiguous output channels: acc[c] += x * w[c];
//   - accumulation in uint32: int32 arithmetic modulo 2^32, what the simple form's int64
//     sum cast to int32 gives, and exact integers, so the order of the sum does not matter;
//   - the epilogue (core/lowered_ops.h) per element with the same f32 steps as the simple
//     form (intk::apply_post_op, intk::store), over channel vectors.
// OpenMP splits output rows; every output is computed by one thread, in integers.
// Bit-identical to the simple form, which tests check on random geometries and on the
// bundled models.
#include <algorithm>
#include <array>
#include <memory>
#include <vector>

#include "core/op_attrs.h"
#include "kernels/int/int_ops.h"

namespace qdrift::intk {

namespace {

using KernelPtr = Result<std::unique_ptr<Kernel>>;

constexpr int64_t kPositions = 16;  // output positions per accumulator block (one AVX-512 vector of f32)
constexpr int64_t kChannels = 256;  // output channels per accumulator block

// Epilogue parameters read at creation, and the per-run bias, sum and output.
struct BlockEpilogue {
  LoweredParams params;
  DType y_dtype = DType::undefined;
  int32_t zp_x = 0, zp_y = 0;
  std::vector<float> scale;  // per output channel
  std::vector<float> bias;   // per output channel (f32 or s32 converted), empty without bias
  const Tensor* sum = nullptr;
  Tensor* y = nullptr;

  static Result<BlockEpilogue> create(const Graph& g, const Node& n) {
    BlockEpilogue e;
    QD_ASSIGN_OR_RETURN(e.params, parse_lowered_params(n));
    e.y_dtype = g.value(n.outputs[0]).dtype;
    if (e.y_dtype != DType::f32) {
      QD_ASSIGN_OR_RETURN(e.zp_y, per_tensor_zero_point(g, n.outputs[0], "output"));
    }
    QD_ASSIGN_OR_RETURN(e.zp_x, per_tensor_zero_point(g, n.inputs[0], "input"));
    return e;
  }

  // Per run, after the simple form's checks passed for these inputs.
  void bind(const KernelContext& ctx, Tensor* out, int64_t channels) {
    y = out;
    sum = ctx.input(3);
    scale.resize(static_cast<size_t>(channels));
    for (int64_t c = 0; c < channels; ++c) scale[static_cast<size_t>(c)] = params.output_scale(c);
    bias.clear();
    if (const Tensor* b = ctx.input(2)) {
      bias.resize(static_cast<size_t>(channels));
      for (int64_t c = 0; c < channels; ++c)
        bias[static_cast<size_t>(c)] =
            b->dtype == DType::s32 ? static_cast<float>(b->data<int32_t>()[c]) : b->data<float>()[c];
    }
  }

  // Outputs of channels [c0, c0 + count) at flat positions out_index(c) = base + c * stride,
  // from their accumulators; `v` and `s` are scratch of `count` floats.
  void store(const uint32_t* acc, int64_t c0, int64_t count, int64_t base, int64_t stride, float* v, float* s) const {
    for (int64_t j = 0; j < count; ++j) v[j] = static_cast<float>(static_cast<int32_t>(acc[j]));
    if (!bias.empty())
      for (int64_t j = 0; j < count; ++j) v[j] += bias[static_cast<size_t>(c0 + j)];
    for (int64_t j = 0; j < count; ++j) v[j] *= scale[static_cast<size_t>(c0 + j)];
    if (!params.post_ops.empty()) {
      for (int64_t j = 0; j < count; ++j) s[j] = 0.f;
      if (sum) {
        const int64_t at = base + c0 * stride;
        switch (sum->dtype) {
          case DType::u8: gather(sum->data<uint8_t>() + at, stride, count, s); break;
          case DType::s8: gather(sum->data<int8_t>() + at, stride, count, s); break;
          case DType::s32: gather(sum->data<int32_t>() + at, stride, count, s); break;
          case DType::f32: gather(sum->data<float>() + at, stride, count, s); break;
          default: QD_ASSERT(false);
        }
      }
      for (const PostOp& op : params.post_ops)
        for (int64_t j = 0; j < count; ++j) v[j] = apply_post_op(op, v[j], s[j]);
    }
    const float zp = static_cast<float>(zp_y);
    const int64_t at = base + c0 * stride;
    switch (y_dtype) {
      case DType::f32: {
        float* out = y->data<float>() + at;
        for (int64_t j = 0; j < count; ++j) out[j * stride] = v[j];
        break;
      }
      case DType::u8: scatter<uint8_t>(v, zp, count, y->data<uint8_t>() + at, stride); break;
      case DType::s8: scatter<int8_t>(v, zp, count, y->data<int8_t>() + at, stride); break;
      case DType::s32: scatter<int32_t>(v, zp, count, y->data<int32_t>() + at, stride); break;
      default: QD_ASSERT(false);
    }
  }

  // The outputs of a block of accumulators acc[q * bc + j] (position q < np, channel
  // c0 + j, j < nc), element (q, j) at y[base + j * stride + q]: channel by channel over
  // contiguous positions, each element through the same f32 steps as store() and the
  // simple form. `v` and `s` are scratch of np floats.
  [[gnu::always_inline]] inline void store_positions(const uint32_t* acc, int64_t bc, int64_t np, int64_t c0,
                                                     int64_t nc, int64_t base, int64_t stride, float* v,
                                                     float* s) const {
    const float zp = static_cast<float>(zp_y);
    for (int64_t j = 0; j < nc; ++j) {
      const int64_t c = c0 + j, at = base + j * stride;
      for (int64_t q = 0; q < np; ++q) v[q] = static_cast<float>(static_cast<int32_t>(acc[q * bc + j]));
      if (!bias.empty()) {
        const float b = bias[static_cast<size_t>(c)];
        for (int64_t q = 0; q < np; ++q) v[q] += b;
      }
      const float sc = scale[static_cast<size_t>(c)];
      for (int64_t q = 0; q < np; ++q) v[q] *= sc;
      if (!params.post_ops.empty()) {
        for (int64_t q = 0; q < np; ++q) s[q] = 0.f;
        if (sum) {
          switch (sum->dtype) {
            case DType::u8: gather(sum->data<uint8_t>() + at, 1, np, s); break;
            case DType::s8: gather(sum->data<int8_t>() + at, 1, np, s); break;
            case DType::s32: gather(sum->data<int32_t>() + at, 1, np, s); break;
            case DType::f32: gather(sum->data<float>() + at, 1, np, s); break;
            default: QD_ASSERT(false);
          }
        }
        for (const PostOp& op : params.post_ops)
          for (int64_t q = 0; q < np; ++q) v[q] = apply_post_op(op, v[q], s[q]);
      }
      switch (y_dtype) {
        case DType::f32: std::copy(v, v + np, y->data<float>() + at); break;
        case DType::u8: scatter<uint8_t>(v, zp, np, y->data<uint8_t>() + at, 1); break;
        case DType::s8: scatter<int8_t>(v, zp, np, y->data<int8_t>() + at, 1); break;
        case DType::s32: scatter<int32_t>(v, zp, np, y->data<int32_t>() + at, 1); break;
        default: QD_ASSERT(false);
      }
    }
  }

  // s[j] = f32(src[j * stride]): the simple form's sum value (exact for u8/s8/f32; s32 the
  // same single rounding as its double-then-float).
  template <typename T>
  [[gnu::always_inline]] static void gather(const T* src, int64_t stride, int64_t count, float* s) {
    for (int64_t j = 0; j < count; ++j) s[j] = static_cast<float>(src[j * stride]);
  }
  template <typename T>
  [[gnu::always_inline]] static void scatter(const float* v, float zp, int64_t count, T* out, int64_t stride) {
    for (int64_t j = 0; j < count; ++j) out[j * stride] = intk::store<T>(v[j] + zp);
  }
};

// Centered int32 copy of an int8 tensor's elements, optionally moved channels-last.
void center(const Tensor& t, int32_t zp, std::vector<int32_t>& out) {
  out.resize(static_cast<size_t>(t.numel()));
  dispatch_int8(t.dtype, [&](auto tag) {
    using T = decltype(tag);
    const T* p = t.data<T>();
    for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<int32_t>(p[i]) - zp;
  });
}
void center_channels_last(const Tensor& t, int32_t zp, int64_t batch, int64_t channels, int64_t plane,
                          std::vector<int32_t>& out) {
  out.resize(static_cast<size_t>(t.numel()));
  dispatch_int8(t.dtype, [&](auto tag) {
    using T = decltype(tag);
    const T* p = t.data<T>();
    for (int64_t n = 0; n < batch; ++n)
      for (int64_t c = 0; c < channels; ++c) {
        const T* src = p + (n * channels + c) * plane;
        int32_t* dst = out.data() + n * channels * plane + c;
        for (int64_t i = 0; i < plane; ++i) dst[i * channels] = static_cast<int32_t>(src[i]) - zp;
      }
  });
}

// acc[0, n) += x * w[0, n): the inner loop of both kernels.
inline void multiply_add(uint32_t* __restrict acc, int32_t x, const int32_t* __restrict w, int64_t n) {
  const uint32_t xv = static_cast<uint32_t>(x);
  for (int64_t j = 0; j < n; ++j) acc[j] += xv * static_cast<uint32_t>(w[j]);
}

// A kTileRows x kTileChannels block of sums kept in registers over the whole input-channel
// loop: acc_q[j0 + j] += sum_ic x_q[x0 + ic] * w[ic * ldw + j] (the same integers, added
// in another order, which uint32 arithmetic does not see).
constexpr int64_t kTileRows = 4;
constexpr int64_t kTileChannels = 16;
[[gnu::always_inline]] inline void tile_multiply_add(uint32_t* const* acc, const int32_t* const* x, int64_t x0,
                                                     const int32_t* w, int64_t ldw, int64_t cg, int64_t j0) {
  uint32_t t[kTileRows][kTileChannels] = {};
  for (int64_t ic = 0; ic < cg; ++ic) {
    const int32_t* wr = w + ic * ldw;
    for (int64_t q = 0; q < kTileRows; ++q) {
      const uint32_t xv = static_cast<uint32_t>(x[q][x0 + ic]);
      for (int64_t j = 0; j < kTileChannels; ++j) t[q][j] += xv * static_cast<uint32_t>(wr[j]);
    }
  }
  for (int64_t q = 0; q < kTileRows; ++q)
    for (int64_t j = 0; j < kTileChannels; ++j) acc[q][j0 + j] += t[q][j];
}

// One output row (n, oz, oy) of a QConv: everything conv_row needs, fixed per run.
struct ConvRows {
  const BlockEpilogue& epilogue;
  const int32_t* xcl;  // centered x, channels-last
  const int32_t* wp;   // arranged centered weights
  std::array<int64_t, 3> in, out, k, s, d, p;
  int64_t C, M, G, cg, mg, taps, in_plane, out_plane;
  bool depthwise;
  int64_t block_channels;
};

// The hot loops, compiled for x86-64, AVX2 (v3) and AVX-512 (v4), picked at load time (GCC function
// multiversioning: the same C++ source, so the same integers and the same f32 steps).
__attribute__((target_clones("default", "arch=x86-64-v3", "arch=x86-64-v4"))) void conv_row(
    const ConvRows& r, int64_t row, uint32_t* acc, float* v, float* sv) {
  const auto& in = r.in;
  const auto& out = r.out;
  const auto& k = r.k;
  const auto& s = r.s;
  const auto& d = r.d;
  const auto& p = r.p;
  const int64_t bc = r.block_channels;
  const int64_t nb = row / (out[0] * out[1]);
  const int64_t oz = row / out[1] % out[0], oy = row % out[1];
  const int32_t* ximg = r.xcl + nb * r.in_plane * r.C;
  // Output channel blocks: within a group (dense/grouped) or across channels (depthwise).
  const int64_t groups = r.depthwise ? 1 : r.G;
  const int64_t per_group = r.depthwise ? r.M : r.mg;
  for (int64_t ox0 = 0; ox0 < out[2]; ox0 += kPositions) {
    const int64_t np = std::min(kPositions, out[2] - ox0);
    for (int64_t grp = 0; grp < groups; ++grp)
      for (int64_t c0 = 0; c0 < per_group; c0 += bc) {
        const int64_t nc = std::min(bc, per_group - c0);
        for (int64_t q = 0; q < np; ++q) std::fill(acc + q * bc, acc + q * bc + nc, 0u);
        for (int64_t kz = 0; kz < k[0]; ++kz) {
          const int64_t iz = oz * s[0] - p[0] + kz * d[0];
          if (iz < 0 || iz >= in[0]) continue;
          for (int64_t ky = 0; ky < k[1]; ++ky) {
            const int64_t iy = oy * s[1] - p[1] + ky * d[1];
            if (iy < 0 || iy >= in[1]) continue;
            for (int64_t kx = 0; kx < k[2]; ++kx) {
              const int64_t tap = (kz * k[1] + ky) * k[2] + kx;
              // The positions this tap reaches, and where their input pixel is.
              int64_t nv = 0;
              uint32_t* rows_acc[kPositions];
              const int32_t* rows_x[kPositions];
              for (int64_t q = 0; q < np; ++q) {
                const int64_t ix = (ox0 + q) * s[2] - p[2] + kx * d[2];
                if (ix < 0 || ix >= in[2]) continue;
                rows_acc[nv] = acc + q * bc;
                rows_x[nv++] = ximg + ((iz * in[1] + iy) * in[2] + ix) * r.C;
              }
              if (r.depthwise) {
                const int32_t* wt = r.wp + tap * r.M + c0;
                for (int64_t q = 0; q < nv; ++q) {
                  const int32_t* xv = rows_x[q] + c0;
                  uint32_t* a = rows_acc[q];
                  for (int64_t j = 0; j < nc; ++j) a[j] += static_cast<uint32_t>(xv[j]) * static_cast<uint32_t>(wt[j]);
                }
                continue;
              }
              const int32_t* wt = r.wp + ((grp * r.taps + tap) * r.cg) * r.mg + c0;
              int64_t q = 0;
              for (; q + kTileRows <= nv; q += kTileRows) {  // register tiles, then the channels left
                int64_t j = 0;
                for (; j + kTileChannels <= nc; j += kTileChannels)
                  tile_multiply_add(rows_acc + q, rows_x + q, grp * r.cg, wt + j, r.mg, r.cg, j);
                for (int64_t t = q; t < q + kTileRows; ++t)
                  for (int64_t ic = 0; ic < r.cg; ++ic)
                    multiply_add(rows_acc[t] + j, rows_x[t][grp * r.cg + ic], wt + ic * r.mg + j, nc - j);
              }
              for (; q < nv; ++q)
                for (int64_t ic = 0; ic < r.cg; ++ic)
                  multiply_add(rows_acc[q], rows_x[q][grp * r.cg + ic], wt + ic * r.mg, nc);
            }
          }
        }
        const int64_t first = r.depthwise ? c0 : grp * r.mg + c0;  // output channel of acc[0]
        const int64_t pos = (oz * out[1] + oy) * out[2] + ox0;
        r.epilogue.store_positions(acc, bc, np, first, nc, (nb * r.M + first) * r.out_plane + pos, r.out_plane, v,
                                   sv);
      }
  }
}

class BlockedQConvKernel final : public Kernel {
 public:
  static KernelPtr create(const Graph& g, const Node& n, const ExecOptions& options) {
    auto k = std::unique_ptr<BlockedQConvKernel>(new BlockedQConvKernel());
    QD_ASSIGN_OR_RETURN(k->simple_, create_qconv_simple(g, n, options));  // checks, odd cases
    QD_ASSIGN_OR_RETURN(k->epilogue_, BlockEpilogue::create(g, n));
    QD_ASSIGN_OR_RETURN(k->attrs_, parse_conv_attrs(n));
    k->w_ = n.inputs[1];
    return std::unique_ptr<Kernel>(std::move(k));
  }

  Status run(KernelContext& ctx) override {
    const Tensor& x = *ctx.input(0);
    const Tensor& w = *ctx.input(1);
    // The simple form runs (and reports) everything unusual: empty tensors, bad dtypes or
    // shapes, more than 3 spatial axes.
    if ((x.dtype != DType::u8 && x.dtype != DType::s8) || (w.dtype != DType::u8 && w.dtype != DType::s8) ||
        x.numel() == 0 || w.numel() == 0 || x.rank() < 3 || x.rank() > 5)
      return simple_->run(ctx);
    auto geo_or = conv_geometry(attrs_, x.shape, w.shape);
    if (!geo_or) return simple_->run(ctx);
    const ConvGeometry& geo = *geo_or;
    const Tensor* b = ctx.input(2);
    const Tensor* sum = ctx.input(3);
    if ((b && ((b->dtype != DType::s32 && b->dtype != DType::f32) || b->numel() != geo.out_channels)) ||
        (sum && (sum->shape != geo.output_shape() || (sum->dtype != DType::u8 && sum->dtype != DType::s8 &&
                                                       sum->dtype != DType::s32 && sum->dtype != DType::f32))) ||
        (epilogue_.params.output_scales.size() != 1 &&
         static_cast<int64_t>(epilogue_.params.output_scales.size()) != geo.out_channels))
      return simple_->run(ctx);
    if (w.shape != w_shape_) QD_RETURN_IF_ERROR(arrange_weights(ctx.graph, w, geo));
    QD_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_uninitialized(0, epilogue_.y_dtype, geo.output_shape()));
    y->quant = ctx.graph.value(ctx.node.outputs[0]).quant;
    epilogue_.bind(ctx, y, geo.out_channels);

    const Conv3dShape g3 = conv_3d(geo);
    const auto &in = g3.in, &out = g3.out, &k = g3.k, &s = g3.s, &d = g3.d, &p = g3.p;
    const int64_t C = geo.in_channels, M = geo.out_channels, G = geo.group;
    const int64_t cg = geo.in_channels_per_group(), mg = geo.out_channels_per_group();
    const int64_t in_plane = in[0] * in[1] * in[2], out_plane = out[0] * out[1] * out[2];
    const int64_t taps = k[0] * k[1] * k[2];
    center_channels_last(x, epilogue_.zp_x, geo.batch, C, in_plane, xcl_);
    const bool depthwise = cg == 1 && mg == 1;
    const int64_t rows = geo.batch * out[0] * out[1];
    const int64_t block_channels = depthwise ? std::min(M, kChannels) : std::min(mg, kChannels);

    ConvRows rows_of{epilogue_, xcl_.data(), wp_.data(), in, out, k, s, d, p, C, M, G, cg, mg, taps, in_plane,
                     out_plane, depthwise, block_channels};
#pragma omp parallel
    {
      std::vector<uint32_t> acc(static_cast<size_t>(kPositions * block_channels));
      std::vector<float> v(static_cast<size_t>(kPositions)), sv(static_cast<size_t>(kPositions));
#pragma omp for schedule(static)
      for (int64_t row = 0; row < rows; ++row) conv_row(rows_of, row, acc.data(), v.data(), sv.data());
    }
    return Status::ok();
  }

 private:
  BlockedQConvKernel() = default;

  // w - zp_w[oc], as [group][tap][ic][oc] (depthwise: [tap][channel]).
  Status arrange_weights(const Graph& g, const Tensor& w, const ConvGeometry& geo) {
    QD_ASSIGN_OR_RETURN(std::vector<int32_t> zp_w, channel_zero_points(g, w_, geo.out_channels));
    std::vector<int32_t> wc;
    center(w, 0, wc);
    const int64_t M = geo.out_channels, cg = geo.in_channels_per_group(), mg = geo.out_channels_per_group();
    const int64_t taps = w.numel() / (M * cg);
    wp_.assign(static_cast<size_t>(w.numel()), 0);
    const bool depthwise = cg == 1 && mg == 1;
    for (int64_t m = 0; m < M; ++m)
      for (int64_t ic = 0; ic < cg; ++ic)
        for (int64_t t = 0; t < taps; ++t) {
          const int32_t v = wc[static_cast<size_t>((m * cg + ic) * taps + t)] - zp_w[static_cast<size_t>(m)];
          const int64_t grp = m / mg, oc = m % mg;
          const int64_t at = depthwise ? t * M + m : ((grp * taps + t) * cg + ic) * mg + oc;
          wp_[static_cast<size_t>(at)] = v;
        }
    w_shape_ = w.shape;
    return Status::ok();
  }

  std::unique_ptr<Kernel> simple_;
  BlockEpilogue epilogue_;
  ConvAttrs attrs_;
  ValueId w_ = kNoValue;
  Shape w_shape_;              // the weights wp_ was arranged from (constant in lowered graphs)
  std::vector<int32_t> wp_;    // arranged centered weights
  std::vector<int32_t> xcl_;   // scratch: centered channels-last x
};

class BlockedQMatMulKernel final : public Kernel {
 public:
  static KernelPtr create(const Graph& g, const Node& n, const ExecOptions& options) {
    auto k = std::unique_ptr<BlockedQMatMulKernel>(new BlockedQMatMulKernel());
    QD_ASSIGN_OR_RETURN(k->simple_, create_qmatmul_simple(g, n, options));
    QD_ASSIGN_OR_RETURN(k->epilogue_, BlockEpilogue::create(g, n));
    k->w_ = n.inputs[1];
    return std::unique_ptr<Kernel>(std::move(k));
  }

  Status run(KernelContext& ctx) override {
    const Tensor& x = *ctx.input(0);
    const Tensor& w = *ctx.input(1);
    if ((x.dtype != DType::u8 && x.dtype != DType::s8) || (w.dtype != DType::u8 && w.dtype != DType::s8) ||
        x.rank() < 2 || w.rank() != 2 || x.shape.back() != w.shape[0] || x.numel() == 0 || w.numel() == 0)
      return simple_->run(ctx);
    const int64_t kk = w.shape[0], nn = w.shape[1], rows = x.numel() / kk;
    Shape y_shape = x.shape;
    y_shape.back() = nn;
    const Tensor* b = ctx.input(2);
    const Tensor* sum = ctx.input(3);
    if ((b && ((b->dtype != DType::s32 && b->dtype != DType::f32) || b->numel() != nn)) ||
        (sum && (sum->shape != y_shape || (sum->dtype != DType::u8 && sum->dtype != DType::s8 &&
                                           sum->dtype != DType::s32 && sum->dtype != DType::f32))) ||
        (epilogue_.params.output_scales.size() != 1 &&
         static_cast<int64_t>(epilogue_.params.output_scales.size()) != nn))
      return simple_->run(ctx);
    if (w.shape != w_shape_) {
      QD_ASSIGN_OR_RETURN(std::vector<int32_t> zp_w, channel_zero_points(ctx.graph, w_, nn));
      center(w, 0, wp_);
      for (int64_t kx = 0; kx < kk; ++kx)
        for (int64_t c = 0; c < nn; ++c) wp_[static_cast<size_t>(kx * nn + c)] -= zp_w[static_cast<size_t>(c)];
      w_shape_ = w.shape;
    }
    QD_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_uninitialized(0, epilogue_.y_dtype, y_shape));
    y->quant = ctx.graph.value(ctx.node.outputs[0]).quant;
    epilogue_.bind(ctx, y, nn);
    center(x, epilogue_.zp_x, xc_);
    const int32_t* xc = xc_.data();
    const int32_t* wp = wp_.data();
    const int64_t block = std::min(nn, kChannels);
#pragma omp parallel
    {
      std::vector<uint32_t> acc(static_cast<size_t>(block));
      std::vector<float> v(static_cast<size_t>(block)), sv(static_cast<size_t>(block));
#pragma omp for schedule(static)
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t c0 = 0; c0 < nn; c0 += block) {
          const int64_t nc = std::min(block, nn - c0);
          std::fill(acc.begin(), acc.end(), 0u);
          for (int64_t kx = 0; kx < kk; ++kx) multiply_add(acc.data(), xc[r * kk + kx], wp + kx * nn + c0, nc);
          epilogue_.store(acc.data(), c0, nc, r * nn, 1, v.data(), sv.data());
        }
    }
    return Status::ok();
  }

 private:
  BlockedQMatMulKernel() = default;
  std::unique_ptr<Kernel> simple_;
  BlockEpilogue epilogue_;
  ValueId w_ = kNoValue;
  Shape w_shape_;
  std::vector<int32_t> wp_;  // w - zp_w[n], [K, N]
  std::vector<int32_t> xc_;  // scratch
};

}  // namespace

Result<std::unique_ptr<Kernel>> create_qconv(const Graph& g, const Node& n, const ExecOptions& options) {
  return BlockedQConvKernel::create(g, n, options);
}
Result<std::unique_ptr<Kernel>> create_qmatmul(const Graph& g, const Node& n, const ExecOptions& options) {
  return BlockedQMatMulKernel::create(g, n, options);
}

}  // namespace qdrift::intk
