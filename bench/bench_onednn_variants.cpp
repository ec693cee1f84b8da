// bench_onednn_variants: which oneDNN 2.6 primitive is fastest for each int8 layer of
// MobileNetV2, as ratios against the convolution primitive that kernels/onednn uses, measured
// in one run (docs/benchmarks.md). Not a test: never registered with ctest.
//
//   bench_onednn_variants                  # every distinct 1x1 and depthwise layer, 1 thread
//   bench_onednn_variants --threads 2 --runs 100
//
// It answers "could the int8 executor be faster with another primitive?" without touching
// the executor: for each 1x1 convolution the same problem is also timed as a matmul
// ([H*W, IC] x [IC, OC]) and as an inner product, and each expand 1x1 -> depthwise 3x3 pair
// is also timed as one convolution with oneDNN's depthwise post-op (`post_ops::append_dw`),
// which would save writing and re-reading the expanded tensor. All variants take u8 nhwc
// activations, s8 weights in the primitive's preferred layout (reordered once, outside the
// timing), s32 bias, per-channel output scales and a ReLU6-style clip, as lowered MobileNetV2
// layers do. Every line names the implementation oneDNN picked; "n/a" means oneDNN has no
// implementation for that variant on this CPU.
//
// Exit codes: 0 ok, 2 bad usage.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <CLI/CLI.hpp>
#include <dnnl.hpp>
#include <fmt/format.h>

namespace {

using dt = dnnl::memory::data_type;
using tag = dnnl::memory::format_tag;
using Args = std::unordered_map<int, dnnl::memory>;

struct Timing {
  double median_ms = 0;
  std::string impl;  // oneDNN's implementation name; empty when unavailable
};

// One layer shape of MobileNetV2 at 224x224 (a 1x1 conv, optionally followed by a dw 3x3).
struct Layer {
  std::string name;
  int64_t ic = 0, oc = 0, hw = 0;  // square spatial size of the 1x1 conv's input and output
  int dw_stride = 0;               // 0: no depthwise conv follows this 1x1 conv
};

// The inverted-residual blocks of MobileNetV2 (t = expansion, c = channels, n = repeats,
// s = stride of the first repeat), as in the paper; the stem leaves 32 channels at 112x112.
std::vector<Layer> mobilenet_v2_layers() {
  struct Block { int t, c, n, s; };
  const Block blocks[] = {{1, 16, 1, 1}, {6, 24, 2, 2},  {6, 32, 3, 2}, {6, 64, 4, 2},
                          {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1}};
  std::vector<Layer> layers;
  int64_t ch = 32, hw = 112;
  int index = 0;
  for (const Block& b : blocks) {
    for (int r = 0; r < b.n; ++r, ++index) {
      const int stride = r == 0 ? b.s : 1;
      const int64_t hidden = ch * b.t;
      if (b.t != 1) layers.push_back({fmt::format("block{}_expand", index), ch, hidden, hw, stride});
      const int64_t out_hw = hw / stride;
      layers.push_back({fmt::format("block{}_project", index), hidden, b.c, out_hw, 0});
      ch = b.c;
      hw = out_hw;
    }
  }
  layers.push_back({"head", ch, 1280, hw, 0});
  // Many blocks repeat a shape: keep one layer per distinct problem.
  std::vector<Layer> distinct;
  for (const Layer& l : layers) {
    const bool seen = std::any_of(distinct.begin(), distinct.end(), [&](const Layer& d) {
      return d.ic == l.ic && d.oc == l.oc && d.hw == l.hw && d.dw_stride == l.dw_stride;
    });
    if (!seen) distinct.push_back(l);
  }
  return distinct;
}

double median_ms_of(const std::function<void()>& run, int runs) {
  using Clock = std::chrono::steady_clock;
  run();  // warm-up: first-touch of buffers, JIT caches
  std::vector<double> ms;
  for (int i = 0; i < runs; ++i) {
    const auto t0 = Clock::now();
    run();
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

// Attributes of a lowered int8 layer: per-output-channel scales and a clip to the u8 range.
dnnl::primitive_attr int8_attr(int64_t oc, bool with_dw_post_op, int dw_stride) {
  dnnl::primitive_attr attr;
  attr.set_output_scales(/*mask=*/1 << 1, std::vector<float>(static_cast<size_t>(oc), 0.01f));
  dnnl::post_ops po;
  po.append_eltwise(1.f, dnnl::algorithm::eltwise_clip, 0.f, 255.f);
  if (with_dw_post_op) {
    po.append_dw(dt::s8, dt::s32, dt::u8, /*kernel=*/3, dw_stride, /*padding=*/1, /*mask=*/1 << 1,
                 std::vector<float>(static_cast<size_t>(oc), 0.01f));
    po.append_eltwise(1.f, dnnl::algorithm::eltwise_clip, 0.f, 255.f);
  }
  attr.set_post_ops(po);
  return attr;
}

// Memory for every argument the primitive asks for, filled with a fixed pattern so the
// timing does not depend on denormals or zero pages.
Args make_args(const dnnl::primitive_desc_base& pd, const dnnl::engine& eng, std::initializer_list<int> arg_ids) {
  Args args;
  for (int id : arg_ids) {
    const dnnl::memory::desc md = pd.query_md(dnnl::query::exec_arg_md, id);
    dnnl::memory m(md, eng);
    auto* p = static_cast<uint8_t*>(m.get_data_handle());
    for (size_t i = 0; i < md.get_size(); ++i) p[i] = static_cast<uint8_t>((i * 37 + 11) & 0x3f);
    args.emplace(id, m);
  }
  return args;
}

template <typename Primitive, typename Pd>
Timing time_primitive(const std::optional<Pd>& pd, const dnnl::engine& eng, dnnl::stream& strm, int runs,
                      std::initializer_list<int> arg_ids) {
  if (!pd) return {};
  Primitive prim(*pd);
  Args args = make_args(*pd, eng, arg_ids);
  const double ms = median_ms_of([&] { prim.execute(strm, args); strm.wait(); }, runs);
  return {ms, pd->impl_info_str()};
}

// Creates a primitive descriptor, or nothing when oneDNN has no implementation.
template <typename Pd, typename MakePd>
std::optional<Pd> try_pd(MakePd make) {
  try {
    return make();
  } catch (const dnnl::error&) {
    return std::nullopt;
  }
}

constexpr int kDwWeights = DNNL_ARG_ATTR_POST_OP_DW | DNNL_ARG_WEIGHTS;
constexpr int kDwBias = DNNL_ARG_ATTR_POST_OP_DW | DNNL_ARG_BIAS;

int64_t conv_out_size(int64_t in, int64_t kernel, int64_t stride) { return (in + 2 * (kernel / 2) - kernel) / stride + 1; }

// A square convolution with "same" padding (groups = channels for depthwise). With
// `dw_stride` > 0 the conv must be 1x1 and a depthwise 3x3 of that stride is fused after it
// as a post-op; the primitive's dst is then the depthwise output.
Timing time_conv(const dnnl::engine& eng, dnnl::stream& strm, int runs, int64_t ic, int64_t oc, int64_t hw,
                 int64_t kernel, int64_t stride, int64_t groups, int dw_stride = 0) {
  using conv = dnnl::convolution_forward;
  const int64_t pad = kernel / 2;
  int64_t out_hw = conv_out_size(hw, kernel, stride);
  if (dw_stride > 0) out_hw = conv_out_size(out_hw, 3, dw_stride);
  const dnnl::memory::desc src({1, ic, hw, hw}, dt::u8, tag::nhwc);
  const dnnl::memory::desc dst({1, oc, out_hw, out_hw}, dt::u8, tag::nhwc);
  const dnnl::memory::desc bias({oc}, dt::s32, tag::x);
  const dnnl::memory::desc wei =
      groups == 1 ? dnnl::memory::desc({oc, ic, kernel, kernel}, dt::s8, tag::any)
                  : dnnl::memory::desc({groups, oc / groups, ic / groups, kernel, kernel}, dt::s8, tag::any);
  auto pd = try_pd<conv::primitive_desc>([&] {
    return conv::primitive_desc({dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, src, wei,
                                 bias, dst, {stride, stride}, {pad, pad}, {pad, pad}},
                                int8_attr(oc, dw_stride > 0, dw_stride), eng);
  });
  if (dw_stride > 0)
    return time_primitive<conv>(pd, eng, strm, runs,
                                {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_BIAS, DNNL_ARG_DST, kDwWeights, kDwBias});
  return time_primitive<conv>(pd, eng, strm, runs, {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_BIAS, DNNL_ARG_DST});
}

// The 1x1 conv as [m, k] x [k, n]: nhwc activations are exactly a row-major [H*W, C] matrix.
Timing time_matmul(const dnnl::engine& eng, dnnl::stream& strm, int runs, int64_t m, int64_t k, int64_t n) {
  auto pd = try_pd<dnnl::matmul::primitive_desc>([&] {
    return dnnl::matmul::primitive_desc(
        {dnnl::memory::desc({m, k}, dt::u8, tag::ab), dnnl::memory::desc({k, n}, dt::s8, tag::any),
         dnnl::memory::desc({1, n}, dt::s32, tag::ab), dnnl::memory::desc({m, n}, dt::u8, tag::ab)},
        int8_attr(n, false, 0), eng);
  });
  return time_primitive<dnnl::matmul>(pd, eng, strm, runs,
                                      {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_BIAS, DNNL_ARG_DST});
}

Timing time_inner_product(const dnnl::engine& eng, dnnl::stream& strm, int runs, int64_t m, int64_t k, int64_t n) {
  using ip = dnnl::inner_product_forward;
  auto pd = try_pd<ip::primitive_desc>([&] {
    return ip::primitive_desc({dnnl::prop_kind::forward_inference, dnnl::memory::desc({m, k}, dt::u8, tag::nc),
                               dnnl::memory::desc({n, k}, dt::s8, tag::any), dnnl::memory::desc({n}, dt::s32, tag::x),
                               dnnl::memory::desc({m, n}, dt::u8, tag::nc)},
                              int8_attr(n, false, 0), eng);
  });
  return time_primitive<ip>(pd, eng, strm, runs, {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_BIAS, DNNL_ARG_DST});
}

std::string ratio_cell(const Timing& t, double baseline_ms) {
  if (t.impl.empty()) return fmt::format("{:>8}", "n/a");
  return fmt::format("{:>7.2f}x", t.median_ms / baseline_ms);
}

std::string impl_cell(const Timing& t) { return t.impl.empty() ? std::string("none") : t.impl; }

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"bench_onednn_variants: oneDNN 2.6 primitive alternatives for MobileNetV2's int8 layers, as ratios to the convolution kernels/onednn uses"};
  int runs = 50;
  int threads = 1;
  app.add_option("--runs", runs, "timed runs per variant (median reported)")->check(CLI::Range(1, 100000));
  app.add_option("--threads", threads, "OpenMP threads for oneDNN")->check(CLI::Range(1, 1024));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  omp_set_num_threads(threads);

  dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  dnnl::stream strm(eng);
  fmt::print("repro: {} --runs {} --threads {}\n", argv[0], runs, threads);
  fmt::print("oneDNN {}.{}.{}, {} thread(s); u8 nhwc src, s8 weights, s32 bias, per-channel scales, clip post-op\n\n",
             dnnl_version()->major, dnnl_version()->minor, dnnl_version()->patch, threads);

  fmt::print("1x1 convolutions: the conv primitive (baseline) vs the same problem as matmul and inner product\n");
  fmt::print("  {:<17} {:>5} {:>5} {:>5} {:>9} {:>8} {:>8}  implementations (conv / matmul / ip)\n", "layer", "ic", "oc",
             "hw", "conv ms", "matmul", "ip");
  double conv_sum = 0, best_sum = 0;
  for (const Layer& l : mobilenet_v2_layers()) {
    const int64_t m = l.hw * l.hw;
    const Timing conv = time_conv(eng, strm, runs, l.ic, l.oc, l.hw, 1, 1, 1);
    const Timing mm = time_matmul(eng, strm, runs, m, l.ic, l.oc);
    const Timing ip = time_inner_product(eng, strm, runs, m, l.ic, l.oc);
    conv_sum += conv.median_ms;
    double best = conv.median_ms;
    for (const Timing* t : {&mm, &ip})
      if (!t->impl.empty()) best = std::min(best, t->median_ms);
    best_sum += best;
    fmt::print("  {:<17} {:>5} {:>5} {:>5} {:>9.3f} {} {}  {} / {} / {}\n", l.name, l.ic, l.oc, l.hw, conv.median_ms,
               ratio_cell(mm, conv.median_ms), ratio_cell(ip, conv.median_ms), impl_cell(conv), impl_cell(mm),
               impl_cell(ip));
  }
  fmt::print("  distinct layers: conv {:.3f} ms, best of the three {:.3f} ms ({:.2f}x)\n\n", conv_sum, best_sum,
             best_sum / conv_sum);

  fmt::print("expand 1x1 -> depthwise 3x3: two conv primitives (baseline) vs one conv with the dw post-op\n");
  fmt::print("  {:<17} {:>5} {:>5} {:>5} {:>6} {:>9} {:>8}  implementation of the fused variant\n", "layer", "ic",
             "oc", "hw", "stride", "2 convs", "fused");
  for (const Layer& l : mobilenet_v2_layers()) {
    if (l.dw_stride == 0) continue;
    const Timing expand = time_conv(eng, strm, runs, l.ic, l.oc, l.hw, 1, 1, 1);
    const Timing dw = time_conv(eng, strm, runs, l.oc, l.oc, l.hw, 3, l.dw_stride, l.oc);
    const Timing fused = time_conv(eng, strm, runs, l.ic, l.oc, l.hw, 1, 1, 1, l.dw_stride);
    const double separate_ms = expand.median_ms + dw.median_ms;
    fmt::print("  {:<17} {:>5} {:>5} {:>5} {:>6} {:>9.3f} {}  {}\n", l.name, l.ic, l.oc, l.hw, l.dw_stride,
               separate_ms, ratio_cell(fused, separate_ms), impl_cell(fused));
  }
  return 0;
}
