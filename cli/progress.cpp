#include "cli/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include <fmt/format.h>

namespace qdrift::cli {

namespace {

std::string duration_str(double s) {
  if (!(s >= 0) || s > 359999) return "?";
  const auto t = static_cast<int64_t>(s + 0.5);
  if (t >= 3600) return fmt::format("{}h{:02}m", t / 3600, t / 60 % 60);
  if (t >= 60) return fmt::format("{}m{:02}s", t / 60, t % 60);
  return fmt::format("{}s", t);
}

}  // namespace

Progress::Progress(std::string label, int64_t total)
    : label_(std::move(label)), total_(total), tty_(::isatty(STDERR_FILENO) == 1),
      start_(std::chrono::steady_clock::now()), last_draw_(start_) {
  next_line_at_ = std::max<int64_t>(1, total_ / 10);
}

void Progress::advance() {
  ++done_;
  const auto now = std::chrono::steady_clock::now();
  const double since_draw = std::chrono::duration<double>(now - last_draw_).count();
  if (tty_ ? since_draw >= 0.1 : (done_ >= next_line_at_ && since_draw >= 1.0)) draw(false);
}

void Progress::finish() {
  if (finished_) return;
  finished_ = true;
  draw(true);
}

void Progress::draw(bool last) {
  const auto now = std::chrono::steady_clock::now();
  last_draw_ = now;
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const double rate = elapsed > 0 ? static_cast<double>(done_) / elapsed : 0.0;
  const double left = rate > 0 ? static_cast<double>(total_ - done_) / rate : -1.0;
  if (tty_) {
    constexpr int kWidth = 30;
    const int filled = total_ > 0 ? static_cast<int>(kWidth * done_ / total_) : kWidth;
    fmt::print(stderr, "\r{} [{:=<{}}{: <{}}] {}/{} {:.1f}/s {} left{}", label_, "", filled, "", kWidth - filled, done_,
               total_, rate, last ? "0s" : duration_str(left), last ? "\n" : "   ");
  } else {
    fmt::print(stderr, "{}: {}/{} inputs, {:.1f}/s, {} {}\n", label_, done_, total_, rate,
               last ? duration_str(elapsed) : duration_str(left), last ? "in all" : "left");
    while (next_line_at_ <= done_) next_line_at_ += std::max<int64_t>(1, total_ / 10);
  }
  std::fflush(stderr);
}

}  // namespace qdrift::cli
