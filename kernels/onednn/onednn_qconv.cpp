// onednn_qconv.cpp: QConv as oneDNN convolution_forward and QMatMul as oneDNN matmul.
//
// Layout: oneDNN's int8 conv wants channels-last activations (with nchw it falls back to
// ref_int8, thousands of times slower). A QConv reads x and the sum input in either layout
// (Tensor::layout) and writes y channels-last, so a chain of QConvs (and the per-tensor
// Quantize/Requantize reorders between them) runs without a single layout reorder; the
// executor converts y to row-major only for a kernel, an observer or a graph output that
// needs it. Per node, made once:
//   src:  x's own bytes when channels-last (or when C == 1 or H*W == 1: the same bytes);
//         else reorder x (nchw) -> a channels-last buffer, allocated at the first such run
//   sum:  reorder sum (nhwc or nchw) -> the dst buffer (oneDNN's sum post-op reads dst in place)
//   conv: nhwc -> y's own bytes (nhwc), weights reordered once into pd.weights_desc()
// QMatMul works on row-major [rows, K] x [K, N] directly: no activation reorders.
//
// Not taken by oneDNN (each node then runs on the integer oracle, with a note to the log):
// weight zero points in conv (u8 weights with zero point 128 are shifted to s8 instead),
// per-channel weight zero points in matmul, a sum input whose dtype cannot share the dst
// buffer, non-integer sum zero points, more than one sum, two eltwise post-ops of the same
// oneDNN algorithm with different parameters (2.6's jit injector would apply the first
// one's to both: relu and leaky_relu are both eltwise_relu), and anything oneDNN reports
// unimplemented. Grouped convs whose channels per group oneDNN's jit kernels cannot block
// (not a multiple of 4, depthwise aside) run as one dense conv with block-diagonal weights:
// the zero weights add exact zeros to the int32 accumulator.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <mutex>
#include <optional>
#include <utility>

#include <fmt/format.h>

#include "core/op_attrs.h"
#include "kernels/int/int_ops.h"
#include "kernels/onednn/onednn_common.h"

namespace qdrift::onednn {

namespace {

using dt = dnnl::memory::data_type;
using KernelPtr = Result<std::unique_ptr<Kernel>>;

// What a QConv/QMatMul node asks for, read once from the graph. `reason` is set when
// oneDNN cannot run the node.
struct Int8OpSpec {
  LoweredParams params;
  DType x_dtype = DType::undefined;
  DType y_dtype = DType::undefined;
  int32_t zp_x = 0;
  int32_t zp_y = 0;
  int32_t zp_w = 0;             // QMatMul only (common weight zero point, after the u8 shift)
  std::vector<int8_t> weights;  // s8 codes in the graph's row-major order
  Shape w_shape;
  const Tensor* bias = nullptr;  // initializer, or nullptr with bias_runtime
  bool bias_runtime = false;
  DType bias_dtype = DType::undefined;
  bool has_sum = false;
  DType sum_dtype = DType::undefined;
  dt sum_view = dt::undef;  // dtype the dst buffer is viewed with when the sum is copied in
  dnnl::post_ops post_ops;
  std::string reason;  // non-empty: run on the oracle
};

// dtype of the dst buffer holding the sum input, or undef when oneDNN cannot hold it.
dt sum_view_dtype(DType y, DType sum) {
  const bool int8_sum = sum == DType::u8 || sum == DType::s8;
  if (y == DType::u8 || y == DType::s8) return int8_sum ? to_dnnl(sum) : dt::undef;
  if (y == DType::f32) return to_dnnl(DType::f32);  // u8/s8/s32 convert exactly enough (as the oracle's f32(sum))
  if (y == DType::s32) return int8_sum || sum == DType::s32 ? dt::s32 : dt::undef;
  return dt::undef;
}

Result<Int8OpSpec> read_spec(const Graph& g, const Node& n, bool is_conv) {
  Int8OpSpec s;
  QD_ASSIGN_OR_RETURN(s.params, parse_lowered_params(n));
  if (n.inputs.size() < 2 || n.outputs.size() != 1)
    return internal_error("{} takes x, w, [bias], [sum] and one output", n.op_type);
  const Value& x = g.value(n.inputs[0]);
  const Value& w = g.value(n.inputs[1]);
  const Value& y = g.value(n.outputs[0]);
  s.x_dtype = x.dtype;
  s.y_dtype = y.dtype;
  if (s.x_dtype != DType::u8 && s.x_dtype != DType::s8)
    return internal_error("input '{}' has dtype {}, must be u8 or s8", x.name, dtype_name(x.dtype));
  if (s.y_dtype != DType::u8 && s.y_dtype != DType::s8 && s.y_dtype != DType::s32 && s.y_dtype != DType::f32)
    return internal_error("output '{}' has dtype {}, must be u8, s8, s32 or f32", y.name, dtype_name(y.dtype));
  QD_ASSIGN_OR_RETURN(s.zp_x, intk::per_tensor_zero_point(g, n.inputs[0], "input"));
  if (s.y_dtype != DType::f32) {
    QD_ASSIGN_OR_RETURN(s.zp_y, intk::per_tensor_zero_point(g, n.outputs[0], "output"));
  }

  // Weights: a constant, s8 (u8 with zero point 128 is s8 shifted by 128).
  if (!w.initializer) {
    s.reason = fmt::format("weights '{}' are not a constant", w.name);
    return s;
  }
  const Tensor& wt = *w.initializer;
  if (wt.dtype != DType::u8 && wt.dtype != DType::s8)
    return internal_error("weights '{}' have dtype {}, must be u8 or s8", w.name, dtype_name(wt.dtype));
  if (wt.rank() < 2) return internal_error("weights '{}' have rank {}", w.name, wt.rank());
  const int64_t channels = is_conv ? wt.shape[0] : wt.shape[1];
  QD_ASSIGN_OR_RETURN(std::vector<int32_t> zp_w, intk::channel_zero_points(g, n.inputs[1], channels));
  const bool common = std::all_of(zp_w.begin(), zp_w.end(), [&](int32_t z) { return z == zp_w[0]; });
  const int32_t shift = wt.dtype == DType::u8 ? 128 : 0;
  if (!common) {
    s.reason = fmt::format("per-channel weight zero points of '{}' (oneDNN takes one or none)", w.name);
    return s;
  }
  if (is_conv && zp_w[0] != shift) {
    s.reason = wt.dtype == DType::u8
                   ? fmt::format("u8 weights '{}' with zero point {} (oneDNN conv takes s8 weights; u8 only with zero point 128)",
                                 w.name, zp_w[0])
                   : fmt::format("weight zero point {} of '{}' (oneDNN conv takes none)", zp_w[0], w.name);
    return s;
  }
  s.zp_w = zp_w[0] - shift;
  s.w_shape = wt.shape;
  s.weights.resize(static_cast<size_t>(wt.numel()));
  if (wt.dtype == DType::u8) {
    for (size_t i = 0; i < s.weights.size(); ++i)
      s.weights[i] = static_cast<int8_t>(static_cast<int32_t>(wt.data<uint8_t>()[i]) - 128);
  } else {
    std::copy_n(wt.data<int8_t>(), s.weights.size(), s.weights.begin());
  }

  // Bias.
  if (n.input(2) != kNoValue) {
    const Value& b = g.value(n.input(2));
    s.bias = b.initializer ? &*b.initializer : nullptr;
    s.bias_runtime = !b.initializer;
    s.bias_dtype = s.bias ? s.bias->dtype : b.dtype;
    if (s.bias_dtype != DType::s32 && s.bias_dtype != DType::f32)
      return internal_error("bias '{}' has dtype {}, must be s32 or f32", b.name, dtype_name(s.bias_dtype));
    if (s.bias && s.bias->numel() != channels)
      return internal_error("bias '{}' has {} values for {} output channels", b.name, s.bias->numel(), channels);
  }

  // Post-ops, in order. Adjacent clips merge into one (clamps compose exactly).
  std::vector<PostOp> chain;
  for (const PostOp& op : s.params.post_ops) {
    if (op.kind == PostOpKind::clip && !chain.empty() && chain.back().kind == PostOpKind::clip) {
      PostOp& prev = chain.back();
      const float lo = intk::min_ps(intk::max_ps(prev.alpha, op.alpha), op.beta);
      const float hi = intk::min_ps(intk::max_ps(prev.beta, op.alpha), op.beta);
      prev = {PostOpKind::clip, lo, hi};
      continue;
    }
    chain.push_back(op);
  }
  // oneDNN 2.6's jit post-op injector keeps one eltwise injector per algorithm
  // (alg_to_eltwise_injector_ keyed by alg): a later post-op of the same algorithm runs
  // with the first one's alpha/beta. Such chains go to the oracle.
  std::vector<std::pair<dnnl::algorithm, std::pair<float, float>>> seen;
  auto eltwise = [&](dnnl::algorithm a, float alpha, float beta) {
    for (const auto& [alg, ab] : seen)
      if (alg == a && ab != std::pair{alpha, beta}) return false;
    seen.push_back({a, {alpha, beta}});
    s.post_ops.append_eltwise(1.f, a, alpha, beta);
    return true;
  };
  int sums = 0;
  for (const PostOp& op : chain) {
    using alg = dnnl::algorithm;
    bool ok = true;
    switch (op.kind) {
      case PostOpKind::relu: ok = eltwise(alg::eltwise_relu, 0.f, 0.f); break;
      case PostOpKind::leaky_relu: ok = eltwise(alg::eltwise_relu, op.alpha, 0.f); break;
      case PostOpKind::clip: ok = eltwise(alg::eltwise_clip, op.alpha, op.beta); break;
      case PostOpKind::hardswish: ok = eltwise(alg::eltwise_hardswish, 0.f, 0.f); break;
      case PostOpKind::linear: ok = eltwise(alg::eltwise_linear, op.alpha, op.beta); break;
      case PostOpKind::sum: {
        ++sums;
        if (n.input(3) == kNoValue) return internal_error("a sum post-op without a sum input (input 3)");
        const Value& sv = g.value(n.input(3));
        s.has_sum = true;
        s.sum_dtype = sv.dtype;
        s.sum_view = sum_view_dtype(s.y_dtype, s.sum_dtype);
        if (s.sum_view == dt::undef) {
          s.reason = fmt::format("sum input '{}' of dtype {} into a {} output (oneDNN sums in the dst buffer)", sv.name,
                                 dtype_name(sv.dtype), dtype_name(s.y_dtype));
          return s;
        }
        if (op.beta != std::nearbyint(op.beta) || std::fabs(op.beta) > 255.f) {
          s.reason = fmt::format("sum zero point {} is not an integer code", op.beta);
          return s;
        }
        s.post_ops.append_sum(op.alpha, static_cast<int32_t>(op.beta), s.sum_view);
        break;
      }
    }
    if (!ok) {
      s.reason = fmt::format("post-op {} repeats an earlier eltwise algorithm with other parameters (oneDNN 2.6's jit "
                             "injector would apply the first one's)",
                             post_op_name(op.kind));
      return s;
    }
  }
  if (sums > 1) {
    s.reason = "more than one sum post-op";
    return s;
  }
  if (!s.has_sum && n.input(3) != kNoValue) return internal_error("input 3 (sum) without a sum post-op");
  return s;
}

// Output scales, zero points (runtime values, passed per run) and post-ops.
dnnl::primitive_attr make_attr(const Int8OpSpec& s) {
  dnnl::primitive_attr attr;
  const auto& sc = s.params.output_scales;
  attr.set_output_scales(sc.size() == 1 ? 0 : 1 << 1, sc);
  if (s.zp_x != 0) attr.set_zero_points(DNNL_ARG_SRC, 0, {DNNL_RUNTIME_S32_VAL});
  if (s.zp_w != 0) attr.set_zero_points(DNNL_ARG_WEIGHTS, 0, {DNNL_RUNTIME_S32_VAL});
  if (s.zp_y != 0) attr.set_zero_points(DNNL_ARG_DST, 0, {DNNL_RUNTIME_S32_VAL});
  attr.set_post_ops(s.post_ops);
  return attr;
}

dnnl::memory s32_scalar(int32_t v) {
  dnnl::memory m({{1}, dt::s32, dnnl::memory::format_tag::x}, runtime().engine);
  *static_cast<int32_t*>(m.get_data_handle()) = v;
  return m;
}

bool is_reference_impl(const std::string& impl) { return impl.find("ref") != std::string::npos; }

// "Cannot take this node": caught by prepare(), which hands the node to the oracle.
[[noreturn]] void not_implemented(const std::string& why) { throw dnnl::error(dnnl_unimplemented, why.c_str()); }

// The oneDNN objects of one node for one input shape.
struct Plan {
  Shape x_shape;
  Shape y_shape;
  BoundPrimitive main;  // conv or matmul with every argument bound
  dnnl::memory weights, bias;             // weights in pd.weights_desc(), reordered once
  dnnl::memory zp_src, zp_wei, zp_dst;    // one s32 each
  dnnl::memory src, dst;                  // what `main` reads and writes (handles set per run)
  bool x_shared = false;                  // x's row-major bytes are src's bytes: never reordered
  Layout y_layout = Layout::row_major;    // how `main` leaves y's bytes
  dnnl::memory x_user, src_buf;           // row-major x, and the channels-last buffer it goes to
  ByteBuffer src_storage;                 // src_buf's bytes, allocated at the first row-major x
  BoundPrimitive to_src;                  // x_user -> src_buf
  dnnl::memory sum_plain, sum_cl, sum_view;  // the sum input in each layout; dst seen with its dtype
  BoundPrimitive sum_from_plain, sum_from_cl;  // -> sum_view
  std::string impl;                       // pd.impl_info_str()
};

// Kernel shared by QConv and QMatMul: the plan is built once per input shape (at creation
// when the graph knows the shape); the node goes to the oracle when oneDNN cannot take it.
class Int8Kernel : public Kernel {
 public:
  Status run(KernelContext& ctx) override {
    std::lock_guard<std::mutex> lock(mutex_);
    if (oracle_) return run_on_row_major_inputs(*oracle_, ctx);
    const Tensor& x = *ctx.input(0);
    if (x.dtype != spec_.x_dtype)
      return internal_error("input has dtype {}, expected {}", dtype_name(x.dtype), dtype_name(spec_.x_dtype));
    if (x.numel() == 0) {  // nothing for oneDNN to do; the oracle handles the shapes
      if (!empty_) {
        QD_ASSIGN_OR_RETURN(empty_, oracle_factory(ctx.graph, ctx.node, ctx.options));
      }
      return run_on_row_major_inputs(*empty_, ctx);
    }
    if (!plan_ || plan_->x_shape != x.shape) {
      QD_RETURN_IF_ERROR(prepare(ctx.graph, ctx.node, ctx.options, x.shape));
      if (oracle_) return run_on_row_major_inputs(*oracle_, ctx);
    }
    Plan& p = *plan_;
    const Tensor* sum = spec_.has_sum ? ctx.input(3) : nullptr;
    if (spec_.has_sum && (!sum || sum->shape != p.y_shape || sum->dtype != spec_.sum_dtype))
      return internal_error("sum input must be {} {}", dtype_name(spec_.sum_dtype), shape_str(p.y_shape));
    const Tensor* bias = spec_.bias_runtime ? ctx.input(2) : nullptr;
    if (spec_.bias_runtime && (!bias || bias->dtype != spec_.bias_dtype || bias->numel() != channels_))
      return internal_error("bias must be {} with {} values", dtype_name(spec_.bias_dtype), channels_);
    QD_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_uninitialized(0, spec_.y_dtype, p.y_shape));
    y->layout = p.y_layout;
    if (spec_.y_dtype != DType::f32) y->quant = ctx.graph.value(ctx.node.outputs[0]).quant;
    try {
      dnnl::stream& strm = runtime().stream;
      void* x_data = const_cast<std::byte*>(x.bytes.data());  // oneDNN only reads it
      if (p.x_shared || x.layout == Layout::channels_last) {
        p.src.set_data_handle(x_data);
      } else {
        if (p.src_storage.empty()) {
          p.src_storage.resize(p.src_buf.get_desc().get_size());
          p.src_buf.set_data_handle(p.src_storage.data());
        }
        p.x_user.set_data_handle(x_data);
        p.to_src.execute(strm);
        p.src.set_data_handle(p.src_storage.data());
      }
      p.dst.set_data_handle(y->bytes.data());
      if (sum) {  // oneDNN's sum post-op accumulates onto what dst holds
        void* sum_data = const_cast<std::byte*>(sum->bytes.data());
        p.sum_view.set_data_handle(y->bytes.data());
        if (sum->layout == Layout::channels_last || layouts_share_bytes(sum->shape)) {
          p.sum_cl.set_data_handle(sum_data);
          p.sum_from_cl.execute(strm);
        } else {
          p.sum_plain.set_data_handle(sum_data);
          p.sum_from_plain.execute(strm);
        }
      }
      if (bias) p.bias.set_data_handle(const_cast<std::byte*>(bias->bytes.data()));
      p.main.execute(strm);
      strm.wait();
    } catch (const dnnl::error& e) {
      return dnnl_status(e, ctx.node.op_type);
    }
    return Status::ok();
  }

  // Builds plan_ for `x_shape`, or sets oracle_ (with a note) when oneDNN cannot run it.
  Status prepare(const Graph& g, const Node& n, const ExecOptions& options, const Shape& x_shape) {
    try {
      QD_ASSIGN_OR_RETURN(Plan p, build(g, n, options, x_shape));
      if (is_reference_impl(p.impl))
        note(g, n, options, fmt::format("oneDNN picked its reference implementation {} (slow)", p.impl));
      plan_ = std::move(p);
      return Status::ok();
    } catch (const dnnl::error& e) {
      if (e.status != dnnl_unimplemented) return dnnl_status(e, n.op_type);
      QD_ASSIGN_OR_RETURN(oracle_, run_on_oracle(g, n, options, fmt::format("oneDNN cannot run it ({})", e.what())));
      return Status::ok();
    }
  }

  std::unique_ptr<Kernel> take_oracle() { return std::move(oracle_); }

 protected:
  Int8Kernel(Int8OpSpec spec, int64_t channels) : spec_(std::move(spec)), channels_(channels) {}

  virtual Result<Plan> build(const Graph& g, const Node& n, const ExecOptions& options, const Shape& x_shape) = 0;
  virtual KernelPtr oracle_factory(const Graph& g, const Node& n, const ExecOptions& options) const = 0;

  // Bias, zero points and the sum copies, once `p.dst` exists; `y_plain` is y's row-major
  // tag, `dst_tag` the primitive's (channels-last for conv, the same for matmul).
  void finish_plan(Plan& p, const dnnl::memory::desc& bias_md, const dnnl::memory::dims& y_dims,
                   dnnl::memory::format_tag y_plain, dnnl::memory::format_tag dst_tag) const {
    if (spec_.bias) {
      p.bias = dnnl::memory(bias_md, runtime().engine);
      std::memcpy(p.bias.get_data_handle(), spec_.bias->bytes.data(), spec_.bias->nbytes());
    } else if (spec_.bias_runtime) {
      p.bias = unbound_memory(bias_md);
    }
    p.zp_src = s32_scalar(spec_.zp_x);
    p.zp_wei = s32_scalar(spec_.zp_w);
    p.zp_dst = s32_scalar(spec_.zp_y);
    if (spec_.has_sum) {
      const Runtime& rt = runtime();
      const dnnl::memory::desc plain_md(y_dims, to_dnnl(spec_.sum_dtype), y_plain);
      const dnnl::memory::desc cl_md(y_dims, to_dnnl(spec_.sum_dtype), dst_tag);
      const dnnl::memory::desc view_md(y_dims, spec_.sum_view, dst_tag);
      p.sum_plain = unbound_memory(plain_md);
      p.sum_cl = unbound_memory(cl_md);
      p.sum_view = unbound_memory(view_md);
      p.sum_from_plain = BoundPrimitive(dnnl::reorder(dnnl::reorder::primitive_desc(rt.engine, plain_md, rt.engine, view_md)),
                                        {{DNNL_ARG_FROM, &p.sum_plain}, {DNNL_ARG_TO, &p.sum_view}});
      p.sum_from_cl = BoundPrimitive(dnnl::reorder(dnnl::reorder::primitive_desc(rt.engine, cl_md, rt.engine, view_md)),
                                     {{DNNL_ARG_FROM, &p.sum_cl}, {DNNL_ARG_TO, &p.sum_view}});
    }
  }

  // Binds the main primitive's arguments (after finish_plan made the memories).
  void bind_main(Plan& p, dnnl::primitive prim) const {
    p.main = BoundPrimitive(std::move(prim), {{DNNL_ARG_SRC, &p.src}, {DNNL_ARG_WEIGHTS, &p.weights}, {DNNL_ARG_DST, &p.dst}});
    if (spec_.bias || spec_.bias_runtime) p.main.add(DNNL_ARG_BIAS, p.bias);
    if (spec_.zp_x != 0) p.main.add(DNNL_ARG_ATTR_ZERO_POINTS | DNNL_ARG_SRC, p.zp_src);
    if (spec_.zp_w != 0) p.main.add(DNNL_ARG_ATTR_ZERO_POINTS | DNNL_ARG_WEIGHTS, p.zp_wei);
    if (spec_.zp_y != 0) p.main.add(DNNL_ARG_ATTR_ZERO_POINTS | DNNL_ARG_DST, p.zp_dst);
  }

  // Reorders `w` (row-major, dims `user_dims`) once into the primitive's weights layout.
  static dnnl::memory reorder_weights(const std::vector<int8_t>& w, const dnnl::memory::dims& user_dims,
                                      const dnnl::memory::desc& want) {
    Runtime& rt = runtime();
    const dnnl::memory::desc user_md(user_dims, dt::s8, plain_tag(user_dims.size()));
    dnnl::memory user(user_md, rt.engine, const_cast<int8_t*>(w.data()));
    dnnl::memory out(want, rt.engine);
    dnnl::reorder(user, out).execute(rt.stream, user, out);
    rt.stream.wait();
    return out;
  }

  Int8OpSpec spec_;
  int64_t channels_ = 0;  // output channels (conv M, matmul N)

 private:
  std::mutex mutex_;  // run() rebinds the memories' handles
  std::optional<Plan> plan_;
  std::unique_ptr<Kernel> oracle_;  // set when oneDNN cannot take the node
  std::unique_ptr<Kernel> empty_;   // the oracle, for empty inputs only
};

class QConvKernel final : public Int8Kernel {
 public:
  QConvKernel(Int8OpSpec spec, ConvAttrs attrs) : Int8Kernel(std::move(spec), 0), attrs_(std::move(attrs)) {
    channels_ = spec_.w_shape[0];
  }
  bool reads_channels_last(size_t input) const override { return input == 0 || input == 3; }

 protected:
  KernelPtr oracle_factory(const Graph& g, const Node& n, const ExecOptions& options) const override {
    return intk::create_qconv(g, n, options);
  }

  Result<Plan> build(const Graph& g, const Node& n, const ExecOptions& options, const Shape& x_shape) override {
    QD_ASSIGN_OR_RETURN(ConvGeometry geo, conv_geometry(attrs_, x_shape, spec_.w_shape));
    const int r = geo.spatial_rank();
    if (r < 1 || r > 3) not_implemented(fmt::format("{} spatial dimensions", r));
    if (spec_.params.output_scales.size() != 1 && static_cast<int64_t>(spec_.params.output_scales.size()) != channels_)
      return internal_error("{} output scales for {} output channels", spec_.params.output_scales.size(), channels_);
    Plan p;
    p.x_shape = x_shape;
    p.y_shape = geo.output_shape();
    const size_t rank = x_shape.size();
    const auto cl = channels_last_tag(rank), plain = plain_tag(rank);
    const dnnl::memory::dims x_dims = to_dims(x_shape), y_dims = to_dims(p.y_shape);
    const dnnl::memory::desc src_md(x_dims, to_dnnl(spec_.x_dtype), cl);
    const dnnl::memory::desc dst_md(y_dims, to_dnnl(spec_.y_dtype), cl);
    dnnl::memory::dims strides, dilates, pad_l, pad_r, kernel;
    for (int i = 0; i < r; ++i) {
      const size_t k = static_cast<size_t>(i);
      strides.push_back(geo.strides[k]);
      dilates.push_back(geo.dilations[k] - 1);  // oneDNN counts the holes
      pad_l.push_back(geo.pads_begin[k]);
      pad_r.push_back(geo.pads_end[k]);
      kernel.push_back(geo.kernel[k]);
    }
    const bool with_bias = spec_.bias || spec_.bias_runtime;
    const dnnl::memory::desc bias_md = with_bias ? dnnl::memory::desc({channels_}, to_dnnl(spec_.bias_dtype),
                                                                      dnnl::memory::format_tag::x)
                                                 : dnnl::memory::desc();
    const dnnl::primitive_attr attr = make_attr(spec_);
    const Runtime& rt = runtime();
    auto make_pd = [&](const dnnl::memory::dims& w_dims) {
      const dnnl::memory::desc w_md(w_dims, dt::s8, dnnl::memory::format_tag::any);
      using cf = dnnl::convolution_forward;
      const cf::desc d = with_bias ? cf::desc(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct,
                                              src_md, w_md, bias_md, dst_md, strides, dilates, pad_l, pad_r)
                                   : cf::desc(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct,
                                              src_md, w_md, dst_md, strides, dilates, pad_l, pad_r);
      return cf::primitive_desc(d, attr, rt.engine);
    };
    const int64_t groups = geo.group, cg = geo.in_channels_per_group(), mg = geo.out_channels_per_group();
    dnnl::memory::dims dense_dims{geo.out_channels, geo.in_channels};
    dense_dims.insert(dense_dims.end(), kernel.begin(), kernel.end());
    dnnl::memory::dims w_dims = dense_dims;
    if (groups > 1) {
      w_dims = {groups, mg, cg};
      w_dims.insert(w_dims.end(), kernel.begin(), kernel.end());
    }
    auto pd = make_pd(w_dims);
    p.impl = pd.impl_info_str();
    const std::vector<int8_t>* weights = &spec_.weights;
    if (groups > 1 && is_reference_impl(p.impl) && !(cg == 1 && mg == 1)) {
      // oneDNN's jit int8 kernels block channels per group by 4 or 8; as one dense conv
      // with block-diagonal weights the group runs on jit code, with the same int32 sums.
      auto dense_pd = make_pd(dense_dims);
      if (!is_reference_impl(dense_pd.impl_info_str())) {
        note(g, n, options,
             fmt::format("grouped conv with {} input / {} output channels per group runs as a dense conv with "
                         "block-diagonal weights ({} instead of oneDNN's {})",
                         cg, mg, dense_pd.impl_info_str(), p.impl));
        pd = dense_pd;
        p.impl = pd.impl_info_str();
        w_dims = dense_dims;
        dense_weights_ = block_diagonal(geo);
        weights = &dense_weights_;
      }
    }
    p.weights = reorder_weights(*weights, w_dims, pd.weights_desc());
    dense_weights_.clear();
    dense_weights_.shrink_to_fit();

    // Activations: x in either layout, y channels-last (row-major when the bytes are the same).
    p.x_shared = layouts_share_bytes(x_shape);
    p.y_layout = layouts_share_bytes(p.y_shape) ? Layout::row_major : Layout::channels_last;
    p.src = unbound_memory(src_md);
    p.dst = unbound_memory(dst_md);
    if (!p.x_shared) {
      const dnnl::memory::desc x_md(x_dims, to_dnnl(spec_.x_dtype), plain);
      p.x_user = unbound_memory(x_md);
      p.src_buf = unbound_memory(src_md);
      p.to_src = BoundPrimitive(dnnl::reorder(dnnl::reorder::primitive_desc(rt.engine, x_md, rt.engine, src_md)),
                                {{DNNL_ARG_FROM, &p.x_user}, {DNNL_ARG_TO, &p.src_buf}});
    }
    finish_plan(p, bias_md, y_dims, plain, cl);
    bind_main(p, dnnl::convolution_forward(pd));
    return p;
  }

 private:
  // [M, C/g, k...] weights as [M, C, k...] with zeros outside each output channel's group.
  std::vector<int8_t> block_diagonal(const ConvGeometry& geo) const {
    const int64_t cg = geo.in_channels_per_group(), mg = geo.out_channels_per_group();
    const int64_t ksize = shape_numel(geo.kernel);
    std::vector<int8_t> dense(static_cast<size_t>(geo.out_channels * geo.in_channels * ksize), 0);
    for (int64_t oc = 0; oc < geo.out_channels; ++oc)
      for (int64_t ic = 0; ic < cg; ++ic)
        for (int64_t j = 0; j < ksize; ++j)
          dense[static_cast<size_t>((oc * geo.in_channels + (oc / mg) * cg + ic) * ksize + j)] =
              spec_.weights[static_cast<size_t>((oc * cg + ic) * ksize + j)];
    return dense;
  }

  ConvAttrs attrs_;
  std::vector<int8_t> dense_weights_;  // scratch while building
};

class QMatMulKernel final : public Int8Kernel {
 public:
  explicit QMatMulKernel(Int8OpSpec spec) : Int8Kernel(std::move(spec), 0) { channels_ = spec_.w_shape[1]; }

 protected:
  KernelPtr oracle_factory(const Graph& g, const Node& n, const ExecOptions& options) const override {
    return intk::create_qmatmul(g, n, options);
  }

  Result<Plan> build(const Graph&, const Node&, const ExecOptions&, const Shape& x_shape) override {
    const int64_t kk = spec_.w_shape[0], nn = spec_.w_shape[1];
    if (spec_.w_shape.size() != 2 || x_shape.size() < 2 || x_shape.back() != kk)
      return internal_error("QMatMul shapes {} x {}: need x [..., M, K] and w [K, N]", shape_str(x_shape),
                            shape_str(spec_.w_shape));
    if (spec_.params.output_scales.size() != 1 && static_cast<int64_t>(spec_.params.output_scales.size()) != nn)
      return internal_error("{} output scales for {} output channels", spec_.params.output_scales.size(), nn);
    Plan p;
    p.x_shape = x_shape;
    p.y_shape = x_shape;
    p.y_shape.back() = nn;
    const int64_t rows = shape_numel(x_shape) / kk;
    using tag = dnnl::memory::format_tag;
    const dnnl::memory::desc src_md({rows, kk}, to_dnnl(spec_.x_dtype), tag::ab);
    const dnnl::memory::desc w_md({kk, nn}, dt::s8, tag::any);
    const dnnl::memory::desc dst_md({rows, nn}, to_dnnl(spec_.y_dtype), tag::ab);
    const bool with_bias = spec_.bias || spec_.bias_runtime;
    const dnnl::memory::desc bias_md =
        with_bias ? dnnl::memory::desc({1, nn}, to_dnnl(spec_.bias_dtype), tag::ab) : dnnl::memory::desc();
    const dnnl::matmul::desc d = with_bias ? dnnl::matmul::desc(src_md, w_md, bias_md, dst_md)
                                           : dnnl::matmul::desc(src_md, w_md, dst_md);
    const dnnl::matmul::primitive_desc pd(d, make_attr(spec_), runtime().engine);
    p.impl = pd.impl_info_str();
    p.weights = reorder_weights(spec_.weights, {kk, nn}, pd.weights_desc());
    p.x_shared = true;  // row-major [rows, K] and [rows, N] are the tensors' own layout
    p.src = unbound_memory(src_md);
    p.dst = unbound_memory(dst_md);
    finish_plan(p, bias_md, {rows, nn}, tag::ab, tag::ab);
    bind_main(p, dnnl::matmul(pd));
    return p;
  }
};

template <typename K>
KernelPtr finish_create(const Graph& g, const Node& n, const ExecOptions& options, std::unique_ptr<K> k) {
  if (known_shape(g.value(n.inputs[0])) && shape_numel(g.value(n.inputs[0]).shape) > 0) {
    QD_RETURN_IF_ERROR(k->prepare(g, n, options, g.value(n.inputs[0]).shape));
    if (auto oracle = k->take_oracle()) return oracle;
  }
  return std::unique_ptr<Kernel>(std::move(k));
}

}  // namespace

KernelPtr create_qconv(const Graph& g, const Node& n, const ExecOptions& options) {
  QD_ASSIGN_OR_RETURN(Int8OpSpec spec, read_spec(g, n, /*is_conv=*/true));
  if (!spec.reason.empty()) return run_on_oracle(g, n, options, spec.reason);
  QD_ASSIGN_OR_RETURN(ConvAttrs attrs, parse_conv_attrs(n));
  return finish_create(g, n, options, std::make_unique<QConvKernel>(std::move(spec), std::move(attrs)));
}

KernelPtr create_qmatmul(const Graph& g, const Node& n, const ExecOptions& options) {
  QD_ASSIGN_OR_RETURN(Int8OpSpec spec, read_spec(g, n, /*is_conv=*/false));
  if (!spec.reason.empty()) return run_on_oracle(g, n, options, spec.reason);
  return finish_create(g, n, options, std::make_unique<QMatMulKernel>(std::move(spec)));
}

}  // namespace qdrift::onednn
