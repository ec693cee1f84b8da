// The policy panel (live mode): the preset and every knob; a change re-runs the other side
// in the background while the previous result stays on screen.
#include <imgui.h>

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "gui/panels/panels.h"

namespace qdrift::gui {

void draw_policy_panel(Inspector& in, ViewState& vs, const LiveRunner* runner) {
  if (!vs.live) {
    ImGui::TextWrapped("Policy of this report: %s", in.report().policy.empty() ? "(none: not an int8 run)" : in.report().policy.c_str());
    ImGui::Spacing();
    ImGui::TextDisabled("Open a model instead of a report to change the policy and re-run live:");
    ImGui::TextDisabled("  qdrift-gui MODEL.onnx --input x.npy [--policy P] [--set K=V]");
    return;
  }
  cli::DiffOptions& o = vs.live_options;
  if (o.against != "int8" && o.against != "oracle") {
    ImGui::TextWrapped("The other side is '%s': policies apply to --against int8 or oracle.", o.against.c_str());
    return;
  }
  bool changed = false;
  ImGui::SetNextItemWidth(220);
  if (ImGui::BeginCombo("preset", o.policy.c_str())) {
    for (const std::string& p : policy_presets())
      if (ImGui::Selectable(p.c_str(), p == o.policy)) {
        o.policy = p;
        o.policy_sets.clear();
        changed = true;
      }
    ImGui::EndCombo();
  }
  auto choices = policy_choices(o.policy, o.policy_sets);
  if (!choices) {
    ImGui::TextColored(ImVec4(1.f, 0.4f, 0.4f, 1.f), "%s", choices.status().message().c_str());
    return;
  }
  for (const KnobChoice& k : *choices) {
    if (k.knob == "skip_nodes") {
      ImGui::SetNextItemWidth(220);
      if (ImGui::InputTextWithHint("skip_nodes", "regex, Enter to apply", vs.skip_nodes, sizeof vs.skip_nodes,
                                   ImGuiInputTextFlags_EnterReturnsTrue)) {
        auto sets = set_knob(o.policy, o.policy_sets, k.knob, vs.skip_nodes[0] ? vs.skip_nodes : "none");
        if (sets) {
          o.policy_sets = *sets;
          changed = true;
        } else {
          vs.live_error = sets.status().message();
        }
      }
      continue;
    }
    ImGui::SetNextItemWidth(220);
    if (ImGui::BeginCombo(k.knob.c_str(), k.value.c_str())) {
      for (const std::string& v : k.values)
        if (ImGui::Selectable(v.c_str(), v == k.value) && v != k.value) {
          auto sets = set_knob(o.policy, o.policy_sets, k.knob, v);
          if (sets) {
            o.policy_sets = *sets;
            changed = true;
          } else {
            vs.live_error = sets.status().message();
          }
        }
      ImGui::EndCombo();
    }
  }
  ImGui::TextDisabled("--policy %s%s", o.policy.c_str(),
                      o.policy_sets.empty() ? "" : fmt::format(" --set {}", fmt::join(o.policy_sets, " --set ")).c_str());
  if (changed) vs.rerun_requested = true;

  ImGui::Separator();
  if (runner && runner->busy()) {
    const double p = runner->progress();
    ImGui::ProgressBar(p >= 0 ? static_cast<float>(p) : -1.0f * static_cast<float>(ImGui::GetTime()), ImVec2(220, 0),
                       p >= 0 ? nullptr : "running...");
    ImGui::SameLine();
    ImGui::TextDisabled("re-running; the table shows the previous result");
  } else {
    ImGui::Text("last run %.0f ms; %zu of %zu pairs changed (marked * in the table)", vs.live_ms, in.changed_count(),
                in.report().pairs.size());
  }
  if (!vs.live_error.empty()) ImGui::TextColored(ImVec4(1.f, 0.4f, 0.4f, 1.f), "%s", vs.live_error.c_str());
}

}  // namespace qdrift::gui
