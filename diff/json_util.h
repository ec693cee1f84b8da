// json_util.h: what every qdrift JSON document shares (run, lowered, report, budget, rules).
//
//   ordered_json j = {{"sqnr_db", json_number(inf)}};      // non-finite -> "inf"
//   std::string text = json_entry_per_line(j);              // one array entry per line
//
//   JsonField root{doc, "budget.json"};                     // reading: every error names the field
//   QD_ASSIGN_OR_RETURN(double db, root["global"]["min_sqnr_db"].number());
//   // -> "budget.json: global.min_sqnr_db: expected a number, got string"
//
// Readers use nlohmann's parser without exceptions (parse(..., nullptr, false)) and check
// every field's type before reading it: a hostile file gets a one-line error, never a throw.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "core/tensor.h"

namespace qdrift {

using ordered_json = nlohmann::ordered_json;

// A finite number, or "nan" / "inf" / "-inf" as a string (JSON has no non-finite numbers).
ordered_json json_number(double v);
ordered_json json_shape(const Shape& s);
// Pretty-prints an object with each entry of its array or object-of-object members on
// one line, so files stay short and greppable ("tensors": one tensor per line). Invalid
// UTF-8 (tensor names come from models) is replaced, never thrown.
std::string json_entry_per_line(const ordered_json& j);

// Parses a whole JSON document; a syntax error names `label` and the byte offset.
Result<ordered_json> parse_json_document(std::string_view text, std::string_view label);

// A field of a document being read, with its path for messages ("pairs[3].drift.max_abs").
// Accessors return an error naming `label: path` when the field is absent or mistyped.
class JsonField {
 public:
  JsonField(const ordered_json& value, std::string label, std::string path = "")
      : value_(&value), label_(std::move(label)), path_(std::move(path)) {}

  const ordered_json& value() const { return *value_; }
  const std::string& path() const { return path_; }
  bool is_null() const { return value_->is_null(); }
  bool has(std::string_view key) const;

  // Member `key` of an object; null_value() when absent (so optional fields read as null).
  JsonField operator[](std::string_view key) const;
  JsonField at(size_t i) const;  // element i of an array (asserts i < size)

  Status expect_object() const;
  Status expect_array() const;
  // Rejects members other than `known` (catches typos in hand-written budgets and rules).
  Status expect_only(std::initializer_list<std::string_view> known) const;
  Result<size_t> array_size() const;  // error unless an array

  Result<double> number() const;      // a number or "nan"/"inf"/"-inf"
  Result<int64_t> integer() const;    // an integral number
  Result<bool> boolean() const;
  Result<std::string> string() const;
  Result<std::optional<double>> optional_number() const;  // null or absent -> nullopt
  Result<std::optional<std::string>> optional_string() const;
  Result<Shape> shape() const;        // array of integers >= 0

  // An error about this field: "label: path: message".
  Status error(std::string_view message) const;

 private:
  static const ordered_json& null_value();
  const ordered_json* value_;
  std::string label_;
  std::string path_;
};

}  // namespace qdrift
