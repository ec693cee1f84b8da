#include "diff/json_util.h"

#include <cmath>
#include <limits>

#include <fmt/format.h>

namespace qdrift {

ordered_json json_number(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  return v;
}

ordered_json json_shape(const Shape& s) {
  ordered_json a = ordered_json::array();
  for (int64_t d : s) a.push_back(d);
  return a;
}

std::string json_entry_per_line(const ordered_json& j) {
  const auto dump = [](const ordered_json& v) {
    return v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  };
  std::string out = "{\n";
  size_t i = 0;
  for (const auto& [key, value] : j.items()) {
    out += "  " + dump(ordered_json(key)) + ": ";
    const bool list = value.is_array() && !value.empty();
    bool map = value.is_object() && !value.empty();
    for (const auto& [k, v] : value.items()) map = map && v.is_object();
    if (list || map) {
      out += list ? "[\n" : "{\n";
      size_t n = 0;
      for (const auto& [k, v] : value.items()) {
        out += "    " + (map ? dump(ordered_json(k)) + ": " : std::string()) + dump(v);
        out += ++n < value.size() ? ",\n" : "\n";
      }
      out += list ? "  ]" : "  }";
    } else {
      out += dump(value);
    }
    out += ++i < j.size() ? ",\n" : "\n";
  }
  return out + "}\n";
}

Result<ordered_json> parse_json_document(std::string_view text, std::string_view label) {
  // nlohmann's parser recurses per nesting level: bound the depth a hostile file can ask
  // for with a cheap bracket scan first (brackets inside strings do not count).
  constexpr int kMaxDepth = 64;
  int level = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++level > kMaxDepth) return invalid_input("{}: JSON nested deeper than {} levels", label, kMaxDepth);
    } else if (c == ']' || c == '}') {
      --level;
    }
  }
  ordered_json doc = ordered_json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return invalid_input("{}: not valid JSON", label);
  return doc;
}

const ordered_json& JsonField::null_value() {
  static const ordered_json kNull;  // immutable; shared by every absent field
  return kNull;
}

bool JsonField::has(std::string_view key) const {
  return value_->is_object() && value_->find(key) != value_->end();
}

JsonField JsonField::operator[](std::string_view key) const {
  const std::string path = path_.empty() ? std::string(key) : fmt::format("{}.{}", path_, key);
  if (!value_->is_object()) return JsonField(null_value(), label_, path);
  auto it = value_->find(key);
  return JsonField(it == value_->end() ? null_value() : *it, label_, path);
}

JsonField JsonField::at(size_t i) const {
  QD_ASSERT(value_->is_array() && i < value_->size());
  return JsonField((*value_)[i], label_, fmt::format("{}[{}]", path_, i));
}

Status JsonField::error(std::string_view message) const {
  std::string line = path_.empty() ? fmt::format("{}: {}", label_, message) : fmt::format("{}: {}: {}", label_, path_, message);
  // Messages quote values from the file: control characters would break the one-line rule.
  for (char& c : line)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  return invalid_input("{}", line);
}

namespace {
std::string_view type_of(const ordered_json& v) {
  if (v.is_null()) return "nothing";
  return v.type_name();
}
}  // namespace

Status JsonField::expect_object() const {
  if (!value_->is_object()) return error(fmt::format("expected an object, got {}", type_of(*value_)));
  return Status::ok();
}

Status JsonField::expect_array() const {
  if (!value_->is_array()) return error(fmt::format("expected an array, got {}", type_of(*value_)));
  return Status::ok();
}

Status JsonField::expect_only(std::initializer_list<std::string_view> known) const {
  QD_RETURN_IF_ERROR(expect_object());
  for (const auto& [key, v] : value_->items()) {
    bool ok = false;
    for (std::string_view k : known) ok = ok || key == k;
    if (!ok) return (*this)[key].error("unknown field");  // error() drops control characters
  }
  return Status::ok();
}

Result<size_t> JsonField::array_size() const {
  QD_RETURN_IF_ERROR(expect_array());
  return value_->size();
}

Result<double> JsonField::number() const {
  if (value_->is_number()) return value_->get<double>();
  if (value_->is_string()) {
    const std::string& s = value_->get_ref<const std::string&>();
    if (s == "nan") return std::numeric_limits<double>::quiet_NaN();
    if (s == "inf") return std::numeric_limits<double>::infinity();
    if (s == "-inf") return -std::numeric_limits<double>::infinity();
  }
  return error(fmt::format("expected a number, got {}", type_of(*value_)));
}

Result<int64_t> JsonField::integer() const {
  if (value_->is_number_integer()) {
    if (value_->is_number_unsigned() && value_->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX))
      return error("integer out of range");
    return value_->get<int64_t>();
  }
  if (value_->is_number_float()) {
    const double d = value_->get<double>();
    // Integral doubles (1e3) are integers; 2^63 and beyond are not representable.
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.2e18) return static_cast<int64_t>(d);
  }
  return error(fmt::format("expected an integer, got {}", type_of(*value_)));
}

Result<bool> JsonField::boolean() const {
  if (value_->is_boolean()) return value_->get<bool>();
  return error(fmt::format("expected true or false, got {}", type_of(*value_)));
}

Result<std::string> JsonField::string() const {
  if (value_->is_string()) return value_->get<std::string>();
  return error(fmt::format("expected a string, got {}", type_of(*value_)));
}

Result<std::optional<double>> JsonField::optional_number() const {
  if (value_->is_null()) return std::optional<double>{};
  QD_ASSIGN_OR_RETURN(double v, number());
  return std::optional<double>{v};
}

Result<std::optional<std::string>> JsonField::optional_string() const {
  if (value_->is_null()) return std::optional<std::string>{};
  QD_ASSIGN_OR_RETURN(std::string v, string());
  return std::optional<std::string>{std::move(v)};
}

Result<Shape> JsonField::shape() const {
  QD_ASSIGN_OR_RETURN(size_t n, array_size());
  Shape s;
  for (size_t i = 0; i < n; ++i) {
    QD_ASSIGN_OR_RETURN(int64_t d, at(i).integer());
    if (d < 0) return at(i).error("negative dimension");
    s.push_back(d);
  }
  return s;
}

}  // namespace qdrift
