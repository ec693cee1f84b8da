// qdrift_process.h: running the real `qdrift` binary (QDRIFT_BINARY) from a test, in a
// temporary directory that is kept when the test fails.
//
//   TempDir dir("diff_cli");
//   Proc p = run_qdrift({"diff", model, "--input", x, "--json", dir.path("r.json")}, dir);
//   EXPECT_EQ(p.exit_code, 0) << p.err;
//   Report r = diff_report({model, "--input", x, "--against", "oracle"}, dir);   // read back
#pragma once

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "diff/report_json.h"

extern char** environ;

namespace qdrift::testing_util {

namespace fs = std::filesystem;

inline std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

inline void spit(const fs::path& p, const std::string& bytes) {
  std::ofstream f(p, std::ios::binary);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// A fresh directory under the system temp dir; removed at the end unless the test failed.
class TempDir {
 public:
  explicit TempDir(const std::string& tag) {
    std::string tmpl = (fs::temp_directory_path() / ("qdrift_" + tag + "_XXXXXX")).string();
    if (mkdtemp(tmpl.data()) == nullptr) ADD_FAILURE() << "mkdtemp failed";
    dir_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    if (!::testing::Test::HasFailure()) fs::remove_all(dir_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  const fs::path& root() const { return dir_; }

 private:
  fs::path dir_;
};

struct Proc {
  int exit_code = -1;  // -1: killed by a signal
  std::string out;
  std::string err;
};

// Runs `program` (a path, or a name looked up in PATH) with `args`; stdout and stderr go
// through files in `dir`.
inline Proc run_program(const std::string& program, const std::vector<std::string>& args, const TempDir& dir) {
  const std::string out = dir.path("stdout.txt"), err = dir.path("stderr.txt");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  std::vector<std::string> all = {program};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  Proc p;
  const int rc = posix_spawnp(&pid, program.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    ADD_FAILURE() << "cannot start " << program << ": " << std::strerror(rc);
    return p;
  }
  int status = 0;
  waitpid(pid, &status, 0);
  if (WIFEXITED(status)) p.exit_code = WEXITSTATUS(status);
  p.out = slurp(out);
  p.err = slurp(err);
  return p;
}

// Runs QDRIFT_BINARY with `args`.
inline Proc run_qdrift(const std::vector<std::string>& args, const TempDir& dir) {
  return run_program(QDRIFT_BINARY, args, dir);
}

// `qdrift diff ARGS --json DIR/report.json`, expecting exit 0; the report read back.
inline Report diff_report(const std::vector<std::string>& args, const TempDir& dir) {
  std::vector<std::string> all = {"diff"};
  all.insert(all.end(), args.begin(), args.end());
  all.insert(all.end(), {"--json", dir.path("report.json")});
  const Proc p = run_qdrift(all, dir);
  EXPECT_EQ(p.exit_code, 0) << p.err;
  auto r = read_report_json(dir.path("report.json"), Limits{});
  EXPECT_TRUE(r) << r.status().message();
  return r ? *r : Report{};
}

}  // namespace qdrift::testing_util
