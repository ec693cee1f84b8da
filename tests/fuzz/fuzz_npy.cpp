// fuzz_npy: bytes -> parse_npy. Any result but a crash, leak or hang is fine; rejections
// must be one-line invalid_input/unsupported messages naming the input.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/tensor_io.h"
#include "tests/fuzz/fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace qdrift;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto t = parse_npy(bytes, "fuzz.npy", fuzz::fuzz_limits());
  if (!t) {
    fuzz::check_rejection(t.status(), "fuzz.npy");
    return 0;
  }
  // A parsed tensor must hold exactly the bytes its shape says (the reader's promise).
  if (static_cast<int64_t>(t->bytes.size()) != t->numel() * static_cast<int64_t>(dtype_size(t->dtype))) std::abort();
  // Round trip: encode_npy of what we read parses back to the same tensor.
  auto back = parse_npy(encode_npy(*t), "roundtrip.npy", fuzz::fuzz_limits());
  if (!back || back->shape != t->shape || back->dtype != t->dtype || back->bytes != t->bytes) std::abort();
  return 0;
}
