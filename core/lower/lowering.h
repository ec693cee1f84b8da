// lowering.h: the state of one lower() call and the helpers every rule shares. Each rule
// lives in its own file of core/lower/ and has one line in the rule table (rule_table.cpp);
// a rule is tried on a source node of the kinds its line lists and either declines (false)
// or emits the lowered nodes, recording provenance on every value it makes.
//
//   rule_table.cpp    the rules in the order they are tried (docs/lowering.md, Rules)
//   fuse_conv.cpp     fuse_conv, fuse_conv_sum, fuse_matmul (one int8 primitive per fused group)
//   fold_batchnorm.cpp  BN folding and per-channel weight re-quantization (weights=requantize)
//   int8_passthrough.cpp, int8_add.cpp, fold_requantize.cpp, insert_quantize.cpp,
//   insert_dequantize.cpp, integer_ops.cpp (qlinear_conv, conv_integer, qlinear_matmul,
//   matmul_integer), keep_float.cpp (the fallback, no table line)
//
// A rule that fuses several source nodes plans at its first node and emits at its last
// (the closing QuantizeLinear), once every input exists: `defer(q, emit)`.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/lower.h"
#include "core/lowered_ops.h"
#include "core/qdq_params.h"

namespace qdrift {

bool nearly_equal(float a, float b);
bool same_quant(const QuantParams& a, const QuantParams& b);
inline bool is_int8(DType t) { return t == DType::u8 || t == DType::s8; }

// A fused conv/matmul pattern found at its anchor and emitted at its terminal node.
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

// An Add of two int8 activations, with its fused Relu/Clip, lowered to one QAdd.
struct AddPlan {
  NodeId add = kNoNode;
  NodeId act = kNoNode;  // fused Relu or Clip (kNoNode: none)
  NodeId q = kNoNode;    // the closing QuantizeLinear
};

struct QuantizedWeights {
  Tensor codes;   // s8/u8, the layout of the source weights
  QuantParams q;  // per-tensor or per output channel (axis as in the source)
};

// Fused activation as (kind, alpha, beta) in real units, and whether its output is >= 0.
struct Activation {
  PostOpKind kind;
  float alpha = 0, beta = 0;
  bool nonnegative = false;
};

class Lowering;
using LoweringRuleFn = Result<bool> (Lowering::*)(NodeId);

// One line of the rule table: the rule's name, the source op kinds it is tried on, and
// the function that tries it.
struct LoweringRule {
  std::string_view name;
  std::vector<OpKind> anchors;
  LoweringRuleFn apply;
};
const std::vector<LoweringRule>& lowering_rules();

class Lowering {
 public:
  Lowering(const Graph& src, const Int8Policy& policy) : src_(src), policy_(policy) {}

  Result<LoweredGraph> run();

  // ---- the rules (one file each; the table in rule_table.cpp says when they are tried) ----
  Result<bool> fuse_conv(NodeId id);           // fuse_conv.cpp (also fuse_conv_sum, fuse_matmul)
  Result<bool> int8_passthrough(NodeId id);    // int8_passthrough.cpp
  Result<bool> int8_add(NodeId id);            // int8_add.cpp
  Result<bool> int8_pool(NodeId id);           // int8_pool.cpp
  Result<bool> fold_requantize(NodeId id);     // fold_requantize.cpp
  Result<bool> insert_quantize(NodeId id);     // insert_quantize.cpp
  Result<bool> insert_dequantize(NodeId id);   // insert_dequantize.cpp
  Result<bool> integer_ops(NodeId id);         // integer_ops.cpp
  Status keep_float_with_note(NodeId id);      // keep_float.cpp: the fallback

 private:
  Status visit(NodeId id);

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
  const Node* activation_dq(ValueId v) const;
  // The closing QuantizeLinear of an int8 pattern: constant per-tensor u8/s8 parameters.
  const Node* closing_q(ValueId v) const;
  // Weights given as DQ(int8 constant) or DQ(Q(f32 constant)), folded to codes.
  Result<std::optional<QuantizedWeights>> quantized_weights(ValueId w) const;

  // ---- building the lowered graph ---------------------------------------------------------
  std::string fresh_name(const std::string& base);
  // A value of the lowered graph standing for source value `source` (kNoValue: none).
  ValueId new_value(const std::string& name, DType dtype, ValueId source, std::string rewrite,
                    std::optional<QuantParams> quant = std::nullopt);
  ValueId new_constant(const std::string& name, Tensor t, std::string rewrite, ValueId source = kNoValue,
                       std::optional<QuantParams> quant = std::nullopt);
  NodeId emit(Node n);
  std::string fresh_node_name(const std::string& base);
  static Node lowered_node(OpKind kind, std::string name);
  // Emits `emit` when the visit reaches node `terminal` (the pattern's closing Q).
  void defer(NodeId terminal, std::function<Status()> emit) { deferred_[terminal] = std::move(emit); }

  // The lowered value carrying source value sv in its own dtype (materialized on demand:
  // a DQ output becomes a Dequantize of its int8 input, a constant is copied).
  Result<ValueId> val(ValueId sv);
  // The lowered int8 value read by DequantizeLinear `dq`; a value without parameters
  // (an int8 graph input) takes the DQ's.
  Result<ValueId> int8_value(const Node& dq);
  // dequantize_tensor asserts its preconditions; a constant from the file must meet them.
  static Status check_dequantizable(const Tensor& codes, const QuantParams& q, const std::string& name);
  // Output quantization after the policy: unsigned grid after relu.
  QuantParams adjusted_output_quant(const QuantParams& q, bool nonnegative) const;

  // ---- shared by several rules, defined in the file of the rule named ------------------------
  ValueId emit_dequantize(ValueId q, ValueId source);                                        // insert_dequantize
  ValueId emit_requantize(ValueId xq, const QuantParams& py, ValueId source, std::string rewrite);  // fold_requantize
  ValueId clip_to_grid(ValueId x, const QuantParams& py, ValueId source);                    // insert_quantize
  Status keep_float(const Node& n);                                                          // keep_float

  // ---- fuse_conv.cpp / fold_batchnorm.cpp --------------------------------------------------
  bool fusable_activation(const Node& n) const;
  Activation activation_of(const Node& n) const;
  Status emit_fused(const FusedPlan& plan);
  Status read_bias(ValueId b, int64_t channels, std::optional<std::vector<float>>& real, std::vector<int32_t>& codes,
                   std::optional<std::vector<float>>& scale, bool& model_s32);
  bool bn_constants(const Node& bn) const;
  void fold_batchnorm(const Node& bn, Tensor& w_real, std::vector<float>& bias) const;
  QuantizedWeights requantize_weights(const Tensor& real, int channel_axis) const;

  // ---- int8_passthrough.cpp / int8_add.cpp ---------------------------------------------------
  Status emit_passthrough(const PassthroughPlan& plan);
  Status emit_add(const AddPlan& plan);
  Status emit_pool(const PassthroughPlan& plan);

  const Graph& src_;
  const Int8Policy& policy_;
  std::regex skip_;
  Graph out_;
  std::vector<std::string> notes_;
  std::vector<ValueId> val_;   // source value -> lowered value with the same meaning and dtype
  std::vector<char> handled_;  // source nodes emitted as part of a fused pattern
  std::map<NodeId, std::function<Status()>> deferred_;  // terminal node -> emits the planned pattern
  std::set<std::string> used_names_;
  std::set<std::string> used_node_names_;
  int n_quantize_ = 0;
  int n_dequantize_ = 0;
  int n_requantize_ = 0;
};

}  // namespace qdrift
