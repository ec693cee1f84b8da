// commands.h: the qdrift command line (run, and later diff, eval, gate, explain).
#pragma once

namespace qdrift::cli {

// Parses argv, runs the command, returns the process exit code (0 ok, 1 gate failed,
// 2 bad usage or input, 3 internal error).
int main(int argc, char** argv);

}  // namespace qdrift::cli
