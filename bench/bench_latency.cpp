// bench_latency: latency of qdrift's executors on a MobileNetV2-224 or ResNet-50-224 QDQ
// model, as ratios measured in one run (docs/benchmarks.md). Not a test: never registered
// with ctest.
//
//   bench_latency --suite --check-impl     # both models at 1 and 2 threads: int8/ORT, reorders per run
//   bench_latency --model resnet50         # one model (default mobilenet_v2), all executors
//   bench_latency                          # ref, fp32, int8 (oneDNN) and ONNX Runtime if installed
//   bench_latency --threads 1 --runs 50    # int8 and ORT runs; --slow-runs for ref/fp32/oracle
//   bench_latency --oracle --profile       # + the integer oracle; + per-node time of the int8 run
//   bench_latency --check-impl             # one int8 inference under ONEDNN_VERBOSE=1: exit 1 on 'ref' impls
//
// What happens: the model is built with ONNX's protobuf classes (bench/mobilenet_v2_qdq.h,
// bench/resnet50_qdq.h, fixed seed), first as a float model that the reference executor runs on the sample input
// to calibrate every activation's range, then as the QDQ model ONNX Runtime's quantizer
// writes. That file is loaded with load_onnx (the real loader) and timed four ways:
//   ref     the QDQ graph on the reference table (fp32 + fake quantization)
//   fp32    strip_qdq(graph) on the reference table (the float baseline)
//   int8    lower(graph, policy onnx) on the oneDNN table (the real int8 runtime)
//   oracle  the same lowered graph on the integer oracle (with --oracle; slow)
//   ort     ONNX Runtime (onnxruntime-node, all graph optimizations) on the same file and
//           input, through bench/ort/time_ort.js, when bench/ort/install.sh has been run
// Loading, kernel creation and the first run are excluded; then N runs each: median, p90
// and min, with ratios against ref and fp32 of the same process.
//
// Exit codes: 0 ok, 1 --check-impl found a reference implementation (or could not check),
// 2 bad usage, 3 internal error (an executor failed).
#include <omp.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "bench/bench_util.h"
#include "bench/mobilenet_v2_qdq.h"
#include "bench/resnet50_qdq.h"
#include "core/executor.h"
#include "core/int8_policy.h"
#include "core/lower.h"
#include "core/onnx_loader.h"
#include "core/passes.h"
#include "core/tensor_io.h"
#include "kernels/int/int_kernels.h"
#include "kernels/onednn/onednn_kernels.h"
#include "kernels/ref/ref_kernels.h"

#ifndef QDRIFT_SOURCE_DIR
#define QDRIFT_SOURCE_DIR "."
#endif

namespace {

using namespace qdrift;
namespace fs = std::filesystem;
using bench::Clock;
using bench::ms_between;
using bench::process_cpu_ms;

struct Options {
  int runs = 20;       // int8 and ORT, per round
  int rounds = 1;      // int8 and ORT alternate this many times
  int slow_runs = 3;   // ref, fp32, oracle
  int threads = 0;     // 0: omp_get_max_threads()
  uint32_t seed = 1;
  bool oracle = false;
  bool ort = true;
  bool profile = false;
  bool check_impl = false;
  bool keep = false;
  std::string node = "node";
  std::string ort_script = std::string(QDRIFT_SOURCE_DIR) + "/bench/ort/time_ort.js";
  std::string impl_child;  // hidden: the --check-impl child's model path
  std::string model = "mobilenet_v2";  // mobilenet_v2 | resnet50
  bool suite = false;                  // both models at 1 and 2 threads: int8/ORT and reorders per run
};

std::string repro_line(const char* argv0, const Options& o) {
  // OMP_WAIT_POLICY changes the int8 numbers a lot on a busy machine (docs/benchmarks.md).
  const char* wait_policy = std::getenv("OMP_WAIT_POLICY");
  std::string s = wait_policy ? fmt::format("OMP_WAIT_POLICY={} ", wait_policy) : std::string();
  s += fmt::format("{} --threads {} --runs {} --slow-runs {} --seed {}", argv0, o.threads, o.runs, o.slow_runs, o.seed);
  if (o.rounds > 1) s += fmt::format(" --rounds {}", o.rounds);
  if (o.oracle) s += " --oracle";
  if (!o.ort) s += " --no-ort";
  if (o.profile) s += " --profile";
  if (o.model != "mobilenet_v2") s += " --model " + o.model;
  if (o.suite) s += " --suite";
  return s;
}

// ---- statistics -----------------------------------------------------------------------------

struct Stats {
  double median_ms = 0, p90_ms = 0, min_ms = 0;
  size_t runs = 0;
};

Stats stats_of(std::vector<double> v) {
  Stats s;
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  s.runs = n;
  s.median_ms = n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
  s.p90_ms = v[static_cast<size_t>(std::ceil(0.9 * static_cast<double>(n))) - 1];  // nearest rank
  s.min_ms = v.front();
  return s;
}

// Median and min of each column (rows = runs, columns = nodes).
struct ColumnStats {
  std::vector<double> median, min;
};
ColumnStats column_stats(const std::vector<std::vector<double>>& rows) {
  ColumnStats out;
  if (rows.empty()) return out;
  for (size_t c = 0; c < rows[0].size(); ++c) {
    std::vector<double> col;
    for (const auto& r : rows) col.push_back(r[c]);
    const Stats s = stats_of(col);
    out.median.push_back(s.median_ms);
    out.min.push_back(s.min_ms);
  }
  return out;
}

double load_average() {
  std::ifstream f("/proc/loadavg");
  double l = -1;
  f >> l;
  return l;
}

// ---- timing one executor --------------------------------------------------------------------

struct Timed {
  std::string label;
  double create_ms = 0, first_ms = 0;
  Stats stats;
  Stats cpu;  // process CPU time per run
  Tensor output;
  std::vector<std::string> notes;  // ExecOptions::log lines of kernel creation
};

// Creates the executor, runs it once untimed, then `rounds` x `runs` timed runs; between
// rounds `after_round(round)` runs (the ONNX Runtime rounds, so both meet the same load).
Result<Timed> time_executor(const std::string& label, const Graph& g, const KernelTable& table, const Tensor& input,
                            int runs, int rounds = 1, const std::function<Status(int)>& after_round = {}) {
  Timed t;
  t.label = label;
  ExecOptions options;
  options.log = [&t](std::string_view note) { t.notes.emplace_back(note); };
  auto t0 = Clock::now();
  auto ex = Executor::create(g, table, options);
  if (!ex) return ex.status().with_context(label);
  t.create_ms = ms_between(t0, Clock::now());
  const std::vector<Tensor> inputs = {input};
  t0 = Clock::now();
  auto first = ex->run(inputs);
  if (!first) return first.status().with_context(label);
  t.first_ms = ms_between(t0, Clock::now());
  t.output = (*first)[0];
  std::vector<double> ms, cpu;
  for (int round = 0; round < rounds; ++round) {
    for (int i = 0; i < runs; ++i) {
      const double c0 = process_cpu_ms();
      t0 = Clock::now();
      auto out = ex->run(inputs);
      const auto t1 = Clock::now();
      cpu.push_back(process_cpu_ms() - c0);
      if (!out) return out.status().with_context(label);
      ms.push_back(ms_between(t0, t1));
    }
    if (after_round) QD_RETURN_IF_ERROR(after_round(round));
  }
  t.stats = stats_of(ms);
  t.cpu = stats_of(cpu);
  return t;
}

std::string stats_line(const std::string& label, const Stats& s) {
  return fmt::format("{:<26} median {:9.2f} ms  p90 {:9.2f} ms  min {:9.2f} ms  ({} runs)", label, s.median_ms,
                     s.p90_ms, s.min_ms, s.runs);
}

std::string ratio(double a, double b) {
  const double r = a / b;
  return r < 0.1 ? fmt::format("{:.4f}x", r) : fmt::format("{:.3f}x", r);
}

// ---- output agreement -----------------------------------------------------------------------

struct Agreement {
  double max_abs = 0;
  bool same_top1 = false;
};

Agreement compare(const float* a, const float* b, size_t n) {
  Agreement r;
  size_t ia = 0, ib = 0;
  for (size_t i = 0; i < n; ++i) {
    r.max_abs = std::max(r.max_abs, static_cast<double>(std::fabs(a[i] - b[i])));
    if (a[i] > a[ia]) ia = i;
    if (b[i] > b[ib]) ib = i;
  }
  r.same_top1 = ia == ib;
  return r;
}

// ---- model ----------------------------------------------------------------------------------

Status write_proto(const onnx::ModelProto& m, const std::string& path) {
  std::string bytes;
  if (!m.SerializeToString(&bytes)) return internal_error("cannot serialize the model");
  return write_file_bytes(path, bytes);
}

// Range of every f32 tensor of a float run (the calibration of the QDQ model).
Result<bench::Calibration> calibrate(const std::string& fp32_path, const Tensor& input) {
  QD_ASSIGN_OR_RETURN(Graph g, load_onnx(fp32_path));
  QD_ASSIGN_OR_RETURN(Executor ex, Executor::create(g, ref_kernel_table()));
  bench::Calibration cal;
  const std::vector<Tensor> inputs = {input};
  auto track = [&cal](const std::string& name, const Tensor& t) {
    if (t.dtype != DType::f32 || t.numel() == 0) return;
    const auto [lo, hi] = std::minmax_element(t.data<float>(), t.data<float>() + t.numel());
    cal[name] = {*lo, *hi};
  };
  track(bench::kInputName, input);
  auto out = ex.run(inputs, [&](const Node&, size_t, const Value& v, const Tensor& t) { track(v.name, t); });
  if (!out) return out.status();
  return cal;
}

struct Model {
  std::string qdq_path;
  std::string input_path;  // raw f32, for ONNX Runtime
  bench::ModelInfo info;
  bench::Calibration calibration;
  Tensor input;
};

Result<Model> make_model(const Options& o, const std::string& dir) {
  Model m;
  m.input = Tensor::from_vector<float>({1, 3, bench::kImageSize, bench::kImageSize}, bench::sample_input(o.seed));
  const bool resnet = o.model == "resnet50";
  auto build = [&](const bench::Calibration* cal, bench::ModelInfo* info) {
    return resnet ? bench::build_resnet50(o.seed, cal, info) : bench::build_mobilenet_v2(o.seed, cal, info);
  };
  const std::string fp32_path = dir + "/" + o.model + "_fp32.onnx";
  QD_RETURN_IF_ERROR(write_proto(build(nullptr, nullptr), fp32_path));
  QD_ASSIGN_OR_RETURN(m.calibration, calibrate(fp32_path, m.input));
  m.qdq_path = dir + "/" + o.model + "_qdq.onnx";
  QD_RETURN_IF_ERROR(write_proto(build(&m.calibration, &m.info), m.qdq_path));
  m.input_path = dir + "/input.f32";
  QD_RETURN_IF_ERROR(write_file_bytes(
      m.input_path, std::string_view(reinterpret_cast<const char*>(m.input.bytes.data()), m.input.nbytes())));
  return m;
}

std::string model_title(const std::string& model) {
  return model == "resnet50" ? "ResNet-50-224" : "MobileNetV2-224";
}

std::string kind_counts(const Graph& g) {
  std::map<std::string, int> counts;
  for (const Node& n : g.nodes) ++counts[n.op_type];
  std::vector<std::pair<int, std::string>> v;
  for (const auto& [k, c] : counts) v.emplace_back(-c, k);
  std::sort(v.begin(), v.end());
  std::string s;
  for (const auto& [c, k] : v) s += fmt::format("{}{} {}", s.empty() ? "" : ", ", k, -c);
  return s;
}

// ---- subprocesses ---------------------------------------------------------------------------

std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// Runs a shell command; returns its stdout+stderr and exit status.
std::pair<std::string, int> run_command(const std::string& cmd) {
  std::string out;
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return {"popen failed", -1};
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int status = pclose(p);
  return {out, WIFEXITED(status) ? WEXITSTATUS(status) : -1};
}

std::string self_exe(const char* argv0) {
  std::error_code ec;
  const fs::path p = fs::read_symlink("/proc/self/exe", ec);
  return ec ? std::string(argv0) : p.string();
}

// ---- ONNX Runtime ---------------------------------------------------------------------------

struct OrtResult {
  std::string version;
  std::vector<double> runs_ms, cpu_ms;  // every sample of every round
  Stats stats;
  Stats cpu;
  double first_ms = 0;
  std::vector<float> output;
  std::map<std::string, double> profile_ms;  // op type -> ms per run (with --profile)
  std::string optimized_ops;                 // op counts of ORT's optimized graph
};

Result<OrtResult> time_ort(const Options& o, const Model& m, const std::string& dir, int runs, bool profile) {
  const fs::path script(o.ort_script);
  if (!fs::exists(script)) return unsupported("{} not found", o.ort_script);
  if (!fs::exists(script.parent_path() / "node_modules" / "onnxruntime-node"))
    return unsupported("onnxruntime-node is not installed: run bash bench/ort/install.sh");
  const std::string out_path = dir + "/ort_output.f32";
  std::string cmd = fmt::format("{} {} --model {} --input {} --shape 1,3,{},{} --threads {} --runs {} --output {}",
                                shell_quote(o.node), shell_quote(o.ort_script), shell_quote(m.qdq_path),
                                shell_quote(m.input_path), bench::kImageSize, bench::kImageSize, o.threads, runs,
                                shell_quote(out_path));
  if (profile) cmd += " --profile " + shell_quote(dir + "/ort_profile");
  const auto [text, status] = run_command(cmd);
  // The result is the last line that parses as a JSON object.
  std::istringstream lines(text);
  std::string line, json_line;
  while (std::getline(lines, line))
    if (!line.empty() && line[0] == '{') json_line = line;
  if (status != 0 || json_line.empty())
    return internal_error("ONNX Runtime run failed (exit {}): {}", status, text.substr(0, 2000));
  OrtResult r;
  try {
    const auto j = nlohmann::json::parse(json_line);
    r.version = j.at("ort_version").get<std::string>();
    r.first_ms = j.at("first_ms").get<double>();
    r.runs_ms = j.at("runs_ms").get<std::vector<double>>();
    r.cpu_ms = j.at("cpu_ms").get<std::vector<double>>();
    r.stats = stats_of(r.runs_ms);
    r.cpu = stats_of(r.cpu_ms);
    if (j.contains("profile_ms"))
      for (const auto& [k, v] : j.at("profile_ms").items()) r.profile_ms[k] = v.get<double>();
    if (j.contains("optimized_ops")) r.optimized_ops = j.at("optimized_ops").get<std::string>();
  } catch (const std::exception& e) {
    return internal_error("cannot read ONNX Runtime's result '{}': {}", json_line, e.what());
  }
  std::ifstream f(out_path, std::ios::binary);
  r.output.resize(bench::kClasses);
  if (!f.read(reinterpret_cast<char*>(r.output.data()), static_cast<std::streamsize>(r.output.size() * sizeof(float))))
    return internal_error("cannot read ONNX Runtime's output {}", out_path);
  return r;
}

// ONNX Runtime's rounds, alternating with the int8 executor's (time_executor's after_round);
// the first failure (not installed, ...) skips the rest and says why.
struct OrtRounds {
  explicit OrtRounds(bool enabled) : skipped(enabled ? "" : "--no-ort") {}
  std::optional<OrtResult> result;  // every round's samples
  std::string skipped;              // why ORT was not timed ("" when it was)

  Status run(const Options& o, const Model& m, const std::string& dir, bool profile) {
    if (!skipped.empty()) return Status::ok();
    auto r = time_ort(o, m, dir, o.runs, profile);
    if (!r) {
      skipped = r.status().message();
      result.reset();
      return Status::ok();
    }
    if (!result) {
      result = std::move(*r);
      return Status::ok();
    }
    result->runs_ms.insert(result->runs_ms.end(), r->runs_ms.begin(), r->runs_ms.end());
    result->cpu_ms.insert(result->cpu_ms.end(), r->cpu_ms.begin(), r->cpu_ms.end());
    result->stats = stats_of(result->runs_ms);
    result->cpu = stats_of(result->cpu_ms);
    return Status::ok();
  }
};

// ---- per-node profile of the int8 run --------------------------------------------------------

// "QConv 1x1", "QConv dw 3x3", "QConv 3x3" or the op type.
std::string node_category(const Node& n) {
  if (n.kind != OpKind::QConv) return n.op_type;
  const auto k = n.attr_ints("kernel_shape");
  const std::string ks = k.size() == 2 ? fmt::format("{}x{}", k[0], k[1]) : "?";
  return n.attr_int("group", 1) > 1 ? "QConv dw " + ks : "QConv " + ks;
}

Status profile_int8(const Graph& g, const Tensor& input, int runs, const OrtResult* ort) {
  QD_ASSIGN_OR_RETURN(Executor ex, Executor::create(g, onednn_kernel_table()));
  const std::vector<Tensor> inputs = {input};
  std::vector<std::vector<double>> rows, cpu_rows;
  std::vector<double> walls;
  size_t output_bytes = 0;  // bytes of the tensors the nodes produce in one run
  for (int r = 0; r <= runs; ++r) {  // run 0 warms up
    std::vector<double> per_node(g.nodes.size(), 0.0), cpu_per_node(g.nodes.size(), 0.0);
    const Node* base = g.nodes.data();
    auto t0 = Clock::now();
    auto prev = t0;
    double prev_cpu = process_cpu_ms();
    output_bytes = 0;
    auto out = ex.run(inputs, [&](const Node& n, size_t, const Value&, const Tensor& t) {
      output_bytes += t.nbytes();
      const auto now = Clock::now();
      const double cpu = process_cpu_ms();
      per_node[static_cast<size_t>(&n - base)] += ms_between(prev, now);
      cpu_per_node[static_cast<size_t>(&n - base)] += cpu - prev_cpu;
      prev = now;
      prev_cpu = cpu;
    });
    if (!out) return out.status();
    if (r > 0) {
      rows.push_back(per_node);
      cpu_rows.push_back(cpu_per_node);
      walls.push_back(ms_between(t0, Clock::now()));
    }
  }
  const ColumnStats cs = column_stats(rows);
  const std::vector<double> cpu_med = column_stats(cpu_rows).median;
  const std::vector<double>& med = cs.median;
  double total_med = 0, total_min = 0, total_cpu = 0;
  struct Category {
    int nodes = 0;
    double median_ms = 0, min_ms = 0, cpu_ms = 0;
  };
  std::map<std::string, Category> by_cat;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    Category& c = by_cat[node_category(g.nodes[i])];
    ++c.nodes;
    c.median_ms += cs.median[i];
    c.min_ms += cs.min[i];
    c.cpu_ms += cpu_med[i];
    total_med += cs.median[i];
    total_min += cs.min[i];
    total_cpu += cpu_med[i];
  }
  std::vector<std::pair<double, std::string>> cats;
  for (const auto& [k, c] : by_cat) cats.emplace_back(c.min_ms, k);
  std::sort(cats.rbegin(), cats.rend());
  const Stats wall = stats_of(walls);
  fmt::print("\nint8 (onednn) per node over {} runs (executor observer; wall median {:.2f} ms, min {:.2f} ms).\n"
             "Each node's time includes its output allocation and the row-major copy of its channels-last\n"
             "output that the observer receives (a run without observer converts nothing). Sorted by the sum\n"
             "of per-node minima (least disturbed by other processes); 'cpu' is process CPU time (at --threads 1,\n"
             "the time without waits for a core):\n",
             runs, wall.median_ms, wall.min_ms);
  fmt::print("  {:<22} {:>5} {:>11} {:>6} {:>11} {:>6} {:>11} {:>6}\n", "op", "nodes", "median ms", "share", "min ms",
             "share", "cpu med ms", "share");
  for (const auto& [ms, k] : cats) {
    const Category& c = by_cat[k];
    fmt::print("  {:<22} {:>5} {:>11.3f} {:>5.1f}% {:>11.3f} {:>5.1f}% {:>11.3f} {:>5.1f}%\n", k, c.nodes, c.median_ms,
               100.0 * c.median_ms / total_med, c.min_ms, 100.0 * c.min_ms / total_min, c.cpu_ms,
               100.0 * c.cpu_ms / total_cpu);
  }
  fmt::print("  {:<22} {:>5} {:>11.3f} {:>6} {:>11.3f} {:>6} {:>11.3f}\n", "sum", g.nodes.size(), total_med, "",
             total_min, "", total_cpu);
  fmt::print("  the nodes' outputs: {:.1f} MB per run, each allocated (int8 kernels: not zero-filled) and freed by the executor\n",
             static_cast<double>(output_bytes) / 1e6);
  std::vector<size_t> order(g.nodes.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return cs.min[a] > cs.min[b]; });
  fmt::print("  slowest nodes (by min; median in brackets):\n");
  for (size_t i = 0; i < std::min<size_t>(12, order.size()); ++i) {
    const Node& n = g.nodes[order[i]];
    const Value& x = g.value(n.inputs[0]);
    const Value& y = g.value(n.outputs[0]);
    fmt::print("    {:7.3f} ms ({:7.3f})  {:<14} {:<24} {} {} -> {} {}\n", cs.min[order[i]], med[order[i]],
               node_category(n), n.name, dtype_name(x.dtype), shape_str(x.shape), dtype_name(y.dtype),
               shape_str(y.shape));
  }
  if (ort && !ort->profile_ms.empty()) {
    double ort_total = 0;
    std::vector<std::pair<double, std::string>> ops;
    for (const auto& [k, v] : ort->profile_ms) {
      ops.emplace_back(v, k);
      ort_total += v;
    }
    std::sort(ops.rbegin(), ops.rend());
    fmt::print("\nONNX Runtime per op type (its profiler, ms per run; sum {:.2f} ms):\n", ort_total);
    for (const auto& [ms, k] : ops) fmt::print("  {:<34} {:9.3f} {:>5.1f}%\n", k, ms, 100.0 * ms / ort_total);
  }
  return Status::ok();
}

// Prints the message and returns the exit code of an executor or setup failure.
int fail(const Status& s) {
  fmt::print(stderr, "bench_latency: {}\n", s.message());
  return kExitInternal;
}

// ---- --check-impl -----------------------------------------------------------------------------

constexpr const char* kRunBegins = "qdrift-bench: int8 run begins";
constexpr const char* kRunEnds = "qdrift-bench: int8 run ends";
constexpr int kVerboseRuns = 5;  // runs of the verbose child; per primitive, the minimum counts

// The child: load, lower, create, a warm-up run, then kVerboseRuns runs, each between markers
// (oneDNN's verbose lines go to stdout, flushed per line, so the markers split the phases).
int impl_child(const Options& o) {
  auto g = load_onnx(o.impl_child);
  if (!g) return fail(g.status());
  auto policy = int8_policy_preset("onnx");
  auto low = lower(*g, *policy);
  if (!low) return fail(low.status());
  ExecOptions options;
  options.log = [](std::string_view note) { fmt::print("qdrift-bench: note: {}\n", note); };
  auto ex = Executor::create(low->graph, onednn_kernel_table(), options);
  if (!ex) return fail(ex.status());
  const std::vector<Tensor> inputs = {
      Tensor::from_vector<float>({1, 3, bench::kImageSize, bench::kImageSize}, bench::sample_input(o.seed))};
  auto warm = ex->run(inputs);  // first-run costs (page faults, lazily made buffers) stay out of the runs
  if (!warm) return fail(warm.status());
  for (int r = 0; r < kVerboseRuns; ++r) {
    std::fflush(stdout);
    fmt::print("{}\n", kRunBegins);
    std::fflush(stdout);
    auto out = ex->run(inputs);
    std::fflush(stdout);
    fmt::print("{}\n", kRunEnds);
    std::fflush(stdout);
    if (!out) return fail(out.status());
  }
  return kExitOk;
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == sep) {
      out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  out.push_back(cur);
  return out;
}

// jit_*, brg* and gemm:jit (matmul on the jit int8 gemm) are generated code; ref* and simple* are not.
bool is_fast_impl(const std::string& impl) {
  return impl.find("jit") != std::string::npos || impl.rfind("brg", 0) == 0;
}

// One primitive execution from a verbose line:
// onednn_verbose,exec,cpu,<kind>,<impl>,<prop>,<mds>,<attrs>,<aux>,<problem>,<ms>
struct Exec {
  std::string kind;  // reorders split into "reorder (quantize)" (with scales) and "reorder (layout)"
  std::string impl;
  double ms = 0;
  std::string problem;  // "mb1_ic16oc96_ih112oh112kh1sh1dh0ph0_iw112..." or the reorder's dims
  std::string layouts;  // memory descriptors, for reorders (e.g. "src_u8::blocked:abcd:f0 dst_u8::blocked:acdb:f0")
};

// What the --check-impl child printed, split into phases.
struct VerboseLog {
  std::string cmd;
  int status = 0;                       // the child's exit status
  std::string text;                     // its output, for failures
  std::vector<Exec> setup;              // kernel creation and the warm-up run
  std::vector<std::vector<Exec>> runs;  // the timed runs
  std::vector<std::string> refs, notes, info;

  // Reorders of one int8 run (the first; every run executes the same primitives).
  int reorders_per_run() const {
    if (runs.empty()) return -1;
    return static_cast<int>(std::count_if(runs[0].begin(), runs[0].end(),
                                          [](const Exec& e) { return e.kind.rfind("reorder", 0) == 0; }));
  }
};

// Runs the child under ONEDNN_VERBOSE=1 at `threads` threads and parses its primitives.
VerboseLog run_verbose_child(const Options& o, const char* argv0, const std::string& model_path, int threads) {
  VerboseLog log;
  log.cmd = fmt::format("ONEDNN_VERBOSE=1 DNNL_VERBOSE=1 {} --impl-child {} --threads {} --seed {}",
                        shell_quote(self_exe(argv0)), shell_quote(model_path), threads, o.seed);
  std::tie(log.text, log.status) = run_command(log.cmd);
  if (log.status != 0) return log;
  auto& [cmd, status, text, setup, runs, refs, notes, info] = log;
  bool in_run = false;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line == kRunBegins) {
      in_run = true;
      runs.emplace_back();
      continue;
    }
    if (line == kRunEnds) {
      in_run = false;
      continue;
    }
    if (line.rfind("qdrift-bench: note: ", 0) == 0) {
      notes.push_back(line.substr(20));
      continue;
    }
    if (line.rfind("onednn_verbose,", 0) != 0 && line.rfind("dnnl_verbose,", 0) != 0) continue;
    const auto f = split(line, ',');
    if (f.size() > 2 && f[1] == "info") info.push_back(line);
    if (f.size() < 6 || f[1] != "exec") continue;
    Exec e{f[3], f[4], std::atof(f.back().c_str()), f[f.size() - 2], f[6]};
    if (e.kind == "reorder") e.kind = line.find("oscale") != std::string::npos ? "reorder (quantize)" : "reorder (layout)";
    (in_run ? runs.back() : setup).push_back(e);
    if (e.impl.find("ref") != std::string::npos) refs.push_back(line);
  }
  return log;
}

// Runs the child under ONEDNN_VERBOSE=1, prints what each primitive kind costs (the minimum
// over the child's runs, primitive by primitive) and checks that none ran a reference
// implementation: exit 1 if one did, or if there was nothing to check.
int check_impl(const Options& o, const char* argv0, const Model& m) {
  const VerboseLog log = run_verbose_child(o, argv0, m.qdq_path, o.threads);
  fmt::print("\noneDNN primitives: {} int8 runs after a warm-up under ONEDNN_VERBOSE=1, in a child process:\n  {}\n",
             kVerboseRuns, log.cmd);
  if (log.status != 0) {
    fmt::print("FAILED: the child exited with {}:\n{}\n", log.status, log.text.substr(0, 4000));
    return kExitGateFailed;
  }
  const auto& [cmd, status, text, setup, runs, refs, notes, info] = log;
  for (const auto& l : info) fmt::print("  {}\n", l);

  struct Row {
    int count = 0;
    double ms = 0;
  };
  std::map<std::pair<std::string, std::string>, Row> setup_rows, run_rows;  // (kind, impl)
  for (const Exec& e : setup) {
    Row& r = setup_rows[{e.kind, e.impl}];
    ++r.count;
    r.ms += e.ms;
  }
  bool same_sequence = !runs.empty();
  for (const auto& r : runs) same_sequence = same_sequence && r.size() == runs[0].size();
  if (same_sequence) {
    for (size_t i = 0; i < runs[0].size(); ++i) {
      double best = runs[0][i].ms;
      for (const auto& r : runs) best = std::min(best, r[i].ms);
      Row& row = run_rows[{runs[0][i].kind, runs[0][i].impl}];
      ++row.count;
      row.ms += best;
    }
  }
  auto print_rows = [](const std::string& title, const auto& rows) {
    int total = 0;
    double ms = 0;
    for (const auto& [k, r] : rows) total += r.count, ms += r.ms;
    fmt::print("  {}: {} primitive executions, {:.2f} ms\n", title, total, ms);
    for (const auto& [k, r] : rows)
      fmt::print("    {:<20} {:<26} {:4}x {:8.3f} ms {:5.1f}%{}\n", k.first, k.second, r.count, r.ms,
                 ms > 0 ? 100.0 * r.ms / ms : 0.0, is_fast_impl(k.second) ? "" : "   <- not jit/brg");
  };
  print_rows("kernel creation + warm-up run (ms as oneDNN timed them)", setup_rows);
  if (same_sequence) {
    print_rows(fmt::format("one int8 run (per primitive the min of {} runs)", runs.size()), run_rows);
    fmt::print("  reorders per int8 run: {} (target 1: the input)\n", log.reorders_per_run());
    std::vector<std::pair<double, size_t>> order;
    for (size_t i = 0; i < runs[0].size(); ++i) {
      double best = runs[0][i].ms;
      for (const auto& r : runs) best = std::min(best, r[i].ms);
      order.emplace_back(best, i);
    }
    std::sort(order.rbegin(), order.rend());
    fmt::print("  slowest primitives of the run:\n");
    for (size_t k = 0; k < std::min<size_t>(10, order.size()); ++k) {
      const Exec& e = runs[0][order[k].second];
      fmt::print("    {:7.3f} ms  {:<19} {:<22} {}{}\n", order[k].first, e.kind, e.impl, e.problem,
                 e.kind.rfind("reorder", 0) == 0 ? "  " + e.layouts : "");
    }
  }
  if (!notes.empty()) {
    fmt::print("  executor notes ({}):\n", notes.size());
    for (const auto& n : notes) fmt::print("    {}\n", n);
  }
  if (runs.empty() || runs[0].empty()) {
    fmt::print("FAILED: no oneDNN verbose output from the int8 runs (is ONEDNN_VERBOSE honoured?)\n");
    return kExitGateFailed;
  }
  if (!refs.empty()) {
    fmt::print("FAILED: {} executions on a reference implementation:\n", refs.size());
    for (const auto& l : refs) fmt::print("  {}\n", l);
    return kExitGateFailed;
  }
  fmt::print("PASSED: every oneDNN primitive of the int8 executor (creation and runs) is jit/brg, none 'ref'\n");
  return kExitOk;
}

// ---- main ------------------------------------------------------------------------------------

// /tmp/qdrift_bench_XXXXXX for the generated models, removed at exit unless --keep.
struct TempDir {
  explicit TempDir(bool keep_it) : keep(keep_it) {
    char tmpl[] = "/tmp/qdrift_bench_XXXXXX";
    if (mkdtemp(tmpl)) path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    if (!keep && !path.empty()) fs::remove_all(path, ec);
  }
  std::string path;  // empty if it could not be made
  bool keep;
};

// --suite: MobileNetV2-224 and ResNet-50-224 at 1 and 2 threads in one run. Per (model,
// threads): the int8 executor and ONNX Runtime alternate round by round (same load), and the
// --check-impl child at the same thread count counts oneDNN's reorders per int8 run and
// checks that none is a reference implementation. Exit 1 if a child found one (or failed).
int suite_main(Options o, const char* argv0) {
  const auto start = Clock::now();
  const OnednnRuntimeInfo rt = onednn_runtime_info();
  fmt::print("bench_latency --suite: int8 (oneDNN, policy onnx) vs ONNX Runtime int8 (all optimizations)\n");
  fmt::print("ISA: oneDNN {} on {} (int8 VNNI: {}); cores online: {}; load average before: {:.2f}\n", rt.version,
             rt.isa, rt.int8_vnni ? "yes" : "no", sysconf(_SC_NPROCESSORS_ONLN), load_average());
  fmt::print("repro: {}\n", repro_line(argv0, o));
  TempDir temp(o.keep);
  if (temp.path.empty()) return fail(internal_error("cannot create a temporary directory in /tmp"));
  struct Row {
    std::string model;
    int threads = 0;
    Stats int8;
    std::optional<Stats> ort;
    int reorders = -1;
    std::string impl;  // "jit/brg" or why not
  };
  std::vector<Row> rows;
  std::string ort_version, ort_skipped;
  bool impl_ok = true;
  for (const char* model : {"mobilenet_v2", "resnet50"}) {
    o.model = model;
    auto made = make_model(o, temp.path);
    if (!made) return fail(made.status());
    const Model& m = *made;
    auto qdq = load_onnx(m.qdq_path);
    if (!qdq) return fail(qdq.status());
    auto low = lower(*qdq, *int8_policy_preset("onnx"));
    if (!low) return fail(low.status());
    fmt::print("\n{}: int8 graph {} nodes ({})\n", model_title(model), low->graph.nodes.size(), kind_counts(low->graph));
    for (int threads : {1, 2}) {
      omp_set_num_threads(threads);
      o.threads = threads;
      OrtRounds ort(o.ort);
      auto int8 = time_executor("int8", low->graph, onednn_kernel_table(), m.input, o.runs, o.rounds,
                                [&](int) { return ort.run(o, m, temp.path, false); });
      if (!int8) return fail(int8.status());
      Row row;
      row.model = model_title(model);
      row.threads = threads;
      row.int8 = int8->stats;
      if (ort.result) {
        row.ort = ort.result->stats;
        ort_version = ort.result->version;
      } else {
        ort_skipped = ort.skipped;
      }
      const VerboseLog log = run_verbose_child(o, argv0, m.qdq_path, threads);
      row.reorders = log.reorders_per_run();
      row.impl = log.status != 0 ? fmt::format("child failed (exit {})", log.status)
                 : log.runs.empty() ? "no verbose output"
                 : !log.refs.empty() ? fmt::format("{} ref executions", log.refs.size())
                                     : "jit/brg";
      impl_ok = impl_ok && row.impl == "jit/brg";
      fmt::print("  {} threads: int8 median {:.2f} ms{}; reorders per run {}; impl {}\n", threads, row.int8.median_ms,
                 row.ort ? fmt::format(", ort median {:.2f} ms", row.ort->median_ms) : std::string(), row.reorders,
                 row.impl);
      rows.push_back(row);
    }
  }
  fmt::print("\n{} runs x {} rounds each; ratios of medians in this run; ONNX Runtime {}\n", o.runs, o.rounds,
             ort_version.empty() ? "skipped: " + ort_skipped : ort_version);
  fmt::print("{:<16} {:>7} {:>10} {:>10} {:>9} {:>7} {:>8} {:>18} {}\n", "model", "threads", "int8 ms", "ort ms",
             "int8/ort", "target", "", "reorders/run (1)", "check-impl");
  for (const Row& r : rows) {
    const double target = r.model == "ResNet-50-224" ? 0.9 : 0.8;
    const double ratio_v = r.ort ? r.int8.median_ms / r.ort->median_ms : 0;
    fmt::print("{:<16} {:>7} {:>10.2f} {:>10} {:>9} {:>6.2f}x {:>8} {:>18} {}\n", r.model, r.threads, r.int8.median_ms,
               r.ort ? fmt::format("{:.2f}", r.ort->median_ms) : "-", r.ort ? fmt::format("{:.2f}x", ratio_v) : "-",
               target, r.ort ? (ratio_v <= target ? "MET" : "MISSED") : "", r.reorders, r.impl);
  }
  fmt::print("\nload average after: {:.2f}; total {:.1f} s\n", load_average(), ms_between(start, Clock::now()) / 1000.0);
  return impl_ok ? kExitOk : kExitGateFailed;
}

int bench_main(const Options& o, const char* argv0) {
  const auto start = Clock::now();
  const OnednnRuntimeInfo rt = onednn_runtime_info();
  const double load_before = load_average();
  fmt::print("bench_latency: qdrift executors on {} QDQ, 1x3x{}x{}\n", model_title(o.model), bench::kImageSize,
             bench::kImageSize);
  fmt::print("repro: {}\n", repro_line(argv0, o));
  const char* wait_policy = std::getenv("OMP_WAIT_POLICY");
  fmt::print("threads: {} (omp_get_max_threads; OMP_WAIT_POLICY={})   oneDNN {} on {} (int8 VNNI: {})   cores online: {}\n",
             omp_get_max_threads(), wait_policy ? wait_policy : "unset", rt.version, rt.isa,
             rt.int8_vnni ? "yes" : "no", sysconf(_SC_NPROCESSORS_ONLN));
  fmt::print("load average before: {:.2f}{}\n", load_before,
             load_before > 0.5 ? "  (machine not idle: other processes share the cores, timings are noisy)" : "");

  TempDir temp(o.keep);
  if (temp.path.empty()) return fail(internal_error("cannot create a temporary directory in /tmp"));
  const std::string& dir = temp.path;

  auto t0 = Clock::now();
  auto model = make_model(o, dir);
  if (!model) return fail(model.status());
  const Model& m = *model;
  fmt::print("model: {} ({:.1f} MB; {} blocks, {} convs, {} residual adds, {:.1f} M MACs; built and calibrated in {:.0f} ms){}\n",
             m.qdq_path, static_cast<double>(fs::file_size(m.qdq_path)) / 1e6, m.info.blocks, m.info.convs,
             m.info.residual_adds, static_cast<double>(m.info.macs) / 1e6, ms_between(t0, Clock::now()),
             o.keep ? "" : " (deleted at exit; --keep to keep)");

  if (o.check_impl) return check_impl(o, argv0, m);

  t0 = Clock::now();
  auto qdq = load_onnx(m.qdq_path);
  if (!qdq) return fail(qdq.status());
  const double load_ms = ms_between(t0, Clock::now());
  t0 = Clock::now();
  const Graph fp32 = strip_qdq(*qdq);
  const double strip_ms = ms_between(t0, Clock::now());
  t0 = Clock::now();
  auto policy = int8_policy_preset("onnx");
  auto low = lower(*qdq, *policy);
  if (!low) return fail(low.status());
  const double lower_ms = ms_between(t0, Clock::now());
  fmt::print("graphs: QDQ {} nodes; fp32 {} nodes; int8 {} nodes ({})\n", qdq->nodes.size(), fp32.nodes.size(),
             low->graph.nodes.size(), kind_counts(low->graph));
  fmt::print("setup (excluded): load_onnx {:.0f} ms, strip_qdq {:.0f} ms, lower {:.0f} ms\n", load_ms, strip_ms,
             lower_ms);

  std::vector<Timed> results;
  auto run = [&](const std::string& label, const Graph& g, const KernelTable& table, int runs) -> bool {
    auto r = time_executor(label, g, table, m.input, runs);
    if (!r) {
      fmt::print(stderr, "{}\n", r.status().message());
      return false;
    }
    results.push_back(std::move(*r));
    return true;
  };
  if (!run("ref (QDQ, ref table)", *qdq, ref_kernel_table(), o.slow_runs)) return kExitInternal;
  if (!run("fp32 (strip_qdq, ref)", fp32, ref_kernel_table(), o.slow_runs)) return kExitInternal;
  // int8 and ONNX Runtime alternate, round by round, so that both see the same load.
  OrtRounds ort_rounds(o.ort);
  std::optional<OrtResult>& ort = ort_rounds.result;
  const std::string& ort_skipped = ort_rounds.skipped;
  auto ort_round = [&](int round) { return ort_rounds.run(o, m, dir, o.profile && round == 0); };
  {
    auto r = time_executor("int8 (onednn)", low->graph, onednn_kernel_table(), m.input, o.runs, o.rounds, ort_round);
    if (!r) return fail(r.status());
    results.push_back(std::move(*r));
  }
  if (o.oracle && !run("int8 oracle (int table)", low->graph, int_kernel_table(), o.slow_runs)) return kExitInternal;

  fmt::print("setup (excluded): kernel creation {}; first run {}\n",
             fmt::join([&] {
               std::vector<std::string> v;
               for (const auto& r : results) v.push_back(fmt::format("{} {:.0f} ms", r.label, r.create_ms));
               return v;
             }(), ", "),
             fmt::join([&] {
               std::vector<std::string> v;
               for (const auto& r : results) v.push_back(fmt::format("{} {:.1f} ms", r.label, r.first_ms));
               if (ort) v.push_back(fmt::format("ort {:.1f} ms", ort->first_ms));
               return v;
             }(), ", "));
  const Timed& ref = results[0];
  const Timed& f32 = results[1];
  const Timed& int8 = results[2];
  for (const auto& n : int8.notes) fmt::print("int8 note: {}\n", n);

  fmt::print("\n");
  for (const Timed& r : results)
    fmt::print("{}  = {} ref  = {} fp32\n", stats_line(r.label, r.stats), ratio(r.stats.median_ms, ref.stats.median_ms),
               ratio(r.stats.median_ms, f32.stats.median_ms));
  if (ort) {
    fmt::print("{}  = {} ref  = {} fp32\n", stats_line("ort " + ort->version + " (all opts)", ort->stats),
               ratio(ort->stats.median_ms, ref.stats.median_ms), ratio(ort->stats.median_ms, f32.stats.median_ms));
    const double r = int8.stats.median_ms / ort->stats.median_ms;
    fmt::print("int8 (onednn) / ort = {:.2f}x at {} threads (medians; min/min {:.2f}x): target <= 0.80x {}\n", r,
               o.threads, int8.stats.min_ms / ort->stats.min_ms, r <= 0.8 ? "MET" : "MISSED");
    if (!ort->optimized_ops.empty()) fmt::print("ort optimized graph: {}\n", ort->optimized_ops);
  } else {
    fmt::print("ort: skipped: {}\n", ort_skipped);
  }
  fmt::print("\nprocess CPU time per run (user+sys, all threads; at --threads 1 the latency without waits for a\n"
             "core, the robust number on a busy machine; with more threads it includes spin-waiting):\n");
  for (const Timed& r : results)
    fmt::print("{}  = {} ref  = {} fp32\n", stats_line(r.label, r.cpu), ratio(r.cpu.median_ms, ref.cpu.median_ms),
               ratio(r.cpu.median_ms, f32.cpu.median_ms));
  if (ort) {
    fmt::print("{}  = {} ref  = {} fp32\n", stats_line("ort " + ort->version + " (all opts)", ort->cpu),
               ratio(ort->cpu.median_ms, ref.cpu.median_ms), ratio(ort->cpu.median_ms, f32.cpu.median_ms));
    fmt::print("int8 (onednn) / ort = {:.2f}x in CPU time at {} threads (medians; min/min {:.2f}x)\n",
               int8.cpu.median_ms / ort->cpu.median_ms, o.threads, int8.cpu.min_ms / ort->cpu.min_ms);
  }

  // The timings mean something only if the executors computed the same network.
  const float logits_scale = bench::act_quant(m.calibration.at("classifier")).scale;
  auto agree = [&](const char* what, const float* a, const float* b) {
    const Agreement ag = compare(a, b, bench::kClasses);
    fmt::print("  {:<22} max |diff| {:8.4f} ({:.1f} steps of the logits' scale), top-1 {}\n", what, ag.max_abs,
               ag.max_abs / logits_scale, ag.same_top1 ? "same" : "DIFFERENT");
  };
  fmt::print("\noutputs (logits, 1000 classes; one step = {:.4f}):\n", logits_scale);
  const float* ref_out = ref.output.data<float>();
  agree("fp32 vs ref", f32.output.data<float>(), ref_out);
  agree("int8 (onednn) vs ref", int8.output.data<float>(), ref_out);
  if (o.oracle) {
    const Timed& orc = results[3];
    fmt::print("  int8 oracle vs onednn: {}\n",
               orc.output.bytes == int8.output.bytes ? "identical bytes" : "DIFFERENT bytes (kernel drift)");
  }
  if (ort) agree("ort vs ref", ort->output.data(), ref_out);

  int impl_status = kExitOk;
  if (o.profile) {
    const Status s = profile_int8(low->graph, m.input, o.runs, ort ? &*ort : nullptr);
    if (!s) return fail(s);
    impl_status = check_impl(o, argv0, m);  // the oneDNN primitives' own times: conv vs reorders
  }
  const double load_after = load_average();
  fmt::print("\nload average after: {:.2f}{}; total {:.1f} s\n", load_after,
             load_after > 0.5 ? " (not idle: rerun on a quiet machine for stable numbers)" : "",
             ms_between(start, Clock::now()) / 1000.0);
  return impl_status;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"bench_latency: qdrift's executors (ref, fp32, int8 oneDNN, integer oracle) and ONNX Runtime on a "
               "MobileNetV2 QDQ model, as ratios measured in one run"};
  app.add_option("--runs", o.runs, "timed runs of the int8 executor and ONNX Runtime")->check(CLI::Range(1, 100000));
  app.add_option("--rounds", o.rounds,
                 "alternate int8 and ONNX Runtime this many times (--runs each), so both meet the same load")
      ->check(CLI::Range(1, 1000));
  app.add_option("--slow-runs", o.slow_runs, "timed runs of ref, fp32 and the oracle")->check(CLI::Range(1, 1000));
  app.add_option("--threads", o.threads, "OpenMP threads (omp_set_num_threads) and ONNX Runtime intra-op threads; "
                                         "0 = omp_get_max_threads()")
      ->check(CLI::Range(0, 1024));
  app.add_option("--seed", o.seed, "seed of the weights and the input");
  app.add_flag("--oracle", o.oracle, "also time the integer oracle on the lowered graph (slow)");
  app.add_flag("!--no-ort", o.ort, "skip ONNX Runtime");
  app.add_flag("--profile", o.profile, "per-node time of the int8 run (executor observer), ORT's per-op profile");
  app.add_flag("--check-impl", o.check_impl,
               "only run one int8 inference under ONEDNN_VERBOSE=1 (child process); exit 1 if any primitive "
               "runs a 'ref' implementation");
  app.add_flag("--keep", o.keep, "keep the generated model and input in /tmp/qdrift_bench_*");
  app.add_option("--node", o.node, "node.js binary for the ONNX Runtime timing");
  app.add_option("--ort-script", o.ort_script, "path of bench/ort/time_ort.js");
  app.add_option("--model", o.model, "the bench model: mobilenet_v2 (MobileNetV2-224) or resnet50 (ResNet-50-224)")
      ->check(CLI::IsMember({"mobilenet_v2", "resnet50"}));
  app.add_flag("--suite", o.suite,
               "both models at 1 and 2 threads in one run: int8 / ORT int8 (alternating rounds), the oneDNN "
               "reorders per int8 run (target 1: the input) and the --check-impl verdict");
  app.add_option("--impl-child", o.impl_child, "(internal) the --check-impl child: model path")->group("");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? kExitOk : kExitBadInput;
  }
  if (o.threads > 0) omp_set_num_threads(o.threads);
  o.threads = omp_get_max_threads();
  if (!o.impl_child.empty()) return impl_child(o);
  if (o.suite) return suite_main(o, argv[0]);
  return bench_main(o, argv[0]);
}
