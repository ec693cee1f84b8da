// mobilenet_v2_qdq.h: a MobileNetV2-size model built in C++ with ONNX's protobuf classes,
// as a float model (for calibration) or as the QDQ model ONNX Runtime's static quantizer
// writes. Used by the benchmarks; header-only so every bench/*.cpp stays one executable.
//
//   onnx::ModelProto fp = bench::build_mobilenet_v2(/*seed=*/1, nullptr);     // float
//   bench::Calibration cal = ...;   // per float tensor: min/max from a float run
//   onnx::ModelProto q = bench::build_mobilenet_v2(/*seed=*/1, &cal);         // QDQ
//
// Topology (Sandler et al. 2018, width 1.0, 1x3x224x224): stem conv 3x3/2 32ch + ReLU6;
// 17 inverted-residual blocks (t, c, n, s) = (1,16,1,1) (6,24,2,2) (6,32,3,2) (6,64,4,2)
// (6,96,3,1) (6,160,3,2) (6,320,1,1), each expand 1x1 + ReLU6 (absent when t = 1),
// depthwise 3x3 + ReLU6, project 1x1 (linear), residual Add where stride 1 and channels
// match; conv 1x1 1280 + ReLU6; GlobalAveragePool; Flatten; Gemm 1000. No BatchNormalization
// (folded, as exported models have it). ReLU6 is Clip(x, 0, 6) with constant min/max.
//
// Weights: He normal (std sqrt(2 / fan_in)), biases N(0, 0.05), from a fixed-seed mt19937
// and our own Box-Muller, so both builds and every platform draw the same numbers.
//
// QDQ (ONNX Runtime's quantize_static, QuantFormat.QDQ, per_channel=True, the defaults):
// every float activation t gets QuantizeLinear -> DequantizeLinear (u8, asymmetric, zero
// point from the calibrated [min(lo,0), max(hi,0)] range); conv and Gemm weights are s8
// symmetric per output channel ([-127,127], DequantizeLinear axis=0); biases int32 with
// scale s_x * s_w[c] and zero point 0. Names follow the quantizer: "t_QuantizeLinear_Output",
// "t_DequantizeLinear_Output", "<node>.weight_quantized", "<node>.weight_scale", ...
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <onnx/onnx_pb.h>

namespace bench {

struct Range {
  float lo = 0.f;
  float hi = 0.f;
};
// Float tensor name -> observed range (from a float run on the sample input).
using Calibration = std::map<std::string, Range>;

inline constexpr int64_t kImageSize = 224;
inline constexpr int64_t kClasses = 1000;
inline constexpr const char* kInputName = "input";

// Standard normal numbers from mt19937, identical on every standard library.
class Normal {
 public:
  explicit Normal(uint32_t seed) : rng_(seed) {}
  float operator()() {
    if (have_spare_) {
      have_spare_ = false;
      return spare_;
    }
    double u1 = 0.0;
    while (u1 <= 1e-12) u1 = static_cast<double>(rng_()) / 4294967296.0;
    const double u2 = static_cast<double>(rng_()) / 4294967296.0;
    const double r = std::sqrt(-2.0 * std::log(u1));
    spare_ = static_cast<float>(r * std::sin(6.283185307179586 * u2));
    have_spare_ = true;
    return static_cast<float>(r * std::cos(6.283185307179586 * u2));
  }

 private:
  std::mt19937 rng_;
  float spare_ = 0.f;
  bool have_spare_ = false;
};

// u8 asymmetric activation parameters as the quantizer computes them from a range.
struct ActQuant {
  float scale = 1.f;
  uint8_t zero_point = 0;
};
inline ActQuant act_quant(Range r) {
  const float lo = std::min(r.lo, 0.f), hi = std::max(r.hi, 0.f);
  ActQuant q;
  q.scale = std::max(hi - lo, 1e-3f) / 255.f;  // an all-zero tensor still gets a usable grid
  q.zero_point = static_cast<uint8_t>(std::clamp(std::nearbyint(-lo / q.scale), 0.f, 255.f));
  return q;
}

// Multiply-accumulates of the network (for the printout): convs and the Gemm.
struct ModelInfo {
  int64_t macs = 0;
  int convs = 0;
  int blocks = 0;
  int residual_adds = 0;
};

// Fused activation of a conv in the models below.
enum class ConvAct { none, relu, relu6 };

// The plumbing shared by the bench models: activations with their QuantizeLinear ->
// DequantizeLinear pair (QDQ model) or plain (float model), convs, Gemm, Add, unary ops,
// weights and biases quantized as the quantizer does, and the protobuf calls.
class QdqGraphBuilder {
 public:
  QdqGraphBuilder(uint32_t seed, const Calibration* calibration) : normal_(seed), cal_(calibration) {}
  const ModelInfo& info() const { return info_; }

 protected:
  // A tensor as consumers read it (`name`: the DQ output in the QDQ model) and the float
  // tensor its quantization was calibrated on (`source`).
  struct Act {
    std::string name;
    std::string source;
  };

  Act activation(const std::string& t) {
    if (!cal_) return {t, t};
    const ActQuant q = quant_of(t);
    const std::string scale = t + "_scale", zp = t + "_zero_point";
    add_tensor_f32(scale, {}, {q.scale});
    auto* z = add_initializer(zp, onnx::TensorProto::UINT8, {});
    z->set_raw_data(std::string(1, static_cast<char>(q.zero_point)));
    const std::string qn = t + "_QuantizeLinear_Output", dq = t + "_DequantizeLinear_Output";
    node("QuantizeLinear", t + "_QuantizeLinear", {t, scale, zp}, {qn});
    node("DequantizeLinear", t + "_DequantizeLinear", {qn, scale, zp}, {dq});
    return {dq, t};
  }

  ActQuant quant_of(const std::string& t) const {
    const auto it = cal_->find(t);
    return act_quant(it == cal_->end() ? Range{-1.f, 1.f} : it->second);
  }

  // He-initialised weights [cout, cin/group, k, k] and bias; quantized in the QDQ model.
  Act conv(const std::string& name, const Act& x, int64_t cin, int64_t cout, int64_t k, int64_t stride, int64_t group,
           ConvAct act, int64_t& h) {
    const int64_t fan_in = cin / group * k * k;
    std::vector<float> w = he_normal(cout * fan_in, fan_in);
    std::vector<float> b = normal_vector(cout, 0.05f);
    const int64_t pad = k / 2;
    h = (h + 2 * pad - k) / stride + 1;
    info_.macs += cout * fan_in * h * h;
    ++info_.convs;
    const auto [wname, bname] = weights_and_bias(name, x, w, {cout, cin / group, k, k}, b);
    onnx::NodeProto* n = node("Conv", name + "_Conv", {x.name, wname, bname}, {name});
    add_ints(n, "kernel_shape", {k, k});
    add_ints(n, "strides", {stride, stride});
    add_ints(n, "pads", {pad, pad, pad, pad});
    add_ints(n, "dilations", {1, 1});
    add_int(n, "group", group);
    std::string out = name;
    if (act == ConvAct::relu6) {
      out = name + "_relu6";
      node("Clip", name + "_Clip", {name, "relu6_min", "relu6_max"}, {out});
    } else if (act == ConvAct::relu) {
      out = name + "_relu";
      node("Relu", name + "_Relu", {name}, {out});
    }
    return activation(out);
  }

  Act gemm(const std::string& name, const Act& x, int64_t in, int64_t out) {
    std::vector<float> w = he_normal(out * in, in);
    std::vector<float> b = normal_vector(out, 0.05f);
    info_.macs += out * in;
    const auto [wname, bname] = weights_and_bias(name, x, w, {out, in}, b);
    onnx::NodeProto* n = node("Gemm", name + "_Gemm", {x.name, wname, bname}, {name});
    add_int(n, "transB", 1);
    return activation(name);
  }

  Act add(const std::string& name, const Act& a, const Act& b) {
    node("Add", name + "_Add", {a.name, b.name}, {name});
    return activation(name);
  }

  // torchvision's residual: Add, then Relu, then the QuantizeLinear of the Relu's output.
  Act add_relu(const std::string& name, const Act& a, const Act& b) {
    node("Add", name + "_Add", {a.name, b.name}, {name});
    node("Relu", name + "_Relu", {name}, {name + "_relu"});
    return activation(name + "_relu");
  }

  Act max_pool(const std::string& name, const Act& x, int64_t k, int64_t stride, int64_t pad, int64_t& h) {
    onnx::NodeProto* n = node("MaxPool", name + "_MaxPool", {x.name}, {name});
    add_ints(n, "kernel_shape", {k, k});
    add_ints(n, "strides", {stride, stride});
    add_ints(n, "pads", {pad, pad, pad, pad});
    h = (h + 2 * pad - k) / stride + 1;
    return activation(name);
  }

  Act unary(const std::string& op, const std::string& name, const Act& x) {
    node(op, name + "_" + op, {x.name}, {name});
    return activation(name);
  }

  // Float initializers, or s8 per-channel weights + int32 bias behind DequantizeLinear(axis=0).
  std::pair<std::string, std::string> weights_and_bias(const std::string& name, const Act& x,
                                                       const std::vector<float>& w, const std::vector<int64_t>& shape,
                                                       const std::vector<float>& b) {
    const std::string wname = name + ".weight", bname = name + ".bias";
    if (!cal_) {
      add_tensor_f32(wname, shape, w);
      add_tensor_f32(bname, {shape[0]}, b);
      return {wname, bname};
    }
    const int64_t channels = shape[0];
    const size_t per_channel = w.size() / static_cast<size_t>(channels);
    std::vector<float> w_scale(static_cast<size_t>(channels));
    std::string w_codes(w.size(), '\0');
    for (size_t c = 0; c < w_scale.size(); ++c) {
      float max_abs = 0.f;
      for (size_t i = 0; i < per_channel; ++i) max_abs = std::max(max_abs, std::fabs(w[c * per_channel + i]));
      w_scale[c] = std::max(max_abs, 1e-8f) / 127.f;
      for (size_t i = 0; i < per_channel; ++i) {
        const float q = std::clamp(std::nearbyint(w[c * per_channel + i] / w_scale[c]), -127.f, 127.f);
        w_codes[c * per_channel + i] = static_cast<char>(static_cast<int8_t>(q));
      }
    }
    const float s_x = quant_of(x.source).scale;
    std::vector<float> b_scale(static_cast<size_t>(channels));
    std::vector<int32_t> b_codes(static_cast<size_t>(channels));
    for (size_t c = 0; c < b_scale.size(); ++c) {
      b_scale[c] = s_x * w_scale[c];
      b_codes[c] = static_cast<int32_t>(std::nearbyint(b[c] / b_scale[c]));
    }
    auto* wq = add_initializer(wname + "_quantized", onnx::TensorProto::INT8, shape);
    wq->set_raw_data(w_codes);
    add_tensor_f32(wname + "_scale", {channels}, w_scale);
    auto* wz = add_initializer(wname + "_zero_point", onnx::TensorProto::INT8, {channels});
    wz->set_raw_data(std::string(static_cast<size_t>(channels), '\0'));
    auto* bq = add_initializer(bname + "_quantized", onnx::TensorProto::INT32, {channels});
    bq->set_raw_data(std::string(reinterpret_cast<const char*>(b_codes.data()), b_codes.size() * sizeof(int32_t)));
    add_tensor_f32(bname + "_quantized_scale", {channels}, b_scale);
    auto* bz = add_initializer(bname + "_quantized_zero_point", onnx::TensorProto::INT32, {channels});
    bz->set_raw_data(std::string(static_cast<size_t>(channels) * sizeof(int32_t), '\0'));
    const std::string wdq = wname + "_DequantizeLinear_Output", bdq = bname + "_quantized_DequantizeLinear_Output";
    add_int(node("DequantizeLinear", wname + "_DequantizeLinear",
                 {wname + "_quantized", wname + "_scale", wname + "_zero_point"}, {wdq}),
            "axis", 0);
    add_int(node("DequantizeLinear", bname + "_quantized_DequantizeLinear",
                 {bname + "_quantized", bname + "_quantized_scale", bname + "_quantized_zero_point"}, {bdq}),
            "axis", 0);
    return {wdq, bdq};
  }

  std::vector<float> he_normal(int64_t count, int64_t fan_in) {
    return normal_vector(count, static_cast<float>(std::sqrt(2.0 / static_cast<double>(fan_in))));
  }
  std::vector<float> normal_vector(int64_t count, float std_dev) {
    std::vector<float> v(static_cast<size_t>(count));
    for (float& x : v) x = normal_() * std_dev;
    return v;
  }

  // ---- protobuf plumbing ----
  onnx::NodeProto* node(const std::string& op, const std::string& name, const std::vector<std::string>& inputs,
                        const std::vector<std::string>& outputs) {
    onnx::NodeProto* n = g_->add_node();
    n->set_op_type(op);
    n->set_name(name);
    for (const auto& i : inputs) n->add_input(i);
    for (const auto& o : outputs) n->add_output(o);
    return n;
  }
  static void add_int(onnx::NodeProto* n, const std::string& name, int64_t v) {
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(v);
  }
  static void add_ints(onnx::NodeProto* n, const std::string& name, const std::vector<int64_t>& v) {
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INTS);
    for (int64_t x : v) a->add_ints(x);
  }
  onnx::TensorProto* add_initializer(const std::string& name, onnx::TensorProto::DataType type,
                                     const std::vector<int64_t>& shape) {
    onnx::TensorProto* t = g_->add_initializer();
    t->set_name(name);
    t->set_data_type(type);
    for (int64_t d : shape) t->add_dims(d);
    return t;
  }
  void add_tensor_f32(const std::string& name, const std::vector<int64_t>& shape, const std::vector<float>& v) {
    add_initializer(name, onnx::TensorProto::FLOAT, shape)
        ->set_raw_data(std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float)));
  }
  void add_scalar_f32(const std::string& name, float v) { add_tensor_f32(name, {}, {v}); }
  static void add_io(onnx::ValueInfoProto* io, const std::string& name, const std::vector<int64_t>& shape) {
    io->set_name(name);
    auto* tt = io->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(onnx::TensorProto::FLOAT);
    for (int64_t d : shape) tt->mutable_shape()->add_dim()->set_dim_value(d);
  }

  Normal normal_;
  const Calibration* cal_;
  onnx::GraphProto* g_ = nullptr;
  ModelInfo info_;
};

class MobileNetV2Builder : public QdqGraphBuilder {
 public:
  // chain_depth > 0: instead of MobileNetV2, a plain chain of that many convolutions (see
  // build_conv_chain) for measuring how memory grows with depth.
  MobileNetV2Builder(uint32_t seed, const Calibration* calibration, int64_t chain_depth = 0)
      : QdqGraphBuilder(seed, calibration), chain_depth_(chain_depth) {}

  onnx::ModelProto build() {
    onnx::ModelProto model;
    model.set_ir_version(7);
    model.set_producer_name("qdrift bench (ONNX Runtime quantize_static QDQ layout)");
    model.set_producer_version("1");
    auto* opset = model.add_opset_import();
    opset->set_domain("");
    opset->set_version(13);
    g_ = model.mutable_graph();
    g_->set_name(cal_ ? "mobilenet_v2_qdq" : "mobilenet_v2_fp32");
    add_io(g_->add_input(), kInputName, {1, 3, kImageSize, kImageSize});
    add_scalar_f32("relu6_min", 0.f);
    add_scalar_f32("relu6_max", 6.f);

    Act x = activation(kInputName);
    int64_t h = kImageSize;
    x = conv("stem", x, 3, 32, 3, 2, 1, ConvAct::relu6, h);
    if (chain_depth_ > 0) return build_chain(model, x, h);
    int64_t cin = 32;
    static constexpr std::array<std::array<int64_t, 4>, 7> kBlocks = {{
        {1, 16, 1, 1}, {6, 24, 2, 2}, {6, 32, 3, 2}, {6, 64, 4, 2}, {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1}}};
    int index = 0;
    for (const auto& [t, c, n, s] : kBlocks) {
      for (int64_t i = 0; i < n; ++i) {
        const int64_t stride = i == 0 ? s : 1;
        const std::string name = "block" + std::to_string(index++);
        const Act in = x;
        const int64_t hidden = cin * t;
        if (t != 1) x = conv(name + "_expand", x, cin, hidden, 1, 1, 1, ConvAct::relu6, h);
        x = conv(name + "_dw", x, hidden, hidden, 3, stride, hidden, ConvAct::relu6, h);
        x = conv(name + "_project", x, hidden, c, 1, 1, 1, ConvAct::none, h);
        if (stride == 1 && cin == c) {
          x = add(name + "_add", in, x);
          ++info_.residual_adds;
        }
        cin = c;
        ++info_.blocks;
      }
    }
    x = conv("head", x, cin, 1280, 1, 1, 1, ConvAct::relu6, h);
    x = unary("GlobalAveragePool", "pool", x);
    x = unary("Flatten", "flatten", x);
    x = gemm("classifier", x, 1280, kClasses);
    add_io(g_->add_output(), x.name, {1, kClasses});
    return model;
  }

 private:
  // stem 3x3/2 (above), a 3x3/2 down to 56x56x32, then alternately depthwise 3x3 and
  // pointwise 1x1 (32 channels, ReLU6) until chain_depth convolutions in all; head as above.
  onnx::ModelProto build_chain(onnx::ModelProto& model, Act x, int64_t h) {
    g_->set_name(cal_ ? "conv_chain_qdq" : "conv_chain_fp32");
    x = conv("down", x, 32, 32, 3, 2, 1, ConvAct::relu6, h);
    for (int64_t i = 2; i < chain_depth_; ++i) {
      const bool dw = i % 2 == 0;
      x = conv("layer" + std::to_string(i) + (dw ? "_dw" : "_pw"), x, 32, 32, dw ? 3 : 1, 1, dw ? 32 : 1,
               ConvAct::relu6, h);
    }
    x = unary("GlobalAveragePool", "pool", x);
    x = unary("Flatten", "flatten", x);
    x = gemm("classifier", x, 32, kClasses);
    add_io(g_->add_output(), x.name, {1, kClasses});
    return model;
  }

  int64_t chain_depth_ = 0;
};

// One call: the float model (calibration == nullptr) or the QDQ model.
inline onnx::ModelProto build_mobilenet_v2(uint32_t seed, const Calibration* calibration, ModelInfo* info = nullptr) {
  MobileNetV2Builder b(seed, calibration);
  onnx::ModelProto m = b.build();
  if (info) *info = b.info();
  return m;
}

// A chain of `depth` convolutions (>= 2) on the same input, for memory against depth.
inline onnx::ModelProto build_conv_chain(int64_t depth, uint32_t seed, const Calibration* calibration) {
  MobileNetV2Builder b(seed, calibration, depth);
  return b.build();
}

// The sample input: N(0, 1) per element, like a normalised image, from its own seed.
inline std::vector<float> sample_input(uint32_t seed) {
  Normal normal(seed ^ 0x9e3779b9u);
  std::vector<float> x(static_cast<size_t>(3 * kImageSize * kImageSize));
  for (float& v : x) v = normal();
  return x;
}

}  // namespace bench
