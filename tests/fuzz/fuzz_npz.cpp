// fuzz_npz: bytes -> parse_npz (libzip underneath). Zip bombs and lying member sizes must
// be refused before allocating; rejections are one-line messages naming the input.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/tensor_io.h"
#include "tests/fuzz/fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace qdrift;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto members = parse_npz(bytes, "fuzz.npz", fuzz::fuzz_limits());
  if (!members) {
    fuzz::check_rejection(members.status(), "fuzz.npz");
    return 0;
  }
  for (const auto& [key, t] : *members)
    if (static_cast<int64_t>(t.bytes.size()) != t.numel() * static_cast<int64_t>(dtype_size(t.dtype))) std::abort();
  return 0;
}
