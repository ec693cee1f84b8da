// fuzz_mapping_rules: bytes -> parse_mapping_rules, then every accepted rule set is applied
// to a few tensor names (the regexes the reader accepted must also match without trouble).
// Rejections must be one-line invalid_input messages naming the input.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "diff/mapping_rules.h"
#include "tests/fuzz/fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace qdrift;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto rules = parse_mapping_rules(bytes, "fuzz.json");
  if (!rules) {
    fuzz::check_rejection(rules.status(), "fuzz.json");
    return 0;
  }
  static const std::string long_name(4000, 'a');  // backtracking matchers explode on these; RE2 must not
  for (std::string_view name : {std::string_view("relu_0.tmp_0.quantized"), std::string_view("dequantize/in/1"),
                                std::string_view(""), std::string_view(long_name)}) {
    std::string rule;
    (void)rules->other_names_for(name, &rule);
  }
  return 0;
}
