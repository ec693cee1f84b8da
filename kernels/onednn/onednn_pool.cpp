// onednn_pool.cpp: MaxPool and QGlobalAveragePool in the oneDNN table.
//
// QGlobalAveragePool reads the channels-last codes as the convolutions leave them (no layout
// reorder) and sums each channel exactly in int32, channels innermost so the compiler
// vectorises it, then calls the oracle's own intk::qpool_code per channel: the formula of
// core/lowered_ops.h, bit-identical to the oracle. Not oneDNN's pooling_avg: it rounds the
// average to the input's grid (no output scale or zero points in 2.6's pooling attributes),
// and its reduction primitive has no zero points either.
//
// MaxPool: On int8 codes (the lowering's
// int8_passthrough) it runs oneDNN's pooling_max primitive on channels-last tensors, so a
// max pool between two int8 convolutions costs no layout reorder: the max of codes is exact,
// padding never wins (oneDNN pads with the type's lowest value, ONNX ignores the padding),
// so it equals the reference MaxPool on the codes bit for bit. Every other MaxPool (f32,
// dilations, ceil_mode, auto_pad, the Indices output, not 2-D) runs on the reference kernel,
// as the table's other float ops do.
#include <algorithm>
#include <mutex>
#include <optional>

#include <fmt/format.h>

#include "kernels/int/int_ops.h"
#include "kernels/onednn/onednn_common.h"
#include "kernels/ref/ref_kernels.h"

namespace qdrift::onednn {

namespace {

struct PoolGeometry {
  std::vector<int64_t> kernel, strides, pad_begin, pad_end;
};

// The 2-D MaxPool attributes oneDNN's pooling_max takes, or nullopt.
std::optional<PoolGeometry> simple_max_pool(const Node& n) {
  PoolGeometry p;
  p.kernel = n.attr_ints("kernel_shape");
  if (p.kernel.size() != 2) return std::nullopt;
  p.strides = n.attr_ints("strides", {1, 1});
  const std::vector<int64_t> pads = n.attr_ints("pads", {0, 0, 0, 0});
  const std::vector<int64_t> dilations = n.attr_ints("dilations", {1, 1});
  const std::string auto_pad = n.attr_string("auto_pad", "NOTSET");
  if (p.strides.size() != 2 || pads.size() != 4 || dilations != std::vector<int64_t>{1, 1} ||
      (auto_pad != "NOTSET" && auto_pad != "VALID") || n.attr_int("ceil_mode", 0) != 0 ||
      n.attr_int("storage_order", 0) != 0)
    return std::nullopt;
  for (int64_t v : p.kernel)
    if (v < 1) return std::nullopt;
  for (int64_t v : p.strides)
    if (v < 1) return std::nullopt;
  p.pad_begin = {pads[0], pads[1]};
  p.pad_end = {pads[2], pads[3]};
  for (size_t i = 0; i < 2; ++i)
    if (p.pad_begin[i] < 0 || p.pad_end[i] < 0 || p.pad_begin[i] >= p.kernel[i] || p.pad_end[i] >= p.kernel[i])
      return std::nullopt;
  return p;
}

class MaxPoolKernel final : public Kernel {
 public:
  MaxPoolKernel(DType dtype, PoolGeometry geometry) : dtype_(dtype), geo_(std::move(geometry)) {}

  bool reads_channels_last(size_t input) const override { return input == 0; }

  Status run(KernelContext& ctx) override {
    std::lock_guard<std::mutex> lock(mutex_);
    const Tensor* x = ctx.input(0);
    if (x->dtype != dtype_ || x->rank() != 4)
      return internal_error("input is {} {}, expected {} of rank 4", dtype_name(x->dtype), shape_str(x->shape),
                            dtype_name(dtype_));
    Shape y_shape = x->shape;
    for (size_t i = 0; i < 2; ++i) {
      const int64_t span = x->shape[i + 2] + geo_.pad_begin[i] + geo_.pad_end[i] - geo_.kernel[i];
      if (span < 0) return invalid_input("MaxPool kernel {} larger than the padded input {}", geo_.kernel[i], x->shape[i + 2]);
      y_shape[i + 2] = span / geo_.strides[i] + 1;
    }
    Tensor converted;
    if (x->layout == Layout::row_major && !layouts_share_bytes(x->shape)) {
      converted = to_channels_last(*x);  // only when the producer left it row-major
      x = &converted;
    }
    QD_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_uninitialized(0, dtype_, y_shape));
    y->layout = layouts_share_bytes(y_shape) ? Layout::row_major : Layout::channels_last;
    y->quant = ctx.graph.value(ctx.node.outputs[0]).quant;
    if (y->numel() == 0) return Status::ok();
    try {
      if (!prim_ || x_shape_ != x->shape) {
        const dnnl::memory::desc src_md(to_dims(x->shape), to_dnnl(dtype_), dnnl::memory::format_tag::nhwc);
        const dnnl::memory::desc dst_md(to_dims(y_shape), to_dnnl(dtype_), dnnl::memory::format_tag::nhwc);
        const dnnl::pooling_forward::desc d(dnnl::prop_kind::forward_inference, dnnl::algorithm::pooling_max, src_md,
                                            dst_md, geo_.strides, geo_.kernel, geo_.pad_begin, geo_.pad_end);
        const dnnl::pooling_forward::primitive_desc pd(d, runtime().engine);
        src_ = unbound_memory(src_md);
        dst_ = unbound_memory(dst_md);
        prim_ = BoundPrimitive(dnnl::pooling_forward(pd), {{DNNL_ARG_SRC, &src_}, {DNNL_ARG_DST, &dst_}});
        x_shape_ = x->shape;
      }
      src_.set_data_handle(const_cast<std::byte*>(x->bytes.data()));  // oneDNN only reads it
      dst_.set_data_handle(y->bytes.data());
      prim_.execute(runtime().stream);
      runtime().stream.wait();
    } catch (const dnnl::error& e) {
      return dnnl_status(e, "MaxPool");
    }
    return Status::ok();
  }

 private:
  DType dtype_;
  PoolGeometry geo_;
  std::mutex mutex_;  // run() rebinds the memories' handles
  Shape x_shape_;     // input shape prim_ was built for
  dnnl::memory src_, dst_;
  BoundPrimitive prim_;
};

class QGlobalAveragePoolKernel final : public Kernel {
 public:
  explicit QGlobalAveragePoolKernel(const intk::QPoolParams& p) : p_(p) {}

  bool reads_channels_last(size_t input) const override { return input == 0; }

  Status run(KernelContext& ctx) override {
    std::lock_guard<std::mutex> lock(mutex_);  // sums_ is the kernel's scratch
    const Tensor& x = *ctx.input(0);
    if (x.dtype != p_.x || x.rank() < 3)
      return internal_error("QGlobalAveragePool input is {} {}, expected {} of rank >= 3", dtype_name(x.dtype),
                            shape_str(x.shape), dtype_name(p_.x));
    Shape y_shape = x.shape;
    int64_t count = 1;
    for (size_t i = 2; i < y_shape.size(); ++i) {
      count *= y_shape[i];
      y_shape[i] = 1;
    }
    const int64_t batch = x.shape[0], channels = x.shape[1];
    if (count > (int64_t{1} << 23)) return unsupported("QGlobalAveragePool over {} elements (int32 sums)", count);
    QD_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_uninitialized(0, p_.y, y_shape));
    y->quant = ctx.graph.value(ctx.node.outputs[0]).quant;
    const bool channels_last = x.layout == Layout::channels_last;
    const QuantGrid grid = quant_grid(p_.y, QuantRange::full);
    sums_.assign(static_cast<size_t>(channels), 0);  // sized once per channel count
    intk::dispatch_int8(p_.x, [&](auto tx) {
      intk::dispatch_int8(p_.y, [&](auto ty) {
        using X = decltype(tx);
        using Y = decltype(ty);
        for (int64_t n = 0; n < batch; ++n) {
          const X* px = x.data<X>() + n * channels * count;
          int32_t* sums = sums_.data();
          std::fill(sums, sums + channels, 0);
          if (channels_last) {
            for (int64_t i = 0; i < count; ++i)
              for (int64_t c = 0; c < channels; ++c) sums[c] += px[i * channels + c];
          } else {
            for (int64_t c = 0; c < channels; ++c)
              for (int64_t i = 0; i < count; ++i) sums[c] += px[c * count + i];
          }
          Y* py = y->data<Y>() + n * channels;
          for (int64_t c = 0; c < channels; ++c)
            py[c] = static_cast<Y>(intk::qpool_code(sums[c] - int64_t{p_.zp_x} * count, count, p_, grid));
        }
      });
    });
    return Status::ok();
  }

 private:
  intk::QPoolParams p_;
  std::mutex mutex_;
  std::vector<int32_t> sums_;
};

}  // namespace

Result<std::unique_ptr<Kernel>> create_qglobal_average_pool(const Graph& g, const Node& n, const ExecOptions&) {
  QD_ASSIGN_OR_RETURN(intk::QPoolParams p, intk::qpool_params(g, n));
  return std::unique_ptr<Kernel>(new QGlobalAveragePoolKernel(p));
}

Result<std::unique_ptr<Kernel>> create_max_pool(const Graph& g, const Node& n, const ExecOptions& options) {
  const DType t = g.value(n.inputs[0]).dtype;
  const bool indices = n.outputs.size() > 1 && n.outputs[1] != kNoValue;
  if ((t == DType::u8 || t == DType::s8) && !indices) {
    if (auto geometry = simple_max_pool(n)) return std::unique_ptr<Kernel>(new MaxPoolKernel(t, std::move(*geometry)));
    note(g, n, options, "int8 MaxPool with attributes oneDNN's pooling does not take: runs on the reference kernel");
  }
  return ref_kernel_table().factories[static_cast<size_t>(OpKind::MaxPool)](g, n, options);
}

}  // namespace qdrift::onednn
