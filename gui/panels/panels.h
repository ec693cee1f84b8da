// panels.h: one function per panel, each in its own file; they draw the Inspector's data
// and the ViewState, and change nothing but the selection, the query and the view state.
#pragma once

#include <cstdint>

#include "gui/model/inspector.h"
#include "gui/model/live_run.h"
#include "gui/view_state.h"

struct ImVec2;

namespace qdrift::gui {

void draw_toolbar(Inspector& in, ViewState& vs, const LiveRunner* runner);
void draw_table_panel(Inspector& in, ViewState& vs);
void draw_depth_panel(Inspector& in, ViewState& vs);
void draw_tensor_panel(Inspector& in, ViewState& vs);
void draw_mapping_panel(Inspector& in, ViewState& vs);
void draw_causes_panel(Inspector& in, ViewState& vs);
void draw_policy_panel(Inspector& in, ViewState& vs, const LiveRunner* runner);

// Heatmap textures: app.cpp owns OpenGL; panels hand it RGBA pixels.
void upload_texture(PlaneTexture& t, int width, int height, const unsigned char* rgba);

// Colours shared by the table, the plot and the tensor panel.
unsigned severity_colour(Severity s, bool strong);  // ImU32
}  // namespace qdrift::gui
