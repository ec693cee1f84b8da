// limits.h: caps applied before any allocation driven by untrusted input.
#pragma once

#include <cstdint>

namespace qdrift {

struct Limits {
  // Largest tensor any reader, loader or kernel may allocate, in bytes.
  int64_t max_tensor_bytes = int64_t{4} << 30;
  // Largest model or tensor file read into memory.
  int64_t max_file_bytes = int64_t{2} << 30;
  // Largest rank accepted in any shape.
  int max_rank = 16;
};

}  // namespace qdrift
