#include "core/dtype.h"

#include <array>

#include <onnx/onnx_pb.h>

namespace qdrift {

namespace {
struct DTypeInfo {
  DType type;
  std::string_view name;
  size_t size;
  int32_t onnx;
};
constexpr std::array<DTypeInfo, kDTypeCount> kDTypes = {{
    {DType::undefined, "undefined", 0, onnx::TensorProto::UNDEFINED},
    {DType::f32, "f32", 4, onnx::TensorProto::FLOAT},
    {DType::s8, "s8", 1, onnx::TensorProto::INT8},
    {DType::u8, "u8", 1, onnx::TensorProto::UINT8},
    {DType::s32, "s32", 4, onnx::TensorProto::INT32},
    {DType::s64, "s64", 8, onnx::TensorProto::INT64},
    {DType::boolean, "bool", 1, onnx::TensorProto::BOOL},
}};
constexpr bool table_in_enum_order() {
  for (size_t i = 0; i < kDTypes.size(); ++i)
    if (static_cast<size_t>(kDTypes[i].type) != i) return false;
  return true;
}
static_assert(table_in_enum_order(), "kDTypes must list every DType in enum order");
}  // namespace

std::string_view dtype_name(DType t) { return kDTypes[static_cast<size_t>(t)].name; }
size_t dtype_size(DType t) { return kDTypes[static_cast<size_t>(t)].size; }
bool dtype_is_integer(DType t) {
  return t == DType::s8 || t == DType::u8 || t == DType::s32 || t == DType::s64;
}

std::optional<DType> dtype_from_onnx(int32_t onnx_type) {
  for (const auto& d : kDTypes)
    if (d.onnx == onnx_type && d.type != DType::undefined) return d.type;
  return std::nullopt;
}

int32_t dtype_to_onnx(DType t) { return kDTypes[static_cast<size_t>(t)].onnx; }

std::string_view onnx_type_name(int32_t onnx_type) {
  switch (onnx_type) {
    case onnx::TensorProto::FLOAT: return "float";
    case onnx::TensorProto::UINT8: return "uint8";
    case onnx::TensorProto::INT8: return "int8";
    case onnx::TensorProto::UINT16: return "uint16";
    case onnx::TensorProto::INT16: return "int16";
    case onnx::TensorProto::INT32: return "int32";
    case onnx::TensorProto::INT64: return "int64";
    case onnx::TensorProto::STRING: return "string";
    case onnx::TensorProto::BOOL: return "bool";
    case onnx::TensorProto::FLOAT16: return "float16";
    case onnx::TensorProto::DOUBLE: return "double";
    case onnx::TensorProto::UINT32: return "uint32";
    case onnx::TensorProto::UINT64: return "uint64";
    case onnx::TensorProto::COMPLEX64: return "complex64";
    case onnx::TensorProto::COMPLEX128: return "complex128";
    case onnx::TensorProto::BFLOAT16: return "bfloat16";
    default: return "unknown";
  }
}

}  // namespace qdrift
