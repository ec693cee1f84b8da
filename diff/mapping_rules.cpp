#include "diff/mapping_rules.h"

#include <fmt/format.h>

#include "core/onnx_loader.h"
#include "diff/json_util.h"

namespace qdrift {

namespace {
constexpr size_t kMaxRules = 100000;
}  // namespace

std::vector<std::string> MappingRules::other_names_for(std::string_view ref_name, std::string* rule) const {
  for (size_t i = 0; i < pairs.size(); ++i)
    if (pairs[i].ref == ref_name) {
      if (rule) *rule = fmt::format("pair {}", i);
      return pairs[i].other;
    }
  for (size_t i = 0; i < patterns.size(); ++i) {
    std::optional<std::string> name = patterns[i].ref_regex.full_match_rewrite(ref_name, patterns[i].other_template);
    if (!name) continue;
    if (rule) *rule = fmt::format("pattern {}", i);
    return {std::move(*name)};
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
      QD_ASSIGN_OR_RETURN(std::string regex, e["ref"].string());
      QD_ASSIGN_OR_RETURN(p.other_template, e["other"].string());
      QD_ASSIGN_OR_RETURN(p.ref_regex, UserRegex::compile(regex, fmt::format("{}: {}", label, e["ref"].path())));
      QD_RETURN_IF_ERROR(p.ref_regex.check_template(p.other_template, fmt::format("{}: {}", label, e["other"].path())));
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
