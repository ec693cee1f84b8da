// onednn_kernels.cpp: the oneDNN table, its engine and stream, and the Quantize /
// Dequantize / Requantize kernels as reorders with output scales and zero points.
//
// oneDNN 2.6's jit reorder computes, per element (checked on the installed library):
//   dst = saturate(round_half_even((f32(src) - f32(zp_src)) * scale + f32(zp_dst)))
// which is the contract's formula with scale = 1/s_y (Quantize), s_x (Dequantize, no
// rounding) or s_x/s_y (Requantize). Its zero points are per tensor only: per-axis zero
// points send the node to the integer oracle.
//
// Layout: per-tensor Quantize and Requantize are elementwise, so they read a channels-last
// input (a QConv's output) as it is and leave their output in the same layout. Dequantize
// feeds float reference kernels, which read row-major: the executor converts its int8
// input (1 byte per element) rather than its f32 output (4). Per-axis reorders index
// channels in row-major order and read row-major inputs only.
#include "kernels/onednn/onednn_kernels.h"

#include <mutex>

#include <fmt/format.h>

#include "kernels/int/int_kernels.h"
#include "kernels/int/int_ops.h"
#include "kernels/onednn/onednn_common.h"

namespace qdrift {

namespace onednn {

Runtime& runtime() {
  static Runtime rt = [] {
    dnnl::engine engine(dnnl::engine::kind::cpu, 0);
    return Runtime{engine, dnnl::stream(engine)};
  }();
  return rt;
}

dnnl::memory::data_type to_dnnl(DType t) {
  using dt = dnnl::memory::data_type;
  switch (t) {
    case DType::u8: return dt::u8;
    case DType::s8: return dt::s8;
    case DType::s32: return dt::s32;
    case DType::f32: return dt::f32;
    default: QD_ASSERT(false && "no oneDNN data type");
  }
  return dt::undef;
}

dnnl::memory::format_tag plain_tag(size_t rank) {
  using tag = dnnl::memory::format_tag;
  static constexpr tag kTags[] = {tag::a, tag::a, tag::ab, tag::abc, tag::abcd, tag::abcde, tag::abcdef};
  QD_ASSERT(rank < std::size(kTags));
  return kTags[rank];
}

dnnl::memory::format_tag channels_last_tag(size_t rank) {
  using tag = dnnl::memory::format_tag;
  QD_ASSERT(rank >= 3 && rank <= 5);
  return rank == 3 ? tag::nwc : rank == 4 ? tag::nhwc : tag::ndhwc;
}

void note(const Graph& g, const Node& n, const ExecOptions& options, std::string_view text) {
  if (options.log) options.log(fmt::format("{}: {}", g.describe(n), text));
}

Result<std::unique_ptr<Kernel>> run_on_oracle(const Graph& g, const Node& n, const ExecOptions& options,
                                              std::string_view reason) {
  note(g, n, options, fmt::format("{}: runs on the integer oracle", reason));
  const KernelFactory f = int_kernel_table().factories[static_cast<size_t>(n.kind)];
  QD_ASSERT(f != nullptr);
  return f(g, n, options);
}

Status dnnl_status(const dnnl::error& e, std::string_view what) {
  if (e.status == dnnl_unimplemented) return unsupported("oneDNN has no implementation for {}", what);
  return internal_error("oneDNN failed on {}: {}", what, e.what());
}

bool known_shape(const Value& v) { return v.has_shape && shape_is_known(v.shape); }

}  // namespace onednn

namespace {

using namespace onednn;
using KernelPtr = Result<std::unique_ptr<Kernel>>;

// Zero points of one side of a reorder: 0 when the value has none, one common value, or
// nullopt when they differ by channel (oneDNN 2.6 reorders take a common zero point only).
std::optional<int32_t> common_zero_point(const Value& v) {
  if (!v.quant || v.quant->zero_point.empty()) return 0;
  const auto& zp = v.quant->zero_point;
  for (int32_t z : zp)
    if (z != zp[0]) return std::nullopt;
  return zp[0];
}

// Quantize, Dequantize and Requantize: one reorder over [outer, channels, inner].
class ReorderKernel final : public Kernel {
 public:
  static KernelPtr create(const Graph& g, const Node& n, const ExecOptions& options) {
    if (n.inputs.size() != 1 || n.outputs.size() != 1) return internal_error("{} takes one input and one output", n.op_type);
    const Value& x = g.value(n.inputs[0]);
    const Value& y = g.value(n.outputs[0]);
    auto k = std::unique_ptr<ReorderKernel>(new ReorderKernel());
    k->in_ = n.kind == OpKind::Quantize ? DType::f32 : x.dtype;
    k->out_ = n.kind == OpKind::Dequantize ? DType::f32 : y.dtype;
    const bool in_ok = n.kind == OpKind::Quantize ? x.dtype == DType::f32 || x.dtype == DType::undefined
                       : n.kind == OpKind::Dequantize
                           ? k->in_ == DType::u8 || k->in_ == DType::s8 || k->in_ == DType::s32
                           : k->in_ == DType::u8 || k->in_ == DType::s8;
    const bool out_ok = n.kind == OpKind::Dequantize ? y.dtype == DType::f32 || y.dtype == DType::undefined
                                                     : k->out_ == DType::u8 || k->out_ == DType::s8;
    if (!in_ok || !out_ok)
      return internal_error("{} from {} to {} is not a lowered int8 op", n.op_type, dtype_name(x.dtype), dtype_name(y.dtype));
    if (n.kind != OpKind::Quantize && !common_zero_point(x))
      return run_on_oracle(g, n, options, fmt::format("per-axis zero points of '{}' (oneDNN reorders take one)", x.name));
    if (n.kind != OpKind::Dequantize && !common_zero_point(y))
      return run_on_oracle(g, n, options, fmt::format("per-axis zero points of '{}' (oneDNN reorders take one)", y.name));
    const bool per_axis = (x.quant && x.quant->is_per_axis()) || (y.quant && y.quant->is_per_axis());
    k->elementwise_ = n.kind != OpKind::Dequantize && !per_axis;
    if (known_shape(x)) QD_RETURN_IF_ERROR(k->prepare(g, n, x.shape));
    return std::unique_ptr<Kernel>(std::move(k));
  }

  bool reads_channels_last(size_t input) const override { return input == 0 && elementwise_; }

  Status run(KernelContext& ctx) override {
    std::lock_guard<std::mutex> lock(mutex_);
    const Tensor& x = *ctx.input(0);
    if (x.dtype != in_) return internal_error("input has dtype {}, expected {}", dtype_name(x.dtype), dtype_name(in_));
    QD_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_uninitialized(0, out_, x.shape));
    if (out_ != DType::f32) y->quant = ctx.graph.value(ctx.node.outputs[0]).quant;
    y->layout = x.layout;  // per-tensor over [numel]: the order of the bytes does not matter
    if (x.numel() == 0) return Status::ok();
    if (!prim_ || shape_ != x.shape) QD_RETURN_IF_ERROR(prepare(ctx.graph, ctx.node, x.shape));
    try {
      src_.set_data_handle(const_cast<std::byte*>(x.bytes.data()));  // read only
      dst_.set_data_handle(y->bytes.data());
      prim_.execute(runtime().stream);
      runtime().stream.wait();
    } catch (const dnnl::error& e) {
      return dnnl_status(e, "a reorder");
    }
    return Status::ok();
  }

 private:
  ReorderKernel() = default;

  // Builds the reorder for inputs of `shape` (scales depend on the layout only).
  Status prepare(const Graph& g, const Node& n, const Shape& shape) {
    if (shape_numel(shape) == 0) return Status::ok();
    std::vector<float> scales;
    int32_t zp_src = 0, zp_dst = 0;
    intk::AxisQuant layout;
    if (n.kind == OpKind::Requantize) {
      QD_ASSIGN_OR_RETURN(intk::RequantParams p, intk::requant_params(g, n, shape));
      scales = p.scale;
      zp_src = p.zp_x[0];
      zp_dst = p.zp_y[0];
      layout = p.layout;
    } else if (n.kind == OpKind::Quantize) {
      QD_ASSIGN_OR_RETURN(layout, intk::axis_quant(g, n.outputs[0], shape, "output"));
      for (float s : layout.scale) scales.push_back(1.f / s);
      zp_dst = layout.zero_point[0];
    } else {
      QD_ASSIGN_OR_RETURN(layout, intk::axis_quant(g, n.inputs[0], shape, "input"));
      scales = layout.scale;
      zp_src = layout.zero_point[0];
    }
    const bool per_axis = scales.size() > 1;
    const dnnl::memory::dims dims = per_axis ? dnnl::memory::dims{layout.outer, layout.channels, layout.inner}
                                             : dnnl::memory::dims{shape_numel(shape)};
    try {
      const dnnl::memory::desc src_md(dims, to_dnnl(in_), plain_tag(dims.size()));
      const dnnl::memory::desc dst_md(dims, to_dnnl(out_), plain_tag(dims.size()));
      dnnl::primitive_attr attr;
      attr.set_output_scales(per_axis ? 1 << 1 : 0, scales);
      if (zp_src != 0) attr.set_zero_points(DNNL_ARG_SRC, 0, {zp_src});
      if (zp_dst != 0) attr.set_zero_points(DNNL_ARG_DST, 0, {zp_dst});
      const Runtime& rt = runtime();
      dnnl::reorder::primitive_desc pd(rt.engine, src_md, rt.engine, dst_md, attr);
      src_ = unbound_memory(src_md);
      dst_ = unbound_memory(dst_md);
      prim_ = BoundPrimitive(dnnl::reorder(pd), {{DNNL_ARG_FROM, &src_}, {DNNL_ARG_TO, &dst_}});
    } catch (const dnnl::error& e) {
      return dnnl_status(e, fmt::format("{} {} -> {}", n.op_type, dtype_name(in_), dtype_name(out_)));
    }
    shape_ = shape;
    return Status::ok();
  }

  DType in_ = DType::undefined;
  DType out_ = DType::undefined;
  bool elementwise_ = false;  // per-tensor Quantize/Requantize: any layout in, the same out
  std::mutex mutex_;  // run() rebinds the memories' handles
  Shape shape_;       // input shape prim_ was built for
  dnnl::memory src_, dst_;  // bound to prim_; their handles are set per run
  BoundPrimitive prim_;
};

KernelTable make_onednn_table() {
  KernelTable table;
  table.name = "onednn";
  table.factories[static_cast<size_t>(OpKind::Quantize)] = &ReorderKernel::create;
  table.factories[static_cast<size_t>(OpKind::Dequantize)] = &ReorderKernel::create;
  table.factories[static_cast<size_t>(OpKind::Requantize)] = &ReorderKernel::create;
  table.factories[static_cast<size_t>(OpKind::QConv)] = &onednn::create_qconv;
  table.factories[static_cast<size_t>(OpKind::QMatMul)] = &onednn::create_qmatmul;
  table.factories[static_cast<size_t>(OpKind::QAdd)] = &onednn::create_qadd;
  table.factories[static_cast<size_t>(OpKind::QGlobalAveragePool)] = &onednn::create_qglobal_average_pool;
  register_lowered_ref_kinds(table);
  table.factories[static_cast<size_t>(OpKind::MaxPool)] = &onednn::create_max_pool;  // int8: oneDNN pooling
  return table;
}

std::string isa_name(dnnl::cpu_isa isa) {
  using i = dnnl::cpu_isa;
  switch (isa) {
    case i::sse41: return "sse41";
    case i::avx: return "avx";
    case i::avx2: return "avx2";
    case i::avx2_vnni: return "avx2_vnni";
    case i::avx512_mic: return "avx512_mic";
    case i::avx512_mic_4ops: return "avx512_mic_4ops";
    case i::avx512_core: return "avx512_core";
    case i::avx512_core_vnni: return "avx512_core_vnni";
    case i::avx512_core_bf16: return "avx512_core_bf16";
    case i::avx512_core_amx: return "avx512_core_amx";
    default: return fmt::format("isa#{}", static_cast<int>(isa));
  }
}

}  // namespace

const KernelTable& onednn_kernel_table() {
  static const KernelTable table = make_onednn_table();
  return table;
}

OnednnRuntimeInfo onednn_runtime_info() {
  OnednnRuntimeInfo info;
  const dnnl_version_t* v = dnnl::version();
  info.version = fmt::format("{}.{}.{}", v->major, v->minor, v->patch);
  const dnnl::cpu_isa isa = dnnl::get_effective_cpu_isa();
  info.isa = isa_name(isa);
  using i = dnnl::cpu_isa;
  info.int8_vnni = isa == i::avx2_vnni || isa == i::avx512_core_vnni || isa == i::avx512_core_bf16 ||
                   isa == i::avx512_core_amx;
  return info;
}

}  // namespace qdrift
