// nn_fast.cpp: the reference's fast float Conv, Gemm and MatMul, on oneDNN's fp32
// convolution primitive and dnnl_sgemm.
//
// ONNX does not define the order of a float sum, so these give the same real result as
// the straightforward kernels of nn.cpp (which stay in ref_naive_kernel_table() as the
// checked baseline) up to fp32 reassociation: fp32 products and fp32 accumulation in
// oneDNN's blocked order instead of double accumulation in index order. Tests compare the
// two on every Conv/Gemm/MatMul ONNX node test and on the bundled models. Results are
// bit-identical from run to run at a given thread count and ISA (oneDNN's guarantee), not
// across thread counts; the naive table is bit-identical across both.
//
// Conv layouts (measured per MobileNetV2/ResNet layer on AVX-512 and AVX2, docs/benchmarks.md):
//   pointwise (1x1, stride 1, no padding, one group): x and y row-major (nchw) as the graph
//     holds them, weights as given (oihw): oneDNN runs it as one sgemm per image, no copies;
//   everything else: x reordered to channels-last, the conv in oneDNN's own blocked weights,
//     y reordered back to row-major. Weights that are constants (an initializer, or a
//     DequantizeLinear of constants: the same values every run) are reordered once, here,
//     from the DequantizeLinear kernel's own output; other weights are reordered per run.
// Anything oneDNN cannot run (more than 3 spatial axes, empty tensors, Gemm with beta = 0
// and a C input) runs on the naive kernel of the same node.
#include <cstring>
#include <mutex>
#include <optional>

#include <dnnl.hpp>
#include <fmt/format.h>

#include "core/op_attrs.h"
#include "core/qdq_params.h"
#include "kernels/onednn/onednn_common.h"
#include "kernels/ref/nn_common.h"
#include "kernels/ref/ref_kernels.h"
#include "kernels/ref/ref_ops.h"

namespace qdrift::ref {

namespace {

using dt = dnnl::memory::data_type;
using tag = dnnl::memory::format_tag;
using onednn::BoundPrimitive;
using onednn::runtime;
using onednn::unbound_memory;
using KernelPtr = Result<std::unique_ptr<Kernel>>;

// The naive `kind` kernel (nn.cpp) of `node`, for what oneDNN does not run. The kind is the
// fast kernel's own, not node.kind: a contrib node (FusedConv, FusedGemm) reaches the fast
// Conv/Gemm through the reference table, and its own naive entry would come back here.
KernelPtr naive_kernel(OpKind kind, const Graph& g, const Node& node, const ExecOptions& options) {
  const KernelFactory f = ref_naive_kernel_table().factories[static_cast<size_t>(kind)];
  QD_ASSERT(f != nullptr);
  return f(g, node, options);
}

// The value of `v` when every run gives the same one: an initializer or Constant, or the
// output of a DequantizeLinear whose inputs are such constants (the usual QDQ weight),
// computed by the reference's own DequantizeLinear kernel so the bytes are those a run
// produces. nullopt otherwise (or when that kernel rejects its inputs: the run reports it).
std::optional<Tensor> constant_value(const Graph& g, ValueId v, const ExecOptions& options) {
  if (const Tensor* t = constant_tensor(g, v)) return *t;
  const Node* p = g.producer(v);
  if (!p || p->kind != OpKind::DequantizeLinear || p->outputs.size() != 1) return std::nullopt;
  std::vector<const Tensor*> inputs;
  for (ValueId in : p->inputs) {
    const Tensor* t = in == kNoValue ? nullptr : constant_tensor(g, in);
    if (in != kNoValue && !t) return std::nullopt;
    inputs.push_back(t);
  }
  const KernelFactory f = ref_naive_kernel_table().factories[static_cast<size_t>(OpKind::DequantizeLinear)];
  auto kernel = f(g, *p, options);
  if (!kernel) return std::nullopt;
  std::vector<Tensor> outs(1);
  KernelContext ctx{g, *p, options, inputs, outs};
  if (!(*kernel)->run(ctx)) return std::nullopt;
  return std::move(outs[0]);
}

dnnl::memory::dims dims_of(const std::vector<int64_t>& v) { return dnnl::memory::dims(v.begin(), v.end()); }

// ---- Conv -------------------------------------------------------------------------------

struct ConvPlan {
  Shape x_shape, w_shape, y_shape;
  bool has_bias = false;
  bool pointwise = false;    // row-major in and out, weights as given
  bool weights_fixed = false;  // `weights` holds the constant weights, reordered once
  BoundPrimitive conv, x_to_src, dst_to_y, w_to_weights;
  dnnl::memory x_user, src, w_user, weights, bias, dst, y_user;
  ByteBuffer src_bytes, dst_bytes;
};

class FastConvKernel final : public Kernel {
 public:
  static KernelPtr create(const Graph& g, const Node& node, const ExecOptions& options) {
    QD_ASSIGN_OR_RETURN(ConvAttrs attrs, parse_conv_attrs(node));
    QD_ASSIGN_OR_RETURN(std::unique_ptr<Kernel> naive, naive_kernel(OpKind::Conv, g, node, options));
    auto k = std::unique_ptr<FastConvKernel>(new FastConvKernel(std::move(attrs), std::move(naive)));
    if (std::optional<Tensor> w = constant_value(g, node.input(1), options); w && w->dtype == DType::f32)
      k->const_w_ = std::move(*w);
    return std::unique_ptr<Kernel>(std::move(k));
  }

  Status run(KernelContext& ctx) override {
    std::lock_guard<std::mutex> lock(mutex_);
    const Tensor* x = ctx.input(0);
    const Tensor* w = ctx.input(1);
    const Tensor* b = optional_input(ctx, 2);
    // The naive kernel checks and reports everything unusual.
    if (!x || !w || x->dtype != DType::f32 || w->dtype != DType::f32 || x->numel() == 0 || w->numel() == 0 ||
        x->rank() < 3 || x->rank() > 5 || (b && b->dtype != DType::f32))
      return naive_->run(ctx);
    if (!plan_ || plan_->x_shape != x->shape || plan_->w_shape != w->shape || plan_->has_bias != (b != nullptr)) {
      auto geo = conv_geometry(attrs_, x->shape, w->shape);
      if (!geo) return naive_->run(ctx);
      if (b && (b->rank() != 1 || b->shape[0] != geo->out_channels)) return naive_->run(ctx);
      try {
        plan_ = build(*geo, x->shape, w->shape, b != nullptr);
      } catch (const dnnl::error& e) {
        if (e.status != dnnl_unimplemented) return onednn::dnnl_status(e, "Conv");
        plan_.reset();
        return naive_->run(ctx);
      }
    }
    ConvPlan& p = *plan_;
    QD_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_uninitialized(0, DType::f32, p.y_shape));
    try {
      dnnl::stream& strm = runtime().stream;
      void* xd = const_cast<std::byte*>(x->bytes.data());  // oneDNN only reads it
      if (b) p.bias.set_data_handle(const_cast<std::byte*>(b->bytes.data()));
      if (p.pointwise) {
        p.src.set_data_handle(xd);
        p.weights.set_data_handle(const_cast<std::byte*>(w->bytes.data()));
        p.dst.set_data_handle(y->bytes.data());
        p.conv.execute(strm);
      } else {
        p.x_user.set_data_handle(xd);
        p.x_to_src.execute(strm);
        if (!p.weights_fixed) {
          p.w_user.set_data_handle(const_cast<std::byte*>(w->bytes.data()));
          p.w_to_weights.execute(strm);
        }
        p.conv.execute(strm);
        p.y_user.set_data_handle(y->bytes.data());
        p.dst_to_y.execute(strm);
      }
      strm.wait();
    } catch (const dnnl::error& e) {
      return onednn::dnnl_status(e, "Conv");
    }
    return Status::ok();
  }

 private:
  FastConvKernel(ConvAttrs attrs, std::unique_ptr<Kernel> naive) : attrs_(std::move(attrs)), naive_(std::move(naive)) {}

  ConvPlan build(const ConvGeometry& geo, const Shape& x_shape, const Shape& w_shape, bool has_bias) const {
    onednn::Runtime& rt = runtime();
    ConvPlan p;
    p.x_shape = x_shape;
    p.w_shape = w_shape;
    p.y_shape = geo.output_shape();
    p.has_bias = has_bias;
    const size_t rank = x_shape.size();
    const int r = geo.spatial_rank();
    bool one_by_one = geo.group == 1;
    for (int i = 0; i < r; ++i)
      one_by_one = one_by_one && geo.kernel[i] == 1 && geo.strides[i] == 1 && geo.pads_begin[i] == 0 &&
                   geo.pads_end[i] == 0;
    p.pointwise = one_by_one;
    const tag plain = onednn::plain_tag(rank), cl = onednn::channels_last_tag(rank);
    const dnnl::memory::dims x_dims = onednn::to_dims(x_shape), y_dims = onednn::to_dims(p.y_shape);
    // Weights: [G, M/G, C/G, k...] when grouped (the same bytes as [M, C/G, k...]).
    dnnl::memory::dims w_dims = onednn::to_dims(w_shape);
    if (geo.group > 1) {
      w_dims[0] = geo.out_channels_per_group();
      w_dims.insert(w_dims.begin(), geo.group);
    }
    const tag w_plain = onednn::plain_tag(w_dims.size());
    dnnl::memory::dims strides = dims_of(geo.strides), pad_l = dims_of(geo.pads_begin), pad_r = dims_of(geo.pads_end);
    dnnl::memory::dims dil = dims_of(geo.dilations);
    for (auto& d : dil) d -= 1;  // oneDNN counts the gaps
    const dnnl::memory::desc src_md(x_dims, dt::f32, p.pointwise ? plain : cl);
    const dnnl::memory::desc dst_md(y_dims, dt::f32, p.pointwise ? plain : cl);
    const dnnl::memory::desc w_md(w_dims, dt::f32, p.pointwise ? w_plain : tag::any);
    const dnnl::memory::desc bias_md({geo.out_channels}, dt::f32, tag::a);
    const auto desc = has_bias ? dnnl::convolution_forward::desc(dnnl::prop_kind::forward_inference,
                                                                 dnnl::algorithm::convolution_direct, src_md, w_md,
                                                                 bias_md, dst_md, strides, dil, pad_l, pad_r)
                               : dnnl::convolution_forward::desc(dnnl::prop_kind::forward_inference,
                                                                 dnnl::algorithm::convolution_direct, src_md, w_md,
                                                                 dst_md, strides, dil, pad_l, pad_r);
    const dnnl::convolution_forward::primitive_desc pd(desc, rt.engine);
    p.src = unbound_memory(pd.src_desc());
    p.dst = unbound_memory(pd.dst_desc());
    if (has_bias) p.bias = unbound_memory(bias_md);
    if (p.pointwise) {
      p.weights = unbound_memory(pd.weights_desc());
    } else {
      p.src_bytes.resize(pd.src_desc().get_size());
      p.dst_bytes.resize(pd.dst_desc().get_size());
      p.src.set_data_handle(p.src_bytes.data());
      p.dst.set_data_handle(p.dst_bytes.data());
      p.x_user = unbound_memory(dnnl::memory::desc(x_dims, dt::f32, plain));
      p.y_user = unbound_memory(dnnl::memory::desc(y_dims, dt::f32, plain));
      p.x_to_src = BoundPrimitive(dnnl::reorder(p.x_user, p.src), {{DNNL_ARG_FROM, &p.x_user}, {DNNL_ARG_TO, &p.src}});
      p.dst_to_y = BoundPrimitive(dnnl::reorder(p.dst, p.y_user), {{DNNL_ARG_FROM, &p.dst}, {DNNL_ARG_TO, &p.y_user}});
      p.weights = dnnl::memory(pd.weights_desc(), rt.engine);
      const dnnl::memory::desc w_user_md(w_dims, dt::f32, w_plain);
      if (const_w_ && const_w_->shape == w_shape) {
        dnnl::memory user(w_user_md, rt.engine, const_cast<std::byte*>(const_w_->bytes.data()));
        dnnl::reorder(user, p.weights).execute(rt.stream, user, p.weights);
        rt.stream.wait();
        p.weights_fixed = true;
      } else {
        p.w_user = unbound_memory(w_user_md);
        p.w_to_weights =
            BoundPrimitive(dnnl::reorder(p.w_user, p.weights), {{DNNL_ARG_FROM, &p.w_user}, {DNNL_ARG_TO, &p.weights}});
      }
    }
    p.conv = BoundPrimitive(dnnl::convolution_forward(pd),
                            {{DNNL_ARG_SRC, &p.src}, {DNNL_ARG_WEIGHTS, &p.weights}, {DNNL_ARG_DST, &p.dst}});
    if (has_bias) p.conv.add(DNNL_ARG_BIAS, p.bias);
    return p;
  }

  ConvAttrs attrs_;
  std::unique_ptr<Kernel> naive_;
  std::optional<Tensor> const_w_;  // the weights when they are the same every run
  std::mutex mutex_;               // run() rebinds the memories' handles
  std::optional<ConvPlan> plan_;   // for the last input shape
};

// ---- Gemm / MatMul ----------------------------------------------------------------------

Status sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
             const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  const dnnl_status_t s =
      dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  if (s != dnnl_success) return internal_error("dnnl_sgemm failed (status {})", static_cast<int>(s));
  return Status::ok();
}

// Y = alpha * A' * B' + beta * C as one sgemm: Y is first filled with C broadcast to
// [M, N], then sgemm computes alpha * A' * B' + beta * Y in place.
class FastGemmKernel final : public Kernel {
 public:
  static KernelPtr create(const Graph& g, const Node& node, const ExecOptions& options) {
    QD_ASSIGN_OR_RETURN(std::unique_ptr<Kernel> naive, naive_kernel(OpKind::Gemm, g, node, options));
    auto k = std::unique_ptr<FastGemmKernel>(new FastGemmKernel(std::move(naive)));
    QD_ASSIGN_OR_RETURN(k->alpha_, checked_attr_float(node, "alpha", 1.0f));
    QD_ASSIGN_OR_RETURN(k->beta_, checked_attr_float(node, "beta", 1.0f));
    QD_ASSIGN_OR_RETURN(int64_t ta, checked_attr_int(node, "transA", 0));
    QD_ASSIGN_OR_RETURN(int64_t tb, checked_attr_int(node, "transB", 0));
    k->trans_a_ = ta != 0;
    k->trans_b_ = tb != 0;
    return std::unique_ptr<Kernel>(std::move(k));
  }

  Status run(KernelContext& ctx) override {
    const Tensor* a = ctx.input(0);
    const Tensor* b = ctx.input(1);
    const Tensor* c = optional_input(ctx, 2);
    // sgemm ignores C when beta = 0, where ONNX computes 0 * C (NaN for an infinite C).
    if (!a || !b || a->dtype != DType::f32 || b->dtype != DType::f32 || (c && c->dtype != DType::f32) ||
        (c && beta_ == 0.0f))
      return naive_->run(ctx);
    auto d = gemm_dims(*a, *b, trans_a_, trans_b_, "Gemm");
    if (!d || d->m == 0 || d->n == 0 || d->k == 0) return naive_->run(ctx);
    MatrixStrides cs;
    if (c) {
      auto s = gemm_c_strides(*c, DType::f32, *d);
      if (!s) return naive_->run(ctx);
      cs = *s;
    }
    QD_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_uninitialized(0, DType::f32, d->out()));
    float* yp = y->data<float>();
    const int64_t m = d->m, n = d->n;
    if (c) {
      const float* cp = c->data<float>();
      for (int64_t row = 0; row < m; ++row)
        for (int64_t col = 0; col < n; ++col) yp[row * n + col] = cp[row * cs.row + col * cs.col];
    }
    return sgemm(trans_a_, trans_b_, m, n, d->k, alpha_, a->data<float>(), a->shape[1], b->data<float>(), b->shape[1],
                 c ? beta_ : 0.0f, yp, n);
  }

 private:
  explicit FastGemmKernel(std::unique_ptr<Kernel> naive) : naive_(std::move(naive)) {}
  std::unique_ptr<Kernel> naive_;
  float alpha_ = 1.0f;
  float beta_ = 1.0f;
  bool trans_a_ = false;
  bool trans_b_ = false;
};

// numpy matmul: one sgemm per [M, K] x [K, N] product of the broadcast batch.
class FastMatMulKernel final : public Kernel {
 public:
  static KernelPtr create(const Graph& g, const Node& node, const ExecOptions& options) {
    QD_ASSIGN_OR_RETURN(std::unique_ptr<Kernel> naive, naive_kernel(OpKind::MatMul, g, node, options));
    return std::unique_ptr<Kernel>(new FastMatMulKernel(std::move(naive)));
  }

  Status run(KernelContext& ctx) override {
    const Tensor* a = ctx.input(0);
    const Tensor* b = ctx.input(1);
    if (!a || !b || a->dtype != DType::f32 || b->dtype != DType::f32) return naive_->run(ctx);
    auto s = matmul_shape(a->shape, b->shape, "A", "B");
    if (!s || s->m == 0 || s->n == 0 || s->k == 0 || s->batch == 0) return naive_->run(ctx);
    QD_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_uninitialized(0, DType::f32, s->out));
    const float* ap = a->data<float>();
    const float* bp = b->data<float>();
    float* yp = y->data<float>();
    for (int64_t bi = 0; bi < s->batch; ++bi)
      QD_RETURN_IF_ERROR(sgemm(false, false, s->m, s->n, s->k, 1.0f,
                               ap + s->a_batch_offset[static_cast<size_t>(bi)] * s->m * s->k, s->k,
                               bp + s->b_batch_offset[static_cast<size_t>(bi)] * s->k * s->n, s->n, 0.0f,
                               yp + bi * s->m * s->n, s->n));
    return Status::ok();
  }

 private:
  explicit FastMatMulKernel(std::unique_ptr<Kernel> naive) : naive_(std::move(naive)) {}
  std::unique_ptr<Kernel> naive_;
};

}  // namespace

void register_fast_nn_ops(KernelTable& table) {
  set_kernel<FastConvKernel>(table, OpKind::Conv);
  set_kernel<FastGemmKernel>(table, OpKind::Gemm);
  set_kernel<FastMatMulKernel>(table, OpKind::MatMul);
}

}  // namespace qdrift::ref
