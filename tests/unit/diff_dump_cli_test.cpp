// `qdrift diff MODEL --other-dump DIR [--other-graph MODEL2]` through the real binary.
//
// Truth by construction: the dump is written here from qdrift's own int8 lowering of the
// model, run on the integer oracle. Every lowered tensor records the reference tensor it
// stands for (provenance); the dump then forgets it: tensors get Paddle-style names
// (`conv2d_3.tmp_1`, `relu_0.tmp_0.quantized`, `quantize/out/0`, `dequantize/in/1`), half
// the integer tensors are written already dequantized (f32, no scale), half as codes with
// their scale and zero point in index.json, half of the 4-d ones channels last (NHWC), some
// as ONNX .pb files. Without a graph, only values and the execution order can pair them.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/common_options.h"
#include "core/lower.h"
#include "core/onnx_loader.h"
#include "core/qdq_params.h"
#include "core/quant_math.h"
#include "core/tensor_io.h"
#include "diff/drift.h"
#include "tests/unit/qdrift_process.h"

namespace qdrift {
namespace {

using testing_util::Proc;
using testing_util::run_qdrift;
using testing_util::TempDir;

const std::string kData = std::string(QDRIFT_SOURCE_DIR) + "/testdata/";
const std::string kModel = kData + "mobilenet_tiny_qdq.onnx";
const std::string kInput = kData + "mobilenet_tiny_input.npy";

// Paddle's name for the output of a node of the lowered graph.
std::string paddle_name(const Node& n, const Value& v, std::map<std::string, int>& counters) {
  // The lowering already names inserted tensors as Paddle's passes do.
  if (v.name.rfind("quantize/out/", 0) == 0 || v.name.rfind("dequantize/in/", 0) == 0 ||
      v.name.rfind("requantize/out/", 0) == 0)
    return v.name;
  std::string op = n.op_type;
  std::string suffix = ".tmp_0";
  if (op == "QConv") {
    op = "conv2d";
    suffix = ".tmp_1";
  } else if (op == "QMatMul") {
    op = "fc";
    suffix = ".tmp_1";
  } else if (op == "QAdd") {
    op = "elementwise_add";
  } else {
    std::string lower;
    for (char c : op) {
      if (std::isupper(static_cast<unsigned char>(c)) && !lower.empty()) lower += '_';
      lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    op = lower;
  }
  const int k = counters[op]++;
  std::string name = fmt::format("{}_{}{}", op, k, suffix);
  if (v.dtype == DType::u8 || v.dtype == DType::s8) name += ".quantized";
  return name;
}

Tensor to_nhwc(const Tensor& t) {
  const int64_t n = t.shape[0], c = t.shape[1], h = t.shape[2], w = t.shape[3];
  Tensor out = Tensor::zeros(t.dtype, {n, h, w, c});
  const size_t bytes = dtype_size(t.dtype);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t s = 0; s < h * w; ++s)
        std::memcpy(&out.bytes[static_cast<size_t>(((i * h * w) + s) * c + ch) * bytes],
                    &t.bytes[static_cast<size_t>((i * c + ch) * h * w + s) * bytes], bytes);
  return out;
}

struct Dump {
  std::map<std::string, std::string> truth;  // dump tensor name -> reference tensor it stands for
  std::set<std::string> names;
};

// The real values of every tensor the reference produces: f32 as they are, u8/s8 codes
// dequantized with the constant scale and zero point of the QuantizeLinear that made them.
std::map<std::string, std::vector<float>> reference_values(const Graph& g, const Tensor& input) {
  std::map<std::string, std::vector<float>> out;
  auto ex = Executor::create(g, cli::kernel_table_for("ref"));
  EXPECT_TRUE(ex);
  std::vector<Tensor> feeds = {input};
  auto run = ex->run(feeds, [&](const Node& n, size_t, const Value& v, const Tensor& t) {
    std::vector<float>& values = out[v.name];
    if (t.dtype == DType::f32) {
      values.assign(t.values<float>().begin(), t.values<float>().end());
    } else if (n.kind == OpKind::QuantizeLinear) {
      const float scale = constant_tensor(g, n.input(1))->values<float>()[0];
      const Tensor* zp = constant_tensor(g, n.input(2));
      const double z = zp ? zp->value_as_double(0) : 0.0;
      for (int64_t i = 0; i < t.numel(); ++i) values.push_back(static_cast<float>((t.value_as_double(i) - z) * scale));
    }
  });
  EXPECT_TRUE(run);
  return out;
}

// Writes the oracle run of MODEL's lowering into DIR as a foreign framework would dump it.
Dump write_paddle_dump(const TempDir& dir, const std::string& sub) {
  Dump d;
  auto ref = load_onnx(kModel);
  EXPECT_TRUE(ref);
  auto lowered = lower(*ref, *int8_policy_preset("onnx"));
  EXPECT_TRUE(lowered);
  auto x = read_tensor_file(kInput);
  EXPECT_TRUE(x);
  std::vector<Tensor> feeds = {*x};
  auto ex = Executor::create(lowered->graph, cli::kernel_table_for("oracle"));
  EXPECT_TRUE(ex);
  const std::string root = dir.path(sub);
  std::filesystem::create_directories(root);
  std::mt19937 rng(7);
  std::map<std::string, int> counters;
  nlohmann::ordered_json index = {{"schema", "qdrift.dump/1"}, {"tensors", nlohmann::ordered_json::object()}};
  int file_no = 0;
  auto run = ex->run(feeds, [&](const Node& n, size_t, const Value& v, const Tensor& t) {
    const std::string name = paddle_name(n, v, counters);
    const ValueId source = ref->find_value(v.provenance.source);
    if (source != kNoValue && ref->value(source).producer != kNoNode) d.truth[name] = v.provenance.source;
    d.names.insert(name);
    Tensor out = t;
    out.quant.reset();
    nlohmann::ordered_json entry = {{"tensor", name}};
    const std::optional<QuantParams> q = t.quant ? t.quant : v.quant;
    const bool codes = (t.dtype == DType::u8 || t.dtype == DType::s8) && q;
    if (codes && rng() % 2 == 0) {
      out = dequantize_tensor(t, *q);  // a framework that dumps real values
    } else if (codes) {
      entry["scale"] = q->scale[0];
      entry["zero_point"] = q->zero_point[0];
    }
    if (out.rank() == 4 && out.shape[1] > 1 && out.shape[2] * out.shape[3] > 1 && rng() % 2 == 0) out = to_nhwc(out);
    std::string file = name;
    for (char& c : file)
      if (c == '/') c = '_';
    file += (file_no++ % 5 == 4) ? ".pb" : ".npy";
    const std::string path = root + "/" + file;
    const Status s = file.ends_with(".pb") ? write_pb(path, out, name) : write_npy(path, out);
    EXPECT_TRUE(s.is_ok()) << s.message();
    entry["dtype"] = std::string(dtype_name(out.dtype));
    entry["shape"] = out.shape;
    index["tensors"][file] = entry;
  });
  EXPECT_TRUE(run) << run.status().message();
  testing_util::spit(root + "/index.json", index.dump(1));
  return d;
}

TEST(DiffDumpCli, PaddleStyleDumpWithoutGraphPairsByValueAndOrder) {
  TempDir dir("diff_dump_cli");
  const Dump d = write_paddle_dump(dir, "dump");
  ASSERT_GT(d.truth.size(), 20u);
  const Report r = testing_util::diff_report({kModel, "--input", kInput, "--other-dump", dir.path("dump")}, dir);
  EXPECT_EQ(r.other_executor, "dump");
  std::map<std::string, int> stand_ins;
  for (const auto& [name, source] : d.truth) ++stand_ins[source];
  // Tensors with the very same real values cannot be told apart by any value: a u8 code
  // tensor, its DequantizeLinear output, a Flatten of those. Pairing either is right.
  auto model = load_onnx(kModel);
  ASSERT_TRUE(model);
  const auto values = reference_values(*model, *read_tensor_file(kInput));
  const auto same_values = [&](const std::string& a, const std::string& b) {
    const auto x = values.find(a), y = values.find(b);
    return a == b || (x != values.end() && y != values.end() && !x->second.empty() && x->second == y->second);
  };
  int right = 0, wrong = 0;
  std::vector<double> wrong_confidence;
  bool saw_slash = false, saw_quantized = false, saw_nhwc = false;
  for (const PairRecord& p : r.pairs) {
    EXPECT_EQ(p.method, MatchMethod::value) << p.ref.tensor;
    EXPECT_TRUE(d.names.count(p.other.tensor)) << "'" << p.other.tensor << "' is not a name of the dump";
    auto it = d.truth.find(p.other.tensor);
    if (it == d.truth.end()) continue;
    if (same_values(it->second, p.ref.tensor)) {
      ++right;
      saw_slash |= p.other.tensor.find('/') != std::string::npos;
      saw_quantized |= p.other.tensor.ends_with(".quantized");
      saw_nhwc |= p.other_layout == "nhwc";
    } else {
      ++wrong;
      wrong_confidence.push_back(p.confidence);
      std::printf("wrong: %s ~ %s (stands for %s, confidence %.3f)\n", p.ref.tensor.c_str(), p.other.tensor.c_str(),
                  it->second.c_str(), p.confidence);
    }
  }
  const double rate = static_cast<double>(right) / static_cast<double>(stand_ins.size());
  std::printf("right %d of %zu (%.1f%%), wrong %d\n", right, stand_ins.size(), 100 * rate, wrong);
  EXPECT_GE(rate, 0.90);
  for (double c : wrong_confidence) EXPECT_LE(c, 0.5);
  EXPECT_TRUE(saw_slash) << "no 'quantize/out/N'-style name paired right";
  EXPECT_TRUE(saw_quantized) << "no '.quantized' name paired right";
  EXPECT_TRUE(saw_nhwc) << "no NHWC tensor paired right";
  // Pairs of the same tensor measure within a step (the oracle agrees with the reference
  // under the onnx policy); NHWC tensors are read back in the reference's order.
  for (const PairRecord& p : r.pairs) {
    auto it = d.truth.find(p.other.tensor);
    if (it == d.truth.end() || !same_values(it->second, p.ref.tensor) || !p.drift.has_steps) continue;
    EXPECT_LE(p.drift.max_abs_steps, 1.0) << p.ref.tensor << " vs " << p.other.tensor;
  }
}

TEST(DiffDumpCli, DumpWithItsGraphPairsByStructure) {
  // The QOperator twin of conv_chain_u8 dumps its own tensors (qdrift run --dump); with the twin
  // as --other-graph, structure and values must find the hand-written rules file's pairs.
  TempDir dir("diff_dump_cli");
  const std::string qdq = kData + "qdq/";
  const Proc run = run_qdrift({"run", qdq + "conv_chain_u8_qop.onnx", "--input", qdq + "conv_chain_u8_input.npy",
                               "--dump", dir.path("dump")},
                              dir);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const Report r = testing_util::diff_report({qdq + "conv_chain_u8.onnx", "--input", qdq + "conv_chain_u8_input.npy",
                                              "--other-dump", dir.path("dump"), "--other-graph",
                                              qdq + "conv_chain_u8_qop.onnx"},
                                             dir);
  const std::map<std::string, std::string> expected = {
      {"input_1_q", "image.quantized"},        {"relu3_out_4_q", "relu_0.tmp_0"},
      {"conv5_out_6_q", "conv2d_1.tmp_1"},     {"maxpool7_out_8_q", "pool2d_0.tmp_0"},
      {"clip10_out_11_q", "relu6_0.tmp_0"},    {"clip10_out_11_dq", "save_infer_model/scale_0.tmp_0"}};
  for (const auto& [ref, other] : expected) {
    const auto p = std::find_if(r.pairs.begin(), r.pairs.end(), [&](const PairRecord& x) { return x.ref.tensor == ref; });
    ASSERT_NE(p, r.pairs.end()) << ref;
    EXPECT_EQ(p->other.tensor, other) << ref;
    EXPECT_EQ(p->method, MatchMethod::structure) << ref;
    EXPECT_LE(p->drift.max_abs_steps, 1.0) << ref;
  }
}

// Hostile dump directories (10,000 files, control characters, unreadable files, shapes that
// disagree) are cases of the hostile-input corpus: tests/bad_inputs/manifest.txt.

}  // namespace
}  // namespace qdrift
