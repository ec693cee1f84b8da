// qdrift-gui: the inspector. `qdrift-gui REPORT.json` opens a report; `qdrift-gui MODEL
// --input ...` runs the diff live with `qdrift diff`'s options (docs/gui.md).
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "cli/common_options.h"
#include "core/status.h"
#include "gui/app.h"

int main(int argc, char** argv) {
  using namespace qdrift;
  gui::AppOptions o;
  CLI::App app{"qdrift-gui: the drift inspector. Opens a drift report (qdrift diff --json, with --save-tensors for the\n"
               "tensor views), or runs the diff live on a model with the options of 'qdrift diff'.",
               "qdrift-gui"};
  app.add_option("path", o.path, "REPORT.json (a qdrift.report/1 file), or MODEL.onnx for live mode")->required()->type_name("PATH");
  cli::add_input_option(&app, o.diff.inputs);
  app.add_option("--against", o.diff.against, "Live mode: the other side, as qdrift diff --against")
      ->check(CLI::IsMember({"int8", "oracle", "fp32", "ref"}))
      ->capture_default_str();
  app.add_option("--other", o.diff.other_model, "Live mode: a second model for the other side")->type_name("MODEL2");
  cli::add_policy_options(&app, o.diff.policy, o.diff.policy_sets);
  cli::add_fake_quant_options(&app, o.diff.fake_quant);
  app.add_option("--rules", o.diff.rules_path, "Live mode: mapping rules (docs/mapping_rules.md)")->type_name("RULES.json");
  app.add_option("--screenshot", o.screenshot, "Render headless, write the window as a PNG and exit (2 if the report or "
                                               "the selected pair's tensors cannot be read)")
      ->type_name("FILE.png");
  app.add_option("--select", o.select, "Select the pair with this ref or other tensor name (default: the first divergence)")
      ->type_name("TENSOR");
  app.add_option("--panel", o.panel, "The tab to open: tensor, mapping, causes, policy")
      ->check(CLI::IsMember({"tensor", "mapping", "causes", "policy"}))
      ->capture_default_str();
  std::string size;
  app.add_option("--size", size, "Window size (default 1600x1000)")->type_name("WxH");
  app.add_option("--frames", o.frames, "Screenshot mode: frames to draw; prints frame_ms max=X median=Y")
      ->check(CLI::Range(1, 100000));
  app.add_option("--then-policy", o.then_policy, "Screenshot mode, live: after the first frame re-run under this preset")
      ->check(CLI::IsMember({"onnx", "paddle-onednn", "paddle-lite-arm"}));
  app.add_option("--then-set", o.then_sets, "Screenshot mode, live: after the first frame re-run with this knob (repeatable)")
      ->type_name("KNOB=VALUE");
  app.footer(
      "Examples:\n"
      "  qdrift diff model.onnx -i x.npy --json out/report.json --save-tensors out/tensors && qdrift-gui out/report.json\n"
      "  qdrift-gui model.onnx -i x.npy --policy paddle-onednn\n"
      "  qdrift-gui out/report.json --screenshot view.png --select conv2_out --panel tensor\n"
      "Keys: F first divergence, N / P next / previous divergent pair, Up / Down move in the table.\n"
      "Exit codes: 0 ok, 2 bad usage or input (a bad report, missing tensor files), 3 no window or internal error.");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? kExitOk : kExitBadInput;
  }
  if (!size.empty()) {
    int w = 0, h = 0;
    char x = 0;
    if (std::sscanf(size.c_str(), "%d%c%d", &w, &x, &h) != 3 || x != 'x' || w < 320 || h < 240 || w > 8192 || h > 8192) {
      fmt::print(stderr, "qdrift-gui: --size {}: expected WxH, at least 320x240 and at most 8192x8192\n", size);
      return kExitBadInput;
    }
    o.width = w;
    o.height = h;
  }
  const bool is_report = o.path.size() >= 5 && o.path.compare(o.path.size() - 5, 5, ".json") == 0;
  o.live = !is_report;
  o.diff.model = o.path;
  if (!o.live && (!o.diff.inputs.empty() || !o.diff.other_model.empty())) {
    fmt::print(stderr, "qdrift-gui: --input and --other apply to a model (live mode), not to the report {}\n", o.path);
    return kExitBadInput;
  }
  if ((!o.then_policy.empty() || !o.then_sets.empty()) && (!o.live || o.screenshot.empty())) {
    fmt::print(stderr, "qdrift-gui: --then-policy and --then-set script a re-run in --screenshot mode on a model\n");
    return kExitBadInput;
  }
  return gui::run_app(o);
}
