#include "core/op_kind.h"

#include <array>

namespace qdrift {

namespace {
struct OpKindInfo {
  std::string_view name;
  std::string_view domain;
  std::string_view onnx_type;
};
constexpr std::array<OpKindInfo, kOpKindCount> kOpKinds = {{
#define QDRIFT_OP_INFO(name, domain, type) {#name, domain, type},
    QDRIFT_OP_KINDS(QDRIFT_OP_INFO)
#undef QDRIFT_OP_INFO
    {"Unknown", "", ""},
}};
static_assert(kOpKinds.size() == static_cast<size_t>(OpKind::Count), "one name per OpKind");
}  // namespace

std::string_view op_kind_name(OpKind k) { return kOpKinds[static_cast<size_t>(k)].name; }
std::string_view op_kind_domain(OpKind k) { return kOpKinds[static_cast<size_t>(k)].domain; }

OpKind op_kind_from_onnx(std::string_view domain, std::string_view op_type) {
  if (domain == "ai.onnx") domain = "";
  for (size_t i = 0; i + 1 < kOpKinds.size(); ++i)
    if (kOpKinds[i].domain == domain && kOpKinds[i].onnx_type == op_type) return static_cast<OpKind>(i);
  return OpKind::Unknown;
}

}  // namespace qdrift
