// The only file that knows GLFW and OpenGL: the window, the frame loop, the layout of the
// panels, keyboard shortcuts, reading the frame back for --screenshot and "Save PNG".
#include "gui/app.h"

#include <GL/gl.h>
#include <GLFW/glfw3.h>
#include <backends/imgui_impl_glfw.h>
#include <backends/imgui_impl_opengl3.h>
#include <imgui.h>
#include <stb_image_write.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <vector>

#include <fmt/format.h>

#include "gui/model/inspector.h"
#include "gui/model/live_run.h"
#include "gui/panels/panels.h"
#include "gui/view_state.h"

namespace qdrift::gui {

void upload_texture(PlaneTexture& t, int width, int height, const unsigned char* rgba) {
  if (t.id == 0) glGenTextures(1, &t.id);
  glBindTexture(GL_TEXTURE_2D, t.id);
  // Nearest: one tensor element is one visible block, never blurred into its neighbours.
  glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MIN_FILTER, GL_NEAREST);
  glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MAG_FILTER, GL_NEAREST);
  glPixelStorei(GL_UNPACK_ALIGNMENT, 1);
  glTexImage2D(GL_TEXTURE_2D, 0, GL_RGBA, width, height, 0, GL_RGBA, GL_UNSIGNED_BYTE, rgba);
  t.width = width;
  t.height = height;
}

namespace {

std::string g_glfw_error;  // written by GLFW's error callback (C API, no user pointer before a window exists)

void on_glfw_error(int code, const char* text) { g_glfw_error = fmt::format("GLFW error {}: {}", code, text); }

// The back buffer as a PNG (rows flipped: OpenGL's origin is bottom-left).
Status write_png(const std::string& path, int w, int h) {
  std::vector<unsigned char> pixels(static_cast<size_t>(w) * static_cast<size_t>(h) * 4);
  glPixelStorei(GL_PACK_ALIGNMENT, 1);
  glReadBuffer(GL_BACK);
  glReadPixels(0, 0, w, h, GL_RGBA, GL_UNSIGNED_BYTE, pixels.data());
  std::vector<unsigned char> flipped(pixels.size());
  const size_t stride = static_cast<size_t>(w) * 4;
  for (int y = 0; y < h; ++y)
    std::copy_n(&pixels[static_cast<size_t>(h - 1 - y) * stride], stride, &flipped[static_cast<size_t>(y) * stride]);
  if (!stbi_write_png(path.c_str(), w, h, 4, flipped.data(), static_cast<int>(stride)))
    return invalid_input("{}: cannot write the PNG", path);
  return Status::ok();
}

void apply_style() {
  ImGui::StyleColorsDark();
  ImGuiStyle& s = ImGui::GetStyle();
  s.WindowRounding = 0;
  s.FrameRounding = 3;
  s.ChildRounding = 3;
  s.CellPadding = ImVec2(5, 2);
  s.ItemSpacing = ImVec2(8, 5);
  s.Colors[ImGuiCol_WindowBg] = ImVec4(0.10f, 0.105f, 0.12f, 1.f);
  s.Colors[ImGuiCol_TableRowBgAlt] = ImVec4(1.f, 1.f, 1.f, 0.03f);
  s.Colors[ImGuiCol_Header] = ImVec4(0.30f, 0.45f, 0.75f, 0.55f);
}

struct App {
  Inspector inspector;
  ViewState vs;
  std::unique_ptr<LiveRunner> runner;
  std::string fatal;     // an error to show instead of the panels (no report to show)
  bool errors_seen = false;

  void take_live_result() {
    if (!runner) return;
    std::optional<LiveResult> r = runner->take_result();
    if (!r) return;
    vs.live_ms = r->ms;
    if (!r->status.is_ok()) {
      vs.live_error = r->status.message();
      errors_seen = true;
      if (!inspector.has_report()) fatal = vs.live_error;
      return;
    }
    vs.live_error.clear();
    const std::string label = fmt::format("live: {} ({} {})", r->options.model, r->options.against,
                                          r->options.policy_sets.empty() ? r->options.policy
                                                                         : fmt::format("{} {}", r->options.policy,
                                                                                       fmt::join(r->options.policy_sets, ",")));
    const bool first = !inspector.has_report();
    inspector.show_report(std::move(r->report), std::move(r->tensors), label);
    fatal.clear();
    if (first && inspector.selected() < 0) inspector.select_first_divergence();
    if (inspector.selected() < 0 && !inspector.report().pairs.empty()) inspector.select(0);
    vs.scroll_to_selection = true;
  }

  void keys() {
    const ImGuiIO& io = ImGui::GetIO();
    if (io.WantTextInput || !inspector.has_report()) return;
    auto pressed = [](int glfw_key) { return ImGui::IsKeyPressed(glfw_key); };  // the GLFW backend indexes keys by GLFW code
    if (pressed(GLFW_KEY_F)) inspector.select_first_divergence(), vs.scroll_to_selection = true;
    if (pressed(GLFW_KEY_N)) inspector.select_next_divergent(+1), vs.scroll_to_selection = true;
    if (pressed(GLFW_KEY_P)) inspector.select_next_divergent(-1), vs.scroll_to_selection = true;
    if (pressed(GLFW_KEY_DOWN)) inspector.select_row_step(+1), vs.scroll_to_selection = true;
    if (pressed(GLFW_KEY_UP)) inspector.select_row_step(-1), vs.scroll_to_selection = true;
  }

  void frame(int width, int height) {
    ImGui::SetNextWindowPos(ImVec2(0, 0));
    ImGui::SetNextWindowSize(ImVec2(static_cast<float>(width), static_cast<float>(height)));
    // No background: glClear paints it. With software OpenGL (Mesa's llvmpipe, the tests'
    // renderer) every full-window textured quad costs milliseconds per frame.
    ImGui::Begin("qdrift", nullptr, ImGuiWindowFlags_NoDecoration | ImGuiWindowFlags_NoMove | ImGuiWindowFlags_NoSavedSettings |
                                        ImGuiWindowFlags_NoBringToFrontOnFocus | ImGuiWindowFlags_NoBackground);
    if (!inspector.has_report()) {
      if (!fatal.empty()) {
        ImGui::TextColored(ImVec4(1.f, 0.4f, 0.4f, 1.f), "qdrift-gui: cannot show a report");
        ImGui::TextWrapped("%s", fatal.c_str());
      } else {
        ImGui::Text("running the diff...");
      }
      ImGui::End();
      return;
    }
    keys();
    draw_toolbar(inspector, vs, runner.get());
    const float avail = ImGui::GetContentRegionAvail().y;
    ImGui::BeginChild("table", ImVec2(0, std::floor(avail * 0.42f)), false);
    draw_table_panel(inspector, vs);
    ImGui::EndChild();
    ImGui::BeginChild("depth", ImVec2(std::floor(ImGui::GetContentRegionAvail().x * 0.30f), 0), true);
    draw_depth_panel(inspector, vs);
    ImGui::EndChild();
    ImGui::SameLine();
    ImGui::BeginChild("tabs", ImVec2(0, 0), true);
    if (ImGui::BeginTabBar("panels")) {
      for (int t = 0; t < static_cast<int>(Tab::count_); ++t) {
        const ImGuiTabItemFlags f = vs.select_tab && static_cast<Tab>(t) == vs.tab ? ImGuiTabItemFlags_SetSelected : 0;
        static constexpr const char* kTitles[] = {"Tensor", "Mapping", "Causes", "Policy"};
        if (!ImGui::BeginTabItem(kTitles[t], nullptr, f)) continue;
        if (!vs.select_tab) vs.tab = static_cast<Tab>(t);
        switch (static_cast<Tab>(t)) {
          case Tab::tensor: draw_tensor_panel(inspector, vs); break;
          case Tab::mapping: draw_mapping_panel(inspector, vs); break;
          case Tab::causes: draw_causes_panel(inspector, vs); break;
          case Tab::policy: draw_policy_panel(inspector, vs, runner.get()); break;
          default: break;
        }
        ImGui::EndTabItem();
      }
      vs.select_tab = false;
      ImGui::EndTabBar();
    }
    ImGui::EndChild();
    ImGui::End();
    if (vs.rerun_requested && runner) {
      vs.rerun_requested = false;
      runner->start(vs.live_options);
    }
  }

  // Errors a screenshot must fail on: the selected pair's tensors, a live run's error.
  bool has_error() {
    if (!fatal.empty() || errors_seen) return true;
    if (inspector.has_report() && inspector.selected() >= 0 && !inspector.pair_view().error.empty()) return true;
    return false;
  }
  std::string error_text() {
    if (!fatal.empty()) return fatal;
    if (!vs.live_error.empty()) return vs.live_error;
    return inspector.has_report() && inspector.selected() >= 0 ? inspector.pair_view().error : "";
  }
};

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2), v.end());
  return v[v.size() / 2];
}

}  // namespace

int run_app(const AppOptions& o) {
  const bool headless = !o.screenshot.empty();
  App app;
  app.vs.live = o.live;
  app.vs.live_options = o.diff;
  for (int t = 0; t < static_cast<int>(Tab::count_); ++t)
    if (o.panel == kTabNames[t]) app.vs.tab = static_cast<Tab>(t);

  // The report first: a bad one is exit 2 even where no window can open.
  if (!o.live) {
    const Status s = app.inspector.open_report(o.path);
    if (!s.is_ok()) {
      app.fatal = s.message();
      if (headless) {
        fmt::print(stderr, "qdrift-gui: {}\n", s.message());
        return kExitBadInput;
      }
    } else {
      app.inspector.select_first_divergence();
      if (app.inspector.selected() < 0 && !app.inspector.report().pairs.empty()) app.inspector.select(0);
    }
  }

  glfwSetErrorCallback(on_glfw_error);
  if (!glfwInit()) {
    fmt::print(stderr, "qdrift-gui: cannot open a window ({}); is DISPLAY set? (headless: xvfb-run -a qdrift-gui ...)\n",
               g_glfw_error.empty() ? "glfwInit failed" : g_glfw_error);
    return kExitInternal;
  }
  glfwWindowHint(GLFW_CONTEXT_VERSION_MAJOR, 3);
  glfwWindowHint(GLFW_CONTEXT_VERSION_MINOR, 0);
  if (headless) glfwWindowHint(GLFW_VISIBLE, GLFW_FALSE);
  GLFWwindow* window = glfwCreateWindow(o.width, o.height, "qdrift-gui", nullptr, nullptr);
  if (!window) {
    fmt::print(stderr, "qdrift-gui: cannot create an OpenGL 3.0 window ({})\n", g_glfw_error);
    glfwTerminate();
    return kExitInternal;
  }
  glfwMakeContextCurrent(window);
  glfwSwapInterval(headless ? 0 : 1);
  IMGUI_CHECKVERSION();
  ImGui::CreateContext();
  ImGui::GetIO().IniFilename = nullptr;  // no imgui.ini next to the user's files
  apply_style();
  ImGui_ImplGlfw_InitForOpenGL(window, true);
  ImGui_ImplOpenGL3_Init("#version 130");

  if (o.live) {
    app.runner = std::make_unique<LiveRunner>();
    app.runner->start(o.diff);
    if (headless) {
      app.runner->wait_idle();
      app.take_live_result();
    }
  }
  if (!o.select.empty() && app.inspector.has_report() && !app.inspector.select_tensor(o.select)) {
    app.fatal = fmt::format("--select {}: no pair has a tensor of that name", o.select);
    if (headless) {
      fmt::print(stderr, "qdrift-gui: {}\n", app.fatal);
      return kExitBadInput;  // the window is torn down by the process exit
    }
  }

  const int frames = headless ? std::max(o.frames, 3) : 0;
  std::vector<double> frame_ms, rerun_frame_ms;  // all frames; those drawn while a re-run was in flight
  bool rerun_started = false, rerun_done = false;
  int64_t first_divergence_before = -1;
  int exit_code = kExitOk;
  for (int f = 0; !glfwWindowShouldClose(window); ++f) {
    const auto t0 = std::chrono::steady_clock::now();
    const bool in_flight = app.runner && app.runner->busy();
    glfwPollEvents();
    app.take_live_result();
    if (rerun_started && !rerun_done && !app.runner->busy()) rerun_done = true;
    int w = 0, h = 0;
    glfwGetFramebufferSize(window, &w, &h);
    ImGui_ImplOpenGL3_NewFrame();
    ImGui_ImplGlfw_NewFrame();
    ImGui::NewFrame();
    app.frame(w, h);
    ImGui::Render();
    glViewport(0, 0, w, h);
    glClearColor(0.10f, 0.105f, 0.12f, 1.f);  // the style's WindowBg
    glClear(GL_COLOR_BUFFER_BIT);
    ImGui_ImplOpenGL3_RenderDrawData(ImGui::GetDrawData());
    if (headless) glFinish();  // a frame's time includes its rendering
    frame_ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    if (in_flight) rerun_frame_ms.push_back(frame_ms.back());

    if (app.vs.capture_png) {
      app.vs.capture_png = false;
      const Status s = write_png(app.vs.export_png_path, w, h);
      app.vs.message = s.is_ok() ? fmt::format("wrote {}", app.vs.export_png_path) : s.message();
    }
    if (headless) {
      // Scripted re-run: after the first frame, as if the policy panel had changed.
      if (f == 0 && app.runner && (!o.then_policy.empty() || !o.then_sets.empty())) {
        cli::DiffOptions next = app.vs.live_options;
        if (!o.then_policy.empty()) next.policy = o.then_policy, next.policy_sets.clear();
        for (const std::string& s : o.then_sets) next.policy_sets.push_back(s);
        app.vs.live_options = next;
        first_divergence_before = app.inspector.has_report() ? app.inspector.report().first_divergence : -1;
        app.runner->start(next);
        rerun_started = true;
      }
      const bool waiting = rerun_started && !rerun_done;
      if (f + 1 >= frames && !waiting) {
        // One more frame after a re-run's result arrived so the screenshot shows it.
        if (const Status s = write_png(o.screenshot, w, h); !s.is_ok()) {
          fmt::print(stderr, "qdrift-gui: {}\n", s.message());
          exit_code = kExitBadInput;
        }
        break;
      }
    }
    glfwSwapBuffers(window);
  }
  if (headless) {
    fmt::print("frame_ms max={:.2f} median={:.2f} frames={}\n", *std::max_element(frame_ms.begin(), frame_ms.end()),
               median(frame_ms), frame_ms.size());
    if (!rerun_frame_ms.empty())
      fmt::print("rerun_frame_ms max={:.2f} median={:.2f} frames={}\n",
                 *std::max_element(rerun_frame_ms.begin(), rerun_frame_ms.end()), median(rerun_frame_ms), rerun_frame_ms.size());
    if (rerun_started && app.inspector.has_report())
      fmt::print("live: re-ran under {}{}: {} of {} pairs changed, first divergence {} -> {}\n", app.vs.live_options.policy,
                 app.vs.live_options.policy_sets.empty() ? "" : " " + fmt::format("{}", fmt::join(app.vs.live_options.policy_sets, ",")),
                 app.inspector.changed_count(), app.inspector.report().pairs.size(), first_divergence_before,
                 app.inspector.report().first_divergence);
    if (app.has_error() && exit_code == kExitOk) {
      fmt::print(stderr, "qdrift-gui: {}\n", app.error_text());
      exit_code = kExitBadInput;
    }
  }
  app.runner.reset();  // joins the worker before the context goes
  for (PlaneTexture& t : app.vs.textures)
    if (t.id) glDeleteTextures(1, &t.id);
  ImGui_ImplOpenGL3_Shutdown();
  ImGui_ImplGlfw_Shutdown();
  ImGui::DestroyContext();
  glfwDestroyWindow(window);
  glfwTerminate();
  return exit_code;
}

}  // namespace qdrift::gui
