// graph.h: the one graph IR every executor, pass and printer shares.
//
//   Graph g = ...;                                 // from load_onnx() or a pass
//   for (const Node& n : g.nodes)                  // topological order
//     for (ValueId v : n.inputs)
//       if (v != kNoValue) use(g.value(v).name);
//   const Node* p = g.producer(g.find_value("conv1_out"));
//   int64_t groups = g.nodes[0].attr_int("group", 1);
//
// Values are tensors by name (graph inputs, initializers, node outputs). Nodes refer to
// values by index, so passes can rewrite edges without string lookups.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <variant>
#include <vector>

#include "core/op_kind.h"
#include "core/tensor.h"

namespace qdrift {

using ValueId = int32_t;
using NodeId = int32_t;
inline constexpr ValueId kNoValue = -1;  // an omitted optional input
inline constexpr NodeId kNoNode = -1;

using AttrValue = std::variant<int64_t, float, std::string, std::vector<int64_t>, std::vector<float>,
                               std::vector<std::string>, Tensor>;

// Where a value of a rewritten graph comes from (filled by passes such as lowering).
struct Provenance {
  std::string source;   // name of the source-graph tensor this value stands for ("" = none)
  std::string rewrite;  // the rule that produced it ("fuse_conv_relu_q", "insert_quantize", ...)
};

struct Value {
  std::string name;
  DType dtype = DType::undefined;  // declared or inferred; undefined when unknown
  Shape shape;                     // declared or inferred; -1 dims unknown
  bool has_shape = false;          // false when even the rank is unknown
  NodeId producer = kNoNode;       // kNoNode for graph inputs and initializers
  std::vector<NodeId> consumers;   // nodes reading this value (a node may appear twice)
  std::optional<Tensor> initializer;
  std::optional<QuantParams> quant;  // quantization of int8-graph values
  Provenance provenance;
};

struct Node {
  std::string name;      // unique; loader names unnamed nodes "<op_type>_<index>"
  OpKind kind = OpKind::Unknown;
  std::string op_type;   // as written in the model (also for Unknown)
  std::string domain;    // "" for the default ONNX domain
  std::vector<ValueId> inputs;   // kNoValue for omitted optional inputs
  std::vector<ValueId> outputs;  // kNoValue for omitted optional outputs
  std::map<std::string, AttrValue, std::less<>> attrs;

  bool has_attr(std::string_view key) const { return attrs.find(key) != attrs.end(); }
  // Typed attribute access with a default for absent attributes. A present attribute of
  // the wrong type is a malformed model; the loader checked types against the schema.
  int64_t attr_int(std::string_view key, int64_t fallback) const;
  float attr_float(std::string_view key, float fallback) const;
  std::string attr_string(std::string_view key, std::string fallback) const;
  std::vector<int64_t> attr_ints(std::string_view key, std::vector<int64_t> fallback = {}) const;
  std::vector<float> attr_floats(std::string_view key, std::vector<float> fallback = {}) const;
  const Tensor* attr_tensor(std::string_view key) const;

  // Input i or kNoValue when absent/omitted.
  ValueId input(size_t i) const { return i < inputs.size() ? inputs[i] : kNoValue; }
};

struct Graph {
  std::string name;
  std::string source_path;  // file it was loaded from, for messages
  int64_t ir_version = 0;
  int64_t opset = 0;                            // default-domain opset
  std::map<std::string, int64_t> opset_imports;  // every domain
  std::vector<Value> values;
  std::vector<Node> nodes;       // topological order
  std::vector<ValueId> inputs;   // runtime inputs only (initializers excluded)
  std::vector<ValueId> outputs;

  const Value& value(ValueId id) const { return values.at(static_cast<size_t>(id)); }
  Value& value(ValueId id) { return values.at(static_cast<size_t>(id)); }
  ValueId find_value(std::string_view name) const;  // kNoValue when absent
  const Node* producer(ValueId id) const;
  // Node label for messages: "node 'conv1' (Conv)".
  std::string describe(const Node& n) const;

  // Building (used by the loader and passes). add_value asserts the name is new.
  ValueId add_value(std::string name);
  ValueId add_initializer(std::string name, Tensor t);
  NodeId add_node(Node n);  // appends; records producer/consumer links
  // Recomputes producer/consumer links and the name index after a pass edited nodes.
  void rebuild_links();
  // Checks structure: inputs defined before use (topological), single producer per value,
  // no cycles, outputs produced. Returns the first problem found.
  Status validate() const;

 private:
  std::unordered_map<std::string, ValueId> index_;
};

}  // namespace qdrift
