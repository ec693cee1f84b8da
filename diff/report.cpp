#include "diff/report.h"

#include <array>

namespace qdrift {

namespace {
constexpr std::array<std::string_view, 5> kMatchMethodNames = {"provenance", "name", "rule", "structure", "value"};
static_assert(kMatchMethodNames.size() == static_cast<size_t>(MatchMethod::value) + 1);
}  // namespace

std::string_view match_method_name(MatchMethod m) { return kMatchMethodNames[static_cast<size_t>(m)]; }

bool parse_match_method(std::string_view s, MatchMethod* out) {
  for (size_t i = 0; i < kMatchMethodNames.size(); ++i)
    if (kMatchMethodNames[i] == s) {
      *out = static_cast<MatchMethod>(i);
      return true;
    }
  return false;
}

}  // namespace qdrift
