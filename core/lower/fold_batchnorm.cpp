// fold_batchnorm.cpp: part of fuse_conv under weights=requantize: Conv -> BatchNormalization
// folded into the float weights and bias, then the weights re-quantized per output channel
// with max|w| / 127 (Paddle's weight quantization).
#include "core/lower/lowering.h"

#include <algorithm>
#include <cmath>

namespace qdrift {

bool Lowering::bn_constants(const Node& bn) const {
  for (size_t i = 1; i < 5; ++i) {
    const Tensor* t = constant(bn.input(i));
    if (!t || t->dtype != DType::f32) return false;
  }
  return bn.attr_int("training_mode", 0) == 0;
}

void Lowering::fold_batchnorm(const Node& bn, Tensor& w_real, std::vector<float>& bias) const {
  const float* gamma = constant(bn.input(1))->data<float>();
  const float* beta = constant(bn.input(2))->data<float>();
  const float* mean = constant(bn.input(3))->data<float>();
  const float* var = constant(bn.input(4))->data<float>();
  const float eps = bn.attr_float("epsilon", 1e-5f);
  const int64_t oc = w_real.shape[0];
  const int64_t per = w_real.numel() / oc;
  for (int64_t c = 0; c < oc; ++c) {
    const float k = gamma[c] / std::sqrt(var[c] + eps);
    for (int64_t i = 0; i < per; ++i) w_real.data<float>()[c * per + i] *= k;
    bias[static_cast<size_t>(c)] = (bias[static_cast<size_t>(c)] - mean[c]) * k + beta[c];
  }
}

// Per-channel symmetric s8, scale max|w| / 127 (Paddle's weight quantization).
QuantizedWeights Lowering::requantize_weights(const Tensor& real, int channel_axis) const {
  QuantizedWeights w;
  const int64_t channels = real.shape[static_cast<size_t>(channel_axis)];
  const int64_t inner = shape_strides(real.shape)[static_cast<size_t>(channel_axis)];
  std::vector<float> max_abs(static_cast<size_t>(channels), 0.f);
  for (int64_t i = 0; i < real.numel(); ++i) {
    const size_t c = static_cast<size_t>((i / inner) % channels);
    max_abs[c] = std::max(max_abs[c], std::fabs(real.data<float>()[i]));
  }
  w.q.zero_point_type = DType::s8;
  w.q.axis = channel_axis;
  for (float m : max_abs) {
    w.q.scale.push_back(m > 0.f ? m / 127.f : 1.f);
    w.q.zero_point.push_back(0);
  }
  w.codes = quantize_tensor(real, w.q, quant_grid(DType::s8, QuantRange::full), Rounding::half_even);
  return w;
}

}  // namespace qdrift
