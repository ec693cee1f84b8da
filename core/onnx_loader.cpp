#include "core/onnx_loader.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <queue>
#include <set>

#include <onnx/checker.h>
#include <onnx/onnx_pb.h>
#include <onnx/shape_inference/implementation.h>

#include "core/onnx_tensor.h"

namespace qdrift {

Result<std::string> read_file_bytes(const std::string& path, int64_t max_bytes) {
  std::ifstream f(path, std::ios::binary | std::ios::ate);
  if (!f) return invalid_input("{}: cannot open: {}", path, std::strerror(errno));
  const std::streamoff size = f.tellg();
  if (size < 0) return invalid_input("{}: cannot read (not a regular file?)", path);
  if (size > max_bytes) return invalid_input("{}: file has {} bytes, more than the limit {}", path, size, max_bytes);
  std::string bytes(static_cast<size_t>(size), '\0');
  f.seekg(0);
  if (!f.read(bytes.data(), size)) return invalid_input("{}: read failed", path);
  return bytes;
}

namespace {

Result<AttrValue> convert_attribute(const onnx::AttributeProto& a, const Limits& limits) {
  switch (a.type()) {
    case onnx::AttributeProto::INT: return AttrValue{static_cast<int64_t>(a.i())};
    case onnx::AttributeProto::FLOAT: return AttrValue{a.f()};
    case onnx::AttributeProto::STRING: return AttrValue{a.s()};
    case onnx::AttributeProto::INTS: return AttrValue{std::vector<int64_t>(a.ints().begin(), a.ints().end())};
    case onnx::AttributeProto::FLOATS: return AttrValue{std::vector<float>(a.floats().begin(), a.floats().end())};
    case onnx::AttributeProto::STRINGS:
      return AttrValue{std::vector<std::string>(a.strings().begin(), a.strings().end())};
    case onnx::AttributeProto::TENSOR: {
      auto t = tensor_from_proto(a.t(), limits);
      if (!t) return t.status();
      return AttrValue{std::move(*t)};
    }
    default:
      return unsupported("attribute '{}' has type {} (graphs, sparse tensors and type protos are not supported)",
                         a.name(), onnx::AttributeProto::AttributeType_Name(a.type()));
  }
}

// Declared element type and shape of a graph input/output/value_info.
Status apply_value_info(const onnx::ValueInfoProto& info, Value& v) {
  if (!info.has_type()) return Status::ok();
  const auto& type = info.type();
  if (!type.has_tensor_type())
    return unsupported("value '{}' is not a tensor (sequences, maps and optionals are not supported)", info.name());
  const auto& tt = type.tensor_type();
  if (tt.elem_type() != onnx::TensorProto::UNDEFINED) {
    auto dt = dtype_from_onnx(tt.elem_type());
    if (!dt)
      return unsupported("value '{}' has element type {} (qdrift holds f32, s8, u8, s32, s64, bool)", info.name(),
                         onnx_type_name(tt.elem_type()));
    v.dtype = *dt;
  }
  if (tt.has_shape()) {
    v.has_shape = true;
    v.shape.clear();
    for (const auto& d : tt.shape().dim()) v.shape.push_back(d.has_dim_value() ? d.dim_value() : -1);
  }
  return Status::ok();
}

// Kahn's algorithm over the file's node order; reports a cycle or a dangling input by name.
Result<std::vector<int>> topological_order(const onnx::GraphProto& g, const std::set<std::string>& available_init) {
  const int n = g.node_size();
  std::unordered_map<std::string, int> producer;
  for (int i = 0; i < n; ++i)
    for (const auto& out : g.node(i).output()) {
      if (out.empty()) continue;
      if (available_init.count(out))
        return invalid_input("node '{}' ({}): output '{}' overwrites a graph input or initializer", g.node(i).name(),
                             g.node(i).op_type(), out);
      if (!producer.emplace(out, i).second)
        return invalid_input("value '{}' is produced by two nodes ('{}' and '{}')", out,
                             g.node(producer[out]).name(), g.node(i).name());
    }
  std::vector<int> pending(static_cast<size_t>(n), 0);
  std::vector<std::vector<int>> users(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i)
    for (const auto& in : g.node(i).input()) {
      if (in.empty() || available_init.count(in)) continue;
      auto it = producer.find(in);
      if (it == producer.end())
        return invalid_input("node '{}' ({}): input '{}' is not a graph input, initializer or node output",
                             g.node(i).name(), g.node(i).op_type(), in);
      ++pending[static_cast<size_t>(i)];
      users[static_cast<size_t>(it->second)].push_back(i);
    }
  // Min-heap on file index keeps the file's order wherever it is already topological.
  std::priority_queue<int, std::vector<int>, std::greater<>> ready;
  for (int i = 0; i < n; ++i)
    if (pending[static_cast<size_t>(i)] == 0) ready.push(i);
  std::vector<int> order;
  while (!ready.empty()) {
    int i = ready.top();
    ready.pop();
    order.push_back(i);
    for (int u : users[static_cast<size_t>(i)])
      if (--pending[static_cast<size_t>(u)] == 0) ready.push(u);
  }
  if (static_cast<int>(order.size()) != n) {
    for (int i = 0; i < n; ++i)
      if (pending[static_cast<size_t>(i)] > 0)
        return invalid_input("the graph has a cycle through node '{}' ({})", g.node(i).name(), g.node(i).op_type());
  }
  return order;
}

// Attribute values libonnx's shape inference divides by or sizes with: a hostile 0 or
// negative value makes it divide by zero (SIGFPE) or allocate absurdly, so reject first.
Status check_geometry_attributes(const onnx::GraphProto& g) {
  constexpr int64_t kMaxGeometry = int64_t{1} << 30;
  for (const auto& node : g.node()) {
    for (const auto& a : node.attribute()) {
      const std::string& key = a.name();
      const bool positive = key == "strides" || key == "dilations" || key == "kernel_shape";
      const bool non_negative = key == "pads" && node.op_type() != "Pad";
      if (positive || non_negative) {
        for (int64_t v : a.ints())
          if ((positive && v <= 0) || (non_negative && v < 0) || v > kMaxGeometry)
            return invalid_input("node '{}' ({}): attribute {} has the value {}", node.name(), node.op_type(), key, v);
      }
      if (key == "group" && a.type() == onnx::AttributeProto::INT && (a.i() <= 0 || a.i() > kMaxGeometry))
        return invalid_input("node '{}' ({}): attribute group has the value {}", node.name(), node.op_type(), a.i());
    }
  }
  return Status::ok();
}

// Names reach one-line messages, file names (--dump) and reports: a control character in
// one (a newline, an escape sequence) is hostile, so refuse it before anything prints it.
std::string printable_name(const std::string& s) {
  std::string out;
  for (char c : s.substr(0, 200)) out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? '?' : c;
  return s.size() > 200 ? out + "..." : out;
}

Status check_names(const onnx::GraphProto& g) {
  auto check = [](const std::string& what, const std::string& name) -> Status {
    for (char c : name)
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
        return invalid_input("{} '{}' contains a control character", what, printable_name(name));
    return Status::ok();
  };
  for (const auto& n : g.node()) {
    QD_RETURN_IF_ERROR(check("node name", n.name()));
    QD_RETURN_IF_ERROR(check("op type", n.op_type()));
    QD_RETURN_IF_ERROR(check("domain", n.domain()));
    for (const auto& v : n.input()) QD_RETURN_IF_ERROR(check("value name", v));
    for (const auto& v : n.output()) QD_RETURN_IF_ERROR(check("value name", v));
    for (const auto& a : n.attribute()) QD_RETURN_IF_ERROR(check("attribute name", a.name()));
  }
  for (const auto& t : g.initializer()) QD_RETURN_IF_ERROR(check("initializer name", t.name()));
  for (const auto& v : g.input()) QD_RETURN_IF_ERROR(check("graph input name", v.name()));
  for (const auto& v : g.output()) QD_RETURN_IF_ERROR(check("graph output name", v.name()));
  for (const auto& v : g.value_info()) QD_RETURN_IF_ERROR(check("value_info name", v.name()));
  return check("graph name", g.name());
}

// libonnx's conv/pool shape inference indexes the weight's dims by the input's rank and
// crashes (SIGSEGV) when they disagree: check the ranks it will see, where the file
// declares them (graph inputs, initializers, value_info), before it runs.
Status check_conv_ranks(const onnx::GraphProto& g) {
  std::unordered_map<std::string, int> rank;
  for (const auto& v : g.input())
    if (v.type().has_tensor_type() && v.type().tensor_type().has_shape())
      rank[v.name()] = v.type().tensor_type().shape().dim_size();
  for (const auto& v : g.value_info())
    if (v.type().has_tensor_type() && v.type().tensor_type().has_shape())
      rank[v.name()] = v.type().tensor_type().shape().dim_size();
  for (const auto& t : g.initializer()) rank[t.name()] = t.dims_size();
  for (const auto& n : g.node()) {
    int w_index = -1;
    if (n.op_type() == "Conv" || n.op_type() == "ConvInteger" || n.op_type() == "ConvTranspose") w_index = 1;
    else if (n.op_type() == "QLinearConv") w_index = 3;
    if (w_index < 0 || n.input_size() <= w_index) continue;
    auto x = rank.find(n.input(0));
    auto w = rank.find(n.input(w_index));
    if (x != rank.end() && w != rank.end() && x->second != w->second)
      return invalid_input("node '{}' ({}): input '{}' has rank {} and weight '{}' rank {}: they must agree",
                           n.name(), n.op_type(), n.input(0), x->second, n.input(w_index), w->second);
  }
  return Status::ok();
}

// ONNX Runtime's contrib ops have no schema in libonnx, so its checker and shape
// inference pass over them: check their input and output counts here (the kernels check
// dtypes, shapes and attributes), so a malformed node fails at load with its name.
struct ContribArity {
  std::string_view domain, op_type;
  int min_inputs, max_inputs, outputs;
};
constexpr ContribArity kContribArity[] = {
    {"com.microsoft", "QLinearConv", 8, 9, 1},         {"com.microsoft", "QLinearAdd", 7, 8, 1},
    {"com.microsoft", "QLinearMul", 7, 8, 1},          {"com.microsoft", "QLinearAveragePool", 4, 5, 1},
    {"com.microsoft", "QLinearGlobalAveragePool", 4, 5, 1}, {"com.microsoft", "QLinearConcat", 5, 1 << 20, 1},
    {"com.microsoft", "QLinearSigmoid", 4, 5, 1},      {"com.microsoft", "QLinearLeakyRelu", 4, 5, 1},
    {"com.microsoft", "QLinearSoftmax", 4, 5, 1},      {"com.microsoft", "QGemm", 6, 9, 1},
    {"com.microsoft", "NhwcMaxPool", 1, 1, 1},         {"com.microsoft", "FusedConv", 2, 4, 1},
    {"com.microsoft", "FusedGemm", 2, 3, 1},           {"com.microsoft", "MatMulIntegerToFloat", 4, 7, 1},
    {"com.microsoft.nchwc", "Conv", 2, 4, 1},          {"com.microsoft.nchwc", "ReorderInput", 1, 1, 1},
    {"com.microsoft.nchwc", "ReorderOutput", 1, 1, 1}, {"com.microsoft.nchwc", "MaxPool", 1, 1, 1},
    {"com.microsoft.nchwc", "AveragePool", 1, 1, 1},   {"com.microsoft.nchwc", "GlobalAveragePool", 1, 1, 1},
    {"com.microsoft.nchwc", "GlobalMaxPool", 1, 1, 1},
};

Status check_contrib_arity(const onnx::NodeProto& n, const std::string& name) {
  for (const ContribArity& a : kContribArity) {
    if (n.domain() != a.domain || n.op_type() != a.op_type) continue;
    if (n.input_size() < a.min_inputs || n.input_size() > a.max_inputs)
      return invalid_input("node '{}' ({}.{}): {} inputs, expected {}", name, a.domain, a.op_type, n.input_size(),
                           a.min_inputs == a.max_inputs ? fmt::format("{}", a.min_inputs)
                           : a.max_inputs == 1 << 20   ? fmt::format("at least {}", a.min_inputs)
                                                       : fmt::format("{} to {}", a.min_inputs, a.max_inputs));
    if (n.output_size() != a.outputs || n.output(0).empty())
      return invalid_input("node '{}' ({}.{}): {} outputs, expected {}", name, a.domain, a.op_type, n.output_size(),
                           a.outputs);
    if (n.input(0).empty() && a.op_type != "QLinearConcat")
      return invalid_input("node '{}' ({}.{}): its first input is omitted", name, a.domain, a.op_type);
  }
  return Status::ok();
}

// The element type of every value ONNX shape inference left undefined: the outputs of
// ONNX Runtime's contrib ops (no schema in libonnx) and of the ops after them. Rules
// follow each op's type constraints; nodes are in topological order, so one pass does.
// Shapes stay unknown where inference had none: the kernels compute them.
void infer_undefined_dtypes(Graph& graph) {
  auto type_of = [&](const Node& n, size_t i) {
    const ValueId v = n.input(i);
    return v == kNoValue ? DType::undefined : graph.value(v).dtype;
  };
  // The type of the first given input among `indices`, else `fallback`.
  auto first_of = [&](const Node& n, std::initializer_list<size_t> indices, DType fallback) {
    for (size_t i : indices)
      if (n.input(i) != kNoValue && type_of(n, i) != DType::undefined) return type_of(n, i);
    return fallback;
  };
  for (const Node& n : graph.nodes) {
    for (size_t o = 0; o < n.outputs.size(); ++o) {
      if (n.outputs[o] == kNoValue || graph.value(n.outputs[o]).dtype != DType::undefined) continue;
      DType t = DType::undefined;
      switch (n.kind) {
        case OpKind::MsQLinearConv:
        case OpKind::QLinearConv:
        case OpKind::QLinearMatMul:
        case OpKind::QLinearAdd:
        case OpKind::QLinearMul: t = first_of(n, {7, 0}, DType::undefined); break;
        case OpKind::QLinearAveragePool:
        case OpKind::QLinearGlobalAveragePool:
        case OpKind::QLinearSigmoid:
        case OpKind::QLinearLeakyRelu:
        case OpKind::QLinearSoftmax: t = first_of(n, {4, 0}, DType::undefined); break;
        case OpKind::QLinearConcat: t = first_of(n, {1}, DType::undefined); break;
        case OpKind::QGemm: t = first_of(n, {8}, DType::f32); break;
        case OpKind::QuantizeLinear: t = first_of(n, {2}, DType::u8); break;
        case OpKind::DynamicQuantizeLinear: t = o == 1 ? DType::f32 : DType::u8; break;
        case OpKind::ConvInteger:
        case OpKind::MatMulInteger: t = DType::s32; break;
        case OpKind::DequantizeLinear:
        case OpKind::FusedConv:
        case OpKind::FusedGemm:
        case OpKind::MatMulIntegerToFloat:
        case OpKind::NchwcConv:
        case OpKind::NchwcReorderInput:
        case OpKind::NchwcReorderOutput:
        case OpKind::NchwcMaxPool:
        case OpKind::NchwcAveragePool:
        case OpKind::NchwcGlobalAveragePool:
        case OpKind::NchwcGlobalMaxPool: t = DType::f32; break;
        case OpKind::Shape: t = DType::s64; break;
        case OpKind::Cast:
        case OpKind::Unknown: break;  // Cast's 'to' is read by its kernel; unknown ops never run
        default: t = o == 0 ? first_of(n, {0}, DType::undefined) : DType::undefined; break;  // T -> T ops
      }
      graph.value(n.outputs[o]).dtype = t;
    }
  }
}

Result<Graph> convert_model(onnx::ModelProto& model, const std::string& label, const LoadOptions& options) {
  if (!model.has_graph()) return invalid_input("not an ONNX model: no graph");
  if (model.ir_version() < 3)
    return unsupported("IR version {} is too old (qdrift reads IR version 3 and later)", model.ir_version());

  Graph graph;
  graph.source_path = label;
  graph.ir_version = model.ir_version();
  for (const auto& op : model.opset_import()) {
    const std::string domain = op.domain() == "ai.onnx" ? "" : op.domain();
    graph.opset_imports[domain] = op.version();
  }
  if (!graph.opset_imports.count("")) return invalid_input("no default-domain opset_import");
  graph.opset = graph.opset_imports[""];
  if (graph.opset < kMinOpset || graph.opset > kMaxOpset)
    return unsupported("default-domain opset {} is outside the supported range {}..{}", graph.opset, kMinOpset,
                       kMaxOpset);

  QD_RETURN_IF_ERROR(check_names(model.graph()));
  QD_RETURN_IF_ERROR(check_geometry_attributes(model.graph()));
  // Initializers first: their sizes are checked against their bytes before libonnx's
  // checker and shape inference read them.
  const onnx::GraphProto& g = model.graph();
  graph.name = g.name();
  if (g.sparse_initializer_size() > 0) return unsupported("sparse initializers are not supported");

  std::set<std::string> available;
  for (const auto& init : g.initializer()) {
    if (init.name().empty()) return invalid_input("an initializer has no name");
    if (graph.find_value(init.name()) != kNoValue)
      return invalid_input("initializer '{}' is defined twice", init.name());
    auto t = tensor_from_proto(init, options.limits);
    if (!t) return t.status().with_context("initializer");
    graph.add_initializer(init.name(), std::move(*t));
    available.insert(init.name());
  }
  QD_RETURN_IF_ERROR(check_conv_ranks(g));
  if (options.run_checker) {
    try {
      onnx::checker::check_model(model);
    } catch (const std::exception& e) {
      std::string msg = e.what();
      for (char& c : msg)
        if (c == '\n') c = ' ';
      return invalid_input("ONNX checker: {}", msg);
    }
  }
  if (options.run_shape_inference) {
    try {
      onnx::shape_inference::InferShapes(model);
    } catch (const std::exception& e) {
      std::string msg = e.what();
      for (char& c : msg)
        if (c == '\n') c = ' ';
      return invalid_input("ONNX shape inference: {}", msg);
    }
  }

  for (const auto& in : g.input()) {
    ValueId id = graph.find_value(in.name());
    if (id != kNoValue) continue;  // IR < 4 lists initializers among the inputs
    if (in.name().empty()) return invalid_input("a graph input has no name");
    id = graph.add_value(in.name());
    QD_RETURN_IF_ERROR(apply_value_info(in, graph.value(id)));
    graph.inputs.push_back(id);
    available.insert(in.name());
  }

  QD_ASSIGN_OR_RETURN(std::vector<int> order, topological_order(g, available));

  std::set<std::string> node_names;
  for (int file_index : order) {
    const onnx::NodeProto& np = g.node(file_index);
    Node node;
    node.op_type = np.op_type();
    node.domain = np.domain() == "ai.onnx" ? "" : np.domain();
    node.kind = op_kind_from_onnx(node.domain, node.op_type);
    node.name = np.name().empty() ? fmt::format("{}_{}", np.op_type(), file_index) : np.name();
    while (!node_names.insert(node.name).second) node.name += "_dup";
    QD_RETURN_IF_ERROR(check_contrib_arity(np, node.name));
    for (const auto& a : np.attribute()) {
      auto v = convert_attribute(a, options.limits);
      if (!v) return v.status().with_context(fmt::format("node '{}' ({})", node.name, node.op_type));
      node.attrs.emplace(a.name(), std::move(*v));
    }
    for (const auto& in : np.input()) node.inputs.push_back(in.empty() ? kNoValue : graph.find_value(in));
    for (const auto& out : np.output()) node.outputs.push_back(out.empty() ? kNoValue : graph.add_value(out));
    graph.add_node(std::move(node));
  }

  for (const auto& info : g.value_info()) {
    ValueId id = graph.find_value(info.name());
    if (id == kNoValue) continue;  // value_info for a name no node produces: harmless
    Status s = apply_value_info(info, graph.value(id));
    if (!s) return s;
  }
  std::set<std::string> output_names;
  for (const auto& out : g.output()) {
    ValueId id = graph.find_value(out.name());
    if (id == kNoValue) return invalid_input("graph output '{}' is not produced by any node", out.name());
    if (!output_names.insert(out.name()).second) return invalid_input("graph output '{}' is listed twice", out.name());
    QD_RETURN_IF_ERROR(apply_value_info(out, graph.value(id)));
    graph.outputs.push_back(id);
  }
  for (const Value& v : graph.values)
    if (v.has_shape && static_cast<int>(v.shape.size()) > options.limits.max_rank)
      return invalid_input("value '{}' has rank {}, more than the limit {}", v.name, v.shape.size(),
                           options.limits.max_rank);
  infer_undefined_dtypes(graph);
  QD_RETURN_IF_ERROR(graph.validate());
  return graph;
}

}  // namespace

Result<Graph> load_onnx_bytes(const std::string& bytes, const std::string& label, const LoadOptions& options) {
  onnx::ModelProto model;
  if (bytes.empty()) return invalid_input("{}: empty file, not an ONNX model", label);
  if (!model.ParseFromString(bytes))
    return invalid_input("{}: not an ONNX model (protobuf parse failed: truncated or wrong format)", label);
  auto graph = convert_model(model, label, options);
  if (!graph) return graph.status().with_context(label);
  return graph;
}

Result<Graph> load_onnx(const std::string& path, const LoadOptions& options) {
  auto bytes = read_file_bytes(path, options.limits.max_file_bytes);
  if (!bytes) return bytes.status();
  return load_onnx_bytes(*bytes, path, options);
}

}  // namespace qdrift
