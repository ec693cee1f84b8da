#include "diff/report_json.h"

#include <charconv>
#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "core/onnx_loader.h"
#include "core/quant_math.h"
#include "diff/tensor_views.h"

namespace qdrift {

namespace {

// ---------------------------------------------------------------- writing

// A float (a scale) as the shortest decimal that reads back as the same float, else as the
// exact double: scales stay readable ("0.1", not "0.10000000149011612") and lossless.
ordered_json float_json(float f) {
  if (!std::isfinite(f)) return json_number(f);
  const std::string s = fmt::format("{}", f);
  double d = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
  if (ec == std::errc() && end == s.data() + s.size() && static_cast<float>(d) == f) return d;
  return static_cast<double>(f);
}

// Every field, also those that mean nothing yet (avg of an all-NaN tensor): a round trip
// gives back the same struct.
ordered_json stats_json(const TensorStats& s) {
  ordered_json j;
  j["count"] = s.count;
  j["avg"] = json_number(s.avg);
  j["min"] = json_number(s.min);
  j["max"] = json_number(s.max);
  j["argmax"] = s.argmax;
  j["std"] = json_number(s.std);
  j["nan_count"] = s.nan_count;
  j["inf_count"] = s.inf_count;
  return j;
}

ordered_json side_json(const SideRecord& s) {
  ordered_json j;
  j["tensor"] = s.tensor;
  j["node"] = s.node;
  j["op"] = s.op;
  j["dtype"] = dtype_name(s.dtype);
  j["shape"] = json_shape(s.shape);
  j["quantized"] = s.quantized;
  ordered_json scale = ordered_json::array();
  for (float f : s.scale) scale.push_back(float_json(f));
  j["scale"] = std::move(scale);
  j["zero_point"] = s.zero_point;
  j["axis"] = s.axis;
  j["stats"] = stats_json(s.stats);
  j["count_at_qmin"] = s.count_at_qmin;
  j["count_at_qmax"] = s.count_at_qmax;
  if (!s.file.empty()) j["file"] = s.file;
  return j;
}

ordered_json drift_json(const DriftMeasures& d) {
  ordered_json j;
  j["count"] = d.count;
  j["max_abs"] = json_number(d.max_abs);
  j["max_abs_index"] = d.max_abs_index;
  j["mean_abs"] = json_number(d.mean_abs);
  j["rmse"] = json_number(d.rmse);
  j["rel_l2"] = json_number(d.rel_l2);
  j["sqnr_db"] = json_number(d.sqnr_db);
  j["cosine"] = json_number(d.cosine);
  j["argmax_agree"] = d.argmax_agree;
  j["frac_differ"] = json_number(d.frac_differ);
  j["has_steps"] = d.has_steps;
  j["max_abs_steps"] = json_number(d.max_abs_steps);
  j["steps_histogram"] = d.steps_histogram;
  j["nan_ref"] = d.nan_ref;
  j["inf_ref"] = d.inf_ref;
  j["nan_other"] = d.nan_other;
  j["inf_other"] = d.inf_other;
  j["nonfinite_mismatch"] = d.nonfinite_mismatch;
  return j;
}

ordered_json model_json(const ModelRecord& m) {
  ordered_json j;
  j["path"] = m.path;
  j["xxh64"] = m.xxh64;
  j["opset"] = m.opset;
  j["nodes"] = m.nodes;
  return j;
}

// ---------------------------------------------------------------- reading
//
// Every field is required and type-checked; unknown fields are ignored (fields are only
// added within version 1). Indices are checked against what they index, counts are >= 0.

constexpr size_t kMaxRank = 16;               // Limits::max_rank's default
constexpr size_t kMaxHistogramBins = 64;

// A string from the file, quoted for a one-line message: control characters escaped,
// invalid UTF-8 replaced, long text cut.
std::string quote_for_message(const std::string& s) {
  constexpr size_t kMax = 60;
  const std::string cut = s.size() > kMax ? s.substr(0, kMax) : s;
  std::string q = ordered_json(cut).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (s.size() > kMax) q += "...";
  return q;
}

Result<int64_t> read_count(const JsonField& f) {
  QD_ASSIGN_OR_RETURN(int64_t v, f.integer());
  if (v < 0) return f.error(fmt::format("expected a count >= 0, got {}", v));
  return v;
}

// -1 (none) or an index below `size`.
Result<int64_t> read_index(const JsonField& f, int64_t size, std::string_view what) {
  QD_ASSIGN_OR_RETURN(int64_t v, f.integer());
  if (v < -1 || v >= size) return f.error(fmt::format("{} index {} is out of range [-1, {})", what, v, size));
  return v;
}

Result<int32_t> read_int32(const JsonField& f) {
  QD_ASSIGN_OR_RETURN(int64_t v, f.integer());
  if (v < std::numeric_limits<int32_t>::min() || v > std::numeric_limits<int32_t>::max())
    return f.error(fmt::format("{} is outside the int32 range", v));
  return static_cast<int32_t>(v);
}

Result<float> read_f32(const JsonField& f) {
  QD_ASSIGN_OR_RETURN(double v, f.number());
  // Converting a finite double past FLT_MAX to float is undefined behaviour.
  if (std::isfinite(v) && std::fabs(v) > static_cast<double>(std::numeric_limits<float>::max()))
    return f.error(fmt::format("{} is outside the f32 range", v));
  return static_cast<float>(v);
}

Result<DType> read_dtype(const JsonField& f) {
  QD_ASSIGN_OR_RETURN(std::string s, f.string());
  for (int i = 0; i < kDTypeCount; ++i)
    if (dtype_name(static_cast<DType>(i)) == s) return static_cast<DType>(i);
  return f.error(fmt::format("unknown dtype {}", quote_for_message(s)));
}

Result<MatchMethod> read_method(const JsonField& f) {
  QD_ASSIGN_OR_RETURN(std::string s, f.string());
  MatchMethod m{};
  if (!parse_match_method(s, &m)) return f.error(fmt::format("unknown match method {}", quote_for_message(s)));
  return m;
}

Result<Shape> read_shape(const JsonField& f) {
  QD_ASSIGN_OR_RETURN(Shape s, f.shape());
  if (s.size() > kMaxRank) return f.error(fmt::format("rank {} is above the limit of {}", s.size(), kMaxRank));
  return s;
}

// Calls read(element, index) for each element of an array field.
template <typename Read>
Status for_each_element(const JsonField& f, Read read) {
  QD_ASSIGN_OR_RETURN(size_t n, f.array_size());
  for (size_t i = 0; i < n; ++i) QD_RETURN_IF_ERROR(read(f.at(i), i));
  return Status::ok();
}

Result<std::vector<std::string>> read_strings(const JsonField& f) {
  std::vector<std::string> out;
  QD_RETURN_IF_ERROR(for_each_element(f, [&](const JsonField& e, size_t) -> Status {
    QD_ASSIGN_OR_RETURN(std::string s, e.string());
    out.push_back(std::move(s));
    return Status::ok();
  }));
  return out;
}

Status read_stats(const JsonField& f, TensorStats* s) {
  QD_RETURN_IF_ERROR(f.expect_object());
  QD_ASSIGN_OR_RETURN(s->count, read_count(f["count"]));
  QD_ASSIGN_OR_RETURN(s->avg, f["avg"].number());
  QD_ASSIGN_OR_RETURN(s->min, f["min"].number());
  QD_ASSIGN_OR_RETURN(s->max, f["max"].number());
  QD_ASSIGN_OR_RETURN(s->argmax, read_index(f["argmax"], s->count, "element"));
  QD_ASSIGN_OR_RETURN(s->std, f["std"].number());
  QD_ASSIGN_OR_RETURN(s->nan_count, read_count(f["nan_count"]));
  QD_ASSIGN_OR_RETURN(s->inf_count, read_count(f["inf_count"]));
  if (s->nan_count > s->count || s->inf_count > s->count - s->nan_count)
    return f.error(fmt::format("{} NaN and {} Inf elements in {}", s->nan_count, s->inf_count, s->count));
  return Status::ok();
}

Status read_side(const JsonField& f, SideRecord* s) {
  QD_RETURN_IF_ERROR(f.expect_object());
  QD_ASSIGN_OR_RETURN(s->tensor, f["tensor"].string());
  QD_ASSIGN_OR_RETURN(s->node, f["node"].string());
  QD_ASSIGN_OR_RETURN(s->op, f["op"].string());
  QD_ASSIGN_OR_RETURN(s->dtype, read_dtype(f["dtype"]));
  QD_ASSIGN_OR_RETURN(s->shape, read_shape(f["shape"]));
  QD_ASSIGN_OR_RETURN(s->quantized, f["quantized"].boolean());
  QD_RETURN_IF_ERROR(for_each_element(f["scale"], [&](const JsonField& e, size_t) -> Status {
    QD_ASSIGN_OR_RETURN(float v, read_f32(e));
    s->scale.push_back(v);
    return Status::ok();
  }));
  QD_RETURN_IF_ERROR(for_each_element(f["zero_point"], [&](const JsonField& e, size_t) -> Status {
    QD_ASSIGN_OR_RETURN(int32_t v, read_int32(e));
    s->zero_point.push_back(v);
    return Status::ok();
  }));
  QD_ASSIGN_OR_RETURN(s->axis, read_int32(f["axis"]));
  if (s->quantized) {
    QuantParams q;
    q.scale = s->scale;
    q.zero_point = s->zero_point;
    q.axis = s->axis;
    if (!quant_params_fit(s->shape, q))
      return f.error(fmt::format("{} scales and {} zero points along axis {} do not fit shape {}", s->scale.size(),
                                 s->zero_point.size(), s->axis, shape_str(s->shape)));
  }
  QD_RETURN_IF_ERROR(read_stats(f["stats"], &s->stats));
  QD_ASSIGN_OR_RETURN(s->count_at_qmin, read_count(f["count_at_qmin"]));
  QD_ASSIGN_OR_RETURN(s->count_at_qmax, read_count(f["count_at_qmax"]));
  QD_ASSIGN_OR_RETURN(std::optional<std::string> file, f["file"].optional_string());  // absent before --save-tensors
  s->file = file.value_or("");
  return Status::ok();
}

// a + b for counts already checked >= 0, saturating instead of overflowing.
int64_t add_counts(int64_t a, int64_t b) {
  return a > std::numeric_limits<int64_t>::max() - b ? std::numeric_limits<int64_t>::max() : a + b;
}

Status read_drift(const JsonField& f, DriftMeasures* d) {
  QD_RETURN_IF_ERROR(f.expect_object());
  QD_ASSIGN_OR_RETURN(d->count, read_count(f["count"]));
  QD_ASSIGN_OR_RETURN(d->max_abs, f["max_abs"].number());
  QD_ASSIGN_OR_RETURN(d->mean_abs, f["mean_abs"].number());
  QD_ASSIGN_OR_RETURN(d->rmse, f["rmse"].number());
  QD_ASSIGN_OR_RETURN(d->rel_l2, f["rel_l2"].number());
  QD_ASSIGN_OR_RETURN(d->sqnr_db, f["sqnr_db"].number());
  QD_ASSIGN_OR_RETURN(d->cosine, f["cosine"].number());
  QD_ASSIGN_OR_RETURN(d->argmax_agree, f["argmax_agree"].boolean());
  QD_ASSIGN_OR_RETURN(d->frac_differ, f["frac_differ"].number());
  QD_ASSIGN_OR_RETURN(d->has_steps, f["has_steps"].boolean());
  QD_ASSIGN_OR_RETURN(d->max_abs_steps, f["max_abs_steps"].number());
  const JsonField hist = f["steps_histogram"];
  QD_ASSIGN_OR_RETURN(const size_t bins, hist.array_size());
  if (bins > kMaxHistogramBins)
    return hist.error(fmt::format("{} bins, more than the limit of {}", bins, kMaxHistogramBins));
  QD_RETURN_IF_ERROR(for_each_element(hist, [&](const JsonField& e, size_t) -> Status {
    QD_ASSIGN_OR_RETURN(int64_t v, read_count(e));
    d->steps_histogram.push_back(v);
    return Status::ok();
  }));
  QD_ASSIGN_OR_RETURN(d->nan_ref, read_count(f["nan_ref"]));
  QD_ASSIGN_OR_RETURN(d->inf_ref, read_count(f["inf_ref"]));
  QD_ASSIGN_OR_RETURN(d->nan_other, read_count(f["nan_other"]));
  QD_ASSIGN_OR_RETURN(d->inf_other, read_count(f["inf_other"]));
  QD_ASSIGN_OR_RETURN(d->nonfinite_mismatch, read_count(f["nonfinite_mismatch"]));
  // max_abs_index is a flat index into the whole tensor: the compared positions plus at
  // most one per non-finite element of either side.
  int64_t elements = d->count;
  for (int64_t n : {d->nan_ref, d->inf_ref, d->nan_other, d->inf_other}) elements = add_counts(elements, n);
  QD_ASSIGN_OR_RETURN(d->max_abs_index, read_index(f["max_abs_index"], elements, "element"));
  return Status::ok();
}

Status read_model(const JsonField& f, ModelRecord* m) {
  QD_RETURN_IF_ERROR(f.expect_object());
  QD_ASSIGN_OR_RETURN(m->path, f["path"].string());
  QD_ASSIGN_OR_RETURN(m->xxh64, f["xxh64"].string());
  QD_ASSIGN_OR_RETURN(m->opset, read_count(f["opset"]));
  QD_ASSIGN_OR_RETURN(m->nodes, read_count(f["nodes"]));
  return Status::ok();
}

Status read_input(const JsonField& f, InputRecord* in) {
  QD_RETURN_IF_ERROR(f.expect_object());
  QD_ASSIGN_OR_RETURN(in->name, f["name"].string());
  QD_ASSIGN_OR_RETURN(in->file, f["file"].string());
  QD_ASSIGN_OR_RETURN(in->member, f["member"].string());
  QD_ASSIGN_OR_RETURN(in->dtype, read_dtype(f["dtype"]));
  QD_ASSIGN_OR_RETURN(in->shape, read_shape(f["shape"]));
  return read_stats(f["stats"], &in->stats);
}

Status read_pair(const JsonField& f, PairRecord* p) {
  QD_RETURN_IF_ERROR(f.expect_object());
  QD_ASSIGN_OR_RETURN(p->method, read_method(f["method"]));
  QD_ASSIGN_OR_RETURN(p->match_detail, f["match_detail"].string());
  QD_RETURN_IF_ERROR(read_side(f["ref"], &p->ref));
  QD_RETURN_IF_ERROR(read_side(f["other"], &p->other));
  QD_RETURN_IF_ERROR(read_drift(f["drift"], &p->drift));
  QD_ASSIGN_OR_RETURN(p->divergent, f["divergent"].boolean());
  QD_ASSIGN_OR_RETURN(p->graph_output, f["graph_output"].boolean());
  QD_ASSIGN_OR_RETURN(p->has_kernel_check, f["has_kernel_check"].boolean());
  QD_ASSIGN_OR_RETURN(p->kernel_differ, read_count(f["kernel_differ"]));
  QD_ASSIGN_OR_RETURN(p->kernel_max_abs, f["kernel_max_abs"].number());
  QD_ASSIGN_OR_RETURN(p->kernel_max_steps, f["kernel_max_steps"].number());
  // Optional: reports written before per-channel errors have none.
  const JsonField channels = f["channel_max_abs"];
  if (!channels.is_null()) {
    QD_ASSIGN_OR_RETURN(const size_t n, channels.array_size());
    if (n > static_cast<size_t>(kMaxReportedChannels))
      return channels.error(fmt::format("{} channels, more than the limit of {}", n, kMaxReportedChannels));
    QD_RETURN_IF_ERROR(for_each_element(channels, [&](const JsonField& e, size_t) -> Status {
      QD_ASSIGN_OR_RETURN(double v, e.number());
      p->channel_max_abs.push_back(v);
      return Status::ok();
    }));
  }
  // Optional: reports written before structure and value mapping lack them.
  QD_ASSIGN_OR_RETURN(std::optional<double> confidence, f["confidence"].optional_number());
  if (confidence && !(*confidence >= 0 && *confidence <= 1)) return f["confidence"].error("expected a number in [0, 1]");
  p->confidence = confidence.value_or(1.0);
  QD_ASSIGN_OR_RETURN(std::optional<std::string> layout, f["other_layout"].optional_string());
  p->other_layout = layout.value_or("");
  // Local drift is optional: absent where it cannot be computed, and in older reports.
  if (f.has("local_drift") && !f["local_drift"].is_null()) {
    p->has_local_drift = true;
    QD_RETURN_IF_ERROR(read_drift(f["local_drift"], &p->local_drift));
    QD_ASSIGN_OR_RETURN(p->local_divergent, f["local_divergent"].boolean());
  }
  return Status::ok();
}

Status read_unmatched(const JsonField& f, UnmatchedRecord* u) {
  QD_RETURN_IF_ERROR(f.expect_object());
  QD_ASSIGN_OR_RETURN(u->side, f["side"].string());
  if (u->side != "ref" && u->side != "other")
    return f["side"].error(fmt::format("expected \"ref\" or \"other\", got {}", quote_for_message(u->side)));
  QD_ASSIGN_OR_RETURN(u->tensor, f["tensor"].string());
  QD_ASSIGN_OR_RETURN(u->node, f["node"].string());
  QD_ASSIGN_OR_RETURN(u->op, f["op"].string());
  QD_ASSIGN_OR_RETURN(u->reason, f["reason"].string());
  return Status::ok();
}

Status read_cause(const JsonField& f, int64_t pairs, CauseHint* c) {
  QD_RETURN_IF_ERROR(f.expect_object());
  QD_ASSIGN_OR_RETURN(c->cause, f["cause"].string());
  QD_ASSIGN_OR_RETURN(c->pair, read_index(f["pair"], pairs, "pair"));
  QD_ASSIGN_OR_RETURN(c->message, f["message"].string());
  // knob, pair_count and evidence came later: optional.
  if (f.has("knob")) {
    QD_ASSIGN_OR_RETURN(c->knob, f["knob"].string());
  }
  if (f.has("pair_count")) {
    QD_ASSIGN_OR_RETURN(c->pair_count, f["pair_count"].integer());
  }
  if (f.has("evidence")) {
    const JsonField ev = f["evidence"];
    QD_RETURN_IF_ERROR(ev.expect_object());
    for (const auto& [key, value] : ev.value().items()) {
      QD_ASSIGN_OR_RETURN(double v, ev[key].number());
      c->evidence.emplace_back(key, v);
    }
  }
  return Status::ok();
}

Result<Report> report_from_json(const ordered_json& doc, std::string_view label) {
  const JsonField root{doc, std::string(label)};
  QD_RETURN_IF_ERROR(root.expect_object());
  Report r;
  QD_ASSIGN_OR_RETURN(r.schema, root["schema"].string());
  if (r.schema != kReportSchema)
    return root["schema"].error(fmt::format("expected \"{}\", found {}", kReportSchema, quote_for_message(r.schema)));
  QD_ASSIGN_OR_RETURN(r.tool_version, root["tool_version"].string());
  QD_RETURN_IF_ERROR(read_model(root["ref_model"], &r.ref_model));
  QD_RETURN_IF_ERROR(read_model(root["other_model"], &r.other_model));
  QD_ASSIGN_OR_RETURN(r.ref_executor, root["ref_executor"].string());
  QD_ASSIGN_OR_RETURN(r.other_executor, root["other_executor"].string());
  QD_ASSIGN_OR_RETURN(r.policy, root["policy"].string());
  QD_ASSIGN_OR_RETURN(r.notes, read_strings(root["notes"]));
  QD_RETURN_IF_ERROR(for_each_element(root["inputs"], [&](const JsonField& e, size_t) {
    return read_input(e, &r.inputs.emplace_back());
  }));
  const JsonField thresholds = root["thresholds"];
  QD_RETURN_IF_ERROR(thresholds.expect_object());
  QD_ASSIGN_OR_RETURN(r.thresholds.max_steps, thresholds["max_steps"].number());
  QD_ASSIGN_OR_RETURN(r.thresholds.min_sqnr_db, thresholds["min_sqnr_db"].number());
  // Pairs before the indices into them (first_divergence, causes[].pair).
  QD_RETURN_IF_ERROR(for_each_element(root["pairs"], [&](const JsonField& e, size_t) {
    return read_pair(e, &r.pairs.emplace_back());
  }));
  const auto pairs = static_cast<int64_t>(r.pairs.size());
  QD_ASSIGN_OR_RETURN(r.first_divergence, read_index(root["first_divergence"], pairs, "pair"));
  QD_ASSIGN_OR_RETURN(r.top1_agreement, root["top1_agreement"].number());
  QD_RETURN_IF_ERROR(for_each_element(root["unmatched"], [&](const JsonField& e, size_t) {
    return read_unmatched(e, &r.unmatched.emplace_back());
  }));
  QD_RETURN_IF_ERROR(for_each_element(root["causes"], [&](const JsonField& e, size_t) {
    return read_cause(e, pairs, &r.causes.emplace_back());
  }));
  const JsonField timings = root["timings"];
  QD_RETURN_IF_ERROR(timings.expect_object());
  QD_ASSIGN_OR_RETURN(r.timings.load_ms, timings["load_ms"].number());
  QD_ASSIGN_OR_RETURN(r.timings.ref_ms, timings["ref_ms"].number());
  QD_ASSIGN_OR_RETURN(r.timings.other_ms, timings["other_ms"].number());
  QD_ASSIGN_OR_RETURN(r.timings.measure_ms, timings["measure_ms"].number());
  QD_ASSIGN_OR_RETURN(r.timings.total_ms, timings["total_ms"].number());
  return r;
}

}  // namespace

ordered_json report_to_json_value(const Report& r) {
  ordered_json j;
  j["schema"] = r.schema;
  j["tool_version"] = r.tool_version;
  j["ref_model"] = model_json(r.ref_model);
  j["other_model"] = model_json(r.other_model);
  j["ref_executor"] = r.ref_executor;
  j["other_executor"] = r.other_executor;
  j["policy"] = r.policy;
  j["notes"] = r.notes;
  ordered_json inputs = ordered_json::array();
  for (const InputRecord& in : r.inputs) {
    ordered_json e;
    e["name"] = in.name;
    e["file"] = in.file;
    e["member"] = in.member;
    e["dtype"] = dtype_name(in.dtype);
    e["shape"] = json_shape(in.shape);
    e["stats"] = stats_json(in.stats);
    inputs.push_back(std::move(e));
  }
  j["inputs"] = std::move(inputs);
  j["thresholds"] = {{"max_steps", json_number(r.thresholds.max_steps)},
                     {"min_sqnr_db", json_number(r.thresholds.min_sqnr_db)}};
  j["first_divergence"] = r.first_divergence;
  j["top1_agreement"] = json_number(r.top1_agreement);
  ordered_json pairs = ordered_json::array();
  for (const PairRecord& p : r.pairs) {
    ordered_json e;
    e["method"] = match_method_name(p.method);
    e["match_detail"] = p.match_detail;
    e["ref"] = side_json(p.ref);
    e["other"] = side_json(p.other);
    e["drift"] = drift_json(p.drift);
    e["divergent"] = p.divergent;
    e["graph_output"] = p.graph_output;
    e["has_kernel_check"] = p.has_kernel_check;
    e["kernel_differ"] = p.kernel_differ;
    e["kernel_max_abs"] = json_number(p.kernel_max_abs);
    e["kernel_max_steps"] = json_number(p.kernel_max_steps);
    ordered_json channels = ordered_json::array();
    for (double v : p.channel_max_abs) channels.push_back(json_number(v));
    e["channel_max_abs"] = std::move(channels);
    e["confidence"] = json_number(p.confidence);
    if (!p.other_layout.empty()) e["other_layout"] = p.other_layout;
    if (p.has_local_drift) {
      e["local_drift"] = drift_json(p.local_drift);
      e["local_divergent"] = p.local_divergent;
    }
    pairs.push_back(std::move(e));
  }
  j["pairs"] = std::move(pairs);
  ordered_json unmatched = ordered_json::array();
  for (const UnmatchedRecord& u : r.unmatched)
    unmatched.push_back({{"side", u.side}, {"tensor", u.tensor}, {"node", u.node}, {"op", u.op}, {"reason", u.reason}});
  j["unmatched"] = std::move(unmatched);
  ordered_json causes = ordered_json::array();
  for (const CauseHint& c : r.causes) {
    ordered_json e = {{"cause", c.cause}, {"pair", c.pair}, {"message", c.message}};
    if (!c.knob.empty()) e["knob"] = c.knob;
    if (c.pair_count > 0) e["pair_count"] = c.pair_count;
    if (!c.evidence.empty()) {
      ordered_json ev = ordered_json::object();
      for (const auto& [key, value] : c.evidence) ev[key] = json_number(value);
      e["evidence"] = std::move(ev);
    }
    causes.push_back(std::move(e));
  }
  j["causes"] = std::move(causes);
  j["timings"] = {{"load_ms", json_number(r.timings.load_ms)},
                  {"ref_ms", json_number(r.timings.ref_ms)},
                  {"other_ms", json_number(r.timings.other_ms)},
                  {"measure_ms", json_number(r.timings.measure_ms)},
                  {"total_ms", json_number(r.timings.total_ms)}};
  return j;
}

std::string report_to_json(const Report& r) {
  // Tensor names come from models and may hold invalid UTF-8: replaced, never thrown.
  return json_entry_per_line(report_to_json_value(r));
}

Result<Report> parse_report_json(std::string_view text, std::string_view label) {
  QD_ASSIGN_OR_RETURN(ordered_json doc, parse_json_document(text, label));
  return report_from_json(doc, label);
}

Result<Report> read_report_json(const std::string& path, const Limits& limits) {
  QD_ASSIGN_OR_RETURN(std::string bytes, read_file_bytes(path, limits.max_file_bytes));
  return parse_report_json(bytes, path);
}

}  // namespace qdrift
