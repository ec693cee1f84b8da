// qdrift-gui end to end, headless under xvfb-run with Mesa's software OpenGL: a report of
// the bundled model (made here by `qdrift diff --save-tensors`, so it is never stale) is
// drawn to PNG, the PNG is not blank and changes when another layer is selected; a live
// re-run under another policy changes pairs; bad reports and missing tensor files exit 2.
// PNGs are decoded with stb_image, independently of the code that wrote them. No display
// or no OpenGL is a failure, never a skip.
#include <gtest/gtest.h>
#include <stb_image.h>

#include <cstdlib>
#include <filesystem>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "diff/report_json.h"
#include "qdrift_process.h"

namespace qdrift {
namespace {

using testing_util::Proc;
using testing_util::run_program;
using testing_util::run_qdrift;
using testing_util::slurp;
using testing_util::spit;
using testing_util::TempDir;

const std::string kData = QDRIFT_SOURCE_DIR "/testdata/";

// qdrift-gui under a fresh X server (xvfb-run -a picks a free display) with software GL.
Proc run_gui(const std::vector<std::string>& args, const TempDir& dir) {
  setenv("LIBGL_ALWAYS_SOFTWARE", "1", 1);
  std::vector<std::string> all = {"-a", "-s", "-screen 0 1600x1000x24", QDRIFT_GUI_BINARY};
  all.insert(all.end(), args.begin(), args.end());
  return run_program("xvfb-run", all, dir);
}

struct Image {
  int w = 0, h = 0;
  std::vector<unsigned char> rgb;
};

Image load_png(const std::string& path) {
  Image im;
  int n = 0;
  unsigned char* p = stbi_load(path.c_str(), &im.w, &im.h, &n, 3);
  if (!p) {
    ADD_FAILURE() << path << ": " << stbi_failure_reason();
    return im;
  }
  im.rgb.assign(p, p + static_cast<size_t>(im.w) * static_cast<size_t>(im.h) * 3);
  stbi_image_free(p);
  return im;
}

size_t distinct_colours(const Image& im) {
  std::set<uint32_t> s;
  for (size_t i = 0; i + 2 < im.rgb.size(); i += 3)
    s.insert(static_cast<uint32_t>(im.rgb[i]) << 16 | static_cast<uint32_t>(im.rgb[i + 1]) << 8 | im.rgb[i + 2]);
  return s.size();
}

size_t pixels_differing(const Image& a, const Image& b) {
  size_t d = 0;
  for (size_t i = 0; i + 2 < a.rgb.size() && i + 2 < b.rgb.size(); i += 3)
    d += a.rgb[i] != b.rgb[i] || a.rgb[i + 1] != b.rgb[i + 1] || a.rgb[i + 2] != b.rgb[i + 2];
  return d;
}

// The bundled model against its fp32 baseline (the quantization error itself: it diverges),
// with its tensors.
Report make_report(const TempDir& dir) {
  const Proc p = run_qdrift({"diff", kData + "mobilenet_tiny_qdq.onnx", "--input", kData + "mobilenet_tiny_input.npy",
                             "--against", "fp32", "--json", dir.path("out/report.json"), "--save-tensors",
                             dir.path("out/tensors")},
                            dir);
  EXPECT_EQ(p.exit_code, 0) << p.err;
  auto r = read_report_json(dir.path("out/report.json"), Limits{});
  EXPECT_TRUE(r) << r.status().message();
  return r ? *r : Report{};
}

TEST(GuiScreenshot, ReportIsDrawnAndChangesWithTheSelection) {
  TempDir dir("gui_shot");
  const Report r = make_report(dir);
  ASSERT_GE(r.pairs.size(), 4u);
  ASSERT_GE(r.first_divergence, 0);
  ASSERT_FALSE(r.pairs[0].ref.file.empty());

  const Proc a = run_gui({dir.path("out/report.json"), "--screenshot", dir.path("a.png"), "--size", "1280x800"}, dir);
  ASSERT_EQ(a.exit_code, 0) << a.out << a.err;
  EXPECT_TRUE(std::regex_search(a.out, std::regex(R"(frame_ms max=[0-9.]+ median=[0-9.]+)"))) << a.out;
  const Image ia = load_png(dir.path("a.png"));
  ASSERT_EQ(ia.w, 1280);
  ASSERT_EQ(ia.h, 800);
  // Not blank: text, table colours, plots and heatmaps give many colours.
  EXPECT_GT(distinct_colours(ia), 200u);

  // Another layer (the last pair: not the first divergence, which is selected by default).
  const std::string other = r.pairs.back().ref.tensor;
  ASSERT_NE(static_cast<int64_t>(r.pairs.size()) - 1, r.first_divergence);
  const Proc b = run_gui({dir.path("out/report.json"), "--screenshot", dir.path("b.png"), "--size", "1280x800", "--select",
                          other},
                         dir);
  ASSERT_EQ(b.exit_code, 0) << b.out << b.err;
  const Image ib = load_png(dir.path("b.png"));
  ASSERT_EQ(ib.w, 1280);
  EXPECT_GT(distinct_colours(ib), 200u);
  EXPECT_GT(pixels_differing(ia, ib), 5000u);

  // Every tab draws (mapping, causes, policy) and differs from the tensor tab.
  for (const char* panel : {"mapping", "causes", "policy"}) {
    const Proc c = run_gui({dir.path("out/report.json"), "--screenshot", dir.path("c.png"), "--size", "1280x800", "--panel",
                            panel},
                           dir);
    ASSERT_EQ(c.exit_code, 0) << panel << c.err;
    EXPECT_GT(pixels_differing(ia, load_png(dir.path("c.png"))), 5000u) << panel;
  }

  // Missing tensor files of the selected pair: the error is shown and the exit code is 2.
  std::filesystem::remove(dir.path("out/" + r.pairs[static_cast<size_t>(r.first_divergence)].other.file));
  const Proc m = run_gui({dir.path("out/report.json"), "--screenshot", dir.path("m.png")}, dir);
  EXPECT_EQ(m.exit_code, 2) << m.out << m.err;
  EXPECT_NE(m.err.find(".npy"), std::string::npos) << m.err;
}

TEST(GuiScreenshot, BadReportsExit2NamingTheProblem) {
  TempDir dir("gui_bad");
  const std::string good = slurp(QDRIFT_SOURCE_DIR "/tests/bad_inputs/report_ok.json");
  ASSERT_FALSE(good.empty());
  spit(dir.path("truncated.json"), good.substr(0, good.size() / 2));
  spit(dir.path("schema.json"), std::string(R"({"schema": "qdrift.budget/1"})"));
  spit(dir.path("garbage.json"), std::string("\x93NUMPY not json"));
  spit(dir.path("pairs.json"), std::regex_replace(good, std::regex(R"("pairs": \[)"), R"("pairs": 7, "x": [)"));
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"truncated.json", "truncated.json"},
      {"schema.json", "qdrift.report/1"},
      {"garbage.json", "garbage.json"},
      {"pairs.json", "pairs"},
      {"absent.json", "absent.json"},
  };
  // The report is read before any window opens, so these need no X server.
  for (const auto& [file, expect] : cases) {
    const Proc p = run_program(QDRIFT_GUI_BINARY, {dir.path(file), "--screenshot", dir.path("x.png")}, dir);
    EXPECT_EQ(p.exit_code, 2) << file << ": " << p.err;
    EXPECT_NE(p.err.find(expect), std::string::npos) << file << ": " << p.err;
  }
  // An old report (no per-channel errors, no tensors) still draws.
  const Proc ok = run_gui({QDRIFT_SOURCE_DIR "/tests/bad_inputs/report_ok.json", "--screenshot", dir.path("ok.png")}, dir);
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
}

// conv_chain_u8 runs within one step under onnx and diverges under paddle-onednn (what
// `qdrift diff --policy paddle-onednn` finds, asked separately here): the live re-run must
// change pairs and move the first divergence the same way.
TEST(GuiLive, ReRunUnderAnotherPolicyChangesTheTable) {
  TempDir dir("gui_live");
  const std::string model = kData + "qdq/conv_chain_u8.onnx", input = kData + "qdq/conv_chain_u8_input.npy";
  Report expected;
  {
    const Proc d = run_qdrift({"diff", model, "--input", input, "--policy", "paddle-onednn", "--json", dir.path("pd.json")}, dir);
    ASSERT_EQ(d.exit_code, 0) << d.err;
    auto r = read_report_json(dir.path("pd.json"), Limits{});
    ASSERT_TRUE(r) << r.status().message();
    expected = *r;
  }
  ASSERT_GE(expected.first_divergence, 0);
  const Proc p = run_gui({model, "--input", input, "--screenshot", dir.path("live.png"), "--size", "1280x800", "--frames", "20",
                          "--then-policy", "paddle-onednn"},
                         dir);
  ASSERT_EQ(p.exit_code, 0) << p.out << p.err;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(
      p.out, m, std::regex(R"(live: re-ran under paddle-onednn: (\d+) of (\d+) pairs changed, first divergence (-?\d+) -> (-?\d+))")))
      << p.out;
  EXPECT_GT(std::stoi(m[1]), 0);
  EXPECT_EQ(std::stoi(m[2]), static_cast<int>(expected.pairs.size()));
  EXPECT_EQ(std::stoi(m[3]), -1);
  EXPECT_EQ(std::stoi(m[4]), expected.first_divergence);
  EXPECT_GT(distinct_colours(load_png(dir.path("live.png"))), 200u);
}

}  // namespace
}  // namespace qdrift
