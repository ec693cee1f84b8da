// fuzz_report_json: bytes -> parse_report_json. Any result but a crash, leak or hang is
// fine; rejections must be one-line invalid_input messages naming the input. A report that
// parses must write back to JSON that parses again and writes back to the same text.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "diff/report_json.h"
#include "tests/fuzz/fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace qdrift;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto r = parse_report_json(bytes, "fuzz.json");
  if (!r) {
    fuzz::check_rejection(r.status(), "fuzz.json");
    return 0;
  }
  // Idempotence: what we write reads back, and writes the same text again.
  const std::string once = report_to_json(*r);
  auto back = parse_report_json(once, "roundtrip.json");
  if (!back) {
    std::fprintf(stderr, "fuzz: written report does not read back: %s\n", back.status().message().c_str());
    std::abort();
  }
  if (report_to_json(*back) != once) {
    std::fprintf(stderr, "fuzz: report changed on a second round trip\n");
    std::abort();
  }
  return 0;
}
