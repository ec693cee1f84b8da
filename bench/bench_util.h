// bench_util.h: the clocks every benchmark reads.
//
//   const Clock::time_point t0 = Clock::now();  const double cpu0 = process_cpu_ms();
//   ... work ...
//   fmt::print("{:.2f} ms wall, {:.2f} ms CPU\n", ms_between(t0, Clock::now()), process_cpu_ms() - cpu0);
#pragma once

#include <time.h>

#include <chrono>

namespace bench {

using Clock = std::chrono::steady_clock;

inline double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

// CPU time of the whole process (user + sys, every thread), in ms. On a machine shared with
// other work, a single-threaded run's CPU time is its latency without the waits for a core.
inline double process_cpu_ms() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

}  // namespace bench
