// The conformance comparison: ONNX backend tolerance, exact integers, dtype and shape checks,
// and decoding of both raw_data and typed fields.
#include "tests/conformance/proto_compare.h"

#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>

#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

namespace qdrift::conformance {
namespace {

using TP = onnx::TensorProto;

ProtoValues floats(std::vector<double> v, int32_t type = TP::FLOAT) {
  ProtoValues p;
  p.elem_type = type;
  p.dims = {static_cast<int64_t>(v.size())};
  p.floats = std::move(v);
  return p;
}

ProtoValues ints(std::vector<int64_t> v, int32_t type = TP::INT64) {
  ProtoValues p;
  p.elem_type = type;
  p.kind = ProtoValues::Kind::integer;
  p.dims = {static_cast<int64_t>(v.size())};
  p.ints = std::move(v);
  return p;
}

TEST(ProtoCompare, FloatToleranceIsRelativeToExpected) {
  // atol 1e-7 + rtol 1e-3 * |want|: 1000 allows 1.0000001, 0 allows 1e-7.
  EXPECT_EQ(compare_values(floats({1000.9, 1e-7}), floats({1000.0, 0.0})), "");
  EXPECT_NE(compare_values(floats({1001.2}), floats({1000.0})), "");
  EXPECT_NE(compare_values(floats({2e-7}), floats({0.0})), "");
}

TEST(ProtoCompare, NanEqualsNanAndInfinitiesMustMatch) {
  const double nan = std::numeric_limits<double>::quiet_NaN(), inf = INFINITY;
  EXPECT_EQ(compare_values(floats({nan, inf, -inf}), floats({nan, inf, -inf})), "");
  EXPECT_NE(compare_values(floats({1.0}), floats({nan})), "");
  EXPECT_NE(compare_values(floats({nan}), floats({1.0})), "");
  EXPECT_NE(compare_values(floats({inf}), floats({-inf})), "");
  EXPECT_NE(compare_values(floats({1e300}), floats({inf})), "");
}

TEST(ProtoCompare, IntegersAreExact) {
  EXPECT_EQ(compare_values(ints({1, -2, 3}), ints({1, -2, 3})), "");
  const std::string why = compare_values(ints({1, -2, 4}), ints({1, -2, 3}));
  EXPECT_NE(why.find("first at [2]: 4 vs expected 3"), std::string::npos) << why;
}

TEST(ProtoCompare, DtypeAndShapeMustMatch) {
  EXPECT_EQ(compare_values(floats({1.0}), floats({1.0}, TP::DOUBLE)), "dtype float, expected double");
  ProtoValues a = floats({1.0, 2.0}), b = floats({1.0, 2.0});
  b.dims = {1, 2};
  EXPECT_EQ(compare_values(a, b), "shape [2], expected [1,2]");
  EXPECT_EQ(compare_values(ints({1}, TP::INT32), ints({1}, TP::INT64)), "dtype int32, expected int64");
}

class ProtoFile : public ::testing::Test {
 protected:
  std::string write(const TP& p) {
    const std::string path = (std::filesystem::temp_directory_path() /
                              ("qdrift_proto_compare_" + std::to_string(getpid()) + "_" + std::to_string(count_++)))
                                 .string();
    std::ofstream(path, std::ios::binary) << p.SerializeAsString();
    paths_.push_back(path);
    return path;
  }
  void TearDown() override {
    for (const auto& p : paths_) std::filesystem::remove(p);
  }
  int count_ = 0;
  std::vector<std::string> paths_;
};

TEST_F(ProtoFile, RawAndTypedFieldsDecodeAlike) {
  TP typed;
  typed.set_data_type(TP::FLOAT);
  typed.add_dims(3);
  for (float v : {1.5f, -2.0f, 0.25f}) typed.add_float_data(v);
  TP raw;
  raw.set_data_type(TP::FLOAT);
  raw.add_dims(3);
  const float vals[] = {1.5f, -2.0f, 0.25f};
  raw.set_raw_data(std::string(reinterpret_cast<const char*>(vals), sizeof vals));
  auto a = read_proto_values(write(typed));
  auto b = read_proto_values(write(raw));
  ASSERT_TRUE(a) << a.status().message();
  ASSERT_TRUE(b) << b.status().message();
  EXPECT_EQ(a->floats, (std::vector<double>{1.5, -2.0, 0.25}));
  EXPECT_EQ(compare_values(*a, *b), "");
}

TEST_F(ProtoFile, Float16AndBoolAndUint8) {
  TP h;
  h.set_data_type(TP::FLOAT16);
  h.add_dims(4);
  for (int bits : {0x3c00, 0xc000, 0x0001, 0x7c00}) h.add_int32_data(bits);  // 1, -2, 2^-24, inf
  auto hv = read_proto_values(write(h));
  ASSERT_TRUE(hv) << hv.status().message();
  EXPECT_EQ(hv->floats, (std::vector<double>{1.0, -2.0, std::ldexp(1.0, -24), INFINITY}));

  TP b;
  b.set_data_type(TP::BOOL);
  b.add_dims(2);
  b.set_raw_data(std::string("\x01\x00", 2));
  auto bv = read_proto_values(write(b));
  ASSERT_TRUE(bv) << bv.status().message();
  EXPECT_EQ(bv->ints, (std::vector<int64_t>{1, 0}));

  TP u;
  u.set_data_type(TP::UINT8);
  u.add_dims(1);
  u.set_raw_data(std::string("\xff", 1));
  auto uv = read_proto_values(write(u));
  ASSERT_TRUE(uv) << uv.status().message();
  EXPECT_EQ(uv->ints, (std::vector<int64_t>{255}));
}

TEST_F(ProtoFile, SizeMismatchIsAnError) {
  TP p;
  p.set_data_type(TP::FLOAT);
  p.add_dims(2);
  p.add_float_data(1.0f);
  EXPECT_FALSE(read_proto_values(write(p)));
  p.clear_float_data();
  p.set_raw_data(std::string(7, '\0'));
  EXPECT_FALSE(read_proto_values(write(p)));
}

TEST(ProtoCompareFile, MissingFileIsAnError) { EXPECT_FALSE(read_proto_values("/nonexistent/output_0.pb")); }

}  // namespace
}  // namespace qdrift::conformance
