#include "diff/report_text.h"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <map>
#include <limits>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace qdrift {

namespace {

constexpr size_t kMaxNameWidth = 40;  // longer tensor names are shortened (shorten_names)

// "rule", or for structure and value pairs the confidence too ("value 0.93"), and the other
// side's layout when it is not the reference's ("structure 0.88 nhwc").
std::string method_cell(const PairRecord& p) {
  std::string cell(match_method_name(p.method));
  if (p.method == MatchMethod::structure || p.method == MatchMethod::value) cell += fmt::format(" {:.2f}", p.confidence);
  if (!p.other_layout.empty()) cell += " " + p.other_layout;
  return cell;
}

constexpr size_t kMaxUnmatchedListed = 10;
constexpr int64_t kNeighbours = 2;    // rows shown either side of the first divergence

// Display width of UTF-8 text: code points (tensor names are mostly ASCII).
size_t text_width(std::string_view s) {
  size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

// Names come from models or a report file: control characters would break the table.
std::string printable(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  return out;
}

// "very_long_prefix...tail_of_name": keeps both ends, cut on code point boundaries.
std::string cut_middle(std::string_view s, size_t max_width) {
  std::string p = printable(s);
  if (text_width(p) <= max_width) return p;
  std::vector<size_t> starts;  // byte offset of each code point
  for (size_t i = 0; i < p.size(); ++i)
    if ((static_cast<unsigned char>(p[i]) & 0xC0) != 0x80) starts.push_back(i);
  const size_t keep = max_width - 3;
  const size_t head = (keep + 1) / 2, tail = keep - head;
  return p.substr(0, starts[head]) + "..." + (tail == 0 ? "" : p.substr(starts[starts.size() - tail]));
}

std::vector<std::string> split_path(std::string_view s) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (size_t i = 0; i <= s.size(); ++i)
    if (i == s.size() || s[i] == '/') {
      parts.emplace_back(s.substr(start, i - start));
      start = i + 1;
    }
  return parts;
}

enum class Segment : uint8_t { keep, implied, elided };  // implied: by the next segment; elided: shown as "..."

std::string join_path(const std::vector<std::string>& parts, const std::vector<Segment>& state) {
  std::vector<std::string_view> shown;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (state[i] == Segment::keep)
      shown.push_back(parts[i]);
    else if (state[i] == Segment::elided && (shown.empty() || shown.back() != "..."))
      shown.push_back("...");
  }
  return fmt::format("{}", fmt::join(shown, "/"));
}

// The longest suffix of every name's last segment that starts at a '_' or '.' (exporters'
// "_output_0"): the same in every row, it tells no two rows apart.
std::string common_tail(const std::vector<std::vector<std::string>>& paths) {
  if (paths.size() < 2) return "";
  std::string tail = paths[0].back();
  for (const auto& p : paths) {
    const std::string& last = p.back();
    size_t n = 0;
    while (n < tail.size() && n < last.size() && tail[tail.size() - 1 - n] == last[last.size() - 1 - n]) ++n;
    tail = tail.substr(tail.size() - n);
  }
  // Cut at a separator, and never the whole of any last segment.
  size_t cut = tail.find_first_of("_.");
  tail = cut == std::string::npos ? "" : tail.substr(cut);
  for (const auto& p : paths)
    if (p.back().size() <= tail.size()) return "";
  return tail;
}

}  // namespace

std::vector<std::string> shorten_names(const std::vector<std::string>& names, size_t max_width) {
  std::vector<std::vector<std::string>> paths;
  for (const std::string& n : names) paths.push_back(split_path(printable(n)));
  // In how many names each segment occurs: a segment all rows share tells none apart.
  std::map<std::string, size_t, std::less<>> frequency;
  for (const auto& p : paths) {
    std::vector<std::string> seen(p.begin(), p.end() - 1);
    std::sort(seen.begin(), seen.end());
    seen.erase(std::unique(seen.begin(), seen.end()), seen.end());
    for (const std::string& s : seen) ++frequency[s];
  }
  const std::string tail = common_tail(paths);
  std::vector<std::string> out;
  for (size_t k = 0; k < names.size(); ++k) {
    std::vector<std::string> parts = paths[k];
    std::string whole = printable(names[k]);
    if (text_width(whole) <= max_width) {
      out.push_back(std::move(whole));
      continue;
    }
    std::vector<Segment> keep(parts.size(), Segment::keep);
    const auto fits = [&] { return text_width(join_path(parts, keep)) <= max_width; };
    const size_t last = parts.size() - 1;
    // 1. A segment repeated as the start of the next ("blocks" before "blocks.3").
    for (size_t i = 0; i < last && !fits(); ++i) {
      const std::string& a = parts[i];
      const std::string& b = parts[i + 1];
      if (!a.empty() && b.size() > a.size() && b.compare(0, a.size(), a) == 0) keep[i] = Segment::implied;
    }
    // 2. The tail every row shares ("_output_0").
    if (!fits() && !tail.empty()) parts[last].resize(parts[last].size() - tail.size());
    // 3. Segments by how many rows share them, most shared first; the last segment stays.
    std::vector<size_t> order;
    for (size_t i = 0; i < last; ++i)
      if (keep[i] == Segment::keep && !parts[i].empty()) order.push_back(i);
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      return frequency.find(parts[a])->second > frequency.find(parts[b])->second;
    });
    // Only when that can make it fit: else the name is better cut in the middle whole.
    std::vector<Segment> all_elided = keep;
    for (size_t i : order) all_elided[i] = Segment::elided;
    if (text_width(join_path(parts, all_elided)) <= max_width)
      for (size_t i : order) {
        if (fits()) break;
        keep[i] = Segment::elided;
      }
    out.push_back(cut_middle(join_path(parts, keep), max_width));
  }
  return out;
}

namespace {

std::string number(double v, std::string_view spec) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  return fmt::format(fmt::runtime(spec), v);
}

std::string_view dtype_label(DType t) { return t == DType::undefined ? std::string_view("?") : dtype_name(t); }

std::string plural(int64_t n, std::string_view word) { return fmt::format("{} {}{}", n, word, n == 1 ? "" : "s"); }

std::string nonfinite_counts(const TensorStats& s) {
  if (s.nan_count == 0 && s.inf_count == 0) return "";
  return fmt::format("  ({} NaN, {} Inf of {})", s.nan_count, s.inf_count, s.count);
}

// "'conv1_out' (QConv 'conv1')", or without the producer for a graph input.
std::string side_label(const SideRecord& s) {
  std::string out = fmt::format("'{}'", printable(s.tensor));
  if (!s.node.empty() || !s.op.empty()) out += fmt::format(" ({} '{}')", printable(s.op), printable(s.node));
  return out;
}

bool has_nonfinite(const DriftMeasures& d) {
  return d.nan_ref > 0 || d.inf_ref > 0 || d.nan_other > 0 || d.inf_other > 0 || d.nonfinite_mismatch > 0;
}

// The local drift column: steps when the pair has them, else SQNR; "-" when absent.
std::string local_cell(const PairRecord& p) {
  if (!p.has_local_drift) return "-";
  const DriftMeasures& l = p.local_drift;
  return l.has_steps ? number(l.max_abs_steps, "{:.2f}") : number(l.sqnr_db, "{:.1f}") + " dB";
}

// What the first divergence's local drift says: added by this layer or inherited.
std::string local_verdict(const PairRecord& p) {
  if (!p.has_local_drift) return "";
  const DriftMeasures& l = p.local_drift;
  const std::string amount = l.nonfinite_mismatch > 0 ? plural(l.nonfinite_mismatch, "non-finite mismatch")
                             : l.has_steps            ? fmt::format("{} steps", number(l.max_abs_steps, "{:.2f}"))
                                                      : fmt::format("SQNR {} dB", number(l.sqnr_db, "{:.1f}"));
  return p.local_divergent ? fmt::format("; local drift {}: this layer adds it", amount)
                           : fmt::format("; local drift {}: inherited from earlier layers", amount);
}

// The rows to show, in reference order. With max_rows: the first divergence and its
// neighbours (nearest first), then the worst of the rest: non-finite mismatches, then
// divergent pairs, then lowest SQNR, then most steps.
std::vector<size_t> rows_to_show(const Report& r, size_t max_rows) {
  const size_t n = r.pairs.size();
  std::vector<size_t> rows;
  if (max_rows == 0 || n <= max_rows) {
    for (size_t i = 0; i < n; ++i) rows.push_back(i);
    return rows;
  }
  std::vector<bool> chosen(n, false);
  auto choose = [&](int64_t i) {
    if (i < 0 || i >= static_cast<int64_t>(n) || chosen[static_cast<size_t>(i)] || rows.size() >= max_rows) return;
    chosen[static_cast<size_t>(i)] = true;
    rows.push_back(static_cast<size_t>(i));
  };
  if (r.first_divergence >= 0) {
    choose(r.first_divergence);
    for (int64_t k = 1; k <= kNeighbours; ++k) {
      choose(r.first_divergence - k);
      choose(r.first_divergence + k);
    }
  }
  std::vector<size_t> order(n);
  for (size_t i = 0; i < n; ++i) order[i] = i;
  constexpr double kInf = std::numeric_limits<double>::infinity();
  const auto sqnr_key = [&](double db) { return std::isnan(db) ? -kInf : db; };  // NaN: worst
  const auto steps_key = [&](const DriftMeasures& d) {
    return !d.has_steps ? -kInf : std::isnan(d.max_abs_steps) ? kInf : d.max_abs_steps;
  };
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const PairRecord& pa = r.pairs[a];
    const PairRecord& pb = r.pairs[b];
    const bool na = pa.drift.nonfinite_mismatch > 0, nb = pb.drift.nonfinite_mismatch > 0;
    if (na != nb) return na;
    if (pa.divergent != pb.divergent) return pa.divergent;
    const double sa = sqnr_key(pa.drift.sqnr_db), sb = sqnr_key(pb.drift.sqnr_db);
    if (sa != sb) return sa < sb;
    return steps_key(pa.drift) > steps_key(pb.drift);
  });
  for (size_t i : order) choose(static_cast<int64_t>(i));
  std::sort(rows.begin(), rows.end());
  return rows;
}

void append_header(const Report& r, std::string& out) {
  auto o = std::back_inserter(out);
  fmt::format_to(o, "qdrift drift report ({}{}{})\n", printable(r.schema), r.tool_version.empty() ? "" : ", qdrift ",
                 printable(r.tool_version));
  const auto model = [&](std::string_view side, const ModelRecord& m, const std::string& executor) {
    fmt::format_to(o, "{:<6} {}  (opset {}, {}{}{})  executor {}\n", side, printable(m.path), m.opset,
                   plural(m.nodes, "node"), m.xxh64.empty() ? "" : ", xxh64 ", printable(m.xxh64), printable(executor));
  };
  model("ref", r.ref_model, r.ref_executor);
  model("other", r.other_model, r.other_executor);
  if (!r.policy.empty()) fmt::format_to(o, "policy {}\n", printable(r.policy));
  for (const std::string& note : r.notes) fmt::format_to(o, "note   {}\n", printable(note));
  for (const InputRecord& in : r.inputs)
    fmt::format_to(o, "input  {}  {} {}  <- {}{}{}{}\n", printable(in.name), dtype_label(in.dtype), shape_str(in.shape),
                   printable(in.file), in.member.empty() ? "" : ":", printable(in.member), nonfinite_counts(in.stats));
  fmt::format_to(o, "divergent: more than {} steps of the reference scale, or SQNR below {} dB without a scale; any NaN/Inf mismatch\n",
                 number(r.thresholds.max_steps, "{:g}"), number(r.thresholds.min_sqnr_db, "{:g}"));
}

void append_table(const Report& r, const ReportTextOptions& options, std::string& out) {
  auto o = std::back_inserter(out);
  if (r.pairs.empty()) {
    out += "\nno matched pairs\n";
    return;
  }
  const std::vector<std::string> header = {"#", "ref tensor", "other tensor", "method", "dtype",
                                           "max_abs", "steps", "local", "sqnr_db", "cosine", "differ"};
  const std::vector<bool> right = {true, false, false, false, false, true, true, true, true, true, true};
  const std::vector<size_t> shown = rows_to_show(r, options.max_rows);
  std::vector<std::string> ref_names, other_names;
  for (size_t i : shown) {
    ref_names.push_back(r.pairs[i].ref.tensor);
    other_names.push_back(r.pairs[i].other.tensor);
  }
  const size_t name_width = options.wide ? std::numeric_limits<size_t>::max() : kMaxNameWidth;
  ref_names = shorten_names(ref_names, name_width);
  other_names = shorten_names(other_names, name_width);
  std::vector<std::vector<std::string>> cells;
  for (size_t k = 0; k < shown.size(); ++k) {
    const size_t i = shown[k];
    const PairRecord& p = r.pairs[i];
    const DriftMeasures& d = p.drift;
    cells.push_back({fmt::format("{}", i), ref_names[k], other_names[k], method_cell(p),
                     fmt::format("{}->{}", dtype_label(p.ref.dtype), dtype_label(p.other.dtype)),
                     number(d.max_abs, "{:.4g}"), d.has_steps ? number(d.max_abs_steps, "{:.2f}") : "-",
                     local_cell(p), number(d.sqnr_db, "{:.1f}"), number(d.cosine, "{:.6f}"), number(d.frac_differ * 100, "{:.1f}%")});
  }
  std::vector<size_t> width(header.size());
  for (size_t c = 0; c < header.size(); ++c) {
    width[c] = text_width(header[c]);
    for (const auto& row : cells) width[c] = std::max(width[c], text_width(row[c]));
  }
  const auto line = [&](const std::vector<std::string>& row, std::string_view mark) {
    std::string s = "  ";
    for (size_t c = 0; c < row.size(); ++c) {
      const size_t pad = width[c] - text_width(row[c]);
      if (right[c]) s.append(pad, ' ');
      s += row[c];
      if (!right[c]) s.append(pad, ' ');
      s += "  ";
    }
    s += mark;
    while (!s.empty() && s.back() == ' ') s.pop_back();
    return s + "\n";
  };
  const std::string indent(2 + width[0] + 2, ' ');
  const auto gap = [&](size_t skipped) {
    if (skipped > 0) fmt::format_to(o, "  ... {} more {}\n", skipped, skipped == 1 ? "pair" : "pairs");
  };
  out += "\n" + line(header, "");
  size_t next = 0;  // first pair not yet shown or skipped
  for (size_t k = 0; k < shown.size(); ++k) {
    const size_t i = shown[k];
    gap(i - next);
    next = i + 1;
    const PairRecord& p = r.pairs[i];
    const bool first = static_cast<int64_t>(i) == r.first_divergence;
    std::string mark = first ? "<- first divergence" : p.divergent ? "<- divergent" : "";
    if (p.divergent && p.has_local_drift) mark += p.local_divergent ? " (added here)" : " (inherited)";
    out += line(cells[k], mark);
    const DriftMeasures& d = p.drift;
    if (has_nonfinite(d))
      fmt::format_to(o, "{}NaN/Inf: ref {} NaN {} Inf, other {} NaN {} Inf, {} mismatched\n", indent, d.nan_ref,
                     d.inf_ref, d.nan_other, d.inf_other, plural(d.nonfinite_mismatch, "position"));
    if (p.has_kernel_check && p.kernel_differ > 0)
      fmt::format_to(o, "{}kernel: oneDNN differs from the integer oracle at {}, max {}{}\n", indent,
                     plural(p.kernel_differ, "element"), number(p.kernel_max_abs, "{:.4g}"),
                     p.kernel_max_steps >= 0 ? fmt::format(" ({} steps)", number(p.kernel_max_steps, "{:.2f}")) : "");
    if (options.show_histogram && d.has_steps && !d.steps_histogram.empty()) {
      std::string h;
      for (size_t b = 0; b < d.steps_histogram.size(); ++b)
        h += fmt::format(" {}{}:{}", b + 1 == d.steps_histogram.size() ? ">=" : "", b, d.steps_histogram[b]);
      fmt::format_to(o, "{}steps{}\n", indent, h);
    }
  }
  gap(r.pairs.size() - next);
}

void append_findings(const Report& r, std::string& out) {
  auto o = std::back_inserter(out);
  out += "\n";
  if (r.first_divergence >= 0 && static_cast<size_t>(r.first_divergence) < r.pairs.size()) {
    const PairRecord& p = r.pairs[static_cast<size_t>(r.first_divergence)];
    const DriftMeasures& d = p.drift;
    std::string why;
    if (d.nonfinite_mismatch > 0)
      why = fmt::format("{} where one side is NaN/Inf and the other is not (or Inf of the other sign)",
                        plural(d.nonfinite_mismatch, "position"));
    else if (d.has_steps)
      why = fmt::format("max error {} steps of the reference scale (threshold {})", number(d.max_abs_steps, "{:.2f}"),
                        number(r.thresholds.max_steps, "{:g}"));
    else
      why = fmt::format("SQNR {} dB (threshold {} dB)", number(d.sqnr_db, "{:.1f}"),
                        number(r.thresholds.min_sqnr_db, "{:g}"));
    fmt::format_to(o, "first divergence: pair {}, ref {} vs other {}: {}{}\n", r.first_divergence, side_label(p.ref),
                   side_label(p.other), why, local_verdict(p));
    // Where the drift is inherited, the first layer that adds drift of its own is the lead.
    if (p.has_local_drift && !p.local_divergent)
      for (size_t i = 0; i < r.pairs.size(); ++i)
        if (r.pairs[i].has_local_drift && r.pairs[i].local_divergent) {
          fmt::format_to(o, "first local divergence: pair {}, ref {} vs other {}{}\n", i, side_label(r.pairs[i].ref),
                         side_label(r.pairs[i].other), local_verdict(r.pairs[i]));
          break;
        }
  } else {
    fmt::format_to(o, "first divergence: none ({} within the thresholds)\n", plural(static_cast<int64_t>(r.pairs.size()), "pair"));
  }
  if (!r.unmatched.empty()) {
    int64_t ref = 0;
    for (const UnmatchedRecord& u : r.unmatched) ref += u.side == "ref";
    fmt::format_to(o, "unmatched: {} ({} ref, {} other)\n", plural(static_cast<int64_t>(r.unmatched.size()), "tensor"),
                   ref, static_cast<int64_t>(r.unmatched.size()) - ref);
    for (size_t i = 0; i < r.unmatched.size() && i < kMaxUnmatchedListed; ++i) {
      const UnmatchedRecord& u = r.unmatched[i];
      std::string producer = u.node.empty() && u.op.empty() ? "" : fmt::format(" ({} '{}')", printable(u.op), printable(u.node));
      fmt::format_to(o, "  {:<5} '{}'{}: {}\n", printable(u.side), printable(u.tensor), producer, printable(u.reason));
    }
    if (r.unmatched.size() > kMaxUnmatchedListed) fmt::format_to(o, "  ... {} more\n", r.unmatched.size() - kMaxUnmatchedListed);
  }
  if (!r.causes.empty()) {
    out += "possible causes:\n";
    for (const CauseHint& c : r.causes) {
      std::string where = "whole run";
      if (c.pair >= 0 && static_cast<size_t>(c.pair) < r.pairs.size())
        where = fmt::format("pair {} '{}'", c.pair, printable(r.pairs[static_cast<size_t>(c.pair)].ref.tensor));
      fmt::format_to(o, "  {} ({}): {}\n", printable(c.cause), where, printable(c.message));
      if (!c.knob.empty() || !c.evidence.empty()) {
        std::string ev;
        for (const auto& [key, value] : c.evidence) ev += fmt::format(" {}={}", printable(key), number(value, "{:.6g}"));
        fmt::format_to(o, "    {}evidence:{}{}\n", c.knob.empty() ? "" : fmt::format("knob {}; ", printable(c.knob)),
                       ev.empty() ? " (policy)" : ev,
                       c.pair_count > 1 ? fmt::format(" ({} pairs alike)", c.pair_count) : "");
      }
    }
  }
  if (r.top1_agreement < 0)
    out += "top-1 agreement: no graph output pair\n";
  else
    fmt::format_to(o, "top-1 agreement: {}% of graph output pairs\n", number(r.top1_agreement * 100, "{:.1f}"));
  const Timings& t = r.timings;
  fmt::format_to(o, "timings: load {} ms, ref {} ms, other {} ms, measure {} ms, total {} ms\n", number(t.load_ms, "{:.1f}"),
                 number(t.ref_ms, "{:.1f}"), number(t.other_ms, "{:.1f}"), number(t.measure_ms, "{:.1f}"),
                 number(t.total_ms, "{:.1f}"));
}

}  // namespace

std::string format_report_text(const Report& r, const ReportTextOptions& options) {
  std::string out;
  append_header(r, out);
  append_table(r, options, out);
  append_findings(r, out);
  return out;
}

}  // namespace qdrift
