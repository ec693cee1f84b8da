// layout.h: the NHWC and NCHWc layouts of ONNX Runtime's contrib ops, for the reference.
//
//   // A channels_last QLinearConv: run the NCHW kernel on inputs 0 (X), convert Y back.
//   return ChannelsLastKernel(std::move(nchw_kernel), {0}).run(ctx);
//
// ONNX Runtime's NHWC ops (QLinearConv channels_last=1, NhwcMaxPool, ...) take row-major
// tensors of shape [N, D1..Dk, C]; its NCHWc ops (com.microsoft.nchwc) row-major tensors of
// shape [N, Cp, D1..Dk] whose bytes are blocked as [N, Cp/b, D1..Dk, b] (Cp = C rounded up
// to the block b). The reference converts to the plain [N, C, D1..Dk] tensor, runs the
// NCHW kernel and converts back: simple, and the arithmetic is the NCHW kernel's.
// Private to kernels/ref.
#pragma once

#include <initializer_list>
#include <memory>
#include <vector>

#include <span>

#include "core/executor.h"

namespace qdrift::ref {

// [N, D1..Dk, C] -> [N, C, D1..Dk] and back; rank >= 3 (asserted), any dtype.
Tensor nhwc_to_nchw(const Tensor& t);
Tensor nchw_to_nhwc(const Tensor& t);

// NCHW [N, C, D...] -> NCHWc [N, Cp, D...] with Cp = ceil(C / block) * block, padding
// channels zero; and back, keeping the first `channels` channels. Rank >= 3 (asserted).
Tensor nchw_to_nchwc(const Tensor& t, int64_t block);
Tensor nchwc_to_nchw(const Tensor& t, int64_t block, int64_t channels);

// Runs `inner` (an NCHW kernel of the same node) with the inputs listed in `nhwc_inputs`
// converted from NHWC, and converts each of its outputs of rank >= 3 back to NHWC. An
// input of rank < 3 among them is the user's error.
[[nodiscard]] Status run_as_nchw(Kernel& inner, KernelContext& ctx, std::span<const size_t> nhwc_inputs);

}  // namespace qdrift::ref

namespace qdrift::ref {

// An NCHW kernel run on NHWC tensors (the inputs listed, and every output of rank >= 3).
class ChannelsLastKernel final : public Kernel {
 public:
  ChannelsLastKernel(std::unique_ptr<Kernel> nchw, std::initializer_list<size_t> nhwc_inputs)
      : nchw_(std::move(nchw)), nhwc_inputs_(nhwc_inputs) {}
  Status run(KernelContext& ctx) override;

 private:
  std::unique_ptr<Kernel> nchw_;
  std::vector<size_t> nhwc_inputs_;
};

}  // namespace qdrift::ref
