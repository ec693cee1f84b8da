#include "gui/model/live_run.h"

#include <algorithm>
#include <chrono>

#include <omp.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cli/common_options.h"

namespace qdrift::gui {

LiveRunner::LiveRunner() : thread_([this] { worker(); }) {}

LiveRunner::~LiveRunner() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void LiveRunner::start(const cli::DiffOptions& options) {
  {
    std::lock_guard lock(mu_);
    queued_ = options;
    busy_ = true;
  }
  cv_.notify_all();
}

double LiveRunner::progress() const {
  const int64_t expected = expected_.load();
  if (expected <= 0) return -1;
  return std::min(1.0, static_cast<double>(produced_.load()) / static_cast<double>(expected));
}

std::optional<LiveResult> LiveRunner::take_result() {
  std::lock_guard lock(mu_);
  std::optional<LiveResult> r = std::move(done_);
  done_.reset();
  return r;
}

void LiveRunner::wait_idle() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return !busy_.load(); });
}

void LiveRunner::worker() {
  // The window must stay responsive while a run is in flight: this thread (and the OpenMP
  // team it starts, which inherits it) runs at a lower priority and leaves one core free.
  setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), 10);
  omp_set_num_threads(std::max(1, omp_get_num_procs() - 1));
  for (;;) {
    cli::DiffOptions options;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stop_ || queued_.has_value(); });
      if (stop_) return;
      options = std::move(*queued_);
      queued_.reset();
    }
    produced_ = 0;
    auto store = std::make_shared<TensorStore>();
    const auto t0 = std::chrono::steady_clock::now();
    // The observer runs on this thread; only the counter is read by the drawing thread.
    Result<Report> report = cli::make_diff_report(
        options, [&](bool ref_side, const Node&, size_t, const Value& value, const Tensor& tensor) {
          (ref_side ? store->ref : store->other).insert_or_assign(value.name, tensor);
          produced_.fetch_add(1);
        });
    LiveResult result;
    result.ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    result.options = std::move(options);
    if (report) {
      result.report = std::move(*report);
      result.tensors = std::move(store);
    } else {
      result.status = report.status();
    }
    expected_ = produced_.load();
    {
      std::lock_guard lock(mu_);
      done_ = std::move(result);
      if (!queued_) busy_ = false;
    }
    cv_.notify_all();
  }
}

const std::vector<std::string>& policy_presets() {
  static const std::vector<std::string> kPresets = {"onnx", "paddle-onednn", "paddle-lite-arm"};
  return kPresets;
}

Result<std::vector<KnobChoice>> policy_choices(const std::string& preset, const std::vector<std::string>& sets) {
  QD_ASSIGN_OR_RETURN(Int8Policy policy, cli::int8_policy_from(preset, sets));
  // The values int8_policy_set accepts for the enumerated knobs (core/int8_policy.h); the
  // free-form ones (fp32_ops, skip_nodes) offer what the presets use.
  std::vector<KnobChoice> out;
  for (const auto& [knob, value] : int8_policy_knobs(policy)) {
    KnobChoice c{knob, value, {}};
    if (knob == "range") c.values = {"[-128,127]", "[-127,127]"};
    else if (knob == "unsigned_after_relu") c.values = {"off", "on"};
    else if (knob == "bias") c.values = {"model", "s32", "f32"};
    else if (knob == "weights") c.values = {"model", "requantize"};
    else if (knob == "rounding") c.values = {"half_even", "half_away"};
    else if (knob == "act_order") c.values = {"exact", "after_scale"};
    for (const std::string& p : policy_presets()) {
      QD_ASSIGN_OR_RETURN(Int8Policy other, cli::int8_policy_from(p, {}));
      for (const auto& [k, v] : int8_policy_knobs(other))
        if (k == knob && std::find(c.values.begin(), c.values.end(), v) == c.values.end()) c.values.push_back(v);
    }
    if (std::find(c.values.begin(), c.values.end(), value) == c.values.end()) c.values.push_back(value);
    out.push_back(std::move(c));
  }
  return out;
}

Result<std::vector<std::string>> set_knob(const std::string& preset, const std::vector<std::string>& sets,
                                          const std::string& knob, const std::string& value) {
  std::vector<std::string> out;
  for (const std::string& s : sets)
    if (s.rfind(knob + "=", 0) != 0) out.push_back(s);
  QD_ASSIGN_OR_RETURN(Int8Policy base, cli::int8_policy_from(preset, out));
  for (const auto& [k, v] : int8_policy_knobs(base))
    if (k == knob && v == value) return out;  // the preset's own value: no override needed
  out.push_back(knob + "=" + value);
  QD_RETURN_IF_ERROR(cli::int8_policy_from(preset, out).status());
  return out;
}

}  // namespace qdrift::gui
