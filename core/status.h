// status.h: outcomes of operations that can fail because of the user's input.
//
//   Result<Graph> g = load_onnx("model.onnx");
//   if (!g) return g.status();              // "model.onnx: node 'conv1' (Conv): ..."
//   QD_RETURN_IF_ERROR(check_inputs(*g, feeds));
//
// Bad input returns a Status; a broken invariant asserts (QD_ASSERT). Only `main`
// turns a Status into an exit code (see exit_code()).
#pragma once

#include <cassert>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <utility>

#include <fmt/format.h>

namespace qdrift {

enum class StatusCode {
  ok = 0,
  invalid_input,  // malformed file, wrong shape/dtype, absurd attribute: exit 2
  unsupported,    // valid ONNX we do not run (op, dtype, attribute value): exit 2
  internal,       // our bug or an environment failure: exit 3
};

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status ok() { return {}; }

  bool is_ok() const { return code_ == StatusCode::ok; }
  explicit operator bool() const { return is_ok(); }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // Prefixes context ("model.onnx: ") so the final one-line message names the file/node.
  Status with_context(const std::string& prefix) const {
    if (is_ok()) return *this;
    return Status(code_, prefix + ": " + message_);
  }

 private:
  StatusCode code_ = StatusCode::ok;
  std::string message_;
};

template <typename... Args>
Status invalid_input(fmt::format_string<Args...> f, Args&&... args) {
  return Status(StatusCode::invalid_input, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
Status unsupported(fmt::format_string<Args...> f, Args&&... args) {
  return Status(StatusCode::unsupported, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
Status internal_error(fmt::format_string<Args...> f, Args&&... args) {
  return Status(StatusCode::internal, fmt::format(f, std::forward<Args>(args)...));
}

// Process exit codes shared by every qdrift command.
enum ExitCode : int { kExitOk = 0, kExitGateFailed = 1, kExitBadInput = 2, kExitInternal = 3 };

inline int exit_code(const Status& s) {
  switch (s.code()) {
    case StatusCode::ok: return kExitOk;
    case StatusCode::invalid_input:
    case StatusCode::unsupported: return kExitBadInput;
    case StatusCode::internal: return kExitInternal;
  }
  return kExitInternal;
}

// A value or the Status explaining why there is none.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {  // NOLINT
    assert(!status_.is_ok() && "Result built from an ok Status without a value");
  }

  bool has_value() const { return value_.has_value(); }
  explicit operator bool() const { return has_value(); }
  const Status& status() const { return status_; }

  T& value() & { assert(value_); return *value_; }
  const T& value() const& { assert(value_); return *value_; }
  T&& value() && { assert(value_); return std::move(*value_); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::optional<T> value_;
  Status status_;
};

}  // namespace qdrift

#define QD_CONCAT_INNER(a, b) a##b
#define QD_CONCAT(a, b) QD_CONCAT_INNER(a, b)

#define QD_RETURN_IF_ERROR(expr)                    \
  do {                                              \
    ::qdrift::Status qd_status_ = (expr);           \
    if (!qd_status_.is_ok()) return qd_status_;     \
  } while (0)

// QD_ASSIGN_OR_RETURN(auto g, load_onnx(path));
#define QD_ASSIGN_OR_RETURN(lhs, expr)                          \
  auto QD_CONCAT(qd_result_, __LINE__) = (expr);                \
  if (!QD_CONCAT(qd_result_, __LINE__)) return QD_CONCAT(qd_result_, __LINE__).status(); \
  lhs = std::move(QD_CONCAT(qd_result_, __LINE__)).value()

// Broken invariants (our bugs) abort with a location, also in release builds.
#define QD_ASSERT(cond)                                                                       \
  do {                                                                                        \
    if (!(cond)) {                                                                            \
      std::fprintf(stderr, "qdrift: internal error: %s:%d: assertion '%s' failed\n", __FILE__, \
                   __LINE__, #cond);                                                          \
      std::abort();                                                                           \
    }                                                                                         \
  } while (0)
