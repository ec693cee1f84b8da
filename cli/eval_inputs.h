// eval_inputs.h: the input set of `qdrift eval`: an .npy/.npz with the batch on the first
// axis, or a directory of PNG/JPEG images decoded with stb and preprocessed; and its labels.
//
//   ImagePreprocess pre;  pre.resize = 256; pre.crop = 224; pre.mean = {0.485, 0.456, 0.406};
//   QD_ASSIGN_OR_RETURN(EvalInputs in, EvalInputs::open(graph, "val/", pre, limits));
//   QD_ASSIGN_OR_RETURN(std::vector<Tensor> feeds, in.feeds(17));   // one tensor per graph input
//   QD_ASSIGN_OR_RETURN(std::vector<int64_t> labels, read_labels("val.txt", in.size(), limits));
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/graph.h"
#include "core/limits.h"
#include "core/status.h"

namespace qdrift::cli {

// Image preprocessing, in this order: decode (as many channels as the model input has: 1
// grey, 3 RGB), resize the shorter side to `resize` (0: straight to the model's size when no
// crop is given), centre-crop `crop` (0: the model's size), value * scale, then
// (value - mean[c]) / std[c], laid out as the model input (nchw or nhwc).
struct ImagePreprocess {
  int64_t resize = 0;
  int64_t crop = 0;
  std::vector<float> mean = {0.f};  // one value, or one per channel
  std::vector<float> std = {1.f};
  float scale = 1.f / 255.f;
  std::string layout = "nchw";
};

class EvalInputs {
 public:
  // `path`: an .npy (single-input models), an .npz (a member per graph input), or a
  // directory of .png/.jpg/.jpeg files, taken in byte order of their names.
  static Result<EvalInputs> open(const Graph& graph, const std::string& path, const ImagePreprocess& pre,
                                 const Limits& limits);
  int64_t size() const { return count_; }
  // The graph's inputs for input i (0 <= i < size()), in graph.inputs order.
  Result<std::vector<Tensor>> feeds(int64_t i) const;
  // The image files of a directory input ("" entries otherwise).
  const std::vector<std::string>& images() const { return images_; }

 private:
  int64_t count_ = 0;
  std::vector<Shape> shapes_;       // each graph input's shape for one input
  std::vector<Tensor> batches_;     // .npy/.npz: per graph input, the batch on axis 0
  std::vector<std::string> images_;
  ImagePreprocess pre_;
};

// Class indices, one per input: an .npy of integers (any shape with `count` elements), or a
// text file with one integer per line (blank lines and lines starting with '#' skipped).
Result<std::vector<int64_t>> read_labels(const std::string& path, int64_t count, const Limits& limits);

}  // namespace qdrift::cli
