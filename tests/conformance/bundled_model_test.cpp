// Golden end-to-end run of the bundled model: `qdrift run` on testdata/mobilenet_tiny_qdq.onnx
// must reproduce the numpy references that testdata/gen/make_models.py wrote beside it.
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <string>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "core/tensor_io.h"

namespace qdrift {
namespace {

namespace fs = std::filesystem;

const fs::path kTestdata = fs::path(QDRIFT_SOURCE_DIR) / "testdata";

// Runs qdrift with one executor and returns its single output.
Tensor run_bundled_model(const std::string& executor) {
  const fs::path out = fs::temp_directory_path() / fmt::format("qdrift_bundled_{}_{}", getpid(), executor);
  const std::string cmd = fmt::format("'{}' run '{}' --input '{}' --executor {} --save-outputs '{}' > /dev/null",
                                      QDRIFT_BINARY, (kTestdata / "mobilenet_tiny_qdq.onnx").string(),
                                      (kTestdata / "mobilenet_tiny_input.npy").string(), executor, out.string());
  const int rc = std::system(cmd.c_str());
  EXPECT_EQ(rc, 0) << cmd;
  auto t = read_tensor_file((out / "output_0.pb").string());
  fs::remove_all(out);
  EXPECT_TRUE(t) << (t ? "" : t.status().message());
  return t ? *t : Tensor{};
}

void expect_close(const Tensor& got, const Tensor& want, double tol) {
  ASSERT_EQ(got.dtype, DType::f32);
  ASSERT_EQ(got.shape, want.shape);
  int64_t got_top = 0, want_top = 0;
  for (int64_t i = 0; i < want.numel(); ++i) {
    const float a = got.data<float>()[i], b = want.data<float>()[i];
    EXPECT_NEAR(a, b, tol) << "class " << i;
    if (a > got.data<float>()[got_top]) got_top = i;
    if (b > want.data<float>()[want_top]) want_top = i;
  }
  EXPECT_EQ(got_top, want_top);
}

TEST(BundledModel, ReferenceExecutorMatchesNumpyFakeQuant) {
  auto want = read_tensor_file((kTestdata / "mobilenet_tiny_qdq_probs.npy").string());
  ASSERT_TRUE(want) << want.status().message();
  expect_close(run_bundled_model("ref"), *want, 1e-6);
}

TEST(BundledModel, Fp32ExecutorMatchesNumpyWithoutActivationQdq) {
  auto want = read_tensor_file((kTestdata / "mobilenet_tiny_fp32_probs.npy").string());
  ASSERT_TRUE(want) << want.status().message();
  expect_close(run_bundled_model("fp32"), *want, 1e-6);
}

}  // namespace
}  // namespace qdrift
