// dtype.h: element types qdrift tensors hold.
//
//   DType t = DType::u8;
//   dtype_name(t)        -> "u8"
//   dtype_size(t)        -> 1
//   dtype_from_onnx(2)   -> DType::u8   (TensorProto.UINT8)
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace qdrift {

enum class DType : uint8_t {
  undefined = 0,
  f32,
  s8,
  u8,
  s32,
  s64,
  boolean,  // stored as one byte, 0 or 1
  count_,
};
inline constexpr int kDTypeCount = static_cast<int>(DType::count_);

std::string_view dtype_name(DType t);
size_t dtype_size(DType t);
bool dtype_is_integer(DType t);  // s8, u8, s32, s64 (not boolean)

// ONNX TensorProto.DataType <-> DType. Returns nullopt for types qdrift does not hold.
std::optional<DType> dtype_from_onnx(int32_t onnx_type);
int32_t dtype_to_onnx(DType t);
// Human name of an ONNX element type, also for those we do not support ("float16").
std::string_view onnx_type_name(int32_t onnx_type);

// Compile-time mapping C++ type -> DType.
template <typename T> struct DTypeOf;
template <> struct DTypeOf<float> { static constexpr DType value = DType::f32; };
template <> struct DTypeOf<int8_t> { static constexpr DType value = DType::s8; };
template <> struct DTypeOf<uint8_t> { static constexpr DType value = DType::u8; };
template <> struct DTypeOf<int32_t> { static constexpr DType value = DType::s32; };
template <> struct DTypeOf<int64_t> { static constexpr DType value = DType::s64; };
template <> struct DTypeOf<bool> { static constexpr DType value = DType::boolean; };
template <typename T> inline constexpr DType dtype_of = DTypeOf<T>::value;

// Calls f(T{}) with T the C++ type of `t`; asserts on undefined.
template <typename F>
decltype(auto) dispatch_dtype(DType t, F&& f) {
  switch (t) {
    case DType::f32: return f(float{});
    case DType::s8: return f(int8_t{});
    case DType::u8: return f(uint8_t{});
    case DType::s32: return f(int32_t{});
    case DType::s64: return f(int64_t{});
    case DType::boolean: return f(bool{});
    default: break;
  }
  __builtin_trap();
}

}  // namespace qdrift
