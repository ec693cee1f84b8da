// proto_compare.h: compares two ONNX TensorProto files the way ONNX's backend tests do.
//
//   auto want = read_proto_values("test_gemm_alpha/test_data_set_0/output_0.pb");
//   auto got  = read_proto_values("/tmp/qdrift-conformance-x/output_0.pb");
//   std::string why = compare_values(*got, *want);   // "" when they agree
//
// Decoding is written here on purpose, independent of qdrift's own TensorProto reader
// (core/onnx_tensor.h): the oracle must not share code with what it checks. It also reads
// element types qdrift does not hold (double, float16, strings), so a test that expects
// them fails with a plain "dtype" reason instead of a decode error.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"

namespace qdrift::conformance {

// ONNX backend test tolerance for floating types: |got - want| <= atol + rtol * |want|.
struct Tolerance {
  double rtol = 1e-3;
  double atol = 1e-7;
};

// One tensor's element type, dims and values, widened to one of three storage kinds.
struct ProtoValues {
  enum class Kind { floating, integer, string };
  int32_t elem_type = 0;        // onnx::TensorProto::DataType
  std::vector<int64_t> dims;
  Kind kind = Kind::floating;
  std::vector<double> floats;   // float, double, float16, bfloat16
  std::vector<int64_t> ints;    // every integer type and bool (uint64 bit-cast)
  std::vector<std::string> strings;
};

Result<ProtoValues> read_proto_values(const std::string& path);

// Empty when `got` matches `want`: same element type, same dims, floats within `tol`
// (NaN equals NaN, infinities must match), integers, bools and strings exactly. Otherwise
// one line saying what differs first and how much.
std::string compare_values(const ProtoValues& got, const ProtoValues& want, Tolerance tol = {});

}  // namespace qdrift::conformance
