// The line above the table: what is being inspected, the filter, export.
#include <imgui.h>

#include <fmt/format.h>

#include "gui/panels/panels.h"

namespace qdrift::gui {

void draw_toolbar(Inspector& in, ViewState& vs, const LiveRunner* runner) {
  const Report& r = in.report();
  ImGui::TextUnformatted(in.label().c_str());
  ImGui::SameLine();
  ImGui::TextDisabled("|");
  ImGui::SameLine();
  ImGui::Text("%s vs %s", r.ref_executor.c_str(), r.other_executor.c_str());
  if (!r.policy.empty()) {
    ImGui::SameLine();
    ImGui::TextDisabled("| policy %s", r.policy.substr(0, r.policy.find(':')).c_str());
    if (ImGui::IsItemHovered()) ImGui::SetTooltip("%s", r.policy.c_str());
  }
  ImGui::SameLine();
  ImGui::TextDisabled("| %zu pairs, %zu unmatched", r.pairs.size(), r.unmatched.size());
  ImGui::SameLine();
  if (r.first_divergence >= 0) {
    const PairRecord& p = r.pairs[static_cast<size_t>(r.first_divergence)];
    ImGui::TextColored(ImVec4(1.f, 0.45f, 0.4f, 1.f), "| first divergence #%lld %s", static_cast<long long>(r.first_divergence),
                       p.ref.tensor.c_str());
  } else {
    ImGui::TextColored(ImVec4(0.5f, 0.9f, 0.5f, 1.f), "| no divergence");
  }
  if (runner && runner->busy()) {
    ImGui::SameLine();
    const double p = runner->progress();
    ImGui::TextColored(ImVec4(0.5f, 0.75f, 1.f, 1.f), p >= 0 ? "| re-running %3.0f%%" : "| re-running...", 100.0 * p);
  }

  if (ImGui::Button("First divergence (F)")) {
    in.select_first_divergence();
    vs.scroll_to_selection = true;
  }
  ImGui::SameLine();
  if (ImGui::Button("< Prev (P)")) {
    in.select_next_divergent(-1);
    vs.scroll_to_selection = true;
  }
  ImGui::SameLine();
  if (ImGui::Button("Next divergent (N) >")) {
    in.select_next_divergent(+1);
    vs.scroll_to_selection = true;
  }
  ImGui::SameLine();
  ImGui::SetNextItemWidth(260);
  bool query_changed = ImGui::InputTextWithHint("##filter", "filter names (regex)", vs.name_filter, sizeof vs.name_filter);
  ImGui::SameLine();
  query_changed |= ImGui::Checkbox("divergent only", &vs.divergent_only);
  if (query_changed) {
    TableQuery q = in.query();
    q.filter.name_regex = vs.name_filter;
    q.filter.divergent_only = vs.divergent_only;
    const Status s = in.set_query(q);
    vs.filter_error = s.is_ok() ? "" : s.message();
  }
  ImGui::SameLine();
  ImGui::TextDisabled("%zu shown", in.rows().size());
  if (!vs.filter_error.empty()) {
    ImGui::SameLine();
    ImGui::TextColored(ImVec4(1.f, 0.4f, 0.4f, 1.f), "%s", vs.filter_error.c_str());
  }

  ImGui::SameLine(0, 30);
  ImGui::SetNextItemWidth(170);
  ImGui::InputText("##json", vs.export_json_path, sizeof vs.export_json_path);
  ImGui::SameLine();
  if (ImGui::Button("Export JSON")) {
    const Status s = in.export_json(vs.export_json_path);
    vs.message = s.is_ok() ? fmt::format("wrote {}", vs.export_json_path) : s.message();
  }
  ImGui::SameLine();
  ImGui::SetNextItemWidth(150);
  ImGui::InputText("##png", vs.export_png_path, sizeof vs.export_png_path);
  ImGui::SameLine();
  if (ImGui::Button("Save PNG")) vs.capture_png = true;
  if (!vs.message.empty()) {
    ImGui::SameLine();
    ImGui::TextDisabled("%s", vs.message.c_str());
  }
}

}  // namespace qdrift::gui
