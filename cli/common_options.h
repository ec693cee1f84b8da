// common_options.h: what `qdrift run` and `qdrift diff` share: the options that say how the
// model is run (inputs, fake quantization, int8 policy) and how they turn into executors.
//
//   add_input_option(cmd, o.inputs);
//   add_fake_quant_options(cmd, o.fake_quant);
//   add_policy_options(cmd, o.policy, o.policy_sets);
//   QD_ASSIGN_OR_RETURN(Int8Policy p, int8_policy_from(o.policy, o.policy_sets));
//   auto ex = Executor::create(graph, kernel_table_for("int8"), options);
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/executor.h"
#include "core/int8_policy.h"

namespace CLI {
class App;
}

namespace qdrift::cli {

void add_input_option(CLI::App* cmd, std::vector<std::string>& inputs);
void add_fake_quant_options(CLI::App* cmd, FakeQuantOptions& fake_quant);
void add_policy_options(CLI::App* cmd, std::string& policy, std::vector<std::string>& policy_sets);

// A preset with the --set knobs applied in order.
Result<Int8Policy> int8_policy_from(const std::string& preset, const std::vector<std::string>& sets);

// act_scales=observed_max's calibration pass: max |x| of every tensor a QuantizeLinear of
// `model` quantizes, running the reference (with these fake-quant options) on `feeds`.
Result<std::map<std::string, float>> calibrate_act_scales(const Graph& model, const FakeQuantOptions& fake_quant,
                                                          const std::vector<Tensor>& feeds);

// "ref" and "fp32" -> the reference kernels, "int8" -> oneDNN, "oracle" -> the integer oracle.
const KernelTable& kernel_table_for(std::string_view executor);

// Milliseconds since t.
double ms_since(std::chrono::steady_clock::time_point t);

}  // namespace qdrift::cli
