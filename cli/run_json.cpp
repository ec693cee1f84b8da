#include "cli/run_json.h"

#include <cmath>

#include "core/quant_math.h"

namespace qdrift::cli {

using json = nlohmann::ordered_json;

namespace {

// Element values (min, max) of integer tensors are integers in JSON too.
json element_json(double v, DType t) {
  if ((dtype_is_integer(t) || t == DType::boolean) && std::isfinite(v)) return static_cast<int64_t>(v);
  return json_number(v);
}

json stats_json(const TensorRecord& t) {
  if (!t.has_stats) return nullptr;
  const TensorStats& s = t.stats;
  const int64_t finite = s.count - s.nan_count - s.inf_count;
  const bool has_max = s.argmax >= 0;
  json j;
  j["count"] = s.count;
  j["avg"] = finite > 0 ? json_number(s.avg) : json(nullptr);
  j["min"] = has_max ? element_json(s.min, t.dtype) : json(nullptr);
  j["max"] = has_max ? element_json(s.max, t.dtype) : json(nullptr);
  j["argmax"] = has_max ? json(s.argmax) : json(nullptr);
  j["std"] = finite > 0 ? json_number(s.std) : json(nullptr);
  j["nan_count"] = s.nan_count;
  j["inf_count"] = s.inf_count;
  return j;
}

json tensor_json(const TensorRecord& t, bool with_producer) {
  json j;
  j["name"] = t.name;
  if (with_producer) {
    j["node"] = t.node.empty() ? json(nullptr) : json(t.node);
    j["op"] = t.op.empty() ? json(nullptr) : json(t.op);
    j["output_index"] = t.output_index;
  }
  j["dtype"] = t.dtype == DType::undefined ? json(nullptr) : json(dtype_name(t.dtype));
  j["shape"] = json_shape(t.shape);
  j["stats"] = stats_json(t);
  return j;
}

}  // namespace

json run_to_json_value(const RunRecord& r) {
  json j;
  j["schema"] = kRunSchema;
  j["model"] = {{"path", r.model_path}, {"opset", r.opset}, {"nodes", r.node_count}};
  j["executor"] = r.executor;
  j["fake_quant"] = {{"range", quant_range_name(r.fake_quant.range)},
                     {"rounding", rounding_name(r.fake_quant.rounding)}};
  j["policy"] = r.policy.empty() ? json(nullptr) : json(r.policy);
  j["notes"] = r.notes;
  json inputs = json::array();
  for (const TensorRecord& in : r.inputs) {
    json e = tensor_json(in, false);
    e["file"] = in.file;
    e["member"] = in.member.empty() ? json(nullptr) : json(in.member);
    inputs.push_back(std::move(e));
  }
  j["inputs"] = std::move(inputs);
  json tensors = json::array();
  for (const TensorRecord& t : r.tensors) {
    json e = tensor_json(t, true);
    e["file"] = t.file.empty() ? json(nullptr) : json(t.file);
    tensors.push_back(std::move(e));
  }
  j["tensors"] = std::move(tensors);
  json outputs = json::array();
  for (const TensorRecord& t : r.outputs) {
    json e = tensor_json(t, true);
    e["file"] = t.file.empty() ? json(nullptr) : json(t.file);
    outputs.push_back(std::move(e));
  }
  j["outputs"] = std::move(outputs);
  j["dump_dir"] = r.dump_dir.empty() ? json(nullptr) : json(r.dump_dir);
  j["save_outputs_dir"] = r.save_outputs_dir.empty() ? json(nullptr) : json(r.save_outputs_dir);
  j["wall_time_ms"] = {{"load", r.load_ms}, {"run", r.run_ms}, {"total", r.total_ms}};
  j["repeat_ms"] = r.repeat_ms;
  return j;
}

std::string run_to_json(const RunRecord& r) {
  // Tensor names come from the model and may hold invalid UTF-8: replaced, never thrown.
  return json_entry_per_line(run_to_json_value(r));
}

}  // namespace qdrift::cli
