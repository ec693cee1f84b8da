// Tests of core/tensor_io: .npy / .npz / .pb round trips, hand-written files with known
// values, and hostile bytes (truncated, garbage, lying sizes) that must give errors, never
// crashes. Expected values are written out by hand from the NumPy format specification.
#include "core/tensor_io.h"

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <string>

#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>
#include <zip.h>

namespace qdrift {
namespace {

namespace fs = std::filesystem;

class TensorIoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "qdrift_tensor_io_XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  std::string write(const std::string& name, const std::string& bytes) const {
    std::ofstream f(path(name), std::ios::binary);
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    return path(name);
  }

  fs::path dir_;
};

// An .npy file written by hand: preamble, header text padded to 64 bytes, then data.
std::string npy_bytes(const std::string& dict, const std::string& data, int major = 1) {
  const size_t preamble = major == 1 ? 10 : 12;
  std::string header = dict;
  const size_t total = (preamble + header.size() + 1 + 63) / 64 * 64;
  header.append(total - preamble - header.size() - 1, ' ');
  header += '\n';
  std::string out = "\x93NUMPY";
  out += static_cast<char>(major);
  out += '\0';
  const size_t len = header.size();
  out += static_cast<char>(len & 0xff);
  out += static_cast<char>((len >> 8) & 0xff);
  if (major != 1) out += std::string(2, '\0');
  return out + header + data;
}


// A zip built with libzip; each member (name, bytes) stored or deflated.
std::string make_zip(const std::vector<std::pair<std::string, std::string>>& members, bool deflate) {
  zip_error_t err;
  zip_error_init(&err);
  zip_source_t* buf = zip_source_buffer_create(nullptr, 0, 0, &err);
  EXPECT_NE(buf, nullptr);
  zip_t* za = zip_open_from_source(buf, ZIP_TRUNCATE, &err);
  EXPECT_NE(za, nullptr);
  zip_source_keep(buf);
  for (const auto& [name, bytes] : members) {
    zip_source_t* s = zip_source_buffer(za, bytes.data(), bytes.size(), 0);
    const zip_int64_t idx = zip_file_add(za, name.c_str(), s, ZIP_FL_ENC_UTF_8);
    EXPECT_GE(idx, 0);
    EXPECT_EQ(zip_set_file_compression(za, static_cast<zip_uint64_t>(idx), deflate ? ZIP_CM_DEFLATE : ZIP_CM_STORE, 0),
              0);
  }
  EXPECT_EQ(zip_close(za), 0);
  std::string out;
  EXPECT_EQ(zip_source_open(buf), 0);
  zip_source_seek(buf, 0, SEEK_END);
  const zip_int64_t size = zip_source_tell(buf);
  zip_source_seek(buf, 0, SEEK_SET);
  out.resize(static_cast<size_t>(size));
  EXPECT_EQ(zip_source_read(buf, out.data(), static_cast<zip_uint64_t>(size)), size);
  zip_source_close(buf);
  zip_source_free(buf);
  zip_error_fini(&err);
  return out;
}

void expect_same(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(a.dtype, b.dtype);
  EXPECT_EQ(a.shape, b.shape);
  EXPECT_EQ(a.bytes, b.bytes);  // bitwise, so NaN payloads and -0 survive too
}

std::vector<Tensor> one_tensor_of_each_dtype() {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  const float denormal = std::numeric_limits<float>::denorm_min();
  std::vector<float> f(3 * 13);
  for (size_t i = 0; i < f.size(); ++i) f[i] = static_cast<float>(i) * 0.37f - 5.5f;
  f[0] = nan;
  f[1] = inf;
  f[2] = -inf;
  f[3] = -0.0f;
  f[4] = denormal;
  return {
      Tensor::from_vector<float>({3, 1, 13}, f),
      Tensor::from_vector<int8_t>({5}, {-128, -1, 0, 1, 127}),
      Tensor::from_vector<uint8_t>({1, 3}, {0, 128, 255}),
      Tensor::from_vector<int32_t>({2, 2}, {INT32_MIN, -7, 7, INT32_MAX}),
      Tensor::from_vector<int64_t>({3}, {INT64_MIN, 0, INT64_MAX}),
      Tensor::from_vector<bool>({2, 1}, {true, false}),
      Tensor::scalar<float>(2.5f),
      Tensor::zeros(DType::f32, {0, 3}),
  };
}

TEST_F(TensorIoTest, NpyRoundTripEveryDtype) {
  int i = 0;
  for (const Tensor& t : one_tensor_of_each_dtype()) {
    SCOPED_TRACE(fmt::format("tensor {} ({} {})", i, dtype_name(t.dtype), shape_str(t.shape)));
    const std::string p = path(fmt::format("t{}.npy", i++));
    ASSERT_TRUE(write_npy(p, t).is_ok());
    auto back = read_tensor_file(p);
    ASSERT_TRUE(back) << back.status().message();
    expect_same(*back, t);
  }
}

TEST_F(TensorIoTest, PbRoundTripEveryDtype) {
  int i = 0;
  for (const Tensor& t : one_tensor_of_each_dtype()) {
    SCOPED_TRACE(fmt::format("tensor {} ({} {})", i, dtype_name(t.dtype), shape_str(t.shape)));
    const std::string p = path(fmt::format("t{}.pb", i++));
    ASSERT_TRUE(write_pb(p, t, "y").is_ok());
    auto back = read_tensor_file(p);
    ASSERT_TRUE(back) << back.status().message();
    expect_same(*back, t);
    // The name is stored in the proto, as ONNX test data has it.
    std::ifstream f(p, std::ios::binary);
    onnx::TensorProto proto;
    ASSERT_TRUE(proto.ParseFromIstream(&f));
    EXPECT_EQ(proto.name(), "y");
  }
}

TEST_F(TensorIoTest, EncodeNpyMatchesNumpyLayout) {
  // np.save of np.array([1, 2], dtype='<i4'): 10-byte preamble, header padded to 128 total.
  std::string header = "{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }";
  header += std::string(128 - 10 - header.size() - 1, ' ') + "\n";
  std::string expected = std::string("\x93NUMPY\x01\x00", 8) + std::string("\x76\x00", 2) + header +
                         std::string("\x01\x00\x00\x00\x02\x00\x00\x00", 8);
  EXPECT_EQ(encode_npy(Tensor::from_vector<int32_t>({2}, {1, 2})), expected);
  // Scalars and rank 2 use Python's tuple spelling.
  EXPECT_NE(encode_npy(Tensor::scalar<uint8_t>(3)).find("'shape': (), }"), std::string::npos);
  EXPECT_NE(encode_npy(Tensor::zeros(DType::boolean, {2, 3})).find("'descr': '|b1', 'fortran_order': False, 'shape': (2, 3), }"),
            std::string::npos);
}

TEST_F(TensorIoTest, HandWrittenNpyKnownValues) {
  // 1.5f = 0x3fc00000, -2.0f = 0xc0000000, little-endian.
  const std::string f32 = std::string("\x00\x00\xc0\x3f\x00\x00\x00\xc0", 8);
  auto t = read_tensor_file(write("f.npy", npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", f32)));
  ASSERT_TRUE(t) << t.status().message();
  ASSERT_EQ(t->dtype, DType::f32);
  ASSERT_EQ(t->shape, Shape{2});
  EXPECT_EQ(t->data<float>()[0], 1.5f);
  EXPECT_EQ(t->data<float>()[1], -2.0f);

  // Version 2.0 and 3.0 headers (4-byte length), double quotes, odd spacing, key order.
  const std::string i64 = std::string("\xff\xff\xff\xff\xff\xff\xff\xff\x05\x00\x00\x00\x00\x00\x00\x01", 16);
  for (int major : {2, 3}) {
    auto v = read_tensor_file(
        write("v.npy", npy_bytes("{ \"shape\":(1,2) ,\"fortran_order\" : False,'descr':'<i8'}", i64, major)));
    ASSERT_TRUE(v) << v.status().message();
    ASSERT_EQ(v->dtype, DType::s64);
    ASSERT_EQ(v->shape, (Shape{1, 2}));
    EXPECT_EQ(v->data<int64_t>()[0], -1);
    EXPECT_EQ(v->data<int64_t>()[1], (int64_t{1} << 56) + 5);
  }

  // '?' and '|b1' are bools; nonzero bytes become 1. Python 2 longs ("3L").
  for (const char* descr : {"?", "|b1"}) {
    auto b = read_tensor_file(write(
        "b.npy", npy_bytes(fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': (3L,), }}", descr),
                           std::string("\x00\x01\x07", 3))));
    ASSERT_TRUE(b) << b.status().message();
    ASSERT_EQ(b->dtype, DType::boolean);
    EXPECT_EQ(b->bytes, (ByteBuffer{std::byte{0}, std::byte{1}, std::byte{1}}));
  }

  // int8 / uint8 / int32 with their extremes.
  auto s8 = read_tensor_file(
      write("s8.npy", npy_bytes("{'descr': '|i1', 'fortran_order': False, 'shape': (2,), }", "\x80\x7f")));
  ASSERT_TRUE(s8);
  EXPECT_EQ(s8->data<int8_t>()[0], -128);
  EXPECT_EQ(s8->data<int8_t>()[1], 127);
  auto u8 = read_tensor_file(
      write("u8.npy", npy_bytes("{'descr': '|u1', 'fortran_order': False, 'shape': (), }", "\xff")));
  ASSERT_TRUE(u8);
  EXPECT_EQ(u8->shape, Shape{});
  EXPECT_EQ(u8->data<uint8_t>()[0], 255);
  auto s32 = read_tensor_file(write(
      "s32.npy", npy_bytes("{'descr': '<i4', 'fortran_order': False, 'shape': (1,), }", std::string("\x00\x00\x00\x80", 4))));
  ASSERT_TRUE(s32);
  EXPECT_EQ(s32->data<int32_t>()[0], INT32_MIN);
}

// The error's message must name the file and mention `fragment`.
void expect_error(const Result<Tensor>& r, StatusCode code, const std::string& file, const std::string& fragment) {
  ASSERT_FALSE(r) << "expected an error mentioning: " << fragment;
  EXPECT_EQ(r.status().code(), code) << r.status().message();
  EXPECT_NE(r.status().message().find(file), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find(fragment), std::string::npos) << r.status().message();
  EXPECT_EQ(r.status().message().find('\n'), std::string::npos) << "one line: " << r.status().message();
}

TEST_F(TensorIoTest, NpyHeaderErrors) {
  const std::string four = std::string(4, '\0');
  auto hdr = [&](const std::string& dict, const std::string& data) { return write("bad.npy", npy_bytes(dict, data)); };
  const StatusCode bad = StatusCode::invalid_input, unsup = StatusCode::unsupported;

  expect_error(read_tensor_file(hdr("{'descr': '<f4', 'fortran_order': True, 'shape': (1,), }", four)), unsup, "bad.npy",
               "fortran_order");
  expect_error(read_tensor_file(hdr("{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }", four)), unsup,
               "bad.npy", "big-endian");
  expect_error(read_tensor_file(hdr("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }", four + four)), unsup,
               "bad.npy", "'<f8'");
  expect_error(read_tensor_file(hdr("{'descr': '<f2', 'fortran_order': False, 'shape': (2,), }", four)), unsup,
               "bad.npy", "'<f2'");
  expect_error(read_tensor_file(hdr("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }", four)),
               unsup, "bad.npy", "structured");
  expect_error(read_tensor_file(hdr("{'descr': '<f4', 'shape': (1,), }", four)), bad, "bad.npy", "fortran_order");
  expect_error(read_tensor_file(hdr("{'descr': '<f4', 'fortran_order': False, }", four)), bad, "bad.npy", "shape");
  expect_error(read_tensor_file(hdr("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", four)),
               bad, "bad.npy", "twice");
  expect_error(read_tensor_file(hdr("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}", four)), bad,
               "bad.npy", "'x'");
  expect_error(read_tensor_file(hdr("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }", four)), bad,
               "bad.npy", "negative");
  expect_error(read_tensor_file(hdr("{'descr': '<f4', 'fortran_order': False, 'shape': [1], }", four)), bad, "bad.npy",
               "tuple");
  expect_error(read_tensor_file(hdr("{'descr': '<f4', 'fortran_order': Nope, 'shape': (1,), }", four)), bad,
               "bad.npy", "True or False");
  expect_error(read_tensor_file(hdr("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), } trailing", four)), bad,
               "bad.npy", "after the header");
  expect_error(read_tensor_file(hdr("{'descr': '<f4, 'fortran_order': False, 'shape': (1,)}", four)), bad, "bad.npy",
               "npy header");
  expect_error(read_tensor_file(hdr("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }", four)),
               bad, "bad.npy", "overflow");
  expect_error(read_tensor_file(hdr("not a dict", four)), bad, "bad.npy", "npy header");
  expect_error(read_tensor_file(hdr("", four)), bad, "bad.npy", "npy header");

  // Shape larger than the data present, and data left over.
  expect_error(read_tensor_file(hdr("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", four)), bad,
               "bad.npy", "needs 24 data bytes, the file has 4");
  expect_error(read_tensor_file(hdr("{'descr': '<f4', 'fortran_order': False, 'shape': (0,), }", four)), bad,
               "bad.npy", "needs 0 data bytes, the file has 4");
  // Absurd shapes stop at the memory cap before any allocation.
  expect_error(read_tensor_file(hdr("{'descr': '<f4', 'fortran_order': False, 'shape': (4000000000, 4000000000), }", four)),
               bad, "bad.npy", "memory cap");
  Limits small;
  small.max_tensor_bytes = 1024;
  expect_error(read_tensor_file(hdr("{'descr': '<f4', 'fortran_order': False, 'shape': (257,), }", std::string(1028, 'x')),
                                small),
               bad, "bad.npy", "memory cap");
  small.max_rank = 2;
  expect_error(read_tensor_file(hdr("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 1), }", four), small),
               bad, "bad.npy", "rank");

  // Preamble problems.
  expect_error(read_tensor_file(write("magic.npy", "\x93NUMPZ\x01\x00\x10\x00{}")), bad, "magic.npy", "bad magic");
  expect_error(read_tensor_file(write("text.npy", "hello, I am text\n")), bad, "text.npy", "bad magic");
  expect_error(read_tensor_file(write("empty.npy", "")), bad, "empty.npy", "bad magic");
  expect_error(read_tensor_file(write("short.npy", "\x93NUM")), bad, "short.npy", "truncated");
  std::string v4 = npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", four);
  v4[6] = 4;
  expect_error(read_tensor_file(write("v4.npy", v4)), unsup, "v4.npy", "version 4.0");
  std::string long_header = npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", four);
  long_header[8] = '\xff';
  long_header[9] = '\x7f';
  expect_error(read_tensor_file(write("len.npy", long_header)), bad, "len.npy", "only");
}

TEST_F(TensorIoTest, EveryTruncationIsAnErrorNeverACrash) {
  const std::string full = encode_npy(Tensor::from_vector<float>({2, 3}, {1, 2, 3, 4, 5, 6}));
  for (size_t n = 0; n < full.size(); ++n) {
    auto r = parse_npy(full.substr(0, n), "cut.npy");
    EXPECT_FALSE(r) << "prefix of " << n << " bytes was accepted";
    if (!r) {
      EXPECT_NE(r.status().message().find("cut.npy"), std::string::npos);
    }
  }
  EXPECT_TRUE(parse_npy(full, "cut.npy"));
  EXPECT_FALSE(read_tensor_file(write("cut.npy", full.substr(0, full.size() - 1))));
}

TEST_F(TensorIoTest, GarbageNeverCrashes) {
  std::mt19937 rng(1234);
  const std::string valid = encode_npy(Tensor::from_vector<int32_t>({3}, {1, 2, 3}));
  Limits small;
  small.max_tensor_bytes = 1 << 20;
  for (int trial = 0; trial < 20000; ++trial) {
    std::string bytes = valid;
    // Flip a few random bytes of a valid file (mostly in the header), or write pure noise.
    if (trial % 4 == 0) {
      bytes.resize(rng() % 200);
      for (char& c : bytes) c = static_cast<char>(rng());
      if (trial % 8 == 0 && bytes.size() >= 6) bytes.replace(0, 6, "\x93NUMPY");
    } else {
      for (int k = 0; k < 1 + trial % 5; ++k) bytes[rng() % 80] = static_cast<char>(rng());
    }
    // In memory: the file path is covered elsewhere, and file creation is slow on some disks.
    (void)parse_npy(bytes, "g.npy", small);
    (void)parse_tensor_pb(bytes, "g.pb", small);
    (void)parse_npz(bytes, "g.npz", small);
  }
  // Archives with flipped bytes (headers, central directory, deflate stream).
  const std::string zip = make_zip({{"a.npy", valid}, {"b.npy", valid}}, true);
  for (int trial = 0; trial < 3000; ++trial) {
    std::string bytes = zip;
    for (int k = 0; k < 1 + trial % 4; ++k) bytes[rng() % bytes.size()] = static_cast<char>(rng());
    (void)parse_npz(bytes, "g.npz", small);
  }
  SUCCEED();
}

TEST_F(TensorIoTest, NpzStoredAndDeflated) {
  const std::string f32 = npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }",
                                    std::string("\x00\x00\xc0\x3f\x00\x00\x00\xc0", 8));  // 1.5, -2
  const std::string u8 = npy_bytes("{'descr': '|u1', 'fortran_order': False, 'shape': (2, 2), }", "\x01\x02\x03\xff");
  for (bool deflate : {false, true}) {
    SCOPED_TRACE(deflate ? "deflated" : "stored");
    const std::string p = write("a.npz", make_zip({{"x.npy", f32}, {"mask.npy", u8}}, deflate));
    auto members = read_npz(p);
    ASSERT_TRUE(members) << members.status().message();
    ASSERT_EQ(members->size(), 2u);
    EXPECT_EQ((*members)[0].first, "x");
    EXPECT_EQ((*members)[0].second.data<float>()[0], 1.5f);
    EXPECT_EQ((*members)[0].second.data<float>()[1], -2.0f);
    EXPECT_EQ((*members)[1].first, "mask");
    EXPECT_EQ((*members)[1].second.shape, (Shape{2, 2}));
    EXPECT_EQ((*members)[1].second.data<uint8_t>()[3], 255);
  }
  // A large, compressible member exercises multi-chunk inflation.
  const std::string zeros = npy_bytes("{'descr': '<i4', 'fortran_order': False, 'shape': (100000,), }",
                                      std::string(400000, '\0'));
  auto big = read_npz(write("big.npz", make_zip({{"z.npy", zeros}}, true)));
  ASSERT_TRUE(big) << big.status().message();
  EXPECT_EQ((*big)[0].second.numel(), 100000);
}

void expect_npz_error(const Result<NamedTensors>& r, const std::string& file, const std::string& fragment) {
  ASSERT_FALSE(r) << "expected an error mentioning: " << fragment;
  EXPECT_NE(r.status().code(), StatusCode::internal) << r.status().message();
  EXPECT_NE(r.status().message().find(file), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find(fragment), std::string::npos) << r.status().message();
  EXPECT_EQ(r.status().message().find('\n'), std::string::npos) << r.status().message();
}

TEST_F(TensorIoTest, NpzErrors) {
  const std::string good = npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", std::string(4, '\0'));
  const std::string bad = npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (9,), }", std::string(4, '\0'));
  expect_npz_error(read_npz(write("m.npz", make_zip({{"x.npy", good}, {"y.npy", bad}}, true))), "m.npz",
                   "member 'y.npy': shape [9] of f32 needs 36 data bytes");
  expect_npz_error(read_npz(write("t.npz", make_zip({{"notes.txt", "hi"}}, false))), "t.npz", "not an .npy");
  expect_npz_error(read_npz(write("g.npz", "this is not a zip file")), "g.npz", "not a valid .npz");
  expect_npz_error(read_npz(path("missing.npz")), "missing.npz", "cannot open");

  // Every truncation of a valid archive is an error.
  const std::string zip = make_zip({{"x.npy", good}}, true);
  for (size_t n = 0; n < zip.size(); ++n) {
    auto r = parse_npz(zip.substr(0, n), "cut.npz");
    EXPECT_FALSE(r) << "prefix of " << n << " bytes was accepted";
  }

  // Corrupt deflate data (flip bytes in the member's compressed stream): CRC or inflate error.
  const std::string big = npy_bytes("{'descr': '<i4', 'fortran_order': False, 'shape': (1000,), }", std::string(4000, 'a'));
  std::string corrupt = make_zip({{"x.npy", big}}, true);
  for (size_t i = 40; i < 60; ++i) corrupt[i] = static_cast<char>(corrupt[i] ^ 0x5a);
  expect_npz_error(read_npz(write("crc.npz", corrupt)), "crc.npz", "member 'x.npy'");
}

// Overwrites the 4-byte little-endian field at `offset` of every record with `signature`.
void patch_u32_after(std::string& zip, const std::string& signature, size_t offset, uint32_t value) {
  for (size_t pos = zip.find(signature); pos != std::string::npos; pos = zip.find(signature, pos + 1))
    for (size_t i = 0; i < 4; ++i) zip[pos + offset + i] = static_cast<char>((value >> (8 * i)) & 0xff);
}

TEST_F(TensorIoTest, NpzLyingSizesAreCaughtBeforeAllocating) {
  const std::string good = npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", std::string(16, '\0'));
  // A member whose declared uncompressed size is far beyond the limit (a zip bomb's claim).
  std::string bomb = make_zip({{"x.npy", good}}, true);
  patch_u32_after(bomb, std::string("PK\x01\x02", 4), 24, 0xfffffff0u);  // central directory
  patch_u32_after(bomb, std::string("PK\x03\x04", 4), 22, 0xfffffff0u);  // local header
  Limits small;
  small.max_tensor_bytes = 1 << 20;
  expect_npz_error(read_npz(write("bomb.npz", bomb), small), "bomb.npz", "member 'x.npy': declares");

  // A member that claims fewer bytes than its stream holds.
  std::string shortened = make_zip({{"x.npy", good}}, false);
  patch_u32_after(shortened, std::string("PK\x01\x02", 4), 24, 16);
  patch_u32_after(shortened, std::string("PK\x03\x04", 4), 22, 16);
  auto r = read_npz(write("short.npz", shortened));
  EXPECT_FALSE(r);
}

TEST_F(TensorIoTest, PbErrors) {
  expect_error(read_tensor_file(write("text.pb", "definitely not protobuf \xff\xff\xff")), StatusCode::invalid_input,
               "text.pb", "TensorProto");
  expect_error(read_tensor_file(write("empty.pb", "")), StatusCode::invalid_input, "empty.pb", "TensorProto");
  const std::string p = path("ok.pb");
  ASSERT_TRUE(write_pb(p, Tensor::from_vector<float>({2, 2}, {1, 2, 3, 4}), "t").is_ok());
  std::ifstream f(p, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  for (size_t n = 1; n < bytes.size(); ++n) EXPECT_FALSE(parse_tensor_pb(bytes.substr(0, n), "cut.pb"));
  // dims that disagree with the data.
  onnx::TensorProto proto;
  proto.set_data_type(onnx::TensorProto::FLOAT);
  proto.add_dims(5);
  proto.set_raw_data(std::string(8, '\0'));
  expect_error(read_tensor_file(write("dims.pb", proto.SerializeAsString())), StatusCode::invalid_input, "dims.pb",
               "raw_data");
  proto.set_data_type(onnx::TensorProto::DOUBLE);
  expect_error(read_tensor_file(write("f64.pb", proto.SerializeAsString())), StatusCode::unsupported, "f64.pb",
               "double");
}

TEST_F(TensorIoTest, FormatDetectionAndFileErrors) {
  const std::string npy = encode_npy(Tensor::scalar<float>(1.0f));
  // The magic wins over the extension.
  auto by_magic = read_tensor_file(write("actually_npy.pb", npy));
  EXPECT_TRUE(by_magic) << by_magic.status().message();
  expect_error(read_tensor_file(write("x.bin", "abc")), StatusCode::invalid_input, "x.bin", "unknown tensor file format");
  expect_error(read_tensor_file(path("nope.npy")), StatusCode::invalid_input, "nope.npy", "cannot open");
  // numpy.savez() with no arrays: a zip holding only its end-of-central-directory record.
  const std::string empty_zip = std::string("PK\x05\x06", 4) + std::string(18, '\0');
  expect_error(read_tensor_file(write("z.npz", empty_zip)), StatusCode::invalid_input, "z.npz", ".npz");
  auto none = read_npz(path("z.npz"));
  ASSERT_TRUE(none) << none.status().message();
  EXPECT_TRUE(none->empty());
  Status s = write_npy(path("no/such/dir/x.npy"), Tensor::scalar<float>(1.0f));
  EXPECT_FALSE(s.is_ok());
  EXPECT_NE(s.message().find("no/such/dir/x.npy"), std::string::npos);
  EXPECT_EQ(write_npy(path("undefined.npy"), Tensor{}).code(), StatusCode::internal);
}

}  // namespace
}  // namespace qdrift
