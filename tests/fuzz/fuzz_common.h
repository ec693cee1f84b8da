// fuzz_common.h: what every qdrift fuzz target checks about a rejected input.
//
//   auto t = parse_npy(bytes, "fuzz.npy", fuzz_limits());
//   if (!t) check_rejection(t.status());   // one line, naming the input, exit code 2
//
// A fuzz input may be rejected, never crash; a rejection must read like every other
// qdrift error: one line that starts with the label, an invalid_input/unsupported code.
#pragma once

#include <cstdio>
#include <cstdlib>

#include "core/limits.h"
#include "core/status.h"

namespace qdrift::fuzz {

// Caps small enough that no input makes a target allocate more than a few MB.
inline Limits fuzz_limits() {
  Limits l;
  l.max_tensor_bytes = int64_t{1} << 22;  // 4 MiB
  l.max_file_bytes = int64_t{1} << 22;
  return l;
}

inline void check_rejection(const Status& s, const char* label) {
  const std::string& m = s.message();
  const bool one_line = m.find('\n') == std::string::npos && !m.empty();
  const bool names_input = m.rfind(label, 0) == 0;
  // internal_error means qdrift blamed itself for bad input: a bug worth a crash here.
  if (!one_line || !names_input || exit_code(s) != kExitBadInput) {
    std::fprintf(stderr, "fuzz: bad rejection (code %d): %s\n", exit_code(s), m.c_str());
    std::abort();
  }
}

}  // namespace qdrift::fuzz
