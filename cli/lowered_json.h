// lowered_json.h: `qdrift run --dump-lowered FILE.json`: the lowered int8 graph with its
// provenance as JSON (schema "qdrift.lowered/1", docs/lowered_json.md).
//
//   QD_ASSIGN_OR_RETURN(LoweredGraph low, lower(model, policy));
//   std::string text = lowered_to_json(model, low, policy);   // one node / value per line
//   QD_RETURN_IF_ERROR(write_file_bytes("lowered.json", text));
//
// The text form (a .txt or any other extension) is format_graph_text (core/lower.h).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/graph.h"
#include "core/int8_policy.h"
#include "core/lower.h"

namespace qdrift::cli {

inline constexpr const char* kLoweredSchema = "qdrift.lowered/1";

// The source nodes lowered node `node` of `lowered` does the work of, in source order:
// walking back from the source tensors its outputs stand for (provenance.source) through
// their producers in `source`, up to tensors some other non-constant lowered value stands
// for (what the node reads, or what another lowered node already made) and the source's
// inputs and initializers. Constants are walked through: QConv's weights replace their
// DequantizeLinear. An output standing for the same tensor as one of the node's inputs
// (a Requantize onto another grid) replaces nothing.
std::vector<std::string> replaced_source_nodes(const Graph& source, const Graph& lowered, const Node& node);

nlohmann::ordered_json lowered_to_json_value(const Graph& source, const LoweredGraph& low, const Int8Policy& policy);
std::string lowered_to_json(const Graph& source, const LoweredGraph& low, const Int8Policy& policy);

// True when --dump-lowered FILE asks for JSON (the extension is .json, any case).
bool wants_lowered_json(const std::string& path);

}  // namespace qdrift::cli
