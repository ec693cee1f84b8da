// report_text.h: the drift report as a text table for the terminal.
//
//   fmt::print("{}", format_report_text(report, {.max_rows = 40}));
//
// One row per pair in reference order: the reference tensor, the other tensor, how they
// were matched, dtypes, max error in steps, SQNR, cosine, and a mark on the first divergent
// pair; then unmatched tensors, NaN/Inf findings and cause hints. Reads the Report only.
#pragma once

#include <string>
#include <vector>

#include "diff/report.h"

namespace qdrift {

struct ReportTextOptions {
  size_t max_rows = 0;          // 0: every pair; else the first divergence's neighbourhood and the worst pairs
  bool show_histogram = false;  // the steps histogram of every row
  bool wide = false;            // full tensor names instead of shorten_names()
};

std::string format_report_text(const Report& r, const ReportTextOptions& options = {});

// The names of one table column, each shortened to at most `max_width` code points while
// keeping what tells the rows apart: path segments repeated in the next one ("blocks" in
// "/blocks/blocks.3"), the tail every row shares ("_output_0"), then the segments most rows
// share go first ("..." marks them); the last segment stays. Control characters become '?'.
//   "/blocks/blocks.3/expand/q/QuantizeLinear_output_0" -> "/blocks.3/expand/q/QuantizeLinear"
std::vector<std::string> shorten_names(const std::vector<std::string>& names, size_t max_width);

}  // namespace qdrift
