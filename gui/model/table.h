// table.h: the layer table's order, filter and colours, as data (no ImGui): which pairs
// show, in which order, and how severe each one is. The table panel only draws this.
//
//   TableQuery q{.filter = {.name_regex = "conv", .divergent_only = true},
//                .sort = {.column = Column::steps, .descending = true}};
//   QD_ASSIGN_OR_RETURN(std::vector<size_t> rows, visible_rows(report, q));   // pair indices
//   Severity s = pair_severity(report.pairs[rows[0]], report.thresholds);
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "diff/report.h"

namespace qdrift::gui {

// Table columns, left to right: the pair, its drift, then each side's native statistics
// (the seed issue's avg/min/max/argmax).
enum class Column : uint8_t {
  index,  // execution order (position in Report::pairs)
  ref_tensor,
  other_tensor,
  method,
  ref_dtype,
  other_dtype,
  max_abs,
  steps,   // max error in steps of the reference scale
  sqnr_db,
  cosine,
  differ,  // % of elements that differ
  ref_avg,
  ref_min,
  ref_max,
  ref_argmax,
  other_avg,
  other_min,
  other_max,
  other_argmax,
  count_,
};
inline constexpr int kColumnCount = static_cast<int>(Column::count_);
std::string_view column_name(Column c);  // header text: "ref tensor", "SQNR dB", ...
bool column_is_text(Column c);           // sorted by text, not by number

// How a pair looks in the table and the depth plot.
enum class Severity : uint8_t {
  identical,  // no element differs
  within,     // differs, but within the thresholds
  divergent,  // over the thresholds (PairRecord::divergent)
};
Severity pair_severity(const PairRecord& p);

struct TableFilter {
  std::string name_regex;       // RE2 over both tensor names (either matches); "" = all
  bool divergent_only = false;
};
struct SortOrder {
  Column column = Column::index;
  bool descending = false;
};
struct TableQuery {
  TableFilter filter;
  SortOrder sort;
};

// The number a column sorts by (NaN sorts last); text columns return 0.
double column_number(const PairRecord& p, size_t index, Column c);
// The text a column shows and, for text columns, sorts by.
std::string column_text(const PairRecord& p, size_t index, Column c);

// Indices into report.pairs that pass the filter, in the sort order (ties keep execution
// order). A bad regex is invalid_input naming it.
Result<std::vector<size_t>> visible_rows(const Report& report, const TableQuery& query);

}  // namespace qdrift::gui
