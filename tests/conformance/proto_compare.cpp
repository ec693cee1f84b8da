#include "tests/conformance/proto_compare.h"

#include <bit>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <onnx/onnx_pb.h>

#include "core/dtype.h"

namespace qdrift::conformance {

namespace {

using TP = onnx::TensorProto;

float half_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu;
  const uint32_t mant = h & 0x3ffu;
  if (exp == 0) {  // zero or subnormal: mant * 2^-24
    const float v = std::ldexp(static_cast<float>(mant), -24);
    return sign ? -v : v;
  }
  if (exp == 31) return std::bit_cast<float>(sign | 0x7f800000u | (mant << 13));  // inf, NaN
  return std::bit_cast<float>(sign | ((exp + 112u) << 23) | (mant << 13));
}

float bfloat16_to_float(uint16_t b) { return std::bit_cast<float>(static_cast<uint32_t>(b) << 16); }

// Bytes per element in raw_data; 0 for types this reader does not decode.
size_t raw_size(int32_t t) {
  switch (t) {
    case TP::BOOL: case TP::INT8: case TP::UINT8: return 1;
    case TP::INT16: case TP::UINT16: case TP::FLOAT16: case TP::BFLOAT16: return 2;
    case TP::INT32: case TP::UINT32: case TP::FLOAT: return 4;
    case TP::INT64: case TP::UINT64: case TP::DOUBLE: return 8;
    default: return 0;
  }
}

template <typename T>
T load(const char* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// Element i of raw little-endian bytes, widened into `out`.
void push_raw(const std::string& raw, size_t i, int32_t t, ProtoValues& out) {
  const char* p = raw.data() + i * raw_size(t);
  switch (t) {
    case TP::FLOAT: out.floats.push_back(load<float>(p)); break;
    case TP::DOUBLE: out.floats.push_back(load<double>(p)); break;
    case TP::FLOAT16: out.floats.push_back(half_to_float(load<uint16_t>(p))); break;
    case TP::BFLOAT16: out.floats.push_back(bfloat16_to_float(load<uint16_t>(p))); break;
    case TP::BOOL: out.ints.push_back(load<uint8_t>(p) != 0); break;
    case TP::INT8: out.ints.push_back(load<int8_t>(p)); break;
    case TP::UINT8: out.ints.push_back(load<uint8_t>(p)); break;
    case TP::INT16: out.ints.push_back(load<int16_t>(p)); break;
    case TP::UINT16: out.ints.push_back(load<uint16_t>(p)); break;
    case TP::INT32: out.ints.push_back(load<int32_t>(p)); break;
    case TP::UINT32: out.ints.push_back(load<uint32_t>(p)); break;
    case TP::INT64: out.ints.push_back(load<int64_t>(p)); break;
    case TP::UINT64: out.ints.push_back(static_cast<int64_t>(load<uint64_t>(p))); break;
    default: break;
  }
}

// The typed field that holds `t` when raw_data is absent, and its element count.
int typed_count(const TP& p, int32_t t) {
  switch (t) {
    case TP::FLOAT: return p.float_data_size();
    case TP::DOUBLE: return p.double_data_size();
    case TP::INT64: return p.int64_data_size();
    case TP::UINT32: case TP::UINT64: return p.uint64_data_size();
    case TP::STRING: return p.string_data_size();
    default: return p.int32_data_size();  // int8..int32, uint8, uint16, bool, float16, bfloat16
  }
}

void push_typed(const TP& p, int i, int32_t t, ProtoValues& out) {
  switch (t) {
    case TP::FLOAT: out.floats.push_back(p.float_data(i)); break;
    case TP::DOUBLE: out.floats.push_back(p.double_data(i)); break;
    case TP::FLOAT16: out.floats.push_back(half_to_float(static_cast<uint16_t>(p.int32_data(i)))); break;
    case TP::BFLOAT16: out.floats.push_back(bfloat16_to_float(static_cast<uint16_t>(p.int32_data(i)))); break;
    case TP::INT64: out.ints.push_back(p.int64_data(i)); break;
    case TP::UINT32: case TP::UINT64: out.ints.push_back(static_cast<int64_t>(p.uint64_data(i))); break;
    case TP::STRING: out.strings.push_back(p.string_data(i)); break;
    case TP::BOOL: out.ints.push_back(p.int32_data(i) != 0); break;
    default: out.ints.push_back(p.int32_data(i)); break;
  }
}

ProtoValues::Kind kind_of(int32_t t) {
  switch (t) {
    case TP::FLOAT: case TP::DOUBLE: case TP::FLOAT16: case TP::BFLOAT16: return ProtoValues::Kind::floating;
    case TP::STRING: return ProtoValues::Kind::string;
    default: return ProtoValues::Kind::integer;
  }
}

std::string dims_str(const std::vector<int64_t>& d) { return fmt::format("[{}]", fmt::join(d, ",")); }

}  // namespace

Result<ProtoValues> read_proto_values(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return invalid_input("{}: cannot open", path);
  std::stringstream buf;
  buf << f.rdbuf();
  TP proto;
  if (!proto.ParseFromString(buf.str())) return invalid_input("{}: not a TensorProto", path);

  ProtoValues out;
  out.elem_type = proto.data_type();
  out.dims.assign(proto.dims().begin(), proto.dims().end());
  out.kind = kind_of(out.elem_type);
  int64_t numel = 1;
  for (int64_t d : out.dims) {
    if (d < 0) return invalid_input("{}: negative dim {}", path, d);
    numel *= d;
  }
  const int32_t t = out.elem_type;
  if (t == TP::COMPLEX64 || t == TP::COMPLEX128 || t == TP::UNDEFINED)
    return unsupported("{}: element type {} is not compared", path, onnx_type_name(t));
  if (proto.has_raw_data()) {
    if (t == TP::STRING) return invalid_input("{}: string tensor with raw_data", path);
    const std::string& raw = proto.raw_data();
    if (static_cast<int64_t>(raw.size()) != numel * static_cast<int64_t>(raw_size(t)))
      return invalid_input("{}: raw_data has {} bytes, dims {} of {} need {}", path, raw.size(), dims_str(out.dims),
                           onnx_type_name(t), numel * static_cast<int64_t>(raw_size(t)));
    for (int64_t i = 0; i < numel; ++i) push_raw(raw, static_cast<size_t>(i), t, out);
  } else {
    if (typed_count(proto, t) != numel)
      return invalid_input("{}: {} values for dims {}", path, typed_count(proto, t), dims_str(out.dims));
    for (int i = 0; i < static_cast<int>(numel); ++i) push_typed(proto, i, t, out);
  }
  return out;
}

std::string compare_values(const ProtoValues& got, const ProtoValues& want, Tolerance tol) {
  if (got.elem_type != want.elem_type)
    return fmt::format("dtype {}, expected {}", onnx_type_name(got.elem_type), onnx_type_name(want.elem_type));
  if (got.dims != want.dims) return fmt::format("shape {}, expected {}", dims_str(got.dims), dims_str(want.dims));

  size_t bad = 0, first = 0;
  switch (want.kind) {
    case ProtoValues::Kind::floating: {
      double worst = 0;
      for (size_t i = 0; i < want.floats.size(); ++i) {
        const double a = got.floats[i], b = want.floats[i];
        const bool ok = a == b || (std::isnan(a) && std::isnan(b)) ||
                        (std::isfinite(a) && std::isfinite(b) && std::fabs(a - b) <= tol.atol + tol.rtol * std::fabs(b));
        if (ok) continue;
        if (bad++ == 0) first = i;
        const double diff = std::isfinite(a) && std::isfinite(b) ? std::fabs(a - b) : INFINITY;
        worst = std::max(worst, diff);
      }
      if (bad == 0) return {};
      return fmt::format("{} of {} values differ beyond rtol {} atol {}; first at [{}]: {} vs expected {}; max abs diff {}",
                         bad, want.floats.size(), tol.rtol, tol.atol, first, got.floats[first], want.floats[first],
                         worst);
    }
    case ProtoValues::Kind::integer:
      for (size_t i = 0; i < want.ints.size(); ++i)
        if (got.ints[i] != want.ints[i] && bad++ == 0) first = i;
      if (bad == 0) return {};
      return fmt::format("{} of {} values differ; first at [{}]: {} vs expected {}", bad, want.ints.size(), first,
                         got.ints[first], want.ints[first]);
    case ProtoValues::Kind::string:
      for (size_t i = 0; i < want.strings.size(); ++i)
        if (got.strings[i] != want.strings[i] && bad++ == 0) first = i;
      if (bad == 0) return {};
      return fmt::format("{} of {} strings differ; first at [{}]: '{}' vs expected '{}'", bad, want.strings.size(),
                         first, got.strings[first], want.strings[first]);
  }
  return "unreachable";
}

}  // namespace qdrift::conformance
