#include "cli/commands.h"

#include <unistd.h>

#include <csignal>
#include <cstring>
#include <exception>
#include <new>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "cli/diff_command.h"
#include "cli/explain_command.h"
#include "cli/gate_command.h"
#include "cli/run_command.h"

namespace qdrift::cli {

namespace {

// QD_ASSERT (a broken invariant, i.e. our bug) prints its location and aborts; this turns
// the abort into the documented exit code instead of a core dump.
extern "C" void on_abort(int) {
  static const char kMessage[] = "qdrift: internal error: aborted (a bug in qdrift; please report it with the command)\n";
  ssize_t ignored = ::write(STDERR_FILENO, kMessage, sizeof kMessage - 1);
  (void)ignored;
  ::_exit(kExitInternal);
}

// CLI11's message, one "qdrift:" line plus where to find the usage.
std::string usage_failure(const CLI::App* app, const CLI::Error& e) {
  std::string name = app->get_name();
  for (const CLI::App* sub : app->get_subcommands()) name += " " + sub->get_name();
  return fmt::format("qdrift: {}\nRun '{} --help' for usage.\n", e.what(), name.empty() ? "qdrift" : name);
}

int dispatch(int argc, char** argv) {
  CLI::App app{"qdrift: numerical divergence debugger for quantized neural networks.\n"
               "Runs a quantized model and reports, tensor by tensor, where its numbers go.",
               "qdrift"};
  app.require_subcommand(1);
  app.failure_message(usage_failure);
  app.footer("Exit codes: 0 ok, 1 gate failed, 2 bad usage or input, 3 internal error.\n"
             "Run 'qdrift <command> --help' for the options of a command.");
  RunOptions run_options;
  CLI::App* run = add_run_command(app, run_options);
  GateOptions gate_options;
  CLI::App* gate = add_gate_command(app, gate_options);
  DiffOptions diff_options;
  CLI::App* diff = add_diff_command(app, diff_options);
  ExplainOptions explain_options;
  CLI::App* explain = add_explain_command(app, explain_options);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? kExitOk : kExitBadInput;  // --help exits 0, usage errors 2
  }

  Status status;
  int gate_exit = kExitOk;  // kExitGateFailed when the gate ran and failed
  if (run->parsed()) status = run_command(run_options);
  if (gate->parsed()) status = gate_command(gate_options, &gate_exit);
  if (diff->parsed()) status = diff_command(diff_options);
  if (explain->parsed()) status = explain_command(explain_options);
  std::fflush(stdout);
  if (!status.is_ok()) {
    fmt::print(stderr, "qdrift: {}\n", status.message());
    return exit_code(status);
  }
  return gate_exit;
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGABRT, on_abort);
  try {
    return dispatch(argc, argv);
  } catch (const std::bad_alloc&) {
    fmt::print(stderr, "qdrift: internal error: out of memory\n");
  } catch (const std::exception& e) {
    std::string what = e.what();
    for (char& c : what)
      if (c == '\n') c = ' ';
    fmt::print(stderr, "qdrift: internal error: {}\n", what);
  } catch (...) {
    fmt::print(stderr, "qdrift: internal error: unknown exception\n");
  }
  return kExitInternal;
}

}  // namespace qdrift::cli
