// run_json.h: the `qdrift run --json` summary (schema "qdrift.run/1", docs/run_json.md).
//
//   std::string text = run_to_json(record);   // pretty-printed, keys in document order
//   QD_RETURN_IF_ERROR(write_file_bytes(path, text));
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "cli/run_record.h"
#include "diff/json_util.h"  // json_number, json_shape, json_entry_per_line

namespace qdrift::cli {

inline constexpr const char* kRunSchema = "qdrift.run/1";

nlohmann::ordered_json run_to_json_value(const RunRecord& r);
std::string run_to_json(const RunRecord& r);

}  // namespace qdrift::cli
