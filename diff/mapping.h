// mapping.h: pairs the tensors of two graphs and says how each pair was found.
//
//   QD_ASSIGN_OR_RETURN(Mapping m, map_tensors(reference, lowered.graph, &rules));
//   for (const TensorPair& p : m.pairs)
//     fmt::print("{} <-> {} ({})\n", reference.value(p.ref).name, lowered.graph.value(p.other).name,
//                match_method_name(p.method));
//
// Methods, most certain first: provenance (the other graph is our lowering: each value names
// the source tensor it stands for), name (identical names), rule (the user's rules file);
// structure and value (diff/mapping_value.h) then complete it for a second model or a dump.
// Only produced tensors (node outputs) are paired; a reference tensor may pair with several
// other tensors (a rule's one-to-many). Tensors left without a partner are listed with the
// reason, never dropped.
#pragma once

#include <string>
#include <vector>

#include "core/graph.h"
#include "diff/mapping_rules.h"
#include "diff/report.h"
#include "diff/tensor_layouts.h"

namespace qdrift {

struct TensorPair {
  ValueId ref = kNoValue;
  ValueId other = kNoValue;
  MatchMethod method = MatchMethod::name;
  std::string detail;  // the provenance rewrite, the rule used
  // The other tensor is the reference tensor moved to another grid on purpose (the lowering
  // re-quantizes Concat inputs to the Concat's grid, which the reference does after the
  // Concat): its error is measured in steps of its own grid, not the reference's.
  bool steps_in_other_grid = false;
  double confidence = 1;  // [0, 1]: below 1 only for structure and value pairs
  LayoutMatch layout;     // how the other tensor holds the reference's logical shape
};

struct Mapping {
  std::vector<TensorPair> pairs;            // reference production order, then other order
  std::vector<UnmatchedRecord> unmatched;   // both sides
};

// `rules` may be null. `other_derives_from_ref`: the other graph was made from `ref` (our
// lowering, strip_qdq), so its provenance pairs exactly; otherwise it comes from a second
// model, and a lowered value's source name serves as another name for it (names and rules
// may use either). Pairs whose element counts differ are not made; both tensors are then
// listed as unmatched with the shapes in the reason.
// `other_produced`, when given, marks the values of `other` that exist (a dump holds only
// some tensors of its graph); the others are neither paired nor listed.
Mapping map_tensors(const Graph& ref, const Graph& other, const MappingRules* rules, bool other_derives_from_ref = true,
                    const std::vector<bool>* other_produced = nullptr);

}  // namespace qdrift
