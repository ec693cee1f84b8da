#include "cli/common_options.h"

#include "core/act_scales.h"

#include <chrono>

#include <CLI/CLI.hpp>

#include "kernels/int/int_kernels.h"
#include "kernels/onednn/onednn_kernels.h"
#include "kernels/ref/ref_kernels.h"

namespace qdrift::cli {

void add_input_option(CLI::App* cmd, std::vector<std::string>& inputs) {
  cmd->add_option("-i,--input", inputs,
                  "A model input (.npy, .npz or ONNX TensorProto .pb); repeat for several. NAME=FILE binds the "
                  "input NAME; a bare FILE takes the next input not bound by name, in model order; an .npz "
                  "binds each member to the input of the same name")
      ->type_name("[NAME=]FILE")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
}

void add_policy_options(CLI::App* cmd, std::string& policy, std::vector<std::string>& policy_sets) {
  cmd->add_option("--policy", policy,
                  "int8 policy preset for the int8 runtime and the oracle: onnx (default), paddle-onednn, "
                  "paddle-lite-arm (docs/lowering.md)")
      ->check(CLI::IsMember({"onnx", "paddle-onednn", "paddle-lite-arm"}))
      ->capture_default_str();
  cmd->add_option("--set", policy_sets,
                  "Override one policy knob, repeatable: range=full|narrow, unsigned_after_relu=on|off, "
                  "bias=model|s32|f32, weights=model|requantize, rounding=half_even|half_away, "
                  "act_order=exact|after_scale, fp32_ops=none|Op,Op|all_but:Op,Op, skip_nodes=REGEX, "
                  "act_scales=model|observed_max")
      ->type_name("KNOB=VALUE")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
}

void add_fake_quant_options(CLI::App* cmd, FakeQuantOptions& fake_quant) {
  cmd->add_option_function<std::string>(
         "--fake-range",
         [&fake_quant](const std::string& v) {
           fake_quant.range = v == "narrow" ? QuantRange::narrow : QuantRange::full;
         },
         "QuantizeLinear saturation: full (ONNX: s8 [-128,127], u8 [0,255]) or narrow (s8 [-127,127], u8 "
         "[1,255], as PaddleSlim and TF symmetric fake-quant)")
      ->check(CLI::IsMember({"full", "narrow"}))
      ->default_str("full");
  cmd->add_option_function<std::string>(
         "--fake-rounding",
         [&fake_quant](const std::string& v) {
           fake_quant.rounding = v == "half_away" ? Rounding::half_away : Rounding::half_even;
         },
         "QuantizeLinear rounding: half_even (ONNX, oneDNN, numpy) or half_away (std::round, some trainers)")
      ->check(CLI::IsMember({"half_even", "half_away"}))
      ->default_str("half_even");
}

Result<Int8Policy> int8_policy_from(const std::string& preset, const std::vector<std::string>& sets) {
  QD_ASSIGN_OR_RETURN(Int8Policy policy, int8_policy_preset(preset));
  for (const std::string& s : sets) QD_RETURN_IF_ERROR(int8_policy_set(policy, s));
  return policy;
}

Result<std::map<std::string, float>> calibrate_act_scales(const Graph& model, const FakeQuantOptions& fake_quant,
                                                          const std::vector<Tensor>& feeds) {
  ExecOptions options;
  options.fake_quant = fake_quant;
  QD_ASSIGN_OR_RETURN(Executor ref, Executor::create(model, ref_kernel_table(), options));
  const std::vector<std::vector<Tensor>> runs = {feeds};
  return observe_quantized_max_abs(ref, runs);
}

const KernelTable& kernel_table_for(std::string_view executor) {
  if (executor == "int8") return onednn_kernel_table();
  if (executor == "oracle") return int_kernel_table();
  return ref_kernel_table();
}

double ms_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
}

}  // namespace qdrift::cli
