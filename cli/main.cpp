// qdrift: entry point. Everything lives in qdrift_cli; main only maps outcomes to exit codes.
#include "cli/commands.h"

int main(int argc, char** argv) { return qdrift::cli::main(argc, argv); }
