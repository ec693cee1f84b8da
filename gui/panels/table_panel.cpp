// The layer table: every pair in execution order (or as sorted), coloured by severity.
#include <imgui.h>

#include <string>

#include "gui/panels/panels.h"

namespace qdrift::gui {

unsigned severity_colour(Severity s, bool strong) {
  switch (s) {
    case Severity::divergent: return strong ? IM_COL32(215, 55, 50, 200) : IM_COL32(170, 45, 40, 120);
    case Severity::within: return IM_COL32(170, 135, 30, 70);
    default: return 0;
  }
}

namespace {

float initial_width(Column c) {
  switch (c) {
    case Column::index: return 44;
    case Column::ref_tensor:
    case Column::other_tensor: return 215;
    case Column::method: return 74;
    case Column::ref_dtype:
    case Column::other_dtype: return 80;
    default: return 84;
  }
}

void name_tooltip(const SideRecord& s, const char* side) {
  if (!ImGui::IsItemHovered()) return;
  ImGui::BeginTooltip();
  ImGui::Text("%s tensor: %s", side, s.tensor.c_str());
  ImGui::TextDisabled("node %s (%s), %s", s.node.empty() ? "(graph input)" : s.node.c_str(), s.op.c_str(),
                      std::string(dtype_name(s.dtype)).c_str());
  ImGui::EndTooltip();
}

}  // namespace

void draw_table_panel(Inspector& in, ViewState& vs) {
  const Report& r = in.report();
  const ImGuiTableFlags flags = ImGuiTableFlags_Sortable | ImGuiTableFlags_Resizable | ImGuiTableFlags_Reorderable |
                                ImGuiTableFlags_Hideable | ImGuiTableFlags_ScrollX | ImGuiTableFlags_ScrollY |
                                ImGuiTableFlags_RowBg | ImGuiTableFlags_BordersInnerV | ImGuiTableFlags_BordersOuter |
                                ImGuiTableFlags_SizingFixedFit;
  if (!ImGui::BeginTable("pairs", kColumnCount, flags, ImGui::GetContentRegionAvail())) return;
  ImGui::TableSetupScrollFreeze(1, 1);
  for (int c = 0; c < kColumnCount; ++c) {
    const auto col = static_cast<Column>(c);
    ImGuiTableColumnFlags cf = c == 0 ? ImGuiTableColumnFlags_DefaultSort : 0;
    ImGui::TableSetupColumn(std::string(column_name(col)).c_str(), cf, initial_width(col), static_cast<ImGuiID>(c));
  }
  ImGui::TableHeadersRow();

  if (ImGuiTableSortSpecs* specs = ImGui::TableGetSortSpecs(); specs && specs->SpecsDirty) {
    if (specs->SpecsCount > 0) {
      TableQuery q = in.query();
      q.sort.column = static_cast<Column>(specs->Specs[0].ColumnUserID);
      q.sort.descending = specs->Specs[0].SortDirection == ImGuiSortDirection_Descending;
      (void)in.set_query(q);  // sorting never fails; a bad regex was refused earlier
    }
    specs->SpecsDirty = false;
  }

  const std::vector<size_t>& rows = in.rows();
  const float row_height = ImGui::GetTextLineHeight() + 2 * ImGui::GetStyle().CellPadding.y;
  if (vs.scroll_to_selection && in.selected() >= 0) {
    for (size_t k = 0; k < rows.size(); ++k)
      if (static_cast<int64_t>(rows[k]) == in.selected()) {
        const float y = static_cast<float>(k) * row_height;
        const float view = ImGui::GetWindowHeight() - 2 * row_height;
        if (y < ImGui::GetScrollY() || y > ImGui::GetScrollY() + view) ImGui::SetScrollY(y - view * 0.4f);
      }
    vs.scroll_to_selection = false;
  }

  ImGuiListClipper clipper;
  clipper.Begin(static_cast<int>(rows.size()), row_height);
  while (clipper.Step()) {
    for (int k = clipper.DisplayStart; k < clipper.DisplayEnd; ++k) {
      const size_t i = rows[static_cast<size_t>(k)];
      const PairRecord& p = r.pairs[i];
      const bool first = static_cast<int64_t>(i) == r.first_divergence;
      const bool changed = i < in.changed().size() && in.changed()[i];
      ImGui::TableNextRow(ImGuiTableRowFlags_None, row_height);
      if (const unsigned c = severity_colour(pair_severity(p), first)) ImGui::TableSetBgColor(ImGuiTableBgTarget_RowBg1, c);
      if (changed) ImGui::TableSetBgColor(ImGuiTableBgTarget_CellBg, IM_COL32(60, 120, 220, 160), 0);
      for (int c = 0; c < kColumnCount; ++c) {
        if (!ImGui::TableSetColumnIndex(c)) continue;
        const auto col = static_cast<Column>(c);
        const std::string text = column_text(p, i, col);
        if (c == 0) {
          const std::string label = (first ? ">" : changed ? "*" : " ") + text + "##row";
          if (ImGui::Selectable(label.c_str(), static_cast<int64_t>(i) == in.selected(),
                                ImGuiSelectableFlags_SpanAllColumns | ImGuiSelectableFlags_AllowItemOverlap))
            in.select(static_cast<int64_t>(i));
          if (ImGui::IsItemHovered() && (first || changed))
            ImGui::SetTooltip("%s%s", first ? "first divergence (F)" : "", changed ? "changed by the last re-run" : "");
          continue;
        }
        ImGui::TextUnformatted(text.c_str());
        if (col == Column::ref_tensor) name_tooltip(p.ref, "ref");
        if (col == Column::other_tensor) name_tooltip(p.other, "other");
      }
    }
  }
  ImGui::EndTable();
}

}  // namespace qdrift::gui
