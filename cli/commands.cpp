#include "cli/commands.h"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "core/onnx_loader.h"

namespace qdrift::cli {

int main(int argc, char** argv) {
  CLI::App app{"qdrift: numerical divergence debugger for quantized networks"};
  app.require_subcommand(1);
  std::string model;
  auto* run = app.add_subcommand("run", "run a model and report its tensors");
  run->add_option("model", model, "ONNX model")->required();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  auto g = load_onnx(model);
  if (!g) {
    fmt::print(stderr, "qdrift: {}\n", g.status().message());
    return exit_code(g.status());
  }
  fmt::print("{} nodes\n", g->nodes.size());
  return 0;
}

}  // namespace qdrift::cli
