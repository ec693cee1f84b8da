// bench_diff: what `qdrift diff` costs beyond running its executors, in time and in peak
// memory, on a MobileNetV2-size QDQ model (docs/benchmarks.md, "qdrift diff overhead").
// Not a test: never registered with ctest.
//
//   bench_diff                         # memory children, then 10 alternating repetitions
//   bench_diff --reps 20 --threads 1   # more repetitions; OpenMP threads of every executor
//   bench_diff --no-check              # skip the kernel check (the integer oracle, seconds per run)
//   bench_diff --mode diff --dir D     # one mode alone in this process (what the children run)
//
// DESIGN.md, Targets: "qdrift diff costs little beyond running the executors: mapping and
// measures add under half the executors' time" and "peak memory grows with the largest live
// tensors, not with the number of layers". Measured through the library (run_drift), not the
// CLI, on the same model as bench_latency (bench/mobilenet_v2_qdq.h, fixed seed):
//   (a)  the reference executor (QDQ graph, ref table) and the int8 executor (lowered graph,
//        oneDNN table) each run alone, without observers: the executors' own time;
//   (o)  the integer oracle (lowered graph, int table) alone: what the kernel check must run;
//   (m)  map_tensors alone (run_drift calls it first);
//   (b)  run_drift(ref, int8) without kernel check;
//   (c)  run_drift(ref, int8) with kernel_check = the oracle.
// One repetition runs a, o, m, b, c in turn, so all meet the same load; median and min of
// wall-clock and process CPU time per phase, then diff_overhead = (b - a) / a and the kernel
// check's extra cost (c - b) apart, with Report::timings of the run_drift calls.
//
// Memory: peak RSS cannot be split by phase inside one process, so each mode (executors,
// diff, diff_check) runs once in a fresh child process (posix_spawn of /proc/self/exe).
// The child sets up (load, lower, create kernels), resets its RSS high-water mark
// (/proc/self/clear_refs), runs the mode once and reports VmHWM - VmRSS-before; the parent
// also prints each child's ru_maxrss from wait4. The model itself is written by a first
// child, so that the parent is still small when it spawns (a child's ru_maxrss starts from
// its parent's memory at spawn). Printed next to them: the largest single activation, the
// executors' largest live set (from the graphs' last uses) and the sum of all paired
// reference tensors as f32, which run_drift keeps until the int8 side has produced their
// partners: the expected upper bound of what it adds.
//
// Exit codes: 0 ok, 2 bad usage, 3 internal error (an executor or a child failed).
#include <fcntl.h>
#include <omp.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "bench/bench_util.h"
#include "bench/mobilenet_v2_qdq.h"
#include "core/executor.h"
#include "core/int8_policy.h"
#include "core/lower.h"
#include "core/onnx_loader.h"
#include "core/tensor_io.h"
#include "diff/drift.h"
#include "diff/mapping.h"
#include "diff/measure.h"
#include "kernels/int/int_kernels.h"
#include "kernels/onednn/onednn_kernels.h"
#include "kernels/ref/ref_kernels.h"

extern char** environ;

namespace {

using namespace qdrift;
namespace fs = std::filesystem;
using bench::Clock;
using bench::ms_between;
using bench::process_cpu_ms;

constexpr const char* kModelFile = "mobilenet_v2_qdq.onnx";

struct Options {
  int reps = 10;
  int threads = 1;  // 0: omp_get_max_threads()
  uint32_t seed = 1;
  bool check = true;
  bool keep = false;
  int depth = 0;           // 0: MobileNetV2; N: a chain of N convolutions (bench::build_conv_chain)
  bool local_drift = true; // run_drift's local drift (re-running each int8 op on the reference's tensors)
  std::string mode;  // "" = everything; build | executors | oracle | diff | diff_check = one phase alone
  std::string dir;   // the model directory of a --mode run
};

std::string repro_line(const char* argv0, const Options& o) {
  return fmt::format("{} --reps {} --threads {} --seed {}{}{}{}", argv0, o.reps, o.threads, o.seed,
                     o.check ? "" : " --no-check", o.depth > 0 ? fmt::format(" --depth {}", o.depth) : "",
                     o.local_drift ? "" : " --no-local-drift");
}

std::string load_average_text() {
  std::ifstream f("/proc/loadavg");
  std::string a, b, c;
  f >> a >> b >> c;
  return fmt::format("{} {} {}", a, b, c);
}

int fail(const Status& s) {
  fmt::print(stderr, "bench_diff: {}\n", s.message());
  return kExitInternal;
}

double mb(double bytes) { return bytes / 1e6; }

// ---- statistics -----------------------------------------------------------------------------

struct Stats {
  double median = 0, min = 0;
};

Stats stats_of(std::vector<double> v) {
  Stats s;
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  s.median = n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
  s.min = v.front();
  return s;
}

// One phase's samples, one per repetition.
struct Samples {
  std::vector<double> wall, cpu;
  Stats wall_stats() const { return stats_of(wall); }
  Stats cpu_stats() const { return stats_of(cpu); }
};

// ---- memory of this process -----------------------------------------------------------------

// VmRSS and VmHWM of /proc/self/status, in kB (-1 when absent).
std::pair<long, long> rss_and_hwm_kb() {
  std::ifstream f("/proc/self/status");
  std::string line;
  long rss = -1, hwm = -1;
  while (std::getline(f, line)) {
    if (line.rfind("VmRSS:", 0) == 0) rss = std::atol(line.c_str() + 6);
    if (line.rfind("VmHWM:", 0) == 0) hwm = std::atol(line.c_str() + 6);
  }
  return {rss, hwm};
}

long ru_maxrss_kb() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

// Resets VmHWM to the current RSS (Linux >= 4.0). ru_maxrss is not reset by this.
bool reset_hwm() {
  std::ofstream f("/proc/self/clear_refs");
  f << "5";
  f.flush();
  return static_cast<bool>(f);
}

// ---- the model --------------------------------------------------------------------------------

Status write_proto(const onnx::ModelProto& m, const std::string& path) {
  std::string bytes;
  if (!m.SerializeToString(&bytes)) return internal_error("cannot serialize the model");
  return write_file_bytes(path, bytes);
}

Tensor sample_input(uint32_t seed) {
  return Tensor::from_vector<float>({1, 3, bench::kImageSize, bench::kImageSize}, bench::sample_input(seed));
}

// The QDQ model as bench_latency builds it: a float build calibrated by the reference
// executor on the sample input, then the QDQ build with those ranges.
Status build_model(const Options& o) {
  const Tensor input = sample_input(o.seed);
  const std::string fp32_path = o.dir + "/mobilenet_v2_fp32.onnx";
  const auto build = [&](const bench::Calibration* cal) {
    return o.depth > 0 ? bench::build_conv_chain(o.depth, o.seed, cal) : bench::build_mobilenet_v2(o.seed, cal);
  };
  QD_RETURN_IF_ERROR(write_proto(build(nullptr), fp32_path));
  QD_ASSIGN_OR_RETURN(Graph g, load_onnx(fp32_path));
  QD_ASSIGN_OR_RETURN(Executor ex, Executor::create(g, ref_kernel_table()));
  bench::Calibration cal;
  auto track = [&cal](const std::string& name, const Tensor& t) {
    if (t.dtype != DType::f32 || t.numel() == 0) return;
    const auto [lo, hi] = std::minmax_element(t.data<float>(), t.data<float>() + t.numel());
    cal[name] = {*lo, *hi};
  };
  track(bench::kInputName, input);
  const std::vector<Tensor> inputs = {input};
  auto out = ex.run(inputs, [&](const Node&, size_t, const Value& v, const Tensor& t) { track(v.name, t); });
  if (!out) return out.status();
  return write_proto(build(&cal), o.dir + "/" + kModelFile);
}

// Everything a phase needs, created once (excluded from every measurement).
struct Setup {
  Graph qdq;
  LoweredGraph low;
  std::optional<Executor> ref, int8, oracle;
  std::vector<Tensor> inputs;
  bool local_drift = true;
};

Result<std::unique_ptr<Setup>> make_setup(const Options& o, bool with_oracle) {
  auto s = std::make_unique<Setup>();
  QD_ASSIGN_OR_RETURN(s->qdq, load_onnx(o.dir + "/" + kModelFile));
  QD_ASSIGN_OR_RETURN(Int8Policy policy, int8_policy_preset("onnx"));
  QD_ASSIGN_OR_RETURN(s->low, lower(s->qdq, policy));
  QD_ASSIGN_OR_RETURN(Executor ref, Executor::create(s->qdq, ref_kernel_table()));
  QD_ASSIGN_OR_RETURN(Executor int8, Executor::create(s->low.graph, onednn_kernel_table()));
  s->ref = std::move(ref);
  s->int8 = std::move(int8);
  if (with_oracle) {
    QD_ASSIGN_OR_RETURN(Executor oracle, Executor::create(s->low.graph, int_kernel_table()));
    s->oracle = std::move(oracle);
  }
  s->inputs = {sample_input(o.seed)};
  s->local_drift = o.local_drift;
  return s;
}

Status run_executors(const Setup& s) {
  auto r = s.ref->run(s.inputs);
  if (!r) return r.status().with_context("ref");
  auto i = s.int8->run(s.inputs);
  if (!i) return i.status().with_context("int8");
  return Status::ok();
}

Status run_diff(const Setup& s, bool check, Report& report) {
  DriftOptions options;
  options.kernel_check = check ? &*s.oracle : nullptr;
  options.local_drift = s.local_drift;
  return run_drift(*s.ref, s.inputs, *s.int8, s.inputs, options, report);
}

// ---- one mode in this process (the memory children) -------------------------------------------

// Prints "key value" lines on stdout for the parent.
int mode_main(const Options& o) {
  if (o.dir.empty()) return fail(invalid_input("--mode needs --dir"));
  if (o.mode == "build") {
    const Status s = build_model(o);
    return s ? kExitOk : fail(s);
  }
  const bool check = o.mode == "diff_check";
  auto setup = make_setup(o, check || o.mode == "oracle");
  if (!setup) return fail(setup.status());
  const auto [rss_before, hwm_setup] = rss_and_hwm_kb();
  const long maxrss_setup = ru_maxrss_kb();
  const bool reset = reset_hwm();
  Status s = Status::ok();
  Report report;
  if (o.mode == "executors") {
    s = run_executors(**setup);
  } else if (o.mode == "oracle") {
    auto r = (*setup)->oracle->run((*setup)->inputs);
    if (!r) s = r.status();
  } else {
    s = run_diff(**setup, check, report);
  }
  if (!s) return fail(s);
  const auto [rss_after, hwm_run] = rss_and_hwm_kb();
  fmt::print("rss_before_kb {}\nhwm_setup_kb {}\nmaxrss_setup_kb {}\nhwm_reset {}\nhwm_run_kb {}\nrss_after_kb {}\n"
             "maxrss_run_kb {}\npairs {}\n",
             rss_before, hwm_setup, maxrss_setup, reset ? 1 : 0, hwm_run, rss_after, ru_maxrss_kb(),
             report.pairs.size());
  return kExitOk;
}

// ---- children -----------------------------------------------------------------------------------

std::string self_exe(const char* argv0) {
  std::error_code ec;
  const fs::path p = fs::read_symlink("/proc/self/exe", ec);
  return ec ? std::string(argv0) : p.string();
}

struct Child {
  std::map<std::string, long> values;  // the child's "key value" lines
  long ru_maxrss_kb = 0;               // wait4's
  double wall_ms = 0;
};

Result<Child> spawn_child(const char* argv0, const Options& o, const std::string& mode) {
  const std::string out_path = o.dir + "/" + mode + ".txt";
  std::vector<std::string> args = {self_exe(argv0), "--mode", mode, "--dir", o.dir, "--threads",
                                   std::to_string(o.threads), "--seed", std::to_string(o.seed),
                                   "--depth", std::to_string(o.depth)};
  if (!o.local_drift) args.push_back("--no-local-drift");
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t pid = 0;
  const auto t0 = Clock::now();
  const int err = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (err != 0) return internal_error("posix_spawn {}: error {}", args[0], err);
  int status = 0;
  rusage ru{};
  if (wait4(pid, &status, 0, &ru) != pid) return internal_error("wait4 failed for --mode {}", mode);
  Child c;
  c.wall_ms = ms_between(t0, Clock::now());
  c.ru_maxrss_kb = ru.ru_maxrss;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return internal_error("the --mode {} child failed (status {})", mode, status);
  std::ifstream f(out_path);
  std::string key;
  long value = 0;
  while (f >> key >> value) c.values[key] = value;
  return c;
}

// ---- sizes: what the executors and run_drift hold -------------------------------------------

struct Sizes {
  std::vector<size_t> bytes;    // per value id: bytes of the produced tensor (0: not produced)
  std::vector<int64_t> numel;   // per value id
};

Result<Sizes> observed_sizes(const Executor& ex, std::span<const Tensor> inputs) {
  const Graph& g = ex.graph();
  Sizes s;
  s.bytes.assign(g.values.size(), 0);
  s.numel.assign(g.values.size(), 0);
  auto out = ex.run(inputs, [&](const Node&, size_t, const Value& v, const Tensor& t) {
    const auto id = static_cast<size_t>(g.find_value(v.name));
    s.bytes[id] = t.nbytes();
    s.numel[id] = t.numel();
  });
  if (!out) return out.status();
  return s;
}

// The executor's largest live set of produced tensors, replaying core/executor.cpp's rule:
// a tensor lives from its node until its last consumer ran; graph outputs until the end.
size_t peak_live_bytes(const Graph& g, const std::vector<size_t>& bytes) {
  std::vector<int64_t> last_use(g.values.size(), -1);
  for (size_t ni = 0; ni < g.nodes.size(); ++ni)
    for (ValueId in : g.nodes[ni].inputs)
      if (in != kNoValue) last_use[static_cast<size_t>(in)] = static_cast<int64_t>(ni);
  for (ValueId out : g.outputs) last_use[static_cast<size_t>(out)] = INT64_MAX;
  std::vector<bool> freed(g.values.size(), false);
  size_t live = 0, peak = 0;
  auto release = [&](size_t idx) {
    if (freed[idx]) return;
    freed[idx] = true;
    live -= bytes[idx];
  };
  for (size_t ni = 0; ni < g.nodes.size(); ++ni) {
    const Node& n = g.nodes[ni];
    for (ValueId out : n.outputs)
      if (out != kNoValue) live += bytes[static_cast<size_t>(out)];
    peak = std::max(peak, live);
    for (ValueId in : n.inputs) {
      if (in == kNoValue) continue;
      const auto idx = static_cast<size_t>(in);
      if (last_use[idx] == static_cast<int64_t>(ni) && g.values[idx].producer != kNoNode) release(idx);
    }
    for (ValueId out : n.outputs)
      if (out != kNoValue && last_use[static_cast<size_t>(out)] == -1) release(static_cast<size_t>(out));
  }
  return peak;
}

struct MemoryModel {
  size_t pairs = 0, ref_paired = 0, other_paired = 0;
  size_t ref_nodes = 0, other_nodes = 0;
  size_t ref_paired_f32_bytes = 0;    // what run_drift keeps of the reference side (real values, f32)
  size_t check_paired_bytes = 0;      // what the kernel check keeps (oracle tensors, native dtype)
  size_t largest_ref_bytes = 0;       // the largest single tensor the reference produces
  std::string largest_ref_name;
  size_t largest_act_bytes = 0;       // the same over activations (tensors that depend on the input)
  std::string largest_act_name;
  size_t ref_peak_live = 0, int8_peak_live = 0;
  size_t ref_produced_bytes = 0;      // every tensor the reference produces, summed
};

Result<MemoryModel> memory_model(const Setup& s) {
  MemoryModel m;
  const Graph& ga = s.ref->graph();
  const Graph& gb = s.int8->graph();
  QD_ASSIGN_OR_RETURN(Sizes ref, observed_sizes(*s.ref, s.inputs));
  QD_ASSIGN_OR_RETURN(Sizes other, observed_sizes(*s.int8, s.inputs));
  const Mapping mapping = map_tensors(ga, gb, nullptr);
  std::set<ValueId> ref_ids, other_ids;
  for (const TensorPair& p : mapping.pairs) {
    ref_ids.insert(p.ref);
    other_ids.insert(p.other);
  }
  m.pairs = mapping.pairs.size();
  m.ref_paired = ref_ids.size();
  m.other_paired = other_ids.size();
  m.ref_nodes = ga.nodes.size();
  m.other_nodes = gb.nodes.size();
  for (ValueId v : ref_ids) m.ref_paired_f32_bytes += static_cast<size_t>(ref.numel[static_cast<size_t>(v)]) * 4;
  for (ValueId v : other_ids) m.check_paired_bytes += other.bytes[static_cast<size_t>(v)];
  // Constant-derived tensors (DequantizeLinear of a weight) are not activations.
  std::vector<bool> constant(ga.values.size(), false);
  for (size_t i = 0; i < ga.values.size(); ++i) constant[i] = ga.values[i].initializer.has_value();
  for (const Node& n : ga.nodes) {
    bool all = true;
    for (ValueId in : n.inputs) all = all && (in == kNoValue || constant[static_cast<size_t>(in)]);
    for (ValueId out : n.outputs)
      if (out != kNoValue) constant[static_cast<size_t>(out)] = all;
  }
  for (size_t i = 0; i < ref.bytes.size(); ++i) {
    m.ref_produced_bytes += ref.bytes[i];
    if (ref.bytes[i] > m.largest_ref_bytes) {
      m.largest_ref_bytes = ref.bytes[i];
      m.largest_ref_name = ga.values[i].name;
    }
    if (!constant[i] && ref.bytes[i] > m.largest_act_bytes) {
      m.largest_act_bytes = ref.bytes[i];
      m.largest_act_name = ga.values[i].name;
    }
  }
  m.ref_peak_live = peak_live_bytes(ga, ref.bytes);
  m.int8_peak_live = peak_live_bytes(gb, other.bytes);
  return m;
}

// ---- timing ---------------------------------------------------------------------------------------

struct Phases {
  Samples ref, int8, executors, oracle, map, diff, diff_check;
  std::vector<double> diff_measure_ms, diff_ref_ms, diff_other_ms;
  std::vector<double> check_measure_ms, check_ref_ms, check_other_ms;
  Report last_diff, last_check;
};

template <typename F>
Status timed(Samples& s, F&& f) {
  const double c0 = process_cpu_ms();
  const auto t0 = Clock::now();
  Status st = f();
  s.wall.push_back(ms_between(t0, Clock::now()));
  s.cpu.push_back(process_cpu_ms() - c0);
  return st;
}

Status time_phases(const Setup& s, const Options& o, Phases& p) {
  // One untimed pass of everything: first-run allocations and caches.
  QD_RETURN_IF_ERROR(run_executors(s));
  if (o.check) {
    auto w = s.oracle->run(s.inputs);
    if (!w) return w.status();
  }
  for (int rep = 0; rep < o.reps; ++rep) {
    Samples one_ref, one_int8;
    QD_RETURN_IF_ERROR(timed(one_ref, [&]() -> Status {
      auto r = s.ref->run(s.inputs);
      return r ? Status::ok() : r.status();
    }));
    QD_RETURN_IF_ERROR(timed(one_int8, [&]() -> Status {
      auto r = s.int8->run(s.inputs);
      return r ? Status::ok() : r.status();
    }));
    p.ref.wall.push_back(one_ref.wall[0]);
    p.ref.cpu.push_back(one_ref.cpu[0]);
    p.int8.wall.push_back(one_int8.wall[0]);
    p.int8.cpu.push_back(one_int8.cpu[0]);
    p.executors.wall.push_back(one_ref.wall[0] + one_int8.wall[0]);
    p.executors.cpu.push_back(one_ref.cpu[0] + one_int8.cpu[0]);
    if (o.check)
      QD_RETURN_IF_ERROR(timed(p.oracle, [&]() -> Status {
        auto r = s.oracle->run(s.inputs);
        return r ? Status::ok() : r.status();
      }));
    QD_RETURN_IF_ERROR(timed(p.map, [&]() -> Status {
      const Mapping m = map_tensors(s.ref->graph(), s.int8->graph(), nullptr);
      return m.pairs.empty() ? internal_error("map_tensors paired nothing") : Status::ok();
    }));
    {
      Report r;
      QD_RETURN_IF_ERROR(timed(p.diff, [&] { return run_diff(s, false, r); }));
      p.diff_measure_ms.push_back(r.timings.measure_ms);
      p.diff_ref_ms.push_back(r.timings.ref_ms);
      p.diff_other_ms.push_back(r.timings.other_ms);
      if (rep + 1 == o.reps) p.last_diff = std::move(r);
    }
    if (o.check) {
      Report r;
      QD_RETURN_IF_ERROR(timed(p.diff_check, [&] { return run_diff(s, true, r); }));
      p.check_measure_ms.push_back(r.timings.measure_ms);
      p.check_ref_ms.push_back(r.timings.ref_ms);
      p.check_other_ms.push_back(r.timings.other_ms);
      if (rep + 1 == o.reps) p.last_check = std::move(r);
    }
    fmt::print(stderr, "\rrepetition {}/{}", rep + 1, o.reps);
  }
  fmt::print(stderr, "\n");
  return Status::ok();
}

// Where run_drift's observer time goes: its per-pair steps (diff/drift.cpp) timed one by one
// over the paired tensors of one observed run of each executor.
volatile int64_t g_sink = 0;  // results of timed calls land here, so none is optimised away

struct Breakdown {
  Samples grid, describe_ref, real_ref, describe_other, real_other, drift;
  int64_t ref_elements = 0, other_elements = 0;
  std::map<std::string, int> ref_dtypes, other_dtypes;
};

Result<Breakdown> measure_breakdown(const Setup& s, int reps) {
  const Graph& ga = s.ref->graph();
  const Graph& gb = s.int8->graph();
  const Mapping mapping = map_tensors(ga, gb, nullptr);
  std::vector<std::optional<Tensor>> ref_t(ga.values.size()), other_t(gb.values.size());
  std::vector<bool> ref_paired(ga.values.size(), false), other_paired(gb.values.size(), false);
  for (const TensorPair& p : mapping.pairs) {
    ref_paired[static_cast<size_t>(p.ref)] = true;
    other_paired[static_cast<size_t>(p.other)] = true;
  }
  auto capture = [](const Graph& g, const std::vector<bool>& paired, std::vector<std::optional<Tensor>>& into) {
    return [&g, &paired, &into](const Node&, size_t, const Value& v, const Tensor& t) {
      const auto id = static_cast<size_t>(g.find_value(v.name));
      if (paired[id]) into[id] = t;
    };
  };
  auto r1 = s.ref->run(s.inputs, capture(ga, ref_paired, ref_t));
  if (!r1) return r1.status();
  auto r2 = s.int8->run(s.inputs, capture(gb, other_paired, other_t));
  if (!r2) return r2.status();
  Breakdown b;
  std::vector<std::optional<QuantParams>> ref_q(ga.values.size()), other_q(gb.values.size());
  for (size_t i = 0; i < ref_t.size(); ++i)
    if (ref_t[i]) {
      b.ref_elements += ref_t[i]->numel();
      ++b.ref_dtypes[std::string(dtype_name(ref_t[i]->dtype))];
    }
  for (size_t i = 0; i < other_t.size(); ++i)
    if (other_t[i]) {
      b.other_elements += other_t[i]->numel();
      ++b.other_dtypes[std::string(dtype_name(other_t[i]->dtype))];
    }
  auto q_of = [](const std::optional<QuantParams>& q) { return q ? &*q : nullptr; };
  std::vector<Tensor> ref_real(ga.values.size()), other_real(gb.values.size());
  for (int rep = 0; rep < reps; ++rep) {
    QD_RETURN_IF_ERROR(timed(b.grid, [&] {
      for (size_t i = 0; i < ref_t.size(); ++i)
        if (ref_t[i]) ref_q[i] = tensor_grid(ga, static_cast<ValueId>(i), &*ref_t[i]);
      for (size_t i = 0; i < other_t.size(); ++i)
        if (other_t[i]) other_q[i] = tensor_grid(gb, static_cast<ValueId>(i), &*other_t[i]);
      return Status::ok();
    }));
    int64_t sink = 0;  // keeps the descriptions from being optimised away
    QD_RETURN_IF_ERROR(timed(b.describe_ref, [&] {
      for (size_t i = 0; i < ref_t.size(); ++i)
        if (ref_t[i]) sink += describe_side(*ref_t[i], q_of(ref_q[i])).stats.argmax;
      return Status::ok();
    }));
    QD_RETURN_IF_ERROR(timed(b.real_ref, [&] {
      for (size_t i = 0; i < ref_t.size(); ++i)
        if (ref_t[i]) ref_real[i] = real_values(*ref_t[i], q_of(ref_q[i]));
      return Status::ok();
    }));
    QD_RETURN_IF_ERROR(timed(b.describe_other, [&] {
      for (size_t i = 0; i < other_t.size(); ++i)
        if (other_t[i]) sink += describe_side(*other_t[i], q_of(other_q[i])).stats.argmax;
      return Status::ok();
    }));
    QD_RETURN_IF_ERROR(timed(b.real_other, [&] {
      for (size_t i = 0; i < other_t.size(); ++i)
        if (other_t[i]) other_real[i] = real_values(*other_t[i], q_of(other_q[i]));
      return Status::ok();
    }));
    QD_RETURN_IF_ERROR(timed(b.drift, [&] {
      for (const TensorPair& p : mapping.pairs) {
        const auto ri = static_cast<size_t>(p.ref), oi = static_cast<size_t>(p.other);
        if (ref_real[ri].numel() != other_real[oi].numel()) continue;
        const QuantParams* q = p.steps_in_other_grid && other_q[oi] ? &*other_q[oi] : q_of(ref_q[ri]);
        sink += measure_drift(ref_real[ri], other_real[oi], q).count;
      }
      return Status::ok();
    }));
    g_sink = sink;
  }
  return b;
}

std::string row(const std::string& label, const Samples& s, double base_wall, double base_cpu) {
  const Stats w = s.wall_stats(), c = s.cpu_stats();
  return fmt::format("  {:<40} {:>10.2f} {:>10.2f} {:>10.2f} {:>10.2f} {:>8.3f}x {:>8.3f}x\n", label, w.median, w.min,
                     c.median, c.min, w.median / base_wall, c.median / base_cpu);
}

// ---- main -----------------------------------------------------------------------------------------

int bench_main(const Options& opts, const char* argv0) {
  Options o = opts;
  const auto start = Clock::now();
  fmt::print("bench_diff: run_drift (qdrift diff) against its executors alone, {} QDQ 1x3x{}x{}\n",
             o.depth > 0 ? fmt::format("a chain of {} convolutions", o.depth) : std::string("MobileNetV2"),
             bench::kImageSize, bench::kImageSize);
  fmt::print("repro: {}\n", repro_line(argv0, o));
  fmt::print("threads: {} (omp_set_num_threads)   cores online: {}   load average before: {}\n", o.threads,
             sysconf(_SC_NPROCESSORS_ONLN), load_average_text());

  char tmpl[] = "/tmp/qdrift_bench_diff_XXXXXX";
  if (!mkdtemp(tmpl)) return fail(internal_error("cannot create a temporary directory in /tmp"));
  o.dir = tmpl;
  struct Cleanup {
    std::string dir;
    bool keep;
    ~Cleanup() {
      std::error_code ec;
      if (!keep) fs::remove_all(dir, ec);
    }
  } cleanup{o.dir, o.keep};

  // ---- memory: one fresh child per mode, while this process is still small ----
  const long parent_maxrss = ru_maxrss_kb();
  auto built = spawn_child(argv0, o, "build");
  if (!built) return fail(built.status());
  std::vector<std::string> modes = {"executors", "diff"};
  if (o.check) modes.insert(modes.end(), {"oracle", "diff_check"});
  std::map<std::string, Child> children;
  for (const std::string& mode : modes) {
    auto c = spawn_child(argv0, o, mode);
    if (!c) return fail(c.status());
    children[mode] = std::move(*c);
  }

  // ---- this process: setup, sizes, timings ----
  auto setup = make_setup(o, o.check);
  if (!setup) return fail(setup.status());
  const Setup& s = **setup;
  auto mm = memory_model(s);
  if (!mm) return fail(mm.status());
  fmt::print("graphs: reference (QDQ) {} nodes, int8 (lowered, onnx policy) {} nodes; {} pairs "
             "({} reference tensors, {} int8 tensors)\n",
             mm->ref_nodes, mm->other_nodes, mm->pairs, mm->ref_paired, mm->other_paired);
  Phases p;
  const Status timing = time_phases(s, o, p);
  if (!timing) return fail(timing);

  const Stats a_w = p.executors.wall_stats(), a_c = p.executors.cpu_stats();
  fmt::print("\ntime per run, {} alternating repetitions (one repetition: a, o, m, b, c in turn):\n", o.reps);
  fmt::print("  {:<40} {:>10} {:>10} {:>10} {:>10} {:>9} {:>9}\n", "phase", "wall med", "wall min", "cpu med",
             "cpu min", "/a wall", "/a cpu");
  fmt::print("{}", row("ref executor alone (QDQ, ref table)", p.ref, a_w.median, a_c.median));
  fmt::print("{}", row("int8 executor alone (lowered, onednn)", p.int8, a_w.median, a_c.median));
  fmt::print("{}", row("(a) ref + int8, no observers", p.executors, a_w.median, a_c.median));
  fmt::print("{}", row("(m) map_tensors alone", p.map, a_w.median, a_c.median));
  fmt::print("{}", row("(b) run_drift(ref, int8)", p.diff, a_w.median, a_c.median));
  if (o.check) {
    fmt::print("{}", row("(o) oracle alone (lowered, int table)", p.oracle, a_w.median, a_c.median));
    fmt::print("{}", row("(c) run_drift + kernel_check (oracle)", p.diff_check, a_w.median, a_c.median));
  }
  const Stats b_w = p.diff.wall_stats(), b_c = p.diff.cpu_stats();
  const Stats meas_b = stats_of(p.diff_measure_ms);
  fmt::print("\nReport::timings of (b), medians: ref_ms {:.2f}, other_ms {:.2f}, measure_ms {:.2f} (min {:.2f}); "
             "measure_ms includes map_tensors ({:.2f} ms alone)\n",
             stats_of(p.diff_ref_ms).median, stats_of(p.diff_other_ms).median, meas_b.median, meas_b.min,
             p.map.wall_stats().median);
  const double overhead_w = (b_w.median - a_w.median) / a_w.median;
  const double overhead_c = (b_c.median - a_c.median) / a_c.median;
  const double overhead_min = (b_w.min - a_w.min) / a_w.min;
  fmt::print("(b) - (a) = {:.2f} ms wall ({:.2f} ms CPU): measure_ms {:.2f} ms (mapping {:.2f} + observers {:.2f}), "
             "the rest {:.2f} ms wall, {:.2f} ms CPU (row-major copies of the channels-last int8 tensors for the "
             "observer, observer calls, report assembly; noise on a loaded machine)\n",
             b_w.median - a_w.median, b_c.median - a_c.median, meas_b.median, p.map.wall_stats().median,
             meas_b.median - p.map.wall_stats().median, b_w.median - a_w.median - meas_b.median,
             b_c.median - a_c.median - meas_b.median);
  {
    auto bd = measure_breakdown(s, std::min(o.reps, 5));
    if (!bd) return fail(bd.status());
    auto dtypes = [](const std::map<std::string, int>& m) {
      std::string t;
      for (const auto& [k, n] : m) t += fmt::format("{}{} {}", t.empty() ? "" : ", ", n, k);
      return t;
    };
    fmt::print("where measure_ms goes: run_drift's per-pair steps timed alone over the paired tensors of one run "
               "(reference: {} tensors, {:.2f} M elements; int8: {} tensors, {:.2f} M elements), wall medians:\n",
               dtypes(bd->ref_dtypes), static_cast<double>(bd->ref_elements) / 1e6, dtypes(bd->other_dtypes),
               static_cast<double>(bd->other_elements) / 1e6);
    const double total = bd->grid.wall_stats().median + bd->describe_ref.wall_stats().median +
                         bd->real_ref.wall_stats().median + bd->describe_other.wall_stats().median +
                         bd->real_other.wall_stats().median + bd->drift.wall_stats().median;
    auto part = [&](const char* what, const Samples& x) {
      const double ms = x.wall_stats().median;
      fmt::print("  {:<52} {:8.2f} ms  {:5.1f}%  {:.3f}x (a)\n", what, ms, 100.0 * ms / total, ms / a_w.median);
    };
    part("tensor_grid, both sides", bd->grid);
    part("describe_side(reference)  (compute_stats: 2 passes)", bd->describe_ref);
    part("real_values(reference)    (the copy run_drift keeps)", bd->real_ref);
    part("describe_side(int8)", bd->describe_other);
    part("real_values(int8)         (dequantize)", bd->real_other);
    part("measure_drift, every pair", bd->drift);
    fmt::print("  {:<52} {:8.2f} ms  (measure_ms of (b) minus mapping: {:.2f} ms)\n", "sum", total,
               meas_b.median - p.map.wall_stats().median);
  }
  double check_extra_w = 0, check_extra_c = 0;
  if (o.check) {
    const Stats c_w = p.diff_check.wall_stats(), c_c = p.diff_check.cpu_stats(), or_w = p.oracle.wall_stats(),
                or_c = p.oracle.cpu_stats();
    check_extra_w = c_w.median - b_w.median;
    check_extra_c = c_c.median - b_c.median;
    fmt::print("Report::timings of (c), medians: ref_ms {:.2f}, other_ms {:.2f}, measure_ms {:.2f} (the oracle run "
               "is in neither ref_ms nor other_ms)\n",
               stats_of(p.check_ref_ms).median, stats_of(p.check_other_ms).median,
               stats_of(p.check_measure_ms).median);
    fmt::print("kernel check extra (c) - (b) = {:.2f} ms wall ({:.2f} ms CPU) = {:.3f}x (a); the oracle alone {:.2f} "
               "ms ({:.2f} ms CPU), so keeping and comparing its tensors costs {:.2f} ms wall, {:.2f} ms CPU\n",
               check_extra_w, check_extra_c, check_extra_w / a_w.median, or_w.median, or_c.median,
               check_extra_w - or_w.median, check_extra_c - or_c.median);
    const Report& r = p.last_check;
    int64_t differ_pairs = 0;
    for (const PairRecord& pr : r.pairs) differ_pairs += pr.has_kernel_check && pr.kernel_differ > 0;
    fmt::print("sanity (c): {} pairs measured, first divergence at {}, top-1 agreement {:.2f}, {} pairs where "
               "oneDNN and the oracle differ\n",
               r.pairs.size(), r.first_divergence, r.top1_agreement, differ_pairs);
  } else {
    fmt::print("sanity (b): {} pairs measured, first divergence at {}, top-1 agreement {:.2f}\n",
               p.last_diff.pairs.size(), p.last_diff.first_divergence, p.last_diff.top1_agreement);
  }

  // ---- memory ----
  fmt::print("\npeak memory, one run per fresh child process (setup = load, lower, create kernels; excluded):\n");
  fmt::print("  this process's ru_maxrss when it spawned them: {:.1f} MB (a child's ru_maxrss starts from its "
             "parent's at spawn)\n",
             static_cast<double>(parent_maxrss) / 1e3);
  fmt::print("  {:<12} {:>14} {:>14} {:>16} {:>16} {:>14}\n", "mode", "RSS before", "HWM of run", "growth (HWM)",
             "ru_maxrss wait4", "maxrss growth");
  std::map<std::string, double> growth_mb;
  bool hwm_ok = true;
  for (const std::string& mode : modes) {
    const Child& c = children[mode];
    auto v = [&](const char* k) { return c.values.count(k) ? static_cast<double>(c.values.at(k)) / 1e3 : -1.0; };
    hwm_ok = hwm_ok && c.values.count("hwm_reset") && c.values.at("hwm_reset") == 1;
    const double growth = hwm_ok ? v("hwm_run_kb") - v("rss_before_kb") : v("maxrss_run_kb") - v("maxrss_setup_kb");
    growth_mb[mode] = growth;
    fmt::print("  {:<12} {:>11.1f} MB {:>11.1f} MB {:>13.1f} MB {:>13.1f} MB {:>11.1f} MB\n", mode, v("rss_before_kb"),
               v("hwm_run_kb"), growth, static_cast<double>(c.ru_maxrss_kb) / 1e3,
               v("maxrss_run_kb") - v("maxrss_setup_kb"));
  }
  if (!hwm_ok) fmt::print("  (clear_refs could not reset VmHWM: growth is ru_maxrss after - after setup, a lower bound)\n");
  fmt::print("  expected, from the graphs and one observed run of each executor:\n");
  fmt::print("    largest single activation (reference, f32)             {:8.2f} MB  ({})\n",
             mb(static_cast<double>(mm->largest_act_bytes)), mm->largest_act_name);
  fmt::print("    largest single tensor the reference produces           {:8.2f} MB  ({})\n",
             mb(static_cast<double>(mm->largest_ref_bytes)), mm->largest_ref_name);
  fmt::print("    reference executor's largest live set                  {:8.2f} MB\n",
             mb(static_cast<double>(mm->ref_peak_live)));
  fmt::print("    int8 executor's largest live set                       {:8.2f} MB\n",
             mb(static_cast<double>(mm->int8_peak_live)));
  fmt::print("    sum of all {} paired reference tensors as f32          {:8.2f} MB  (what run_drift keeps after the "
             "reference run)\n",
             mm->ref_paired, mb(static_cast<double>(mm->ref_paired_f32_bytes)));
  if (o.check)
    fmt::print("    sum of all {} paired int8 tensors, oracle's dtypes      {:8.2f} MB  (what the kernel check keeps "
               "until the int8 run)\n",
               mm->other_paired, mb(static_cast<double>(mm->check_paired_bytes)));
  fmt::print("    every tensor the reference produces, summed            {:8.2f} MB  ({} nodes)\n",
             mb(static_cast<double>(mm->ref_produced_bytes)), mm->ref_nodes);
  const double exec_growth = growth_mb["executors"], diff_growth = growth_mb["diff"];
  const double live_mb = mb(static_cast<double>(std::max(mm->ref_peak_live, mm->int8_peak_live)));
  const double kept_mb = mb(static_cast<double>(mm->ref_paired_f32_bytes));
  fmt::print("  diff growth - executors growth = {:.1f} MB = {:.2f}x the paired reference sum; diff growth = {:.1f}x "
             "the executors' largest live set\n",
             diff_growth - exec_growth, (diff_growth - exec_growth) / kept_mb, diff_growth / live_mb);

  fmt::print("\nratios: diff_overhead (b-a)/a = {:.3f} wall median, {:.3f} CPU median, {:.3f} wall min/min: target "
             "< 0.5 {} (wall), {} (CPU); measure_ms/a = {:.3f}",
             overhead_w, overhead_c, overhead_min, overhead_w < 0.5 ? "MET" : "MISSED",
             overhead_c < 0.5 ? "MET" : "MISSED", meas_b.median / a_w.median);
  if (o.check) fmt::print("; kernel_check (c-b)/a = {:.3f} ({:.3f} CPU)", check_extra_w / a_w.median,
                          check_extra_c / a_c.median);
  fmt::print("; peak growth diff/executors = {:.2f}x ({:.1f} / {:.1f} MB), kept/largest live = {:.1f}x\n",
             diff_growth / exec_growth, diff_growth, exec_growth, kept_mb / live_mb);
  fmt::print("load average after: {}; total {:.1f} s\n", load_average_text(), ms_between(start, Clock::now()) / 1e3);
  fmt::print("repro: {}\n", repro_line(argv0, o));
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  keep_freed_memory_for_reuse();  // as the qdrift CLI does
  Options o;
  CLI::App app{"bench_diff: run_drift's cost beyond its executors (time, and peak memory per fresh process), "
               "as ratios measured in one run"};
  app.add_option("--reps", o.reps, "alternating repetitions of every phase")->check(CLI::Range(1, 10000));
  app.add_option("--threads", o.threads, "OpenMP threads of every executor (0 = omp_get_max_threads())")
      ->check(CLI::Range(0, 1024));
  app.add_option("--seed", o.seed, "seed of the weights and the input");
  app.add_flag("!--no-check", o.check, "skip the kernel check (the integer oracle) and its baseline");
  app.add_option("--depth", o.depth,
                 "0: MobileNetV2; N >= 2: a chain of N convolutions (56x56x32, depthwise and pointwise in turn), "
                 "for memory against depth")
      ->check(CLI::Range(0, 1000));
  app.add_flag("!--no-local-drift", o.local_drift, "run_drift without local drift (DriftOptions::local_drift)");
  app.add_flag("--keep", o.keep, "keep the generated model in /tmp/qdrift_bench_diff_*");
  app.add_option("--mode", o.mode, "run one phase alone and print 'key value' lines (what the children run)")
      ->check(CLI::IsMember({"build", "executors", "oracle", "diff", "diff_check"}));
  app.add_option("--dir", o.dir, "(with --mode) the model directory")->group("");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? kExitOk : kExitBadInput;
  }
  if (o.threads > 0) omp_set_num_threads(o.threads);
  o.threads = omp_get_max_threads();
  if (!o.mode.empty()) return mode_main(o);
  return bench_main(o, argv[0]);
}
