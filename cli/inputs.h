// inputs.h: binds `--input [NAME=]FILE` arguments to a graph's runtime inputs.
//
//   auto bound = bind_inputs(graph, {"x=img.npy", "mask.pb"}, limits);
//   if (!bound) return bound.status();   // "img.npy: input 'x': expected shape [1,3,8,8], got [3,8,8]"
//   std::vector<Tensor> feeds = take_tensors(*bound);
//
// Rules, in this order:
//   NAME=FILE   binds FILE to the input NAME (NAME must be one of the graph's inputs);
//   FILE.npz    binds every member to the input of the same name;
//   FILE        (bare .npy/.pb) binds to the graph inputs not bound otherwise, in graph order.
// Every input must be bound exactly once, and each tensor must match its input's declared
// dtype and known dims. Errors are one line naming the file (or the model for a missing input).
#pragma once

#include <string>
#include <vector>

#include "cli/run_record.h"
#include "core/graph.h"
#include "core/limits.h"

namespace qdrift::cli {

struct BoundInput {
  TensorRecord record;  // name, file, member, dtype, shape (no stats)
  Tensor tensor;
};

// Returns one BoundInput per graph input, in graph.inputs order.
Result<std::vector<BoundInput>> bind_inputs(const Graph& graph, const std::vector<std::string>& specs,
                                            const Limits& limits);

}  // namespace qdrift::cli
