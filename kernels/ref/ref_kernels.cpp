#include "kernels/ref/ref_kernels.h"

#include "kernels/ref/ref_ops.h"

namespace qdrift {

namespace {
KernelTable make_ref_table() {
  KernelTable table;
  table.name = "ref";
  ref::register_nn_ops(table);
  ref::register_integer_ops(table);
  ref::register_elementwise_ops(table);
  ref::register_shape_ops(table);
  ref::register_quant_ops(table);
  ref::register_contrib_ops(table);
  return table;
}
}  // namespace

const KernelTable& ref_kernel_table() {
  static const KernelTable table = make_ref_table();
  return table;
}

}  // namespace qdrift
