// fuzz_dump_index: bytes -> parse_dump_index (the index.json of `qdrift diff --other-dump`,
// schema qdrift.dump/1). Rejections must be one-line invalid_input messages naming the input.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "diff/dump_source.h"
#include "tests/fuzz/fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace qdrift;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto index = parse_dump_index(bytes, "fuzz.json");
  if (!index) fuzz::check_rejection(index.status(), "fuzz.json");
  return 0;
}
