// app.h: qdrift-gui's window: the GLFW + OpenGL 3 loop, the layout of the panels, and the
// headless --screenshot mode used by the tests and the docs.
//
//   AppOptions o;  o.path = "out/report.json";  o.screenshot = "gui.png";
//   return run_app(o);   // exit code: 0, 2 (bad report or tensors), 3 (no window)
#pragma once

#include <string>
#include <vector>

#include "cli/diff_command.h"

namespace qdrift::gui {

struct AppOptions {
  std::string path;                   // REPORT.json, or a model for live mode
  bool live = false;                  // path is a model: run the diff here
  cli::DiffOptions diff;              // live mode: as `qdrift diff` takes them
  std::string screenshot;             // PNG to write after `frames` frames, then exit
  std::string select;                 // tensor name (ref or other) to select first
  std::string panel = "tensor";       // tab open: tensor | mapping | causes | policy
  int width = 1600, height = 1000;
  int frames = 0;                     // frames to draw in screenshot mode (0: a few)
  // Screenshot mode, live: after the first frame, change the policy as the policy panel
  // would and draw until the re-run has replaced the result.
  std::string then_policy;
  std::vector<std::string> then_sets;
};

int run_app(const AppOptions& options);

}  // namespace qdrift::gui
