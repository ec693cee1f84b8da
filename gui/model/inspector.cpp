#include "gui/model/inspector.h"

#include <algorithm>
#include <filesystem>

#include <fmt/format.h>

#include "core/tensor_io.h"
#include "diff/measure.h"
#include "diff/report_json.h"

namespace qdrift::gui {

namespace fs = std::filesystem;

namespace {

// Did a pair's drift move between two runs (same reference tensor)?
bool drift_changed(const PairRecord& a, const PairRecord& b) {
  auto same = [](double x, double y) { return x == y || (std::isnan(x) && std::isnan(y)); };
  return a.other.tensor != b.other.tensor || a.other.dtype != b.other.dtype || !same(a.drift.max_abs, b.drift.max_abs) ||
         !same(a.drift.max_abs_steps, b.drift.max_abs_steps) || !same(a.drift.frac_differ, b.drift.frac_differ) ||
         a.divergent != b.divergent;
}

}  // namespace

Status Inspector::open_report(const std::string& path) {
  QD_ASSIGN_OR_RETURN(Report r, read_report_json(path, Limits{}));
  report_ = std::make_shared<const Report>(std::move(r));
  tensors_.reset();
  label_ = path;
  tensor_dir_ = fs::path(path).parent_path().string();
  changed_.assign(report_->pairs.size(), false);
  selected_ = -1;
  view_valid_ = false;
  if (!refresh_rows().is_ok()) query_.filter.name_regex.clear(), (void)refresh_rows();
  return Status::ok();
}

void Inspector::show_report(Report report, std::shared_ptr<const TensorStore> tensors, std::string label) {
  std::vector<bool> changed(report.pairs.size(), false);
  if (report_) {
    std::map<std::string_view, const PairRecord*> before;
    for (const PairRecord& p : report_->pairs) before.emplace(p.ref.tensor, &p);
    for (size_t i = 0; i < report.pairs.size(); ++i) {
      auto it = before.find(report.pairs[i].ref.tensor);
      changed[i] = it == before.end() || drift_changed(*it->second, report.pairs[i]);
    }
  }
  // Keep the selection on the same reference tensor across runs.
  const std::string selected_name = report_ && selected_ >= 0 ? report_->pairs[static_cast<size_t>(selected_)].ref.tensor : "";
  report_ = std::make_shared<const Report>(std::move(report));
  tensors_ = std::move(tensors);
  label_ = std::move(label);
  tensor_dir_.clear();
  changed_ = std::move(changed);
  selected_ = -1;
  if (!selected_name.empty())
    for (size_t i = 0; i < report_->pairs.size(); ++i)
      if (report_->pairs[i].ref.tensor == selected_name) selected_ = static_cast<int64_t>(i);
  view_valid_ = false;
  (void)refresh_rows();
}

Status Inspector::refresh_rows() {
  if (!report_) {
    rows_.clear();
    return Status::ok();
  }
  QD_ASSIGN_OR_RETURN(rows_, visible_rows(*report_, query_));
  return Status::ok();
}

Status Inspector::set_query(const TableQuery& query) {
  const TableQuery before = query_;
  query_ = query;
  Status s = refresh_rows();
  if (!s.is_ok()) query_ = before;
  return s;
}

void Inspector::select(int64_t pair) {
  if (!report_ || pair < -1 || pair >= static_cast<int64_t>(report_->pairs.size())) return;
  if (pair != selected_) {
    selected_ = pair;
    channel_ = -1;
    view_valid_ = false;
  }
}

bool Inspector::select_tensor(std::string_view name) {
  if (!report_) return false;
  for (size_t i = 0; i < report_->pairs.size(); ++i)
    if (report_->pairs[i].ref.tensor == name || report_->pairs[i].other.tensor == name) {
      select(static_cast<int64_t>(i));
      return true;
    }
  return false;
}

void Inspector::select_first_divergence() {
  if (report_ && report_->first_divergence >= 0) select(report_->first_divergence);
}

void Inspector::select_next_divergent(int direction) {
  if (!report_ || report_->pairs.empty()) return;
  const auto n = static_cast<int64_t>(report_->pairs.size());
  int64_t i = selected_ < 0 ? (direction > 0 ? -1 : 0) : selected_;
  for (int64_t step = 0; step < n; ++step) {
    i = ((i + direction) % n + n) % n;
    if (report_->pairs[static_cast<size_t>(i)].divergent) {
      select(i);
      return;
    }
  }
}

void Inspector::select_row_step(int direction) {
  if (rows_.empty()) return;
  auto it = std::find(rows_.begin(), rows_.end(), static_cast<size_t>(std::max<int64_t>(selected_, 0)));
  if (selected_ < 0 || it == rows_.end()) {
    select(static_cast<int64_t>(rows_.front()));
    return;
  }
  const auto pos = std::clamp<int64_t>((it - rows_.begin()) + direction, 0, static_cast<int64_t>(rows_.size()) - 1);
  select(static_cast<int64_t>(rows_[static_cast<size_t>(pos)]));
}

void Inspector::set_channel(int64_t channel) {
  if (channel != channel_) {
    channel_ = channel;
    view_valid_ = false;
  }
}

size_t Inspector::changed_count() const { return static_cast<size_t>(std::count(changed_.begin(), changed_.end(), true)); }

Result<Tensor> Inspector::load_side(const SideRecord& side, bool ref_side) const {
  Tensor native;
  if (tensors_) {
    const auto& store = ref_side ? tensors_->ref : tensors_->other;
    auto it = store.find(side.tensor);
    if (it == store.end()) return invalid_input("{}: not kept by the live run", side.tensor);
    native = it->second;
  } else {
    const std::string path = (fs::path(tensor_dir_) / side.file).string();
    QD_ASSIGN_OR_RETURN(native, read_tensor_file(path, Limits{}));
    if (native.shape != side.shape)
      return invalid_input("{}: shape {} but the report says {} for '{}'", path, shape_str(native.shape),
                           shape_str(side.shape), side.tensor);
    if (native.dtype != side.dtype)
      return invalid_input("{}: dtype {} but the report says {} for '{}'", path, dtype_name(native.dtype),
                           dtype_name(side.dtype), side.tensor);
  }
  if (!side.quantized) return real_values(native, nullptr);
  QuantParams q;
  q.scale = side.scale;
  q.zero_point = side.zero_point;
  q.zero_point_type = side.dtype;
  q.axis = side.axis;
  return real_values(native, &q);
}

void Inspector::build_view() {
  view_ = PairView{};
  view_.generation = ++view_generation_;
  view_valid_ = true;
  if (!report_ || selected_ < 0) return;
  const PairRecord& p = report_->pairs[static_cast<size_t>(selected_)];
  view_.pair = selected_;
  view_.channels = channel_count(p.ref.shape);
  if (!p.channel_max_abs.empty())
    view_.worst_channel = std::max_element(p.channel_max_abs.begin(), p.channel_max_abs.end()) - p.channel_max_abs.begin();
  view_.channel = channel_ >= 0 ? std::min(channel_, view_.channels - 1) : std::max<int64_t>(view_.worst_channel, 0);
  view_.ref_argmax_at = unravel_index(p.ref.stats.argmax, p.ref.shape);
  view_.other_argmax_at = unravel_index(p.other.stats.argmax, p.other.shape);
  view_.max_abs_at = unravel_index(p.drift.max_abs_index, p.ref.shape);

  const bool saved = !p.ref.file.empty() || !p.other.file.empty();
  if (!tensors_ && !saved) return;  // a report without tensors: the report's numbers only
  if (!tensors_ && (p.ref.file.empty() || p.other.file.empty())) {
    view_.error = fmt::format("pair {}: the report names a tensor file for one side only", selected_);
    return;
  }
  auto ref = load_side(p.ref, true);
  auto other = ref ? load_side(p.other, false) : Result<Tensor>(ref.status());
  if (!ref || !other) {
    view_.error = (!ref ? ref.status() : other.status()).message();
    return;
  }
  if (ref->numel() != other->numel()) {
    view_.error = fmt::format("pair {}: {} and {} elements", selected_, ref->numel(), other->numel());
    return;
  }
  view_.ref_real = std::move(*ref);
  view_.other_real = std::move(*other);
  view_.has_tensors = true;
  view_.ref_real_stats = compute_stats(view_.ref_real);
  view_.other_real_stats = compute_stats(view_.other_real);
  view_.histogram = value_histograms(view_.ref_real, view_.other_real, kValueHistogramBins);
  view_.ref_plane = channel_plane(view_.ref_real, nullptr, view_.channel);
  view_.other_plane = channel_plane(view_.other_real, nullptr, view_.channel);
  view_.diff_plane = channel_plane(view_.ref_real, &view_.other_real, view_.channel);
}

const PairView& Inspector::pair_view() {
  if (!view_valid_) build_view();
  return view_;
}

Status Inspector::export_json(const std::string& path) const {
  if (!report_) return invalid_input("no report to export");
  return write_file_bytes(path, report_to_json(*report_));
}

}  // namespace qdrift::gui
