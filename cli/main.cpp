// qdrift: entry point. Everything lives in qdrift_cli; main only maps outcomes to exit codes.
#include "cli/commands.h"
#include "core/executor.h"

int main(int argc, char** argv) {
  qdrift::keep_freed_memory_for_reuse();
  return qdrift::cli::main(argc, argv);
}
