// op_attrs.h: attribute parsing and window geometry of Conv-like and pool ops, shared by
// every kernel table (reference, integer oracle, oneDNN lowering).
//
//   // In a kernel factory: parse once, reject absurd attributes with a Status.
//   QD_ASSIGN_OR_RETURN(ConvAttrs attrs, parse_conv_attrs(node));
//   // Per run, once the input shapes are known:
//   QD_ASSIGN_OR_RETURN(ConvGeometry g, conv_geometry(attrs, x.shape, w.shape));
//   g.output_shape()                       -> {N, M, out_1, ..., out_k}
//   g.pads_begin[i], g.pads_end[i]         -> explicit pads, auto_pad already resolved
//
// Output sizes follow ONNX 1.12 shape inference exactly (the executor checks kernels
// against it): out = 1 + floor((in + pad_begin + pad_end - ((k - 1) * d + 1)) / s), or
// ceil with ceil_mode; SAME_UPPER/SAME_LOWER pads total max(0, (ceil(in/s) - 1) * s +
// (k - 1) * d + 1 - in), split with the odd pixel at the end (UPPER) or the beginning
// (LOWER). Every message names the attribute or input at fault; the executor prefixes
// the node.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/graph.h"
#include "core/status.h"
#include "core/tensor.h"

namespace qdrift {

// ---- typed attribute access that never asserts ----------------------------------------
// Node::attr_* assert when an attribute has the wrong type, which the ONNX checker rules
// out for default-domain ops. Ops of other domains (com.microsoft) have no schema in
// libonnx, so a hostile file can carry any type: these return invalid_input instead.
Result<int64_t> checked_attr_int(const Node& node, std::string_view key, int64_t fallback);
Result<float> checked_attr_float(const Node& node, std::string_view key, float fallback);
Result<std::string> checked_attr_string(const Node& node, std::string_view key, std::string fallback);
Result<std::vector<int64_t>> checked_attr_ints(const Node& node, std::string_view key,
                                               std::vector<int64_t> fallback = {});

// Maps an axis in [-rank, rank) to [0, rank); `what` names it in the message ("axis").
Result<int64_t> normalize_axis(int64_t axis, int64_t rank, std::string_view what);

// ---- Conv / ConvInteger / QLinearConv -------------------------------------------------
enum class AutoPad : uint8_t { notset, same_upper, same_lower, valid };
std::string_view auto_pad_name(AutoPad p);  // "NOTSET", "SAME_UPPER", ...
Result<AutoPad> parse_auto_pad(std::string_view s);

// Attributes as written (empty vectors = attribute absent, defaults apply).
struct ConvAttrs {
  AutoPad auto_pad = AutoPad::notset;
  std::vector<int64_t> kernel_shape;  // optional; must equal w's spatial dims when given
  std::vector<int64_t> strides;       // default all 1
  std::vector<int64_t> dilations;     // default all 1
  std::vector<int64_t> pads;          // [x1_begin, x2_begin, ..., x1_end, x2_end, ...], default 0
  bool has_pads = false;              // `pads` was written (possibly next to auto_pad)
  int64_t group = 1;
};

// Checks values that need no shapes (group >= 1, strides/dilations >= 1, pads >= 0,
// kernel_shape >= 1, known auto_pad, list lengths consistent with each other).
Result<ConvAttrs> parse_conv_attrs(const Node& node);

// Everything a direct convolution loop needs, with auto_pad resolved.
struct ConvGeometry {
  int64_t batch = 0;         // N
  int64_t in_channels = 0;   // C
  int64_t out_channels = 0;  // M
  int64_t group = 1;
  std::vector<int64_t> in_spatial;   // x dims 2..
  std::vector<int64_t> kernel;       // w dims 2..
  std::vector<int64_t> strides;
  std::vector<int64_t> dilations;
  std::vector<int64_t> pads_begin;
  std::vector<int64_t> pads_end;
  std::vector<int64_t> out_spatial;

  int spatial_rank() const { return static_cast<int>(in_spatial.size()); }
  int64_t in_channels_per_group() const { return in_channels / group; }    // C / group == w dim 1
  int64_t out_channels_per_group() const { return out_channels / group; }  // M / group
  Shape output_shape() const;                                            // {N, M, out...}
};

// x: [N, C, D1..Dk], w: [M, C/group, k1..kk], k >= 1. Rejects rank mismatches, group not
// dividing C or M, w dim 1 != C/group, kernel_shape != w's dims, list lengths != k,
// pads together with a different auto_pad, and kernels larger than the padded input.
Result<ConvGeometry> conv_geometry(const ConvAttrs& attrs, const Shape& x, const Shape& w);
Result<ConvGeometry> conv_geometry(const Node& node, const Shape& x, const Shape& w);

// ---- AveragePool / MaxPool ------------------------------------------------------------
enum class PoolKind : uint8_t { average, max };

struct PoolAttrs {
  PoolKind kind = PoolKind::max;
  AutoPad auto_pad = AutoPad::notset;
  std::vector<int64_t> kernel_shape;  // required
  std::vector<int64_t> strides;       // default all 1
  std::vector<int64_t> dilations;     // MaxPool (opset 10+) only; default all 1
  std::vector<int64_t> pads;          // as ConvAttrs::pads
  bool has_pads = false;
  bool ceil_mode = false;             // opset 10+
  bool count_include_pad = false;     // AveragePool opset 7+
  int64_t storage_order = 0;          // MaxPool opset 8+: 0 row major, 1 column major (Indices)
};

Result<PoolAttrs> parse_pool_attrs(const Node& node, PoolKind kind);

struct PoolGeometry {
  int64_t batch = 0;
  int64_t channels = 0;
  std::vector<int64_t> in_spatial;
  std::vector<int64_t> kernel;
  std::vector<int64_t> strides;
  std::vector<int64_t> dilations;  // all 1 for AveragePool
  std::vector<int64_t> pads_begin;
  std::vector<int64_t> pads_end;
  std::vector<int64_t> out_spatial;
  bool ceil_mode = false;
  bool count_include_pad = false;
  int64_t storage_order = 0;

  int spatial_rank() const { return static_cast<int>(in_spatial.size()); }
  Shape output_shape() const;  // {N, C, out...}
};

// x: [N, C, D1..Dk] with k == kernel_shape.size().
Result<PoolGeometry> pool_geometry(const PoolAttrs& attrs, const Shape& x);
Result<PoolGeometry> pool_geometry(const Node& node, PoolKind kind, const Shape& x);

}  // namespace qdrift
