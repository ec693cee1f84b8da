#include "diff/mapping_rules.h"

#include <cctype>

#include <fmt/format.h>

#include "core/onnx_loader.h"
#include "diff/json_util.h"

namespace qdrift {

namespace {

// libstdc++'s std::regex compiles counted repetitions by copying the automaton and matches
// by recursion: these bounds keep a hostile pattern from exhausting memory or the stack.
constexpr size_t kMaxRegexLength = 256;
constexpr int kMaxRepeatBound = 32;
constexpr int kMaxCountedRepeats = 2;
constexpr size_t kMaxNameLength = 4096;   // longer names are never matched by rules
constexpr size_t kMaxRules = 100000;

}  // namespace

Status check_user_regex(std::string_view pattern, std::string_view where) {
  if (pattern.size() > kMaxRegexLength)
    return invalid_input("{}: regex longer than {} characters", where, kMaxRegexLength);
  int counted = 0;
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] == '\\') {
      // Backreferences (\1) make matching exponential and name mapping never needs them;
      // libstdc++ also parses their number without an overflow check (fuzz_mapping_rules).
      if (i + 1 < pattern.size() && std::isdigit(static_cast<unsigned char>(pattern[i + 1])))
        return invalid_input("{}: backreferences (\\{}) are not supported", where, pattern[i + 1]);
      ++i;
      continue;
    }
    if (pattern[i] != '{') continue;
    // {n}, {n,} or {n,m}: each bound at most kMaxRepeatBound.
    size_t j = i + 1;
    while (j < pattern.size() && pattern[j] != '}') {
      if (std::isdigit(static_cast<unsigned char>(pattern[j]))) {
        int value = 0;
        while (j < pattern.size() && std::isdigit(static_cast<unsigned char>(pattern[j]))) {
          value = std::min(value * 10 + (pattern[j] - '0'), 1000000);
          ++j;
        }
        if (value > kMaxRepeatBound)
          return invalid_input("{}: repetition count {} is larger than {}", where, value, kMaxRepeatBound);
        continue;
      }
      ++j;
    }
    if (++counted > kMaxCountedRepeats)
      return invalid_input("{}: more than {} counted repetitions ({{n}})", where, kMaxCountedRepeats);
  }
  return Status::ok();
}

std::vector<std::string> MappingRules::other_names_for(std::string_view ref_name, std::string* rule) const {
  for (size_t i = 0; i < pairs.size(); ++i)
    if (pairs[i].ref == ref_name) {
      if (rule) *rule = fmt::format("pair {}", i);
      return pairs[i].other;
    }
  if (ref_name.size() > kMaxNameLength) return {};
  for (size_t i = 0; i < patterns.size(); ++i) {
    std::match_results<std::string_view::const_iterator> m;
    if (!std::regex_match(ref_name.begin(), ref_name.end(), m, patterns[i].compiled)) continue;
    if (rule) *rule = fmt::format("pattern {}", i);
    return {m.format(patterns[i].other_template)};
  }
  return {};
}

Result<MappingRules> parse_mapping_rules(std::string_view text, std::string_view label) {
  QD_ASSIGN_OR_RETURN(ordered_json doc, parse_json_document(text, label));
  const JsonField root(doc, std::string(label));
  QD_RETURN_IF_ERROR(root.expect_only({"schema", "pairs", "patterns"}));
  QD_ASSIGN_OR_RETURN(std::string schema, root["schema"].string());
  if (schema != kMappingRulesSchema)
    return root["schema"].error(fmt::format("is '{}', expected '{}'", schema, kMappingRulesSchema));

  MappingRules rules;
  if (!root["pairs"].is_null()) {
    QD_ASSIGN_OR_RETURN(size_t n, root["pairs"].array_size());
    if (n > kMaxRules) return root["pairs"].error(fmt::format("more than {} entries", kMaxRules));
    for (size_t i = 0; i < n; ++i) {
      const JsonField e = root["pairs"].at(i);
      QD_RETURN_IF_ERROR(e.expect_only({"ref", "other"}));
      MappingRules::Pair p;
      QD_ASSIGN_OR_RETURN(p.ref, e["ref"].string());
      const JsonField other = e["other"];
      if (other.value().is_array()) {
        QD_ASSIGN_OR_RETURN(size_t m, other.array_size());
        if (m == 0) return other.error("empty list");
        for (size_t k = 0; k < m; ++k) {
          QD_ASSIGN_OR_RETURN(std::string name, other.at(k).string());
          p.other.push_back(std::move(name));
        }
      } else {
        QD_ASSIGN_OR_RETURN(std::string name, other.string());
        p.other.push_back(std::move(name));
      }
      rules.pairs.push_back(std::move(p));
    }
  }
  if (!root["patterns"].is_null()) {
    QD_ASSIGN_OR_RETURN(size_t n, root["patterns"].array_size());
    if (n > kMaxRules) return root["patterns"].error(fmt::format("more than {} entries", kMaxRules));
    for (size_t i = 0; i < n; ++i) {
      const JsonField e = root["patterns"].at(i);
      QD_RETURN_IF_ERROR(e.expect_only({"ref", "other"}));
      MappingRules::Pattern p;
      QD_ASSIGN_OR_RETURN(p.ref_regex, e["ref"].string());
      QD_ASSIGN_OR_RETURN(p.other_template, e["other"].string());
      const std::string where = fmt::format("{}: {}", label, e["ref"].path());
      QD_RETURN_IF_ERROR(check_user_regex(p.ref_regex, where));
      try {
        p.compiled = std::regex(p.ref_regex, std::regex::ECMAScript);
      } catch (const std::regex_error& err) {
        return invalid_input("{}: not a valid regex: {}", where, err.what());
      }
      rules.patterns.push_back(std::move(p));
    }
  }
  return rules;
}

Result<MappingRules> read_mapping_rules(const std::string& path, const Limits& limits) {
  QD_ASSIGN_OR_RETURN(std::string text, read_file_bytes(path, limits.max_file_bytes));
  return parse_mapping_rules(text, path);
}

}  // namespace qdrift
