// onnx_loader.h: ONNX model file -> Graph.
//
//   Result<Graph> g = load_onnx("model.onnx");
//   if (!g) { fmt::print(stderr, "{}\n", g.status().message()); return exit_code(g.status()); }
//
// Uses libonnx's protobuf classes, model checker and shape inference; adds the checks a
// hostile file could slip past them (sizes against bytes, caps, cycles, dangling inputs).
// Ops qdrift has no OpKind for still load (OpKind::Unknown): executors report them.
#pragma once

#include <string>

#include "core/graph.h"
#include "core/limits.h"

namespace qdrift {

struct LoadOptions {
  Limits limits;
  bool run_checker = true;          // onnx::checker::check_model
  bool run_shape_inference = true;  // onnx::shape_inference::InferShapes
};

// Every error message starts with the file path.
Result<Graph> load_onnx(const std::string& path, const LoadOptions& options = {});
// Same, from bytes in memory (fuzzing, tests); `label` stands in for the path in messages.
Result<Graph> load_onnx_bytes(const std::string& bytes, const std::string& label,
                              const LoadOptions& options = {});

// Reads a whole file with a size cap; the message names the path and the OS error.
Result<std::string> read_file_bytes(const std::string& path, int64_t max_bytes);

// Lowest and highest default-domain opsets qdrift accepts (libonnx 1.12 knows up to 17).
inline constexpr int64_t kMinOpset = 1;
inline constexpr int64_t kMaxOpset = 17;

}  // namespace qdrift
