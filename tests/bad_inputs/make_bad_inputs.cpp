// make_bad_inputs: writes the hostile files of tests/bad_inputs/ (committed; run again only
// to change them). Each file is listed in manifest.txt with the exit code and the message
// fragment `qdrift run` must give. Build and run from the repository root:
//
//   g++ -std=c++20 -DONNX_ML=1 -DONNX_NAMESPACE=onnx tests/bad_inputs/make_bad_inputs.cpp -o /tmp/make_bad_inputs \
//       -lonnx_proto -lprotobuf -lfmt && /tmp/make_bad_inputs tests/bad_inputs
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <onnx/onnx_pb.h>

namespace {

std::string dir;

void spit(const std::string& name, const std::string& bytes) {
  std::ofstream f(dir + "/" + name, std::ios::binary);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// .npy version 1.0 with a header we control (it may lie).
std::string npy_raw(const std::string& header_dict, const std::string& data, const std::string& magic = "\x93NUMPY") {
  std::string header = header_dict;
  header.append(64 - (10 + header.size() + 1) % 64, ' ');
  header += '\n';
  std::string out = magic + std::string("\x01\x00", 2);
  out += static_cast<char>(header.size() & 0xff);
  out += static_cast<char>(header.size() >> 8);
  return out + header + data;
}
std::string npy_f32(const std::vector<int64_t>& shape, const std::vector<float>& v) {
  std::string dims;
  for (size_t i = 0; i < shape.size(); ++i) dims += fmt::format("{}{}", i ? ", " : "", shape[i]);
  if (shape.size() == 1) dims += ",";
  return npy_raw(fmt::format("{{'descr': '<f4', 'fortran_order': False, 'shape': ({}), }}", dims),
                 std::string(reinterpret_cast<const char*>(v.data()), v.size() * 4));
}

void value_info(onnx::ValueInfoProto* v, const std::string& name, int elem, const std::vector<int64_t>& dims) {
  v->set_name(name);
  auto* tt = v->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(elem);
  for (int64_t d : dims) tt->mutable_shape()->add_dim()->set_dim_value(d);
}

onnx::ModelProto model(int opset = 13) {
  onnx::ModelProto m;
  m.set_ir_version(7);
  m.set_producer_name("qdrift make_bad_inputs");
  m.add_opset_import()->set_version(opset);
  m.mutable_graph()->set_name("bad");
  return m;
}

onnx::NodeProto* node(onnx::ModelProto& m, const std::string& op, std::vector<std::string> in,
                      std::vector<std::string> out, const std::string& name) {
  auto* n = m.mutable_graph()->add_node();
  n->set_op_type(op);
  n->set_name(name);
  for (auto& s : in) n->add_input(s);
  for (auto& s : out) n->add_output(s);
  return n;
}

void ints_attr(onnx::NodeProto* n, const std::string& key, std::vector<int64_t> v) {
  auto* a = n->add_attribute();
  a->set_name(key);
  a->set_type(onnx::AttributeProto::INTS);
  for (int64_t x : v) a->add_ints(x);
}
void int_attr(onnx::NodeProto* n, const std::string& key, int64_t v) {
  auto* a = n->add_attribute();
  a->set_name(key);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(v);
}

onnx::TensorProto* f32_init(onnx::ModelProto& m, const std::string& name, std::vector<int64_t> dims,
                            std::vector<float> v) {
  auto* t = m.mutable_graph()->add_initializer();
  t->set_name(name);
  t->set_data_type(onnx::TensorProto::FLOAT);
  for (int64_t d : dims) t->add_dims(d);
  for (float x : v) t->add_float_data(x);
  return t;
}
onnx::TensorProto* int_init(onnx::ModelProto& m, const std::string& name, int elem, std::vector<int64_t> dims,
                            std::vector<int32_t> v) {
  auto* t = m.mutable_graph()->add_initializer();
  t->set_name(name);
  t->set_data_type(elem);
  for (int64_t d : dims) t->add_dims(d);
  for (int32_t x : v) t->add_int32_data(x);
  return t;
}

// x [1,1,5,5] -> Conv(w [1,1,3,3]) -> y [1,1,3,3]; the caller adds attributes.
onnx::ModelProto conv(onnx::NodeProto** conv_node, std::vector<int64_t> w_dims = {1, 1, 3, 3}) {
  onnx::ModelProto m = model();
  value_info(m.mutable_graph()->add_input(), "x", onnx::TensorProto::FLOAT, {1, 1, 5, 5});
  value_info(m.mutable_graph()->add_output(), "y", onnx::TensorProto::FLOAT, {1, 1, 3, 3});
  int64_t n = 1;
  for (int64_t d : w_dims) n *= d;
  f32_init(m, "w", w_dims, std::vector<float>(static_cast<size_t>(n), 1.f));
  *conv_node = node(m, "Conv", {"x", "w"}, {"y"}, "conv0");
  return m;
}

// x f32 [2,3] -> QuantizeLinear(scale, zp) -> DequantizeLinear(scale, zp) -> y.
onnx::ModelProto qdq(std::vector<int64_t> scale_dims, std::vector<float> scale, int zp_elem,
                     std::vector<int32_t> zp, int64_t axis = 1) {
  onnx::ModelProto m = model();
  value_info(m.mutable_graph()->add_input(), "x", onnx::TensorProto::FLOAT, {2, 3});
  value_info(m.mutable_graph()->add_output(), "y", onnx::TensorProto::FLOAT, {2, 3});
  f32_init(m, "scale", scale_dims, scale);
  int_init(m, "zp", zp_elem, scale_dims, zp);
  int_attr(node(m, "QuantizeLinear", {"x", "scale", "zp"}, {"q"}, "quant"), "axis", axis);
  int_attr(node(m, "DequantizeLinear", {"q", "scale", "zp"}, {"y"}, "dequant"), "axis", axis);
  return m;
}

void save(const std::string& name, const onnx::ModelProto& m) { spit(name, m.SerializeAsString()); }

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    fmt::print(stderr, "usage: make_bad_inputs DIR\n");
    return 2;
  }
  dir = argv[1];
  constexpr int kU8 = onnx::TensorProto::UINT8, kS8 = onnx::TensorProto::INT8;

  // --- inputs -----------------------------------------------------------------------
  spit("x_1x1x5x5.npy", npy_f32({1, 1, 5, 5}, std::vector<float>(25, 0.5f)));
  spit("x_2x3.npy", npy_f32({2, 3}, {0.f, 1.f, -1.f, 2.f, 0.25f, 3.f}));
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  spit("x_2x3_nan_inf.npy", npy_f32({2, 3}, {nan, 1.f, inf, -inf, 0.5f, nan}));
  spit("npy_wrong_magic.npy", npy_raw("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
                                      std::string(24, '\0'), "\x93NUMPX"));
  spit("npy_lying_shape.npy", npy_raw("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3000), }",
                                      std::string(24, '\0')));
  spit("npy_huge_shape.npy", npy_raw("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }",
                                     std::string(24, '\0')));
  spit("npy_negative_dim.npy", npy_raw("{'descr': '<f4', 'fortran_order': False, 'shape': (2, -3), }",
                                       std::string(24, '\0')));
  spit("npy_bad_descr.npy", npy_raw("{'descr': '<c16', 'fortran_order': False, 'shape': (2, 3), }",
                                    std::string(96, '\0')));
  {
    std::string h = npy_f32({2, 3}, std::vector<float>(6, 1.f));
    h[8] = '\xff';  // header length 0x??ff: longer than the file
    h[9] = '\x7f';
    spit("npy_header_len_past_end.npy", h);
  }
  {
    onnx::TensorProto t;
    t.set_name("x");
    t.set_data_type(onnx::TensorProto::FLOAT);
    t.add_dims(2);
    t.add_dims(3);
    t.set_raw_data(std::string(20, '\0'));  // 6 floats need 24 bytes
    spit("pb_raw_data_short.pb", t.SerializeAsString());
    t.set_raw_data(std::string(24, '\0'));
    const std::string good = t.SerializeAsString();
    spit("pb_truncated.pb", good.substr(0, good.size() - 7));
  }
  spit("npz_truncated.npz", std::string("PK\x03\x04\x14\x00\x00\x00\x00\x00", 10));

  // --- models -----------------------------------------------------------------------
  onnx::NodeProto* c = nullptr;
  {
    const std::string good = (conv(&c), conv(&c).SerializeAsString());
    spit("model_truncated.onnx", good.substr(0, good.size() / 2));
  }
  spit("model_not_protobuf.onnx", std::string("\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16));
  {
    onnx::ModelProto m = conv(&c);
    m.mutable_graph()->mutable_initializer(0)->clear_float_data();
    m.mutable_graph()->mutable_initializer(0)->set_raw_data(std::string(35, '\0'));  // 9 floats need 36
    save("model_raw_data_size.onnx", m);
  }
  {
    onnx::ModelProto m = conv(&c);
    m.mutable_graph()->mutable_initializer(0)->add_dims(1 << 30);  // [1,1,3,3,2^30], 9 values
    save("model_initializer_dims_lie.onnx", m);
  }
  { onnx::ModelProto m = conv(&c); ints_attr(c, "strides", {0, 1}); save("model_stride_zero.onnx", m); }
  { onnx::ModelProto m = conv(&c); int_attr(c, "group", 0); save("model_group_zero.onnx", m); }
  { onnx::ModelProto m = conv(&c); ints_attr(c, "pads", {0, -1, 0, 0}); save("model_negative_pads.onnx", m); }
  { onnx::ModelProto m = conv(&c, {1, 1, 9, 9}); save("model_kernel_larger_than_input.onnx", m); }
  {
    onnx::ModelProto m = conv(&c);
    node(m, "Relu", {"nowhere"}, {"r"}, "dangling");
    save("model_dangling_input.onnx", m);
  }
  {
    onnx::ModelProto m = conv(&c);
    node(m, "Relu", {"x"}, {"y"}, "second_y");
    save("model_duplicate_output.onnx", m);
  }
  {
    onnx::ModelProto m = model();
    value_info(m.mutable_graph()->add_input(), "x", onnx::TensorProto::FLOAT, {2, 3});
    value_info(m.mutable_graph()->add_output(), "b", onnx::TensorProto::FLOAT, {2, 3});
    node(m, "Add", {"x", "b"}, {"a"}, "n1");
    node(m, "Relu", {"a"}, {"b"}, "n2");
    save("model_cycle.onnx", m);
  }
  {
    onnx::ModelProto m = conv(&c);
    m.mutable_graph()->mutable_node(0)->set_name("conv\nINJECTED LINE");
    save("model_newline_in_name.onnx", m);
  }
  {
    onnx::ModelProto m = conv(&c);
    m.mutable_opset_import(0)->set_version(99);
    save("model_opset_99.onnx", m);
  }
  // Quantization parameters.
  save("qdq_ok.onnx", qdq({}, {0.5f}, kU8, {128}));
  save("qdq_scale_zero.onnx", qdq({}, {0.f}, kU8, {128}));
  save("qdq_scale_negative.onnx", qdq({}, {-0.5f}, kU8, {128}));
  save("qdq_scale_denormal.onnx", qdq({}, {1e-40f}, kU8, {128}));
  save("qdq_scale_nan.onnx", qdq({}, {nan}, kU8, {128}));
  save("qdq_scale_inf.onnx", qdq({}, {inf}, kU8, {128}));
  save("qdq_zero_point_300_u8.onnx", qdq({}, {0.5f}, kU8, {300}));
  save("qdq_zero_point_minus_200_s8.onnx", qdq({}, {0.5f}, kS8, {-200}));
  save("qdq_per_axis_count_mismatch.onnx", qdq({2}, {0.5f, 0.25f}, kS8, {0, 0}, 1));  // axis 1 has 3
  save("qdq_per_axis_bad_axis.onnx", qdq({3}, {0.5f, 0.25f, 1.f}, kS8, {0, 0, 0}, 5));
  return 0;
}
