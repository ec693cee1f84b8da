#include "cli/lowered_json.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <set>
#include <string_view>

#include <fmt/format.h>

#include "cli/run_json.h"

namespace qdrift::cli {

using json = nlohmann::ordered_json;

namespace {

// An f32 as the JSON number with the fewest digits that reads back as the same f32
// (0.0260984, not 0.026098400354385376); "nan"/"inf"/"-inf" as run_json writes them.
json f32_json(float v) {
  if (!std::isfinite(v)) return json_number(v);
  // strtod, not stod: stod throws on a subnormal result (ERANGE), which is still exact here.
  const std::string text = fmt::format("{}", v);
  return std::strtod(text.c_str(), nullptr);
}

json f32s_json(const std::vector<float>& v) {
  json a = json::array();
  for (float x : v) a.push_back(f32_json(x));
  return a;
}

// Tensor-valued attributes (rare in lowered graphs): dtype, shape and, when small, values.
json tensor_attr_json(const Tensor& t) {
  json j;
  j["dtype"] = std::string(dtype_name(t.dtype));
  j["shape"] = json_shape(t.shape);
  if (t.numel() <= 16) {
    json values = json::array();
    for (int64_t i = 0; i < t.numel(); ++i)
      values.push_back(t.dtype == DType::f32 ? f32_json(t.data<float>()[i]) : json(t.value_as_double(i)));
    j["values"] = std::move(values);
  }
  return j;
}

json attr_json(const AttrValue& a) {
  return std::visit(
      [](const auto& v) -> json {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, float>) return f32_json(v);
        else if constexpr (std::is_same_v<T, std::vector<float>>) return f32s_json(v);
        else if constexpr (std::is_same_v<T, Tensor>) return json{{"tensor", tensor_attr_json(v)}};
        else return json(v);  // int64, string and their lists
      },
      a);
}

json quant_json(const std::optional<QuantParams>& q) {
  if (!q) return nullptr;
  json j;
  j["type"] = std::string(dtype_name(q->zero_point_type));
  j["scale"] = f32s_json(q->scale);
  j["zero_point"] = q->zero_point;
  j["axis"] = q->is_per_axis() ? json(q->axis) : json(nullptr);
  return j;
}

json value_json(const Graph& g, const Value& v) {
  json j;
  j["name"] = v.name;
  j["dtype"] = v.dtype == DType::undefined ? json(nullptr) : json(dtype_name(v.dtype));
  j["shape"] = v.has_shape ? json_shape(v.shape) : json(nullptr);
  j["quant"] = quant_json(v.quant);
  j["constant"] = v.initializer.has_value();
  j["producer"] = v.producer == kNoNode ? json(nullptr) : json(g.nodes[static_cast<size_t>(v.producer)].name);
  j["source"] = v.provenance.source.empty() ? json(nullptr) : json(v.provenance.source);
  j["rewrite"] = v.provenance.rewrite.empty() ? json(nullptr) : json(v.provenance.rewrite);
  return j;
}

json value_names(const Graph& g, const std::vector<ValueId>& ids) {
  json a = json::array();
  for (ValueId id : ids) a.push_back(id == kNoValue ? json(nullptr) : json(g.value(id).name));
  return a;
}

// The rewrite that made a node: its outputs' (they share it); keep_float when none says.
std::string node_rewrite(const Graph& g, const Node& n) {
  for (ValueId o : n.outputs)
    if (o != kNoValue && !g.value(o).provenance.rewrite.empty()) return g.value(o).provenance.rewrite;
  return "";
}

}  // namespace

std::vector<std::string> replaced_source_nodes(const Graph& source, const Graph& lowered, const Node& node) {
  // Source tensors carried by a non-constant lowered value (a graph input or a node output).
  std::set<std::string, std::less<>> carried;
  for (const Value& v : lowered.values)
    if (!v.initializer && !v.provenance.source.empty()) carried.insert(v.provenance.source);
  std::set<std::string, std::less<>> read;  // what the node's inputs stand for
  for (ValueId in : node.inputs)
    if (in != kNoValue) read.insert(lowered.value(in).provenance.source);

  std::vector<char> seen(source.values.size(), 0);
  std::vector<ValueId> stack;
  for (ValueId o : node.outputs) {
    if (o == kNoValue) continue;
    const std::string& s = lowered.value(o).provenance.source;
    const ValueId sv = s.empty() || read.count(s) ? kNoValue : source.find_value(s);
    if (sv == kNoValue || seen[static_cast<size_t>(sv)]) continue;
    seen[static_cast<size_t>(sv)] = 1;  // the node's own tensors: walked through, never a boundary
    stack.push_back(sv);
  }
  std::vector<char> taken(source.nodes.size(), 0);
  while (!stack.empty()) {
    const NodeId p = source.value(stack.back()).producer;
    stack.pop_back();
    if (p == kNoNode || taken[static_cast<size_t>(p)]) continue;
    taken[static_cast<size_t>(p)] = 1;
    for (ValueId in : source.nodes[static_cast<size_t>(p)].inputs) {
      if (in == kNoValue || seen[static_cast<size_t>(in)]) continue;
      seen[static_cast<size_t>(in)] = 1;
      if (!carried.count(source.value(in).name)) stack.push_back(in);
    }
  }
  std::vector<std::string> names;
  for (size_t i = 0; i < source.nodes.size(); ++i)
    if (taken[i]) names.push_back(source.nodes[i].name);
  return names;
}

json lowered_to_json_value(const Graph& source, const LoweredGraph& low, const Int8Policy& policy) {
  const Graph& g = low.graph;
  json j;
  j["schema"] = kLoweredSchema;
  j["source"] = {{"path", source.source_path}, {"graph", source.name}, {"opset", source.opset},
                 {"nodes", source.nodes.size()}, {"values", source.values.size()}};
  json knobs;
  for (const auto& [knob, value] : int8_policy_knobs(policy)) knobs[knob] = value;
  j["policy"] = {{"preset", policy.name}, {"overrides", policy.overrides}, {"knobs", std::move(knobs)}};
  j["notes"] = low.notes;
  j["inputs"] = value_names(g, g.inputs);
  j["outputs"] = value_names(g, g.outputs);
  json nodes = json::array();
  for (const Node& n : g.nodes) {
    json e;
    e["name"] = n.name;
    e["op"] = n.op_type;
    e["domain"] = n.domain;
    e["inputs"] = value_names(g, n.inputs);
    e["outputs"] = value_names(g, n.outputs);
    json attrs = json::object();
    for (const auto& [key, a] : n.attrs) attrs[key] = attr_json(a);
    e["attributes"] = std::move(attrs);
    const std::string rewrite = node_rewrite(g, n);
    e["rewrite"] = rewrite.empty() ? json(nullptr) : json(rewrite);
    e["replaces"] = replaced_source_nodes(source, g, n);
    nodes.push_back(std::move(e));
  }
  j["nodes"] = std::move(nodes);
  json values = json::array();
  for (const Value& v : g.values) values.push_back(value_json(g, v));
  j["values"] = std::move(values);
  return j;
}

std::string lowered_to_json(const Graph& source, const LoweredGraph& low, const Int8Policy& policy) {
  // Names come from the model and may hold invalid UTF-8: replaced, never thrown.
  return json_entry_per_line(lowered_to_json_value(source, low, policy));
}

bool wants_lowered_json(const std::string& path) {
  if (path.size() < 5) return false;
  std::string ext = path.substr(path.size() - 5);
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext == ".json";
}

}  // namespace qdrift::cli
