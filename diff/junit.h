// junit.h: a gate verdict as JUnit XML, the test-report format GitLab, Jenkins and GitHub
// test reporters read (docs/ci.md).
//
//   GateResult g = evaluate_gate(report, budget, baseline);
//   write_file_bytes("gate.xml", gate_to_junit(g, "qdrift gate report.json"));
//
// <testsuites><testsuite name=.. tests=N failures=K><testcase classname="qdrift.gate"
// name="<tensor>: <check>"><failure message="<violation line>">..</failure></testcase>...
// One testcase per evaluated check; a failed check carries its violation line. Names from
// models are made valid XML 1.0 (control characters and invalid UTF-8 become '?').
#pragma once

#include <string>
#include <string_view>

#include "diff/budget.h"

namespace qdrift {

std::string gate_to_junit(const GateResult& gate, std::string_view suite_name);

// `s` as XML character data or attribute value: escaped, valid UTF-8, no control characters.
std::string xml_escape(std::string_view s);

}  // namespace qdrift
