// dump.h: `qdrift run --dump DIR`: every produced tensor as DIR/<name>.npy, plus
// DIR/index.json mapping each file to its tensor, node, op, dtype and shape.
//
//   TensorDumper dumper;
//   QD_RETURN_IF_ERROR(dumper.open("dump", model_path, "ref"));
//   std::string file = dumper.dump(node, output_index, value, tensor);  // in the observer
//   QD_RETURN_IF_ERROR(dumper.finish());   // writes index.json; reports the first write error
//
// index.json: {"schema": "qdrift.dump/1", "model": ..., "executor": ..., "tensors":
//   {"conv1_out.npy": {"tensor": "conv1_out", "node": "conv1", "op": "Conv",
//    "output_index": 0, "dtype": "f32", "shape": [1,8,4,4]}, ...}}   (execution order)
#pragma once

#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "core/graph.h"

namespace qdrift::cli {

// A file name for a tensor name: [A-Za-z0-9._-] kept, everything else '_', no leading
// dot, at most 120 bytes. Not unique by itself (TensorDumper adds "~2", "~3", ...).
std::string sanitize_file_name(std::string_view tensor_name);

class TensorDumper {
 public:
  // Creates DIR (and parents) if needed.
  Status open(const std::string& dir, const std::string& model_path, const std::string& executor);
  // Writes the tensor; returns the file name inside DIR ("" after an earlier write error:
  // the first error is kept and returned by finish(), the run goes on).
  std::string dump(const Node& node, size_t output_index, const Value& value, const Tensor& tensor);
  // Writes index.json (also after a failed run, for the tensors written so far).
  Status finish();
  size_t count() const { return count_; }

 private:
  std::string dir_;
  nlohmann::ordered_json index_;
  std::set<std::string> used_;
  Status error_;
  size_t count_ = 0;
};

}  // namespace qdrift::cli
