#include "diff/junit.h"

#include <iterator>

#include <fmt/format.h>

namespace qdrift {

namespace {

// Length of the valid UTF-8 sequence starting at s[i], 0 if invalid (overlong forms,
// surrogates and code points above U+10FFFF are invalid).
size_t utf8_sequence(std::string_view s, size_t i) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  if (c < 0x80) return 1;
  size_t n = 0;
  uint32_t cp = 0;
  if ((c & 0xE0) == 0xC0) n = 2, cp = c & 0x1F;
  else if ((c & 0xF0) == 0xE0) n = 3, cp = c & 0x0F;
  else if ((c & 0xF8) == 0xF0) n = 4, cp = c & 0x07;
  else return 0;
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((b(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b(i + k) & 0x3F);
  }
  static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF) || cp == 0xFFFE || cp == 0xFFFF) return 0;
  return n;
}

}  // namespace

std::string xml_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    const char c = s[i];
    const size_t n = utf8_sequence(s, i);
    if (n == 0) {
      out += '?';
      ++i;
      continue;
    }
    if (n > 1) {
      out.append(s.substr(i, n));
      i += n;
      continue;
    }
    ++i;
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default:
        // XML 1.0 allows tab, LF and CR only among the control characters; none belong in a name.
        out += static_cast<unsigned char>(c) < 0x20 || c == 0x7f ? '?' : c;
    }
  }
  return out;
}

std::string gate_to_junit(const GateResult& gate, std::string_view suite_name) {
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  auto o = std::back_inserter(out);
  const std::string suite = xml_escape(suite_name);
  const size_t failures = gate.violations.size();
  fmt::format_to(o, "<testsuites name=\"qdrift gate\" tests=\"{}\" failures=\"{}\" errors=\"0\">\n",
                 gate.evaluated.size(), failures);
  fmt::format_to(o, "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"0\">\n", suite,
                 gate.evaluated.size(), failures);
  for (const GateCheck& c : gate.evaluated) {
    const std::string name = c.tensor.empty() ? xml_escape(c.check) : xml_escape(c.tensor) + ": " + xml_escape(c.check);
    fmt::format_to(o, "    <testcase classname=\"qdrift.gate\" name=\"{}\"", name);
    if (c.violation < 0 || static_cast<size_t>(c.violation) >= gate.violations.size()) {
      out += "/>\n";
      continue;
    }
    const GateViolation& v = gate.violations[static_cast<size_t>(c.violation)];
    const std::string message = xml_escape(v.message);
    fmt::format_to(o, ">\n      <failure message=\"{}\" type=\"{}\">{}</failure>\n    </testcase>\n", message,
                   xml_escape(v.check), message);
  }
  out += "  </testsuite>\n</testsuites>\n";
  return out;
}

}  // namespace qdrift
