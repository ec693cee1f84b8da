#include "diff/user_regex.h"

#include <vector>

#include <fmt/format.h>
#include <re2/re2.h>

namespace qdrift {

namespace {

constexpr size_t kMaxPatternLength = 1024;
constexpr int64_t kMaxProgramBytes = int64_t{1} << 20;  // RE2's compile-memory budget per pattern

std::string one_line(std::string s) {
  for (char& c : s)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  return s;
}

}  // namespace

Result<UserRegex> UserRegex::compile(std::string_view pattern, std::string_view where) {
  if (pattern.size() > kMaxPatternLength)
    return invalid_input("{}: regex longer than {} characters", where, kMaxPatternLength);
  RE2::Options options;
  options.set_log_errors(false);  // the error goes into our one-line message instead
  options.set_max_mem(kMaxProgramBytes);
  auto re = std::make_shared<const re2::RE2>(re2::StringPiece(pattern.data(), pattern.size()), options);
  if (!re->ok()) return invalid_input("{}: not a valid regex: {}", where, one_line(re->error()));
  UserRegex r;
  r.pattern_ = std::string(pattern);
  r.re_ = std::move(re);
  return r;
}

bool UserRegex::search(std::string_view text) const {
  return re_ && RE2::PartialMatch(re2::StringPiece(text.data(), text.size()), *re_);
}

bool UserRegex::full_match(std::string_view text) const {
  return re_ && RE2::FullMatch(re2::StringPiece(text.data(), text.size()), *re_);
}

Status UserRegex::check_template(std::string_view tmpl, std::string_view where) const {
  const int groups = re_ ? re_->NumberOfCapturingGroups() : 0;
  for (size_t i = 0; i + 1 < tmpl.size(); ++i) {
    if (tmpl[i] != '$') continue;
    const char c = tmpl[i + 1];
    if (c >= '1' && c <= '9' && c - '0' > groups)
      return invalid_input("{}: ${} refers to group {}, but the regex has {} group{}", where, c, c - '0', groups,
                           groups == 1 ? "" : "s");
  }
  return Status::ok();
}

std::optional<std::string> UserRegex::full_match_rewrite(std::string_view text, std::string_view tmpl) const {
  if (!re_) return std::nullopt;
  const int groups = re_->NumberOfCapturingGroups();
  // Group 0 is the whole match.
  std::vector<re2::StringPiece> found(static_cast<size_t>(groups) + 1);
  if (!re_->Match(re2::StringPiece(text.data(), text.size()), 0, text.size(), RE2::ANCHOR_BOTH, found.data(),
                  static_cast<int>(found.size())))
    return std::nullopt;
  std::string out;
  for (size_t i = 0; i < tmpl.size(); ++i) {
    const char c = i + 1 < tmpl.size() ? tmpl[i + 1] : '\0';
    if (tmpl[i] == '$' && (c == '&' || (c >= '0' && c <= '9' && c - '0' <= groups))) {
      const re2::StringPiece& g = found[c == '&' ? 0 : static_cast<size_t>(c - '0')];
      out.append(g.data() ? g.data() : "", g.size());
      ++i;
      continue;
    }
    out += tmpl[i];
  }
  return out;
}

}  // namespace qdrift
