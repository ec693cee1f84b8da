// elementwise.cpp: reference activations, Clip, Add/Sub/Mul/Div and Cast.
//
// Float math is plain f32 in the order the ONNX operator definitions write it. Integer
// Add/Sub/Mul wrap around modulo 2^bits (numpy's behaviour, which generated the ONNX
// test data); integer Div truncates toward zero (C, ONNX Runtime, and numpy's
// `(x / y).astype(T)` for the unsigned cases in ONNX's tests).
#include <cmath>
#include <limits>
#include <memory>
#include <optional>
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

Status expect_f32(const KernelContext& ctx, size_t i, const Tensor& t) {
  if (t.dtype != DType::f32)
    return invalid_input("input '{}' has dtype {}; {} takes f32", input_name(ctx, i), dtype_name(t.dtype),
                         ctx.node.op_type);
  return Status::ok();
}

// y = op(x) elementwise over an f32 tensor.
template <typename Op>
Status map_f32(KernelContext& ctx, Op op) {
  QD_ASSIGN_OR_RETURN(const Tensor* x, required_input(ctx, 0));
  QD_RETURN_IF_ERROR(expect_f32(ctx, 0, *x));
  QD_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_uninitialized(0, DType::f32, x->shape));
  const float* px = x->data<float>();
  float* py = y->data<float>();
  for (int64_t i = 0, n = x->numel(); i < n; ++i) py[i] = op(px[i]);
  return Status::ok();
}

// ---- activations ---------------------------------------------------------------------

// Relu: f32 and the signed integer types of Relu-14 (u8 passes through unchanged).
// `x < 0 ? 0 : x` keeps NaN as NaN, like numpy's maximum.
Status relu(KernelContext& ctx) {
  QD_ASSIGN_OR_RETURN(const Tensor* x, required_input(ctx, 0));
  if (x->dtype == DType::boolean || x->dtype == DType::undefined)
    return invalid_input("input '{}' has dtype {}; Relu takes f32 or integers", input_name(ctx, 0),
                         dtype_name(x->dtype));
  QD_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_uninitialized(0, x->dtype, x->shape));
  dispatch_dtype(x->dtype, [&](auto tag) {
    using T = decltype(tag);
    if constexpr (!std::is_same_v<T, bool>) {
      const T* px = x->data<T>();
      T* py = y->data<T>();
      for (int64_t i = 0, n = x->numel(); i < n; ++i) py[i] = px[i] < T{0} ? T{0} : px[i];
    }
  });
  return Status::ok();
}

Status sigmoid(KernelContext& ctx) {
  // exp(-x) overflows to inf for x < -88, giving exactly 0: the correct limit.
  return map_f32(ctx, [](float x) { return 1.0f / (1.0f + std::exp(-x)); });
}

Status tanh_op(KernelContext& ctx) {
  return map_f32(ctx, [](float x) { return std::tanh(x); });
}

Status erf_op(KernelContext& ctx) {
  return map_f32(ctx, [](float x) { return std::erf(x); });
}

// min/max written so NaN propagates (comparisons with NaN are false).
inline float clamp01(float v) {
  v = v > 1.0f ? 1.0f : v;
  return v < 0.0f ? 0.0f : v;
}

// HardSwish-14: y = x * max(0, min(1, alpha * x + beta)), alpha = 1/6, beta = 0.5.
Status hard_swish(KernelContext& ctx) {
  constexpr float kAlpha = 1.0f / 6.0f;
  return map_f32(ctx, [](float x) { return x * clamp01(kAlpha * x + 0.5f); });
}

class LeakyReluKernel final : public Kernel {
 public:
  explicit LeakyReluKernel(float alpha) : alpha_(alpha) {}
  static KernelPtr create(const Graph&, const Node& n, const ExecOptions&) {
    return make_kernel<LeakyReluKernel>(n.attr_float("alpha", 0.01f));
  }
  Status run(KernelContext& ctx) override {
    const float a = alpha_;
    return map_f32(ctx, [a](float x) { return x < 0.0f ? a * x : x; });
  }

 private:
  float alpha_;
};

class HardSigmoidKernel final : public Kernel {
 public:
  HardSigmoidKernel(float alpha, float beta) : alpha_(alpha), beta_(beta) {}
  static KernelPtr create(const Graph&, const Node& n, const ExecOptions&) {
    return make_kernel<HardSigmoidKernel>(n.attr_float("alpha", 0.2f), n.attr_float("beta", 0.5f));
  }
  Status run(KernelContext& ctx) override {
    const float a = alpha_, b = beta_;
    return map_f32(ctx, [a, b](float x) { return clamp01(a * x + b); });
  }

 private:
  float alpha_, beta_;
};

// ---- Clip ----------------------------------------------------------------------------

// Clip-1/6: min/max attributes, f32 only. Clip-11: optional scalar inputs min/max, f32.
// Clip-12/13: the same for every numeric type. y = min(max(x, lo), hi), so lo > hi gives hi
// everywhere (as numpy.clip and the ONNX definition), and NaN stays NaN.
class ClipKernel final : public Kernel {
 public:
  static KernelPtr create(const Graph& g, const Node& n, const ExecOptions&) {
    auto k = std::make_unique<ClipKernel>();
    k->opset_ = kernel_opset(g);
    if (k->opset_ < 11) {
      k->attr_min_ = n.attr_float("min", std::numeric_limits<float>::lowest());
      k->attr_max_ = n.attr_float("max", std::numeric_limits<float>::max());
    }
    return std::unique_ptr<Kernel>(std::move(k));
  }

  Status run(KernelContext& ctx) override {
    QD_ASSIGN_OR_RETURN(const Tensor* x, required_input(ctx, 0));
    const bool numeric = x->dtype != DType::boolean && x->dtype != DType::undefined;
    if (!numeric || (opset_ < 12 && x->dtype != DType::f32))
      return invalid_input("input '{}' has dtype {}; Clip-{} takes {}", input_name(ctx, 0), dtype_name(x->dtype),
                           opset_, opset_ < 12 ? "f32" : "numeric types");
    Status status;
    dispatch_dtype(x->dtype, [&](auto tag) {
      using T = decltype(tag);
      if constexpr (!std::is_same_v<T, bool>) status = run_typed<T>(ctx, *x);
    });
    return status;
  }

 private:
  // The bound from input i (opset >= 11) or `fallback`; must be a one-element tensor of T.
  template <typename T>
  Result<T> bound(const KernelContext& ctx, size_t i, T fallback) const {
    const Tensor* t = ctx.input(i);
    if (!t) return fallback;
    const char* what = i == 1 ? "min" : "max";
    if (t->dtype != dtype_of<T>)
      return invalid_input("input '{}' ({}) has dtype {}, input '{}' has {}", input_name(ctx, i), what,
                           dtype_name(t->dtype), input_name(ctx, 0), dtype_name(dtype_of<T>));
    if (t->numel() != 1 || t->rank() > 1)
      return invalid_input("input '{}' ({}) must be a scalar, has shape {}", input_name(ctx, i), what,
                           shape_str(t->shape));
    return t->data<T>()[0];
  }

  template <typename T>
  Status run_typed(KernelContext& ctx, const Tensor& x) const {
    T lo = std::numeric_limits<T>::lowest();
    T hi = std::numeric_limits<T>::max();
    if (opset_ < 11) {
      if constexpr (std::is_same_v<T, float>) {
        lo = attr_min_;
        hi = attr_max_;
      }
    } else {
      QD_ASSIGN_OR_RETURN(lo, bound<T>(ctx, 1, lo));
      QD_ASSIGN_OR_RETURN(hi, bound<T>(ctx, 2, hi));
    }
    QD_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_uninitialized(0, x.dtype, x.shape));
    const T* px = x.data<T>();
    T* py = y->data<T>();
    for (int64_t i = 0, n = x.numel(); i < n; ++i) {
      T v = px[i] < lo ? lo : px[i];
      py[i] = v > hi ? hi : v;
    }
    return Status::ok();
  }

  int64_t opset_ = 0;
  float attr_min_ = 0.0f, attr_max_ = 0.0f;
};

// ---- Add / Sub / Mul / Div -----------------------------------------------------------

enum class BinaryOp { add, sub, mul, div };

// Integer arithmetic modulo 2^bits: computed in the unsigned type of the same width, where
// overflow is defined, then converted back (C++20 defines that conversion as modular).
template <typename T>
T wrap_arith(BinaryOp op, T a, T b) {
  using U = std::make_unsigned_t<T>;
  const U ua = static_cast<U>(a), ub = static_cast<U>(b);
  switch (op) {
    case BinaryOp::add: return static_cast<T>(static_cast<U>(ua + ub));
    case BinaryOp::sub: return static_cast<T>(static_cast<U>(ua - ub));
    case BinaryOp::mul: return static_cast<T>(static_cast<U>(ua * ub));
    case BinaryOp::div: break;
  }
  // Division by zero is rejected by the caller. The one overflowing quotient,
  // lowest / -1, wraps to lowest (two's complement negation).
  if constexpr (std::is_signed_v<T>)
    if (b == T{-1}) return static_cast<T>(static_cast<U>(U{0} - ua));
  return static_cast<T>(a / b);  // truncates toward zero
}

template <BinaryOp Op>
class BinaryKernel final : public Kernel {
 public:
  static KernelPtr create(const Graph& g, const Node& n, const ExecOptions&) {
    auto k = std::make_unique<BinaryKernel>();
    // Opset < 7: no implicit broadcasting; with broadcast=1, B's shape is matched to A's
    // starting at `axis` (suffix matching when axis is absent).
    if (kernel_opset(g) < 7) {
      k->legacy_ = true;
      k->legacy_broadcast_ = n.attr_int("broadcast", 0) != 0;
      if (n.has_attr("axis")) k->legacy_axis_ = n.attr_int("axis", 0);
    }
    return std::unique_ptr<Kernel>(std::move(k));
  }

  Status run(KernelContext& ctx) override {
    QD_ASSIGN_OR_RETURN(const Tensor* a, required_input(ctx, 0));
    QD_ASSIGN_OR_RETURN(const Tensor* b, required_input(ctx, 1));
    if (a->dtype == DType::boolean || a->dtype == DType::undefined)
      return invalid_input("input '{}' has dtype {}; {} takes numeric types", input_name(ctx, 0),
                           dtype_name(a->dtype), ctx.node.op_type);
    if (a->dtype != b->dtype)
      return invalid_input("inputs '{}' ({}) and '{}' ({}) must have the same dtype", input_name(ctx, 0),
                           dtype_name(a->dtype), input_name(ctx, 1), dtype_name(b->dtype));
    Shape b_shape = b->shape;
    if (legacy_) QD_RETURN_IF_ERROR(legacy_shape(ctx, *a, *b, b_shape));
    auto out = broadcast_shapes(a->shape, b_shape);
    if (!out)
      return invalid_input("inputs '{}' {} and '{}' {} do not broadcast", input_name(ctx, 0), shape_str(a->shape),
                           input_name(ctx, 1), shape_str(b->shape));
    QD_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_uninitialized(0, a->dtype, *out));
    const BroadcastMap map(*out, {&a->shape, &b_shape});
    Status status;
    dispatch_dtype(a->dtype, [&](auto tag) {
      using T = decltype(tag);
      if constexpr (!std::is_same_v<T, bool>) status = compute<T>(ctx, map, *a, *b, *y);
    });
    return status;
  }

 private:
  Status legacy_shape(const KernelContext& ctx, const Tensor& a, const Tensor& b, Shape& b_shape) const {
    if (!legacy_broadcast_) {
      if (a.shape != b.shape)
        return invalid_input("inputs '{}' {} and '{}' {} differ and broadcast=0 (opset < 7)", input_name(ctx, 0),
                             shape_str(a.shape), input_name(ctx, 1), shape_str(b.shape));
      return Status::ok();
    }
    const int64_t ra = a.rank(), rb = b.rank();
    const int64_t axis = legacy_axis_ ? *legacy_axis_ : ra - rb;
    if (rb > ra || axis < 0 || axis + rb > ra)
      return invalid_input("input '{}' {} cannot be broadcast onto {} at axis {}", input_name(ctx, 1),
                           shape_str(b.shape), shape_str(a.shape), axis);
    b_shape.assign(static_cast<size_t>(ra), 1);
    for (int64_t i = 0; i < rb; ++i) {
      const int64_t d = b.shape[static_cast<size_t>(i)];
      if (d != 1 && d != a.shape[static_cast<size_t>(axis + i)])
        return invalid_input("input '{}' {} does not match {} at axis {}", input_name(ctx, 1), shape_str(b.shape),
                             shape_str(a.shape), axis);
      b_shape[static_cast<size_t>(axis + i)] = d;
    }
    return Status::ok();
  }

  template <typename T>
  Status compute(const KernelContext& ctx, const BroadcastMap& map, const Tensor& a, const Tensor& b,
                 Tensor& y) const {
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    T* py = y.data<T>();
    if constexpr (std::is_floating_point_v<T>) {
      map.for_each([&](int64_t o, const int64_t* in) {
        const T x = pa[in[0]], z = pb[in[1]];
        switch (Op) {
          case BinaryOp::add: py[o] = x + z; break;
          case BinaryOp::sub: py[o] = x - z; break;
          case BinaryOp::mul: py[o] = x * z; break;
          case BinaryOp::div: py[o] = x / z; break;  // IEEE: x/0 is +-inf or NaN
        }
      });
    } else {
      if (Op == BinaryOp::div)
        for (int64_t i = 0, n = b.numel(); i < n; ++i)
          if (pb[i] == T{0})
            return invalid_input("input '{}' has a zero divisor at element {} (integer division)", input_name(ctx, 1),
                                 i);
      map.for_each([&](int64_t o, const int64_t* in) { py[o] = wrap_arith<T>(Op, pa[in[0]], pb[in[1]]); });
    }
    return Status::ok();
  }

  bool legacy_ = false;
  bool legacy_broadcast_ = false;
  std::optional<int64_t> legacy_axis_;
};

// ---- Cast ----------------------------------------------------------------------------

// float -> integer: ONNX leaves out-of-range values undefined. We follow numpy on x86-64,
// which produced ONNX's test data: truncate toward zero through a 32-bit conversion for
// s8/u8/s32 (then keep the low bits) and a 64-bit one for s64; NaN and values outside the
// conversion's range give the "integer indefinite" 0x80..0, i.e. lowest of the wide type.
template <typename To>
To float_to_int(float v) {
  if constexpr (std::is_same_v<To, int64_t>) {
    if (!(v >= -9223372036854775808.0f && v < 9223372036854775808.0f)) return std::numeric_limits<int64_t>::lowest();
    return static_cast<int64_t>(v);
  } else {
    int32_t w = std::numeric_limits<int32_t>::lowest();
    if (v >= -2147483648.0f && v < 2147483648.0f) w = static_cast<int32_t>(v);
    return static_cast<To>(w);  // modular for s8/u8
  }
}

template <typename To, typename From>
To cast_value(From v) {
  if constexpr (std::is_same_v<To, bool>) {
    return v != From{0};  // NaN -> true, as numpy's astype(bool)
  } else if constexpr (std::is_same_v<From, float> && !std::is_same_v<To, float>) {
    return float_to_int<To>(v);
  } else {
    return static_cast<To>(v);  // int -> float rounds to nearest; int -> int is modular
  }
}

Result<DType> cast_target(const Node& n) {
  auto it = n.attrs.find("to");
  if (it == n.attrs.end()) return invalid_input("attribute 'to' is required");
  if (const auto* i = std::get_if<int64_t>(&it->second)) {
    auto dt = dtype_from_onnx(static_cast<int32_t>(*i));
    if (!dt)
      return unsupported("attribute 'to' = {} ({}): qdrift casts only to f32, s8, u8, s32, s64 and bool", *i,
                         onnx_type_name(static_cast<int32_t>(*i)));
    return *dt;
  }
  // Cast-1 names the type as a string.
  if (const auto* s = std::get_if<std::string>(&it->second)) {
    static constexpr std::pair<std::string_view, DType> kNames[] = {
        {"FLOAT", DType::f32}, {"INT8", DType::s8},  {"UINT8", DType::u8},
        {"INT32", DType::s32}, {"INT64", DType::s64}, {"BOOL", DType::boolean}};
    for (const auto& [name, dt] : kNames)
      if (*s == name) return dt;
    return unsupported("attribute 'to' = '{}': qdrift casts only to FLOAT, INT8, UINT8, INT32, INT64 and BOOL", *s);
  }
  return invalid_input("attribute 'to' must be an int (or a string in Cast-1)");
}

class CastKernel final : public Kernel {
 public:
  explicit CastKernel(DType to) : to_(to) {}
  static KernelPtr create(const Graph&, const Node& n, const ExecOptions&) {
    QD_ASSIGN_OR_RETURN(DType to, cast_target(n));
    return make_kernel<CastKernel>(to);
  }
  Status run(KernelContext& ctx) override {
    QD_ASSIGN_OR_RETURN(const Tensor* x, required_input(ctx, 0));
    if (x->dtype == DType::undefined) return invalid_input("input '{}' has no dtype", input_name(ctx, 0));
    QD_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate(0, to_, x->shape));
    dispatch_dtype(x->dtype, [&](auto from_tag) {
      using From = decltype(from_tag);
      dispatch_dtype(to_, [&](auto to_tag) {
        using To = decltype(to_tag);
        const From* px = x->data<From>();
        To* py = y->data<To>();
        for (int64_t i = 0, n = x->numel(); i < n; ++i) py[i] = cast_value<To, From>(px[i]);
      });
    });
    return Status::ok();
  }

 private:
  DType to_;
};

}  // namespace

void register_elementwise_ops(KernelTable& table) {
  set_kernel<FunctionKernel<&relu>>(table, OpKind::Relu);
  set_kernel<LeakyReluKernel>(table, OpKind::LeakyRelu);
  set_kernel<ClipKernel>(table, OpKind::Clip);
  set_kernel<HardSigmoidKernel>(table, OpKind::HardSigmoid);
  set_kernel<FunctionKernel<&hard_swish>>(table, OpKind::HardSwish);
  set_kernel<FunctionKernel<&sigmoid>>(table, OpKind::Sigmoid);
  set_kernel<FunctionKernel<&tanh_op>>(table, OpKind::Tanh);
  set_kernel<FunctionKernel<&erf_op>>(table, OpKind::Erf);
  set_kernel<BinaryKernel<BinaryOp::add>>(table, OpKind::Add);
  set_kernel<BinaryKernel<BinaryOp::sub>>(table, OpKind::Sub);
  set_kernel<BinaryKernel<BinaryOp::mul>>(table, OpKind::Mul);
  set_kernel<BinaryKernel<BinaryOp::div>>(table, OpKind::Div);
  set_kernel<CastKernel>(table, OpKind::Cast);
}

}  // namespace qdrift::ref
