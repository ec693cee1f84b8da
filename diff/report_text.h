// report_text.h: the drift report as a text table for the terminal.
//
//   fmt::print("{}", format_report_text(report, {.max_rows = 40}));
//
// One row per pair in reference order: the reference tensor, the other tensor, how they
// were matched, dtypes, max error in steps, SQNR, cosine, and a mark on the first divergent
// pair; then unmatched tensors, NaN/Inf findings and cause hints. Reads the Report only.
#pragma once

#include <string>

#include "diff/report.h"

namespace qdrift {

struct ReportTextOptions {
  size_t max_rows = 0;          // 0: every pair; else the first divergence's neighbourhood and the worst pairs
  bool show_histogram = false;  // the steps histogram of every row
};

std::string format_report_text(const Report& r, const ReportTextOptions& options = {});

}  // namespace qdrift
