// The mapping panel: which ref tensor pairs with which other tensor, how it was found, and
// every tensor of either side left unmatched, with its reason.
#include <imgui.h>

#include <string>

#include "gui/panels/panels.h"

namespace qdrift::gui {

void draw_mapping_panel(Inspector& in, ViewState& vs) {
  const Report& r = in.report();
  const float half = ImGui::GetContentRegionAvail().y * 0.55f;
  ImGui::Text("%zu pairs", r.pairs.size());
  const ImGuiTableFlags flags = ImGuiTableFlags_ScrollY | ImGuiTableFlags_RowBg | ImGuiTableFlags_BordersInnerV |
                                ImGuiTableFlags_Resizable | ImGuiTableFlags_SizingStretchProp;
  if (ImGui::BeginTable("mapping", 4, flags, ImVec2(0, half))) {
    ImGui::TableSetupScrollFreeze(0, 1);
    ImGui::TableSetupColumn("ref tensor", 0, 3);
    ImGui::TableSetupColumn("other tensor", 0, 3);
    ImGui::TableSetupColumn("method", 0, 1);
    ImGui::TableSetupColumn("match detail", 0, 3);
    ImGui::TableHeadersRow();
    ImGuiListClipper clipper;
    clipper.Begin(static_cast<int>(r.pairs.size()));
    while (clipper.Step())
      for (int i = clipper.DisplayStart; i < clipper.DisplayEnd; ++i) {
        const PairRecord& p = r.pairs[static_cast<size_t>(i)];
        ImGui::TableNextRow();
        ImGui::TableSetColumnIndex(0);
        if (ImGui::Selectable((p.ref.tensor + "##m" + std::to_string(i)).c_str(), in.selected() == i,
                              ImGuiSelectableFlags_SpanAllColumns)) {
          in.select(i);
          vs.scroll_to_selection = true;
        }
        if (ImGui::IsItemHovered()) ImGui::SetTooltip("%s\n<-> %s", p.ref.tensor.c_str(), p.other.tensor.c_str());
        ImGui::TableSetColumnIndex(1);
        ImGui::TextUnformatted(p.other.tensor.c_str());
        ImGui::TableSetColumnIndex(2);
        ImGui::TextUnformatted(std::string(match_method_name(p.method)).c_str());
        ImGui::TableSetColumnIndex(3);
        ImGui::TextUnformatted(p.match_detail.c_str());
      }
    ImGui::EndTable();
  }
  ImGui::Text("%zu unmatched", r.unmatched.size());
  if (ImGui::BeginTable("unmatched", 4, flags, ImVec2(0, 0))) {
    ImGui::TableSetupScrollFreeze(0, 1);
    ImGui::TableSetupColumn("side", 0, 0.6f);
    ImGui::TableSetupColumn("tensor", 0, 3);
    ImGui::TableSetupColumn("node (op)", 0, 2);
    ImGui::TableSetupColumn("reason", 0, 5);
    ImGui::TableHeadersRow();
    for (const UnmatchedRecord& u : r.unmatched) {
      ImGui::TableNextRow();
      ImGui::TableSetColumnIndex(0);
      ImGui::TextUnformatted(u.side.c_str());
      ImGui::TableSetColumnIndex(1);
      ImGui::TextUnformatted(u.tensor.c_str());
      if (ImGui::IsItemHovered()) ImGui::SetTooltip("%s", u.tensor.c_str());
      ImGui::TableSetColumnIndex(2);
      ImGui::Text("%s (%s)", u.node.c_str(), u.op.c_str());
      ImGui::TableSetColumnIndex(3);
      ImGui::TextUnformatted(u.reason.c_str());
      if (ImGui::IsItemHovered()) ImGui::SetTooltip("%s", u.reason.c_str());
    }
    ImGui::EndTable();
  }
}

}  // namespace qdrift::gui
