// onnx_tensor.h: conversion between ONNX TensorProto and qdrift Tensor.
//
//   onnx::TensorProto p; p.ParseFromString(bytes);
//   Result<Tensor> t = tensor_from_proto(p, limits);   // checks sizes before allocating
//   onnx::TensorProto back = tensor_to_proto(*t, "output_0");
#pragma once

#include <string>

#include "core/limits.h"
#include "core/tensor.h"

namespace onnx {
class TensorProto;
}

namespace qdrift {

// Accepts raw_data and the typed fields (float_data, int32_data, int64_data). Rejects
// element types qdrift does not hold, external data, and sizes that disagree with dims.
Result<Tensor> tensor_from_proto(const onnx::TensorProto& proto, const Limits& limits);
onnx::TensorProto tensor_to_proto(const Tensor& t, const std::string& name);

}  // namespace qdrift
