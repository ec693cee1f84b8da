// inspector.h: the GUI's data model, with no ImGui in sight (Tracy's Worker): the report
// being inspected, its tensors (loaded lazily, or kept in memory by a live run), the
// table's filter and order, the selected pair and what the panels show of it.
//
//   Inspector in;
//   QD_RETURN_IF_ERROR(in.open_report("out/report.json"));  // the reader `qdrift gate` uses
//   in.select_first_divergence();
//   QD_RETURN_IF_ERROR(in.set_query({.filter = {.divergent_only = true}}));
//   const PairView& v = in.pair_view();   // loads out/tensors/ref/<name>.npy ... once
//   if (!v.error.empty()) show(v.error);  // "out/tensors/ref/x.npy: cannot open ..."
//
// Every number a panel shows is in the Report or was computed here by diff/ functions
// (diff/tensor_views.h); panels only draw.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"
#include "diff/report.h"
#include "diff/tensor_stats.h"
#include "diff/tensor_views.h"
#include "gui/model/table.h"

namespace qdrift::gui {

// Paired tensors kept in memory by a live run, by tensor name, in their native dtype.
struct TensorStore {
  std::map<std::string, Tensor, std::less<>> ref, other;
};

// What the tensor panel shows of the selected pair. Without tensors (a report saved without
// --save-tensors) only the report's own numbers exist; `error` says why tensors are missing
// when they should be there.
struct PairView {
  uint64_t generation = 0;              // new with every rebuild (selection, channel, new report)
  int64_t pair = -1;
  bool has_tensors = false;
  std::string error;                    // loading failed: one line naming the file
  Tensor ref_real, other_real;          // f32 real values (each side dequantized with its own grid)
  TensorStats ref_real_stats, other_real_stats;
  ValueHistogram histogram;             // both sides over shared bins
  int64_t channels = 1;                 // along axis 1
  int64_t channel = 0;                  // the channel the planes show
  Plane ref_plane, other_plane, diff_plane;
  int64_t worst_channel = -1;           // largest channel_max_abs, -1 without per-channel errors
  std::vector<int64_t> ref_argmax_at, other_argmax_at, max_abs_at;  // coordinates ({} when none)
};

inline constexpr int kValueHistogramBins = 64;

class Inspector {
 public:
  // Reads a report with read_report_json (the gate's reader); on error the previous state
  // stays and the error is returned. Tensor files are found relative to the report's folder.
  Status open_report(const std::string& path);
  // A report made in this process (live mode) and the tensors its run kept. Pairs whose
  // drift differs from the report shown until now are marked changed.
  void show_report(Report report, std::shared_ptr<const TensorStore> tensors, std::string label);

  bool has_report() const { return report_ != nullptr; }
  const Report& report() const { return *report_; }
  const std::string& label() const { return label_; }  // the report's path, or "live: ..."

  // Table. A bad regex is an error and leaves the rows as they were.
  Status set_query(const TableQuery& query);
  const TableQuery& query() const { return query_; }
  const std::vector<size_t>& rows() const { return rows_; }

  // Selection (index into report().pairs; -1 = none). Everything else follows it.
  void select(int64_t pair);
  int64_t selected() const { return selected_; }
  bool select_tensor(std::string_view name);  // a pair whose ref or other tensor has this name
  void select_first_divergence();             // no-op when there is none
  void select_next_divergent(int direction);  // +1 / -1 from the selection, wrapping
  void select_row_step(int direction);        // up/down in the table's visible order

  // The selected pair's tensor view, loaded on first use after a selection or a channel change.
  const PairView& pair_view();
  void set_channel(int64_t channel);

  // Live re-runs: per pair, whether it differs from the previous result; and how many.
  const std::vector<bool>& changed() const { return changed_; }
  size_t changed_count() const;

  Status export_json(const std::string& path) const;

 private:
  Status refresh_rows();
  Result<Tensor> load_side(const SideRecord& side, bool ref_side) const;
  void build_view();

  std::shared_ptr<const Report> report_;
  std::shared_ptr<const TensorStore> tensors_;  // live mode
  std::string label_;
  std::string tensor_dir_;                      // folder of the report file
  TableQuery query_;
  std::vector<size_t> rows_;
  int64_t selected_ = -1;
  int64_t channel_ = -1;                        // -1: the worst channel of the pair
  PairView view_;
  bool view_valid_ = false;
  uint64_t view_generation_ = 0;
  std::vector<bool> changed_;
};

}  // namespace qdrift::gui
