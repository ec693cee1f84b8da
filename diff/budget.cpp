#include "diff/budget.h"

#include <cmath>
#include <map>

#include <fmt/format.h>

#include "core/onnx_loader.h"
#include "diff/json_util.h"
#include "diff/mapping_rules.h"

namespace qdrift {

namespace {

// ---- reading ------------------------------------------------------------------------

// Each entry is a regex searched in every reference tensor name: far more entries than a
// model has layers is a generated or hostile file.
constexpr size_t kMaxLayers = 10000;

enum class Range { any, non_negative, cosine, fraction };

// An optional limit: absent or null -> nullopt; present -> a finite number in `range`.
Result<std::optional<double>> read_limit(const JsonField& f, Range range) {
  QD_ASSIGN_OR_RETURN(std::optional<double> v, f.optional_number());
  if (!v) return v;
  if (!std::isfinite(*v)) return f.error(fmt::format("must be a finite number, got {}", *v));
  switch (range) {
    case Range::any: break;
    case Range::non_negative:
      if (*v < 0) return f.error(fmt::format("must be >= 0, got {}", *v));
      break;
    case Range::cosine:
      if (*v < -1 || *v > 1) return f.error(fmt::format("must be in [-1, 1], got {}", *v));
      break;
    case Range::fraction:
      if (*v < 0 || *v > 1) return f.error(fmt::format("must be in [0, 1], got {}", *v));
      break;
  }
  return v;
}

// The four per-pair limits, shared by "global" and each "layers" entry.
Status read_pair_limits(const JsonField& f, PairLimits* out) {
  QD_ASSIGN_OR_RETURN(out->min_sqnr_db, read_limit(f["min_sqnr_db"], Range::any));
  QD_ASSIGN_OR_RETURN(out->max_steps, read_limit(f["max_steps"], Range::non_negative));
  QD_ASSIGN_OR_RETURN(out->max_abs, read_limit(f["max_abs"], Range::non_negative));
  QD_ASSIGN_OR_RETURN(out->min_cosine, read_limit(f["min_cosine"], Range::cosine));
  return Status::ok();
}

// An optional object member: absent or null is fine, anything else must be an object
// holding only `known` members.
Status expect_optional_object(const JsonField& f, std::initializer_list<std::string_view> known) {
  if (f.is_null()) return Status::ok();
  return f.expect_only(known);
}

Status read_layer(const JsonField& f, std::string_view label, Budget::Layer* out) {
  QD_RETURN_IF_ERROR(f.expect_only({"match", "min_sqnr_db", "max_steps", "max_abs", "min_cosine"}));
  const JsonField match = f["match"];
  QD_ASSIGN_OR_RETURN(std::string pattern, match.string());
  QD_ASSIGN_OR_RETURN(out->match, UserRegex::compile(pattern, fmt::format("{}: {}", label, match.path())));
  return read_pair_limits(f, &out->limits);
}

// ---- checking -----------------------------------------------------------------------

// Tensor names come from models and report files: keep messages on one line.
std::string printable(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  return out;
}

class Gate {
 public:
  explicit Gate(GateResult* result) : r_(result) {}

  // Counts one check of `actual` against `limit`; `ok` already holds its outcome (written
  // so that NaN compares false and fails).
  void check(bool ok, const std::string& tensor, std::string_view check, double limit, double actual,
             std::string message) {
    ++r_->checks;
    r_->evaluated.push_back({tensor, std::string(check), ok ? -1 : static_cast<int64_t>(r_->violations.size())});
    if (ok) return;
    r_->pass = false;
    r_->violations.push_back({tensor, std::string(check), limit, actual, std::move(message)});
  }

 private:
  GateResult* r_;
};

// The limits for one reference tensor and where each came from ("" global, "layers[i]").
struct Effective {
  PairLimits limits;
  std::string layer;  // the matching layer entry, "" when none
};

Effective effective_limits(const Budget& b, const std::string& tensor) {
  Effective e{b.global, ""};
  for (size_t i = 0; i < b.layers.size(); ++i) {
    const Budget::Layer& layer = b.layers[i];
    if (!layer.match.search(tensor)) continue;
    const PairLimits& o = layer.limits;
    if (o.min_sqnr_db) e.limits.min_sqnr_db = o.min_sqnr_db;
    if (o.max_steps) e.limits.max_steps = o.max_steps;
    if (o.max_abs) e.limits.max_abs = o.max_abs;
    if (o.min_cosine) e.limits.min_cosine = o.min_cosine;
    e.layer = fmt::format("layers[{}]", i);
    break;
  }
  return e;
}

// baseline - current, where equal values (inf and inf included) are no change; NaN stays NaN.
double grown(double baseline, double current) { return baseline == current ? 0.0 : baseline - current; }

}  // namespace

Result<Budget> parse_budget(std::string_view text, std::string_view label) {
  QD_ASSIGN_OR_RETURN(ordered_json doc, parse_json_document(text, label));
  const JsonField root{doc, std::string(label)};
  QD_RETURN_IF_ERROR(root.expect_only({"schema", "global", "layers", "outputs", "baseline", "allow_nonfinite"}));
  QD_ASSIGN_OR_RETURN(std::string schema, root["schema"].string());
  if (schema != kBudgetSchema)
    return root["schema"].error(fmt::format("expected \"{}\", got \"{}\"", kBudgetSchema, printable(schema)));

  Budget b;
  const JsonField global = root["global"];
  QD_RETURN_IF_ERROR(expect_optional_object(global, {"min_sqnr_db", "max_steps", "max_abs", "min_cosine"}));
  QD_RETURN_IF_ERROR(read_pair_limits(global, &b.global));

  const JsonField layers = root["layers"];
  if (!layers.is_null()) {
    QD_ASSIGN_OR_RETURN(size_t n, layers.array_size());
    if (n > kMaxLayers) return layers.error(fmt::format("more than {} entries", kMaxLayers));
    b.layers.resize(n);
    for (size_t i = 0; i < n; ++i) QD_RETURN_IF_ERROR(read_layer(layers.at(i), label, &b.layers[i]));
  }

  const JsonField outputs = root["outputs"];
  QD_RETURN_IF_ERROR(expect_optional_object(outputs, {"min_top1_agreement"}));
  QD_ASSIGN_OR_RETURN(b.min_top1_agreement, read_limit(outputs["min_top1_agreement"], Range::fraction));

  const JsonField baseline = root["baseline"];
  QD_RETURN_IF_ERROR(expect_optional_object(baseline, {"max_sqnr_drop_db", "max_steps_increase"}));
  QD_ASSIGN_OR_RETURN(b.baseline_max_sqnr_drop_db, read_limit(baseline["max_sqnr_drop_db"], Range::non_negative));
  QD_ASSIGN_OR_RETURN(b.baseline_max_steps_increase,
                      read_limit(baseline["max_steps_increase"], Range::non_negative));

  if (root.has("allow_nonfinite")) {
    QD_ASSIGN_OR_RETURN(b.allow_nonfinite, root["allow_nonfinite"].boolean());
  }
  return b;
}

Result<Budget> read_budget(const std::string& path, const Limits& limits) {
  QD_ASSIGN_OR_RETURN(std::string text, read_file_bytes(path, limits.max_file_bytes));
  return parse_budget(text, path);
}

GateResult evaluate_gate(const Report& report, const Budget& budget, const Report* baseline) {
  GateResult result;
  Gate gate(&result);

  // Baseline pairs by reference tensor; the k-th current pair of a name meets the k-th
  // baseline pair of that name (one reference tensor may be paired with several others).
  std::map<std::string, std::vector<const PairRecord*>, std::less<>> base_pairs;
  if (baseline)
    for (const PairRecord& p : baseline->pairs) base_pairs[p.ref.tensor].push_back(&p);
  std::map<std::string, size_t, std::less<>> seen;

  for (const PairRecord& p : report.pairs) {
    const std::string& t = p.ref.tensor;
    const std::string name = printable(t);
    const DriftMeasures& d = p.drift;

    const Effective eff = effective_limits(budget, t);  // RE2: linear in the name's length
    const PairLimits& lim = eff.limits;
    const std::string from = eff.layer.empty() ? "" : fmt::format(" ({})", eff.layer);

    if (lim.min_sqnr_db)
      gate.check(d.sqnr_db >= *lim.min_sqnr_db, t, "min_sqnr_db", *lim.min_sqnr_db, d.sqnr_db,
                 fmt::format("{}: min_sqnr_db: sqnr_db {} dB is below the limit {} dB{}", name, d.sqnr_db,
                             *lim.min_sqnr_db, from));
    if (lim.max_steps && d.has_steps)
      gate.check(d.max_abs_steps <= *lim.max_steps, t, "max_steps", *lim.max_steps, d.max_abs_steps,
                 fmt::format("{}: max_steps: max_abs_steps {} is above the limit {}{}", name, d.max_abs_steps,
                             *lim.max_steps, from));
    if (lim.max_abs)
      gate.check(d.max_abs <= *lim.max_abs, t, "max_abs", *lim.max_abs, d.max_abs,
                 fmt::format("{}: max_abs: max_abs {} is above the limit {}{}", name, d.max_abs, *lim.max_abs, from));
    if (lim.min_cosine)
      gate.check(d.cosine >= *lim.min_cosine, t, "min_cosine", *lim.min_cosine, d.cosine,
                 fmt::format("{}: min_cosine: cosine {} is below the limit {}{}", name, d.cosine, *lim.min_cosine,
                             from));
    if (!budget.allow_nonfinite)
      gate.check(d.nonfinite_mismatch == 0, t, "nonfinite", 0, static_cast<double>(d.nonfinite_mismatch),
                 fmt::format("{}: nonfinite: {} position{} where only one side is finite or either is NaN "
                             "(NaN ref {}, other {}; Inf ref {}, other {}); \"allow_nonfinite\": true accepts them",
                             name, d.nonfinite_mismatch, d.nonfinite_mismatch == 1 ? "" : "s", d.nan_ref, d.nan_other,
                             d.inf_ref, d.inf_other));

    if (!baseline) continue;
    auto it = base_pairs.find(t);
    if (it == base_pairs.end()) continue;
    const size_t k = seen[t]++;
    if (k >= it->second.size()) continue;
    const DriftMeasures& b = it->second[k]->drift;
    if (budget.baseline_max_sqnr_drop_db) {
      const double drop = grown(b.sqnr_db, d.sqnr_db);
      gate.check(drop <= *budget.baseline_max_sqnr_drop_db, t, "baseline_max_sqnr_drop_db",
                 *budget.baseline_max_sqnr_drop_db, drop,
                 fmt::format("{}: baseline_max_sqnr_drop_db: sqnr_db dropped by {} dB ({} -> {}), above the limit "
                             "{} dB",
                             name, drop, b.sqnr_db, d.sqnr_db, *budget.baseline_max_sqnr_drop_db));
    }
    if (budget.baseline_max_steps_increase && d.has_steps && b.has_steps) {
      const double rise = grown(d.max_abs_steps, b.max_abs_steps);
      gate.check(rise <= *budget.baseline_max_steps_increase, t, "baseline_max_steps_increase",
                 *budget.baseline_max_steps_increase, rise,
                 fmt::format("{}: baseline_max_steps_increase: max_abs_steps grew by {} ({} -> {}), above the "
                             "limit {}",
                             name, rise, b.max_abs_steps, d.max_abs_steps, *budget.baseline_max_steps_increase));
    }
  }

  if (budget.min_top1_agreement) {
    const double limit = *budget.min_top1_agreement;
    const double a = report.top1_agreement;
    if (a < 0)
      gate.check(false, "", "min_top1_agreement", limit, a,
                 fmt::format("min_top1_agreement: no graph output pair to check (limit {})", limit));
    else
      gate.check(a >= limit, "", "min_top1_agreement", limit, a,
                 fmt::format("min_top1_agreement: top1_agreement {} is below the limit {}", a, limit));
  }
  return result;
}

}  // namespace qdrift
