#include "cli/dump.h"

#include <cctype>
#include <filesystem>

#include <fmt/format.h>

#include "cli/run_json.h"
#include "core/tensor_io.h"

namespace qdrift::cli {

namespace fs = std::filesystem;

std::string sanitize_file_name(std::string_view tensor_name) {
  std::string out;
  for (char c : tensor_name.substr(0, 120)) {
    const bool keep = std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
    out += keep ? c : '_';
  }
  if (out.empty() || out[0] == '.') out.insert(out.begin(), '_');  // no hidden files, no "." or ".."
  return out;
}

Status TensorDumper::open(const std::string& dir, const std::string& model_path, const std::string& executor) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return invalid_input("{}: cannot create the dump directory: {}", dir, ec.message());
  if (!fs::is_directory(dir, ec)) return invalid_input("{}: not a directory", dir);
  dir_ = dir;
  index_ = nlohmann::ordered_json::object();
  index_["schema"] = "qdrift.dump/1";
  index_["model"] = model_path;
  index_["executor"] = executor;
  index_["tensors"] = nlohmann::ordered_json::object();
  return Status::ok();
}

std::string TensorDumper::dump(const Node& node, size_t output_index, const Value& value, const Tensor& tensor) {
  if (!error_.is_ok()) return {};
  const std::string base = sanitize_file_name(value.name);
  std::string file;
  for (int n = 1;; ++n) {
    file = n == 1 ? base + ".npy" : fmt::format("{}~{}.npy", base, n);
    std::string key = file;  // case-insensitive file systems: "A" and "a" must differ too
    for (char& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (used_.insert(key).second) break;
  }
  Status s = write_npy((fs::path(dir_) / file).string(), tensor);
  if (!s) {
    error_ = s;
    return {};
  }
  ++count_;
  index_["tensors"][file] = {{"tensor", value.name},
                             {"node", node.name},
                             {"op", node.op_type},
                             {"output_index", output_index},
                             {"dtype", dtype_name(tensor.dtype)},
                             {"shape", json_shape(tensor.shape)}};
  // Integer codes carry their grid, so that a dump can be read back as real values
  // (`qdrift diff --other-dump`).
  const std::optional<QuantParams>& q = tensor.quant ? tensor.quant : value.quant;
  if (q && (tensor.dtype == DType::u8 || tensor.dtype == DType::s8 || tensor.dtype == DType::s32)) {
    nlohmann::ordered_json& e = index_["tensors"][file];
    if (q->is_per_axis()) {
      e["scale"] = q->scale;
      e["zero_point"] = q->zero_point;
      e["axis"] = q->axis;
    } else {
      e["scale"] = q->scale[0];
      e["zero_point"] = q->zero_point[0];
    }
  }
  return file;
}

Status TensorDumper::finish() {
  if (dir_.empty()) return Status::ok();
  const std::string text = json_entry_per_line(index_);
  Status s = write_file_bytes((fs::path(dir_) / "index.json").string(), text);
  if (!error_.is_ok()) return error_;
  return s;
}

}  // namespace qdrift::cli
