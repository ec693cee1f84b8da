#include "gui/model/table.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "diff/user_regex.h"

namespace qdrift::gui {

namespace {

constexpr std::string_view kColumnNames[] = {
    "#",         "ref tensor", "other tensor", "method",     "ref dtype",    "other dtype", "max abs",
    "steps",     "SQNR dB",    "cosine",       "differ %",   "ref avg",      "ref min",     "ref max",
    "ref argmax", "other avg", "other min",    "other max",  "other argmax",
};
static_assert(std::size(kColumnNames) == kColumnCount, "one header per column");

}  // namespace

std::string_view column_name(Column c) { return kColumnNames[static_cast<size_t>(c)]; }

bool column_is_text(Column c) {
  switch (c) {
    case Column::ref_tensor:
    case Column::other_tensor:
    case Column::method:
    case Column::ref_dtype:
    case Column::other_dtype:
      return true;
    default:
      return false;
  }
}

Severity pair_severity(const PairRecord& p) {
  if (p.divergent) return Severity::divergent;
  const bool differs = p.drift.frac_differ > 0 || p.drift.nan_ref + p.drift.inf_ref + p.drift.nan_other +
                                                         p.drift.inf_other > 0;
  return differs ? Severity::within : Severity::identical;
}

double column_number(const PairRecord& p, size_t index, Column c) {
  const double nan = std::nan("");
  switch (c) {
    case Column::index: return static_cast<double>(index);
    case Column::ref_avg: return p.ref.stats.avg;
    case Column::ref_min: return p.ref.stats.min;
    case Column::ref_max: return p.ref.stats.max;
    case Column::ref_argmax: return static_cast<double>(p.ref.stats.argmax);
    case Column::other_avg: return p.other.stats.avg;
    case Column::other_min: return p.other.stats.min;
    case Column::other_max: return p.other.stats.max;
    case Column::other_argmax: return static_cast<double>(p.other.stats.argmax);
    case Column::max_abs: return p.drift.max_abs;
    case Column::steps: return p.drift.has_steps ? p.drift.max_abs_steps : nan;
    case Column::sqnr_db: return p.drift.sqnr_db;
    case Column::cosine: return p.drift.cosine;
    case Column::differ: return 100.0 * p.drift.frac_differ;
    default: return 0;
  }
}

std::string column_text(const PairRecord& p, size_t index, Column c) {
  switch (c) {
    case Column::index: return fmt::format("{}", index);
    case Column::ref_tensor: return p.ref.tensor;
    case Column::other_tensor: return p.other.tensor;
    case Column::method: return std::string(match_method_name(p.method));
    case Column::ref_dtype: return std::string(dtype_name(p.ref.dtype));
    case Column::other_dtype: return std::string(dtype_name(p.other.dtype));
    case Column::ref_argmax:
    case Column::other_argmax: return fmt::format("{}", static_cast<int64_t>(column_number(p, index, c)));
    case Column::steps:
      if (!p.drift.has_steps) return "-";
      return fmt::format("{:.3g}", p.drift.max_abs_steps);
    case Column::sqnr_db: {
      const double v = p.drift.sqnr_db;
      return std::isinf(v) ? (v > 0 ? "inf" : "-inf") : fmt::format("{:.1f}", v);
    }
    case Column::cosine: return fmt::format("{:.6f}", p.drift.cosine);
    case Column::differ: return fmt::format("{:.2f}", 100.0 * p.drift.frac_differ);
    default: return fmt::format("{:.5g}", column_number(p, index, c));
  }
}

Result<std::vector<size_t>> visible_rows(const Report& report, const TableQuery& query) {
  UserRegex re;
  const bool by_name = !query.filter.name_regex.empty();
  if (by_name) {
    QD_ASSIGN_OR_RETURN(re, UserRegex::compile(query.filter.name_regex, "name filter"));
  }
  std::vector<size_t> rows;
  for (size_t i = 0; i < report.pairs.size(); ++i) {
    const PairRecord& p = report.pairs[i];
    if (query.filter.divergent_only && !p.divergent) continue;
    if (by_name && !re.search(p.ref.tensor) && !re.search(p.other.tensor)) continue;
    rows.push_back(i);
  }
  const Column c = query.sort.column;
  const bool desc = query.sort.descending;
  if (column_is_text(c)) {
    std::stable_sort(rows.begin(), rows.end(), [&](size_t a, size_t b) {
      const std::string ta = column_text(report.pairs[a], a, c), tb = column_text(report.pairs[b], b, c);
      return desc ? tb < ta : ta < tb;
    });
  } else {
    std::stable_sort(rows.begin(), rows.end(), [&](size_t a, size_t b) {
      const double va = column_number(report.pairs[a], a, c), vb = column_number(report.pairs[b], b, c);
      if (std::isnan(va) || std::isnan(vb)) return !std::isnan(va) && std::isnan(vb);  // NaN last either way
      return desc ? vb < va : va < vb;
    });
  }
  return rows;
}

}  // namespace qdrift::gui
