// mapping_structure.h: candidate pairs between two graphs from their structure alone, for
// graphs whose names say nothing (another tool's optimizer, a scrambled export).
//
//   std::vector<StructureCandidate> c = structure_candidates(ref, other, known_pairs, ref_free, other_free);
//   for (const StructureCandidate& s : c)      // several per tensor when the structure is ambiguous
//     fmt::print("{} ~ {} ({:.2f}, {})\n", ref.value(s.ref).name, other.value(s.other).name, s.prior, s.detail);
//
// Compute ops are anchors, grouped in families that tools rewrite into one another: Conv ≈
// QLinearConv ≈ FusedConv ≈ nchwc Conv ≈ QConv; Gemm ≈ QGemm ≈ MatMul ≈ FusedGemm; Add ≈
// QLinearAdd ≈ QAdd; and so on. Layout ops, Q/DQ and reshapes are transparent; activations
// (fused or not) and BatchNormalization belong to the anchor before them. Every produced tensor
// belongs to the group of the anchor it comes from. Anchors pair when their families agree,
// their output shapes agree modulo layout (NCHW, NHWC, NCHWc), their kernel sizes agree, and
// the anchors feeding them are already paired (graph inputs first, then topological order;
// pairs found by name or rules are seeds). Where several anchors qualify equally (sibling
// branches), all are kept and the values decide (diff/mapping_value.h).
#pragma once

#include <string>
#include <vector>

#include "core/graph.h"

namespace qdrift {

struct StructureCandidate {
  ValueId ref = kNoValue;
  ValueId other = kNoValue;
  double prior = 0;    // structural certainty in (0, 1]: 1 for one anchor with every input anchor paired
  std::string detail;  // "Conv 'a' ~ QLinearConv 'b'"
};

// The family an op belongs to for structural matching ("conv", "gemm", ...), "" for
// transparent ops (layout, Q/DQ, reshape) and "act" for activations; an unknown op is its
// own family (its op type).
std::string op_family(const Node& n);

// `known` are the pairs already made (by name or rules): seeds. `ref_free`/`other_free`
// mark the produced values still without a partner; only they get candidates.
// `anchor_pairs`, when given, receives the compute nodes paired (ref node, other node).
std::vector<StructureCandidate> structure_candidates(const Graph& ref, const Graph& other,
                                                     const std::vector<std::pair<ValueId, ValueId>>& known,
                                                     const std::vector<bool>& ref_free,
                                                     const std::vector<bool>& other_free,
                                                     std::vector<std::pair<NodeId, NodeId>>* anchor_pairs = nullptr);

}  // namespace qdrift
