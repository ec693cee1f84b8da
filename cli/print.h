// print.h: the text printers of `qdrift run`, reading a RunRecord (never computing stats).
//
//   print_run_header(record, stdout);                       // model, executor, inputs, time
//   print_tensor_table(record.tensors, "tensor", stdout);   // --stats: one row per tensor
//   print_tensor_table(record.outputs, "output", stdout);   // always: the graph outputs
//
//      #  tensor     op    dtype  shape      avg        min  max   argmax  std
//      0  conv1_out  Conv  f32    [1,8,4,4]  0.2431903  -1.5 2.25  17      0.7012
//
// Numbers: element values (min, max) print exactly (shortest float repr, integers as
// integers); avg and std with 7 significant digits. NaN and Inf counts get their own
// columns whenever any row has them, and a warning line names the first such tensor.
#pragma once

#include <cstdio>
#include <span>
#include <string>
#include <string_view>

#include "cli/run_record.h"

namespace qdrift::cli {

void print_run_header(const RunRecord& r, std::FILE* out);
// `what` is the header of the name column ("tensor", "output", "input").
void print_tensor_table(std::span<const TensorRecord> rows, std::string_view what, std::FILE* out);
// One "warning:" line per table if any tensor holds NaN or Inf; nothing otherwise.
void print_nonfinite_warning(std::span<const TensorRecord> rows, std::FILE* out);

// Cell text of a statistic: element values exact for the dtype, "-" when undefined.
std::string format_element(double v, DType t);
std::string format_mean(double v);

}  // namespace qdrift::cli
