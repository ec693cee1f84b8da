#include "core/op_attrs.h"

#include <variant>

#include <fmt/format.h>

namespace qdrift {

namespace {

// The attribute's value when it holds a T; nullptr when absent; an error when it holds
// another type.
template <typename T>
Result<const T*> find_typed(const Node& node, std::string_view key, std::string_view type_name) {
  auto it = node.attrs.find(key);
  if (it == node.attrs.end()) return static_cast<const T*>(nullptr);
  const T* v = std::get_if<T>(&it->second);
  if (!v) return invalid_input("attribute '{}' must be {}", key, type_name);
  return v;
}

std::string list_str(const std::vector<int64_t>& v) { return fmt::format("[{}]", fmt::join(v, ",")); }

// Window attributes beyond this are absurd; the bound also keeps the geometry's int64
// arithmetic ((k - 1) * d, in + pads) far from overflow.
constexpr int64_t kMaxWindowValue = int64_t{1} << 30;

// Checks every element of an optional list attribute against [min, kMaxWindowValue].
Status check_min(const std::vector<int64_t>& values, int64_t min, std::string_view key) {
  for (int64_t v : values)
    if (v < min || v > kMaxWindowValue)
      return invalid_input("attribute '{}' = {}: every value must be in [{}, {}]", key, list_str(values), min,
                           kMaxWindowValue);
  return Status::ok();
}

// Fills an absent list with `fallback` values, else checks its length against the
// spatial rank.
Result<std::vector<int64_t>> per_axis(const std::vector<int64_t>& given, size_t rank, int64_t fallback,
                                      std::string_view key) {
  if (given.empty()) return std::vector<int64_t>(rank, fallback);
  if (given.size() != rank)
    return invalid_input("attribute '{}' = {} has {} values, the input has {} spatial dimension{}", key,
                         list_str(given), given.size(), rank, rank == 1 ? "" : "s");
  return given;
}

// ceil(a / b) for b > 0 and any sign of a.
int64_t ceil_div(int64_t a, int64_t b) { return a >= 0 ? (a + b - 1) / b : -((-a) / b); }

// The pads and output size along one axis; shared by Conv and pools (ONNX 1.12's
// convPoolShapeInference, see the header).
struct AxisWindow {
  int64_t pad_begin = 0;
  int64_t pad_end = 0;
  int64_t out = 0;
};

Result<AxisWindow> resolve_axis(size_t axis, int64_t in, int64_t kernel, int64_t stride, int64_t dilation,
                                AutoPad auto_pad, const std::vector<int64_t>& pads, bool has_pads, bool ceil_mode) {
  const size_t rank = pads.size() / 2;
  const int64_t eff_kernel = (kernel - 1) * dilation + 1;
  AxisWindow a;
  if (has_pads) {
    a.pad_begin = pads[axis];
    a.pad_end = pads[axis + rank];
  }
  if (auto_pad == AutoPad::same_upper || auto_pad == AutoPad::same_lower) {
    const int64_t total = std::max<int64_t>(0, (ceil_div(in, stride) - 1) * stride + eff_kernel - in);
    const int64_t small = total / 2;
    const int64_t big = total - small;
    const int64_t begin = auto_pad == AutoPad::same_upper ? small : big;
    const int64_t end = total - begin;
    if (has_pads && (a.pad_begin != begin || a.pad_end != end))
      return invalid_input("attribute 'pads' = {} contradicts auto_pad={} (which pads axis {} by {} and {})",
                           list_str(pads), auto_pad_name(auto_pad), axis, begin, end);
    a.pad_begin = begin;
    a.pad_end = end;
  } else if (auto_pad == AutoPad::valid) {
    if (a.pad_begin != 0 || a.pad_end != 0)
      return invalid_input("attribute 'pads' = {} contradicts auto_pad=VALID (no padding)", list_str(pads));
  }
  const int64_t span = in + a.pad_begin + a.pad_end - eff_kernel;
  if (span < 0)
    return invalid_input("the kernel ({} with dilation {}) is larger than the padded input ({} + {} + {}) along "
                         "spatial axis {}",
                         kernel, dilation, in, a.pad_begin, a.pad_end, axis);
  a.out = 1 + (ceil_mode ? ceil_div(span, stride) : span / stride);
  return a;
}

Status check_rank(const Shape& s, std::string_view name) {
  if (s.size() < 3)
    return invalid_input("input '{}' has shape {}: expected rank >= 3 (N, C, spatial...)", name, shape_str(s));
  for (int64_t d : s)
    if (d < 0) return invalid_input("input '{}' has an unknown dimension: {}", name, shape_str(s));
  return Status::ok();
}

}  // namespace

Result<int64_t> checked_attr_int(const Node& node, std::string_view key, int64_t fallback) {
  QD_ASSIGN_OR_RETURN(const int64_t* v, find_typed<int64_t>(node, key, "an int"));
  return v ? node.attr_int(key, fallback) : fallback;
}

Result<float> checked_attr_float(const Node& node, std::string_view key, float fallback) {
  QD_ASSIGN_OR_RETURN(const float* v, find_typed<float>(node, key, "a float"));
  return v ? node.attr_float(key, fallback) : fallback;
}

Result<std::string> checked_attr_string(const Node& node, std::string_view key, std::string fallback) {
  QD_ASSIGN_OR_RETURN(const std::string* v, find_typed<std::string>(node, key, "a string"));
  return v ? node.attr_string(key, fallback) : fallback;
}

Result<std::vector<int64_t>> checked_attr_ints(const Node& node, std::string_view key, std::vector<int64_t> fallback) {
  QD_ASSIGN_OR_RETURN(const std::vector<int64_t>* v, find_typed<std::vector<int64_t>>(node, key, "a list of ints"));
  return v ? node.attr_ints(key, fallback) : fallback;
}

Result<int64_t> normalize_axis(int64_t axis, int64_t rank, std::string_view what) {
  if (axis < -rank || axis >= rank)
    return invalid_input("{} = {} is out of range for rank {} (valid: [{}, {}])", what, axis, rank, -rank, rank - 1);
  return axis < 0 ? axis + rank : axis;
}

std::string_view auto_pad_name(AutoPad p) {
  switch (p) {
    case AutoPad::notset: return "NOTSET";
    case AutoPad::same_upper: return "SAME_UPPER";
    case AutoPad::same_lower: return "SAME_LOWER";
    case AutoPad::valid: return "VALID";
  }
  return "?";
}

Result<AutoPad> parse_auto_pad(std::string_view s) {
  if (s == "NOTSET" || s.empty()) return AutoPad::notset;
  if (s == "SAME_UPPER") return AutoPad::same_upper;
  if (s == "SAME_LOWER") return AutoPad::same_lower;
  if (s == "VALID") return AutoPad::valid;
  return invalid_input("attribute 'auto_pad' = '{}': expected NOTSET, SAME_UPPER, SAME_LOWER or VALID", s);
}

// ---- Conv ------------------------------------------------------------------------------

Shape ConvGeometry::output_shape() const {
  Shape s{batch, out_channels};
  s.insert(s.end(), out_spatial.begin(), out_spatial.end());
  return s;
}

Result<ConvAttrs> parse_conv_attrs(const Node& node) {
  ConvAttrs a;
  QD_ASSIGN_OR_RETURN(std::string auto_pad, checked_attr_string(node, "auto_pad", "NOTSET"));
  QD_ASSIGN_OR_RETURN(a.auto_pad, parse_auto_pad(auto_pad));
  QD_ASSIGN_OR_RETURN(a.kernel_shape, checked_attr_ints(node, "kernel_shape"));
  QD_ASSIGN_OR_RETURN(a.strides, checked_attr_ints(node, "strides"));
  QD_ASSIGN_OR_RETURN(a.dilations, checked_attr_ints(node, "dilations"));
  QD_ASSIGN_OR_RETURN(a.pads, checked_attr_ints(node, "pads"));
  a.has_pads = !a.pads.empty();
  QD_ASSIGN_OR_RETURN(a.group, checked_attr_int(node, "group", 1));
  if (a.group < 1) return invalid_input("attribute 'group' = {}: must be >= 1", a.group);
  QD_RETURN_IF_ERROR(check_min(a.kernel_shape, 1, "kernel_shape"));
  QD_RETURN_IF_ERROR(check_min(a.strides, 1, "strides"));
  QD_RETURN_IF_ERROR(check_min(a.dilations, 1, "dilations"));
  QD_RETURN_IF_ERROR(check_min(a.pads, 0, "pads"));
  if (a.pads.size() % 2 != 0)
    return invalid_input("attribute 'pads' = {} must hold a begin and an end value per spatial axis",
                         list_str(a.pads));
  return a;
}

Result<ConvGeometry> conv_geometry(const ConvAttrs& attrs, const Shape& x, const Shape& w) {
  QD_RETURN_IF_ERROR(check_rank(x, "x"));
  QD_RETURN_IF_ERROR(check_rank(w, "w"));
  if (x.size() != w.size())
    return invalid_input("input 'x' has shape {} and input 'w' has shape {}: their ranks must agree", shape_str(x),
                         shape_str(w));
  const size_t rank = x.size() - 2;
  ConvGeometry g;
  g.batch = x[0];
  g.in_channels = x[1];
  g.out_channels = w[0];
  g.group = attrs.group;
  if (g.in_channels % g.group != 0)
    return invalid_input("attribute 'group' = {} does not divide the {} input channels of 'x'", g.group,
                         g.in_channels);
  if (g.out_channels % g.group != 0)
    return invalid_input("attribute 'group' = {} does not divide the {} output channels (dim 0 of 'w')", g.group,
                         g.out_channels);
  if (w[1] != g.in_channels / g.group)
    return invalid_input("input 'w' has shape {}: dim 1 must be C/group = {}/{} = {} (channels of 'x' {})",
                         shape_str(w), g.in_channels, g.group, g.in_channels / g.group, shape_str(x));
  g.in_spatial.assign(x.begin() + 2, x.end());
  g.kernel.assign(w.begin() + 2, w.end());
  for (int64_t k : g.kernel)
    if (k < 1) return invalid_input("input 'w' has shape {}: every kernel dimension must be >= 1", shape_str(w));
  if (!attrs.kernel_shape.empty() && attrs.kernel_shape != g.kernel)
    return invalid_input("attribute 'kernel_shape' = {} disagrees with the spatial dims of 'w' {}",
                         list_str(attrs.kernel_shape), shape_str(w));
  QD_ASSIGN_OR_RETURN(g.strides, per_axis(attrs.strides, rank, 1, "strides"));
  QD_ASSIGN_OR_RETURN(g.dilations, per_axis(attrs.dilations, rank, 1, "dilations"));
  QD_ASSIGN_OR_RETURN(std::vector<int64_t> pads, per_axis(attrs.pads, rank * 2, 0, "pads"));
  for (size_t i = 0; i < rank; ++i) {
    QD_ASSIGN_OR_RETURN(AxisWindow a, resolve_axis(i, g.in_spatial[i], g.kernel[i], g.strides[i], g.dilations[i],
                                                   attrs.auto_pad, pads, attrs.has_pads, /*ceil_mode=*/false));
    g.pads_begin.push_back(a.pad_begin);
    g.pads_end.push_back(a.pad_end);
    g.out_spatial.push_back(a.out);
  }
  return g;
}

Result<ConvGeometry> conv_geometry(const Node& node, const Shape& x, const Shape& w) {
  QD_ASSIGN_OR_RETURN(ConvAttrs attrs, parse_conv_attrs(node));
  return conv_geometry(attrs, x, w);
}

// ---- pools -----------------------------------------------------------------------------

Shape PoolGeometry::output_shape() const {
  Shape s{batch, channels};
  s.insert(s.end(), out_spatial.begin(), out_spatial.end());
  return s;
}

Result<PoolAttrs> parse_pool_attrs(const Node& node, PoolKind kind) {
  PoolAttrs a;
  a.kind = kind;
  QD_ASSIGN_OR_RETURN(std::string auto_pad, checked_attr_string(node, "auto_pad", "NOTSET"));
  QD_ASSIGN_OR_RETURN(a.auto_pad, parse_auto_pad(auto_pad));
  QD_ASSIGN_OR_RETURN(a.kernel_shape, checked_attr_ints(node, "kernel_shape"));
  if (a.kernel_shape.empty()) return invalid_input("attribute 'kernel_shape' is required");
  QD_ASSIGN_OR_RETURN(a.strides, checked_attr_ints(node, "strides"));
  QD_ASSIGN_OR_RETURN(a.pads, checked_attr_ints(node, "pads"));
  a.has_pads = !a.pads.empty();
  QD_ASSIGN_OR_RETURN(int64_t ceil_mode, checked_attr_int(node, "ceil_mode", 0));
  if (ceil_mode != 0 && ceil_mode != 1) return invalid_input("attribute 'ceil_mode' = {}: must be 0 or 1", ceil_mode);
  a.ceil_mode = ceil_mode == 1;
  if (kind == PoolKind::max) {
    // AveragePool has no dilations before opset 19 (the checker rejects the attribute).
    QD_ASSIGN_OR_RETURN(a.dilations, checked_attr_ints(node, "dilations"));
    QD_ASSIGN_OR_RETURN(a.storage_order, checked_attr_int(node, "storage_order", 0));
    if (a.storage_order != 0 && a.storage_order != 1)
      return invalid_input("attribute 'storage_order' = {}: must be 0 (row major) or 1 (column major)",
                           a.storage_order);
  } else {
    QD_ASSIGN_OR_RETURN(int64_t cip, checked_attr_int(node, "count_include_pad", 0));
    if (cip != 0 && cip != 1) return invalid_input("attribute 'count_include_pad' = {}: must be 0 or 1", cip);
    a.count_include_pad = cip == 1;
  }
  QD_RETURN_IF_ERROR(check_min(a.kernel_shape, 1, "kernel_shape"));
  QD_RETURN_IF_ERROR(check_min(a.strides, 1, "strides"));
  QD_RETURN_IF_ERROR(check_min(a.dilations, 1, "dilations"));
  QD_RETURN_IF_ERROR(check_min(a.pads, 0, "pads"));
  const size_t rank = a.kernel_shape.size();
  if (!a.strides.empty() && a.strides.size() != rank)
    return invalid_input("attribute 'strides' = {} must have one value per kernel axis ({})", list_str(a.strides),
                         rank);
  if (!a.dilations.empty() && a.dilations.size() != rank)
    return invalid_input("attribute 'dilations' = {} must have one value per kernel axis ({})",
                         list_str(a.dilations), rank);
  if (a.has_pads && a.pads.size() != 2 * rank)
    return invalid_input("attribute 'pads' = {} must have two values per kernel axis ({})", list_str(a.pads), 2 * rank);
  return a;
}

Result<PoolGeometry> pool_geometry(const PoolAttrs& attrs, const Shape& x) {
  QD_RETURN_IF_ERROR(check_rank(x, "X"));
  const size_t rank = x.size() - 2;
  if (attrs.kernel_shape.size() != rank)
    return invalid_input("attribute 'kernel_shape' = {} has {} values, input 'X' {} has {} spatial dimension{}",
                         list_str(attrs.kernel_shape), attrs.kernel_shape.size(), shape_str(x), rank,
                         rank == 1 ? "" : "s");
  PoolGeometry g;
  g.batch = x[0];
  g.channels = x[1];
  g.in_spatial.assign(x.begin() + 2, x.end());
  g.kernel = attrs.kernel_shape;
  g.ceil_mode = attrs.ceil_mode;
  g.count_include_pad = attrs.count_include_pad;
  g.storage_order = attrs.storage_order;
  QD_ASSIGN_OR_RETURN(g.strides, per_axis(attrs.strides, rank, 1, "strides"));
  QD_ASSIGN_OR_RETURN(g.dilations, per_axis(attrs.dilations, rank, 1, "dilations"));
  QD_ASSIGN_OR_RETURN(std::vector<int64_t> pads, per_axis(attrs.pads, rank * 2, 0, "pads"));
  for (size_t i = 0; i < rank; ++i) {
    QD_ASSIGN_OR_RETURN(AxisWindow a, resolve_axis(i, g.in_spatial[i], g.kernel[i], g.strides[i], g.dilations[i],
                                                   attrs.auto_pad, pads, attrs.has_pads, attrs.ceil_mode));
    // A pad as large as the (dilated) window makes windows of padding only, which pool
    // nothing; ONNX Runtime rejects them too.
    const int64_t eff_kernel = (g.kernel[i] - 1) * g.dilations[i] + 1;
    if (a.pad_begin >= eff_kernel || a.pad_end >= eff_kernel)
      return invalid_input("pads {} and {} of spatial axis {} must be smaller than the kernel extent {}", a.pad_begin,
                           a.pad_end, i, eff_kernel);
    g.pads_begin.push_back(a.pad_begin);
    g.pads_end.push_back(a.pad_end);
    g.out_spatial.push_back(a.out);
  }
  return g;
}

Result<PoolGeometry> pool_geometry(const Node& node, PoolKind kind, const Shape& x) {
  QD_ASSIGN_OR_RETURN(PoolAttrs attrs, parse_pool_attrs(node, kind));
  return pool_geometry(attrs, x);
}

}  // namespace qdrift
