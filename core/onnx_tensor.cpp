#include "core/onnx_tensor.h"

#include <onnx/onnx_pb.h>

namespace qdrift {

namespace {

// Copies a typed repeated field into `out`, converting each element to T.
template <typename T, typename Field>
void copy_field(const Field& field, Tensor& out) {
  T* dst = out.data<T>();
  for (int i = 0; i < field.size(); ++i) dst[i] = static_cast<T>(field.Get(i));
}

}  // namespace

Result<Tensor> tensor_from_proto(const onnx::TensorProto& proto, const Limits& limits) {
  // The name only appears in one-line messages: no control characters, bounded length.
  std::string name = proto.name().empty() ? std::string("<unnamed>") : proto.name().substr(0, 200);
  for (char& c : name)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  if (proto.data_location() == onnx::TensorProto::EXTERNAL)
    return unsupported("tensor '{}': external data is not supported", name);
  if (proto.has_segment()) return unsupported("tensor '{}': segmented tensors are not supported", name);
  auto dtype = dtype_from_onnx(proto.data_type());
  if (!dtype)
    return unsupported("tensor '{}': element type {} is not supported (qdrift holds f32, s8, u8, s32, s64, bool)",
                       name, onnx_type_name(proto.data_type()));
  if (proto.dims_size() > limits.max_rank)
    return invalid_input("tensor '{}': rank {} exceeds the limit {}", name, proto.dims_size(), limits.max_rank);
  Shape shape(proto.dims().begin(), proto.dims().end());
  const int64_t elem = static_cast<int64_t>(dtype_size(*dtype));
  auto numel = checked_numel(shape, limits.max_tensor_bytes / elem);
  if (!numel) return numel.status().with_context(fmt::format("tensor '{}'", name));

  // Check the bytes present against the declared dims before allocating.
  int64_t present = -1;
  if (proto.has_raw_data()) {
    if (static_cast<int64_t>(proto.raw_data().size()) != *numel * elem)
      return invalid_input("tensor '{}': raw_data has {} bytes, dims {} of {} need {}", name, proto.raw_data().size(),
                           shape_str(shape), dtype_name(*dtype), *numel * elem);
  } else {
    switch (*dtype) {
      case DType::f32: present = proto.float_data_size(); break;
      case DType::s64: present = proto.int64_data_size(); break;
      default: present = proto.int32_data_size(); break;  // s8, u8, s32, bool are stored in int32_data
    }
    if (present != *numel)
      return invalid_input("tensor '{}': holds {} values, dims {} need {}", name, present, shape_str(shape), *numel);
  }

  Tensor t = Tensor::zeros(*dtype, std::move(shape));
  if (proto.has_raw_data()) {
    if (!t.bytes.empty()) std::memcpy(t.bytes.data(), proto.raw_data().data(), t.bytes.size());
    if (*dtype == DType::boolean)
      for (auto& b : t.bytes) b = std::byte{b != std::byte{0} ? uint8_t{1} : uint8_t{0}};
    return t;
  }
  // s8 and u8 live in int32_data: a value outside the type would wrap silently (a u8
  // zero point 300 becoming 44), so it is an error.
  if (*dtype == DType::s8 || *dtype == DType::u8) {
    const int32_t lo = *dtype == DType::s8 ? -128 : 0;
    const int32_t hi = *dtype == DType::s8 ? 127 : 255;
    for (int i = 0; i < proto.int32_data_size(); ++i)
      if (proto.int32_data(i) < lo || proto.int32_data(i) > hi)
        return invalid_input("tensor '{}': value {} at index {} is outside the range of {} [{}, {}]", name,
                             proto.int32_data(i), i, dtype_name(*dtype), lo, hi);
  }
  switch (*dtype) {
    case DType::f32: copy_field<float>(proto.float_data(), t); break;
    case DType::s64: copy_field<int64_t>(proto.int64_data(), t); break;
    case DType::s32: copy_field<int32_t>(proto.int32_data(), t); break;
    case DType::s8: copy_field<int8_t>(proto.int32_data(), t); break;
    case DType::u8: copy_field<uint8_t>(proto.int32_data(), t); break;
    case DType::boolean: {
      bool* dst = t.data<bool>();
      for (int i = 0; i < proto.int32_data_size(); ++i) dst[i] = proto.int32_data(i) != 0;
      break;
    }
    default: QD_ASSERT(false);
  }
  return t;
}

onnx::TensorProto tensor_to_proto(const Tensor& t, const std::string& name) {
  onnx::TensorProto p;
  p.set_name(name);
  p.set_data_type(dtype_to_onnx(t.dtype));
  for (int64_t d : t.shape) p.add_dims(d);
  p.set_raw_data(reinterpret_cast<const char*>(t.bytes.data()), t.bytes.size());
  return p;
}

}  // namespace qdrift
