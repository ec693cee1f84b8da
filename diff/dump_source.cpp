#include "diff/dump_source.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <map>
#include <set>

#include <fmt/format.h>

#include "core/onnx_loader.h"
#include "core/tensor_io.h"
#include "diff/json_util.h"
#include "diff/tensor_layouts.h"

namespace qdrift {

namespace fs = std::filesystem;

namespace {

bool has_control_character(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
}

// "conv2d_2" before "conv2d_10": digit runs compare as numbers.
bool natural_less(const std::string& a, const std::string& b) {
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    if (std::isdigit(static_cast<unsigned char>(a[i])) && std::isdigit(static_cast<unsigned char>(b[j]))) {
      size_t ei = i, ej = j;
      while (ei < a.size() && std::isdigit(static_cast<unsigned char>(a[ei]))) ++ei;
      while (ej < b.size() && std::isdigit(static_cast<unsigned char>(b[ej]))) ++ej;
      std::string_view na(a.data() + i, ei - i), nb(b.data() + j, ej - j);
      while (na.size() > 1 && na[0] == '0') na.remove_prefix(1);
      while (nb.size() > 1 && nb[0] == '0') nb.remove_prefix(1);
      if (na.size() != nb.size()) return na.size() < nb.size();
      if (na != nb) return na < nb;
      i = ei;
      j = ej;
    } else {
      if (a[i] != b[j]) return a[i] < b[j];
      ++i;
      ++j;
    }
  }
  return a.size() - i < b.size() - j;
}

std::optional<DType> dtype_named(std::string_view s) {
  for (int t = 0; t < kDTypeCount; ++t)
    if (dtype_name(static_cast<DType>(t)) == s) return static_cast<DType>(t);
  return std::nullopt;
}

// One entry of index.json's "tensors" object (what `qdrift run --dump` writes, plus scale
// and zero point for integer codes).
Status read_index_entry(const JsonField& f, std::string* tensor, std::string* op, std::optional<DType>* dtype,
                        std::optional<Shape>* shape, std::optional<QuantParams>* quant) {
  QD_RETURN_IF_ERROR(f.expect_object());
  QD_RETURN_IF_ERROR(f.expect_only({"tensor", "node", "op", "output_index", "dtype", "shape", "scale", "zero_point", "axis"}));
  QD_ASSIGN_OR_RETURN(std::optional<std::string> name, f["tensor"].optional_string());
  if (name) *tensor = *name;
  QD_ASSIGN_OR_RETURN(std::optional<std::string> o, f["op"].optional_string());
  if (o) *op = *o;
  QD_ASSIGN_OR_RETURN(std::optional<std::string> d, f["dtype"].optional_string());
  if (d) {
    *dtype = dtype_named(*d);
    if (!*dtype) return f["dtype"].error(fmt::format("unknown dtype {:?}", *d));
  }
  if (!f["shape"].is_null()) {
    QD_ASSIGN_OR_RETURN(Shape s, f["shape"].shape());
    *shape = std::move(s);
  }
  if (f["scale"].is_null()) {
    if (!f["zero_point"].is_null()) return f["zero_point"].error("a zero point needs a scale");
    return Status::ok();
  }
  QuantParams q;
  const auto read_list = [](const JsonField& field, auto&& each) -> Status {
    if (field.value().is_array()) {
      QD_ASSIGN_OR_RETURN(size_t n, field.array_size());
      if (n == 0 || n > (size_t{1} << 20)) return field.error("expected 1 to 1048576 entries");
      for (size_t i = 0; i < n; ++i) QD_RETURN_IF_ERROR(each(field.at(i)));
      return Status::ok();
    }
    return each(field);
  };
  QD_RETURN_IF_ERROR(read_list(f["scale"], [&](const JsonField& e) -> Status {
    QD_ASSIGN_OR_RETURN(double s, e.number());
    if (!(s > 0) || !std::isfinite(s) || !std::isnormal(static_cast<float>(s)))
      return e.error("a scale must be a positive finite number");
    q.scale.push_back(static_cast<float>(s));
    return Status::ok();
  }));
  if (f["zero_point"].is_null()) {
    q.zero_point.assign(q.scale.size(), 0);
  } else {
    QD_RETURN_IF_ERROR(read_list(f["zero_point"], [&](const JsonField& e) -> Status {
      QD_ASSIGN_OR_RETURN(int64_t z, e.integer());
      if (z < -(int64_t{1} << 31) || z >= (int64_t{1} << 31)) return e.error("out of the int32 range");
      q.zero_point.push_back(static_cast<int32_t>(z));
      return Status::ok();
    }));
  }
  if (q.zero_point.size() != q.scale.size()) return f["zero_point"].error("needs as many entries as scale");
  if (!f["axis"].is_null()) {
    QD_ASSIGN_OR_RETURN(int64_t axis, f["axis"].integer());
    if (axis < 0 || axis > 16) return f["axis"].error("expected an axis in [0, 16]");
    q.axis = static_cast<int>(axis);
  }
  *quant = std::move(q);
  return Status::ok();
}

bool code_type(DType t) { return t == DType::u8 || t == DType::s8 || t == DType::s32; }

}  // namespace

Result<std::unique_ptr<DumpSource>> DumpSource::open(const std::string& dir, const Graph* graph, const Limits& limits) {
  std::unique_ptr<DumpSource> s(new DumpSource());
  s->dir_ = dir;
  s->limits_ = limits;
  s->graph_ = graph;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return invalid_input("{}: not a directory", dir);

  // The tensor files on disk, by file name.
  std::set<std::string> files;
  bool has_index = false;
  fs::directory_iterator it(dir, ec);
  if (ec) return invalid_input("{}: cannot list the directory: {}", dir, ec.message());
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    if (ec) return invalid_input("{}: cannot list the directory: {}", dir, ec.message());
    const std::string name = it->path().filename().string();
    if (has_control_character(name)) return invalid_input("{}: file name {:?} has a control character", dir, name);
    if (name == "index.json") {
      has_index = true;
      continue;
    }
    const std::string ext = it->path().extension().string();
    if (ext != ".npy" && ext != ".pb") continue;
    files.insert(name);
    if (files.size() > kMaxDumpFiles)
      return invalid_input("{}: more than {} tensor files (.npy, .pb): not a dump qdrift reads", dir, kMaxDumpFiles);
  }
  if (files.empty()) return invalid_input("{}: no tensor files (.npy, .pb)", dir);

  std::set<std::string> listed;
  if (has_index) {
    const std::string path = (fs::path(dir) / "index.json").string();
    QD_ASSIGN_OR_RETURN(std::string text, read_file_bytes(path, int64_t{64} << 20));
    QD_ASSIGN_OR_RETURN(ordered_json doc, parse_json_document(text, path));
    const JsonField root(doc, path);
    QD_RETURN_IF_ERROR(root.expect_object());
    QD_ASSIGN_OR_RETURN(std::optional<std::string> schema, root["schema"].optional_string());
    if (schema && *schema != "qdrift.dump/1")
      return root["schema"].error(fmt::format("expected \"qdrift.dump/1\", got {:?}", *schema));
    const JsonField tensors = root["tensors"];
    QD_RETURN_IF_ERROR(tensors.expect_object());
    for (const auto& [file, entry] : doc["tensors"].items()) {
      const JsonField f(entry, path, "tensors." + file);
      if (has_control_character(file)) return f.error("file name has a control character");
      if (!files.count(file)) return f.error(fmt::format("names {:?}, not a tensor file of the directory", file));
      if (!listed.insert(file).second) return f.error("listed twice");
      Entry e;
      e.file = (fs::path(dir) / file).string();
      e.tensor = fs::path(file).stem().string();
      QD_RETURN_IF_ERROR(read_index_entry(f, &e.tensor, &e.op, &e.dtype, &e.shape, &e.quant));
      if (has_control_character(e.tensor)) return f["tensor"].error("the tensor name has a control character");
      if (e.tensor.empty()) return f["tensor"].error("empty tensor name");
      if (e.quant && e.dtype && !code_type(*e.dtype)) return f["scale"].error("only integer codes (u8, s8, s32) take a scale");
      if (e.quant && e.dtype) e.quant->zero_point_type = *e.dtype;
      s->entries_.push_back(std::move(e));
    }
  }
  std::vector<std::string> rest;
  for (const std::string& f : files)
    if (!listed.count(f)) rest.push_back(f);
  std::sort(rest.begin(), rest.end(), natural_less);
  for (const std::string& f : rest) {
    Entry e;
    e.file = (fs::path(dir) / f).string();
    e.tensor = fs::path(f).stem().string();
    s->entries_.push_back(std::move(e));
  }

  std::set<std::string> names;
  for (const Entry& e : s->entries_)
    if (!names.insert(e.tensor).second) return invalid_input("{}: two files hold tensor {:?}", dir, e.tensor);

  if (graph) {
    // The graph's order; every file must name a tensor a node of the graph produces.
    std::vector<int64_t> order(graph->values.size(), -1);
    int64_t next = 0;
    for (const Node& n : graph->nodes)
      for (ValueId v : n.outputs)
        if (v != kNoValue) order[static_cast<size_t>(v)] = next++;
    s->produced_.assign(graph->values.size(), false);
    for (Entry& e : s->entries_) {
      e.value = graph->find_value(e.tensor);
      if (e.value == kNoValue || order[static_cast<size_t>(e.value)] < 0)
        return invalid_input("{}: holds {:?}, which no node of {} produces", e.file, e.tensor, graph->source_path);
      s->produced_[static_cast<size_t>(e.value)] = true;
    }
    std::stable_sort(s->entries_.begin(), s->entries_.end(), [&](const Entry& a, const Entry& b) {
      return order[static_cast<size_t>(a.value)] < order[static_cast<size_t>(b.value)];
    });
    return s;
  }
  // No graph: a chain of one node per tensor, in execution order.
  Graph& g = s->synthetic_;
  g.name = "dump";
  g.source_path = dir;
  for (Entry& e : s->entries_) {
    e.value = g.add_value(e.tensor);
    Value& v = g.value(e.value);
    v.dtype = e.dtype.value_or(DType::undefined);
    if (e.shape) {
      v.shape = *e.shape;
      v.has_shape = true;
    }
    Node n;
    n.name = e.tensor;
    n.op_type = e.op.empty() ? "Dump" : e.op;
    n.kind = OpKind::Unknown;
    n.outputs = {e.value};
    g.add_node(std::move(n));
  }
  s->produced_.assign(g.values.size(), true);
  return s;
}

Status DumpSource::check(const Entry& e, const Tensor& t) const {
  if (e.dtype && *e.dtype != t.dtype)
    return invalid_input("{}: index.json says {}, the file holds {}", e.file, dtype_name(*e.dtype), dtype_name(t.dtype));
  if (e.shape && *e.shape != t.shape)
    return invalid_input("{}: index.json says shape {}, the file holds {}", e.file, shape_str(*e.shape), shape_str(t.shape));
  if (graph_) {
    const Value& v = graph_->value(e.value);
    if (v.has_shape && shape_is_known(v.shape) && v.shape != t.shape && layout_matches(v.shape, t.shape).empty())
      return invalid_input("{}: holds shape {}, but {} gives {:?} shape {}", e.file, shape_str(t.shape),
                           graph_->source_path, e.tensor, shape_str(v.shape));
  }
  if (e.quant) {
    if (!code_type(t.dtype)) return invalid_input("{}: a scale in index.json, but the file holds {}", e.file, dtype_name(t.dtype));
    const QuantParams& q = *e.quant;
    if (q.is_per_axis() && (q.axis >= t.rank() || t.shape[static_cast<size_t>(q.axis)] != static_cast<int64_t>(q.scale.size())))
      return invalid_input("{}: {} scales in index.json do not fit axis {} of shape {}", e.file, q.scale.size(), q.axis,
                           shape_str(t.shape));
  }
  return Status::ok();
}

Status DumpSource::run(const Observer& observer) const {
  const Graph& g = graph();
  for (const Entry& e : entries_) {
    QD_ASSIGN_OR_RETURN(Tensor t, read_tensor_file(e.file, limits_));
    QD_RETURN_IF_ERROR(check(e, t));
    if (e.quant) {
      t.quant = e.quant;
      t.quant->zero_point_type = t.dtype;
    }
    const Value& v = g.value(e.value);
    const Node& n = g.nodes[static_cast<size_t>(v.producer)];
    size_t index = 0;
    while (n.outputs[index] != e.value) ++index;
    observer(n, index, v, t);
  }
  return Status::ok();
}

}  // namespace qdrift
