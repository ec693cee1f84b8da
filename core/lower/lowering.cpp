// lowering.cpp: the driver of lower() (visits the source nodes in order and tries the rule
// table on each) and the helpers every rule shares.
#include "core/lower/lowering.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace qdrift {

bool nearly_equal(float a, float b) { return std::fabs(a - b) <= 1e-6f * std::max(std::fabs(a), std::fabs(b)); }

bool same_quant(const QuantParams& a, const QuantParams& b) {
  if (a.zero_point_type != b.zero_point_type || a.zero_point != b.zero_point || a.scale.size() != b.scale.size())
    return false;
  for (size_t i = 0; i < a.scale.size(); ++i)
    if (a.scale[i] != b.scale[i]) return false;
  return a.scale.size() == 1 || a.axis == b.axis;
}

Result<LoweredGraph> Lowering::run() {
  if (policy_.rounding != Rounding::half_even)
    return unsupported(
        "policy knob rounding={} cannot be honoured: the int8 runtime (oneDNN) rounds half to even only",
        rounding_name(policy_.rounding));
  if (!policy_.skip_nodes.empty()) skip_ = std::regex(policy_.skip_nodes, std::regex::ECMAScript);

  out_.name = src_.name;
  out_.source_path = src_.source_path;
  out_.ir_version = src_.ir_version;
  out_.opset = src_.opset;
  out_.opset_imports = src_.opset_imports;
  out_.opset_imports["qdrift"] = 1;
  val_.assign(src_.values.size(), kNoValue);
  handled_.assign(src_.nodes.size(), 0);

  for (ValueId in : src_.inputs) {
    const Value& sv = src_.value(in);
    ValueId id = new_value(sv.name, sv.dtype, in, "graph_input");
    out_.inputs.push_back(id);
    val_[static_cast<size_t>(in)] = id;
  }
  for (size_t i = 0; i < src_.nodes.size(); ++i) {
    const auto n = static_cast<NodeId>(i);
    if (handled_[i]) continue;
    QD_RETURN_IF_ERROR(visit(n).with_context(src_.describe(src_.nodes[i])));
  }
  for (ValueId o : src_.outputs) {
    QD_ASSIGN_OR_RETURN(ValueId ov, val(o));
    out_.outputs.push_back(ov);
  }
  out_.rebuild_links();
  QD_RETURN_IF_ERROR(out_.validate().with_context("lowered graph"));
  return LoweredGraph{std::move(out_), std::move(notes_)};
}

// A planned pattern emits at its terminal node; otherwise the rules listed for the node's
// kind are tried in table order, and a node no rule takes runs in f32 as it is.
Status Lowering::visit(NodeId id) {
  if (auto it = deferred_.find(id); it != deferred_.end()) return it->second();
  const Node& n = node(id);
  for (const LoweringRule& rule : lowering_rules()) {
    if (std::find(rule.anchors.begin(), rule.anchors.end(), n.kind) == rule.anchors.end()) continue;
    QD_ASSIGN_OR_RETURN(bool done, (this->*rule.apply)(id));
    if (done) return Status::ok();
  }
  return keep_float_with_note(id);
}

// The DQ node producing v when v = DequantizeLinear(runtime int8) with constant
// per-tensor parameters (an activation in the int8 domain).
const Node* Lowering::activation_dq(ValueId v) const {
  const Node* p = producer(v);
  if (!p || p->kind != OpKind::DequantizeLinear || constant(p->input(0))) return nullptr;
  auto q = qdq_params(*p);
  if (!q || !q->has_value() || (*q)->is_per_axis() || !is_int8((*q)->zero_point_type)) return nullptr;
  return p;
}

// The closing QuantizeLinear of an int8 pattern: constant per-tensor u8/s8 parameters.
const Node* Lowering::closing_q(ValueId v) const {
  const Node* c = sole_consumer(v);
  if (!c || c->kind != OpKind::QuantizeLinear || skipped(*c)) return nullptr;
  auto q = qdq_params(*c);
  if (!q || !q->has_value() || (*q)->is_per_axis() || !is_int8((*q)->zero_point_type)) return nullptr;
  return c;
}

// Weights given as DQ(int8 constant) or DQ(Q(f32 constant)), folded to codes.
Result<std::optional<QuantizedWeights>> Lowering::quantized_weights(ValueId w) const {
  const Node* dq = producer(w);
  if (!dq || dq->kind != OpKind::DequantizeLinear) return std::optional<QuantizedWeights>{};
  QD_ASSIGN_OR_RETURN(auto params, qdq_params(*dq));
  if (!params) return std::optional<QuantizedWeights>{};
  QuantizedWeights qw;
  qw.q = *params;
  if (const Tensor* codes = constant(dq->input(0)); codes && is_int8(codes->dtype)) {
    qw.codes = *codes;
  } else if (const Node* q = producer(dq->input(0)); q && q->kind == OpKind::QuantizeLinear) {
    const Tensor* real = constant(q->input(0));
    QD_ASSIGN_OR_RETURN(auto qparams, qdq_params(*q));
    if (!real || real->dtype != DType::f32 || !qparams) return std::optional<QuantizedWeights>{};
    if (!quant_params_fit(real->shape, *qparams))
      return invalid_input("weights '{}': {} scales do not fit shape {}", src_.value(w).name, qparams->scale.size(),
                           shape_str(real->shape));
    // Constant-fold the weights' fake quantization exactly as ONNX defines it.
    qw.codes = quantize_tensor(*real, *qparams, quant_grid(qparams->zero_point_type, QuantRange::full),
                               Rounding::half_even);
  } else {
    return std::optional<QuantizedWeights>{};
  }
  if (qw.q.is_per_axis()) {
    const int rank = qw.codes.rank();
    if (qw.q.axis < 0) qw.q.axis += rank;
    if (!quant_params_fit(qw.codes.shape, qw.q))
      return invalid_input("weights '{}': {} scales do not match axis {} of shape {}", src_.value(w).name,
                           qw.q.scale.size(), qw.q.axis, shape_str(qw.codes.shape));
  }
  return std::optional<QuantizedWeights>{std::move(qw)};
}

std::string Lowering::fresh_name(const std::string& base) {
  std::string name = base;
  for (int k = 1; used_names_.count(name); ++k) name = fmt::format("{}#{}", base, k);
  used_names_.insert(name);
  return name;
}

// A value of the lowered graph standing for source value `source` (kNoValue: none).
ValueId Lowering::new_value(const std::string& name, DType dtype, ValueId source, std::string rewrite,
                           std::optional<QuantParams> quant) {
  ValueId id = out_.add_value(fresh_name(name));
  Value& v = out_.value(id);
  v.dtype = dtype;
  v.quant = std::move(quant);
  v.provenance.rewrite = std::move(rewrite);
  if (source != kNoValue) {
    const Value& sv = src_.value(source);
    v.provenance.source = sv.name;
    v.has_shape = sv.has_shape;
    v.shape = sv.shape;
  }
  return id;
}

ValueId Lowering::new_constant(const std::string& name, Tensor t, std::string rewrite, ValueId source,
                              std::optional<QuantParams> quant) {
  ValueId id = out_.add_initializer(fresh_name(name), std::move(t));
  Value& v = out_.value(id);
  v.quant = std::move(quant);
  v.provenance.rewrite = std::move(rewrite);
  if (source != kNoValue) v.provenance.source = src_.value(source).name;
  return id;
}

NodeId Lowering::emit(Node n) {
  n.name = fresh_node_name(n.name);
  return out_.add_node(std::move(n));
}

std::string Lowering::fresh_node_name(const std::string& base) {
  std::string name = base;
  for (int k = 1; used_node_names_.count(name); ++k) name = fmt::format("{}#{}", base, k);
  used_node_names_.insert(name);
  return name;
}

Node Lowering::lowered_node(OpKind kind, std::string name) {
  Node n;
  n.kind = kind;
  n.op_type = std::string(op_kind_name(kind));
  n.domain = "qdrift";
  n.name = std::move(name);
  return n;
}

// The lowered value carrying source value sv in its own dtype (materialized on demand:
// a DQ output becomes a Dequantize of its int8 input, a constant is copied).
Result<ValueId> Lowering::val(ValueId sv) {
  if (sv == kNoValue) return kNoValue;
  ValueId& slot = val_[static_cast<size_t>(sv)];
  if (slot != kNoValue) return slot;
  const Value& v = src_.value(sv);
  if (v.initializer) {
    slot = new_constant(v.name, *v.initializer, "copy_constant", sv);
    return slot;
  }
  const Node* p = producer(sv);
  if (p && p->kind == OpKind::DequantizeLinear && !constant(p->input(0))) {
    QD_ASSIGN_OR_RETURN(auto params, qdq_params(*p));
    if (params) {
      // The int8 runtime dequantizes with the parameters its own tensor carries (they
      // differ from the model's where the policy changed the grid).
      QD_ASSIGN_OR_RETURN(ValueId q, int8_value(*p));
      slot = emit_dequantize(q, sv);
      return slot;
    }
  }
  if (p && p->kind == OpKind::DequantizeLinear && constant(p->input(0))) {
    // Dequantized constant (weights read by a float op): fold into an f32 initializer.
    QD_ASSIGN_OR_RETURN(auto params, qdq_params(*p));
    if (params) {
      QD_RETURN_IF_ERROR(check_dequantizable(*constant(p->input(0)), *params, v.name));
      slot = new_constant(v.name, dequantize_tensor(*constant(p->input(0)), *params), "fold_dequantize", sv);
      return slot;
    }
  }
  return internal_error("lowering: value '{}' is needed before it was produced", v.name);
}

// The lowered int8 value read by DequantizeLinear `dq`; a value without parameters
// (an int8 graph input) takes the DQ's.
Result<ValueId> Lowering::int8_value(const Node& dq) {
  QD_ASSIGN_OR_RETURN(ValueId q, val(dq.inputs[0]));
  Value& v = out_.value(q);
  if (!v.quant) {
    QD_ASSIGN_OR_RETURN(auto params, qdq_params(dq));
    QD_ASSERT(params.has_value());
    v.quant = *params;
  }
  return q;
}

// dequantize_tensor asserts its preconditions; a constant from the file must meet them.
Status Lowering::check_dequantizable(const Tensor& codes, const QuantParams& q, const std::string& name) {
  if (!is_int8(codes.dtype) && codes.dtype != DType::s32)
    return invalid_input("'{}': DequantizeLinear of a {} constant (expected u8, s8 or s32)", name,
                         dtype_name(codes.dtype));
  if (!quant_params_fit(codes.shape, q))
    return invalid_input("'{}': {} scales do not fit shape {}", name, q.scale.size(), shape_str(codes.shape));
  return Status::ok();
}

// Output quantization after the policy: unsigned grid after relu.
QuantParams Lowering::adjusted_output_quant(const QuantParams& q, bool nonnegative) const {
  QuantParams out = q;
  if (policy_.unsigned_after_relu && nonnegative && q.zero_point_type == DType::s8 && q.zero_point[0] == 0) {
    // Paddle: the same threshold T spread over 255 codes instead of 127.
    out.zero_point_type = DType::u8;
    out.scale[0] = q.scale[0] * 127.f / 255.f;
  }
  return out;
}

}  // namespace qdrift
