#include "diff/tensor_stats.h"

#include <array>
#include <cmath>
#include <cstring>
#include <type_traits>

namespace qdrift {

namespace {

__extension__ typedef __int128 Int128;  // n * sum of squares outgrows int64 past ~1e7 codes

// Any element type: two typed passes in double, the mean first, then the spread, so std does
// not cancel. Only floats can be NaN or infinite.
template <typename T>
void stats_two_pass(const T* x, TensorStats& s) {
  const int64_t n = s.count;
  double sum = 0;
  int64_t finite = 0;
  bool first = true;
  for (int64_t i = 0; i < n; ++i) {
    const double v = static_cast<double>(x[i]);
    if constexpr (std::is_floating_point_v<T>) {
      if (std::isnan(v)) { ++s.nan_count; continue; }
      if (std::isinf(v)) ++s.inf_count;
    }
    if (first || v > s.max) { s.max = v; s.argmax = i; }
    if (first || v < s.min) s.min = v;
    first = false;
    if constexpr (std::is_floating_point_v<T>) {
      if (!std::isfinite(v)) continue;
    }
    sum += v;
    ++finite;
  }
  if (finite == 0) return;
  s.avg = sum / static_cast<double>(finite);
  double sq = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double v = static_cast<double>(x[i]);
    if constexpr (std::is_floating_point_v<T>) {
      if (!std::isfinite(v)) continue;
    }
    sq += (v - s.avg) * (v - s.avg);
  }
  s.std = std::sqrt(sq / static_cast<double>(finite));
}

// u8/s8: one pass into a 256-bin histogram (four interleaved copies, so runs of one code do
// not wait on the previous increment), then everything from the bins in integers: min, max,
// the mean (the integer sum is exact, as the double running sum of the two-pass form is) and
// the population variance n*S2 - S1^2 over n^2, exact up to its final rounding. The first
// index of the maximum takes one more scan for that byte.
template <typename T>
void stats_byte_codes(const T* x, TensorStats& s) {
  static_assert(sizeof(T) == 1);
  const int64_t n = s.count;
  const auto* bytes = reinterpret_cast<const unsigned char*>(x);
  std::array<std::array<int64_t, 256>, 4> parts{};
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    ++parts[0][bytes[i]];
    ++parts[1][bytes[i + 1]];
    ++parts[2][bytes[i + 2]];
    ++parts[3][bytes[i + 3]];
  }
  for (; i < n; ++i) ++parts[0][bytes[i]];

  // Bins in value order: for s8 the byte 0x80 (-128) comes first.
  constexpr int kLowest = std::is_signed_v<T> ? -128 : 0;
  int lo = 256, hi = -1;
  int64_t s1 = 0;
  Int128 s2 = 0;
  for (int v = kLowest; v < kLowest + 256; ++v) {
    const auto byte = static_cast<unsigned char>(v);
    const int64_t c = parts[0][byte] + parts[1][byte] + parts[2][byte] + parts[3][byte];
    if (c == 0) continue;
    if (lo == 256) lo = v;
    hi = v;
    s1 += c * v;
    s2 += static_cast<Int128>(c) * (v * v);
  }
  s.min = lo;
  s.max = hi;
  const void* at = std::memchr(bytes, static_cast<unsigned char>(hi), static_cast<size_t>(n));
  s.argmax = static_cast<const unsigned char*>(at) - bytes;
  const double count = static_cast<double>(n);
  s.avg = static_cast<double>(s1) / count;
  const Int128 m2 = static_cast<Int128>(n) * s2 - static_cast<Int128>(s1) * s1;  // n^2 * variance
  s.std = std::sqrt(static_cast<double>(m2) / count / count);
}

}  // namespace

TensorStats compute_stats(const Tensor& t) {
  TensorStats s;
  s.count = t.numel();
  if (s.count == 0) return s;
  // Elements in the order of their bytes, as Tensor::value_as_double reads them.
  dispatch_dtype(t.dtype, [&](auto tag) {
    using T = decltype(tag);
    const T* x = t.data<T>();
    if constexpr (std::is_same_v<T, uint8_t> || std::is_same_v<T, int8_t>) {
      stats_byte_codes(x, s);
    } else {
      stats_two_pass(x, s);
    }
  });
  return s;
}

}  // namespace qdrift
