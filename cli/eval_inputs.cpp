#include "cli/eval_inputs.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <memory>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <stb_image.h>
#include <stb_image_resize.h>

#include "core/onnx_loader.h"
#include "core/tensor_io.h"

namespace qdrift::cli {

namespace {

namespace fs = std::filesystem;

bool is_image_name(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg";
}

// The shape one input takes: the declared shape with a batch of 1.
Result<Shape> one_input_shape(const Graph& g, ValueId in) {
  const Value& v = g.value(in);
  if (!v.has_shape || v.shape.empty())
    return invalid_input("model input '{}' has no declared shape: eval needs [1, ...] to slice a batch into", v.name);
  Shape s = v.shape;
  if (s[0] != 1 && s[0] != -1)
    return invalid_input("model input '{}' has batch {} in {}: eval feeds one input at a time and needs batch 1",
                         v.name, s[0], shape_str(s));
  s[0] = 1;
  for (size_t i = 1; i < s.size(); ++i)
    if (s[i] < 0) return invalid_input("model input '{}' has an unknown dimension in {}", v.name, shape_str(v.shape));
  return s;
}

// A batch of `count` for model input `shape` ([1, d...]): [count, d...] or [count, 1, d...].
Status check_batch(const Tensor& t, const Shape& shape, DType dtype, const std::string& label, const std::string& input) {
  if (t.dtype != dtype)
    return invalid_input("{}: input '{}' is {}, the model takes {}", label, input, dtype_name(t.dtype), dtype_name(dtype));
  if (t.rank() < 1) return invalid_input("{}: a scalar has no batch axis", label);
  const Shape item(t.shape.begin() + 1, t.shape.end());
  const Shape without_batch(shape.begin() + 1, shape.end());
  if (item != without_batch && item != shape)
    return invalid_input("{}: input '{}': {} is not a batch of {} (expected [N,{}])", label, input, shape_str(t.shape),
                         shape_str(shape), fmt::join(without_batch, ","));
  return Status::ok();
}

Result<std::vector<float>> per_channel(const std::vector<float>& v, int64_t channels, std::string_view what) {
  if (v.size() == 1) return std::vector<float>(static_cast<size_t>(channels), v[0]);
  if (static_cast<int64_t>(v.size()) == channels) return v;
  return invalid_input("--{} has {} values; the model input has {} channels (give 1 or {})", what, v.size(), channels,
                       channels);
}

}  // namespace

Result<EvalInputs> EvalInputs::open(const Graph& graph, const std::string& path, const ImagePreprocess& pre,
                                    const Limits& limits) {
  EvalInputs in;
  in.pre_ = pre;
  for (ValueId v : graph.inputs) {
    QD_ASSIGN_OR_RETURN(Shape s, one_input_shape(graph, v));
    in.shapes_.push_back(std::move(s));
  }
  if (graph.inputs.empty()) return invalid_input("the model has no inputs to evaluate");

  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    if (graph.inputs.size() != 1)
      return invalid_input("{}: an image directory feeds models with one input; this one has {}", path,
                           graph.inputs.size());
    if (graph.value(graph.inputs[0]).dtype != DType::f32)
      return invalid_input("{}: images feed an f32 input; '{}' is {}", path, graph.value(graph.inputs[0]).name,
                           dtype_name(graph.value(graph.inputs[0]).dtype));
    const Shape& s = in.shapes_[0];
    if (s.size() != 4) return invalid_input("{}: images feed a rank-4 input; the model's is {}", path, shape_str(s));
    const int64_t channels = pre.layout == "nhwc" ? s[3] : s[1];
    if (channels != 1 && channels != 3)
      return invalid_input("{}: images decode to 1 or 3 channels; the model input {} has {} ({} layout)", path,
                           shape_str(s), channels, pre.layout);
    QD_ASSIGN_OR_RETURN(in.pre_.mean, per_channel(pre.mean, channels, "mean"));
    QD_ASSIGN_OR_RETURN(in.pre_.std, per_channel(pre.std, channels, "std"));
    for (float d : in.pre_.std)
      if (!(d != 0.f) || !std::isfinite(d)) return invalid_input("--std {} is not a usable divisor", d);
    for (const fs::directory_entry& e : fs::directory_iterator(path, ec))
      if (e.is_regular_file() && is_image_name(e.path())) in.images_.push_back(e.path().string());
    if (ec) return invalid_input("{}: cannot list the directory: {}", path, ec.message());
    std::sort(in.images_.begin(), in.images_.end());
    if (in.images_.empty()) return invalid_input("{}: no .png, .jpg or .jpeg files in the directory", path);
    in.count_ = static_cast<int64_t>(in.images_.size());
    return in;
  }

  std::vector<std::pair<std::string, Tensor>> members;
  if (path.size() >= 4 && path.compare(path.size() - 4, 4, ".npz") == 0) {
    QD_ASSIGN_OR_RETURN(members, read_npz(path, limits));
  } else {
    QD_ASSIGN_OR_RETURN(Tensor t, read_tensor_file(path, limits));
    if (graph.inputs.size() != 1)
      return invalid_input("{}: the model has {} inputs; give an .npz with a member per input", path, graph.inputs.size());
    members.emplace_back(graph.value(graph.inputs[0]).name, std::move(t));
  }
  for (size_t k = 0; k < graph.inputs.size(); ++k) {
    const Value& v = graph.value(graph.inputs[k]);
    auto it = std::find_if(members.begin(), members.end(), [&](const auto& m) { return m.first == v.name; });
    if (it == members.end() && members.size() == 1 && graph.inputs.size() == 1) it = members.begin();
    if (it == members.end()) return invalid_input("{}: no member '{}' for the model input of that name", path, v.name);
    QD_RETURN_IF_ERROR(check_batch(it->second, in.shapes_[k], v.dtype, path, v.name));
    const int64_t n = it->second.shape[0];
    if (k > 0 && n != in.count_)
      return invalid_input("{}: member '{}' has {} inputs, '{}' has {}", path, v.name, n,
                           graph.value(graph.inputs[0]).name, in.count_);
    in.count_ = n;
    in.batches_.push_back(std::move(it->second));
  }
  if (in.count_ == 0) return invalid_input("{}: the batch is empty", path);
  return in;
}

Result<std::vector<Tensor>> EvalInputs::feeds(int64_t i) const {
  QD_ASSERT(i >= 0 && i < count_);
  std::vector<Tensor> out;
  if (!batches_.empty()) {
    for (size_t k = 0; k < batches_.size(); ++k) {
      const Tensor& b = batches_[k];
      Tensor t = Tensor::uninitialized(b.dtype, shapes_[k]);
      const size_t bytes = t.nbytes();
      std::memcpy(t.bytes.data(), b.bytes.data() + static_cast<size_t>(i) * bytes, bytes);
      out.push_back(std::move(t));
    }
    return out;
  }

  // An image: decode, resize, crop, normalise, lay out.
  const std::string& file = images_[static_cast<size_t>(i)];
  const Shape& s = shapes_[0];
  const bool nhwc = pre_.layout == "nhwc";
  const int channels = static_cast<int>(nhwc ? s[3] : s[1]);
  const int64_t out_h = nhwc ? s[1] : s[2], out_w = nhwc ? s[2] : s[3];
  int w = 0, h = 0, file_channels = 0;
  std::unique_ptr<stbi_uc, void (*)(void*)> pixels(stbi_load(file.c_str(), &w, &h, &file_channels, channels),
                                                   stbi_image_free);
  if (!pixels) return invalid_input("{}: not a decodable PNG or JPEG image ({})", file, stbi_failure_reason());
  if (static_cast<int64_t>(w) * h > (int64_t{1} << 28)) return invalid_input("{}: {}x{} pixels is too large", file, w, h);

  // Resize: the shorter side to `resize`, else straight to the crop (or model) size.
  int64_t crop_h = pre_.crop > 0 ? pre_.crop : out_h, crop_w = pre_.crop > 0 ? pre_.crop : out_w;
  int64_t rw = crop_w, rh = crop_h;
  if (pre_.resize > 0) {
    if (w <= h) {
      rw = pre_.resize;
      rh = std::max<int64_t>(1, (static_cast<int64_t>(h) * pre_.resize + w / 2) / w);
    } else {
      rh = pre_.resize;
      rw = std::max<int64_t>(1, (static_cast<int64_t>(w) * pre_.resize + h / 2) / h);
    }
  }
  if (rw < crop_w || rh < crop_h)
    return invalid_input("{}: resized to {}x{}, smaller than the {}x{} crop", file, rw, rh, crop_w, crop_h);
  if (crop_h != out_h || crop_w != out_w)
    return invalid_input("--crop {} does not give the model's {}x{} input", pre_.crop, out_h, out_w);
  std::vector<stbi_uc> resized(static_cast<size_t>(rw * rh * channels));
  if (rw == w && rh == h) {
    std::memcpy(resized.data(), pixels.get(), resized.size());
  } else if (!stbir_resize_uint8(pixels.get(), w, h, 0, resized.data(), static_cast<int>(rw), static_cast<int>(rh), 0,
                                 channels)) {
    return invalid_input("{}: resizing {}x{} to {}x{} failed", file, w, h, rw, rh);
  }
  const int64_t y0 = (rh - crop_h) / 2, x0 = (rw - crop_w) / 2;
  Tensor t = Tensor::uninitialized(DType::f32, s);
  float* dst = t.data<float>();
  for (int64_t y = 0; y < out_h; ++y)
    for (int64_t x = 0; x < out_w; ++x)
      for (int c = 0; c < channels; ++c) {
        const float v = static_cast<float>(resized[static_cast<size_t>(((y + y0) * rw + (x + x0)) * channels + c)]);
        const float n = (v * pre_.scale - pre_.mean[static_cast<size_t>(c)]) / pre_.std[static_cast<size_t>(c)];
        const int64_t at = nhwc ? (y * out_w + x) * channels + c : (c * out_h + y) * out_w + x;
        dst[at] = n;
      }
  out.push_back(std::move(t));
  return out;
}

Result<std::vector<int64_t>> read_labels(const std::string& path, int64_t count, const Limits& limits) {
  QD_ASSIGN_OR_RETURN(std::string bytes, read_file_bytes(path, limits.max_file_bytes));
  std::vector<int64_t> labels;
  if (bytes.size() >= 6 && bytes.compare(0, 6, "\x93NUMPY") == 0) {
    QD_ASSIGN_OR_RETURN(Tensor t, parse_npy(bytes, path, limits));
    if (t.dtype != DType::s64 && t.dtype != DType::s32 && t.dtype != DType::u8 && t.dtype != DType::s8)
      return invalid_input("{}: labels must be integers, got {}", path, dtype_name(t.dtype));
    labels = t.to_int64_vector();
  } else {
    size_t line_no = 0, pos = 0;
    while (pos < bytes.size()) {
      size_t end = bytes.find('\n', pos);
      if (end == std::string::npos) end = bytes.size();
      std::string_view line(bytes.data() + pos, end - pos);
      pos = end + 1;
      ++line_no;
      while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) line.remove_suffix(1);
      while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
      if (line.empty() || line.front() == '#') continue;
      int64_t v = 0;
      const auto [p, ec] = std::from_chars(line.data(), line.data() + line.size(), v);
      if (ec != std::errc() || p != line.data() + line.size())
        return invalid_input("{}:{}: expected a class index, got '{}'", path, line_no,
                             std::string(line.substr(0, std::min<size_t>(line.size(), 40))));
      labels.push_back(v);
    }
  }
  if (static_cast<int64_t>(labels.size()) != count)
    return invalid_input("{}: {} labels for {} inputs", path, labels.size(), count);
  for (size_t i = 0; i < labels.size(); ++i)
    if (labels[i] < 0) return invalid_input("{}: label {} of input {} is negative", path, labels[i], i);
  return labels;
}

}  // namespace qdrift::cli
