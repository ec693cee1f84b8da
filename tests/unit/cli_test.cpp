// Tests of `qdrift run` through the real binary (QDRIFT_BINARY) as a subprocess: exit codes,
// one-line messages, and outputs checked against values computed here by hand. Models are
// built in C++ with the onnx::ModelProto classes; input files are written byte by byte.
#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <onnx/onnx_pb.h>
#include <zip.h>

#include "tests/unit/qdrift_process.h"

namespace {

namespace fs = std::filesystem;
using qdrift::testing_util::Proc;
using qdrift::testing_util::run_qdrift;
using qdrift::testing_util::slurp;
using qdrift::testing_util::spit;
using qdrift::testing_util::TempDir;

// ---- hand-written .npy files (the NumPy format, version 1.0) ------------------------

std::string npy(const std::string& descr, const std::vector<int64_t>& shape, const void* data, size_t nbytes) {
  std::string dims;
  for (size_t i = 0; i < shape.size(); ++i) dims += fmt::format("{}{}", i ? ", " : "", shape[i]);
  if (shape.size() == 1) dims += ",";
  std::string header = fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': ({}), }}", descr, dims);
  header.append(64 - (10 + header.size() + 1) % 64, ' ');
  header += '\n';
  std::string out("\x93NUMPY\x01\x00", 8);
  out += static_cast<char>(header.size() & 0xff);
  out += static_cast<char>(header.size() >> 8);
  return out + header + std::string(static_cast<const char*>(data), nbytes);
}
std::string npy_f32(const std::vector<int64_t>& shape, const std::vector<float>& v) {
  return npy("<f4", shape, v.data(), v.size() * 4);
}
std::string npy_i64(const std::vector<int64_t>& shape, const std::vector<int64_t>& v) {
  return npy("<i8", shape, v.data(), v.size() * 8);
}

// ---- tiny ONNX models ------------------------------------------------------------

class ModelBuilder {
 public:
  explicit ModelBuilder(int opset = 13) {
    model_.set_ir_version(7);
    model_.set_producer_name("qdrift cli_test");
    auto* op = model_.add_opset_import();
    op->set_domain("");
    op->set_version(opset);
    model_.mutable_graph()->set_name("test");
  }
  ModelBuilder& domain(const std::string& name, int version) {
    auto* op = model_.add_opset_import();
    op->set_domain(name);
    op->set_version(version);
    return *this;
  }
  ModelBuilder& input(const std::string& name, int elem, const std::vector<int64_t>& dims) {
    value_info(model_.mutable_graph()->add_input(), name, elem, dims);
    return *this;
  }
  ModelBuilder& output(const std::string& name, int elem, const std::vector<int64_t>& dims) {
    value_info(model_.mutable_graph()->add_output(), name, elem, dims);
    return *this;
  }
  ModelBuilder& node(const std::string& op, const std::vector<std::string>& in, const std::vector<std::string>& out,
                     const std::string& name, const std::string& domain = "") {
    auto* n = model_.mutable_graph()->add_node();
    n->set_op_type(op);
    n->set_name(name);
    n->set_domain(domain);
    for (const auto& s : in) n->add_input(s);
    for (const auto& s : out) n->add_output(s);
    return *this;
  }
  ModelBuilder& scalar_initializer(const std::string& name, int elem, double value) {
    auto* t = model_.mutable_graph()->add_initializer();
    t->set_name(name);
    t->set_data_type(elem);
    if (elem == onnx::TensorProto::FLOAT)
      t->add_float_data(static_cast<float>(value));
    else
      t->add_int32_data(static_cast<int32_t>(value));
    return *this;
  }
  std::string bytes() const { return model_.SerializeAsString(); }
  void save(const fs::path& p) const { spit(p, bytes()); }

 private:
  static void value_info(onnx::ValueInfoProto* v, const std::string& name, int elem, const std::vector<int64_t>& dims) {
    v->set_name(name);
    auto* tt = v->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(elem);
    auto* shape = tt->mutable_shape();
    for (int64_t d : dims) {
      auto* dim = shape->add_dim();
      if (d >= 0) dim->set_dim_value(d);  // -1: unknown
    }
  }
  onnx::ModelProto model_;
};

constexpr int kF32 = onnx::TensorProto::FLOAT;
constexpr int kS8 = onnx::TensorProto::INT8;

class CliTest : public ::testing::Test {
 protected:
  std::string path(const std::string& name) const { return dir_.path(name); }

  // Runs the qdrift binary with `args`, capturing stdout and stderr.
  Proc run(const std::vector<std::string>& args) { return run_qdrift(args, dir_); }

  // y = Relu(x), x: f32 [2,3].
  std::string relu_model() {
    const std::string p = path("relu.onnx");
    ModelBuilder().input("x", kF32, {2, 3}).output("y", kF32, {2, 3}).node("Relu", {"x"}, {"y"}, "relu").save(p);
    return p;
  }
  // sum = Add(a, b), a and b: f32 [2,3].
  std::string add_model() {
    const std::string p = path("add.onnx");
    ModelBuilder()
        .input("a", kF32, {2, 3})
        .input("b", kF32, {2, 3})
        .output("sum", kF32, {2, 3})
        .node("Add", {"a", "b"}, {"sum"}, "add")
        .save(p);
    return p;
  }

  TempDir dir_{"cli_test"};  // kept for inspection when a test fails
};

// One line on stderr, starting "qdrift: ", holding every fragment.
void expect_message(const Proc& p, int code, const std::vector<std::string>& fragments) {
  EXPECT_EQ(p.exit_code, code) << "stderr: " << p.err << "\nstdout: " << p.out;
  EXPECT_EQ(p.err.rfind("qdrift: ", 0), 0u) << p.err;
  EXPECT_EQ(std::count(p.err.begin(), p.err.end(), '\n'), 1) << "not one line: " << p.err;
  for (const auto& f : fragments) EXPECT_NE(p.err.find(f), std::string::npos) << "missing '" << f << "' in: " << p.err;
}

// Values of an ONNX TensorProto file, parsed here with protobuf (not qdrift's reader).
std::vector<float> read_pb_floats(const std::string& file, std::vector<int64_t>* dims, std::string* name) {
  onnx::TensorProto t;
  std::ifstream f(file, std::ios::binary);
  EXPECT_TRUE(t.ParseFromIstream(&f)) << file;
  EXPECT_EQ(t.data_type(), onnx::TensorProto::FLOAT);
  if (dims) dims->assign(t.dims().begin(), t.dims().end());
  if (name) *name = t.name();
  std::vector<float> v;
  if (t.has_raw_data()) {
    v.resize(t.raw_data().size() / 4);
    std::memcpy(v.data(), t.raw_data().data(), v.size() * 4);
  } else {
    v.assign(t.float_data().begin(), t.float_data().end());
  }
  return v;
}

// ---- usage and file errors ----------------------------------------------------------

TEST_F(CliTest, HelpExitsZero) {
  Proc top = run({"--help"});
  EXPECT_EQ(top.exit_code, 0);
  EXPECT_NE(top.out.find("run"), std::string::npos);
  Proc p = run({"run", "--help"});
  EXPECT_EQ(p.exit_code, 0) << p.err;
  for (const char* opt : {"--input", "--executor", "--fake-range", "--fake-rounding", "--stats", "--dump",
                          "--save-outputs", "--json"})
    EXPECT_NE(p.out.find(opt), std::string::npos) << opt;
}

TEST_F(CliTest, UsageErrorsExitTwo) {
  Proc unknown = run({"run", relu_model(), "--bogus-option"});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.err.find("--bogus-option"), std::string::npos) << unknown.err;
  Proc no_model = run({"run"});
  EXPECT_EQ(no_model.exit_code, 2);
  EXPECT_NE(no_model.err.find("model"), std::string::npos) << no_model.err;
  EXPECT_EQ(run({}).exit_code, 2);
  EXPECT_EQ(run({"frobnicate"}).exit_code, 2);
  Proc bad_exec = run({"run", relu_model(), "--executor", "gpu"});
  EXPECT_EQ(bad_exec.exit_code, 2);
  EXPECT_NE(bad_exec.err.find("gpu"), std::string::npos) << bad_exec.err;
  EXPECT_EQ(run({"run", relu_model(), "--fake-range", "wide"}).exit_code, 2);
}

TEST_F(CliTest, MissingModelFile) {
  const std::string missing = path("no_such_model.onnx");
  expect_message(run({"run", missing}), 2, {missing, "cannot open"});
}

TEST_F(CliTest, TruncatedModel) {
  const std::string bytes = ModelBuilder().input("x", kF32, {2, 3}).output("y", kF32, {2, 3})
                                .node("Relu", {"x"}, {"y"}, "relu").bytes();
  const std::string p = path("truncated.onnx");
  spit(p, bytes.substr(0, bytes.size() / 2));
  expect_message(run({"run", p}), 2, {p, "not an ONNX model"});
}

TEST_F(CliTest, NonOnnxFile) {
  const std::string p = path("readme.onnx");
  spit(p, "This is a text file, not a model.\nSecond line.\n");
  expect_message(run({"run", p}), 2, {p, "not an ONNX model"});
  const std::string empty = path("empty.onnx");
  spit(empty, "");
  expect_message(run({"run", empty}), 2, {empty});
}

TEST_F(CliTest, UnsupportedOpsAreListedAllAtOnce) {
  const std::string p = path("foobar.onnx");
  ModelBuilder()
      .domain("com.example", 1)
      .input("x", kF32, {2, 3})
      .output("z", kF32, {2, 3})
      .node("Foo", {"x"}, {"y"}, "foo_node", "com.example")
      .node("Bar", {"y"}, {"z"}, "bar_node", "com.example")
      .save(p);
  spit(path("x.npy"), npy_f32({2, 3}, {1, 2, 3, 4, 5, 6}));
  expect_message(run({"run", p, "--input", path("x.npy")}), 2, {p, "unsupported", "foo_node", "Foo", "bar_node", "Bar"});
}

// ---- input binding errors ------------------------------------------------------------

TEST_F(CliTest, WrongInputName) {
  spit(path("x.npy"), npy_f32({2, 3}, {1, 2, 3, 4, 5, 6}));
  expect_message(run({"run", relu_model(), "--input", "nope=" + path("x.npy")}), 2, {"'nope'", "'x'"});
}

TEST_F(CliTest, WrongInputShape) {
  spit(path("x.npy"), npy_f32({3, 2}, {1, 2, 3, 4, 5, 6}));
  expect_message(run({"run", relu_model(), "--input", path("x.npy")}), 2,
                 {path("x.npy"), "input 'x'", "expected shape [2,3], got [3,2]"});
}

TEST_F(CliTest, WrongInputDtype) {
  spit(path("x.npy"), npy_i64({2, 3}, {1, 2, 3, 4, 5, 6}));
  expect_message(run({"run", relu_model(), "--input", "x=" + path("x.npy")}), 2,
                 {path("x.npy"), "expected dtype f32, got s64"});
}

TEST_F(CliTest, MissingInputFile) {
  const std::string missing = path("not_there.npy");
  expect_message(run({"run", relu_model(), "--input", missing}), 2, {missing, "cannot open"});
}

TEST_F(CliTest, MissingAndExtraInputs) {
  spit(path("a.npy"), npy_f32({2, 3}, {1, 2, 3, 4, 5, 6}));
  expect_message(run({"run", add_model(), "--input", path("a.npy")}), 2, {"missing input", "'b'", "f32 [2,3]"});
  expect_message(run({"run", add_model()}), 2, {"missing inputs", "'a'", "'b'"});
  expect_message(run({"run", relu_model(), "--input", path("a.npy"), "--input", path("a.npy")}), 2,
                 {"too many", "'x'"});
  expect_message(run({"run", add_model(), "--input", "a=" + path("a.npy"), "--input", "a=" + path("a.npy")}), 2,
                 {"already given"});
}

TEST_F(CliTest, CorruptInputFile) {
  const std::string p = path("bad.npy");
  spit(p, npy_f32({2, 3}, {1, 2, 3, 4, 5, 6}).substr(0, 128 + 4));  // 128-byte preamble+header, 4 of 24 data bytes
  expect_message(run({"run", relu_model(), "--input", p}), 2, {p, "needs 24 data bytes"});
}

// ---- successful runs ---------------------------------------------------------------

TEST_F(CliTest, AddSavesOutputsAsTensorProto) {
  const std::vector<float> a = {1.5f, -2.0f, 0.25f, 100.0f, -0.0f, 3.0f};
  const std::vector<float> b = {0.5f, 2.0f, -1.25f, 0.5f, 7.0f, -3.5f};
  const std::vector<float> expected = {2.0f, 0.0f, -1.0f, 100.5f, 7.0f, -0.5f};  // a + b by hand
  spit(path("a.npy"), npy_f32({2, 3}, a));
  spit(path("b.npy"), npy_f32({2, 3}, b));
  const std::string out_dir = path("results/nested");  // created by qdrift

  // Named binding in reverse order, then positional binding: the same result.
  for (const auto& inputs : std::vector<std::vector<std::string>>{
           {"--input", "b=" + path("b.npy"), "--input", "a=" + path("a.npy")},
           {"--input", path("a.npy"), "--input", path("b.npy")},
           {"--input", "b=" + path("b.npy"), "--input", path("a.npy")}}) {
    std::vector<std::string> args = {"run", add_model()};
    args.insert(args.end(), inputs.begin(), inputs.end());
    args.insert(args.end(), {"--save-outputs", out_dir});
    Proc p = run(args);
    ASSERT_EQ(p.exit_code, 0) << p.err;
    std::vector<int64_t> dims;
    std::string name;
    const std::vector<float> got = read_pb_floats(out_dir + "/output_0.pb", &dims, &name);
    EXPECT_EQ(dims, (std::vector<int64_t>{2, 3}));
    EXPECT_EQ(name, "sum");
    EXPECT_EQ(got, expected);
    EXPECT_NE(p.out.find("sum"), std::string::npos) << p.out;  // the summary names the output
  }
}

TEST_F(CliTest, ReluFromPbAndNpzInputs) {
  const std::vector<float> x = {-1.0f, 0.5f, -0.0f, 2.0f, -3.5f, 7.25f};
  const std::vector<float> expected = {0.0f, 0.5f, 0.0f, 2.0f, 0.0f, 7.25f};
  // An ONNX TensorProto input, as ONNX test data sets give them.
  onnx::TensorProto t;
  t.set_name("x");
  t.set_data_type(kF32);
  t.add_dims(2);
  t.add_dims(3);
  for (float v : x) t.add_float_data(v);
  spit(path("input_0.pb"), t.SerializeAsString());
  Proc p = run({"run", relu_model(), "--input", path("input_0.pb"), "--save-outputs", path("out")});
  ASSERT_EQ(p.exit_code, 0) << p.err;
  std::vector<float> got = read_pb_floats(path("out/output_0.pb"), nullptr, nullptr);
  for (size_t i = 0; i < expected.size(); ++i) EXPECT_EQ(got[i], expected[i]) << i;

  // An .npz (deflated) binds its members by name.
  const std::string member = npy_f32({2, 3}, x);
  zip_error_t err;
  zip_error_init(&err);
  int zerr = 0;
  zip_t* za = zip_open(path("in.npz").c_str(), ZIP_CREATE | ZIP_TRUNCATE, &zerr);
  ASSERT_NE(za, nullptr);
  zip_source_t* src = zip_source_buffer(za, member.data(), member.size(), 0);
  ASSERT_GE(zip_file_add(za, "x.npy", src, 0), 0);
  ASSERT_EQ(zip_set_file_compression(za, 0, ZIP_CM_DEFLATE, 0), 0);
  ASSERT_EQ(zip_close(za), 0);
  zip_error_fini(&err);
  Proc q = run({"run", relu_model(), "--input", path("in.npz"), "--save-outputs", path("out2")});
  ASSERT_EQ(q.exit_code, 0) << q.err;
  got = read_pb_floats(path("out2/output_0.pb"), nullptr, nullptr);
  EXPECT_EQ(got, expected);
}

TEST_F(CliTest, StatsDumpAndJson) {
  // Names with characters that are not file-name safe, to see the dump sanitize them.
  const std::string p = path("chain.onnx");
  ModelBuilder()
      .input("x", kF32, {2, 3})
      .output("block/out:0", kF32, {2, 3})
      .node("Relu", {"x"}, {"r"}, "relu")
      .node("Add", {"r", "x"}, {"block/out:0"}, "add")
      .save(p);
  const std::vector<float> x = {-1.0f, 0.5f, -2.0f, 2.0f, -3.5f, 4.0f};
  // r = relu(x), y = r + x, by hand:
  const std::vector<float> r = {0.0f, 0.5f, 0.0f, 2.0f, 0.0f, 4.0f};
  const std::vector<float> y = {-1.0f, 1.0f, -2.0f, 4.0f, -3.5f, 8.0f};
  spit(path("x.npy"), npy_f32({2, 3}, x));
  Proc run_result = run({"run", p, "--input", path("x.npy"), "--stats", "--dump", path("dump"), "--json",
                         path("run.json")});
  ASSERT_EQ(run_result.exit_code, 0) << run_result.err;
  // The table: a header and one row per tensor, in execution order.
  const std::string& out = run_result.out;
  for (const char* col : {"avg", "min", "max", "argmax", "std", "dtype", "shape"})
    EXPECT_NE(out.find(col), std::string::npos) << col;
  const size_t row_r = out.find("  r  "), row_y = out.find("block/out:0  Add");
  EXPECT_NE(row_r, std::string::npos) << out;
  EXPECT_NE(row_y, std::string::npos) << out;
  EXPECT_LT(row_r, row_y);

  // JSON summary.
  const auto j = nlohmann::json::parse(slurp(path("run.json")));
  EXPECT_EQ(j["schema"], "qdrift.run/1");
  EXPECT_EQ(j["executor"], "ref");
  EXPECT_EQ(j["fake_quant"]["range"], "full");
  ASSERT_EQ(j["tensors"].size(), 2u);
  EXPECT_EQ(j["tensors"][0]["name"], "r");
  EXPECT_EQ(j["tensors"][0]["op"], "Relu");
  EXPECT_EQ(j["tensors"][1]["node"], "add");
  // y = [-1, 1, -2, 4, -3.5, 8]: mean 6.5/6, min -3.5, max 8 at index 5.
  const auto& ys = j["tensors"][1]["stats"];
  EXPECT_DOUBLE_EQ(ys["avg"].get<double>(), 6.5 / 6.0);
  EXPECT_EQ(ys["min"].get<double>(), -3.5);
  EXPECT_EQ(ys["max"].get<double>(), 8.0);
  EXPECT_EQ(ys["argmax"].get<int64_t>(), 5);
  EXPECT_EQ(ys["nan_count"].get<int64_t>(), 0);
  EXPECT_EQ(j["inputs"][0]["name"], "x");
  EXPECT_EQ(j["outputs"][0]["name"], "block/out:0");
  EXPECT_TRUE(j["wall_time_ms"]["total"].is_number());

  // Dump: index.json maps sanitized file names to tensors; the .npy files hold the values.
  const auto index = nlohmann::json::parse(slurp(path("dump/index.json")));
  EXPECT_EQ(index["schema"], "qdrift.dump/1");
  ASSERT_TRUE(index["tensors"].contains("r.npy"));
  ASSERT_TRUE(index["tensors"].contains("block_out_0.npy")) << index.dump();
  EXPECT_EQ(index["tensors"]["block_out_0.npy"]["tensor"], "block/out:0");
  EXPECT_EQ(index["tensors"]["block_out_0.npy"]["op"], "Add");
  EXPECT_EQ(index["tensors"]["r.npy"]["shape"], nlohmann::json::array({2, 3}));
  EXPECT_EQ(slurp(path("dump/r.npy")), npy_f32({2, 3}, r));  // byte for byte the numpy layout
  EXPECT_EQ(slurp(path("dump/block_out_0.npy")), npy_f32({2, 3}, y));
}

TEST_F(CliTest, NanAndInfAreVisible) {
  const std::vector<float> x = {NAN, 1.0f, INFINITY, -2.0f, 0.5f, NAN};
  spit(path("x.npy"), npy_f32({2, 3}, x));
  Proc p = run({"run", relu_model(), "--input", path("x.npy"), "--stats"});
  ASSERT_EQ(p.exit_code, 0) << p.err;
  EXPECT_NE(p.out.find("nan"), std::string::npos) << p.out;
  EXPECT_NE(p.out.find("inf"), std::string::npos) << p.out;
  EXPECT_NE(p.out.find("warning:"), std::string::npos) << p.out;
  EXPECT_NE(p.out.find("NaN"), std::string::npos) << p.out;
}

TEST_F(CliTest, FakeQuantOptionsAndFp32Executor) {
  // y = Identity(DequantizeLinear(QuantizeLinear(x, 0.5, 0 s8))).
  const std::string p = path("qdq.onnx");
  ModelBuilder()
      .input("x", kF32, {5})
      .output("y", kF32, {5})
      .scalar_initializer("scale", kF32, 0.5)
      .scalar_initializer("zp", kS8, 0)
      .node("QuantizeLinear", {"x", "scale", "zp"}, {"xq"}, "q")
      .node("DequantizeLinear", {"xq", "scale", "zp"}, {"xdq"}, "dq")
      .node("Identity", {"xdq"}, {"y"}, "id")
      .save(p);
  const std::vector<float> x = {0.25f, 0.75f, -100.0f, 100.0f, -0.25f};
  spit(path("x.npy"), npy_f32({5}, x));
  // x / 0.5 = [0.5, 1.5, -200, 200, -0.5], rounded and saturated to s8, times 0.5:
  struct Case {
    std::vector<std::string> flags;
    std::vector<float> expected;
  };
  const std::vector<Case> cases = {
      {{}, {0.0f, 1.0f, -64.0f, 63.5f, 0.0f}},                                  // half_even, [-128,127]
      {{"--fake-rounding", "half_away"}, {0.5f, 1.0f, -64.0f, 63.5f, -0.5f}},  // ties away from zero
      {{"--fake-range", "narrow"}, {0.0f, 1.0f, -63.5f, 63.5f, 0.0f}},        // [-127,127]
      {{"--executor", "fp32"}, x},                                             // QDQ removed
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(fmt::format("flags: {}", fmt::join(c.flags, " ")));
    std::vector<std::string> args = {"run", p, "--input", path("x.npy"), "--save-outputs", path("out")};
    args.insert(args.end(), c.flags.begin(), c.flags.end());
    Proc r = run(args);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const std::vector<float> got = read_pb_floats(path("out/output_0.pb"), nullptr, nullptr);
    ASSERT_EQ(got.size(), c.expected.size());
    for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i], c.expected[i]) << "element " << i;
  }
}

TEST_F(CliTest, UnwritableOutputsExitTwo) {
  spit(path("x.npy"), npy_f32({2, 3}, {1, 2, 3, 4, 5, 6}));
  spit(path("file"), "a file where a directory is expected");
  expect_message(run({"run", relu_model(), "--input", path("x.npy"), "--save-outputs", path("file")}), 2,
                 {path("file")});
  expect_message(run({"run", relu_model(), "--input", path("x.npy"), "--json", path("no/such/dir/run.json")}), 2,
                 {"run.json"});
}

// A kernel that fails at run time (Reshape to a shape given as an input): exit 2 naming the
// node; with --stats the tensors computed before the failure are still shown.
TEST_F(CliTest, RuntimeKernelErrorNamesTheNode) {
  const std::string p = path("reshape.onnx");
  ModelBuilder()
      .input("x", kF32, {2, 3})
      .input("shape", onnx::TensorProto::INT64, {2})
      .output("y", kF32, {-1, -1})
      .node("Relu", {"x"}, {"r"}, "relu")
      .node("Reshape", {"r", "shape"}, {"y"}, "reshape")
      .save(p);
  spit(path("x.npy"), npy_f32({2, 3}, {1, -2, 3, -4, 5, 6}));
  spit(path("bad_shape.npy"), npy_i64({2}, {7, 7}));
  Proc bad = run({"run", p, "--input", path("x.npy"), "--input", path("bad_shape.npy"), "--stats"});
  expect_message(bad, 2, {p, "node 'reshape' (Reshape)"});
  EXPECT_NE(bad.out.find("before the failure"), std::string::npos) << bad.out;
  EXPECT_NE(bad.out.find("  r  "), std::string::npos) << bad.out;

  spit(path("shape.npy"), npy_i64({2}, {3, 2}));
  Proc ok = run({"run", p, "--input", path("x.npy"), "--input", "shape=" + path("shape.npy"), "--save-outputs",
                 path("out")});
  ASSERT_EQ(ok.exit_code, 0) << ok.err;
  std::vector<int64_t> dims;
  EXPECT_EQ(read_pb_floats(path("out/output_0.pb"), &dims, nullptr), (std::vector<float>{1, 0, 3, 0, 5, 6}));
  EXPECT_EQ(dims, (std::vector<int64_t>{3, 2}));
}

// Float32 values of an .npy file written by numpy ('<f4', C order), parsed here by hand.
std::vector<float> read_npy_floats(const std::string& file) {
  const std::string bytes = slurp(file);
  EXPECT_GT(bytes.size(), 10u);
  EXPECT_NE(bytes.find("'descr': '<f4'"), std::string::npos);
  const size_t header_len = static_cast<unsigned char>(bytes[8]) | (static_cast<unsigned char>(bytes[9]) << 8);
  std::vector<float> v((bytes.size() - 10 - header_len) / 4);
  std::memcpy(v.data(), bytes.data() + 10 + header_len, v.size() * 4);
  return v;
}

// The bundled model against numpy's runs of it (testdata/gen/make_models.py).
TEST_F(CliTest, BundledModelMatchesNumpyReference) {
  const std::string data = std::string(QDRIFT_SOURCE_DIR) + "/testdata/";
  for (const auto& [executor, expected_file] : std::vector<std::pair<std::string, std::string>>{
           {"ref", "mobilenet_tiny_qdq_probs.npy"}, {"fp32", "mobilenet_tiny_fp32_probs.npy"}}) {
    SCOPED_TRACE(executor);
    Proc p = run({"run", data + "mobilenet_tiny_qdq.onnx", "--input", data + "mobilenet_tiny_input.npy", "--executor",
                  executor, "--save-outputs", path(executor)});
    ASSERT_EQ(p.exit_code, 0) << p.err;
    const std::vector<float> got = read_pb_floats(path(executor + "/output_0.pb"), nullptr, nullptr);
    const std::vector<float> want = read_npy_floats(data + expected_file);
    ASSERT_EQ(got.size(), 10u);
    ASSERT_EQ(want.size(), 10u);
    for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-6) << "class " << i;
  }
}

// ---- --dump-lowered --------------------------------------------------------------------

// The source model read here with protobuf (not qdrift's loader): what the lowered graph's
// JSON must agree with.
struct SourceModel {
  onnx::ModelProto proto;
  std::set<std::string> tensors;  // graph inputs, initializers, node outputs
  std::set<std::string> node_names;
  std::map<std::string, const onnx::TensorProto*> initializers;
  std::map<std::string, const onnx::NodeProto*> producer;  // output name -> node

  explicit SourceModel(const std::string& file) {
    std::ifstream f(file, std::ios::binary);
    EXPECT_TRUE(proto.ParseFromIstream(&f)) << file;
    const auto& g = proto.graph();
    for (const auto& v : g.input()) tensors.insert(v.name());
    for (const auto& t : g.initializer()) {
      tensors.insert(t.name());
      initializers[t.name()] = &t;
    }
    for (const auto& n : g.node()) {
      node_names.insert(n.name());
      for (const auto& o : n.output()) {
        tensors.insert(o);
        producer[o] = &n;
      }
    }
  }
  std::vector<std::string> nodes_of(const std::string& op) const {
    std::vector<std::string> names;
    for (const auto& n : proto.graph().node())
      if (n.op_type() == op) names.push_back(n.name());
    return names;
  }
  // Elements of an initializer as double (FLOAT, INT8, UINT8, INT32; raw or typed fields).
  std::vector<double> values(const std::string& name) const {
    const auto it = initializers.find(name);
    EXPECT_NE(it, initializers.end()) << name;
    if (it == initializers.end()) return {};
    const onnx::TensorProto& t = *it->second;
    std::vector<double> v;
    const std::string& raw = t.raw_data();
    switch (t.data_type()) {
      case onnx::TensorProto::FLOAT:
        for (size_t i = 0; i + 4 <= raw.size(); i += 4) {
          float x;
          std::memcpy(&x, raw.data() + i, 4);
          v.push_back(x);
        }
        for (float x : t.float_data()) v.push_back(x);
        break;
      case onnx::TensorProto::INT8:
        for (char c : raw) v.push_back(static_cast<int8_t>(c));
        for (int32_t x : t.int32_data()) v.push_back(x);
        break;
      case onnx::TensorProto::UINT8:
        for (char c : raw) v.push_back(static_cast<uint8_t>(c));
        for (int32_t x : t.int32_data()) v.push_back(x);
        break;
      default: ADD_FAILURE() << name << ": data type " << t.data_type();
    }
    return v;
  }
};

std::vector<float> json_floats(const nlohmann::json& a) {
  std::vector<float> v;
  for (const auto& x : a) v.push_back(static_cast<float>(x.get<double>()));
  return v;
}
std::vector<float> as_floats(const std::vector<double>& d) { return std::vector<float>(d.begin(), d.end()); }

const char* kLoweringModels[] = {"conv_chain_u8", "depthwise_s8",   "residual_u8",
                                 "gemm_concat_s8", "bn_conv_u8", "paddle_style_s8"};

TEST_F(CliTest, DumpLoweredJsonAgreesWithTheSourceModel) {
  const std::string dir = std::string(QDRIFT_SOURCE_DIR) + "/testdata/qdq/";
  for (const char* name : kLoweringModels) {
    SCOPED_TRACE(name);
    const std::string model = dir + name + ".onnx";
    const SourceModel src(model);
    Proc p = run({"run", model, "--input", dir + name + "_input.npy", "--executor", "oracle", "--dump-lowered",
                  path("lowered.json")});
    ASSERT_EQ(p.exit_code, 0) << p.err;
    const auto j = nlohmann::json::parse(slurp(path("lowered.json")));
    EXPECT_EQ(j["schema"], "qdrift.lowered/1");
    EXPECT_EQ(j["source"]["nodes"].get<size_t>(), static_cast<size_t>(src.proto.graph().node_size()));

    // Under the onnx policy every Conv of these models becomes one QConv, which replaces it.
    const std::vector<std::string> convs = src.nodes_of("Conv");
    ASSERT_FALSE(convs.empty());
    std::map<std::string, int> conv_claims;
    std::set<std::string> replaced;
    size_t qconvs = 0;
    for (const auto& n : j["nodes"]) {
      for (const auto& r : n["replaces"]) {
        const std::string s = r.get<std::string>();
        EXPECT_TRUE(src.node_names.count(s)) << n["name"] << " replaces '" << s << "', not a source node";
        replaced.insert(s);
        if (n["op"] == "QConv" && std::find(convs.begin(), convs.end(), s) != convs.end()) ++conv_claims[s];
      }
      if (n["op"] == "QConv") {
        ++qconvs;
        EXPECT_EQ(n["domain"], "qdrift");
        EXPECT_TRUE(n["rewrite"] == "fuse_conv" || n["rewrite"] == "fuse_conv_sum") << n["rewrite"];
      }
    }
    EXPECT_EQ(qconvs, convs.size());
    for (const auto& c : convs) EXPECT_EQ(conv_claims[c], 1) << "Conv " << c;
    // Nothing of the source is lost: every source node is replaced by some lowered node.
    EXPECT_EQ(replaced, src.node_names);

    std::map<std::string, std::string> reader_op;  // value -> op of a node reading it
    for (const auto& n : j["nodes"])
      for (const auto& in : n["inputs"])
        if (in.is_string()) reader_op[in.get<std::string>()] = n["op"].get<std::string>();
    size_t quantize_outs = 0, weights = 0;
    for (const auto& v : j["values"]) {
      const std::string vname = v["name"].get<std::string>();
      ASSERT_TRUE(v["source"].is_string()) << vname;
      const std::string source = v["source"].get<std::string>();
      EXPECT_TRUE(src.tensors.count(source)) << vname << " stands for '" << source << "', not a source tensor";
      if (vname.rfind("quantize/out/", 0) == 0) {
        // The source QuantizeLinear it replaces gives its scale and zero point.
        ++quantize_outs;
        const auto it = src.producer.find(source);
        ASSERT_NE(it, src.producer.end()) << source;
        const onnx::NodeProto& q = *it->second;
        EXPECT_EQ(q.op_type(), "QuantizeLinear");
        EXPECT_EQ(json_floats(v["quant"]["scale"]), as_floats(src.values(q.input(1))));
        EXPECT_EQ(v["quant"]["zero_point"][0].get<double>(), src.values(q.input(2)).at(0));
        const bool u8 = src.initializers.at(q.input(2))->data_type() == onnx::TensorProto::UINT8;
        EXPECT_EQ(v["dtype"], u8 ? "u8" : "s8");
        EXPECT_TRUE(v["quant"]["axis"].is_null());
      }
      if (v["rewrite"] == "quantized_weights") {
        // Per output channel, the scales of the weights' DequantizeLinear: axis 0 of QConv's
        // [M, C, kh, kw], axis 1 of QMatMul's [K, N].
        ++weights;
        const onnx::NodeProto& dq = *src.producer.at(source);
        EXPECT_EQ(dq.op_type(), "DequantizeLinear");
        EXPECT_EQ(json_floats(v["quant"]["scale"]), as_floats(src.values(dq.input(1))));
        ASSERT_TRUE(reader_op.count(vname)) << vname;
        EXPECT_EQ(v["quant"]["axis"], reader_op[vname] == "QConv" ? 0 : 1) << reader_op[vname];
        EXPECT_EQ(v["constant"], true);
        EXPECT_EQ(v["dtype"], "s8");
      }
    }
    EXPECT_GT(quantize_outs, 0u);
    EXPECT_EQ(weights, convs.size() + src.nodes_of("Gemm").size() + src.nodes_of("MatMul").size());
  }
}

TEST_F(CliTest, DumpLoweredJsonPolicyAndTextForm) {
  const std::string dir = std::string(QDRIFT_SOURCE_DIR) + "/testdata/qdq/";
  const std::string model = dir + "residual_u8.onnx", input = dir + "residual_u8_input.npy";
  // Every knob, as docs/lowering.md's policy table gives paddle-onednn, with bias flipped.
  Proc p = run({"run", model, "--input", input, "--executor", "int8", "--policy", "paddle-onednn", "--set", "bias=f32",
                "--dump-lowered", path("lowered.JSON")});
  ASSERT_EQ(p.exit_code, 0) << p.err;
  const auto j = nlohmann::json::parse(slurp(path("lowered.JSON")));
  EXPECT_EQ(j["policy"]["preset"], "paddle-onednn");
  EXPECT_EQ(j["policy"]["overrides"], nlohmann::json::array({"bias=f32"}));
  const auto& k = j["policy"]["knobs"];
  EXPECT_EQ(k["range"], "[-128,127]");
  EXPECT_EQ(k["unsigned_after_relu"], "on");
  EXPECT_EQ(k["bias"], "f32");
  EXPECT_EQ(k["weights"], "requantize");
  EXPECT_EQ(k["rounding"], "half_even");
  EXPECT_EQ(k["act_order"], "after_scale");
  EXPECT_EQ(k["fp32_ops"], "all_but:Conv,Gemm,MatMul,MaxPool,Concat");
  EXPECT_EQ(k["skip_nodes"], "none");

  // Any other name: the text form, a line per node, each source Conv a QConv.
  p = run({"run", model, "--input", input, "--executor", "oracle", "--dump-lowered", path("lowered.txt")});
  ASSERT_EQ(p.exit_code, 0) << p.err;
  const std::string text = slurp(path("lowered.txt"));
  EXPECT_EQ(text.rfind("# onnx: range=[-128,127]", 0), 0u) << text.substr(0, 200);
  EXPECT_EQ(text.find('{'), std::string::npos) << "not text";
  const SourceModel src(model);
  size_t qconv_lines = 0;
  for (size_t at = text.find("(qdrift.QConv)"); at != std::string::npos; at = text.find("(qdrift.QConv)", at + 1))
    ++qconv_lines;
  const std::vector<std::string> convs = src.nodes_of("Conv");
  EXPECT_EQ(qconv_lines, convs.size());
  for (const auto& c : convs) EXPECT_NE(text.find("node " + c + " (qdrift.QConv)"), std::string::npos) << c;
}

// QD_ASSERT aborts; cli::main turns SIGABRT into exit 3 with a one-line message. qdrift is
// parked in open() of a FIFO given as its input, then sent SIGABRT. Spawned here rather than
// with run_qdrift, which waits for the exit: this test needs the pid while qdrift runs.
TEST_F(CliTest, AbortBecomesInternalErrorExitThree) {
  const std::string fifo = path("fifo.npy");
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  const std::string model = relu_model();
  const std::string err = path("abort_stderr.txt");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  std::vector<std::string> all = {QDRIFT_BINARY, "run", model, "--input", fifo};
  std::vector<char*> argv;
  for (auto& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  ASSERT_EQ(posix_spawn(&pid, QDRIFT_BINARY, &actions, nullptr, argv.data(), environ), 0);
  posix_spawn_file_actions_destroy(&actions);
  // Wait (up to 20 s) until it blocks opening the FIFO, i.e. after the handler is installed.
  const std::string wchan = fmt::format("/proc/{}/wchan", pid);
  bool parked = false;
  for (int i = 0; i < 400 && !parked; ++i) {
    parked = slurp(wchan).find("partner") != std::string::npos || slurp(wchan).find("fifo") != std::string::npos;
    if (!parked) usleep(50000);
  }
  if (!parked) usleep(2000000);  // no wchan here: give it time to get there
  kill(pid, SIGABRT);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status)) << "killed by signal " << WTERMSIG(status);
  EXPECT_EQ(WEXITSTATUS(status), 3);
  const std::string msg = slurp(err);
  EXPECT_EQ(msg.rfind("qdrift: internal error", 0), 0u) << msg;
  EXPECT_EQ(std::count(msg.begin(), msg.end(), '\n'), 1) << msg;
}

}  // namespace
