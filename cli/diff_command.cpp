#include "cli/diff_command.h"

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "cli/common_options.h"
#include "cli/dump.h"
#include "cli/inputs.h"
#include "core/lower.h"
#include "core/onnx_loader.h"
#include "core/passes.h"
#include "core/tensor_io.h"
#include "diff/drift.h"
#include "diff/dump_source.h"
#include "diff/hints.h"
#include "diff/mapping_rules.h"
#include "diff/report_json.h"
#include "diff/report_text.h"
#include "kernels/onednn/onednn_kernels.h"

#ifndef QDRIFT_VERSION
#define QDRIFT_VERSION "unknown"
#endif

namespace qdrift::cli {

namespace fs = std::filesystem;

CLI::App* add_diff_command(CLI::App& app, DiffOptions& o) {
  CLI::App* diff = app.add_subcommand(
      "diff", "Run the fake-quant reference and the real int8 runtime, pair their tensors, report the drift");
  diff->add_option("model", o.model, "The QDQ (fake-quant) ONNX model: the reference side")
      ->required()
      ->type_name("MODEL");
  add_input_option(diff, o.inputs);
  diff->add_option("--against", o.against,
                   "The other side: int8 (MODEL lowered under --policy, on oneDNN), oracle (the same int8 graph in "
                   "plain C++ integers), fp32 (QuantizeLinear/DequantizeLinear removed: the quantization-error "
                   "baseline), ref (only with --other: the second model as given)")
      ->check(CLI::IsMember({"int8", "oracle", "fp32", "ref"}))
      ->capture_default_str();
  diff->add_option("--other", o.other_model,
                   "A second model for the other side (another QDQ export, or a real int8 ONNX model with "
                   "QLinearConv/ConvInteger/...), run as --against says; tensors pair by name and --rules")
      ->type_name("MODEL2");
  add_policy_options(diff, o.policy, o.policy_sets);
  add_fake_quant_options(diff, o.fake_quant);
  diff->add_option("--rules", o.rules_path,
                   "Mapping rules (JSON, schema qdrift.rules/1, docs/mapping_rules.md): explicit pairs and "
                   "regex -> template patterns for tensors whose names differ")
      ->type_name("RULES.json");
  diff->add_option("--other-dump", o.other_dump,
                   "The other side is a directory of tensors dumped by any framework (.npy or ONNX .pb, one file per "
                   "tensor, named after it; optional index.json as 'qdrift run --dump' writes it, with execution order, "
                   "dtype, scale and zero point). Pairs by name, --rules, structure (with --other-graph) and value; "
                   "NHWC and NCHWc tensors are recognised (docs/mapping.md)")
      ->type_name("DIR");
  diff->add_option("--other-graph", o.other_graph,
                   "With --other-dump: the model the dump came from, so that its tensors also pair by structure")
      ->type_name("MODEL2");
  diff->add_flag("!--no-kernel-check", o.kernel_check,
                 "With --against int8, do not also run the integer oracle on the same int8 graph (the check that "
                 "tells oneDNN kernel effects, such as non-VNNI 16-bit saturation, from int8 semantics)");
  diff->add_option("--max-steps", o.thresholds.max_steps,
                   "A pair with a reference scale diverges when its largest error exceeds this many steps of "
                   "that scale")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  diff->add_option("--min-sqnr-db", o.thresholds.min_sqnr_db,
                   "A pair without a reference scale diverges when its SQNR (dB) is below this")
      ->capture_default_str();
  diff->add_option("--rows", o.rows,
                   "Table rows on screen: the first divergence's neighbourhood and the worst pairs; 0 = every pair")
      ->capture_default_str();
  diff->add_flag("--wide", o.wide,
                 "Full tensor names in the table (by default long names are shortened, keeping the path segments "
                 "that tell rows apart)");
  diff->add_option("--json", o.json_path, "Write the drift report to FILE (schema qdrift.report/1, docs/report.md)")
      ->type_name("FILE");
  diff->add_option("--save-tensors", o.save_tensors_dir,
                   "Write every paired tensor of both sides, in its native dtype, as DIR/ref/<name>.npy and "
                   "DIR/other/<name>.npy (each folder indexed in index.json); the report names each pair's files "
                   "relative to its own folder, so qdrift-gui can show them")
      ->type_name("DIR");
  diff->footer(
      "Examples:\n"
      "  qdrift diff model.onnx --input x.npy --json report.json\n"
      "  qdrift diff model.onnx --input x.npy --policy paddle-onednn --set bias=f32\n"
      "  qdrift diff model.onnx --input x.npy --against fp32 --rows 0\n"
      "  qdrift diff model.onnx --input x.npy --other model_int8.onnx --rules rules.json\n"
      "  qdrift diff model.onnx --input x.npy --other-dump paddle_dump/ [--other-graph paddle_model.onnx]\n"
      "  qdrift diff model.onnx --input x.npy --json out/report.json --save-tensors out/tensors\n"
      "Pairs are found by provenance (our own lowering), name, rule, then, for a second model or a dump, by\n"
      "structure (compute ops aligned in topological order) and value (correlation of the dequantized values,\n"
      "in every layout the shapes allow), each with a confidence in [0,1] (docs/mapping.md).\n"
      "The report lists every pair, its drift in real values and in steps of the\n"
      "reference's scale, the first divergent layer, and every tensor left unmatched. NaN and Inf are counted\n"
      "per side, never folded into a number. Exit 0 whatever the drift (use 'qdrift gate' to fail a build).");
  return diff;
}

namespace {

std::string reference_label(const FakeQuantOptions& f) {
  if (f.range == QuantRange::full && f.rounding == Rounding::half_even) return "ref";
  return fmt::format("ref(range={},rounding={})", quant_range_name(f.range), rounding_name(f.rounding));
}

// One side to run: a graph (owned here when it is derived) and its kernel table.
struct Side {
  Graph graph;
  std::string executor;
  std::optional<Int8Policy> policy;  // when the graph is a lowering
};

Result<std::vector<Tensor>> feeds_for(const Graph& g, const std::vector<std::string>& specs, const Limits& limits,
                                      std::vector<InputRecord>* records);

// The other side's graph: the model itself (ref), QDQ stripped (fp32), or lowered (int8, oracle).
Result<Side> make_other(const Graph& model, const DiffOptions& o, Report& report) {
  Side s;
  s.executor = o.against;
  if (o.against == "fp32") {
    s.graph = strip_qdq(model);
    if (s.graph.source_path.empty()) s.graph.source_path = model.source_path;
  } else if (o.against == "int8" || o.against == "oracle") {
    QD_ASSIGN_OR_RETURN(Int8Policy policy, int8_policy_from(o.policy, o.policy_sets));
    report.policy = int8_policy_describe(policy);
    if (policy.act_scales == ActScales::observed_max) {  // the calibration pass, on the reference
      QD_ASSIGN_OR_RETURN(std::vector<Tensor> feeds, feeds_for(model, o.inputs, LoadOptions{}.limits, nullptr));
      QD_ASSIGN_OR_RETURN(policy.observed_max_abs, calibrate_act_scales(model, o.fake_quant, feeds));
    }
    QD_ASSIGN_OR_RETURN(LoweredGraph low, lower(model, policy));
    report.notes.insert(report.notes.end(), low.notes.begin(), low.notes.end());
    s.graph = std::move(low.graph);
    s.policy = std::move(policy);
  } else {
    s.graph = model;
  }
  return s;
}

Result<std::vector<Tensor>> feeds_for(const Graph& g, const std::vector<std::string>& specs, const Limits& limits,
                                      std::vector<InputRecord>* records) {
  QD_ASSIGN_OR_RETURN(std::vector<BoundInput> bound, bind_inputs(g, specs, limits));
  std::vector<Tensor> feeds;
  for (BoundInput& b : bound) {
    if (records) {
      InputRecord r;
      r.name = b.record.name;
      r.file = b.record.file;
      r.member = b.record.member;
      r.dtype = b.tensor.dtype;
      r.shape = b.tensor.shape;
      r.stats = compute_stats(b.tensor);
      records->push_back(std::move(r));
    }
    feeds.push_back(std::move(b.tensor));
  }
  return feeds;
}

}  // namespace

namespace {

// `qdrift diff MODEL --other-dump DIR [--other-graph MODEL2]`: the reference against a dump.
Result<Report> diff_against_dump(const DiffOptions& o, std::chrono::steady_clock::time_point start,
                                 const PairedTensorSink& on_paired_tensor) {
  if (!o.other_model.empty()) return invalid_input("--other-dump and --other are two different other sides: give one");
  if (o.against != "int8" || o.policy != "onnx" || !o.policy_sets.empty())
    return invalid_input("--against, --policy and --set do not apply to --other-dump (the dump is the other side)");
  Report report;
  report.tool_version = QDRIFT_VERSION;
  const LoadOptions load_options;
  const Limits& limits = load_options.limits;
  std::optional<MappingRules> rules;
  if (!o.rules_path.empty()) {
    QD_ASSIGN_OR_RETURN(MappingRules r, read_mapping_rules(o.rules_path, limits));
    rules = std::move(r);
  }
  QD_ASSIGN_OR_RETURN(Graph model, load_model(o.model, load_options, &report.ref_model));
  std::optional<Graph> dump_graph;
  if (!o.other_graph.empty()) {
    QD_ASSIGN_OR_RETURN(Graph g, load_model(o.other_graph, load_options, &report.other_model));
    dump_graph = std::move(g);
  }
  QD_ASSIGN_OR_RETURN(std::unique_ptr<DumpSource> dump,
                      DumpSource::open(o.other_dump, dump_graph ? &*dump_graph : nullptr, limits));
  if (!dump_graph) report.other_model.path = o.other_dump;
  report.other_model.nodes = static_cast<int64_t>(dump->tensor_count());
  report.ref_executor = reference_label(o.fake_quant);
  report.other_executor = "dump";

  ExecOptions ref_options;
  ref_options.fake_quant = o.fake_quant;
  ref_options.limits = limits;
  auto ref_ex = Executor::create(model, kernel_table_for("ref"), ref_options);
  if (!ref_ex) return ref_ex.status().with_context(o.model);
  QD_ASSIGN_OR_RETURN(std::vector<Tensor> ref_feeds, feeds_for(model, o.inputs, limits, &report.inputs));
  report.timings.load_ms = ms_since(start);

  DriftOptions drift_options;
  drift_options.thresholds = o.thresholds;
  drift_options.rules = rules ? &*rules : nullptr;
  drift_options.other_derives_from_ref = false;
  drift_options.use_structure = dump_graph.has_value();
  drift_options.on_paired_tensor = on_paired_tensor;
  QD_RETURN_IF_ERROR(run_drift(*ref_ex, ref_feeds, *dump, drift_options, report));
  add_nonfinite_input_hint(report);
  report.timings.total_ms = ms_since(start);
  return report;
}

}  // namespace

Result<Report> make_diff_report(const DiffOptions& o, const PairedTensorSink& on_paired_tensor) {
  const auto start = std::chrono::steady_clock::now();
  if (!o.other_graph.empty() && o.other_dump.empty())
    return invalid_input("--other-graph names the model a dump came from: give the dump with --other-dump DIR");
  if (!o.other_dump.empty()) return diff_against_dump(o, start, on_paired_tensor);
  if (o.against == "ref" && o.other_model.empty())
    return invalid_input("--against ref compares a second model: give it with --other MODEL2");
  if ((o.against == "fp32" || o.against == "ref") && (o.policy != "onnx" || !o.policy_sets.empty()))
    return invalid_input("--policy and --set apply to --against int8 or oracle, not {}", o.against);

  Report report;
  report.tool_version = QDRIFT_VERSION;
  const LoadOptions load_options;
  const Limits& limits = load_options.limits;
  std::optional<MappingRules> rules;
  if (!o.rules_path.empty()) {
    QD_ASSIGN_OR_RETURN(MappingRules r, read_mapping_rules(o.rules_path, limits));
    rules = std::move(r);
  }

  QD_ASSIGN_OR_RETURN(Graph model, load_model(o.model, load_options, &report.ref_model));
  Graph second;
  const Graph* other_source = &model;
  report.other_model = report.ref_model;
  if (!o.other_model.empty()) {
    QD_ASSIGN_OR_RETURN(second, load_model(o.other_model, load_options, &report.other_model));
    other_source = &second;
  }
  QD_ASSIGN_OR_RETURN(Side other, make_other(*other_source, o, report));
  report.other_model.nodes = static_cast<int64_t>(other.graph.nodes.size());
  report.ref_executor = reference_label(o.fake_quant);
  report.other_executor = other.executor;

  ExecOptions ref_options;
  ref_options.fake_quant = o.fake_quant;
  ref_options.limits = limits;
  ExecOptions other_options;
  other_options.limits = limits;
  other_options.log = [&report](std::string_view note) { report.notes.emplace_back(note); };
  auto ref_ex = Executor::create(model, kernel_table_for("ref"), ref_options);
  if (!ref_ex) return ref_ex.status().with_context(o.model);
  auto other_ex = Executor::create(other.graph, kernel_table_for(other.executor), other_options);
  if (!other_ex) return other_ex.status().with_context(o.other_model.empty() ? o.model : o.other_model);

  std::optional<Executor> oracle_ex;
  if (o.kernel_check && other.executor == "int8") {
    auto ex = Executor::create(other.graph, kernel_table_for("oracle"), other_options);
    if (!ex) return ex.status().with_context(o.other_model.empty() ? o.model : o.other_model);
    oracle_ex = std::move(*ex);
  }

  QD_ASSIGN_OR_RETURN(std::vector<Tensor> ref_feeds, feeds_for(model, o.inputs, limits, &report.inputs));
  std::vector<Tensor> other_feeds;
  if (!o.other_model.empty()) {
    QD_ASSIGN_OR_RETURN(other_feeds, feeds_for(other.graph, o.inputs, limits, nullptr));
  }
  report.timings.load_ms = ms_since(start);

  DriftOptions drift_options;
  drift_options.thresholds = o.thresholds;
  drift_options.rules = rules ? &*rules : nullptr;
  drift_options.other_derives_from_ref = o.other_model.empty();
  drift_options.kernel_check = oracle_ex ? &*oracle_ex : nullptr;
  drift_options.on_paired_tensor = on_paired_tensor;
  const Status ran = run_drift(*ref_ex, ref_feeds, *other_ex, o.other_model.empty() ? ref_feeds : other_feeds,
                               drift_options, report);
  if (!ran.is_ok()) return ran.with_context(o.model);
  const OnednnRuntimeInfo onednn = onednn_runtime_info();
  add_nonfinite_input_hint(report);
  add_kernel_drift_hint(report, {"oneDNN " + onednn.version, onednn.isa, onednn.int8_vnni});
  add_cause_hints(report, {.source = other_source,
                           .other = &other.graph,
                           .policy = other.policy ? &*other.policy : nullptr,
                           .fake_quant = o.fake_quant});
  report.timings.total_ms = ms_since(start);
  return report;
}

namespace {

// --save-tensors: each side's paired tensors through a TensorDumper (DIR/ref, DIR/other);
// the report then names each file relative to the report's folder.
struct TensorSaver {
  TensorDumper sides[2];                        // [0] ref, [1] other
  std::map<std::string, std::string> files[2];  // tensor name -> path as written

  Status open(const std::string& dir, const DiffOptions& o) {
    QD_RETURN_IF_ERROR(sides[0].open((fs::path(dir) / "ref").string(), o.model, "ref"));
    const std::string other = !o.other_dump.empty() ? o.other_dump : o.other_model.empty() ? o.model : o.other_model;
    return sides[1].open((fs::path(dir) / "other").string(), other, o.other_dump.empty() ? o.against : "dump");
  }
  void save(bool ref_side, const Node& node, size_t output_index, const Value& value, const Tensor& tensor,
            const std::string& dir) {
    const int s = ref_side ? 0 : 1;
    if (files[s].count(value.name)) return;  // a side that runs twice (mapping by value) is saved once
    const std::string file = sides[s].dump(node, output_index, value, tensor);
    if (!file.empty()) files[s][value.name] = (fs::path(dir) / (ref_side ? "ref" : "other") / file).string();
  }
  // Paths relative to the folder of the report (`json_path`), or as written without one.
  void name_files(Report& report, const std::string& json_path) const {
    const fs::path base = fs::absolute(fs::path(json_path).parent_path());
    auto rel = [&](const std::string& written) {
      return json_path.empty() ? written
                               : fs::absolute(written).lexically_normal().lexically_relative(base).generic_string();
    };
    for (PairRecord& p : report.pairs) {
      if (auto it = files[0].find(p.ref.tensor); it != files[0].end()) p.ref.file = rel(it->second);
      if (auto it = files[1].find(p.other.tensor); it != files[1].end()) p.other.file = rel(it->second);
    }
  }
};

}  // namespace

Status diff_command(const DiffOptions& o) {
  PairedTensorSink sink;
  TensorSaver saver;
  if (!o.save_tensors_dir.empty()) {
    QD_RETURN_IF_ERROR(saver.open(o.save_tensors_dir, o));
    sink = [&](bool ref_side, const Node& node, size_t output_index, const Value& value, const Tensor& tensor) {
      saver.save(ref_side, node, output_index, value, tensor, o.save_tensors_dir);
    };
  }
  QD_ASSIGN_OR_RETURN(Report report, make_diff_report(o, sink));
  if (!o.save_tensors_dir.empty()) {
    QD_RETURN_IF_ERROR(saver.sides[0].finish());
    QD_RETURN_IF_ERROR(saver.sides[1].finish());
    saver.name_files(report, o.json_path);
  }
  if (!o.json_path.empty()) QD_RETURN_IF_ERROR(write_file_bytes(o.json_path, report_to_json(report)));
  ReportTextOptions text;
  text.max_rows = o.rows;
  text.wide = o.wide;
  fmt::print("{}", format_report_text(report, text));
  if (!o.json_path.empty()) fmt::print("wrote the drift report to {}\n", o.json_path);
  if (!o.save_tensors_dir.empty())
    fmt::print("wrote {} + {} paired tensors to {}\n", saver.sides[0].count(), saver.sides[1].count(), o.save_tensors_dir);
  return Status::ok();
}

}  // namespace qdrift::cli
