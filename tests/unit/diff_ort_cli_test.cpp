// `qdrift diff MODEL --other ORT_GRAPH --against ref` on ONNX Runtime's level-"all" optimized
// graphs of the bundled QDQ models (testdata/ort/, saved by onnxruntime-node, index.json),
// without a rules file: QLinearConv in NHWC between Transposes, FusedConv, FusedGemm, QGemm,
// QLinearAdd, few names in common with the QDQ model. The independent facts: ORT computes the
// same network, so each compute op's output carries the values of a reference tensor; a pair
// that is right therefore has a cosine near 1, one that is wrong does not.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "core/onnx_loader.h"
#include "tests/unit/qdrift_process.h"

namespace qdrift {
namespace {

using testing_util::TempDir;

const std::string kData = std::string(QDRIFT_SOURCE_DIR) + "/testdata/";

TEST(DiffOrtCli, OrtOptimizedGraphsPairTheirComputeOutputsWithTheReference) {
  auto index_text = read_file_bytes(kData + "ort/index.json", 1 << 20);
  ASSERT_TRUE(index_text);
  const nlohmann::json index = nlohmann::json::parse(*index_text);
  const std::set<std::string> compute = {"QLinearConv", "QLinearAdd", "QGemm", "Conv", "Gemm"};
  int outputs = 0, paired = 0;
  for (const auto& [name, entry] : index["models"].items()) {
    TempDir dir("diff_ort_cli");
    const std::string other = kData + "ort/" + entry["optimized"].get<std::string>();
    const Report r = testing_util::diff_report({kData + entry["source"].get<std::string>(), "--input",
                                                kData + entry["input"].get<std::string>(), "--other", other,
                                                "--against", "ref"},
                                               dir);
    auto g = load_onnx(other);
    ASSERT_TRUE(g) << g.status().message();
    for (const Node& n : g->nodes) {
      if (!compute.count(n.op_type)) continue;
      ++outputs;
      const std::string& tensor = g->value(n.outputs[0]).name;
      const PairRecord* pair = nullptr;
      for (const PairRecord& p : r.pairs)
        if (p.other.tensor == tensor) pair = &p;
      if (!pair) {
        std::printf("%s: %s (%s) output '%s' not paired\n", name.c_str(), n.name.c_str(), n.op_type.c_str(), tensor.c_str());
        continue;
      }
      ++paired;
      EXPECT_GE(pair->drift.cosine, 0.99) << name << ": " << tensor << " ~ " << pair->ref.tensor << " (" << pair->match_detail << ")";
    }
  }
  std::printf("ORT compute outputs paired: %d of %d\n", paired, outputs);
  EXPECT_GE(outputs, 20);
  EXPECT_GE(paired, 0.9 * outputs);
}

}  // namespace
}  // namespace qdrift
