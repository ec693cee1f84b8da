// The depth plot: SQNR (left axis) and max steps (right axis) along execution order, the
// thresholds dashed, the first divergence marked; click a point to select its pair.
#include <imgui.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "gui/panels/panels.h"

namespace qdrift::gui {

namespace {

constexpr ImU32 kSqnrColour = IM_COL32(90, 170, 255, 255);
constexpr ImU32 kStepsColour = IM_COL32(255, 170, 60, 255);

void dashed_hline(ImDrawList* dl, float x0, float x1, float y, ImU32 c) {
  for (float x = x0; x < x1; x += 10) dl->AddLine(ImVec2(x, y), ImVec2(std::min(x + 5, x1), y), c);
}

}  // namespace

void draw_depth_panel(Inspector& in, ViewState& vs) {
  const Report& r = in.report();
  ImGui::TextColored(ImColor(kSqnrColour), "SQNR dB");
  ImGui::SameLine();
  ImGui::TextDisabled("and");
  ImGui::SameLine();
  ImGui::TextColored(ImColor(kStepsColour), "max steps");
  ImGui::SameLine();
  ImGui::TextDisabled("by execution order (click)");
  const ImVec2 avail = ImGui::GetContentRegionAvail();
  const ImVec2 origin = ImGui::GetCursorScreenPos();
  const float left = 44, right = 40, top = 8, bottom = 22;
  const ImVec2 p0(origin.x + left, origin.y + top);
  const ImVec2 p1(origin.x + avail.x - right, origin.y + avail.y - bottom);
  ImGui::InvisibleButton("depth", ImVec2(std::max(avail.x, 10.f), std::max(avail.y, 10.f)));
  const bool hovered = ImGui::IsItemHovered();
  const bool clicked = ImGui::IsItemClicked();
  ImDrawList* dl = ImGui::GetWindowDrawList();
  dl->AddRectFilled(p0, p1, IM_COL32(22, 24, 30, 255));
  dl->AddRect(p0, p1, IM_COL32(90, 90, 100, 255));
  const size_t n = r.pairs.size();
  if (n == 0 || p1.x - p0.x < 20 || p1.y - p0.y < 20) return;

  // Axes: SQNR from 0 to above the largest finite value (infinite SQNR, no error, is drawn
  // at the top); steps from 0 to above the largest.
  double sqnr_top = std::max(40.0, r.thresholds.min_sqnr_db + 10), steps_top = std::max(2.0, r.thresholds.max_steps + 1);
  for (const PairRecord& p : r.pairs) {
    if (std::isfinite(p.drift.sqnr_db)) sqnr_top = std::max(sqnr_top, p.drift.sqnr_db + 5);
    if (p.drift.has_steps && std::isfinite(p.drift.max_abs_steps)) steps_top = std::max(steps_top, p.drift.max_abs_steps * 1.1);
  }
  const float w = p1.x - p0.x, h = p1.y - p0.y;
  auto x_of = [&](size_t i) { return p0.x + (n == 1 ? w / 2 : w * static_cast<float>(i) / static_cast<float>(n - 1)); };
  auto y_sqnr = [&](double db) {
    const double v = std::isnan(db) ? 0 : std::clamp(db, 0.0, sqnr_top);
    return p1.y - h * static_cast<float>(v / sqnr_top);
  };
  auto y_steps = [&](double s) { return p1.y - h * static_cast<float>(std::clamp(s, 0.0, steps_top) / steps_top); };

  // Axis labels.
  for (int k = 0; k <= 4; ++k) {
    const double db = sqnr_top * k / 4, st = steps_top * k / 4;
    const float y = y_sqnr(db);
    dl->AddLine(ImVec2(p0.x, y), ImVec2(p1.x, y), IM_COL32(50, 52, 60, 255));
    const std::string a = std::to_string(static_cast<int>(std::lround(db)));
    dl->AddText(ImVec2(origin.x + 4, y - 7), kSqnrColour, a.c_str());
    char b[32];
    std::snprintf(b, sizeof b, "%.3g", st);
    dl->AddText(ImVec2(p1.x + 4, y_steps(st) - 7), kStepsColour, b);
  }
  dashed_hline(dl, p0.x, p1.x, y_sqnr(r.thresholds.min_sqnr_db), IM_COL32(90, 170, 255, 140));
  dashed_hline(dl, p0.x, p1.x, y_steps(r.thresholds.max_steps), IM_COL32(255, 170, 60, 140));

  if (r.first_divergence >= 0) {
    const float x = x_of(static_cast<size_t>(r.first_divergence));
    dl->AddLine(ImVec2(x, p0.y), ImVec2(x, p1.y), IM_COL32(230, 60, 60, 255), 2.f);
    dl->AddText(ImVec2(std::min(x + 4, p1.x - 110), p0.y + 2), IM_COL32(240, 90, 90, 255), "first divergence");
  }
  if (in.selected() >= 0) {
    const float x = x_of(static_cast<size_t>(in.selected()));
    dl->AddLine(ImVec2(x, p0.y), ImVec2(x, p1.y), IM_COL32(255, 255, 255, 160), 1.f);
  }

  // Series.
  for (size_t i = 0; i + 1 < n; ++i) {
    dl->AddLine(ImVec2(x_of(i), y_sqnr(r.pairs[i].drift.sqnr_db)), ImVec2(x_of(i + 1), y_sqnr(r.pairs[i + 1].drift.sqnr_db)),
                kSqnrColour, 1.5f);
    if (r.pairs[i].drift.has_steps && r.pairs[i + 1].drift.has_steps)
      dl->AddLine(ImVec2(x_of(i), y_steps(r.pairs[i].drift.max_abs_steps)),
                  ImVec2(x_of(i + 1), y_steps(r.pairs[i + 1].drift.max_abs_steps)), kStepsColour, 1.5f);
  }
  for (size_t i = 0; i < n; ++i) {
    const PairRecord& p = r.pairs[i];
    const ImU32 ring = p.divergent ? IM_COL32(240, 70, 60, 255) : IM_COL32(0, 0, 0, 0);
    dl->AddCircleFilled(ImVec2(x_of(i), y_sqnr(p.drift.sqnr_db)), 3.f, kSqnrColour);
    if (p.drift.has_steps) dl->AddCircleFilled(ImVec2(x_of(i), y_steps(p.drift.max_abs_steps)), 3.f, kStepsColour);
    if (p.divergent)
      dl->AddCircle(ImVec2(x_of(i), p.drift.has_steps ? y_steps(p.drift.max_abs_steps) : y_sqnr(p.drift.sqnr_db)), 6.f, ring, 0, 2.f);
  }
  dl->AddText(ImVec2(p0.x, p1.y + 4), IM_COL32(150, 150, 160, 255), "pair 0");
  const std::string last = "pair " + std::to_string(n - 1);
  dl->AddText(ImVec2(p1.x - ImGui::CalcTextSize(last.c_str()).x, p1.y + 4), IM_COL32(150, 150, 160, 255), last.c_str());

  if (hovered) {
    const float mx = ImGui::GetIO().MousePos.x;
    const auto i = static_cast<size_t>(std::clamp<long>(
        std::lround(n == 1 ? 0.0 : (mx - p0.x) / w * static_cast<float>(n - 1)), 0L, static_cast<long>(n) - 1));
    const PairRecord& p = r.pairs[i];
    dl->AddLine(ImVec2(x_of(i), p0.y), ImVec2(x_of(i), p1.y), IM_COL32(255, 255, 255, 60));
    ImGui::BeginTooltip();
    ImGui::Text("#%zu %s", i, p.ref.tensor.c_str());
    ImGui::Text("SQNR %.1f dB, max %.3g steps, max abs %.4g%s", p.drift.sqnr_db, p.drift.has_steps ? p.drift.max_abs_steps : 0.0,
                p.drift.max_abs, p.divergent ? "  DIVERGENT" : "");
    ImGui::EndTooltip();
    if (clicked) {
      in.select(static_cast<int64_t>(i));
      vs.scroll_to_selection = true;
    }
  }
}

}  // namespace qdrift::gui
