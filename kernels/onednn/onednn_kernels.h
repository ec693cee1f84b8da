// onednn_kernels.h: the real int8 runtime: the lowered int8 graph on oneDNN 2.6 primitives.
//
//   ExecOptions options;
//   options.log = [&](std::string_view note) { notes.emplace_back(note); };
//   auto ex = Executor::create(low->graph, onednn_kernel_table(), options);
//   // notes: "node 'c3' (qdrift.QConv): weight zero point 3 (oneDNN conv takes none): runs on the integer oracle"
//
// QConv -> convolution_forward (nhwc activations, weights reordered once into the
// primitive's layout), QMatMul -> matmul, Quantize/Dequantize/Requantize -> reorder with
// scales and zero points, QAdd -> an exact vectorised loop (oneDNN's binary has no zero
// points). Activations stay channels-last between these kernels (Tensor::layout); the
// executor hands everything else row-major tensors. Primitives and reordered weights are
// made once per node (per input shape when the graph leaves a dim unknown) and reused by
// every run.
// Nodes oneDNN cannot take run on the integer oracle's kernel, with a note to
// ExecOptions::log. Every other op runs on the reference kernels (kLoweredRefKinds).
// See docs/int8_runtime.md.
#pragma once

#include <string>

#include "core/executor.h"

namespace qdrift {

const KernelTable& onednn_kernel_table();

// What oneDNN runs on here; int8 results match the oracle bit for bit only with VNNI
// (without it, u8 x s8 pairs saturate at 16 bits and s8-src weights are halved).
struct OnednnRuntimeInfo {
  std::string version;  // "2.6.3"
  std::string isa;      // effective ISA: "avx2", "avx512_core_vnni", ...
  bool int8_vnni = false;
};
OnednnRuntimeInfo onednn_runtime_info();

}  // namespace qdrift
