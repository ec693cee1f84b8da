// conformance_runner: ONNX's own backend node tests, run through the real `qdrift run`.
//
//   conformance_runner                       # every selected test, two at a time
//   conformance_runner --filter gemm -v      # a subset, printing passes and expected failures too
//   conformance_runner --list -v             # the selection (and, with -v, what is left out and why)
//
// Selection: a node test is in when every op of its model.onnx (subgraphs included) maps
// to an OpKind that ref_kernel_table() has a kernel for. It is decided from op names
// alone, not from whether qdrift loads the file, so e.g. Cast-to-double is in and has to
// be listed in exclusions.txt with a reason. Each test_data_set_* runs as
//   qdrift run model.onnx --input input_0.pb ... --save-outputs TMPDIR
// and TMPDIR/output_<i>.pb is compared with the test's output_<i>.pb (proto_compare.h).
// An excluded test still runs and must fail; if it passes, the runner fails and says to
// remove it from the list. Exit code 0 only when nothing failed.
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstring>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <onnx/onnx_pb.h>

#include "core/op_kind.h"
#include "kernels/ref/ref_kernels.h"
#include "tests/conformance/proto_compare.h"

extern char** environ;

namespace qdrift::conformance {
namespace {

namespace fs = std::filesystem;

struct Options {
  fs::path data_dir = QDRIFT_ONNX_NODE_TESTS;
  fs::path qdrift = QDRIFT_BINARY;
  fs::path exclusions = QDRIFT_CONFORMANCE_EXCLUSIONS;
  std::string filter;        // regex searched in the test name
  std::string executor = "ref";  // passed to qdrift run --executor
  int jobs = 2;
  double timeout_s = 120;    // per qdrift run
  bool verbose = false;
  bool list = false;
  bool keep = false;         // keep the temporary output directories
};

// ---- selection --------------------------------------------------------------------------

using OpName = std::pair<std::string, std::string>;  // (domain, op_type)

void collect_ops(const onnx::GraphProto& g, std::set<OpName>& ops) {
  for (const auto& n : g.node()) {
    ops.emplace(n.domain() == "ai.onnx" ? "" : n.domain(), n.op_type());
    for (const auto& a : n.attribute()) {
      if (a.has_g()) collect_ops(a.g(), ops);
      for (const auto& sub : a.graphs()) collect_ops(sub, ops);
    }
  }
}

Result<std::set<OpName>> model_ops(const fs::path& model) {
  std::ifstream f(model, std::ios::binary);
  onnx::ModelProto proto;
  if (!f || !proto.ParseFromIstream(&f)) return invalid_input("{}: cannot parse as an ONNX model", model.string());
  std::set<OpName> ops;
  collect_ops(proto.graph(), ops);
  return ops;
}

bool has_ref_kernel(const OpName& op) {
  const OpKind k = op_kind_from_onnx(op.first, op.second);
  return k != OpKind::Unknown && ref_kernel_table().factories[static_cast<size_t>(k)] != nullptr;
}

std::string op_label(const OpName& op) { return op.first.empty() ? op.second : op.first + "." + op.second; }

struct Exclusion {
  std::string reason;
  int line = 0;
};

// One test per line: "<test name> <reason>"; '#' starts a comment line.
Result<std::map<std::string, Exclusion>> read_exclusions(const fs::path& path) {
  std::ifstream f(path);
  if (!f) return invalid_input("{}: cannot open the exclusions file", path.string());
  std::map<std::string, Exclusion> out;
  std::string line;
  for (int no = 1; std::getline(f, line); ++no) {
    const size_t start = line.find_first_not_of(" \t");
    if (start == std::string::npos || line[start] == '#') continue;
    const size_t name_end = line.find_first_of(" \t", start);
    const std::string name = line.substr(start, name_end - start);
    const size_t reason_start = name_end == std::string::npos ? name_end : line.find_first_not_of(" \t", name_end);
    if (reason_start == std::string::npos)
      return invalid_input("{}:{}: '{}' has no reason: write why it cannot pass on the same line", path.string(), no,
                           name);
    if (out.count(name)) return invalid_input("{}:{}: '{}' is listed twice", path.string(), no, name);
    out[name] = {line.substr(reason_start), no};
  }
  return out;
}

// ---- running one data set --------------------------------------------------------------

// Files "<prefix><i>.pb" for i = 0, 1, ... in index order; an error when the indices have gaps.
Result<std::vector<fs::path>> numbered_files(const fs::path& dir, const std::string& prefix) {
  std::map<int, fs::path> found;
  const std::regex re(prefix + "([0-9]+)\\.pb");
  for (const auto& e : fs::directory_iterator(dir)) {
    std::smatch m;
    const std::string name = e.path().filename().string();
    if (std::regex_match(name, m, re)) found[std::stoi(m[1].str())] = e.path();
  }
  std::vector<fs::path> out;
  for (const auto& [i, p] : found) {
    if (i != static_cast<int>(out.size()))
      return invalid_input("{}: {}{}.pb is missing", dir.string(), prefix, out.size());
    out.push_back(p);
  }
  return out;
}

struct ProcessResult {
  int exit_code = -1;     // -1 when killed by a signal or the timeout
  bool timed_out = false;
  std::string log_tail;   // last line qdrift printed on stdout/stderr
};

std::string last_line(const fs::path& log) {
  std::ifstream f(log);
  std::string line, last;
  while (std::getline(f, line))
    if (line.find_first_not_of(" \t\r") != std::string::npos) last = line;
  return last;
}

// Runs argv with stdout and stderr into `log`, stdin from /dev/null. Each child gets one
// OpenMP thread: the runner already runs `jobs` of them side by side on a small machine.
Result<ProcessResult> run_process(const std::vector<std::string>& args, const fs::path& log, double timeout_s) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<std::string> env_store;
  for (char** e = environ; *e; ++e)
    if (std::string_view(*e).substr(0, 16) != "OMP_NUM_THREADS=") env_store.emplace_back(*e);
  env_store.emplace_back("OMP_NUM_THREADS=1");
  std::vector<char*> envp;
  for (auto& e : env_store) envp.push_back(e.data());
  envp.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return internal_error("cannot start {}: {}", args[0], std::strerror(rc));

  // Poll with a growing sleep: node tests finish in milliseconds, a hang is killed.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  auto nap = std::chrono::microseconds(200);
  ProcessResult out;
  int status = 0;
  for (;;) {
    const pid_t w = waitpid(pid, &status, WNOHANG);
    if (w == pid) break;
    if (w < 0) return internal_error("waitpid: {}", std::strerror(errno));
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      out.timed_out = true;
      break;
    }
    std::this_thread::sleep_for(nap);
    nap = std::min(nap * 2, std::chrono::microseconds(10000));
  }
  if (!out.timed_out && WIFEXITED(status)) out.exit_code = WEXITSTATUS(status);
  if (!out.timed_out && WIFSIGNALED(status)) out.log_tail = fmt::format("killed by signal {}: ", WTERMSIG(status));
  out.log_tail += last_line(log);
  return out;
}

// Empty when qdrift's outputs for this data set match; otherwise the reason.
std::string run_data_set(const Options& opt, const fs::path& test_dir, const fs::path& data_set, const fs::path& work) {
  auto inputs = numbered_files(data_set, "input_");
  if (!inputs) return inputs.status().message();
  auto expected = numbered_files(data_set, "output_");
  if (!expected) return expected.status().message();
  const fs::path out_dir = work / "outputs";
  fs::create_directories(out_dir);

  std::vector<std::string> args = {opt.qdrift.string(), "run", (test_dir / "model.onnx").string()};
  for (const auto& in : *inputs) {
    args.push_back("--input");
    args.push_back(in.string());
  }
  args.push_back("--save-outputs");
  args.push_back(out_dir.string());
  args.push_back("--executor");
  args.push_back(opt.executor);
  auto proc = run_process(args, work / "qdrift.log", opt.timeout_s);
  if (!proc) return proc.status().message();
  if (proc->timed_out) return fmt::format("qdrift run did not finish within {} s", opt.timeout_s);
  if (proc->exit_code != 0) return fmt::format("qdrift run exited with {}: {}", proc->exit_code, proc->log_tail);

  auto written = numbered_files(out_dir, "output_");
  if (!written) return written.status().message();
  if (written->size() != expected->size())
    return fmt::format("qdrift wrote {} outputs, the test expects {}", written->size(), expected->size());
  for (size_t i = 0; i < expected->size(); ++i) {
    auto want = read_proto_values((*expected)[i].string());
    if (!want) return want.status().message();
    auto got = read_proto_values((*written)[i].string());
    if (!got) return fmt::format("output_{}: {}", i, got.status().message());
    const std::string diff = compare_values(*got, *want);
    if (!diff.empty()) return fmt::format("output_{}: {}", i, diff);
  }
  return {};
}

// ---- the whole run ---------------------------------------------------------------------

struct TestCase {
  std::string name;
  fs::path dir;
  std::optional<Exclusion> exclusion;
  std::string failure;  // "" = every data set passed; else "<data set>: reason"
};

void run_test(const Options& opt, const fs::path& work_root, TestCase& t) {
  std::vector<fs::path> sets;
  for (const auto& e : fs::directory_iterator(t.dir))
    if (e.is_directory() && e.path().filename().string().starts_with("test_data_set_")) sets.push_back(e.path());
  std::sort(sets.begin(), sets.end());
  if (sets.empty()) {
    t.failure = "no test_data_set_* directory";
    return;
  }
  for (const auto& set : sets) {
    const fs::path work = work_root / t.name / set.filename();
    fs::create_directories(work);
    const std::string why = run_data_set(opt, t.dir, set, work);
    if (!why.empty()) {
      t.failure = set.filename().string() + ": " + why;
      return;
    }
  }
}

int run(const Options& opt) {
  if (!fs::is_directory(opt.data_dir)) {
    fmt::print(stderr, "conformance: ONNX node tests not found at {} (Debian package libonnx-testdata)\n",
               opt.data_dir.string());
    return 2;
  }
  if (!opt.list && access(opt.qdrift.c_str(), X_OK) != 0) {
    fmt::print(stderr, "conformance: qdrift binary {} is not executable (build the qdrift target)\n",
               opt.qdrift.string());
    return 2;
  }
  auto exclusions = read_exclusions(opt.exclusions);
  if (!exclusions) {
    fmt::print(stderr, "conformance: {}\n", exclusions.status().message());
    return 2;
  }
  std::optional<std::regex> filter;
  if (!opt.filter.empty()) filter.emplace(opt.filter);

  // Select from op names; remember every exclusion that names a selected test.
  std::vector<TestCase> tests;
  std::set<std::string> selected_names;
  size_t total = 0;
  std::vector<fs::path> dirs;
  for (const auto& e : fs::directory_iterator(opt.data_dir))
    if (e.is_directory() && fs::exists(e.path() / "model.onnx")) dirs.push_back(e.path());
  std::sort(dirs.begin(), dirs.end());
  for (const auto& dir : dirs) {
    ++total;
    const std::string name = dir.filename().string();
    auto ops = model_ops(dir / "model.onnx");
    if (!ops) {
      fmt::print(stderr, "conformance: skipping {}: {}\n", name, ops.status().message());
      continue;
    }
    std::vector<std::string> missing;
    for (const auto& op : *ops)
      if (!has_ref_kernel(op)) missing.push_back(op_label(op));
    if (ops->empty() || !missing.empty()) {
      if (opt.list && opt.verbose && (!filter || std::regex_search(name, *filter)))
        fmt::print("  out  {}  (no ref kernel: {})\n", name, fmt::join(missing, ", "));
      continue;
    }
    selected_names.insert(name);
    if (filter && !std::regex_search(name, *filter)) continue;
    TestCase t{name, dir, std::nullopt, {}};
    if (auto it = exclusions->find(name); it != exclusions->end()) t.exclusion = it->second;
    tests.push_back(std::move(t));
  }
  fmt::print("conformance: {} of {} ONNX node tests use only ops with a reference kernel{}\n", selected_names.size(),
             total, filter ? fmt::format(" ({} match --filter '{}')", tests.size(), opt.filter) : "");
  if (opt.list) {
    for (const auto& t : tests)
      fmt::print("  {}  {}{}\n", t.exclusion ? "excl" : "in  ", t.name,
                 t.exclusion ? "  (" + t.exclusion->reason + ")" : "");
    return 0;
  }

  // A scratch directory per run; each data set writes into its own subfolder.
  std::string tmpl = (fs::temp_directory_path() / "qdrift-conformance-XXXXXX").string();
  if (!mkdtemp(tmpl.data())) {
    fmt::print(stderr, "conformance: cannot create a temporary directory: {}\n", std::strerror(errno));
    return 3;
  }
  const fs::path work_root = tmpl;

  const auto start = std::chrono::steady_clock::now();
  std::atomic<size_t> next{0};
  {
    std::vector<std::jthread> pool;
    for (int j = 0; j < std::max(1, opt.jobs); ++j)
      pool.emplace_back([&] {
        for (size_t i; (i = next.fetch_add(1)) < tests.size();) run_test(opt, work_root, tests[i]);
      });
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  size_t passed = 0, failed = 0, excluded = 0;
  for (const auto& t : tests) {
    if (t.exclusion) {
      if (t.failure.empty()) {
        ++failed;
        fmt::print("FAIL {}: passes, but exclusions.txt line {} lists it: remove it from the list\n", t.name,
                   t.exclusion->line);
      } else {
        ++excluded;
        if (opt.verbose) fmt::print("xfail {}: {}  [listed: {}]\n", t.name, t.failure, t.exclusion->reason);
      }
    } else if (t.failure.empty()) {
      ++passed;
      if (opt.verbose) fmt::print("ok   {}\n", t.name);
    } else {
      ++failed;
      fmt::print("FAIL {}/{}\n", t.name, t.failure);
    }
  }
  // Exclusions must name selected tests: a stale entry would hide nothing, but lie.
  if (!filter)
    for (const auto& [name, ex] : *exclusions)
      if (!selected_names.count(name)) {
        ++failed;
        fmt::print("FAIL {}: exclusions.txt line {} lists it, but it is not a selected node test: remove it\n", name,
                   ex.line);
      }

  if (opt.keep)
    fmt::print("conformance: outputs kept in {}\n", work_root.string());
  else
    fs::remove_all(work_root);
  fmt::print("conformance: {} test(s) in {:.1f} s with {} job(s)\n", tests.size(), seconds, opt.jobs);
  fmt::print("conformance: {} passed, {} failed, {} excluded\n", passed, failed, excluded);
  fmt::print("{} passed, {} failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}

}  // namespace
}  // namespace qdrift::conformance

int main(int argc, char** argv) {
  qdrift::conformance::Options opt;
  CLI::App app{"Runs ONNX backend node tests through `qdrift run` and compares the outputs"};
  app.add_option("--data", opt.data_dir, "folder of ONNX node tests")->capture_default_str();
  app.add_option("--qdrift", opt.qdrift, "qdrift binary to run")->capture_default_str();
  app.add_option("--exclusions", opt.exclusions, "exclusions file")->capture_default_str();
  app.add_option("--filter", opt.filter, "run only tests whose name matches this regex");
  app.add_option("--executor", opt.executor, "executor qdrift run uses: ref, fp32, int8 or oracle")
      ->check(CLI::IsMember({"ref", "fp32", "int8", "oracle"}))
      ->capture_default_str();
  app.add_option("-j,--jobs", opt.jobs, "tests run in parallel")->capture_default_str();
  app.add_option("--timeout", opt.timeout_s, "seconds allowed per qdrift run")->capture_default_str();
  app.add_flag("-v,--verbose", opt.verbose, "also print passes and expected failures");
  app.add_flag("--list", opt.list, "print the selection and exit (with -v, also the tests left out)");
  app.add_flag("--keep", opt.keep, "keep qdrift's outputs and logs in the temporary directory");
  CLI11_PARSE(app, argc, argv);
  try {
    return qdrift::conformance::run(opt);
  } catch (const std::exception& e) {  // filesystem or regex errors: report, never crash silently
    fmt::print(stderr, "conformance: {}\n", e.what());
    return 3;
  }
}
