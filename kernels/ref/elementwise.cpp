#include "kernels/ref/ref_ops.h"

namespace qdrift::ref {

void register_elementwise_ops(KernelTable& table) { (void)table; }

}  // namespace qdrift::ref
