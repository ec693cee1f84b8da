// broadcast.h: numpy-style multidirectional broadcasting and axis helpers for the
// reference kernels.
//
//   QD_ASSIGN_OR_RETURN(Shape out, broadcast_shapes(a.shape, b.shape));   // [3,1,5] + [4,1] -> [3,4,5]
//   BroadcastMap map(out, {&a.shape, &b.shape});
//   map.for_each([&](int64_t o, const int64_t* in) { y[o] = pa[in[0]] + pb[in[1]]; });
//
//   QD_ASSIGN_OR_RETURN(int axis, normalize_axis(-1, 4, "axis"));        // 3
//
// Broadcasting follows ONNX's "multidirectional" rule (numpy): shapes are aligned at the
// right, and each pair of dims must be equal or one of them 1. A dim of 0 broadcasts
// against 1 and gives 0.
#pragma once

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <string_view>
#include <vector>

#include "core/executor.h"
#include "core/onnx_loader.h"
#include "core/tensor.h"

namespace qdrift::ref {

// The broadcast result of `shapes`, or invalid_input naming the two clashing dims.
inline Result<Shape> broadcast_shapes(std::initializer_list<const Shape*> shapes) {
  size_t rank = 0;
  for (const Shape* s : shapes) rank = std::max(rank, s->size());
  Shape out(rank, 1);
  for (const Shape* s : shapes) {
    const size_t offset = rank - s->size();
    for (size_t i = 0; i < s->size(); ++i) {
      const int64_t d = (*s)[i];
      int64_t& o = out[offset + i];
      if (d == o || d == 1) continue;
      if (o == 1) {
        o = d;
        continue;
      }
      return invalid_input("shapes {} cannot be broadcast: dim {} is {} here and {} elsewhere", shape_str(*s),
                           offset + i, d, o);
    }
  }
  return out;
}
inline Result<Shape> broadcast_shapes(const Shape& a, const Shape& b) { return broadcast_shapes({&a, &b}); }

// Walks the elements of a broadcast output in row-major order, giving for each the flat
// element offset of every input. Inputs must broadcast to `out` (checked by the caller
// with broadcast_shapes).
class BroadcastMap {
 public:
  BroadcastMap(const Shape& out, std::initializer_list<const Shape*> inputs) : out_(out) {
    const size_t rank = out.size();
    for (const Shape* s : inputs) {
      // Element strides of the input seen in the output's rank: 0 along broadcast dims.
      std::vector<int64_t> strides(rank, 0);
      const size_t offset = rank - s->size();
      int64_t stride = 1;
      for (size_t i = s->size(); i-- > 0;) {
        strides[offset + i] = (*s)[i] == 1 ? 0 : stride;
        stride *= (*s)[i];
      }
      strides_.push_back(std::move(strides));
    }
  }

  // Any strided view: strides[k][d] is input k's element stride along output dim d
  // (used by Transpose with permuted strides).
  BroadcastMap(const Shape& out, std::vector<std::vector<int64_t>> strides)
      : out_(out), strides_(std::move(strides)) {}

  // f(int64_t out_index, const int64_t* in_offsets), in_offsets[k] for input k.
  template <typename F>
  void for_each(F&& f) const {
    const size_t n_in = strides_.size();
    const size_t rank = out_.size();
    const int64_t total = shape_numel(out_);
    if (total == 0) return;
    std::vector<int64_t> coord(rank, 0);
    std::vector<int64_t> off(n_in, 0);
    for (int64_t o = 0; o < total; ++o) {
      f(o, off.data());
      // Odometer increment, updating each input offset incrementally.
      for (size_t d = rank; d-- > 0;) {
        if (++coord[d] < out_[d]) {
          for (size_t k = 0; k < n_in; ++k) off[k] += strides_[k][d];
          break;
        }
        for (size_t k = 0; k < n_in; ++k) off[k] -= strides_[k][d] * (out_[d] - 1);
        coord[d] = 0;
      }
    }
  }

 private:
  Shape out_;
  std::vector<std::vector<int64_t>> strides_;
};

// Maps an axis in [-rank, rank) to [0, rank); `what` names the attribute in the message.
inline Result<int> normalize_axis(int64_t axis, int64_t rank, std::string_view what) {
  if (rank == 0) return invalid_input("{} {} is out of range: a rank-0 tensor has no axes", what, axis);
  if (axis < -rank || axis >= rank)
    return invalid_input("{} {} is out of range for rank {} (valid: {}..{})", what, axis, rank, -rank, rank - 1);
  return static_cast<int>(axis < 0 ? axis + rank : axis);
}

// Name of input i of the running node, for messages ("" when omitted).
inline std::string_view input_name(const KernelContext& ctx, size_t i) {
  const ValueId v = ctx.node.input(i);
  return v == kNoValue ? std::string_view("<omitted>") : std::string_view(ctx.graph.value(v).name);
}

// The default-domain opset that decides a node's attribute forms. The loader never gives
// 0; a graph built in code may leave it unset, and then gets the newest opset qdrift reads.
inline int64_t kernel_opset(const Graph& g) { return g.opset > 0 ? g.opset : kMaxOpset; }

// Input i of the running node, or invalid_input when a required input is omitted.
inline Result<const Tensor*> required_input(const KernelContext& ctx, size_t i) {
  const Tensor* t = ctx.input(i);
  if (!t) return invalid_input("required input {} is missing", i);
  return t;
}

// The initializer feeding input i of `n`, or nullptr when the input is computed at run time.
inline const Tensor* constant_input(const Graph& g, const Node& n, size_t i) {
  const ValueId v = n.input(i);
  if (v == kNoValue) return nullptr;
  const auto& init = g.value(v).initializer;
  return init ? &*init : nullptr;
}

}  // namespace qdrift::ref
