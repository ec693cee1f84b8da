#include "kernels/ref/layout.h"

#include <cstring>
#include <vector>

namespace qdrift::ref {

namespace {

// Copies element `from` of `src` to element `to` of `dst` (same dtype).
inline void copy_element(const Tensor& src, int64_t from, Tensor& dst, int64_t to, size_t size) {
  std::memcpy(dst.bytes.data() + static_cast<size_t>(to) * size, src.bytes.data() + static_cast<size_t>(from) * size,
              size);
}

}  // namespace

Tensor nhwc_to_nchw(const Tensor& t) {
  QD_ASSERT(t.rank() >= 3 && t.layout == Layout::row_major);
  const int64_t n = t.shape[0], c = t.shape.back();
  const int64_t plane = shape_numel(Shape(t.shape.begin() + 1, t.shape.end() - 1));
  Shape out_shape{n, c};
  out_shape.insert(out_shape.end(), t.shape.begin() + 1, t.shape.end() - 1);
  Tensor out = Tensor::uninitialized(t.dtype, out_shape);
  const size_t size = dtype_size(t.dtype);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t s = 0; s < plane; ++s)
      for (int64_t ch = 0; ch < c; ++ch) copy_element(t, (i * plane + s) * c + ch, out, (i * c + ch) * plane + s, size);
  return out;
}

Tensor nchw_to_nhwc(const Tensor& t) {
  QD_ASSERT(t.rank() >= 3 && t.layout == Layout::row_major);
  const int64_t n = t.shape[0], c = t.shape[1];
  const int64_t plane = shape_numel(Shape(t.shape.begin() + 2, t.shape.end()));
  Shape out_shape{n};
  out_shape.insert(out_shape.end(), t.shape.begin() + 2, t.shape.end());
  out_shape.push_back(c);
  Tensor out = Tensor::uninitialized(t.dtype, out_shape);
  const size_t size = dtype_size(t.dtype);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t s = 0; s < plane; ++s) copy_element(t, (i * c + ch) * plane + s, out, (i * plane + s) * c + ch, size);
  return out;
}

Tensor nchw_to_nchwc(const Tensor& t, int64_t block) {
  QD_ASSERT(t.rank() >= 3 && block > 0 && t.layout == Layout::row_major);
  const int64_t n = t.shape[0], c = t.shape[1];
  const int64_t cp = (c + block - 1) / block * block;
  const int64_t plane = shape_numel(Shape(t.shape.begin() + 2, t.shape.end()));
  Shape out_shape = t.shape;
  out_shape[1] = cp;
  Tensor out = Tensor::zeros(t.dtype, out_shape);
  const size_t size = dtype_size(t.dtype);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t s = 0; s < plane; ++s)
        copy_element(t, (i * c + ch) * plane + s, out, ((i * (cp / block) + ch / block) * plane + s) * block + ch % block,
                     size);
  return out;
}

Tensor nchwc_to_nchw(const Tensor& t, int64_t block, int64_t channels) {
  QD_ASSERT(t.rank() >= 3 && block > 0 && t.shape[1] % block == 0 && channels <= t.shape[1]);
  const int64_t n = t.shape[0], cp = t.shape[1];
  const int64_t plane = shape_numel(Shape(t.shape.begin() + 2, t.shape.end()));
  Shape out_shape = t.shape;
  out_shape[1] = channels;
  Tensor out = Tensor::uninitialized(t.dtype, out_shape);
  const size_t size = dtype_size(t.dtype);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t ch = 0; ch < channels; ++ch)
      for (int64_t s = 0; s < plane; ++s)
        copy_element(t, ((i * (cp / block) + ch / block) * plane + s) * block + ch % block, out,
                     (i * channels + ch) * plane + s, size);
  return out;
}

Status run_as_nchw(Kernel& inner, KernelContext& ctx, std::span<const size_t> nhwc_inputs) {
  std::vector<Tensor> converted(ctx.inputs.size());
  std::vector<const Tensor*> inputs(ctx.inputs.begin(), ctx.inputs.end());
  for (size_t i : nhwc_inputs) {
    if (i >= inputs.size() || !inputs[i] || inputs[i]->empty()) continue;
    if (inputs[i]->rank() < 3)
      return invalid_input("input {} has shape {}: a channels-last tensor needs rank >= 3 (N, spatial..., C)", i,
                           shape_str(inputs[i]->shape));
    converted[i] = nhwc_to_nchw(*inputs[i]);
    inputs[i] = &converted[i];
  }
  std::vector<Tensor> outputs(ctx.outputs.size());
  KernelContext inner_ctx{ctx.graph, ctx.node, ctx.options, inputs, outputs};
  QD_RETURN_IF_ERROR(inner.run(inner_ctx));
  for (size_t o = 0; o < outputs.size(); ++o)
    ctx.outputs[o] = outputs[o].rank() >= 3 ? nchw_to_nhwc(outputs[o]) : std::move(outputs[o]);
  return Status::ok();
}

Status ChannelsLastKernel::run(KernelContext& ctx) { return run_as_nchw(*nchw_, ctx, nhwc_inputs_); }

}  // namespace qdrift::ref
