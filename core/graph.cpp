#include "core/graph.h"

#include <fmt/format.h>

namespace qdrift {

namespace {
template <typename T>
const T* find_attr(const Node& n, std::string_view key) {
  auto it = n.attrs.find(key);
  if (it == n.attrs.end()) return nullptr;
  const T* v = std::get_if<T>(&it->second);
  QD_ASSERT(v && "attribute type was checked by the loader");
  return v;
}
}  // namespace

int64_t Node::attr_int(std::string_view key, int64_t fallback) const {
  const auto* v = find_attr<int64_t>(*this, key);
  return v ? *v : fallback;
}
float Node::attr_float(std::string_view key, float fallback) const {
  const auto* v = find_attr<float>(*this, key);
  return v ? *v : fallback;
}
std::string Node::attr_string(std::string_view key, std::string fallback) const {
  const auto* v = find_attr<std::string>(*this, key);
  return v ? *v : fallback;
}
std::vector<int64_t> Node::attr_ints(std::string_view key, std::vector<int64_t> fallback) const {
  const auto* v = find_attr<std::vector<int64_t>>(*this, key);
  return v ? *v : fallback;
}
std::vector<float> Node::attr_floats(std::string_view key, std::vector<float> fallback) const {
  const auto* v = find_attr<std::vector<float>>(*this, key);
  return v ? *v : fallback;
}
const Tensor* Node::attr_tensor(std::string_view key) const { return find_attr<Tensor>(*this, key); }

ValueId Graph::find_value(std::string_view name) const {
  auto it = index_.find(std::string(name));
  return it == index_.end() ? kNoValue : it->second;
}

const Node* Graph::producer(ValueId id) const {
  if (id == kNoValue) return nullptr;
  NodeId p = value(id).producer;
  return p == kNoNode ? nullptr : &nodes[static_cast<size_t>(p)];
}

std::string Graph::describe(const Node& n) const { return fmt::format("node '{}' ({})", n.name, n.op_type); }

ValueId Graph::add_value(std::string name) {
  QD_ASSERT(index_.find(name) == index_.end());
  ValueId id = static_cast<ValueId>(values.size());
  index_.emplace(name, id);
  Value v;
  v.name = std::move(name);
  values.push_back(std::move(v));
  return id;
}

ValueId Graph::add_initializer(std::string name, Tensor t) {
  ValueId id = add_value(std::move(name));
  Value& v = values[static_cast<size_t>(id)];
  v.dtype = t.dtype;
  v.shape = t.shape;
  v.has_shape = true;
  v.initializer = std::move(t);
  return id;
}

NodeId Graph::add_node(Node n) {
  NodeId id = static_cast<NodeId>(nodes.size());
  for (ValueId in : n.inputs)
    if (in != kNoValue) value(in).consumers.push_back(id);
  for (ValueId out : n.outputs)
    if (out != kNoValue) value(out).producer = id;
  nodes.push_back(std::move(n));
  return id;
}

void Graph::rebuild_links() {
  index_.clear();
  for (size_t i = 0; i < values.size(); ++i) {
    values[i].producer = kNoNode;
    values[i].consumers.clear();
    index_.emplace(values[i].name, static_cast<ValueId>(i));
  }
  for (size_t n = 0; n < nodes.size(); ++n) {
    for (ValueId in : nodes[n].inputs)
      if (in != kNoValue) value(in).consumers.push_back(static_cast<NodeId>(n));
    for (ValueId out : nodes[n].outputs)
      if (out != kNoValue) value(out).producer = static_cast<NodeId>(n);
  }
}

Status Graph::validate() const {
  // A value is available once it is a graph input, an initializer or an earlier output.
  std::vector<char> available(values.size(), 0);
  std::vector<NodeId> produced_by(values.size(), kNoNode);
  for (ValueId in : inputs) available[static_cast<size_t>(in)] = 1;
  for (size_t i = 0; i < values.size(); ++i)
    if (values[i].initializer) available[i] = 1;
  for (size_t n = 0; n < nodes.size(); ++n) {
    const Node& node = nodes[n];
    for (ValueId in : node.inputs) {
      if (in == kNoValue) continue;
      if (!available[static_cast<size_t>(in)])
        return invalid_input("{}: input '{}' is not produced before use (dangling input or cycle)",
                             describe(node), value(in).name);
    }
    for (ValueId out : node.outputs) {
      if (out == kNoValue) continue;
      const size_t o = static_cast<size_t>(out);
      if (produced_by[o] != kNoNode)
        return invalid_input("{}: output '{}' is also produced by node '{}'", describe(node), value(out).name,
                             nodes[static_cast<size_t>(produced_by[o])].name);
      if (available[o])
        return invalid_input("{}: output '{}' overwrites a graph input or initializer", describe(node),
                             value(out).name);
      produced_by[o] = static_cast<NodeId>(n);
      available[o] = 1;
    }
  }
  for (ValueId out : outputs)
    if (!available[static_cast<size_t>(out)])
      return invalid_input("graph output '{}' is never produced", value(out).name);
  return Status::ok();
}

}  // namespace qdrift
