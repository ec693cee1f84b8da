// run_json.h: the `qdrift run --json` summary (schema "qdrift.run/1", docs/run_json.md).
//
//   std::string text = run_to_json(record);   // pretty-printed, keys in document order
//   QD_RETURN_IF_ERROR(write_file_bytes(path, text));
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "cli/run_record.h"

namespace qdrift::cli {

inline constexpr const char* kRunSchema = "qdrift.run/1";

nlohmann::ordered_json run_to_json_value(const RunRecord& r);
std::string run_to_json(const RunRecord& r);

// Shared with the dump index: a finite number, or "nan" / "inf" / "-inf" as a string
// (JSON has no non-finite numbers).
nlohmann::ordered_json json_number(double v);
nlohmann::ordered_json json_shape(const Shape& s);
// Pretty-prints an object with each entry of its array or object-of-object members on
// one line, so files stay short and greppable ("tensors": one tensor per line).
std::string json_entry_per_line(const nlohmann::ordered_json& j);

}  // namespace qdrift::cli
