// dump_source.h: a directory of tensors another framework dumped, as the other side of a diff.
//
//   QD_ASSIGN_OR_RETURN(std::unique_ptr<DumpSource> dump, DumpSource::open("dump/", nullptr, limits));
//   QD_RETURN_IF_ERROR(run_drift(ref_executor, inputs, *dump, options, report));
//
// One file per tensor, `.npy` or ONNX TensorProto `.pb`, named after the tensor (the file
// name without its extension). An optional `index.json` in the format `qdrift run --dump`
// writes (schema qdrift.dump/1) gives the execution order (its `tensors` object's order), the
// real tensor name of each file (names with '/' cannot be file names), and optionally its
// dtype, shape, op, and the scale and zero point of integer codes. Without index.json the
// files are taken in natural name order ("conv2d_2" before "conv2d_10").
//
// With the graph the dump came from (`--other-graph`), every file must name a tensor that
// graph produces; the tensors come in the graph's order, and structure can pair them. Without
// it, the source is a chain of one node per file (op from index.json, else "Dump").
//
// Directories are untrusted: at most kMaxDumpFiles tensor files, no control characters in
// file or tensor names, every file read through the tensor readers' limits, dtype and shape
// checked against index.json and the graph; each problem is one line naming the file.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/limits.h"
#include "diff/tensor_source.h"

namespace qdrift {

inline constexpr size_t kMaxDumpFiles = 8192;

class DumpSource final : public TensorSource {
 public:
  // `graph` (may be null) must outlive the source.
  static Result<std::unique_ptr<DumpSource>> open(const std::string& dir, const Graph* graph, const Limits& limits);

  const Graph& graph() const override { return graph_ ? *graph_ : synthetic_; }
  Status run(const Observer& observer) const override;
  bool produces(ValueId v) const override { return v >= 0 && static_cast<size_t>(v) < produced_.size() && produced_[static_cast<size_t>(v)]; }
  size_t tensor_count() const { return entries_.size(); }

 private:
  struct Entry {
    std::string file;                  // path
    std::string tensor;                // name
    std::string op;
    std::optional<DType> dtype;        // from index.json
    std::optional<Shape> shape;
    std::optional<QuantParams> quant;  // for integer codes
    ValueId value = kNoValue;
  };
  DumpSource() = default;
  Status check(const Entry& e, const Tensor& t) const;

  std::string dir_;
  Limits limits_;
  const Graph* graph_ = nullptr;
  Graph synthetic_;
  std::vector<Entry> entries_;  // in execution order
  std::vector<bool> produced_;
};

}  // namespace qdrift
