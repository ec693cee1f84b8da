#include "cli/run_command.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "cli/common_options.h"
#include "cli/dump.h"
#include "cli/inputs.h"
#include "cli/lowered_json.h"
#include "cli/print.h"
#include "cli/run_json.h"
#include "core/int8_policy.h"
#include "core/lower.h"
#include "core/onnx_loader.h"
#include "core/passes.h"
#include "core/tensor_io.h"

namespace qdrift::cli {

namespace fs = std::filesystem;

CLI::App* add_run_command(CLI::App& app, RunOptions& o) {
  CLI::App* run = app.add_subcommand("run", "Run one model on one executor and report its tensors");
  run->add_option("model", o.model, "ONNX model to run (a QDQ fake-quant export or a float model)")
      ->required()
      ->type_name("MODEL");
  add_input_option(run, o.inputs);
  run->add_option("--executor", o.executor,
                  "ref: the graph as given, fake quantization as ONNX defines it; fp32: the graph with "
                  "QuantizeLinear/DequantizeLinear removed (the float baseline); int8: the model lowered to a "
                  "real int8 graph under --policy and run on oneDNN primitives; oracle: the same int8 graph in "
                  "plain C++ integer arithmetic")
      ->check(CLI::IsMember({"ref", "fp32", "int8", "oracle"}))
      ->capture_default_str();
  add_policy_options(run, o.policy, o.policy_sets);
  run->add_option("--dump-lowered", o.dump_lowered_path,
                  "Write the lowered int8 graph to FILE: every node (with the rewrite that made it), and every "
                  "tensor with its dtype, shape, scale, zero point and provenance (the source tensor and the "
                  "rewrite that made it). FILE ending in .json: JSON (schema qdrift.lowered/1, "
                  "docs/lowered_json.md, adds the source nodes each node replaces and every policy knob); any "
                  "other name: text")
      ->type_name("FILE");
  run->add_option("--repeat", o.repeat,
                  "After the first run, run N more times and print latency_ms median=X p90=Y min=Z (load and "
                  "first run excluded; no statistics or dumps in the timed runs)")
      ->type_name("N")
      ->check(CLI::Range(1, 100000));
  add_fake_quant_options(run, o.fake_quant);
  run->add_flag("--stats", o.stats,
                "Print a row per tensor in execution order: op, dtype, shape, avg, min, max, argmax, std, and "
                "NaN/Inf counts when any");
  run->add_option("--dump", o.dump_dir,
                  "Write every produced tensor to DIR/<tensor name>.npy, indexed in DIR/index.json (file -> "
                  "tensor, node, op, dtype, shape)")
      ->type_name("DIR");
  run->add_option("--save-outputs", o.save_outputs_dir,
                  "Write the graph outputs to DIR/output_<i>.pb (ONNX TensorProto in graph output order, as "
                  "ONNX test data has them)")
      ->type_name("DIR");
  run->add_option("--json", o.json_path,
                  "Write a JSON run summary to FILE (schema qdrift.run/1, docs/run_json.md): options, inputs, "
                  "per-tensor stats, outputs, wall time")
      ->type_name("FILE");
  run->footer(
      "Examples:\n"
      "  qdrift run model.onnx --input image.npy --stats\n"
      "  qdrift run model.onnx --input x=x.npy --input mask=mask.pb --executor fp32 --json run.json\n"
      "  qdrift run model.onnx --input inputs.npz --dump tensors/ --save-outputs out/\n"
      "  qdrift run model.onnx --input x.npy --executor int8 --policy paddle-onednn --set bias=f32 --repeat 50\n"
      "  qdrift run model.onnx --input x.npy --executor oracle --dump-lowered lowered.txt --stats\n"
      "  qdrift run model.onnx --input x.npy --executor int8 --dump-lowered lowered.json\n"
      "Directories given to --dump and --save-outputs are created if missing.");
  return run;
}

namespace {

Status make_dir(const std::string& dir, std::string_view what) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return invalid_input("{}: cannot create the {} directory: {}", dir, what, ec.message());
  if (!fs::is_directory(dir, ec)) return invalid_input("{}: not a directory", dir);
  return Status::ok();
}

TensorRecord output_record(const Graph& g, ValueId id, const Tensor& t) {
  TensorRecord r;
  r.name = g.value(id).name;
  if (const Node* p = g.producer(id)) {
    r.node = p->name;
    r.op = p->op_type;
    for (size_t i = 0; i < p->outputs.size(); ++i)
      if (p->outputs[i] == id) r.output_index = i;
  }
  r.dtype = t.dtype;
  r.shape = t.shape;
  r.stats = compute_stats(t);
  r.has_stats = true;
  return r;
}

// The lowered graph, when the executor runs one or --dump-lowered asks for it.
Result<std::optional<LoweredGraph>> lower_if_needed(const Graph& model, const RunOptions& o, RunRecord& rec) {
  const bool int8 = o.executor == "int8" || o.executor == "oracle";
  if (!int8 && (o.policy != "onnx" || !o.policy_sets.empty()))
    return invalid_input("--policy and --set apply to --executor int8 or oracle, not {}", o.executor);
  if (!int8 && o.dump_lowered_path.empty()) return std::optional<LoweredGraph>{};
  QD_ASSIGN_OR_RETURN(Int8Policy policy, int8_policy_from(o.policy, o.policy_sets));
  if (int8) rec.policy = int8_policy_describe(policy);
  if (policy.act_scales == ActScales::observed_max) {  // the calibration pass, on the reference
    QD_ASSIGN_OR_RETURN(std::vector<BoundInput> bound, bind_inputs(model, o.inputs, LoadOptions{}.limits));
    std::vector<Tensor> feeds;
    for (BoundInput& b : bound) feeds.push_back(std::move(b.tensor));
    QD_ASSIGN_OR_RETURN(policy.observed_max_abs, calibrate_act_scales(model, o.fake_quant, feeds));
  }
  QD_ASSIGN_OR_RETURN(LoweredGraph low, lower(model, policy));
  if (!o.dump_lowered_path.empty()) {
    std::string text;
    if (wants_lowered_json(o.dump_lowered_path)) {
      text = lowered_to_json(model, low, policy);
    } else {
      text = "# " + int8_policy_describe(policy) + "\n";
      for (const std::string& n : low.notes) text += "# note: " + n + "\n";
      text += format_graph_text(low.graph);
    }
    QD_RETURN_IF_ERROR(write_file_bytes(o.dump_lowered_path, text));
  }
  if (int8) rec.notes.insert(rec.notes.end(), low.notes.begin(), low.notes.end());
  return std::optional<LoweredGraph>{std::move(low)};
}

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  const size_t i = static_cast<size_t>(std::ceil(p * static_cast<double>(v.size()))) - 1;
  return v[std::min(i, v.size() - 1)];
}

}  // namespace

Status run_command(const RunOptions& o) {
  const auto start = std::chrono::steady_clock::now();
  RunRecord rec;
  rec.model_path = o.model;
  rec.executor = o.executor;
  rec.fake_quant = o.fake_quant;

  const LoadOptions load_options;
  QD_ASSIGN_OR_RETURN(Graph model, load_onnx(o.model, load_options));
  Graph stripped;
  const Graph* graph = &model;
  if (o.executor == "fp32") {
    stripped = strip_qdq(model);
    if (stripped.source_path.empty()) stripped.source_path = model.source_path;
    graph = &stripped;
  }
  QD_ASSIGN_OR_RETURN(std::optional<LoweredGraph> lowered, lower_if_needed(model, o, rec));
  if (o.executor == "int8" || o.executor == "oracle") graph = &lowered->graph;
  rec.opset = graph->opset;
  rec.node_count = graph->nodes.size();

  ExecOptions exec_options;
  exec_options.fake_quant = o.fake_quant;
  exec_options.limits = load_options.limits;
  exec_options.log = [&rec](std::string_view note) { rec.notes.emplace_back(note); };
  // Unsupported ops are listed all at once by create(); the message reaches the user as is.
  auto executor = Executor::create(*graph, kernel_table_for(o.executor), exec_options);
  if (!executor) return executor.status().with_context(o.model);
  rec.load_ms = ms_since(start);

  QD_ASSIGN_OR_RETURN(std::vector<BoundInput> bound, bind_inputs(*graph, o.inputs, exec_options.limits));
  std::vector<Tensor> feeds;
  for (BoundInput& b : bound) {
    b.record.stats = compute_stats(b.tensor);
    b.record.has_stats = true;
    rec.inputs.push_back(b.record);
    feeds.push_back(std::move(b.tensor));
  }

  // Directories first, so a bad path fails before a long run rather than after it.
  TensorDumper dumper;
  if (!o.dump_dir.empty()) {
    QD_RETURN_IF_ERROR(dumper.open(o.dump_dir, o.model, o.executor));
    rec.dump_dir = o.dump_dir;
  }
  if (!o.save_outputs_dir.empty()) {
    QD_RETURN_IF_ERROR(make_dir(o.save_outputs_dir, "output"));
    rec.save_outputs_dir = o.save_outputs_dir;
  }

  const bool want_stats = o.stats || !o.json_path.empty();
  const bool dumping = !o.dump_dir.empty();
  Observer observer;
  if (want_stats || dumping) {
    observer = [&](const Node& node, size_t index, const Value& value, const Tensor& t) {
      TensorRecord r;
      r.name = value.name;
      r.node = node.name;
      r.op = node.op_type;
      r.output_index = index;
      r.dtype = t.dtype;
      r.shape = t.shape;
      if (want_stats) {
        r.stats = compute_stats(t);
        r.has_stats = true;
      }
      if (dumping) r.file = dumper.dump(node, index, value, t);
      rec.tensors.push_back(std::move(r));
    };
  }

  const auto run_start = std::chrono::steady_clock::now();
  auto outputs = executor->run(feeds, observer);
  rec.run_ms = ms_since(run_start);
  if (!outputs) {
    // Show what ran before the failure: often the point of running with --stats.
    if (o.stats && !rec.tensors.empty()) {
      print_run_header(rec, stdout);
      fmt::print("\ntensors before the failure (execution order)\n");
      print_tensor_table(rec.tensors, "tensor", stdout);
      std::fflush(stdout);
    }
    (void)dumper.finish();  // best effort: index the tensors written so far
    return outputs.status().with_context(o.model);
  }

  for (size_t i = 0; i < outputs->size(); ++i) {
    TensorRecord r = output_record(*graph, graph->outputs[i], (*outputs)[i]);
    if (!o.save_outputs_dir.empty()) {
      r.file = (fs::path(o.save_outputs_dir) / fmt::format("output_{}.pb", i)).string();
      QD_RETURN_IF_ERROR(write_pb(r.file, (*outputs)[i], r.name));
    }
    rec.outputs.push_back(std::move(r));
  }
  QD_RETURN_IF_ERROR(dumper.finish());
  for (int i = 0; i < o.repeat; ++i) {
    const auto t = std::chrono::steady_clock::now();
    auto again = executor->run(feeds);
    rec.repeat_ms.push_back(ms_since(t));
    if (!again) return again.status().with_context(o.model);
  }
  rec.total_ms = ms_since(start);

  if (!o.json_path.empty()) QD_RETURN_IF_ERROR(write_file_bytes(o.json_path, run_to_json(rec)));

  print_run_header(rec, stdout);
  if (o.stats) {
    if (!rec.inputs.empty()) {
      fmt::print("\ninputs\n");
      print_tensor_table(rec.inputs, "input", stdout);
    }
    fmt::print("\ntensors (execution order)\n");
    print_tensor_table(rec.tensors, "tensor", stdout);
  }
  fmt::print("\noutputs\n");
  print_tensor_table(rec.outputs, "output", stdout);
  print_nonfinite_warning(rec.inputs, stdout);
  print_nonfinite_warning(o.stats ? std::span<const TensorRecord>(rec.tensors) : rec.outputs, stdout);
  if (!o.dump_dir.empty())
    fmt::print("dumped {} tensor{} to {} (index.json lists them)\n", dumper.count(), dumper.count() == 1 ? "" : "s",
               o.dump_dir);
  if (!o.save_outputs_dir.empty())
    fmt::print("saved {} output{} to {}\n", rec.outputs.size(), rec.outputs.size() == 1 ? "" : "s",
               o.save_outputs_dir);
  if (!o.json_path.empty()) fmt::print("wrote the run summary to {}\n", o.json_path);
  if (!o.dump_lowered_path.empty()) fmt::print("wrote the lowered graph to {}\n", o.dump_lowered_path);
  if (!rec.repeat_ms.empty())
    fmt::print("latency_ms median={:.3f} p90={:.3f} min={:.3f}\n", percentile(rec.repeat_ms, 0.5),
               percentile(rec.repeat_ms, 0.9), *std::min_element(rec.repeat_ms.begin(), rec.repeat_ms.end()));
  return Status::ok();
}

}  // namespace qdrift::cli
