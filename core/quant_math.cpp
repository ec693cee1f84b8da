#include "core/quant_math.h"

#include <algorithm>
#include <type_traits>
#include <vector>

#include "core/status.h"

namespace qdrift {

std::string_view rounding_name(Rounding r) { return r == Rounding::half_even ? "half_even" : "half_away"; }
std::string_view quant_range_name(QuantRange r) { return r == QuantRange::full ? "full" : "narrow"; }

QuantGrid quant_grid(DType type, QuantRange range) {
  const int32_t narrow = range == QuantRange::narrow ? 1 : 0;
  switch (type) {
    case DType::s8: return {-128 + narrow, 127};
    case DType::u8: return {0 + narrow, 255};
    case DType::s32: return {INT32_MIN, INT32_MAX};
    default: QD_ASSERT(false && "quant_grid: not a quantized type");
  }
  return {0, 0};
}

bool quant_params_fit(const Shape& shape, const QuantParams& q) {
  if (q.scale.empty() || q.zero_point.size() != q.scale.size()) return false;
  if (q.scale.size() == 1) return true;
  const int64_t rank = static_cast<int64_t>(shape.size());
  const int64_t axis = q.axis < 0 ? q.axis + rank : q.axis;
  return axis >= 0 && axis < rank && shape[static_cast<size_t>(axis)] == static_cast<int64_t>(q.scale.size());
}

QuantAxisIndex quant_axis_index(const Shape& shape, const QuantParams& q) {
  QD_ASSERT(quant_params_fit(shape, q));
  QuantAxisIndex ix;
  ix.count = static_cast<int64_t>(q.scale.size());
  if (ix.count == 1) {
    ix.inner = shape_numel(shape);
    return ix;
  }
  const int64_t rank = static_cast<int64_t>(shape.size());
  const int64_t axis = q.axis < 0 ? q.axis + rank : q.axis;
  ix.outer = shape_numel(Shape(shape.begin(), shape.begin() + axis));
  ix.inner = shape_numel(Shape(shape.begin() + axis + 1, shape.end()));
  return ix;
}

namespace {

// Calls f(c, begin, end) for each run [begin, end) of flat indices sharing parameter c,
// in index order: no division per element.
template <typename F>
void for_each_param_run(const QuantAxisIndex& ix, F&& f) {
  int64_t i = 0;
  for (int64_t o = 0; o < ix.outer; ++o)
    for (int64_t c = 0; c < ix.count; ++c, i += ix.inner) f(static_cast<size_t>(c), i, i + ix.inner);
}

// The same runs cut into chunks of at most kChunk elements, spread over OpenMP threads.
// Every element is computed alone, so the result does not depend on the split.
template <typename F>
void for_each_param_chunk(const QuantAxisIndex& ix, F&& f) {
  constexpr int64_t kChunk = 1 << 15;
  const int64_t total = ix.outer * ix.count * ix.inner;
  if (total <= kChunk) {
    for_each_param_run(ix, f);
    return;
  }
  struct Chunk {
    size_t c;
    int64_t begin, end;
  };
  std::vector<Chunk> chunks;
  for_each_param_run(ix, [&](size_t c, int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; b += kChunk) chunks.push_back({c, b, std::min(end, b + kChunk)});
  });
  const int64_t n = static_cast<int64_t>(chunks.size());
#pragma omp parallel for schedule(static)
  for (int64_t k = 0; k < n; ++k) f(chunks[static_cast<size_t>(k)].c, chunks[static_cast<size_t>(k)].begin,
                                    chunks[static_cast<size_t>(k)].end);
}

// quantize_value with Rounding::half_even into u8/s8, NaN to the zero point, written so it
// vectorizes (the same results, element for element; tested against quantize_value):
// round half to even as (v + 1.5 * 2^23) - 1.5 * 2^23, exact for |v| <= 2^22 in the
// default rounding mode (nearbyint's), after clamping v to +-2^16, beyond which every
// u8/s8 code saturates anyway (zero points lie in [-128, 255]).
template <typename Q>
void quantize_int8_half_even(const float* x, Q* y, int64_t n, float scale, int32_t zero_point, QuantGrid g) {
  constexpr float kMagic = 12582912.0f;  // 1.5 * 2^23
  constexpr float kLimit = 65536.0f;
  const float zp = static_cast<float>(zero_point);
  const float lo = static_cast<float>(g.qmin), hi = static_cast<float>(g.qmax);
  for (int64_t i = 0; i < n; ++i) {
    float v = x[i] / scale;  // the division as ONNX writes it
    const bool nan = v != v;
    v = v < -kLimit ? -kLimit : v;
    v = v > kLimit ? kLimit : v;
    float r = ((v + kMagic) - kMagic) + zp;
    r = r < lo ? lo : r;
    r = r > hi ? hi : r;
    r = nan ? zp : r;
    y[i] = static_cast<Q>(static_cast<int32_t>(r));
  }
}

}  // namespace

void dequantize_tensor_into(const Tensor& codes, const QuantParams& q, Tensor& out) {
  QD_ASSERT(out.dtype == DType::f32 && out.shape == codes.shape);
  const QuantAxisIndex ix = quant_axis_index(codes.shape, q);
  float* y = out.data<float>();
  dispatch_dtype(codes.dtype, [&](auto tag) {
    using Q = decltype(tag);
    if constexpr (std::is_same_v<Q, int8_t> || std::is_same_v<Q, uint8_t>) {
      // dequantize_value's arithmetic in int32: u8/s8 codes minus a u8/s8 zero point are
      // exact in int32 and in f32, so the result is the same, and the loop vectorizes.
      const Q* x = codes.data<Q>();
      for_each_param_chunk(ix, [&](size_t c, int64_t begin, int64_t end) {
        const float s = q.scale[c];
        const int32_t zp = q.zero_point[c];
        for (int64_t i = begin; i < end; ++i) y[i] = static_cast<float>(static_cast<int32_t>(x[i]) - zp) * s;
      });
    } else if constexpr (std::is_same_v<Q, int32_t>) {
      const Q* x = codes.data<Q>();
      for_each_param_chunk(ix, [&](size_t c, int64_t begin, int64_t end) {
        const float s = q.scale[c];
        const int32_t zp = q.zero_point[c];
        for (int64_t i = begin; i < end; ++i) y[i] = dequantize_value(x[i], s, zp);
      });
    } else {
      QD_ASSERT(false && "dequantize_tensor: codes must be u8, s8 or s32");
    }
  });
}

Tensor dequantize_tensor(const Tensor& codes, const QuantParams& q) {
  Tensor out = Tensor::zeros(DType::f32, codes.shape);
  dequantize_tensor_into(codes, q, out);
  return out;
}

void quantize_tensor_into(const Tensor& real, const QuantParams& q, QuantGrid grid, Rounding mode, Tensor& out) {
  QD_ASSERT(out.dtype == q.zero_point_type && out.shape == real.shape);
  QD_ASSERT(real.dtype == DType::f32 || real.dtype == DType::s32);
  const QuantAxisIndex ix = quant_axis_index(real.shape, q);
  const float* xf = real.dtype == DType::f32 ? real.data<float>() : nullptr;
  const int32_t* xi = real.dtype == DType::s32 ? real.data<int32_t>() : nullptr;
  dispatch_dtype(out.dtype, [&](auto tag) {
    using Q = decltype(tag);
    if constexpr (std::is_same_v<Q, int8_t> || std::is_same_v<Q, uint8_t> || std::is_same_v<Q, int32_t>) {
      Q* y = out.data<Q>();
      constexpr bool kInt8 = !std::is_same_v<Q, int32_t>;
      for_each_param_chunk(ix, [&](size_t c, int64_t begin, int64_t end) {
        const float s = q.scale[c];
        const int32_t zp = q.zero_point[c];
        if constexpr (kInt8) {
          if (xf && mode == Rounding::half_even) {
            quantize_int8_half_even(xf + begin, y + begin, end - begin, s, zp, grid);
            return;
          }
        }
        for (int64_t i = begin; i < end; ++i) {
          const float v = xf ? xf[i] : static_cast<float>(xi[i]);
          y[i] = static_cast<Q>(std::isnan(v) ? zp : quantize_value(v, s, zp, grid, mode));
        }
      });
    } else {
      QD_ASSERT(false && "quantize_tensor: the zero point type must be u8, s8 or s32");
    }
  });
}

Tensor quantize_tensor(const Tensor& real, const QuantParams& q, QuantGrid grid, Rounding mode) {
  Tensor out = Tensor::zeros(q.zero_point_type, real.shape);
  quantize_tensor_into(real, q, grid, mode, out);
  return out;
}

}  // namespace qdrift
