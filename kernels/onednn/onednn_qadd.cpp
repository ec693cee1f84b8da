// onednn_qadd.cpp: QAdd in the oneDNN table: the contract's exact formula (core/lowered_ops.h)
// as a C++ loop that the compiler vectorises (an AVX2 build of it is picked at run time),
// reading and writing either layout.
//
// Why not oneDNN's binary primitive: 2.6's binary takes per-input scales and post-ops but no
// zero points (a primitive_attr with set_zero_points on DNNL_ARG_SRC_0 cannot create a binary
// primitive descriptor), so (a - zp_a) * s_a can only be computed as a * s_a with
// -(zp_a * s_a + zp_b * s_b) / s_y folded into an eltwise_linear(1/s_y, ...) post-op, which
// also multiplies by 1/s_y where the reference divides by s_y. Measured against the exact
// formula (200 random sets of scales and zero points, 15,052,800 u8 elements, 1x24x56x56
// nhwc): 108 elements differ, up to 2e-4 away from a .5 tie, so the difference is not
// confined to rounding ties. This loop is exact; oneDNN's binary took 0.059 ms for that
// shape on one thread.
#include <cstdint>
#include <memory>

#include "kernels/int/int_ops.h"
#include "kernels/onednn/onednn_common.h"

namespace qdrift::onednn {

namespace {

// The formula's constants, as f32.
struct QAddLoop {
  float scale_a, scale_b, scale_y;
  float zp_a, zp_b, zp_y;
  float act_min, act_max;  // the fused activation's bounds, real units
  float lo, hi;      // (qmin - zp_y - 1, qmax - zp_y + 1): v clamped there rounds to the same result
  float qmin, qmax;  // the output grid
};

// y = saturate(round_half_even(act((a - zp_a) * s_a + (b - zp_b) * s_b) / s_y) + zp_y), every step
// one f32 operation as in the oracle. Clamping v to the integers lo/hi first leaves the
// saturated result unchanged (rounding is monotonic) and lets (v + 1.5*2^23) - 1.5*2^23
// round half to even (valid for |v| < 2^22) without a library call. NaN cannot occur for
// finite scales; it would clamp to lo, then qmin, as the reference's saturation does.
template <typename A, typename B, typename Y>
[[gnu::always_inline]] inline void qadd_body(const A* a, const B* b, Y* y, int64_t n, const QAddLoop& p) {
  constexpr float kRound = 12582912.f;
  for (int64_t i = 0; i < n; ++i) {
    const float fa = (static_cast<float>(a[i]) - p.zp_a) * p.scale_a;
    const float fb = (static_cast<float>(b[i]) - p.zp_b) * p.scale_b;
    float v = fa + fb;
    v = v > p.act_min ? v : p.act_min;
    v = v < p.act_max ? v : p.act_max;
    v = v / p.scale_y;
    v = v > p.lo ? v : p.lo;
    v = v < p.hi ? v : p.hi;
    float q = ((v + kRound) - kRound) + p.zp_y;
    q = q > p.qmin ? q : p.qmin;
    q = q < p.qmax ? q : p.qmax;
    y[i] = static_cast<Y>(static_cast<int32_t>(q));
  }
}

template <typename A, typename B, typename Y>
void qadd_default(const A* a, const B* b, Y* y, int64_t n, const QAddLoop& p) {
  qadd_body(a, b, y, n, p);
}

template <typename A, typename B, typename Y>
[[gnu::target("avx2")]] void qadd_avx2(const A* a, const B* b, Y* y, int64_t n, const QAddLoop& p) {
  qadd_body(a, b, y, n, p);
}

class QAddKernel final : public Kernel {
 public:
  explicit QAddKernel(const intk::QAddParams& q) : q_(q) {
    const QuantGrid g = quant_grid(q.y, QuantRange::full);
    const float zy = static_cast<float>(q.zp_y);
    loop_ = {q.scale_a,
             q.scale_b,
             q.scale_y,
             static_cast<float>(q.zp_a),
             static_cast<float>(q.zp_b),
             zy,
             q.act_min,
             q.act_max,
             static_cast<float>(g.qmin - q.zp_y - 1),
             static_cast<float>(g.qmax - q.zp_y + 1),
             static_cast<float>(g.qmin),
             static_cast<float>(g.qmax)};
    avx2_ = __builtin_cpu_supports("avx2");
  }

  // Elementwise: any layout, as long as both inputs share it.
  bool reads_channels_last(size_t input) const override { return input < 2; }

  Status run(KernelContext& ctx) override {
    const Tensor* a = ctx.input(0);
    const Tensor* b = ctx.input(1);
    QD_RETURN_IF_ERROR(intk::check_qadd_inputs(q_, *a, *b));
    Tensor converted;
    if (a->layout != b->layout) {  // bring the row-major one to channels-last
      converted = to_channels_last(a->layout == Layout::row_major ? *a : *b);
      (a->layout == Layout::row_major ? a : b) = &converted;
    }
    QD_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_uninitialized(0, q_.y, a->shape));
    y->quant = ctx.graph.value(ctx.node.outputs[0]).quant;
    y->layout = a->layout;
    intk::dispatch_int8(q_.a, [&](auto ta) {
      intk::dispatch_int8(q_.b, [&](auto tb) {
        intk::dispatch_int8(q_.y, [&](auto ty) {
          using A = decltype(ta);
          using B = decltype(tb);
          using Y = decltype(ty);
          auto* loop = avx2_ ? &qadd_avx2<A, B, Y> : &qadd_default<A, B, Y>;
          loop(a->data<A>(), b->data<B>(), y->data<Y>(), a->numel(), loop_);
        });
      });
    });
    return Status::ok();
  }

 private:
  intk::QAddParams q_;
  QAddLoop loop_{};
  bool avx2_ = false;
};

}  // namespace

Result<std::unique_ptr<Kernel>> create_qadd(const Graph& g, const Node& n, const ExecOptions&) {
  QD_ASSIGN_OR_RETURN(intk::QAddParams q, intk::qadd_params(g, n));
  return std::unique_ptr<Kernel>(new QAddKernel(q));
}

}  // namespace qdrift::onednn
