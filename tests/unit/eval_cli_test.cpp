// qdrift eval and merge on the bundled QAT models (testdata/qat): the int8 runtime agrees
// with the fake-quant reference under the onnx policy, the reference matches PyTorch's own
// fake-quant logits, shards merge to exactly the unsharded run (also in the docs/scale.md
// `xargs -P` form), and images decode to the same inputs as the tensor file.
#include <cmath>
#include <cstdlib>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <stb/stb_image_write.h>

#include "core/onnx_loader.h"
#include "core/tensor_io.h"
#include "kernels/ref/ref_kernels.h"
#include "tests/unit/qdrift_process.h"

namespace qdrift {
namespace {

using testing_util::Proc;
using testing_util::run_qdrift;
using testing_util::slurp;
using testing_util::TempDir;

const std::string kQat = std::string(QDRIFT_SOURCE_DIR) + "/testdata/qat/";

// One thread per qdrift process: on a busy 2-core machine OpenMP's spinning threads cost
// more than they bring for these 8x8 models.
class EvalCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { setenv("OMP_NUM_THREADS", "1", 1); }
};

nlohmann::json read_json(const std::string& path) {
  auto j = nlohmann::json::parse(slurp(path), nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << path;
  return j;
}

// The first `n` rows of a batch file, written to `path`.
void write_head(const std::string& from, int64_t n, const std::string& path) {
  auto t = read_tensor_file(from);
  ASSERT_TRUE(t) << t.status().message();
  const size_t row = t->nbytes() / static_cast<size_t>(t->shape[0]);
  t->shape[0] = n;
  t->bytes.resize(row * static_cast<size_t>(n));
  ASSERT_TRUE(write_npy(path, *t));
}

// Top-1 of PyTorch's fake-quant model on the 300 held-out inputs (testdata/README.md), an
// independent measurement the reference executor must reproduce to within one point.
struct Bundled {
  const char* name;
  double torch_fake_quant_top1;
};
constexpr Bundled kBundled[] = {{"mbv3", 0.9833}, {"resnet", 0.99}, {"transformer", 1.0}};

TEST_F(EvalCli, BundledModelsInt8AgreesWithFakeQuantUnderOnnx) {
  for (const Bundled& b : kBundled) {
    SCOPED_TRACE(b.name);
    TempDir dir("eval_bundled");
    const std::string m = kQat + b.name;
    const Proc p = run_qdrift({"eval", m + ".onnx", "--inputs", m + "_inputs.npy", "--labels", m + "_labels.npy",
                               "--no-progress", "--json", dir.path("eval.json")},
                              dir);
    ASSERT_EQ(p.exit_code, 0) << p.err;
    const nlohmann::json j = read_json(dir.path("eval.json"));
    EXPECT_EQ(j["inputs"], 300);
    const double fq = j["top1"]["fake_quant"], int8 = j["top1"]["int8"];
    EXPECT_GE(j["agreement_top1"]["fake_quant_vs_int8"].get<double>(), 0.99);
    EXPECT_LE(std::fabs(int8 - fq), 0.01 + 1e-12);
    EXPECT_NEAR(fq, b.torch_fake_quant_top1, 0.01 + 1e-12);
    // Every disagreement listed, and none more.
    EXPECT_EQ(j["disagreements"].size(), 300 - j["counts"]["agreement_top1"]["fake_quant_vs_int8"].get<int64_t>());
  }
}

// The reference executor against PyTorch's fake-quant logits of the first 16 inputs: the same
// top class, and logits within 5% of their range (a fake-quant rounding flip moves a value by
// one step; summation order differs between the two).
TEST_F(EvalCli, ReferenceMatchesTorchFakeQuant) {
  for (const Bundled& b : kBundled) {
    SCOPED_TRACE(b.name);
    const std::string m = kQat + b.name;
    auto g = load_onnx(m + ".onnx");
    ASSERT_TRUE(g) << g.status().message();
    auto ex = Executor::create(*g, ref_kernel_table(), {});
    ASSERT_TRUE(ex) << ex.status().message();
    auto inputs = read_tensor_file(m + "_inputs.npy");
    auto torch = read_tensor_file(m + "_fq_logits.npy");
    ASSERT_TRUE(inputs && torch);
    Shape one = g->value(g->inputs[0]).shape;
    const int64_t classes = torch->shape[1];
    for (int64_t i = 0; i < torch->shape[0]; ++i) {
      Tensor x = Tensor::zeros(DType::f32, one);
      std::memcpy(x.bytes.data(), inputs->bytes.data() + static_cast<size_t>(i) * x.nbytes(), x.nbytes());
      auto out = ex->run(std::vector<Tensor>{x});
      ASSERT_TRUE(out) << out.status().message();
      const float* got = (*out)[0].data<float>();
      const float* want = torch->data<float>() + i * classes;
      float range = 0, worst = 0;
      int64_t arg_got = 0, arg_want = 0;
      for (int64_t c = 0; c < classes; ++c) {
        range = std::max(range, std::fabs(want[c]));
        worst = std::max(worst, std::fabs(got[c] - want[c]));
        if (got[c] > got[arg_got]) arg_got = c;
        if (want[c] > want[arg_want]) arg_want = c;
      }
      EXPECT_EQ(arg_got, arg_want) << "input " << i;
      EXPECT_LE(worst, 0.05f * range) << "input " << i;
    }
  }
}

nlohmann::json without_timings(nlohmann::json j) {
  j.erase("timings");
  return j;
}

// docs/scale.md's local form, verbatim apart from paths: three shards with xargs -P 2, then
// merge. Under paddle-onednn the drift is large and the disagreements many, so every
// aggregate (sums, histograms, worst inputs, lists) has something to merge.
TEST_F(EvalCli, ShardsWithXargsMergeToTheUnshardedRun) {
  TempDir dir("eval_shards");
  const std::string m = kQat + "mbv3";
  write_head(m + "_inputs.npy", 40, dir.path("x.npy"));
  write_head(m + "_labels.npy", 40, dir.path("y.npy"));
  const std::vector<std::string> common = {"eval", m + ".onnx", "--inputs", dir.path("x.npy"), "--labels",
                                           dir.path("y.npy"), "--policy", "paddle-onednn", "--no-progress"};
  // Both runs from the directory, so the recorded input paths are the same.
  const std::string whole = fmt::format(
      "cd '{}' && '{}' eval '{}.onnx' --inputs x.npy --labels y.npy --policy paddle-onednn --no-progress "
      "--json whole.json > whole.log 2>&1",
      dir.root().string(), QDRIFT_BINARY, m);
  ASSERT_EQ(std::system(whole.c_str()), 0) << slurp(dir.path("whole.log"));

  const std::string cmd = fmt::format(
      "cd '{}' && N=3 && seq 0 $((N-1)) | xargs -P 2 -I{{}} '{}' eval '{}.onnx' --inputs x.npy --labels y.npy "
      "--policy paddle-onednn --shard {{}}/$N --no-progress --json shard_{{}}.json > xargs.log 2>&1",
      dir.root().string(), QDRIFT_BINARY, m);
  ASSERT_EQ(std::system(cmd.c_str()), 0) << slurp(dir.path("xargs.log"));
  const Proc merged = run_qdrift({"merge", dir.path("shard_2.json"), dir.path("shard_0.json"), dir.path("shard_1.json"),
                                  "--json", dir.path("merged.json")},
                                 dir);
  ASSERT_EQ(merged.exit_code, 0) << merged.err;

  const nlohmann::json a = read_json(dir.path("whole.json")), b = read_json(dir.path("merged.json"));
  EXPECT_EQ(without_timings(a), without_timings(b));
  EXPECT_GT(a["disagreements"].size(), 0u);  // the merge had lists to combine
  EXPECT_EQ(a["ranges"], nlohmann::json::parse("[[0,40]]"));
  // The same check on the files' bytes: identical apart from the timings line.
  auto strip = [](std::string s) { return s.substr(0, s.find("\"timings\"")); };
  EXPECT_EQ(strip(slurp(dir.path("whole.json"))), strip(slurp(dir.path("merged.json"))));

  // A shard given twice is refused: its inputs would count twice.
  const Proc twice = run_qdrift({"merge", dir.path("shard_0.json"), dir.path("shard_0.json")}, dir);
  EXPECT_EQ(twice.exit_code, 2);
  EXPECT_NE(twice.err.find("evaluated by another shard"), std::string::npos) << twice.err;
  // Shards of another policy are not shards of this evaluation.
  std::vector<std::string> onnx = common;
  onnx[7] = "onnx";
  onnx.insert(onnx.end(), {"--shard", "0/3", "--json", dir.path("onnx_0.json")});
  ASSERT_EQ(run_qdrift(onnx, dir).exit_code, 0);
  const Proc mixed = run_qdrift({"merge", dir.path("onnx_0.json"), dir.path("shard_1.json")}, dir);
  EXPECT_EQ(mixed.exit_code, 2);
  EXPECT_NE(mixed.err.find("the policy differs"), std::string::npos) << mixed.err;
}

// Eight digits written as 8x8 grey PNGs (pixel = 8 * the digit's 0..16 value) evaluate
// exactly as the bundled tensor file: --scale 1/128, --mean 0.5, --std 0.5 give back
// (d/16 - 0.5) / 0.5 bit for bit (powers of two), so decoding and layout are what is tested.
TEST_F(EvalCli, ImageDirectoryMatchesTheTensorFile) {
  TempDir dir("eval_images");
  const std::string m = kQat + "mbv3";
  auto inputs = read_tensor_file(m + "_inputs.npy");
  ASSERT_TRUE(inputs);
  constexpr int64_t kCount = 8;
  std::filesystem::create_directories(dir.path("png"));
  for (int64_t i = 0; i < kCount; ++i) {
    unsigned char px[64];
    for (int k = 0; k < 64; ++k) {
      const float x = inputs->data<float>()[i * 64 + k];  // (d/16 - 0.5) / 0.5, d in 0..16
      px[k] = static_cast<unsigned char>(std::lround((x * 0.5f + 0.5f) * 16.f) * 8);
    }
    ASSERT_NE(stbi_write_png(dir.path(fmt::format("png/{:03}.png", i)).c_str(), 8, 8, 1, px, 8), 0);
  }
  write_head(m + "_inputs.npy", kCount, dir.path("same.npy"));
  const Proc a = run_qdrift({"eval", m + ".onnx", "--inputs", dir.path("png"), "--scale", "0.0078125", "--mean", "0.5",
                             "--std", "0.5", "--no-progress", "--json", dir.path("png.json")},
                            dir);
  ASSERT_EQ(a.exit_code, 0) << a.err;
  const Proc b = run_qdrift(
      {"eval", m + ".onnx", "--inputs", dir.path("same.npy"), "--no-progress", "--json", dir.path("npy.json")}, dir);
  ASSERT_EQ(b.exit_code, 0) << b.err;
  nlohmann::json ja = without_timings(read_json(dir.path("png.json")));
  nlohmann::json jb = without_timings(read_json(dir.path("npy.json")));
  EXPECT_EQ(ja["inputs"], kCount);
  ja.erase("inputs_source");
  jb.erase("inputs_source");
  EXPECT_EQ(ja, jb);
}

}  // namespace
}  // namespace qdrift
