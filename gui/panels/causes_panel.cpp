// The causes panel: the report's cause hints for the selected pair and for the whole run,
// and the lowering and kernel notes.
#include <imgui.h>

#include "gui/panels/panels.h"

namespace qdrift::gui {

namespace {

void hint(const CauseHint& c) {
  ImGui::Bullet();
  ImGui::TextColored(ImVec4(1.f, 0.75f, 0.35f, 1.f), "%s", c.cause.c_str());
  ImGui::SameLine();
  ImGui::TextWrapped("%s", c.message.c_str());
}

}  // namespace

void draw_causes_panel(Inspector& in, ViewState&) {
  const Report& r = in.report();
  const int64_t sel = in.selected();
  if (sel >= 0) {
    ImGui::Text("Selected pair #%lld: %s", static_cast<long long>(sel), r.pairs[static_cast<size_t>(sel)].ref.tensor.c_str());
  } else {
    ImGui::TextDisabled("No pair selected");
  }
  int shown = 0;
  for (const CauseHint& c : r.causes)
    if (sel >= 0 && c.pair == sel) {
      hint(c);
      ++shown;
    }
  if (shown == 0) ImGui::TextDisabled("  no cause hint for this pair");
  ImGui::Separator();
  ImGui::TextUnformatted("Whole run");
  shown = 0;
  for (const CauseHint& c : r.causes)
    if (c.pair < 0) {
      hint(c);
      ++shown;
    }
  if (shown == 0) ImGui::TextDisabled("  no cause hint for the run");
  int other_pairs = 0;
  for (const CauseHint& c : r.causes) other_pairs += c.pair >= 0 && c.pair != sel;
  if (other_pairs > 0) ImGui::TextDisabled("%d hints for other pairs (select them)", other_pairs);
  ImGui::Separator();
  ImGui::Text("Notes (%zu)", r.notes.size());
  for (const std::string& n : r.notes) {
    ImGui::Bullet();
    ImGui::TextWrapped("%s", n.c_str());
  }
}

}  // namespace qdrift::gui
