// shape.cpp: reference data-movement ops: Flatten, Reshape, Transpose, Concat, Squeeze,
// Unsqueeze, Pad, Identity, Constant, Shape, Gather.
//
// These move elements without arithmetic, so they work on every dtype by copying
// dtype_size() bytes per element. Shape-like inputs (Reshape's shape, Squeeze/Unsqueeze
// axes, Pad's pads) must be s64 as ONNX requires.
#include <cstring>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <type_traits>

#include "kernels/ref/broadcast.h"
#include "kernels/ref/ref_ops.h"

namespace qdrift::ref {

namespace {

using KernelPtr = Result<std::unique_ptr<Kernel>>;

template <typename K, typename... Args>
KernelPtr make_kernel(Args&&... args) {
  return std::unique_ptr<Kernel>(new K(std::forward<Args>(args)...));
}

// Product of dims, 0 if any dim is 0, invalid_input on overflow (hostile shapes).
Result<int64_t> dims_product(const Shape& s) {
  for (int64_t d : s)
    if (d == 0) return int64_t{0};
  int64_t n = 1;
  for (int64_t d : s)
    if (d < 0 || __builtin_mul_overflow(n, d, &n)) return invalid_input("shape {} is not a valid size", shape_str(s));
  return n;
}

// The output with the input's bytes under a new shape (Reshape, Flatten, Squeeze, ...).
Status copy_with_shape(KernelContext& ctx, const Tensor& x, const Shape& shape) {
  QD_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate(0, x.dtype, shape));
  QD_ASSERT(y->bytes.size() == x.bytes.size());
  if (!x.bytes.empty()) std::memcpy(y->bytes.data(), x.bytes.data(), x.bytes.size());
  return Status::ok();
}

// A 1-D s64 shape-like input (Reshape shape, axes, pads) as int64 values.
Result<std::vector<int64_t>> int64_list_input(const KernelContext& ctx, size_t i, std::string_view what) {
  QD_ASSIGN_OR_RETURN(const Tensor* t, required_input(ctx, i));
  if (t->dtype != DType::s64)
    return invalid_input("input '{}' ({}) has dtype {}, must be s64", input_name(ctx, i), what, dtype_name(t->dtype));
  if (t->rank() != 1)
    return invalid_input("input '{}' ({}) must be 1-D, has shape {}", input_name(ctx, i), what, shape_str(t->shape));
  return std::vector<int64_t>(t->values<int64_t>().begin(), t->values<int64_t>().end());
}

// ---- Identity ------------------------------------------------------------------------

Status identity(KernelContext& ctx) {
  QD_ASSIGN_OR_RETURN(const Tensor* x, required_input(ctx, 0));
  return copy_with_shape(ctx, *x, x->shape);
}

// ---- Flatten -------------------------------------------------------------------------

class FlattenKernel final : public Kernel {
 public:
  explicit FlattenKernel(int64_t axis) : axis_(axis) {}
  static KernelPtr create(const Graph&, const Node& n, const ExecOptions&) {
    return make_kernel<FlattenKernel>(n.attr_int("axis", 1));
  }
  Status run(KernelContext& ctx) override {
    QD_ASSIGN_OR_RETURN(const Tensor* x, required_input(ctx, 0));
    const int64_t r = x->rank();
    // axis lies in [-r, r]: axis == r flattens everything into the first dim.
    if (axis_ < -r || axis_ > r)
      return invalid_input("attribute axis {} is out of range for input '{}' of rank {}", axis_, input_name(ctx, 0),
                           r);
    const size_t axis = static_cast<size_t>(axis_ < 0 ? axis_ + r : axis_);
    QD_ASSIGN_OR_RETURN(int64_t outer, dims_product(Shape(x->shape.begin(), x->shape.begin() + axis)));
    QD_ASSIGN_OR_RETURN(int64_t inner, dims_product(Shape(x->shape.begin() + axis, x->shape.end())));
    return copy_with_shape(ctx, *x, {outer, inner});
  }

 private:
  int64_t axis_;
};

// ---- Reshape -------------------------------------------------------------------------

// Resolves a Reshape target: 0 copies the input dim (unless allowzero), one -1 is inferred.
Result<Shape> reshape_target(const KernelContext& ctx, const Shape& in, const std::vector<int64_t>& req,
                             bool allowzero) {
  QD_ASSIGN_OR_RETURN(int64_t count, dims_product(in));
  Shape out(req.begin(), req.end());
  std::optional<size_t> infer;
  bool has_zero = false;
  for (size_t i = 0; i < req.size(); ++i) {
    if (req[i] == -1) {
      if (infer) return invalid_input("shape input '{}' has more than one -1", input_name(ctx, 1));
      infer = i;
    } else if (req[i] == 0) {
      has_zero = true;
      if (allowzero) continue;
      if (i >= in.size())
        return invalid_input("shape input '{}' has 0 at position {}, beyond the input's rank {}", input_name(ctx, 1), i,
                             in.size());
      out[i] = in[i];
    } else if (req[i] < -1) {
      return invalid_input("shape input '{}' has invalid dim {} at position {}", input_name(ctx, 1), req[i], i);
    }
  }
  if (allowzero && has_zero && infer)
    return invalid_input("shape input '{}' has both 0 and -1 with allowzero=1", input_name(ctx, 1));
  if (infer) {
    Shape known = out;
    known[*infer] = 1;
    QD_ASSIGN_OR_RETURN(int64_t k, dims_product(known));
    if (k == 0 || count % k != 0)
      return invalid_input("cannot reshape input {} to {}: the -1 dim cannot be inferred", shape_str(in),
                           shape_str(Shape(req.begin(), req.end())));
    out[*infer] = count / k;
  }
  QD_ASSIGN_OR_RETURN(int64_t out_count, dims_product(out));
  if (out_count != count)
    return invalid_input("cannot reshape input {} ({} elements) to {} ({} elements)", shape_str(in), count,
                         shape_str(out), out_count);
  return out;
}

class ReshapeKernel final : public Kernel {
 public:
  static KernelPtr create(const Graph& g, const Node& n, const ExecOptions&) {
    auto k = std::make_unique<ReshapeKernel>();
    k->allowzero_ = n.attr_int("allowzero", 0) != 0;
    if (kernel_opset(g) < 5) {
      if (!n.has_attr("shape")) return invalid_input("attribute 'shape' is required (Reshape-1)");
      k->attr_shape_ = n.attr_ints("shape");
    }
    return std::unique_ptr<Kernel>(std::move(k));
  }
  Status run(KernelContext& ctx) override {
    QD_ASSIGN_OR_RETURN(const Tensor* x, required_input(ctx, 0));
    std::vector<int64_t> req;
    if (attr_shape_) {
      req = *attr_shape_;
    } else {
      QD_ASSIGN_OR_RETURN(req, int64_list_input(ctx, 1, "shape"));
    }
    QD_ASSIGN_OR_RETURN(Shape out, reshape_target(ctx, x->shape, req, allowzero_));
    return copy_with_shape(ctx, *x, out);
  }

 private:
  bool allowzero_ = false;
  std::optional<std::vector<int64_t>> attr_shape_;
};

// ---- Transpose -----------------------------------------------------------------------

class TransposeKernel final : public Kernel {
 public:
  explicit TransposeKernel(std::optional<std::vector<int64_t>> perm) : perm_(std::move(perm)) {}
  static KernelPtr create(const Graph&, const Node& n, const ExecOptions&) {
    std::optional<std::vector<int64_t>> perm;
    if (n.has_attr("perm")) perm = n.attr_ints("perm");
    return make_kernel<TransposeKernel>(std::move(perm));
  }
  Status run(KernelContext& ctx) override {
    QD_ASSIGN_OR_RETURN(const Tensor* x, required_input(ctx, 0));
    const size_t r = x->shape.size();
    std::vector<int64_t> perm(r);
    if (perm_) {
      perm = *perm_;
      if (perm.size() != r)
        return invalid_input("attribute perm has {} entries, input '{}' has rank {}", perm.size(), input_name(ctx, 0),
                             r);
      std::vector<char> seen(r, 0);
      for (int64_t p : perm) {
        if (p < 0 || p >= static_cast<int64_t>(r) || seen[static_cast<size_t>(p)])
          return invalid_input("attribute perm {} is not a permutation of 0..{}", shape_str(perm),
                               static_cast<int64_t>(r) - 1);
        seen[static_cast<size_t>(p)] = 1;
      }
    } else {
      for (size_t i = 0; i < r; ++i) perm[i] = static_cast<int64_t>(r - 1 - i);  // default: reverse
    }
    Shape out(r);
    const std::vector<int64_t> in_strides = shape_strides(x->shape);
    std::vector<int64_t> strides(r);
    for (size_t i = 0; i < r; ++i) {
      out[i] = x->shape[static_cast<size_t>(perm[i])];
      strides[i] = in_strides[static_cast<size_t>(perm[i])];
    }
    QD_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate(0, x->dtype, out));
    const size_t es = dtype_size(x->dtype);
    const std::byte* src = x->bytes.data();
    std::byte* dst = y->bytes.data();
    BroadcastMap(out, std::vector<std::vector<int64_t>>{strides}).for_each([&](int64_t o, const int64_t* in) {
      std::memcpy(dst + o * static_cast<int64_t>(es), src + in[0] * static_cast<int64_t>(es), es);
    });
    return Status::ok();
  }

 private:
  std::optional<std::vector<int64_t>> perm_;
};

// ---- Concat --------------------------------------------------------------------------

class ConcatKernel final : public Kernel {
 public:
  explicit ConcatKernel(int64_t axis) : axis_(axis) {}
  static KernelPtr create(const Graph& g, const Node& n, const ExecOptions&) {
    // Concat-1 defaults axis to 1; from Concat-4 on it is required.
    if (kernel_opset(g) >= 4 && !n.has_attr("axis")) return invalid_input("attribute 'axis' is required");
    return make_kernel<ConcatKernel>(n.attr_int("axis", 1));
  }
  Status run(KernelContext& ctx) override {
    if (ctx.inputs.empty()) return invalid_input("Concat needs at least one input");
    QD_ASSIGN_OR_RETURN(const Tensor* first, required_input(ctx, 0));
    QD_ASSIGN_OR_RETURN(int axis, normalize_axis(axis_, first->rank(), "attribute axis"));
    Shape out = first->shape;
    out[static_cast<size_t>(axis)] = 0;
    for (size_t i = 0; i < ctx.inputs.size(); ++i) {
      QD_ASSIGN_OR_RETURN(const Tensor* t, required_input(ctx, i));
      if (t->dtype != first->dtype)
        return invalid_input("input '{}' has dtype {}, input '{}' has {}", input_name(ctx, i), dtype_name(t->dtype),
                             input_name(ctx, 0), dtype_name(first->dtype));
      bool match = t->rank() == first->rank();
      for (size_t d = 0; match && d < out.size(); ++d)
        match = static_cast<int>(d) == axis || t->shape[d] == first->shape[d];
      if (!match)
        return invalid_input("input '{}' has shape {}, incompatible with '{}' {} for concatenation on axis {}",
                             input_name(ctx, i), shape_str(t->shape), input_name(ctx, 0), shape_str(first->shape),
                             axis);
      if (__builtin_add_overflow(out[static_cast<size_t>(axis)], t->shape[static_cast<size_t>(axis)],
                                 &out[static_cast<size_t>(axis)]))
        return invalid_input("concatenated dim overflows");
    }
    QD_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate(0, first->dtype, out));
    const int64_t outer = shape_numel(Shape(out.begin(), out.begin() + axis));
    const int64_t inner = shape_numel(Shape(out.begin() + axis + 1, out.end())) * static_cast<int64_t>(dtype_size(first->dtype));
    std::byte* dst = y->bytes.data();
    for (int64_t o = 0; o < outer; ++o) {
      for (const Tensor* t : ctx.inputs) {
        const int64_t chunk = t->shape[static_cast<size_t>(axis)] * inner;
        if (chunk == 0) continue;
        std::memcpy(dst, t->bytes.data() + o * chunk, static_cast<size_t>(chunk));
        dst += chunk;
      }
    }
    return Status::ok();
  }

 private:
  int64_t axis_;
};

// ---- Squeeze / Unsqueeze -------------------------------------------------------------

// Axes from the attribute (opset < 13) or input 1 (opset >= 13); nullopt when absent.
Result<std::optional<std::vector<int64_t>>> axes_of(const KernelContext& ctx, const std::optional<std::vector<int64_t>>& attr_axes,
                                                    bool from_input) {
  if (!from_input) return attr_axes;
  if (!ctx.input(1)) return std::optional<std::vector<int64_t>>();
  QD_ASSIGN_OR_RETURN(std::vector<int64_t> axes, int64_list_input(ctx, 1, "axes"));
  return std::optional<std::vector<int64_t>>(std::move(axes));
}

// Normalizes `axes` against `rank`, rejecting out-of-range and repeated entries.
Result<std::vector<char>> axis_mask(const std::vector<int64_t>& axes, int64_t rank) {
  std::vector<char> mask(static_cast<size_t>(rank), 0);
  for (int64_t a : axes) {
    QD_ASSIGN_OR_RETURN(int ax, normalize_axis(a, rank, "axis"));
    if (mask[static_cast<size_t>(ax)]) return invalid_input("axis {} is repeated in axes", a);
    mask[static_cast<size_t>(ax)] = 1;
  }
  return mask;
}

class SqueezeKernel final : public Kernel {
 public:
  static KernelPtr create(const Graph& g, const Node& n, const ExecOptions&) {
    auto k = std::make_unique<SqueezeKernel>();
    k->from_input_ = kernel_opset(g) >= 13;
    if (!k->from_input_ && n.has_attr("axes")) k->attr_axes_ = n.attr_ints("axes");
    return std::unique_ptr<Kernel>(std::move(k));
  }
  Status run(KernelContext& ctx) override {
    QD_ASSIGN_OR_RETURN(const Tensor* x, required_input(ctx, 0));
    QD_ASSIGN_OR_RETURN(auto axes, axes_of(ctx, attr_axes_, from_input_));
    Shape out;
    if (!axes) {  // no axes: drop every dim of size 1
      for (int64_t d : x->shape)
        if (d != 1) out.push_back(d);
      return copy_with_shape(ctx, *x, out);
    }
    QD_ASSIGN_OR_RETURN(std::vector<char> mask, axis_mask(*axes, x->rank()));
    for (size_t d = 0; d < x->shape.size(); ++d) {
      if (!mask[d]) {
        out.push_back(x->shape[d]);
      } else if (x->shape[d] != 1) {
        return invalid_input("cannot squeeze axis {} of input '{}' {}: its dim is not 1", d, input_name(ctx, 0),
                             shape_str(x->shape));
      }
    }
    return copy_with_shape(ctx, *x, out);
  }

 private:
  bool from_input_ = false;
  std::optional<std::vector<int64_t>> attr_axes_;
};

class UnsqueezeKernel final : public Kernel {
 public:
  static KernelPtr create(const Graph& g, const Node& n, const ExecOptions&) {
    auto k = std::make_unique<UnsqueezeKernel>();
    k->from_input_ = kernel_opset(g) >= 13;
    if (!k->from_input_) {
      if (!n.has_attr("axes")) return invalid_input("attribute 'axes' is required");
      k->attr_axes_ = n.attr_ints("axes");
    }
    return std::unique_ptr<Kernel>(std::move(k));
  }
  Status run(KernelContext& ctx) override {
    QD_ASSIGN_OR_RETURN(const Tensor* x, required_input(ctx, 0));
    QD_ASSIGN_OR_RETURN(auto axes, axes_of(ctx, attr_axes_, from_input_));
    if (!axes) return invalid_input("input 'axes' is required");
    // Axes refer to the output, whose rank is the input's plus the number of axes.
    const int64_t out_rank = x->rank() + static_cast<int64_t>(axes->size());
    QD_ASSIGN_OR_RETURN(std::vector<char> mask, axis_mask(*axes, out_rank));
    Shape out;
    size_t next = 0;
    for (int64_t d = 0; d < out_rank; ++d) out.push_back(mask[static_cast<size_t>(d)] ? 1 : x->shape[next++]);
    return copy_with_shape(ctx, *x, out);
  }

 private:
  bool from_input_ = false;
  std::optional<std::vector<int64_t>> attr_axes_;
};

// ---- Pad -----------------------------------------------------------------------------

enum class PadMode { constant, reflect, edge };

// Pad-1: attributes `paddings`, `value`; Pad-2: `pads`, `value`; Pad-11+: inputs pads
// (s64, [x1_begin, x2_begin, ..., x1_end, x2_end, ...]) and optional constant_value.
// Negative pads crop. Each output coordinate maps to an input coordinate c = o - begin;
// outside [0, n) constant mode uses the value, edge clamps, and reflect mirrors without
// repeating the border, periodically for pads wider than the input (as numpy.pad does).
class PadKernel final : public Kernel {
 public:
  static KernelPtr create(const Graph& g, const Node& n, const ExecOptions&) {
    auto k = std::make_unique<PadKernel>();
    const std::string mode = n.attr_string("mode", "constant");
    if (mode == "constant") {
      k->mode_ = PadMode::constant;
    } else if (mode == "reflect") {
      k->mode_ = PadMode::reflect;
    } else if (mode == "edge") {
      k->mode_ = PadMode::edge;
    } else {
      return invalid_input("attribute mode '{}' is not constant, reflect or edge", mode);
    }
    k->from_inputs_ = kernel_opset(g) >= 11;
    if (!k->from_inputs_) {
      const char* key = kernel_opset(g) < 2 ? "paddings" : "pads";
      if (!n.has_attr(key)) return invalid_input("attribute '{}' is required", key);
      k->attr_pads_ = n.attr_ints(key);
      k->attr_value_ = n.attr_float("value", 0.0f);
    }
    return std::unique_ptr<Kernel>(std::move(k));
  }

  Status run(KernelContext& ctx) override {
    QD_ASSIGN_OR_RETURN(const Tensor* x, required_input(ctx, 0));
    if (x->dtype == DType::undefined) return invalid_input("input '{}' has no dtype", input_name(ctx, 0));
    std::vector<int64_t> pads = attr_pads_;
    if (from_inputs_) {
      QD_ASSIGN_OR_RETURN(pads, int64_list_input(ctx, 1, "pads"));
    }
    const size_t r = x->shape.size();
    if (pads.size() != 2 * r)
      return invalid_input("pads has {} entries, input '{}' of rank {} needs {}", pads.size(), input_name(ctx, 0), r,
                           2 * r);
    if (!from_inputs_ && x->dtype != DType::f32)
      return invalid_input("input '{}' has dtype {}; Pad before opset 11 takes f32", input_name(ctx, 0),
                           dtype_name(x->dtype));

    // The padding value as bytes of the element type.
    std::vector<std::byte> value(dtype_size(x->dtype), std::byte{0});
    if (from_inputs_) {
      if (const Tensor* v = ctx.input(2)) {
        if (v->dtype != x->dtype)
          return invalid_input("input '{}' (constant_value) has dtype {}, input '{}' has {}", input_name(ctx, 2),
                               dtype_name(v->dtype), input_name(ctx, 0), dtype_name(x->dtype));
        if (v->numel() != 1 || v->rank() > 1)
          return invalid_input("input '{}' (constant_value) must be a scalar, has shape {}", input_name(ctx, 2),
                               shape_str(v->shape));
        std::memcpy(value.data(), v->bytes.data(), value.size());
      }
    } else {
      std::memcpy(value.data(), &attr_value_, sizeof(float));
    }

    // Per dim: the input coordinate of every output coordinate, -1 = the constant value.
    Shape out(r);
    std::vector<std::vector<int64_t>> src(r);
    for (size_t d = 0; d < r; ++d) {
      const int64_t n = x->shape[d], begin = pads[d], end = pads[d + r];
      int64_t size = 0;
      if (__builtin_add_overflow(n, begin, &size) || __builtin_add_overflow(size, end, &size) || size < 0)
        return invalid_input("pads {} give a negative or overflowing dim {} for input dim {}", shape_str(pads), d, n);
      out[d] = size;
      if (size > 0 && n == 0 && mode_ != PadMode::constant)
        return invalid_input("cannot {}-pad axis {} of input '{}': it is empty", mode_ == PadMode::edge ? "edge" : "reflect",
                             d, input_name(ctx, 0));
    }
    QD_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate(0, x->dtype, out));
    if (y->numel() == 0) return Status::ok();  // also guards the per-dim tables below
    for (size_t d = 0; d < r; ++d) {
      const int64_t n = x->shape[d];
      src[d].resize(static_cast<size_t>(out[d]));
      for (int64_t o = 0; o < out[d]; ++o) src[d][static_cast<size_t>(o)] = source_coord(o - pads[d], n);
    }

    const std::vector<int64_t> in_strides = shape_strides(x->shape);
    const size_t es = dtype_size(x->dtype);
    std::vector<int64_t> coord(r, 0);
    for (int64_t o = 0, total = y->numel(); o < total; ++o) {
      int64_t offset = 0;
      bool inside = true;
      for (size_t d = 0; d < r; ++d) {
        const int64_t c = src[d][static_cast<size_t>(coord[d])];
        if (c < 0) inside = false;
        offset += c * in_strides[d];
      }
      const std::byte* from = inside ? x->bytes.data() + offset * static_cast<int64_t>(es) : value.data();
      std::memcpy(y->bytes.data() + o * static_cast<int64_t>(es), from, es);
      for (size_t d = r; d-- > 0;) {
        if (++coord[d] < out[d]) break;
        coord[d] = 0;
      }
    }
    return Status::ok();
  }

 private:
  // Input coordinate for (possibly out-of-range) coordinate c of a dim of size n.
  int64_t source_coord(int64_t c, int64_t n) const {
    if (c >= 0 && c < n) return c;
    switch (mode_) {
      case PadMode::constant: return -1;
      case PadMode::edge: return c < 0 ? 0 : n - 1;
      case PadMode::reflect: {
        if (n == 1) return 0;
        const int64_t period = 2 * (n - 1);
        int64_t m = c % period;
        if (m < 0) m += period;
        return m < n ? m : period - m;
      }
    }
    return -1;
  }

  PadMode mode_ = PadMode::constant;
  bool from_inputs_ = false;
  std::vector<int64_t> attr_pads_;
  float attr_value_ = 0.0f;
};

// ---- Constant ------------------------------------------------------------------------

class ConstantKernel final : public Kernel {
 public:
  explicit ConstantKernel(Tensor value) : value_(std::move(value)) {}
  static KernelPtr create(const Graph&, const Node& n, const ExecOptions&) {
    std::optional<Tensor> value;
    int given = 0;
    for (const auto& [key, attr] : n.attrs) {
      if (key == "value") {
        const Tensor* t = std::get_if<Tensor>(&attr);
        if (!t) return invalid_input("attribute 'value' must be a tensor");
        value = *t;
      } else if (key == "value_float") {
        const float* f = std::get_if<float>(&attr);
        if (!f) return invalid_input("attribute 'value_float' must be a float");
        value = Tensor::scalar<float>(*f);
      } else if (key == "value_floats") {
        const auto* f = std::get_if<std::vector<float>>(&attr);
        if (!f) return invalid_input("attribute 'value_floats' must be floats");
        value = Tensor::from_vector<float>({static_cast<int64_t>(f->size())}, *f);
      } else if (key == "value_int") {
        const int64_t* i = std::get_if<int64_t>(&attr);
        if (!i) return invalid_input("attribute 'value_int' must be an int");
        value = Tensor::scalar<int64_t>(*i);
      } else if (key == "value_ints") {
        const auto* i = std::get_if<std::vector<int64_t>>(&attr);
        if (!i) return invalid_input("attribute 'value_ints' must be ints");
        value = Tensor::from_vector<int64_t>({static_cast<int64_t>(i->size())}, *i);
      } else if (key == "value_string" || key == "value_strings") {
        return unsupported("attribute '{}': string tensors are not supported", key);
      } else if (key == "sparse_value") {
        return unsupported("attribute 'sparse_value': sparse tensors are not supported");
      } else {
        continue;  // unknown attributes are the checker's business
      }
      ++given;
    }
    if (given != 1 || !value)
      return invalid_input("exactly one of value, value_float(s), value_int(s) must be given ({} found)", given);
    return make_kernel<ConstantKernel>(std::move(*value));
  }
  Status run(KernelContext& ctx) override { return copy_with_shape(ctx, value_, value_.shape); }

 private:
  Tensor value_;
};

// ---- Shape ---------------------------------------------------------------------------

class ShapeKernel final : public Kernel {
 public:
  ShapeKernel(int64_t start, std::optional<int64_t> end) : start_(start), end_(end) {}
  static KernelPtr create(const Graph&, const Node& n, const ExecOptions&) {
    std::optional<int64_t> end;
    if (n.has_attr("end")) end = n.attr_int("end", 0);
    return make_kernel<ShapeKernel>(n.attr_int("start", 0), end);
  }
  Status run(KernelContext& ctx) override {
    QD_ASSIGN_OR_RETURN(const Tensor* x, required_input(ctx, 0));
    // Shape-15: start/end as in slicing, negative from the back, clamped to [0, rank].
    const int64_t r = x->rank();
    auto clamp = [r](int64_t v) {
      if (v < 0) v += r;
      return v < 0 ? int64_t{0} : (v > r ? r : v);
    };
    const int64_t start = clamp(start_), end = end_ ? clamp(*end_) : r;
    const int64_t count = end > start ? end - start : 0;
    QD_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate(0, DType::s64, {count}));
    for (int64_t i = 0; i < count; ++i) y->data<int64_t>()[i] = x->shape[static_cast<size_t>(start + i)];
    return Status::ok();
  }

 private:
  int64_t start_;
  std::optional<int64_t> end_;
};

// ---- Gather --------------------------------------------------------------------------

class GatherKernel final : public Kernel {
 public:
  explicit GatherKernel(int64_t axis) : axis_(axis) {}
  static KernelPtr create(const Graph&, const Node& n, const ExecOptions&) {
    return make_kernel<GatherKernel>(n.attr_int("axis", 0));
  }
  Status run(KernelContext& ctx) override {
    QD_ASSIGN_OR_RETURN(const Tensor* data, required_input(ctx, 0));
    QD_ASSIGN_OR_RETURN(const Tensor* indices, required_input(ctx, 1));
    if (data->rank() < 1) return invalid_input("input '{}' (data) must have rank >= 1", input_name(ctx, 0));
    if (indices->dtype != DType::s32 && indices->dtype != DType::s64)
      return invalid_input("input '{}' (indices) has dtype {}, must be s32 or s64", input_name(ctx, 1),
                           dtype_name(indices->dtype));
    QD_ASSIGN_OR_RETURN(int axis, normalize_axis(axis_, data->rank(), "attribute axis"));
    const auto ax = static_cast<size_t>(axis);
    const int64_t dim = data->shape[ax];
    const std::vector<int64_t> idx = indices->to_int64_vector();
    for (size_t i = 0; i < idx.size(); ++i)
      if (idx[i] < -dim || idx[i] >= dim)
        return invalid_input("input '{}' (indices) element {} is {}, outside [{}, {}] for axis {} of size {}",
                             input_name(ctx, 1), i, idx[i], -dim, dim - 1, axis, dim);

    Shape out(data->shape.begin(), data->shape.begin() + axis);
    out.insert(out.end(), indices->shape.begin(), indices->shape.end());
    out.insert(out.end(), data->shape.begin() + axis + 1, data->shape.end());
    QD_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate(0, data->dtype, out));

    const int64_t outer = shape_numel(Shape(data->shape.begin(), data->shape.begin() + axis));
    const int64_t block = shape_numel(Shape(data->shape.begin() + axis + 1, data->shape.end())) *
                          static_cast<int64_t>(dtype_size(data->dtype));
    const std::byte* src = data->bytes.data();
    std::byte* dst = y->bytes.data();
    if (block == 0) return Status::ok();
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t j : idx) {
        const int64_t k = j < 0 ? j + dim : j;
        std::memcpy(dst, src + (o * dim + k) * block, static_cast<size_t>(block));
        dst += block;
      }
    return Status::ok();
  }

 private:
  int64_t axis_;
};

}  // namespace

void register_shape_ops(KernelTable& table) {
  set_kernel<FlattenKernel>(table, OpKind::Flatten);
  set_kernel<ReshapeKernel>(table, OpKind::Reshape);
  set_kernel<TransposeKernel>(table, OpKind::Transpose);
  set_kernel<ConcatKernel>(table, OpKind::Concat);
  set_kernel<SqueezeKernel>(table, OpKind::Squeeze);
  set_kernel<UnsqueezeKernel>(table, OpKind::Unsqueeze);
  set_kernel<PadKernel>(table, OpKind::Pad);
  set_kernel<FunctionKernel<&identity>>(table, OpKind::Identity);
  set_kernel<ConstantKernel>(table, OpKind::Constant);
  set_kernel<ShapeKernel>(table, OpKind::Shape);
  set_kernel<GatherKernel>(table, OpKind::Gather);
}

}  // namespace qdrift::ref
