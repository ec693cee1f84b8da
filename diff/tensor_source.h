// tensor_source.h: where the other side's tensors come from: an executor running a graph,
// or a directory of tensors another framework dumped (diff/dump_source.h).
//
//   ExecutorSource other(int8_executor, inputs);
//   QD_RETURN_IF_ERROR(other.run([&](const Node& n, size_t i, const Value& v, const Tensor& t) { ... }));
//
// A source produces its tensors one at a time, in its execution order, each as the output
// of a node of graph(); run() may be called more than once (mapping by value reads the
// tensors once before they are measured).
#pragma once

#include <span>

#include "core/executor.h"

namespace qdrift {

class TensorSource {
 public:
  virtual ~TensorSource() = default;
  virtual const Graph& graph() const = 0;
  // Calls `observer` for every tensor, in execution order.
  [[nodiscard]] virtual Status run(const Observer& observer) const = 0;
  // False for a value of graph() the source never produces (a dump that holds only some
  // tensors of its graph): such values are neither paired nor listed.
  virtual bool produces(ValueId) const { return true; }
  // The executor behind the source and its inputs, if any (the kernel check runs its graph).
  virtual const Executor* executor() const { return nullptr; }
  virtual std::span<const Tensor> inputs() const { return {}; }
};

class ExecutorSource final : public TensorSource {
 public:
  ExecutorSource(const Executor& executor, std::span<const Tensor> inputs) : executor_(executor), inputs_(inputs) {}
  const Graph& graph() const override { return executor_.graph(); }
  Status run(const Observer& observer) const override {
    auto out = executor_.run(inputs_, observer);
    return out ? Status::ok() : out.status();
  }
  const Executor* executor() const override { return &executor_; }
  std::span<const Tensor> inputs() const override { return inputs_; }

 private:
  const Executor& executor_;
  std::span<const Tensor> inputs_;
};

}  // namespace qdrift
