#include "cli/inputs.h"

#include <filesystem>
#include <optional>

#include <fmt/format.h>

#include "core/executor.h"
#include "core/onnx_loader.h"
#include "core/tensor_io.h"

namespace qdrift::cli {

namespace {

std::string input_names(const Graph& g) {
  if (g.inputs.empty()) return "the model takes no inputs";
  std::string out = "the model's inputs: ";
  for (size_t i = 0; i < g.inputs.size(); ++i) out += fmt::format("{}'{}'", i ? ", " : "", g.value(g.inputs[i]).name);
  return out;
}

std::string declared(const Value& v) {
  return fmt::format("{} {}", v.dtype == DType::undefined ? std::string_view("?") : dtype_name(v.dtype),
                     v.has_shape ? shape_str(v.shape) : std::string("[?]"));
}

int find_input(const Graph& g, std::string_view name) {
  for (size_t i = 0; i < g.inputs.size(); ++i)
    if (g.value(g.inputs[i]).name == name) return static_cast<int>(i);
  return -1;
}

// Where an input came from, for messages: "x.npy" or "in.npz: member 'x'".
std::string source_of(const TensorRecord& r) {
  return r.member.empty() ? r.file : fmt::format("{}: member '{}'", r.file, r.member);
}

class Binder {
 public:
  explicit Binder(const Graph& g) : g_(g), slots_(g.inputs.size()) {}

  Status bind(size_t slot, BoundInput in) {
    const Value& v = g_.value(g_.inputs[slot]);
    in.record.name = v.name;
    if (slots_[slot])
      return invalid_input("{}: input '{}' is already given by {}", source_of(in.record), v.name,
                           source_of(slots_[slot]->record));
    QD_RETURN_IF_ERROR(check_input(v, in.tensor).with_context(source_of(in.record)));
    in.record.dtype = in.tensor.dtype;
    in.record.shape = in.tensor.shape;
    slots_[slot] = std::move(in);
    return Status::ok();
  }

  // Bare files take the inputs nobody named, in graph order.
  Status bind_positional(std::vector<BoundInput> bare) {
    size_t next = 0;
    for (BoundInput& in : bare) {
      while (next < slots_.size() && slots_[next]) ++next;
      if (slots_.empty()) return invalid_input("{}: the model takes no inputs", source_of(in.record));
      if (next == slots_.size())
        return invalid_input("{}: one input too many: the model takes {} input{} and all are bound ({})",
                             source_of(in.record), slots_.size(), slots_.size() == 1 ? "" : "s", input_names(g_));
      QD_RETURN_IF_ERROR(bind(next, std::move(in)));
    }
    return Status::ok();
  }

  Result<std::vector<BoundInput>> finish() {
    std::vector<std::string> missing;
    for (size_t i = 0; i < slots_.size(); ++i)
      if (!slots_[i]) {
        const Value& v = g_.value(g_.inputs[i]);
        missing.push_back(fmt::format("'{}' ({})", v.name, declared(v)));
      }
    if (!missing.empty())
      return invalid_input("{}: missing input{} {}: give {} with --input NAME=FILE", g_.source_path,
                           missing.size() == 1 ? "" : "s", fmt::join(missing, ", "),
                           missing.size() == 1 ? "it" : "them");
    std::vector<BoundInput> out;
    for (auto& s : slots_) out.push_back(std::move(*s));
    return out;
  }

 private:
  const Graph& g_;
  std::vector<std::optional<BoundInput>> slots_;
};

}  // namespace

Result<std::vector<BoundInput>> bind_inputs(const Graph& graph, const std::vector<std::string>& specs,
                                            const Limits& limits) {
  Binder binder(graph);
  std::vector<BoundInput> bare;
  for (const std::string& spec : specs) {
    std::string name;
    std::string file = spec;
    const size_t eq = spec.find('=');
    if (eq != std::string::npos) {
      const std::string prefix = spec.substr(0, eq);
      std::error_code ec;
      if (find_input(graph, prefix) >= 0) {
        name = prefix;
        file = spec.substr(eq + 1);
      } else if (!std::filesystem::exists(spec, ec)) {  // "a=b.npy" may be a file name
        return invalid_input("{}: the model has no input named '{}' ({})", spec.substr(eq + 1), prefix,
                             input_names(graph));
      }
    }
    if (file.empty()) return invalid_input("--input '{}': no file after '='", spec);

    QD_ASSIGN_OR_RETURN(std::string bytes, read_file_bytes(file, limits.max_file_bytes));
    QD_ASSIGN_OR_RETURN(TensorFileFormat format, detect_tensor_file_format(file, bytes));
    if (format == TensorFileFormat::npz) {
      if (!name.empty())
        return invalid_input("{}: an .npz archive binds its members by name; give it without '{}='", file, name);
      QD_ASSIGN_OR_RETURN(NamedTensors members, parse_npz(bytes, file, limits));
      if (members.empty()) return invalid_input("{}: the archive holds no tensors", file);
      for (auto& [key, tensor] : members) {
        const int slot = find_input(graph, key);
        if (slot < 0)
          return invalid_input("{}: member '{}' is not an input of the model ({})", file, key, input_names(graph));
        BoundInput in;
        in.record.file = file;
        in.record.member = key;
        in.tensor = std::move(tensor);
        QD_RETURN_IF_ERROR(binder.bind(static_cast<size_t>(slot), std::move(in)));
      }
      continue;
    }
    BoundInput in;
    in.record.file = file;
    if (format == TensorFileFormat::npy) {
      QD_ASSIGN_OR_RETURN(in.tensor, parse_npy(bytes, file, limits));
    } else {
      QD_ASSIGN_OR_RETURN(in.tensor, parse_tensor_pb(bytes, file, limits));
    }
    if (name.empty()) {
      bare.push_back(std::move(in));
    } else {
      QD_RETURN_IF_ERROR(binder.bind(static_cast<size_t>(find_input(graph, name)), std::move(in)));
    }
  }
  QD_RETURN_IF_ERROR(binder.bind_positional(std::move(bare)));
  return binder.finish();
}

}  // namespace qdrift::cli
