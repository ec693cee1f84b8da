// resnet50_qdq.h: a ResNet-50-size model built in C++ with ONNX's protobuf classes, as a
// float model (for calibration) or as the QDQ model ONNX Runtime's static quantizer writes
// (the same plumbing, weights and quantization as bench/mobilenet_v2_qdq.h).
//
//   onnx::ModelProto fp = bench::build_resnet50(/*seed=*/1, nullptr);     // float
//   onnx::ModelProto q = bench::build_resnet50(/*seed=*/1, &cal);         // QDQ
//
// Topology (He et al. 2016, torchvision's resnet50, 1x3x224x224): stem conv 7x7/2 64ch +
// Relu, MaxPool 3x3/2; four stages of bottleneck blocks (3, 4, 6, 3) of widths 64, 128, 256,
// 512 (expansion 4): conv 1x1 + Relu, conv 3x3 (stride 2 in the first block of stages 2-4,
// torchvision's v1.5) + Relu, conv 1x1 (linear), a 1x1 downsample conv on the skip of each
// stage's first block; then, torchvision's layout, the residual Add, then Relu, then the
// QuantizeLinear of the Relu's output (the conv 1x1's output is quantized before the Add,
// as ONNX Runtime's quantizer writes it); GlobalAveragePool; Flatten; Gemm 1000. No
// BatchNormalization (folded, as exported models have it).
#pragma once

#include <array>
#include <string>

#include "bench/mobilenet_v2_qdq.h"

namespace bench {

class ResNet50Builder : public QdqGraphBuilder {
 public:
  using QdqGraphBuilder::QdqGraphBuilder;

  onnx::ModelProto build() {
    onnx::ModelProto model;
    model.set_ir_version(7);
    model.set_producer_name("qdrift bench (ONNX Runtime quantize_static QDQ layout)");
    model.set_producer_version("1");
    auto* opset = model.add_opset_import();
    opset->set_domain("");
    opset->set_version(13);
    g_ = model.mutable_graph();
    g_->set_name(cal_ ? "resnet50_qdq" : "resnet50_fp32");
    add_io(g_->add_input(), kInputName, {1, 3, kImageSize, kImageSize});

    Act x = activation(kInputName);
    int64_t h = kImageSize;
    x = conv("stem", x, 3, 64, 7, 2, 1, ConvAct::relu, h);
    x = max_pool("stem_pool", x, 3, 2, 1, h);
    int64_t cin = 64;
    static constexpr std::array<std::array<int64_t, 2>, 4> kStages = {{{3, 64}, {4, 128}, {6, 256}, {3, 512}}};
    int index = 0;
    for (size_t s = 0; s < kStages.size(); ++s) {
      const auto [blocks, width] = kStages[s];
      for (int64_t i = 0; i < blocks; ++i) {
        const int64_t stride = (i == 0 && s > 0) ? 2 : 1;
        const std::string name = "block" + std::to_string(index++);
        int64_t h_out = h;
        Act y = conv(name + "_conv1", x, cin, width, 1, 1, 1, ConvAct::relu, h_out);
        y = conv(name + "_conv2", y, width, width, 3, stride, 1, ConvAct::relu, h_out);
        y = conv(name + "_conv3", y, width, width * 4, 1, 1, 1, ConvAct::none, h_out);
        Act skip = x;
        if (i == 0) {
          int64_t h_skip = h;
          skip = conv(name + "_downsample", x, cin, width * 4, 1, stride, 1, ConvAct::none, h_skip);
        }
        x = add_relu(name + "_add", y, skip);
        ++info_.residual_adds;
        ++info_.blocks;
        h = h_out;
        cin = width * 4;
      }
    }
    x = unary("GlobalAveragePool", "pool", x);
    x = unary("Flatten", "flatten", x);
    x = gemm("classifier", x, cin, kClasses);
    add_io(g_->add_output(), x.name, {1, kClasses});
    return model;
  }
};

// One call: the float model (calibration == nullptr) or the QDQ model.
inline onnx::ModelProto build_resnet50(uint32_t seed, const Calibration* calibration, ModelInfo* info = nullptr) {
  ResNet50Builder b(seed, calibration);
  onnx::ModelProto m = b.build();
  if (info) *info = b.info();
  return m;
}

}  // namespace bench
