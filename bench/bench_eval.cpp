// bench_eval: qdrift eval's throughput against the executors' own time on the same inputs.
//
//   build/bench/bench_eval [--model testdata/qat/mbv3.onnx] [--inputs ..._inputs.npy] [--count 100] [--reps 5]
//
// Baseline: per input, the three executors eval runs (fp32, fake-quant reference, int8 on
// oneDNN) with no observer. Measured: diff::eval_run over the same inputs (run_drift with
// its observers and measures, the fp32 run, the ranking and aggregation). Reps alternate
// baseline and eval; medians of CPU time (single-threaded: OMP_NUM_THREADS=1 unless set)
// and wall time are printed with their ratio executors/eval (target >= 0.9).
#include <cstdlib>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "bench/bench_util.h"
#include "core/int8_policy.h"
#include "core/lower.h"
#include "core/onnx_loader.h"
#include "core/passes.h"
#include "core/tensor_io.h"
#include "diff/eval.h"
#include "kernels/onednn/onednn_kernels.h"
#include "kernels/ref/ref_kernels.h"

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  using namespace qdrift;
  setenv("OMP_NUM_THREADS", "1", 0);
  std::string model_path = std::string(QDRIFT_SOURCE_DIR) + "/testdata/qat/mbv3.onnx";
  std::string inputs_path;
  int64_t count = 100;
  int reps = 5;
  CLI::App app{"qdrift eval throughput against the executors' own time"};
  app.add_option("--model", model_path);
  app.add_option("--inputs", inputs_path, "batch .npy (default: <model>_inputs.npy)");
  app.add_option("--count", count);
  app.add_option("--reps", reps);
  CLI11_PARSE(app, argc, argv);
  if (inputs_path.empty()) inputs_path = model_path.substr(0, model_path.size() - 5) + "_inputs.npy";

  auto fail = [](const Status& s) {
    fmt::print(stderr, "bench_eval: {}\n", s.message());
    return 2;
  };
  auto model = load_onnx(model_path);
  if (!model) return fail(model.status());
  auto policy = int8_policy_preset("onnx");
  if (!policy) return fail(policy.status());
  auto lowered = lower(*model, *policy);
  if (!lowered) return fail(lowered.status());
  const Graph fp32_graph = strip_qdq(*model);
  auto ref = Executor::create(*model, ref_kernel_table(), {});
  auto fp32 = Executor::create(fp32_graph, ref_kernel_table(), {});
  auto int8 = Executor::create(lowered->graph, onednn_kernel_table(), {});
  if (!ref || !fp32 || !int8) return fail(!ref ? ref.status() : !fp32 ? fp32.status() : int8.status());
  auto batch = read_tensor_file(inputs_path);
  if (!batch) return fail(batch.status());
  count = std::min<int64_t>(count, batch->shape[0]);
  Shape one = model->value(model->inputs[0]).shape;
  one[0] = 1;
  std::vector<std::vector<Tensor>> feeds;
  for (int64_t i = 0; i < count; ++i) {
    Tensor t = Tensor::uninitialized(batch->dtype, one);
    std::memcpy(t.bytes.data(), batch->bytes.data() + static_cast<size_t>(i) * t.nbytes(), t.nbytes());
    feeds.push_back({std::move(t)});
  }

  std::vector<double> base_cpu, base_wall, eval_cpu, eval_wall;
  for (int r = 0; r < reps + 1; ++r) {  // the first rep warms up and is dropped
    double c0 = bench::process_cpu_ms();
    auto t0 = bench::Clock::now();
    for (const auto& f : feeds) {
      for (const Executor* ex : {&*fp32, &*ref, &*int8}) {
        auto out = ex->run(f);
        if (!out) return fail(out.status());
      }
    }
    const double bc = bench::process_cpu_ms() - c0, bw = bench::ms_between(t0, bench::Clock::now());
    EvalReport e;
    c0 = bench::process_cpu_ms();
    t0 = bench::Clock::now();
    const Status s = eval_run(e, {&*fp32, &*ref, &*int8}, [&](int64_t i) -> Result<std::vector<Tensor>> {
      return feeds[static_cast<size_t>(i)];
    }, 0, count, {});
    if (!s) return fail(s);
    const double ec = bench::process_cpu_ms() - c0, ew = bench::ms_between(t0, bench::Clock::now());
    if (r == 0) continue;
    base_cpu.push_back(bc);
    base_wall.push_back(bw);
    eval_cpu.push_back(ec);
    eval_wall.push_back(ew);
  }
  const double bc = median(base_cpu), ec = median(eval_cpu), bw = median(base_wall), ew = median(eval_wall);
  const OnednnRuntimeInfo info = onednn_runtime_info();
  fmt::print("bench_eval --model {} --count {} --reps {}   (oneDNN {}, isa {}, OMP_NUM_THREADS={})\n", model_path,
             count, reps, info.version, info.isa, std::getenv("OMP_NUM_THREADS"));
  fmt::print("executors (fp32 + fake-quant + int8): {:8.2f} ms CPU {:8.2f} ms wall  ({:.3f} ms CPU per input)\n", bc,
             bw, bc / static_cast<double>(count));
  fmt::print("eval_run:                             {:8.2f} ms CPU {:8.2f} ms wall  ({:.3f} ms CPU per input)\n", ec,
             ew, ec / static_cast<double>(count));
  const double ratio = bc / ec;
  fmt::print("throughput eval / executors: {:.3f} (CPU), {:.3f} (wall); target >= 0.9: {}\n", ratio, bw / ew,
             ratio >= 0.9 ? "PASSED" : "FAILED");
  return 0;
}
