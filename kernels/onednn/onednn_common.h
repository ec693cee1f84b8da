// onednn_common.h: what the oneDNN kernels share: the table's engine and stream, dtype
// and layout mapping, and the hand-off of a node to the integer oracle. Not public.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <dnnl.hpp>

#include "core/executor.h"

namespace qdrift::onednn {

// The one engine and stream of the table, made on first use; callers never see them.
struct Runtime {
  dnnl::engine engine;
  dnnl::stream stream;
};
Runtime& runtime();

// u8, s8, s32, f32; anything else is a broken invariant of the caller.
dnnl::memory::data_type to_dnnl(DType t);

// Row-major ("abcd...") tag for `rank` dims, and the channels-last tag (nwc/nhwc/ndhwc) of
// a conv activation of rank 3..5.
dnnl::memory::format_tag plain_tag(size_t rank);
dnnl::memory::format_tag channels_last_tag(size_t rank);

inline dnnl::memory::dims to_dims(const Shape& s) { return dnnl::memory::dims(s.begin(), s.end()); }

// Writes a note to ExecOptions::log (if set), prefixed with the node.
void note(const Graph& g, const Node& n, const ExecOptions& options, std::string_view text);

// The integer oracle's kernel for a node oneDNN cannot take, with a note saying why.
Result<std::unique_ptr<Kernel>> run_on_oracle(const Graph& g, const Node& n, const ExecOptions& options,
                                              std::string_view reason);

// Status for an exception from the oneDNN C++ API.
Status dnnl_status(const dnnl::error& e, std::string_view what);

// A dnnl::memory wrapping nothing yet: its handle is set per run (set_data_handle).
inline dnnl::memory unbound_memory(const dnnl::memory::desc& md) {
  return dnnl::memory(md, runtime().engine, DNNL_MEMORY_NONE);
}

// A primitive with its arguments bound once. The memories' handles may change between runs
// (set_data_handle); execute() then runs with whatever they point to and, unlike
// dnnl::primitive::execute, allocates nothing.
class BoundPrimitive {
 public:
  BoundPrimitive() = default;
  BoundPrimitive(dnnl::primitive p, std::initializer_list<std::pair<int, const dnnl::memory*>> args)
      : prim_(std::move(p)) {
    for (const auto& [arg, mem] : args) args_.push_back({arg, mem->get()});
  }
  void add(int arg, const dnnl::memory& mem) { args_.push_back({arg, mem.get()}); }
  explicit operator bool() const { return static_cast<bool>(prim_); }
  void execute(const dnnl::stream& s) const {
    dnnl::error::wrap_c_api(dnnl_primitive_execute(prim_.get(), s.get(), static_cast<int>(args_.size()), args_.data()),
                            "could not execute a primitive");
  }

 private:
  dnnl::primitive prim_;
  std::vector<dnnl_exec_arg_t> args_;  // the memories stay owned by the caller
};

// True when the shape is fully known (no -1 dims) and the value has one.
bool known_shape(const Value& v);

// Factories of onednn_qconv.cpp.
Result<std::unique_ptr<Kernel>> create_qconv(const Graph& g, const Node& n, const ExecOptions& options);
Result<std::unique_ptr<Kernel>> create_qmatmul(const Graph& g, const Node& n, const ExecOptions& options);
// Factory of onednn_qadd.cpp.
Result<std::unique_ptr<Kernel>> create_qadd(const Graph& g, const Node& n, const ExecOptions& options);
// Factory of onednn_pool.cpp: oneDNN's pooling_max on int8 codes, else the reference kernel.
Result<std::unique_ptr<Kernel>> create_max_pool(const Graph& g, const Node& n, const ExecOptions& options);
Result<std::unique_ptr<Kernel>> create_qglobal_average_pool(const Graph& g, const Node& n, const ExecOptions& options);

}  // namespace qdrift::onednn
