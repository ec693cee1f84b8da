// act_scales.h: the act_scales=observed_max knob: activation scales re-derived from what a
// calibration pass on the reference observed, instead of the model's trained fake-quant
// scales (a deployment pass that reads calibration thresholds does this; with PACT
// clipping before the fake quantization the two differ: Paddle PR #31783).
//
//   QD_ASSIGN_OR_RETURN(auto seen, observe_quantized_max_abs(ref_executor, {inputs...}));
//   policy.observed_max_abs = std::move(seen);               // then lower(graph, policy)
//
// lower() applies it through with_observed_act_scales() when the policy says so.
#pragma once

#include <map>
#include <span>
#include <string>
#include <vector>

#include "core/executor.h"
#include "core/graph.h"

namespace qdrift {

// Runs `ref` once per feed set and returns, for every tensor a QuantizeLinear of its graph
// quantizes (a non-constant input), the largest finite |x| seen over all runs.
Result<std::map<std::string, float>> observe_quantized_max_abs(const Executor& ref,
                                                               std::span<const std::vector<Tensor>> feeds);

// A copy of `graph` where every per-tensor QuantizeLinear of an activation (and each
// DequantizeLinear reading its output with the same scale) gets the scale
// max|x| / (qmax - zero_point) from `observed` (u8: qmax 255, s8: 127), zero points kept.
// Tensors observed all zero keep their scale. A quantized activation missing from
// `observed` is an error.
Result<Graph> with_observed_act_scales(const Graph& graph, const std::map<std::string, float>& observed);

}  // namespace qdrift
