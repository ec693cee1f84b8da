// report_json.h: the drift report as JSON (schema "qdrift.report/1", docs/report.md), both
// ways: the gate, the GUI and baselines read back what `qdrift diff` wrote.
//
//   std::string text = report_to_json(report);                  // one pair per line
//   QD_ASSIGN_OR_RETURN(Report back, parse_report_json(text, "report.json"));
//   QD_ASSIGN_OR_RETURN(Report r, read_report_json("report.json", limits));
//
// Non-finite numbers are written as "nan", "inf", "-inf" (JSON has none) and read back as
// such. The reader checks the schema and every field's type; a bad file gets one line
// naming the field ("report.json: pairs[3].drift.sqnr_db: expected a number, got object").
#pragma once

#include <string>
#include <string_view>

#include "core/limits.h"
#include "core/status.h"
#include "diff/json_util.h"
#include "diff/report.h"

namespace qdrift {

ordered_json report_to_json_value(const Report& r);
std::string report_to_json(const Report& r);

Result<Report> parse_report_json(std::string_view text, std::string_view label);
Result<Report> read_report_json(const std::string& path, const Limits& limits);

}  // namespace qdrift
