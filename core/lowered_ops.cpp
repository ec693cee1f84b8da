#include "core/lowered_ops.h"

#include <array>

namespace qdrift {

namespace {
constexpr std::array<std::string_view, 6> kPostOpNames = {"relu", "leaky_relu", "clip", "hardswish", "linear", "sum"};
static_assert(kPostOpNames.size() == static_cast<size_t>(PostOpKind::sum) + 1, "one name per PostOpKind");
}  // namespace

std::string_view post_op_name(PostOpKind k) { return kPostOpNames[static_cast<size_t>(k)]; }

Result<LoweredParams> parse_lowered_params(const Node& node) {
  LoweredParams p;
  p.output_scales = node.attr_floats("output_scales");
  if (p.output_scales.empty()) return internal_error("lowered node '{}' has no output_scales", node.name);
  std::vector<std::string> names;
  if (auto it = node.attrs.find("post_ops"); it != node.attrs.end()) {
    const auto* v = std::get_if<std::vector<std::string>>(&it->second);
    if (!v) return internal_error("lowered node '{}': post_ops is not a string list", node.name);
    names = *v;
  }
  const auto alpha = node.attr_floats("post_op_alpha");
  const auto beta = node.attr_floats("post_op_beta");
  if (alpha.size() != names.size() || beta.size() != names.size())
    return internal_error("lowered node '{}': post-op attribute lengths differ", node.name);
  for (size_t i = 0; i < names.size(); ++i) {
    auto it = std::find(kPostOpNames.begin(), kPostOpNames.end(), names[i]);
    if (it == kPostOpNames.end()) return internal_error("lowered node '{}': unknown post-op '{}'", node.name, names[i]);
    p.post_ops.push_back({static_cast<PostOpKind>(it - kPostOpNames.begin()), alpha[i], beta[i]});
  }
  return p;
}

void set_lowered_params(Node& node, const LoweredParams& params) {
  node.attrs["output_scales"] = params.output_scales;
  std::vector<std::string> names;
  std::vector<float> alpha, beta;
  for (const PostOp& op : params.post_ops) {
    names.emplace_back(post_op_name(op.kind));
    alpha.push_back(op.alpha);
    beta.push_back(op.beta);
  }
  node.attrs["post_ops"] = names;
  node.attrs["post_op_alpha"] = alpha;
  node.attrs["post_op_beta"] = beta;
}

}  // namespace qdrift
