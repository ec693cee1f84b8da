// view_state.h: what the window remembers between frames that is not the model's: text
// being typed, the open tab, pending requests from buttons, GL textures of the heatmaps.
// A plain struct (Tracy's ViewData): panels read and write it, nothing hides in statics.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cli/diff_command.h"

namespace qdrift::gui {

enum class Tab : uint8_t { tensor, mapping, causes, policy, count_ };
inline constexpr const char* kTabNames[] = {"tensor", "mapping", "causes", "policy"};

// One heatmap texture and what it holds (re-uploaded when the pair view is rebuilt: another
// pair, channel or report).
struct PlaneTexture {
  unsigned id = 0;          // OpenGL texture name, 0 = none yet
  uint64_t generation = 0;  // PairView::generation uploaded
  int width = 0, height = 0;
};

struct ViewState {
  // Table filter as typed.
  char name_filter[256] = {};
  bool divergent_only = false;
  std::string filter_error;        // bad regex: shown under the filter box
  bool scroll_to_selection = true; // the selection changed outside the table

  Tab tab = Tab::tensor;
  bool select_tab = true;          // force `tab` open on the next frame (--panel, keys)

  // Export.
  char export_json_path[512] = "qdrift-report.json";
  char export_png_path[512] = "qdrift-view.png";
  bool capture_png = false;        // read the frame back at its end and write export_png_path
  std::string message;             // last export / run message, shown in the status line

  // Live mode (qdrift-gui MODEL ...): the options of the run shown and of the next one.
  bool live = false;
  cli::DiffOptions live_options;
  std::string live_error;          // the last run's error, shown in the policy panel
  double live_ms = 0;
  char skip_nodes[256] = {};
  bool rerun_requested = false;    // the policy panel changed something: app starts a run

  // Tensor panel.
  PlaneTexture textures[3];        // ref, other, |ref - other|
};

}  // namespace qdrift::gui
