// progress.h: progress of a long loop on stderr: a bar with the rate and the time left on a
// terminal, a plain line every 10% (at most one per second) otherwise, so logs stay short.
// No Debian 12 package offers a C++ progress bar (indicators, tqdm.cpp are not packaged).
//
//   Progress p("eval", n);
//   for (int64_t i = 0; i < n; ++i) { work(i); p.advance(); }
//   p.finish();
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace qdrift::cli {

class Progress {
 public:
  Progress(std::string label, int64_t total);
  void advance();  // one more item done
  void finish();   // the last line (a newline after the bar on a terminal)

 private:
  void draw(bool last);
  std::string label_;
  int64_t total_ = 0;
  int64_t done_ = 0;
  int64_t next_line_at_ = 0;  // plain mode: the count of the next line
  bool tty_ = false;
  bool finished_ = false;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace qdrift::cli
