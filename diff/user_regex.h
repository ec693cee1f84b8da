// user_regex.h: regular expressions from users' files (mapping rules, budgets), on RE2.
//
//   QD_ASSIGN_OR_RETURN(UserRegex re, UserRegex::compile("^(conv\\d+)\\.out$", "rules.json: patterns[0].ref"));
//   re.search("conv12.out");                              // anywhere in the text
//   std::optional<std::string> o = re.full_match_rewrite("conv12.out", "$1/int8");   // "conv12/int8"
//
// Why RE2 and not std::regex: libstdc++'s matcher backtracks (a pattern like `(a*)*b` on a
// 4,000-character name never finishes) and recurses once per character; RE2 matches in time
// linear in the text and bounds the memory a pattern may compile to. Its syntax is
// ECMAScript's without backreferences and lookaround (https://github.com/google/re2/wiki/Syntax).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/status.h"

namespace re2 {
class RE2;
}

namespace qdrift {

class UserRegex {
 public:
  UserRegex() = default;  // matches nothing until assigned from compile()

  // `where` names the file and field for errors ("budget.json: layers[2].match: ...").
  static Result<UserRegex> compile(std::string_view pattern, std::string_view where);

  const std::string& pattern() const { return pattern_; }
  bool search(std::string_view text) const;      // anywhere in text
  bool full_match(std::string_view text) const;  // the whole text

  // Checks a template's $1..$9 against the pattern's groups ($& is the whole match).
  Status check_template(std::string_view tmpl, std::string_view where) const;
  // The template with $1..$9 and $& filled in when the whole text matches; else nullopt.
  std::optional<std::string> full_match_rewrite(std::string_view text, std::string_view tmpl) const;

 private:
  std::string pattern_;
  std::shared_ptr<const re2::RE2> re_;  // immutable once compiled: copies share it
};

}  // namespace qdrift
