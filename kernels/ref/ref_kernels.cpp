#include "kernels/ref/ref_kernels.h"

#include "kernels/ref/ref_ops.h"

namespace qdrift {

namespace {
KernelTable make_ref_table(bool fast) {
  KernelTable table;
  table.name = fast ? "ref" : "ref-naive";
  ref::register_nn_ops(table);
  ref::register_integer_ops(table);
  ref::register_elementwise_ops(table);
  ref::register_shape_ops(table);
  ref::register_quant_ops(table);
  ref::register_contrib_ops(table);
  if (fast) ref::register_fast_nn_ops(table);
  return table;
}
}  // namespace

const KernelTable& ref_kernel_table() {
  static const KernelTable table = make_ref_table(true);
  return table;
}

const KernelTable& ref_naive_kernel_table() {
  static const KernelTable table = make_ref_table(false);
  return table;
}

}  // namespace qdrift
