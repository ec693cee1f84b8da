// mapping_rules.h: the user's file telling qdrift which tensors of two graphs are the same
// when names and provenance cannot (schema "qdrift.rules/1", docs/mapping_rules.md).
//
//   {"schema": "qdrift.rules/1",
//    "pairs":    [{"ref": "relu_0.tmp_0.quantized", "other": "dequantize/in/1"},
//                 {"ref": "concat_out", "other": ["branch_a", "branch_b"]}],      // one to many
//    "patterns": [{"ref": "^(.*)\\.quantized$", "other": "$1"}]}                   // regex -> template
//
//   QD_ASSIGN_OR_RETURN(MappingRules rules, read_mapping_rules("rules.json", limits));
//   std::vector<std::string> names = rules.other_names_for("relu_0.tmp_0.quantized");
//
// Explicit pairs win over patterns; patterns are tried in file order, the first that
// matches the whole reference name gives the other name ($1..$9 are its groups).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/limits.h"
#include "core/status.h"
#include "diff/user_regex.h"

namespace qdrift {

inline constexpr const char* kMappingRulesSchema = "qdrift.rules/1";

struct MappingRules {
  struct Pair {
    std::string ref;
    std::vector<std::string> other;  // one or more tensors of the other graph
  };
  struct Pattern {
    UserRegex ref_regex;         // must match the whole reference name (RE2 syntax)
    std::string other_template;  // "$1".."$9", "$&" replaced by the regex's groups
  };
  std::vector<Pair> pairs;
  std::vector<Pattern> patterns;

  // Other-graph names for a reference tensor, with the rule that gave them ("pair 2",
  // "pattern 0"); empty when no rule applies.
  std::vector<std::string> other_names_for(std::string_view ref_name, std::string* rule = nullptr) const;
};

// Parses and checks a rules document (regexes on RE2: linear-time matching, bounded compile
// memory; templates checked against the groups). `label` names the file in errors.
Result<MappingRules> parse_mapping_rules(std::string_view text, std::string_view label);
Result<MappingRules> read_mapping_rules(const std::string& path, const Limits& limits);

}  // namespace qdrift
