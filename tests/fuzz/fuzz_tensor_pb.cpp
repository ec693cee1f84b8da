// fuzz_tensor_pb: bytes -> parse_tensor_pb (an ONNX TensorProto, the ONNX test-data format).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/tensor_io.h"
#include "tests/fuzz/fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace qdrift;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto t = parse_tensor_pb(bytes, "fuzz.pb", fuzz::fuzz_limits());
  if (!t) {
    fuzz::check_rejection(t.status(), "fuzz.pb");
    return 0;
  }
  if (static_cast<int64_t>(t->bytes.size()) != t->numel() * static_cast<int64_t>(dtype_size(t->dtype))) std::abort();
  return 0;
}
