// tensor_io.h: tensor files: NumPy .npy / .npz and ONNX TensorProto .pb.
//
//   Result<Tensor> x = read_tensor_file("x.npy", limits);   // .npy or .pb, by magic or extension
//   if (!x) return x.status();                               // "x.npy: npy header: ..."
//   auto members = read_npz("inputs.npz", limits);          // [("x", Tensor), ...] in archive order
//   QD_RETURN_IF_ERROR(write_npy("dump/conv1_out.npy", *x));
//   QD_RETURN_IF_ERROR(write_pb("out/output_0.pb", *x, "y"));
//
// Files are untrusted: every declared size (header length, shape, element count, zip
// member size) is checked against the bytes present and against Limits before anything
// is allocated. Every error is one line that starts with the file (and member) name.
//
// .npy: format versions 1.0, 2.0 and 3.0; C order; little-endian dtypes <f4, |i1, |u1,
// <i4, <i8 and |b1 ('?'). Fortran order, big-endian data and other dtypes are rejected
// as unsupported, naming the field. .npz: a zip of .npy members (stored or deflated),
// keyed by member name without ".npy", as numpy.savez writes them.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/limits.h"
#include "core/tensor.h"

namespace qdrift {

enum class TensorFileFormat { npy, npz, pb };

std::string_view tensor_file_format_name(TensorFileFormat f);  // "npy", "npz", "pb"

// The format of a file's bytes: the magic decides (.npy "\x93NUMPY", zip "PK"), else the
// path's extension (.npy, .npz, .pb). TensorProto has no magic, so .pb needs its extension.
Result<TensorFileFormat> detect_tensor_file_format(const std::string& path, std::string_view bytes);

// One tensor from a .npy or .pb file. An .npz holds named tensors: use read_npz.
Result<Tensor> read_tensor_file(const std::string& path, const Limits& limits = {});

// The members of an .npz archive in archive order, keys without the ".npy" suffix.
// The sum of the members' sizes is capped at limits.max_tensor_bytes (zip bombs).
using NamedTensors = std::vector<std::pair<std::string, Tensor>>;
Result<NamedTensors> read_npz(const std::string& path, const Limits& limits = {});

// The same from bytes held in memory (tests, fuzzing); `label` stands in for the path.
Result<Tensor> parse_npy(std::string_view bytes, const std::string& label, const Limits& limits = {});
Result<NamedTensors> parse_npz(std::string_view bytes, const std::string& label, const Limits& limits = {});
Result<Tensor> parse_tensor_pb(std::string_view bytes, const std::string& label, const Limits& limits = {});

// The .npy bytes of a tensor (version 1.0, or 2.0 when the header needs it; 64-byte aligned).
std::string encode_npy(const Tensor& t);

Status write_npy(const std::string& path, const Tensor& t);
// An ONNX TensorProto with raw_data, as in ONNX test data (test_data_set_0/output_0.pb).
Status write_pb(const std::string& path, const Tensor& t, const std::string& name);
// Writes (replaces) a whole file; the message names the path and the OS error.
Status write_file_bytes(const std::string& path, std::string_view bytes);

}  // namespace qdrift
