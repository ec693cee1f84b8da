#include "core/lower.h"

#include "core/act_scales.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <map>
#include <optional>
#include <regex>
#include <set>

#include <fmt/format.h>

#include "core/lowered_ops.h"
#include "core/qdq_params.h"

namespace qdrift {

namespace {

bool nearly_equal(float a, float b) { return std::fabs(a - b) <= 1e-6f * std::max(std::fabs(a), std::fabs(b)); }

bool same_quant(const QuantParams& a, const QuantParams& b) {
  if (a.zero_point_type != b.zero_point_type || a.zero_point != b.zero_point || a.scale.size() != b.scale.size())
    return false;
  for (size_t i = 0; i < a.scale.size(); ++i)
    if (a.scale[i] != b.scale[i]) return false;
  return a.scale.size() == 1 || a.axis == b.axis;
}

bool is_int8(DType t) { return t == DType::u8 || t == DType::s8; }

// A fused pattern found at its anchor and emitted at its terminal node.
struct FusedPlan {
  NodeId anchor = kNoNode;  // Conv, Gemm or MatMul
  NodeId bn = kNoNode;      // folded BatchNormalization (weights=requantize)
  NodeId add = kNoNode;     // residual Add fused as a sum post-op
  ValueId skip = kNoValue;  // the Add's other input (a DQ output)
  NodeId act = kNoNode;     // fused activation
  NodeId q = kNoNode;       // the QuantizeLinear closing the pattern (kNoNode: f32 dst)
};

// An int8 op run directly on the codes between DQ and Q.
struct PassthroughPlan {
  NodeId op = kNoNode;
  NodeId q = kNoNode;
};

struct QuantizedWeights {
  Tensor codes;   // s8/u8, the layout of the source weights
  QuantParams q;  // per-tensor or per output channel (axis as in the source)
};

class Lowering {
 public:
  Lowering(const Graph& src, const Int8Policy& policy) : src_(src), policy_(policy) {}

  Result<LoweredGraph> run() {
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

 private:
  // ---- reading the source ---------------------------------------------------------------
  const Node* producer(ValueId v) const { return src_.producer(v); }
  const Node& node(NodeId n) const { return src_.nodes[static_cast<size_t>(n)]; }

  bool is_graph_output(ValueId v) const {
    return std::find(src_.outputs.begin(), src_.outputs.end(), v) != src_.outputs.end();
  }
  // The one node reading v, when v feeds exactly one node and is not a graph output.
  const Node* sole_consumer(ValueId v) const {
    const auto& c = src_.value(v).consumers;
    if (c.size() != 1 || is_graph_output(v)) return nullptr;
    return &node(c[0]);
  }
  NodeId sole_consumer_id(ValueId v) const { return src_.value(v).consumers[0]; }

  const Tensor* constant(ValueId v) const { return constant_tensor(src_, v); }

  bool skipped(const Node& n) const { return !policy_.skip_nodes.empty() && std::regex_search(n.name, skip_); }
  bool int8_allowed(const Node& n) const { return policy_.op_allowed_int8(n.kind) && !skipped(n); }

  Result<std::optional<QuantParams>> qdq_params(const Node& n) const { return qdq_node_params(src_, n); }

  // The DQ node producing v when v = DequantizeLinear(runtime int8) with constant
  // per-tensor parameters (an activation in the int8 domain).
  const Node* activation_dq(ValueId v) const {
    const Node* p = producer(v);
    if (!p || p->kind != OpKind::DequantizeLinear || constant(p->input(0))) return nullptr;
    auto q = qdq_params(*p);
    if (!q || !q->has_value() || (*q)->is_per_axis() || !is_int8((*q)->zero_point_type)) return nullptr;
    return p;
  }

  // The closing QuantizeLinear of an int8 pattern: constant per-tensor u8/s8 parameters.
  const Node* closing_q(ValueId v) const {
    const Node* c = sole_consumer(v);
    if (!c || c->kind != OpKind::QuantizeLinear || skipped(*c)) return nullptr;
    auto q = qdq_params(*c);
    if (!q || !q->has_value() || (*q)->is_per_axis() || !is_int8((*q)->zero_point_type)) return nullptr;
    return c;
  }

  // Weights given as DQ(int8 constant) or DQ(Q(f32 constant)), folded to codes.
  Result<std::optional<QuantizedWeights>> quantized_weights(ValueId w) const {
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

  // ---- building the lowered graph ---------------------------------------------------------
  std::string fresh_name(const std::string& base) {
    std::string name = base;
    for (int k = 1; used_names_.count(name); ++k) name = fmt::format("{}#{}", base, k);
    used_names_.insert(name);
    return name;
  }

  // A value of the lowered graph standing for source value `source` (kNoValue: none).
  ValueId new_value(const std::string& name, DType dtype, ValueId source, std::string rewrite,
                    std::optional<QuantParams> quant = std::nullopt) {
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

  ValueId new_constant(const std::string& name, Tensor t, std::string rewrite, ValueId source = kNoValue,
                       std::optional<QuantParams> quant = std::nullopt) {
    ValueId id = out_.add_initializer(fresh_name(name), std::move(t));
    Value& v = out_.value(id);
    v.quant = std::move(quant);
    v.provenance.rewrite = std::move(rewrite);
    if (source != kNoValue) v.provenance.source = src_.value(source).name;
    return id;
  }

  NodeId emit(Node n) {
    n.name = fresh_node_name(n.name);
    return out_.add_node(std::move(n));
  }
  std::string fresh_node_name(const std::string& base) {
    std::string name = base;
    for (int k = 1; used_node_names_.count(name); ++k) name = fmt::format("{}#{}", base, k);
    used_node_names_.insert(name);
    return name;
  }

  static Node lowered_node(OpKind kind, std::string name) {
    Node n;
    n.kind = kind;
    n.op_type = std::string(op_kind_name(kind));
    n.domain = "qdrift";
    n.name = std::move(name);
    return n;
  }

  // The lowered value carrying source value sv in its own dtype (materialized on demand:
  // a DQ output becomes a Dequantize of its int8 input, a constant is copied).
  Result<ValueId> val(ValueId sv) {
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
  Result<ValueId> int8_value(const Node& dq) {
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
  static Status check_dequantizable(const Tensor& codes, const QuantParams& q, const std::string& name) {
    if (!is_int8(codes.dtype) && codes.dtype != DType::s32)
      return invalid_input("'{}': DequantizeLinear of a {} constant (expected u8, s8 or s32)", name,
                           dtype_name(codes.dtype));
    if (!quant_params_fit(codes.shape, q))
      return invalid_input("'{}': {} scales do not fit shape {}", name, q.scale.size(), shape_str(codes.shape));
    return Status::ok();
  }

  ValueId emit_dequantize(ValueId q, ValueId source) {
    Value& qv = out_.value(q);
    // Paddle names the int8 output of an int8 op that a float op reads dequantize/in/N.
    const Node* maker = qv.producer == kNoNode ? nullptr : &out_.nodes[static_cast<size_t>(qv.producer)];
    if (maker && (maker->kind == OpKind::QConv || maker->kind == OpKind::QMatMul) &&
        qv.name == qv.provenance.source) {
      qv.name = fresh_name(fmt::format("dequantize/in/{}", n_dequantize_));
    }
    const int index = n_dequantize_++;
    ValueId f = new_value(src_.value(source).name, DType::f32, source, "insert_dequantize");
    Node n = lowered_node(OpKind::Dequantize, fmt::format("dequantize/{}", index));
    n.inputs = {q};
    n.outputs = {f};
    emit(std::move(n));
    return f;
  }

  // ---- visiting source nodes --------------------------------------------------------------
  Status visit(NodeId id) {
    const Node& n = node(id);
    if (auto it = fused_.find(id); it != fused_.end()) return emit_fused(it->second);
    if (auto it = passthrough_.find(id); it != passthrough_.end()) return emit_passthrough(it->second);
    if (auto it = adds_.find(id); it != adds_.end()) return emit_add(it->second);
    switch (n.kind) {
      case OpKind::Conv:
      case OpKind::Gemm:
      case OpKind::MatMul: {
        QD_ASSIGN_OR_RETURN(bool planned, plan_fused(id));
        if (planned) return Status::ok();
        break;
      }
      case OpKind::MaxPool:
      case OpKind::Reshape:
      case OpKind::Flatten:
      case OpKind::Transpose:
      case OpKind::Squeeze:
      case OpKind::Unsqueeze:
      case OpKind::Concat:
        if (plan_passthrough(id)) return Status::ok();
        break;
      case OpKind::Add: {
        QD_ASSIGN_OR_RETURN(bool planned, plan_add(id));
        if (planned) return Status::ok();
        break;
      }
      case OpKind::QuantizeLinear: {
        QD_ASSIGN_OR_RETURN(bool done, lower_quantize(n));
        if (done) return Status::ok();
        break;
      }
      case OpKind::DequantizeLinear: {
        // Materialized lazily by val() where a float op reads it; a DQ with runtime
        // parameters stays an ONNX op.
        QD_ASSIGN_OR_RETURN(auto params, qdq_params(n));
        if (params) return Status::ok();
        break;
      }
      case OpKind::QLinearConv:
      case OpKind::ConvInteger:
      case OpKind::QLinearMatMul:
      case OpKind::MatMulInteger: {
        QD_ASSIGN_OR_RETURN(bool done, lower_integer_op(n));
        if (done) return Status::ok();
        break;
      }
      default: break;
    }
    switch (n.kind) {
      case OpKind::QuantizeLinear:
      case OpKind::DequantizeLinear:
      case OpKind::QLinearConv:
      case OpKind::ConvInteger:
      case OpKind::QLinearMatMul:
      case OpKind::MatMulInteger:
      case OpKind::QLinearAdd:
      case OpKind::QLinearGlobalAveragePool:
      case OpKind::QGemm:
        notes_.push_back(fmt::format(
            "{} kept as an ONNX op (runtime quantization parameters or a form the int8 ops do not take): it runs on "
            "the reference integer kernel",
            src_.describe(n)));
        break;
      default: break;
    }
    return keep_float(n);
  }

  // Copies a node as it is, reading every input in its source dtype.
  Status keep_float(const Node& n) {
    Node copy = n;
    for (ValueId& in : copy.inputs) {
      QD_ASSIGN_OR_RETURN(in, val(in));
    }
    for (size_t o = 0; o < n.outputs.size(); ++o) {
      if (n.outputs[o] == kNoValue) continue;
      const Value& sv = src_.value(n.outputs[o]);
      copy.outputs[o] = new_value(sv.name, sv.dtype, n.outputs[o], "keep_float");
      val_[static_cast<size_t>(n.outputs[o])] = copy.outputs[o];
    }
    emit(std::move(copy));
    return Status::ok();
  }

  // QuantizeLinear with constant parameters: Requantize/alias after a DQ, else Quantize.
  Result<bool> lower_quantize(const Node& q) {
    QD_ASSIGN_OR_RETURN(auto params, qdq_params(q));
    if (!params || !is_int8(params->zero_point_type) || params->is_per_axis()) return false;
    const QuantParams py = adjusted_output_quant(*params, /*nonnegative=*/false);
    const ValueId y = q.outputs[0];
    if (const Node* dq = activation_dq(q.inputs[0]); dq && !skipped(q)) {
      QD_ASSIGN_OR_RETURN(ValueId xq, int8_value(*dq));
      const QuantParams& px = *out_.value(xq).quant;
      if (same_quant(px, py)) {
        val_[static_cast<size_t>(y)] = xq;  // DQ -> Q with equal parameters is the identity
        return true;
      }
      val_[static_cast<size_t>(y)] = emit_requantize(xq, py, y, "fold_requantize");
      return true;
    }
    QD_ASSIGN_OR_RETURN(ValueId x, val(q.inputs[0]));
    if (out_.value(x).dtype != DType::f32) return false;
    x = clip_to_grid(x, py, y);
    const int index = n_quantize_++;
    ValueId out = new_value(fmt::format("quantize/out/{}", index), py.zero_point_type, y, "insert_quantize", py);
    Node n = lowered_node(OpKind::Quantize, fmt::format("quantize/{}", index));
    n.inputs = {x};
    n.outputs = {out};
    emit(std::move(n));
    val_[static_cast<size_t>(y)] = out;
    return true;
  }

  ValueId emit_requantize(ValueId xq, const QuantParams& py, ValueId source, std::string rewrite) {
    const int index = n_requantize_++;
    ValueId out = new_value(fmt::format("requantize/out/{}", index), py.zero_point_type, source, std::move(rewrite), py);
    Node n = lowered_node(OpKind::Requantize, fmt::format("requantize/{}", index));
    n.inputs = {xq};
    n.outputs = {out};
    emit(std::move(n));
    return out;
  }

  // Narrow range: Quantize saturates to the type's range, so clip the float first.
  ValueId clip_to_grid(ValueId x, const QuantParams& py, ValueId source) {
    if (policy_.range != QuantRange::narrow || py.zero_point_type != DType::s8) return x;
    const QuantGrid g = quant_grid(DType::s8, QuantRange::narrow);
    const float lo = static_cast<float>(g.qmin - py.zero_point[0]) * py.scale[0];
    const float hi = static_cast<float>(g.qmax - py.zero_point[0]) * py.scale[0];
    ValueId clipped = new_value(src_.value(source).name + ".narrow", DType::f32, kNoValue, "narrow_range");
    Node n;
    n.kind = OpKind::Clip;
    n.op_type = "Clip";
    n.name = src_.value(source).name + ".narrow_clip";
    if (out_.opset < 11) {  // Clip took its bounds as attributes before opset 11
      n.attrs["min"] = lo;
      n.attrs["max"] = hi;
      n.inputs = {x};
    } else {
      ValueId lo_v = new_constant(src_.value(source).name + ".narrow_min", Tensor::scalar(lo), "narrow_range");
      ValueId hi_v = new_constant(src_.value(source).name + ".narrow_max", Tensor::scalar(hi), "narrow_range");
      n.inputs = {x, lo_v, hi_v};
    }
    n.outputs = {clipped};
    emit(std::move(n));
    return clipped;
  }

  // Output quantization after the policy: unsigned grid after relu.
  QuantParams adjusted_output_quant(const QuantParams& q, bool nonnegative) const {
    QuantParams out = q;
    if (policy_.unsigned_after_relu && nonnegative && q.zero_point_type == DType::s8 && q.zero_point[0] == 0) {
      // Paddle: the same threshold T spread over 255 codes instead of 127.
      out.zero_point_type = DType::u8;
      out.scale[0] = q.scale[0] * 127.f / 255.f;
    }
    return out;
  }

  // ---- conv / matmul fusion ----------------------------------------------------------------
  Result<bool> plan_fused(NodeId id) {
    const Node& n = node(id);
    if (!int8_allowed(n)) {
      if (activation_dq(n.input(0))) notes_.push_back(fmt::format("{} kept in f32 by the policy", src_.describe(n)));
      return false;
    }
    if (!activation_dq(n.input(0))) return false;
    if (n.kind == OpKind::Gemm && (n.attr_int("transA", 0) != 0)) return false;
    QD_ASSIGN_OR_RETURN(auto w, quantized_weights(n.input(1)));
    if (!w) {
      notes_.push_back(fmt::format("{}: weights are not quantized constants, kept in f32", src_.describe(n)));
      return false;
    }
    if (n.kind != OpKind::Conv && w->codes.rank() != 2) return false;
    const ValueId bias_in = n.kind == OpKind::MatMul ? kNoValue : n.input(2);
    if (bias_in != kNoValue) {
      const int64_t channels = n.kind == OpKind::Conv || (n.kind == OpKind::Gemm && n.attr_int("transB", 0))
                                   ? w->codes.shape[0]
                                   : w->codes.shape[1];
      std::optional<std::vector<float>> real, scale;
      std::vector<int32_t> codes;
      bool s32 = false;
      if (Status s = read_bias(bias_in, channels, real, codes, scale, s32); !s) {
        notes_.push_back(fmt::format("{}: {}, kept in f32", src_.describe(n), s.message()));
        return false;
      }
    }

    FusedPlan plan;
    plan.anchor = id;
    ValueId cur = n.outputs[0];
    if (n.kind == OpKind::Conv && policy_.weights == WeightsMode::requantize) {
      if (const Node* c = sole_consumer(cur); c && c->kind == OpKind::BatchNormalization && bn_constants(*c)) {
        plan.bn = sole_consumer_id(cur);
        cur = c->outputs[0];
      }
    }
    if (n.kind == OpKind::Conv) {
      if (const Node* c = sole_consumer(cur); c && c->kind == OpKind::Add && c->inputs.size() == 2) {
        const ValueId other = c->inputs[0] == cur ? c->inputs[1] : c->inputs[0];
        const Value& ov = src_.value(other);
        const Value& cv = src_.value(c->outputs[0]);
        if (other != cur && activation_dq(other) && ov.has_shape && cv.has_shape && ov.shape == cv.shape &&
            shape_is_known(ov.shape)) {
          plan.add = sole_consumer_id(cur);
          plan.skip = other;
          cur = c->outputs[0];
        }
      }
    }
    if (const Node* c = sole_consumer(cur); c && fusable_activation(*c)) {
      plan.act = sole_consumer_id(cur);
      cur = c->outputs[0];
    }
    if (closing_q(cur)) {
      plan.q = sole_consumer_id(cur);
    } else {
      // No closing Q: an f32 destination, without the optional parts.
      plan.bn = plan.add = plan.act = kNoNode;
      plan.skip = kNoValue;
    }
    // Mark the parts and emit at the terminal node, after every input exists.
    for (NodeId part : {plan.bn, plan.add, plan.act, plan.q})
      if (part != kNoNode) handled_[static_cast<size_t>(part)] = 1;
    if (plan.q == kNoNode) {
      QD_RETURN_IF_ERROR(emit_fused(plan));
    } else {
      fused_[plan.q] = plan;
      handled_[static_cast<size_t>(plan.q)] = 0;  // visited to emit
    }
    return true;
  }

  bool bn_constants(const Node& bn) const {
    for (size_t i = 1; i < 5; ++i) {
      const Tensor* t = constant(bn.input(i));
      if (!t || t->dtype != DType::f32) return false;
    }
    return bn.attr_int("training_mode", 0) == 0;
  }

  bool fusable_activation(const Node& n) const {
    switch (n.kind) {
      case OpKind::Relu:
      case OpKind::LeakyRelu:
      case OpKind::HardSwish: return true;
      case OpKind::Clip: {
        // Bounds fuse only as constant f32 scalars; anything else stays a float Clip,
        // whose kernel reports a malformed bound (an empty one used to be read here).
        for (size_t i = 1; i < n.inputs.size(); ++i) {
          if (n.inputs[i] == kNoValue) continue;
          const Tensor* t = constant(n.inputs[i]);
          if (!t || t->dtype != DType::f32 || t->numel() != 1) return false;
        }
        return true;
      }
      default: return false;
    }
  }

  // Fused activation as (kind, alpha, beta) in real units, and whether its output is >= 0.
  struct Activation {
    PostOpKind kind;
    float alpha = 0, beta = 0;
    bool nonnegative = false;
  };
  Activation activation_of(const Node& n) const {
    switch (n.kind) {
      case OpKind::Relu: return {PostOpKind::relu, 0, 0, true};
      case OpKind::LeakyRelu: return {PostOpKind::leaky_relu, n.attr_float("alpha", 0.01f), 0, false};
      case OpKind::HardSwish: return {PostOpKind::hardswish, 0, 0, false};
      case OpKind::Clip: {
        float lo = -FLT_MAX, hi = FLT_MAX;
        if (src_.opset < 11) {
          lo = n.attr_float("min", lo);
          hi = n.attr_float("max", hi);
        } else {
          if (const Tensor* t = constant(n.input(1))) lo = t->data<float>()[0];
          if (const Tensor* t = constant(n.input(2))) hi = t->data<float>()[0];
        }
        return {PostOpKind::clip, lo, hi, lo >= 0.f};
      }
      default: QD_ASSERT(false);
    }
    return {};
  }

  Status emit_fused(const FusedPlan& plan) {
    const Node& anchor = node(plan.anchor);
    const bool is_conv = anchor.kind == OpKind::Conv;
    const Node* dq_x = activation_dq(anchor.input(0));
    QD_ASSIGN_OR_RETURN(ValueId xq, int8_value(*dq_x));
    const QuantParams px = *out_.value(xq).quant;
    QD_ASSIGN_OR_RETURN(auto resolved, quantized_weights(anchor.input(1)));
    QuantizedWeights w = std::move(*resolved);
    const int64_t channels = is_conv ? w.codes.shape[0]
                                     : (anchor.kind == OpKind::Gemm && anchor.attr_int("transB", 0) ? w.codes.shape[0]
                                                                                                   : w.codes.shape[1]);
    // Real-valued bias per output channel (absent = none).
    std::optional<std::vector<float>> bias_real;
    bool bias_is_model_s32 = false;
    std::vector<int32_t> bias_codes;
    std::optional<std::vector<float>> bias_scale;
    const ValueId bias_in = is_conv ? anchor.input(2) : (anchor.kind == OpKind::Gemm ? anchor.input(2) : kNoValue);
    if (bias_in != kNoValue) {
      QD_RETURN_IF_ERROR(read_bias(bias_in, channels, bias_real, bias_codes, bias_scale, bias_is_model_s32));
      if (anchor.kind == OpKind::Gemm) {
        const float beta = anchor.attr_float("beta", 1.f);
        for (float& b : *bias_real) b *= beta;
        if (beta != 1.f) bias_is_model_s32 = false;
      }
    }
    float alpha = anchor.kind == OpKind::Gemm ? anchor.attr_float("alpha", 1.f) : 1.f;

    // Gemm with transB and MatMul weights become [K, N]; conv weights stay [M, C/g, k...].
    if (anchor.kind == OpKind::Gemm && anchor.attr_int("transB", 0)) {
      w.codes = transpose_2d(w.codes);
      if (w.q.is_per_axis()) w.q.axis = 1 - w.q.axis;
    }
    const int channel_axis = is_conv ? 0 : 1;
    if (w.q.is_per_axis() && w.q.axis != channel_axis)
      return unsupported("weights are quantized along axis {}, not along the output channels", w.q.axis);

    // weights=requantize: dequantize, fold BN, re-quantize per channel with max|w|/127.
    if (policy_.weights == WeightsMode::requantize || plan.bn != kNoNode) {
      Tensor real = dequantize_tensor(w.codes, w.q);
      if (!bias_real && plan.bn != kNoNode) bias_real = std::vector<float>(static_cast<size_t>(channels), 0.f);
      if (plan.bn != kNoNode) fold_batchnorm(node(plan.bn), real, *bias_real);
      w = requantize_weights(real, channel_axis);
      bias_is_model_s32 = false;
    }
    if (w.codes.dtype == DType::u8 && w.q.zero_point_type == DType::u8 &&
        std::all_of(w.q.zero_point.begin(), w.q.zero_point.end(), [](int32_t z) { return z == 128; })) {
      // u8 weights with zero point 128 are s8 weights shifted by 128: exact.
      Tensor s8 = Tensor::zeros(DType::s8, w.codes.shape);
      for (int64_t i = 0; i < s8.numel(); ++i)
        s8.data<int8_t>()[i] = static_cast<int8_t>(static_cast<int32_t>(w.codes.data<uint8_t>()[i]) - 128);
      w.codes = std::move(s8);
      w.q.zero_point_type = DType::s8;
      std::fill(w.q.zero_point.begin(), w.q.zero_point.end(), 0);
    }

    auto w_scale = [&](int64_t c) { return w.q.scale.size() == 1 ? w.q.scale[0] : w.q.scale[static_cast<size_t>(c)]; };
    const float sx = px.scale[0];
    if (bias_is_model_s32)  // ONNX requires bias scale = s_x * s_w; anything else is re-expressed
      for (int64_t c = 0; c < channels && bias_is_model_s32; ++c) {
        const float sb = bias_scale->size() == 1 ? (*bias_scale)[0] : (*bias_scale)[static_cast<size_t>(c)];
        bias_is_model_s32 = nearly_equal(sb, sx * w_scale(c));
      }

    // Output quantization (after policy) and activation.
    std::optional<Activation> act;
    if (plan.act != kNoNode) act = activation_of(node(plan.act));
    std::optional<QuantParams> py;
    ValueId y_source = anchor.outputs[0];
    if (plan.q != kNoNode) {
      QD_ASSIGN_OR_RETURN(auto qp, qdq_params(node(plan.q)));
      py = adjusted_output_quant(*qp, act && act->nonnegative);
      y_source = node(plan.q).outputs[0];
    } else if (plan.bn != kNoNode) {
      y_source = node(plan.bn).outputs[0];
    }
    const float sy = py ? py->scale[0] : 1.f;

    // Real domain (scale s_x*s_w) when an activation has knees in real units that the
    // output scale would move (exact order); else fold 1/s_y into the output scale.
    const bool real_domain = !py || (act && act->kind == PostOpKind::hardswish && policy_.act_order == ActOrder::exact);
    const float domain = real_domain ? 1.f : sy;

    LoweredParams params;
    for (int64_t c = 0; c < (w.q.is_per_axis() ? channels : 1); ++c)
      params.output_scales.push_back(alpha * sx * w_scale(c) / domain);

    // Bias in accumulator units (added before the output scale, as oneDNN does).
    ValueId bias_v = kNoValue;
    if (bias_real) {
      const BiasMode mode = policy_.bias;
      if (mode == BiasMode::model && bias_is_model_s32 && alpha == 1.f) {
        Tensor b = Tensor::from_vector<int32_t>({channels}, bias_codes);
        bias_v = new_constant(anchor.name + ".bias_s32", std::move(b), "bias_model_s32", bias_in);
      } else if (mode == BiasMode::s32) {
        std::vector<int32_t> codes(static_cast<size_t>(channels));
        const QuantGrid g = quant_grid(DType::s32, QuantRange::full);
        for (int64_t c = 0; c < channels; ++c)
          codes[static_cast<size_t>(c)] = quantize_value((*bias_real)[static_cast<size_t>(c)], alpha * sx * w_scale(c), 0,
                                                         g, Rounding::half_even);
        bias_v = new_constant(anchor.name + ".bias_s32", Tensor::from_vector<int32_t>({channels}, codes),
                              "bias_requantize_s32", bias_in);
      } else {
        std::vector<float> acc_units(static_cast<size_t>(channels));
        for (int64_t c = 0; c < channels; ++c)
          acc_units[static_cast<size_t>(c)] = (*bias_real)[static_cast<size_t>(c)] / (alpha * sx * w_scale(c));
        bias_v = new_constant(anchor.name + ".bias_f32", Tensor::from_vector<float>({channels}, acc_units),
                              "bias_f32_prescaled", bias_in);
      }
    }

    ValueId sum_v = kNoValue;
    if (plan.add != kNoNode) {
      const Node* dq_skip = activation_dq(plan.skip);
      QD_ASSIGN_OR_RETURN(sum_v, int8_value(*dq_skip));
      const QuantParams& ps = *out_.value(sum_v).quant;
      params.post_ops.push_back({PostOpKind::sum, ps.scale[0] / domain, static_cast<float>(ps.zero_point[0])});
    }
    if (act) {
      PostOp op{act->kind, act->alpha, act->beta};
      if (act->kind == PostOpKind::clip && !real_domain && policy_.act_order == ActOrder::exact) {
        // The bounds are real values; in the output domain they scale with 1/s_y.
        op.alpha = act->alpha == -FLT_MAX ? -FLT_MAX : act->alpha / sy;
        op.beta = act->beta == FLT_MAX ? FLT_MAX : act->beta / sy;
      }
      params.post_ops.push_back(op);
    }
    if (py && real_domain) params.post_ops.push_back({PostOpKind::linear, 1.f / sy, 0.f});
    if (py && policy_.range == QuantRange::narrow && py->zero_point_type == DType::s8) {
      const QuantGrid g = quant_grid(DType::s8, QuantRange::narrow);
      params.post_ops.push_back({PostOpKind::clip, static_cast<float>(g.qmin - py->zero_point[0]),
                                 static_cast<float>(g.qmax - py->zero_point[0])});
    }

    // Weights constant: per-channel quantization along the output channels.
    QuantParams wq = w.q;
    wq.axis = channel_axis;
    Tensor codes = std::move(w.codes);
    ValueId w_v = new_constant(anchor.name + (policy_.weights == WeightsMode::requantize ? ".weights_requantized" : ".weights"),
                               std::move(codes), policy_.weights == WeightsMode::requantize ? "requantize_weights" : "quantized_weights",
                               anchor.input(1), wq);

    const std::string rule = is_conv ? (plan.add != kNoNode ? "fuse_conv_sum" : "fuse_conv") : "fuse_matmul";
    ValueId y;
    if (py) {
      y = new_value(src_.value(y_source).name, py->zero_point_type, y_source, rule, *py);
    } else {
      y = new_value(src_.value(y_source).name, DType::f32, y_source, rule);
    }
    Node q = lowered_node(is_conv ? OpKind::QConv : OpKind::QMatMul, anchor.name);
    if (is_conv) {
      for (const char* key : {"kernel_shape", "strides", "pads", "dilations", "group", "auto_pad"})
        if (auto it = anchor.attrs.find(key); it != anchor.attrs.end()) q.attrs.emplace(key, it->second);
    }
    set_lowered_params(q, params);
    q.inputs = {xq, w_v, bias_v};
    if (sum_v != kNoValue) q.inputs.push_back(sum_v);
    while (!q.inputs.empty() && q.inputs.back() == kNoValue) q.inputs.pop_back();
    q.outputs = {y};
    emit(std::move(q));
    val_[static_cast<size_t>(y_source)] = y;
    return Status::ok();
  }

  Status read_bias(ValueId b, int64_t channels, std::optional<std::vector<float>>& real, std::vector<int32_t>& codes,
                   std::optional<std::vector<float>>& scale, bool& model_s32) {
    const Node* dq = producer(b);
    if (dq && dq->kind == OpKind::DequantizeLinear) {
      const Tensor* c = constant(dq->input(0));
      QD_ASSIGN_OR_RETURN(auto params, qdq_params(*dq));
      if (!c || !params) return unsupported("bias '{}' is not a constant", src_.value(b).name);
      if (c->numel() != channels) return invalid_input("bias '{}' has {} values for {} channels", src_.value(b).name, c->numel(), channels);
      QD_RETURN_IF_ERROR(check_dequantizable(*c, *params, src_.value(b).name));
      Tensor r = dequantize_tensor(*c, *params);
      real = std::vector<float>(r.values<float>().begin(), r.values<float>().end());
      if (c->dtype == DType::s32) {
        codes.assign(c->values<int32_t>().begin(), c->values<int32_t>().end());
        scale = params->scale;
        model_s32 = std::all_of(params->zero_point.begin(), params->zero_point.end(), [](int32_t z) { return z == 0; });
      }
      return Status::ok();
    }
    const Tensor* c = constant(b);
    if (!c || c->dtype != DType::f32) return unsupported("bias '{}' is neither an f32 constant nor DQ(int32)", src_.value(b).name);
    if (c->numel() == 1 && channels > 1) {
      real = std::vector<float>(static_cast<size_t>(channels), c->data<float>()[0]);
    } else if (c->numel() == channels) {
      real = std::vector<float>(c->values<float>().begin(), c->values<float>().end());
    } else {
      return unsupported("bias '{}' has {} values for {} channels", src_.value(b).name, c->numel(), channels);
    }
    return Status::ok();
  }

  void fold_batchnorm(const Node& bn, Tensor& w_real, std::vector<float>& bias) const {
    const float* gamma = constant(bn.input(1))->data<float>();
    const float* beta = constant(bn.input(2))->data<float>();
    const float* mean = constant(bn.input(3))->data<float>();
    const float* var = constant(bn.input(4))->data<float>();
    const float eps = bn.attr_float("epsilon", 1e-5f);
    const int64_t oc = w_real.shape[0];
    const int64_t per = w_real.numel() / oc;
    for (int64_t c = 0; c < oc; ++c) {
      const float k = gamma[c] / std::sqrt(var[c] + eps);
      for (int64_t i = 0; i < per; ++i) w_real.data<float>()[c * per + i] *= k;
      bias[static_cast<size_t>(c)] = (bias[static_cast<size_t>(c)] - mean[c]) * k + beta[c];
    }
  }

  // Per-channel symmetric s8, scale max|w| / 127 (Paddle's weight quantization).
  QuantizedWeights requantize_weights(const Tensor& real, int channel_axis) const {
    QuantizedWeights w;
    const int64_t channels = real.shape[static_cast<size_t>(channel_axis)];
    const int64_t inner = shape_strides(real.shape)[static_cast<size_t>(channel_axis)];
    std::vector<float> max_abs(static_cast<size_t>(channels), 0.f);
    for (int64_t i = 0; i < real.numel(); ++i) {
      const size_t c = static_cast<size_t>((i / inner) % channels);
      max_abs[c] = std::max(max_abs[c], std::fabs(real.data<float>()[i]));
    }
    w.q.zero_point_type = DType::s8;
    w.q.axis = channel_axis;
    for (float m : max_abs) {
      w.q.scale.push_back(m > 0.f ? m / 127.f : 1.f);
      w.q.zero_point.push_back(0);
    }
    w.codes = quantize_tensor(real, w.q, quant_grid(DType::s8, QuantRange::full), Rounding::half_even);
    return w;
  }

  static Tensor transpose_2d(const Tensor& t) {
    Tensor out = Tensor::zeros(t.dtype, {t.shape[1], t.shape[0]});
    const size_t es = dtype_size(t.dtype);
    for (int64_t r = 0; r < t.shape[0]; ++r)
      for (int64_t c = 0; c < t.shape[1]; ++c)
        std::memcpy(out.bytes.data() + (c * t.shape[0] + r) * es, t.bytes.data() + (r * t.shape[1] + c) * es, es);
    return out;
  }

  // ---- int8 pass-through -----------------------------------------------------------------
  bool plan_passthrough(NodeId id) {
    const Node& n = node(id);
    if (!int8_allowed(n)) return false;
    if (n.kind == OpKind::MaxPool && n.outputs.size() > 1 && n.outputs[1] != kNoValue) return false;
    const size_t data_inputs = n.kind == OpKind::Concat ? n.inputs.size() : 1;
    for (size_t i = 0; i < data_inputs; ++i)
      if (!activation_dq(n.input(i))) return false;
    if (!closing_q(n.outputs[0])) return false;
    const NodeId q = sole_consumer_id(n.outputs[0]);
    passthrough_[q] = PassthroughPlan{id, q};
    return true;
  }

  Status emit_passthrough(const PassthroughPlan& plan) {
    const Node& n = node(plan.op);
    const Node& q = node(plan.q);
    QD_ASSIGN_OR_RETURN(auto qp, qdq_params(q));
    const QuantParams py = adjusted_output_quant(*qp, false);
    const ValueId y_source = q.outputs[0];
    Node copy = n;
    const size_t data_inputs = n.kind == OpKind::Concat ? n.inputs.size() : 1;
    std::optional<QuantParams> pin;
    for (size_t i = 0; i < copy.inputs.size(); ++i) {
      if (i < data_inputs) {
        const Node* dq = activation_dq(n.inputs[i]);
        QD_ASSIGN_OR_RETURN(ValueId xq, int8_value(*dq));
        // Concat needs one grid: requantize inputs to the output's parameters.
        if (n.kind == OpKind::Concat && !same_quant(*out_.value(xq).quant, py))
          xq = emit_requantize(xq, py, n.inputs[i], "requantize_concat_input");
        copy.inputs[i] = xq;
        pin = *out_.value(xq).quant;
      } else {
        QD_ASSIGN_OR_RETURN(copy.inputs[i], val(n.inputs[i]));
      }
    }
    const bool same = same_quant(*pin, py);
    ValueId mid = new_value(same ? src_.value(y_source).name : src_.value(n.outputs[0]).name, pin->zero_point_type,
                            same ? y_source : n.outputs[0], "int8_passthrough", *pin);
    copy.outputs = {mid};
    emit(std::move(copy));
    val_[static_cast<size_t>(y_source)] = same ? mid : emit_requantize(mid, py, y_source, "int8_passthrough_requantize");
    return Status::ok();
  }

  // ---- int8 add ----------------------------------------------------------------------------
  // DQ(a) + DQ(b) -> Q, both inputs and the output per-tensor int8 with constant parameters,
  // a and b of one known shape (no broadcasting): one QAdd (rule int8_add), which computes
  // the reference's float steps exactly (core/lowered_ops.h). A residual Add fed by a conv's
  // float output was already taken by fuse_conv_sum at the conv. Not under a narrow s8
  // range (the float path clips before quantizing) or where the policy keeps Add in f32.
  Result<bool> plan_add(NodeId id) {
    const Node& n = node(id);
    if (!int8_allowed(n) || n.inputs.size() != 2 || n.outputs.size() != 1) return false;
    for (ValueId in : n.inputs) {
      if (!activation_dq(in)) return false;
      const Value& v = src_.value(in);
      if (!v.has_shape || !shape_is_known(v.shape)) return false;
    }
    if (src_.value(n.inputs[0]).shape != src_.value(n.inputs[1]).shape) return false;
    const Node* q = closing_q(n.outputs[0]);
    if (!q) return false;
    QD_ASSIGN_OR_RETURN(auto qp, qdq_params(*q));
    if (policy_.range == QuantRange::narrow && qp->zero_point_type == DType::s8) return false;
    const NodeId qid = sole_consumer_id(n.outputs[0]);
    adds_[qid] = PassthroughPlan{id, qid};
    return true;
  }

  Status emit_add(const PassthroughPlan& plan) {
    const Node& n = node(plan.op);
    const Node& q = node(plan.q);
    QD_ASSIGN_OR_RETURN(auto qp, qdq_params(q));
    const QuantParams py = adjusted_output_quant(*qp, false);
    Node add = lowered_node(OpKind::QAdd, n.name);
    for (ValueId in : n.inputs) {
      QD_ASSIGN_OR_RETURN(ValueId xq, int8_value(*activation_dq(in)));
      const QuantParams& pin = *out_.value(xq).quant;
      if (pin.is_per_axis()) return internal_error("int8_add: input '{}' is quantized per axis", out_.value(xq).name);
      add.inputs.push_back(xq);
    }
    const ValueId y_source = q.outputs[0];
    const ValueId y = new_value(src_.value(y_source).name, py.zero_point_type, y_source, "int8_add", py);
    add.outputs = {y};
    emit(std::move(add));
    val_[static_cast<size_t>(y_source)] = y;
    return Status::ok();
  }

  // ---- real int8 ONNX ops with constant parameters ----------------------------------------
  Result<bool> lower_integer_op(const Node& n) {
    // Inputs: QLinearConv (x, sx, zx, w, sw, zw, sy, zy, [B]); QLinearMatMul (a, sa, za, b, sb, zb, sy, zy);
    // ConvInteger / MatMulInteger (x, w, [zx], [zw]).
    const bool qlinear = n.kind == OpKind::QLinearConv || n.kind == OpKind::QLinearMatMul;
    const bool conv = n.kind == OpKind::QLinearConv || n.kind == OpKind::ConvInteger;
    const ValueId x = n.input(0);
    const ValueId w = qlinear ? n.input(3) : n.input(1);
    const Tensor* wt = constant(w);
    if (!wt || !is_int8(wt->dtype)) return false;
    auto scalar_f = [&](ValueId v, float fallback) -> std::optional<float> {
      if (v == kNoValue) return fallback;
      const Tensor* t = constant(v);
      if (!t || t->dtype != DType::f32 || t->numel() != 1) return std::nullopt;
      return t->data<float>()[0];
    };
    auto zps = [&](ValueId v, DType type, size_t count) -> std::optional<std::vector<int32_t>> {
      if (v == kNoValue) return std::vector<int32_t>(count, 0);
      const Tensor* t = constant(v);
      if (!t || t->dtype != type) return std::nullopt;
      std::vector<int32_t> out;
      for (int64_t i = 0; i < t->numel(); ++i) out.push_back(static_cast<int32_t>(t->value_as_double(i)));
      if (out.size() == 1 && count > 1) out.assign(count, out[0]);
      if (out.size() != count) return std::nullopt;
      return out;
    };
    const Value& xv = src_.value(x);
    if (!is_int8(xv.dtype)) return false;
    const int64_t channels = conv ? wt->shape[0] : wt->shape[wt->rank() - 1];
    if (!conv && wt->rank() != 2) return false;

    QuantParams px;
    px.zero_point_type = xv.dtype;
    QuantParams pw;
    pw.zero_point_type = wt->dtype;
    pw.axis = conv ? 0 : 1;
    std::optional<QuantParams> py;
    if (qlinear) {
      auto sx = scalar_f(n.input(1), 1.f);
      auto zx = zps(n.input(2), xv.dtype, 1);
      const Tensor* sw = constant(n.input(4));
      auto sy = scalar_f(n.input(6), 1.f);
      const Tensor* zyt = constant(n.input(7));
      if (!sx || !zx || !sw || sw->dtype != DType::f32 || !sy || !zyt) return false;
      px.scale = {*sx};
      px.zero_point = *zx;
      pw.scale.assign(sw->values<float>().begin(), sw->values<float>().end());
      auto zw = zps(n.input(5), wt->dtype, pw.scale.size());
      if (!zw) return false;
      pw.zero_point = *zw;
      QuantParams q;
      q.zero_point_type = zyt->dtype;
      q.scale = {*sy};
      q.zero_point = {static_cast<int32_t>(zyt->value_as_double(0))};
      py = q;
    } else {
      auto zx = zps(n.input(2), xv.dtype, 1);
      if (!zx) return false;
      px.scale = {1.f};
      px.zero_point = *zx;
      auto zw = zps(n.input(3), wt->dtype, 1);
      if (!zw) return false;
      pw.scale = {1.f};
      pw.zero_point = *zw;
    }
    if (pw.scale.size() != 1 && static_cast<int64_t>(pw.scale.size()) != channels)
      return invalid_input("{} weight scales for {} output channels", pw.scale.size(), channels);

    QD_ASSIGN_OR_RETURN(ValueId xq, val(x));
    // The kernel reads x's zero point from its value; the scale only enters through the
    // output scales below. A graph input takes the node's parameters.
    if (!out_.value(xq).quant) out_.value(xq).quant = px;
    else if (out_.value(xq).quant->zero_point != px.zero_point) return false;

    Tensor codes = *wt;
    LoweredParams params;
    for (size_t c = 0; c < pw.scale.size(); ++c)
      params.output_scales.push_back(qlinear ? px.scale[0] * pw.scale[c] / py->scale[0] : 1.f);
    ValueId w_v = new_constant(n.name + ".weights", std::move(codes), "quantized_weights", w, pw);
    ValueId bias_v = kNoValue;
    if (n.kind == OpKind::QLinearConv && n.input(8) != kNoValue) {
      const Tensor* b = constant(n.input(8));
      if (!b || b->dtype != DType::s32) return false;
      bias_v = new_constant(n.name + ".bias_s32", *b, "bias_model_s32", n.input(8));
    }
    const ValueId y_src = n.outputs[0];
    ValueId y = py ? new_value(src_.value(y_src).name, py->zero_point_type, y_src,
                               conv ? "qlinear_conv" : "qlinear_matmul", *py)
                   : new_value(src_.value(y_src).name, DType::s32, y_src, conv ? "conv_integer" : "matmul_integer");
    Node q = lowered_node(conv ? OpKind::QConv : OpKind::QMatMul, n.name);
    if (conv)
      for (const char* key : {"kernel_shape", "strides", "pads", "dilations", "group", "auto_pad"})
        if (auto it = n.attrs.find(key); it != n.attrs.end()) q.attrs.emplace(key, it->second);
    set_lowered_params(q, params);
    q.inputs = {xq, w_v};
    if (bias_v != kNoValue) q.inputs.push_back(bias_v);
    q.outputs = {y};
    emit(std::move(q));
    val_[static_cast<size_t>(y_src)] = y;
    return true;
  }

  const Graph& src_;
  const Int8Policy& policy_;
  std::regex skip_;
  Graph out_;
  std::vector<std::string> notes_;
  std::vector<ValueId> val_;      // source value -> lowered value with the same meaning and dtype
  std::vector<char> handled_;     // source nodes emitted as part of a fused pattern
  std::map<NodeId, FusedPlan> fused_;              // terminal Q -> plan
  std::map<NodeId, PassthroughPlan> passthrough_;  // terminal Q -> plan
  std::map<NodeId, PassthroughPlan> adds_;         // terminal Q -> the Add lowered to QAdd
  std::set<std::string> used_names_;
  std::set<std::string> used_node_names_;
  int n_quantize_ = 0;
  int n_dequantize_ = 0;
  int n_requantize_ = 0;
};

std::string quant_text(const QuantParams& q) {
  if (!q.is_per_axis()) return fmt::format("{} s={:.6g} zp={}", dtype_name(q.zero_point_type), q.scale[0], q.zero_point[0]);
  const auto [lo, hi] = std::minmax_element(q.scale.begin(), q.scale.end());
  return fmt::format("{} per-axis({}) x{} s=[{:.6g}..{:.6g}]", dtype_name(q.zero_point_type), q.axis, q.scale.size(), *lo,
                     *hi);
}

std::string attr_text(const AttrValue& a) {
  return std::visit(
      [](const auto& v) -> std::string {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, int64_t> || std::is_same_v<T, float>) return fmt::format("{}", v);
        else if constexpr (std::is_same_v<T, std::string>) return fmt::format("\"{}\"", v);
        else if constexpr (std::is_same_v<T, Tensor>) return fmt::format("tensor{}", shape_str(v.shape));
        else if constexpr (std::is_same_v<T, std::vector<float>>) {
          if (v.size() > 8) return fmt::format("[{} values]", v.size());
          return fmt::format("[{:.6g}]", fmt::join(v, ","));
        } else return fmt::format("[{}]", fmt::join(v, ","));
      },
      a);
}

}  // namespace

Result<LoweredGraph> lower(const Graph& source, const Int8Policy& policy) {
  if (policy.act_scales == ActScales::observed_max) {  // core/act_scales.h: rescale, then lower as usual
    auto rescaled = with_observed_act_scales(source, policy.observed_max_abs);
    if (!rescaled) return rescaled.status().with_context(source.source_path.empty() ? "lowering" : source.source_path);
    Int8Policy model_scales = policy;
    model_scales.act_scales = ActScales::model;
    return lower(*rescaled, model_scales);
  }
  Lowering l(source, policy);
  auto r = l.run();
  if (!r) return r.status().with_context(source.source_path.empty() ? "lowering" : source.source_path);
  return r;
}

std::string format_graph_text(const Graph& g) {
  std::string out = fmt::format("graph '{}' ({} nodes, {} values)\n", g.name, g.nodes.size(), g.values.size());
  auto value_text = [&](ValueId id) {
    if (id == kNoValue) return std::string("-");
    const Value& v = g.value(id);
    std::string s = fmt::format("{}: {}{}", v.name, dtype_name(v.dtype), v.has_shape ? shape_str(v.shape) : "");
    if (v.quant) s += " " + quant_text(*v.quant);
    if (!v.provenance.rewrite.empty())
      s += fmt::format("  <- {} [{}]", v.provenance.source.empty() ? "(new)" : v.provenance.source, v.provenance.rewrite);
    return s;
  };
  for (ValueId in : g.inputs) out += "input  " + value_text(in) + "\n";
  for (const Node& n : g.nodes) {
    out += fmt::format("node {} ({}{}{})\n", n.name, n.domain, n.domain.empty() ? "" : ".", n.op_type);
    for (const auto& [k, v] : n.attrs) out += fmt::format("    @{} = {}\n", k, attr_text(v));
    for (ValueId in : n.inputs) {
      const bool init = in != kNoValue && g.value(in).initializer.has_value();
      out += fmt::format("    in  {}{}\n", value_text(in), init ? " (constant)" : "");
    }
    for (ValueId o : n.outputs) out += "    out " + value_text(o) + "\n";
  }
  for (ValueId o : g.outputs) out += "output " + value_text(o) + "\n";
  return out;
}

}  // namespace qdrift
