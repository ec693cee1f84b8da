// The tensor panel for the selected pair: both sides' statistics side by side, the value
// histograms, the error in steps, the per-channel maximum error, and heatmaps of one
// channel (ref, other, |ref - other|) with the values under the mouse.
#include <imgui.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "gui/panels/panels.h"

namespace qdrift::gui {

namespace {

constexpr ImU32 kRefColour = IM_COL32(70, 140, 230, 200);
constexpr ImU32 kOtherColour = IM_COL32(255, 160, 60, 255);

std::string coords(const std::vector<int64_t>& at) {
  if (at.empty()) return "-";
  return fmt::format("[{}]", fmt::join(at, ","));
}

std::string scales(const SideRecord& s) {
  if (!s.quantized) return "-";
  if (s.scale.size() == 1) return fmt::format("{:.6g} / zp {}", s.scale[0], s.zero_point[0]);
  return fmt::format("{} scales on axis {} ({:.4g}..)", s.scale.size(), s.axis, s.scale[0]);
}

void row(const char* field, const std::string& a, const std::string& b) {
  ImGui::TableNextRow();
  ImGui::TableSetColumnIndex(0);
  ImGui::TextDisabled("%s", field);
  ImGui::TableSetColumnIndex(1);
  ImGui::TextUnformatted(a.c_str());
  if (ImGui::IsItemHovered() && a.size() > 24) ImGui::SetTooltip("%s", a.c_str());
  ImGui::TableSetColumnIndex(2);
  ImGui::TextUnformatted(b.c_str());
  if (ImGui::IsItemHovered() && b.size() > 24) ImGui::SetTooltip("%s", b.c_str());
}

std::string num(double v) { return fmt::format("{:.5g}", v); }

void stats_table(const PairRecord& p, const PairView& v) {
  if (!ImGui::BeginTable("sides", 3, ImGuiTableFlags_BordersInnerV | ImGuiTableFlags_RowBg | ImGuiTableFlags_SizingStretchProp))
    return;
  ImGui::TableSetupColumn("", ImGuiTableColumnFlags_WidthFixed, 104);
  ImGui::TableSetupColumn("ref", ImGuiTableColumnFlags_WidthStretch, 1);
  ImGui::TableSetupColumn("other", ImGuiTableColumnFlags_WidthStretch, 1);
  ImGui::TableHeadersRow();
  row("tensor", p.ref.tensor, p.other.tensor);
  row("op", p.ref.op, p.other.op);
  row("dtype / shape", fmt::format("{} {}", dtype_name(p.ref.dtype), shape_str(p.ref.shape)),
      fmt::format("{} {}", dtype_name(p.other.dtype), shape_str(p.other.shape)));
  row("scale / zp", scales(p.ref), scales(p.other));
  row("avg (native)", num(p.ref.stats.avg), num(p.other.stats.avg));
  row("min (native)", num(p.ref.stats.min), num(p.other.stats.min));
  row("max (native)", num(p.ref.stats.max), num(p.other.stats.max));
  row("std (native)", num(p.ref.stats.std), num(p.other.stats.std));
  row("argmax", fmt::format("{} {}", p.ref.stats.argmax, coords(v.ref_argmax_at)),
      fmt::format("{} {}", p.other.stats.argmax, coords(v.other_argmax_at)));
  row("at qmin / qmax", p.ref.quantized ? fmt::format("{} / {}", p.ref.count_at_qmin, p.ref.count_at_qmax) : "-",
      p.other.quantized ? fmt::format("{} / {}", p.other.count_at_qmin, p.other.count_at_qmax) : "-");
  row("NaN / Inf", fmt::format("{} / {}", p.ref.stats.nan_count, p.ref.stats.inf_count),
      fmt::format("{} / {}", p.other.stats.nan_count, p.other.stats.inf_count));
  if (v.has_tensors) {
    row("avg (real)", num(v.ref_real_stats.avg), num(v.other_real_stats.avg));
    row("min (real)", num(v.ref_real_stats.min), num(v.other_real_stats.min));
    row("max (real)", num(v.ref_real_stats.max), num(v.other_real_stats.max));
    row("std (real)", num(v.ref_real_stats.std), num(v.other_real_stats.std));
  }
  ImGui::EndTable();
  const DriftMeasures& d = p.drift;
  ImGui::Text("max abs %.5g at %s", d.max_abs, coords(v.max_abs_at).c_str());
  if (d.has_steps) ImGui::Text("max %.3g steps of the reference scale", d.max_abs_steps);
  ImGui::Text("SQNR %.2f dB  cosine %.6f  differ %.2f%%", d.sqnr_db, d.cosine, 100 * d.frac_differ);
  ImGui::Text("method %s%s%s", std::string(match_method_name(p.method)).c_str(), p.match_detail.empty() ? "" : ": ",
              p.match_detail.c_str());
  if (p.has_kernel_check)
    ImGui::Text("kernel check: %lld elements differ from the oracle (max %.3g)", static_cast<long long>(p.kernel_differ),
                p.kernel_max_abs);
}

// Bars of `values` in a w x h box; returns the hovered bar (-1 none). `colour_of` picks each
// bar's colour; `outline` draws only the bars' tops and sides (a second series over a first).
template <typename Colour>
int bars(const char* id, const std::vector<double>& values, ImVec2 size, Colour colour_of, double top = 0,
         bool outline = false) {
  const ImVec2 p0 = ImGui::GetCursorScreenPos();
  ImGui::InvisibleButton(id, size);
  const bool hovered = ImGui::IsItemHovered();
  ImDrawList* dl = ImGui::GetWindowDrawList();
  const ImVec2 p1(p0.x + size.x, p0.y + size.y);
  if (!outline) dl->AddRectFilled(p0, p1, IM_COL32(22, 24, 30, 255));
  if (values.empty()) return -1;
  for (double v : values) top = std::max(top, std::isfinite(v) ? v : 0.0);
  if (top <= 0) top = 1;
  const float bw = size.x / static_cast<float>(values.size());
  int hover = -1;
  for (size_t i = 0; i < values.size(); ++i) {
    const float x = p0.x + bw * static_cast<float>(i);
    const double v = std::isfinite(values[i]) ? values[i] : 0.0;
    const float y = p1.y - size.y * static_cast<float>(v / top);
    if (outline) {
      if (v > 0) dl->AddRect(ImVec2(x, y), ImVec2(x + bw, p1.y), colour_of(i), 0, 0, 1.5f);
    } else {
      dl->AddRectFilled(ImVec2(x + (bw > 3 ? 0.5f : 0), y), ImVec2(x + bw - (bw > 3 ? 0.5f : 0), p1.y), colour_of(i));
    }
    if (hovered && ImGui::GetIO().MousePos.x >= x && ImGui::GetIO().MousePos.x < x + bw) hover = static_cast<int>(i);
  }
  return hover;
}

// Value -> colour: a dark-blue-to-yellow ramp for [lo, hi]; NaN magenta.
ImU32 ramp(float v, float lo, float hi) {
  if (std::isnan(v)) return IM_COL32(255, 0, 255, 255);
  const float t = hi > lo ? std::clamp((v - lo) / (hi - lo), 0.f, 1.f) : 0.f;
  const auto c = [](float x) { return static_cast<int>(std::clamp(x, 0.f, 1.f) * 255.f); };
  return IM_COL32(c(1.5f * t - 0.2f), c(t < 0.5f ? 1.4f * t : 0.7f + 0.3f * t), c(0.45f + 0.6f * t - 0.9f * t * t), 255);
}

void ensure_texture(PlaneTexture& tex, const Plane& plane, uint64_t generation, float lo, float hi) {
  if (tex.id != 0 && tex.generation == generation) return;
  const int w = static_cast<int>(plane.cols), h = static_cast<int>(plane.rows);
  std::vector<unsigned char> rgba(static_cast<size_t>(w) * static_cast<size_t>(h) * 4);
  for (size_t k = 0; k < plane.values.size(); ++k) {
    const ImU32 c = ramp(plane.values[k], lo, hi);
    std::memcpy(&rgba[k * 4], &c, 4);
  }
  upload_texture(tex, w, h, rgba.data());
  tex.generation = generation;
}

// One heatmap image; returns the hovered pixel (-1 none).
int64_t heatmap(const char* title, PlaneTexture& tex, const Plane& plane, ImVec2 box) {
  ImGui::BeginGroup();
  ImGui::TextUnformatted(title);
  const float aspect = static_cast<float>(plane.cols) / static_cast<float>(std::max<int64_t>(plane.rows, 1));
  ImVec2 size = box;
  if (aspect > box.x / box.y) size.y = box.x / aspect;
  else size.x = box.y * aspect;
  const ImVec2 p0 = ImGui::GetCursorScreenPos();
  ImGui::Image(reinterpret_cast<ImTextureID>(static_cast<intptr_t>(tex.id)), size);
  int64_t hovered = -1;
  if (ImGui::IsItemHovered()) {
    const ImVec2 m = ImGui::GetIO().MousePos;
    const auto c = static_cast<int64_t>((m.x - p0.x) / size.x * static_cast<float>(plane.cols));
    const auto r = static_cast<int64_t>((m.y - p0.y) / size.y * static_cast<float>(plane.rows));
    if (c >= 0 && c < plane.cols && r >= 0 && r < plane.rows) hovered = r * plane.cols + c;
  }
  ImGui::TextDisabled("%.4g .. %.4g", plane.lo, plane.hi);
  ImGui::EndGroup();
  return hovered;
}

}  // namespace

void draw_tensor_panel(Inspector& in, ViewState& vs) {
  if (in.selected() < 0) {
    ImGui::TextDisabled("Select a pair in the table or the depth plot.");
    return;
  }
  const PairRecord& p = in.report().pairs[static_cast<size_t>(in.selected())];
  const PairView& v = in.pair_view();

  ImGui::BeginChild("stats", ImVec2(std::min(470.f, ImGui::GetContentRegionAvail().x * 0.42f), 0), false);
  stats_table(p, v);
  ImGui::EndChild();
  ImGui::SameLine();
  ImGui::BeginChild("plots", ImVec2(0, 0), false);
  const float full = ImGui::GetContentRegionAvail().x;
  const float third = (full - 2 * ImGui::GetStyle().ItemSpacing.x) / 3;
  const float plot_h = 92;

  // Row 1: histograms and per-channel errors.
  ImGui::BeginGroup();
  ImGui::TextColored(ImColor(kRefColour), "ref");
  ImGui::SameLine(0, 4);
  ImGui::TextColored(ImColor(kOtherColour), "other");
  ImGui::SameLine(0, 4);
  ImGui::TextDisabled("(outline) values, real");
  if (v.has_tensors) {
    const ImVec2 at = ImGui::GetCursorScreenPos();
    double top = 0;
    for (size_t i = 0; i < v.histogram.ref.size(); ++i) top = std::max({top, v.histogram.ref[i], v.histogram.other[i]});
    bars("hist_ref", v.histogram.ref, ImVec2(third, plot_h), [](size_t) { return kRefColour; }, top);
    ImGui::SetCursorScreenPos(at);
    const int h = bars("hist_other", v.histogram.other, ImVec2(third, plot_h), [](size_t) { return kOtherColour; }, top, true);
    if (h >= 0) {
      const double width = (v.histogram.hi - v.histogram.lo) / static_cast<double>(v.histogram.ref.size());
      ImGui::SetTooltip("[%.4g, %.4g): ref %.0f, other %.0f", v.histogram.lo + h * width, v.histogram.lo + (h + 1) * width,
                        v.histogram.ref[static_cast<size_t>(h)], v.histogram.other[static_cast<size_t>(h)]);
    }
    ImGui::TextDisabled("%.4g .. %.4g", v.histogram.lo, v.histogram.hi);
  } else {
    ImGui::Dummy(ImVec2(third, plot_h));
    ImGui::TextDisabled("no tensors");
  }
  ImGui::EndGroup();
  ImGui::SameLine();

  ImGui::BeginGroup();
  ImGui::TextDisabled("error in steps 0..>=%zu", p.drift.steps_histogram.empty() ? 0 : p.drift.steps_histogram.size() - 1);
  std::vector<double> steps(p.drift.steps_histogram.begin(), p.drift.steps_histogram.end());
  const int hs = bars("steps", steps, ImVec2(third, plot_h), [](size_t i) {
    return i == 0 ? IM_COL32(90, 180, 110, 220) : i == 1 ? IM_COL32(200, 170, 60, 220) : IM_COL32(220, 70, 60, 220);
  });
  if (hs >= 0) ImGui::SetTooltip("%d steps: %.0f elements", hs, steps[static_cast<size_t>(hs)]);
  ImGui::TextDisabled(p.drift.has_steps ? "%lld elements" : "no reference scale", static_cast<long long>(p.drift.count));
  ImGui::EndGroup();
  ImGui::SameLine();

  ImGui::BeginGroup();
  ImGui::TextDisabled("max |err| per channel");
  const int64_t worst = v.worst_channel, shown = v.channel;
  const int hc = bars("channels", p.channel_max_abs, ImVec2(third, plot_h), [&](size_t i) {
    if (static_cast<int64_t>(i) == shown) return IM_COL32(255, 255, 255, 230);
    return static_cast<int64_t>(i) == worst ? IM_COL32(235, 60, 50, 255) : IM_COL32(150, 110, 200, 220);
  });
  if (hc >= 0) {
    ImGui::SetTooltip("channel %d: max |error| %.4g", hc, p.channel_max_abs[static_cast<size_t>(hc)]);
    if (ImGui::IsItemClicked()) in.set_channel(hc);
  }
  if (worst >= 0) ImGui::TextDisabled("worst channel %lld: %.4g", static_cast<long long>(worst), p.channel_max_abs[static_cast<size_t>(worst)]);
  else ImGui::TextDisabled("no per-channel errors in the report");
  ImGui::EndGroup();

  // Row 2: heatmaps of one channel.
  ImGui::Separator();
  if (!v.error.empty()) {
    ImGui::TextColored(ImVec4(1.f, 0.4f, 0.4f, 1.f), "tensors: %s", v.error.c_str());
  } else if (!v.has_tensors) {
    ImGui::TextDisabled("No tensors: run `qdrift diff ... --json R.json --save-tensors DIR` (or the GUI's live mode) to see them.");
  } else if (v.ref_plane.values.empty()) {
    ImGui::TextDisabled("empty tensor");
  } else {
    int channel = static_cast<int>(v.channel);
    ImGui::SetNextItemWidth(std::min(260.f, full * 0.3f));
    if (ImGui::SliderInt("channel", &channel, 0, static_cast<int>(std::max<int64_t>(v.channels - 1, 0)))) in.set_channel(channel);
    ImGui::SameLine();
    ImGui::TextDisabled("%lld x %lld of batch item 0; ref and other share one colour scale", static_cast<long long>(v.ref_plane.rows),
                        static_cast<long long>(v.ref_plane.cols));
    const PairView& cur = in.pair_view();  // the channel may just have changed
    const float lo = std::min(cur.ref_plane.lo, cur.other_plane.lo), hi = std::max(cur.ref_plane.hi, cur.other_plane.hi);
    ensure_texture(vs.textures[0], cur.ref_plane, cur.generation, lo, hi);
    ensure_texture(vs.textures[1], cur.other_plane, cur.generation, lo, hi);
    ensure_texture(vs.textures[2], cur.diff_plane, cur.generation, 0.f, cur.diff_plane.hi);
    const float box = std::max(40.f, std::min(third - 8, ImGui::GetContentRegionAvail().y - 60));
    int64_t hover = heatmap("ref", vs.textures[0], cur.ref_plane, ImVec2(box, box));
    ImGui::SameLine();
    const int64_t h2 = heatmap("other", vs.textures[1], cur.other_plane, ImVec2(box, box));
    ImGui::SameLine();
    const int64_t h3 = heatmap("|ref - other|", vs.textures[2], cur.diff_plane, ImVec2(box, box));
    if (hover < 0) hover = h2 >= 0 ? h2 : h3;
    if (hover >= 0) {
      const auto k = static_cast<size_t>(hover);
      const int64_t flat = cur.ref_plane.flat_index[k];
      ImGui::SetTooltip("%s (row %lld, col %lld)\nref %.6g\nother %.6g\n|diff| %.6g",
                        coords(unravel_index(flat, p.ref.shape)).c_str(), static_cast<long long>(hover / cur.ref_plane.cols),
                        static_cast<long long>(hover % cur.ref_plane.cols), cur.ref_plane.values[k], cur.other_plane.values[k],
                        cur.diff_plane.values[k]);
    }
  }
  ImGui::EndChild();
}

}  // namespace qdrift::gui
