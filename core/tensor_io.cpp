#include "core/tensor_io.h"

#include <algorithm>
#include <bit>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <optional>
#include <set>

#include <onnx/onnx_pb.h>
#include <zip.h>

#include "core/onnx_loader.h"
#include "core/onnx_tensor.h"

namespace qdrift {

static_assert(std::endian::native == std::endian::little, "tensor files are read as little-endian in place");

namespace {

constexpr std::string_view kNpyMagic{"\x93NUMPY", 6};
// A real header is under 200 bytes; anything this large is hostile or a dtype we reject.
constexpr uint32_t kMaxNpyHeaderBytes = 1u << 20;

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// Names from a file (zip members, header text) are shown in one-line messages: keep
// control characters out of them and cap their length.
std::string printable(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 200)) out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? '?' : c;
  if (s.size() > 200) out += "...";
  return out;
}

std::string lowercase_extension(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  const size_t dot = path.find_last_of('.');
  if (dot == std::string::npos || (slash != std::string::npos && dot < slash)) return {};
  std::string ext = path.substr(dot);
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext;
}

// --- .npy header: a Python dict literal ---------------------------------------------
// {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }   padded with spaces, '\n'

struct NpyHeader {
  std::string descr;
  bool fortran_order = false;
  Shape shape;
};

class NpyHeaderParser {
 public:
  NpyHeaderParser(std::string_view text, const Limits& limits) : s_(text), limits_(limits) {}

  Result<NpyHeader> parse() {
    NpyHeader h;
    bool has_descr = false, has_order = false, has_shape = false;
    skip_ws();
    if (!eat('{')) return error("expected '{{' opening the header dict");
    while (true) {
      skip_ws();
      if (eat('}')) break;
      QD_ASSIGN_OR_RETURN(std::string key, parse_string());
      skip_ws();
      if (!eat(':')) return error("expected ':' after key '{}'", printable(key));
      skip_ws();
      if (key == "descr") {
        if (has_descr) return error("key 'descr' appears twice");
        if (peek() == '[') return unsupported("npy header: 'descr': structured dtypes (record arrays) are not supported");
        QD_ASSIGN_OR_RETURN(h.descr, parse_string());
        has_descr = true;
      } else if (key == "fortran_order") {
        if (has_order) return error("key 'fortran_order' appears twice");
        QD_ASSIGN_OR_RETURN(h.fortran_order, parse_bool());
        has_order = true;
      } else if (key == "shape") {
        if (has_shape) return error("key 'shape' appears twice");
        QD_ASSIGN_OR_RETURN(h.shape, parse_shape());
        has_shape = true;
      } else {
        return error("unexpected key '{}' (an .npy header has 'descr', 'fortran_order' and 'shape')",
                     printable(key));
      }
      skip_ws();
      if (eat(',')) continue;
      if (eat('}')) break;
      return error("expected ',' or '}}' after the value of '{}'", printable(key));
    }
    skip_ws();
    if (pos_ != s_.size()) return error("unexpected text after the header dict");
    if (!has_descr) return invalid_input("npy header: missing key 'descr'");
    if (!has_order) return invalid_input("npy header: missing key 'fortran_order'");
    if (!has_shape) return invalid_input("npy header: missing key 'shape'");
    return h;
  }

 private:
  template <typename... Args>
  Status error(fmt::format_string<Args...> f, Args&&... args) const {
    return invalid_input("npy header: {} (at header byte {})", fmt::format(f, std::forward<Args>(args)...), pos_);
  }
  char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
  bool eat(char c) {
    if (pos_ >= s_.size() || s_[pos_] != c) return false;
    ++pos_;
    return true;
  }
  void skip_ws() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) ++pos_;
  }

  Result<std::string> parse_string() {
    const char quote = peek();
    if (quote != '\'' && quote != '"') return error("expected a quoted string");
    ++pos_;
    const size_t end = s_.find(quote, pos_);
    if (end == std::string_view::npos) return error("unterminated string");
    std::string_view body = s_.substr(pos_, end - pos_);
    if (body.find('\\') != std::string_view::npos) return error("escape sequences are not supported in strings");
    pos_ = end + 1;
    return std::string(body);
  }

  Result<bool> parse_bool() {
    if (s_.substr(pos_, 4) == "True") { pos_ += 4; return true; }
    if (s_.substr(pos_, 5) == "False") { pos_ += 5; return false; }
    return error("'fortran_order' must be True or False");
  }

  Result<Shape> parse_shape() {
    if (!eat('(')) return error("'shape' must be a tuple of integers");
    Shape shape;
    skip_ws();
    if (eat(')')) return shape;  // () is a scalar
    while (true) {
      skip_ws();
      if (peek() == '-') return error("'shape' has a negative dimension");
      if (peek() < '0' || peek() > '9') return error("'shape' must be a tuple of integers");
      int64_t d = 0;
      while (peek() >= '0' && peek() <= '9') {
        const int digit = peek() - '0';
        if (d > (std::numeric_limits<int64_t>::max() - digit) / 10) return error("'shape' dimension overflows int64");
        d = d * 10 + digit;
        ++pos_;
      }
      eat('L');  // Python 2 numpy wrote longs as "3L"
      if (static_cast<int>(shape.size()) >= limits_.max_rank)
        return error("'shape' has more than {} dimensions (rank limit)", limits_.max_rank);
      shape.push_back(d);
      skip_ws();
      if (eat(')')) return shape;
      if (!eat(',')) return error("expected ',' or ')' in 'shape'");
      skip_ws();
      if (eat(')')) return shape;
    }
  }

  std::string_view s_;
  const Limits& limits_;
  size_t pos_ = 0;
};

// '<f4', '|i1', '|u1', '<i4', '<i8', '|b1', '?' -> DType.
Result<DType> npy_dtype(const std::string& descr) {
  std::string_view code = descr;
  char order = '=';  // native (little-endian here) when no byte-order character is given
  if (!code.empty() && (code[0] == '<' || code[0] == '>' || code[0] == '|' || code[0] == '=')) {
    order = code[0];
    code.remove_prefix(1);
  }
  std::optional<DType> t;
  if (code == "f4") t = DType::f32;
  else if (code == "i1") t = DType::s8;
  else if (code == "u1") t = DType::u8;
  else if (code == "i4") t = DType::s32;
  else if (code == "i8") t = DType::s64;
  else if (code == "b1" || code == "?") t = DType::boolean;
  if (!t)
    return unsupported("npy header: 'descr' '{}' is not a supported dtype (qdrift reads <f4, |i1, |u1, <i4, <i8, |b1)",
                       printable(descr));
  if (dtype_size(*t) > 1) {
    if (order == '>')
      return unsupported("npy header: 'descr' '{}' is big-endian; qdrift reads little-endian data "
                         "(convert with a.astype(a.dtype.newbyteorder('<')))",
                         printable(descr));
    if (order == '|') return invalid_input("npy header: 'descr' '{}' has no byte order for a multi-byte type", descr);
  }
  return *t;
}

uint32_t read_le(std::string_view bytes, size_t offset, size_t n) {
  uint32_t v = 0;
  for (size_t i = 0; i < n; ++i) v |= static_cast<uint32_t>(static_cast<unsigned char>(bytes[offset + i])) << (8 * i);
  return v;
}

Result<Tensor> parse_npy_impl(std::string_view bytes, const Limits& limits) {
  const size_t magic_present = std::min(bytes.size(), kNpyMagic.size());
  if (bytes.empty() || bytes.substr(0, magic_present) != kNpyMagic.substr(0, magic_present))
    return invalid_input("bad magic: not an .npy file (it should start with \\x93NUMPY)");
  if (bytes.size() < 10) return invalid_input("truncated .npy preamble ({} bytes)", bytes.size());
  const int major = static_cast<unsigned char>(bytes[6]);
  const int minor = static_cast<unsigned char>(bytes[7]);
  if ((major != 1 && major != 2 && major != 3) || minor != 0)
    return unsupported("npy format version {}.{} is not supported (qdrift reads 1.0, 2.0 and 3.0)", major, minor);
  const size_t preamble = major == 1 ? 10 : 12;
  if (bytes.size() < preamble) return invalid_input("truncated .npy preamble ({} bytes)", bytes.size());
  const uint32_t header_len = read_le(bytes, 8, major == 1 ? 2 : 4);
  if (header_len > bytes.size() - preamble)
    return invalid_input("npy header declares {} bytes, only {} follow the preamble (truncated file?)", header_len,
                         bytes.size() - preamble);
  if (header_len > kMaxNpyHeaderBytes)
    return invalid_input("npy header declares {} bytes, more than the limit {}", header_len, kMaxNpyHeaderBytes);

  NpyHeaderParser parser(bytes.substr(preamble, header_len), limits);
  QD_ASSIGN_OR_RETURN(NpyHeader header, parser.parse());
  QD_ASSIGN_OR_RETURN(DType dtype, npy_dtype(header.descr));
  if (header.fortran_order)
    return unsupported("npy header: 'fortran_order' is True; qdrift reads C-order arrays "
                       "(save np.ascontiguousarray(a))");
  const Shape& shape = header.shape;
  const int64_t elem = static_cast<int64_t>(dtype_size(dtype));
  auto numel = checked_numel(shape, limits.max_tensor_bytes / elem);
  if (!numel) return numel.status().with_context("npy header: 'shape'");
  const size_t data_offset = preamble + header_len;
  const uint64_t present = bytes.size() - data_offset;
  const uint64_t needed = static_cast<uint64_t>(*numel) * static_cast<uint64_t>(elem);
  if (present != needed)
    return invalid_input("shape {} of {} needs {} data bytes, the file has {}{}", shape_str(shape), dtype_name(dtype),
                         needed, present, present < needed ? " (truncated?)" : "");

  Tensor t = Tensor::zeros(dtype, shape);
  if (!t.bytes.empty()) std::memcpy(t.bytes.data(), bytes.data() + data_offset, t.bytes.size());
  if (dtype == DType::boolean)  // only 0 and 1 are valid bools; normalize anything else
    for (auto& b : t.bytes) b = std::byte{b != std::byte{0} ? uint8_t{1} : uint8_t{0}};
  return t;
}

std::string_view npy_descr(DType t) {
  switch (t) {
    case DType::f32: return "<f4";
    case DType::s8: return "|i1";
    case DType::u8: return "|u1";
    case DType::s32: return "<i4";
    case DType::s64: return "<i8";
    case DType::boolean: return "|b1";
    default: break;
  }
  QD_ASSERT(false && "tensor without a dtype");
  return {};
}

// --- .npz: a zip of .npy members ------------------------------------------------------

struct ZipArchive {
  zip_t* archive = nullptr;
  ~ZipArchive() {
    if (archive) zip_discard(archive);
  }
};
struct ZipFile {
  zip_file_t* file = nullptr;
  ~ZipFile() {
    if (file) zip_fclose(file);
  }
};

Result<NamedTensors> parse_npz_impl(std::string_view bytes, const Limits& limits) {
  if (bytes.empty()) return invalid_input("empty file, not an .npz archive");
  zip_error_t err;
  zip_error_init(&err);
  zip_source_t* src = zip_source_buffer_create(bytes.data(), bytes.size(), 0, &err);
  if (!src) {
    Status s = internal_error("cannot open the archive buffer: {}", zip_error_strerror(&err));
    zip_error_fini(&err);
    return s;
  }
  ZipArchive za;
  za.archive = zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &err);
  if (!za.archive) {
    zip_source_free(src);
    Status s = invalid_input("not a valid .npz (zip) archive: {}", zip_error_strerror(&err));
    zip_error_fini(&err);
    return s;
  }
  zip_error_fini(&err);

  const zip_int64_t count = zip_get_num_entries(za.archive, 0);
  if (count < 0) return invalid_input("cannot list the archive's members");
  NamedTensors out;
  std::set<std::string> keys;
  uint64_t budget = static_cast<uint64_t>(limits.max_tensor_bytes) + kMaxNpyHeaderBytes;
  for (zip_int64_t i = 0; i < count; ++i) {
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_stat_index(za.archive, static_cast<zip_uint64_t>(i), 0, &st) != 0 || !(st.valid & ZIP_STAT_NAME))
      return invalid_input("member #{}: unreadable directory entry: {}", i, zip_strerror(za.archive));
    const std::string name = st.name;
    const std::string label = fmt::format("member '{}'", printable(name));
    if (!ends_with(name, ".npy"))
      return invalid_input("{}: not an .npy file (an .npz holds only .npy members)", label);
    if (!(st.valid & ZIP_STAT_SIZE)) return invalid_input("{}: no uncompressed size", label);
    if ((st.valid & ZIP_STAT_ENCRYPTION_METHOD) && st.encryption_method != ZIP_EM_NONE)
      return unsupported("{}: encrypted members are not supported", label);
    if ((st.valid & ZIP_STAT_COMP_METHOD) && st.comp_method != ZIP_CM_STORE && st.comp_method != ZIP_CM_DEFLATE)
      return unsupported("{}: compression method {} is not supported (qdrift reads stored and deflated members)",
                         label, st.comp_method);
    // The declared size is untrusted: cap it before allocating, then insist the stream
    // delivers exactly that many bytes.
    if (st.size > budget)
      return invalid_input("{}: declares {} bytes, more than the remaining limit {} (limit max_tensor_bytes)", label,
                           st.size, budget);
    budget -= st.size;
    const std::string key = name.substr(0, name.size() - 4);
    if (!keys.insert(key).second) return invalid_input("{}: the key '{}' appears twice", label, printable(key));

    ZipFile f;
    f.file = zip_fopen_index(za.archive, static_cast<zip_uint64_t>(i), 0);
    if (!f.file) return invalid_input("{}: cannot open: {}", label, zip_strerror(za.archive));
    std::string data(static_cast<size_t>(st.size), '\0');
    uint64_t got = 0;
    while (got < st.size) {
      const zip_int64_t n = zip_fread(f.file, data.data() + got, st.size - got);
      if (n < 0) return invalid_input("{}: corrupt data: {}", label, zip_file_strerror(f.file));
      if (n == 0) break;
      got += static_cast<uint64_t>(n);
    }
    if (got != st.size)
      return invalid_input("{}: declares {} bytes, the stream holds only {} (truncated archive?)", label, st.size, got);
    char extra;
    const zip_int64_t more = zip_fread(f.file, &extra, 1);  // also makes libzip verify the CRC
    if (more < 0) return invalid_input("{}: corrupt data: {}", label, zip_file_strerror(f.file));
    if (more > 0) return invalid_input("{}: holds more bytes than the {} it declares", label, st.size);

    auto t = parse_npy_impl(data, limits);
    if (!t) return t.status().with_context(label);
    out.emplace_back(key, std::move(*t));
  }
  return out;
}

}  // namespace

std::string_view tensor_file_format_name(TensorFileFormat f) {
  switch (f) {
    case TensorFileFormat::npy: return "npy";
    case TensorFileFormat::npz: return "npz";
    case TensorFileFormat::pb: return "pb";
  }
  return "?";
}

Result<TensorFileFormat> detect_tensor_file_format(const std::string& path, std::string_view bytes) {
  if (bytes.substr(0, kNpyMagic.size()) == kNpyMagic) return TensorFileFormat::npy;
  if (bytes.substr(0, 4) == std::string_view("PK\x03\x04", 4) || bytes.substr(0, 4) == std::string_view("PK\x05\x06", 4))
    return TensorFileFormat::npz;
  const std::string ext = lowercase_extension(path);
  if (ext == ".npy") return TensorFileFormat::npy;
  if (ext == ".npz") return TensorFileFormat::npz;
  if (ext == ".pb") return TensorFileFormat::pb;
  return invalid_input("{}: unknown tensor file format (qdrift reads .npy, .npz and ONNX TensorProto .pb)", path);
}

Result<Tensor> parse_npy(std::string_view bytes, const std::string& label, const Limits& limits) {
  auto t = parse_npy_impl(bytes, limits);
  if (!t) return t.status().with_context(label);
  return t;
}

Result<Tensor> read_tensor_file(const std::string& path, const Limits& limits) {
  QD_ASSIGN_OR_RETURN(std::string bytes, read_file_bytes(path, limits.max_file_bytes));
  QD_ASSIGN_OR_RETURN(TensorFileFormat format, detect_tensor_file_format(path, bytes));
  switch (format) {
    case TensorFileFormat::npy: return parse_npy(bytes, path, limits);
    case TensorFileFormat::npz:
      return invalid_input("{}: an .npz archive holds named tensors, not one tensor", path);
    case TensorFileFormat::pb: return parse_tensor_pb(bytes, path, limits);
  }
  return internal_error("{}: unhandled tensor file format", path);
}

Result<NamedTensors> parse_npz(std::string_view bytes, const std::string& label, const Limits& limits) {
  auto members = parse_npz_impl(bytes, limits);
  if (!members) return members.status().with_context(label);
  return members;
}

Result<Tensor> parse_tensor_pb(std::string_view bytes, const std::string& label, const Limits& limits) {
  onnx::TensorProto proto;
  if (bytes.empty() || bytes.size() > static_cast<size_t>(std::numeric_limits<int>::max()) ||
      !proto.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
    return invalid_input("{}: not an ONNX TensorProto (protobuf parse failed: empty, truncated or wrong format)",
                         label);
  if (proto.data_type() == onnx::TensorProto::UNDEFINED)
    return invalid_input("{}: not an ONNX TensorProto (no element type)", label);
  auto t = tensor_from_proto(proto, limits);
  if (!t) return t.status().with_context(label);
  return t;
}

Result<NamedTensors> read_npz(const std::string& path, const Limits& limits) {
  QD_ASSIGN_OR_RETURN(std::string bytes, read_file_bytes(path, limits.max_file_bytes));
  return parse_npz(bytes, path, limits);
}

std::string encode_npy(const Tensor& t) {
  QD_ASSERT(t.dtype != DType::undefined);
  QD_ASSERT(static_cast<int64_t>(t.bytes.size()) == t.numel() * static_cast<int64_t>(dtype_size(t.dtype)));
  std::string shape = "(";
  for (size_t i = 0; i < t.shape.size(); ++i) shape += fmt::format("{}{}", i ? ", " : "", t.shape[i]);
  if (t.shape.size() == 1) shape += ',';
  shape += ')';
  std::string header = fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': {}, }}", npy_descr(t.dtype), shape);
  // numpy pads the header with spaces and ends it with '\n' so the data starts 64-aligned.
  size_t preamble = 10;
  if (preamble + header.size() + 1 > 65535) preamble = 12;
  const size_t total = (preamble + header.size() + 1 + 63) / 64 * 64;
  header.append(total - preamble - header.size() - 1, ' ');
  header += '\n';

  std::string out(kNpyMagic);
  out += static_cast<char>(preamble == 10 ? 1 : 2);
  out += '\0';
  const uint32_t len = static_cast<uint32_t>(header.size());
  for (size_t i = 0; i < preamble - 8; ++i) out += static_cast<char>((len >> (8 * i)) & 0xff);
  out += header;
  out.append(reinterpret_cast<const char*>(t.bytes.data()), t.bytes.size());
  return out;
}

Status write_file_bytes(const std::string& path, std::string_view bytes) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return invalid_input("{}: cannot create: {}", path, std::strerror(errno));
  const size_t written = bytes.empty() ? 0 : std::fwrite(bytes.data(), 1, bytes.size(), f);
  const int write_errno = errno;
  if (written != bytes.size()) {
    std::fclose(f);
    return invalid_input("{}: write failed: {}", path, std::strerror(write_errno));
  }
  if (std::fclose(f) != 0) return invalid_input("{}: write failed: {}", path, std::strerror(errno));
  return Status::ok();
}

Status write_npy(const std::string& path, const Tensor& t) {
  if (t.dtype == DType::undefined) return internal_error("{}: cannot write a tensor without a dtype", path);
  return write_file_bytes(path, encode_npy(t));
}

Status write_pb(const std::string& path, const Tensor& t, const std::string& name) {
  if (t.dtype == DType::undefined) return internal_error("{}: cannot write a tensor without a dtype", path);
  std::string bytes;
  if (!tensor_to_proto(t, name).SerializeToString(&bytes))
    return internal_error("{}: cannot serialize tensor '{}' (larger than protobuf's 2 GiB limit?)", path, name);
  return write_file_bytes(path, bytes);
}

}  // namespace qdrift
