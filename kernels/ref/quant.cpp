#include "kernels/ref/ref_ops.h"

namespace qdrift::ref {

void register_quant_ops(KernelTable& table) { (void)table; }

}  // namespace qdrift::ref
