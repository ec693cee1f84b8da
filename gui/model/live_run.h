// live_run.h: `qdrift-gui MODEL ...` re-runs the diff in a background thread when the user
// changes the policy; the window keeps drawing the previous result meanwhile.
//
//   LiveRunner runner;
//   runner.start(options);                 // returns at once; a run in flight finishes first
//   ... every frame: draw runner.progress() while runner.busy() ...
//   if (std::optional<LiveResult> r = runner.take_result()) inspector.show_report(...);
//
// Progress is a pair of atomics the drift observer bumps (paired tensors produced so far /
// produced by the previous run); nothing else is shared with the drawing thread but the
// finished result, handed over under a mutex.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "cli/diff_command.h"
#include "gui/model/inspector.h"

namespace qdrift::gui {

struct LiveResult {
  cli::DiffOptions options;                 // what ran
  Status status;                            // the run's error, if any (report then empty)
  Report report;
  std::shared_ptr<const TensorStore> tensors;
  double ms = 0;                            // wall time of the run
};

class LiveRunner {
 public:
  LiveRunner();
  ~LiveRunner();  // waits for a run in flight
  LiveRunner(const LiveRunner&) = delete;
  LiveRunner& operator=(const LiveRunner&) = delete;

  // Queues a run; when one is in flight, the latest queued options run after it.
  void start(const cli::DiffOptions& options);
  bool busy() const { return busy_.load(); }
  // 0..1 for the run in flight; -1 when unknown (the first run has nothing to compare with).
  double progress() const;
  // The finished run, once.
  std::optional<LiveResult> take_result();
  // Blocks until nothing is queued or running (tests, screenshot mode).
  void wait_idle();

 private:
  void worker();

  std::mutex mu_;
  std::condition_variable cv_;
  std::optional<cli::DiffOptions> queued_;
  std::optional<LiveResult> done_;
  bool stop_ = false;
  std::atomic<bool> busy_{false};
  std::atomic<int64_t> produced_{0};
  std::atomic<int64_t> expected_{0};       // paired tensors the previous run produced
  std::thread thread_;                     // last: starts after the members it uses
};

// One policy knob as the policy panel offers it.
struct KnobChoice {
  std::string knob;                        // "bias"
  std::string value;                       // the current value, as --set takes it
  std::vector<std::string> values;         // what the combo offers (includes value)
};

// The presets (`--policy`), in the order the docs list them.
const std::vector<std::string>& policy_presets();
// Every knob of `preset` with `sets` applied, with the values each can take (bad sets: error).
Result<std::vector<KnobChoice>> policy_choices(const std::string& preset, const std::vector<std::string>& sets);
// `sets` with knob=value in place of any earlier setting of that knob; a value equal to the
// preset's own drops the setting.
Result<std::vector<std::string>> set_knob(const std::string& preset, const std::vector<std::string>& sets,
                                          const std::string& knob, const std::string& value);

}  // namespace qdrift::gui
