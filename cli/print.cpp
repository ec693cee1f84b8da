#include "cli/print.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include <fmt/format.h>

#include "core/quant_math.h"

namespace qdrift::cli {

namespace {

// Display width of UTF-8 text: code points (tensor names are mostly ASCII).
size_t text_width(std::string_view s) {
  size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

struct Column {
  std::string header;
  bool right_aligned = false;
  size_t max_width = 0;  // 0 = unlimited; longer cells overflow rather than being cut
};

void print_table(const std::vector<Column>& cols, const std::vector<std::vector<std::string>>& rows, std::FILE* out) {
  std::vector<size_t> width(cols.size());
  for (size_t c = 0; c < cols.size(); ++c) {
    width[c] = text_width(cols[c].header);
    for (const auto& row : rows) width[c] = std::max(width[c], text_width(row[c]));
    if (cols[c].max_width) width[c] = std::min(width[c], std::max(cols[c].max_width, text_width(cols[c].header)));
  }
  auto print_row = [&](auto cell_of) {
    std::string line = "  ";
    for (size_t c = 0; c < cols.size(); ++c) {
      const std::string& cell = cell_of(c);
      const size_t pad = width[c] > text_width(cell) ? width[c] - text_width(cell) : 0;
      const bool last = c + 1 == cols.size();
      if (cols[c].right_aligned) line.append(pad, ' ');
      line += cell;
      if (!cols[c].right_aligned && !last) line.append(pad, ' ');
      if (!last) line += "  ";
    }
    fmt::print(out, "{}\n", line);
  };
  print_row([&](size_t c) -> const std::string& { return cols[c].header; });
  for (const auto& row : rows) print_row([&](size_t c) -> const std::string& { return row[c]; });
}

std::string_view dtype_label(DType t) { return t == DType::undefined ? std::string_view("?") : dtype_name(t); }

}  // namespace

std::string format_element(double v, DType t) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  if (t == DType::f32) return fmt::format("{}", static_cast<float>(v));  // shortest exact repr
  if (dtype_is_integer(t) || t == DType::boolean) return fmt::format("{}", static_cast<int64_t>(v));
  return fmt::format("{:.7g}", v);
}

std::string format_mean(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  return fmt::format("{:.7g}", v);
}

void print_run_header(const RunRecord& r, std::FILE* out) {
  fmt::print(out, "model     {}  (opset {}, {} node{})\n", r.model_path, r.opset, r.node_count,
             r.node_count == 1 ? "" : "s");
  if (r.policy.empty())
    fmt::print(out, "executor  {}  (fake-quant range {}, rounding {})\n", r.executor,
               quant_range_name(r.fake_quant.range), rounding_name(r.fake_quant.rounding));
  else
    fmt::print(out, "executor  {}  (policy {})\n", r.executor, r.policy);
  for (const std::string& note : r.notes) fmt::print(out, "note      {}\n", note);
  for (const TensorRecord& in : r.inputs)
    fmt::print(out, "input     {}  {} {}  <- {}{}\n", in.name, dtype_label(in.dtype), shape_str(in.shape), in.file,
               in.member.empty() ? std::string() : fmt::format(" (member '{}')", in.member));
  fmt::print(out, "time      load {:.2f} ms, run {:.2f} ms\n", r.load_ms, r.run_ms);
}

void print_tensor_table(std::span<const TensorRecord> rows, std::string_view what, std::FILE* out) {
  bool any_nan = false, any_inf = false;
  for (const TensorRecord& t : rows) {
    any_nan |= t.stats.nan_count > 0;
    any_inf |= t.stats.inf_count > 0;
  }
  std::vector<Column> cols = {{"#", true},     {std::string(what), false, 60},
                              {"op", false},   {"dtype", false},
                              {"shape", false}, {"avg", true},
                              {"min", true},   {"max", true},
                              {"argmax", true}, {"std", true}};
  if (any_nan) cols.push_back({"nan", true});
  if (any_inf) cols.push_back({"inf", true});

  std::vector<std::vector<std::string>> cells;
  for (size_t i = 0; i < rows.size(); ++i) {
    const TensorRecord& t = rows[i];
    const TensorStats& s = t.stats;
    std::vector<std::string> row = {std::to_string(i), t.name, t.op.empty() ? "-" : t.op,
                                    std::string(dtype_label(t.dtype)), shape_str(t.shape)};
    const int64_t finite = s.count - s.nan_count - s.inf_count;
    const bool has_max = t.has_stats && s.argmax >= 0;  // false for empty or all-NaN tensors
    row.push_back(t.has_stats && finite > 0 ? format_mean(s.avg) : "-");
    row.push_back(has_max ? format_element(s.min, t.dtype) : "-");
    row.push_back(has_max ? format_element(s.max, t.dtype) : "-");
    row.push_back(has_max ? std::to_string(s.argmax) : "-");
    row.push_back(t.has_stats && finite > 0 ? format_mean(s.std) : "-");
    if (any_nan) row.push_back(std::to_string(s.nan_count));
    if (any_inf) row.push_back(std::to_string(s.inf_count));
    cells.push_back(std::move(row));
  }
  print_table(cols, cells, out);
}

void print_nonfinite_warning(std::span<const TensorRecord> rows, std::FILE* out) {
  size_t count = 0;
  const TensorRecord* first = nullptr;
  for (const TensorRecord& t : rows)
    if (t.stats.nan_count > 0 || t.stats.inf_count > 0) {
      ++count;
      if (!first) first = &t;
    }
  if (!first) return;
  fmt::print(out, "warning: {} tensor{} NaN or Inf; the first is '{}'{} ({} NaN, {} Inf of {}); avg and std "
                  "cover the finite values only\n",
             count, count == 1 ? " holds" : "s hold", first->name,
             first->node.empty() ? std::string() : fmt::format(" from node '{}' ({})", first->node, first->op),
             first->stats.nan_count, first->stats.inf_count, first->stats.count);
}

}  // namespace qdrift::cli
