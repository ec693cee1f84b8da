#include "core/quant_math.h"

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

}  // namespace qdrift
