#!/usr/bin/python3
"""Trains qdrift's real QAT test models with PyTorch and exports them as ONNX QDQ.

    /usr/bin/python3 testdata/gen/make_qat_models.py [mbv3|resnet|transformer ...]

Debian 12 packages: python3-torch, python3-onnx, python3-sklearn (the 8x8 digits ship inside
scikit-learn: no download). Fixed seeds, one thread: reruns give the same models.

Each model is trained in fp32, then fine-tuned quantization-aware (fake quantization with a
straight-through estimator), then exported by this script with onnx.helper as a standard QDQ
graph: QuantizeLinear/DequantizeLinear pairs on activations (u8 with a zero point, or s8
symmetric), s8 weights per output channel through DequantizeLinear(axis), int32 biases with
scale s_x * s_w. Writes, into testdata/qat/:

  <name>.onnx            the QDQ model, batch 1
  <name>_inputs.npy      300 held-out inputs, batch on the first axis (f32)
  <name>_labels.npy      their class indices (int64)
  <name>_fq_logits.npy   PyTorch's fake-quant logits of the first 16 inputs (an independent
                         reference for qdrift's reference executor)

Models:
  mbv3         MobileNetV3-style on the digits (1x8x8): stem conv + HardSwish, inverted residual
               blocks with depthwise convs, squeeze-and-excitation (left in float, as Paddle's
               deployment skips it: GlobalAveragePool, 1x1 convs, Relu, HardSigmoid, Mul),
               PACT clipping (a learned Clip(-a, a), or Clip(0, a) after Relu) before each
               activation fake-quant with scale a/127 (s8), BatchNormalization folded into
               the convolutions before fine-tuning. Input u8 with a zero point.
  resnet       ResNet-style on the digits: stem conv, basic blocks (conv-relu-conv, residual
               Add, Relu; a strided block with a 1x1 projection), GlobalAveragePool, Gemm.
               Activations u8 from min/max observers (EMA during fine-tuning), BN folded.
  transformer  one pre-LN transformer encoder layer on a toy sequence task: 12 one-hot tokens
               of 8 symbols, the class is the symbol that occurs most often. Embedding and
               every projection a quantized MatMul with s8 per-column weights and a float bias
               Add; attention scores and the context are MatMuls of two fake-quantized
               activations; Softmax (u8 probabilities, scale 1/255), LayerNormalization
               (opset 17), Gelu as x * 0.5 * (1 + Erf(x / sqrt 2)), ReduceMean over tokens.
"""

import os
import sys

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import TensorProto, helper, numpy_helper

OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "qat")
SEED = 20261203
N_TEST = 300
N_FQ_LOGITS = 16

torch.set_num_threads(1)


# ---- data ----------------------------------------------------------------------------------

def digits():
    from sklearn.datasets import load_digits
    d = load_digits()
    x = (d.data.astype(np.float32) / 16.0 - 0.5) / 0.5  # [0,16] -> [-1,1]
    x = x.reshape(-1, 1, 8, 8)
    y = d.target.astype(np.int64)
    perm = np.random.RandomState(SEED).permutation(len(y))
    test, train = perm[:N_TEST], perm[N_TEST:]
    return x[train], y[train], x[test], y[test]


SEQ_LEN, VOCAB = 12, 8


def majority_sequences(rng, n):
    xs, ys = [], []
    while len(ys) < n:
        toks = rng.randint(0, VOCAB, size=SEQ_LEN)
        counts = np.bincount(toks, minlength=VOCAB)
        if (counts == counts.max()).sum() != 1:
            continue  # the majority must be unique
        xs.append(np.eye(VOCAB, dtype=np.float32)[toks])
        ys.append(int(counts.argmax()))
    return np.stack(xs), np.array(ys, dtype=np.int64)


def sequences():
    rng = np.random.RandomState(SEED)
    xtr, ytr = majority_sequences(rng, 6000)
    xte, yte = majority_sequences(rng, N_TEST)
    return xtr, ytr, xte, yte


# ---- fake quantization (ONNX semantics: divide, round half to even, saturate) ---------------

class RoundSTE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return torch.round(x)  # half to even, like ONNX QuantizeLinear

    @staticmethod
    def backward(ctx, g):
        return g


def fake_quant(x, scale, zp, qmin, qmax):
    q = torch.clamp(RoundSTE.apply(x / scale) + zp, qmin, qmax)
    return (q - zp) * scale


def weight_scale(w, axis):
    """s8 symmetric per output channel: max |w| / 127 along every axis but `axis`."""
    dims = [d for d in range(w.dim()) if d != axis]
    m = w.detach().abs().amax(dim=dims, keepdim=True)
    return torch.clamp(m, min=1e-8) / 127.0


def fake_quant_weight(w, axis):
    return fake_quant(w, weight_scale(w, axis), 0, -127, 127)


class ActQuant(torch.nn.Module):
    """One activation fake-quant point. kind: 'u8' (asymmetric, min/max), 's8' (symmetric,
    max |x|), 'pact' (learned Clip(-a, a), s8 scale a/127), 'pact_relu' (Clip(0, a), s8),
    'fixed_u8' (the given scale, zero point 0: Softmax probabilities)."""

    def __init__(self, kind, fixed_scale=None, alpha=4.0):
        super().__init__()
        self.kind = kind
        self.fixed_scale = fixed_scale
        self.register_buffer("lo", torch.tensor(0.0))
        self.register_buffer("hi", torch.tensor(0.0))
        self.register_buffer("seen", torch.tensor(0))
        if kind.startswith("pact"):
            self.alpha = torch.nn.Parameter(torch.tensor(float(alpha)))
        self.quantize = False

    def observe(self, x):
        lo, hi = float(x.detach().min()), float(x.detach().max())
        if int(self.seen) == 0:
            self.lo.fill_(lo)
            self.hi.fill_(hi)
        else:  # exponential moving average, as torch's and ORT's QAT observers
            self.lo.mul_(0.9).add_(0.1 * lo)
            self.hi.mul_(0.9).add_(0.1 * hi)
        self.seen += 1

    def params(self):
        """(scale, zero point, onnx dtype, clip bounds or None) in float32."""
        if self.kind == "fixed_u8":
            return np.float32(self.fixed_scale), 0, TensorProto.UINT8, None
        if self.kind.startswith("pact"):
            a = float(self.alpha.detach().abs())
            lo = 0.0 if self.kind == "pact_relu" else -a
            return np.float32(a / 127.0), 0, TensorProto.INT8, (np.float32(lo), np.float32(a))
        lo, hi = min(float(self.lo), 0.0), max(float(self.hi), 0.0)
        if self.kind == "s8":
            return np.float32(max(-lo, hi) / 127.0), 0, TensorProto.INT8, None
        scale = np.float32((hi - lo) / 255.0)
        zp = int(np.clip(np.rint(-lo / scale), 0, 255))
        return scale, zp, TensorProto.UINT8, None

    def forward(self, x):
        if self.kind.startswith("pact"):
            a = self.alpha.abs()
            if self.kind == "pact_relu":
                x = x - F.relu(x - a)  # Clip(0, a) on a Relu output; the gradient reaches a
            else:
                x = x - F.relu(x - a) + F.relu(-a - x)  # PACT: Clip(-a, a)
        elif self.training and self.kind in ("u8", "s8"):
            self.observe(x)
        if not self.quantize:
            return x
        scale, zp, dtype, _ = self.params()
        qmin, qmax = (0, 255) if dtype == TensorProto.UINT8 else (-128, 127)
        return fake_quant(x, float(scale), zp, qmin, qmax)


# ---- layers ----------------------------------------------------------------------------------

class ConvBN(torch.nn.Module):
    """Conv + BatchNormalization for fp32 training; fold() merges them into one conv with a
    bias before quantization-aware fine-tuning, as QAT exporters do."""

    def __init__(self, cin, cout, k, stride=1, group=1, bn=True):
        super().__init__()
        self.stride, self.group, self.pad = stride, group, k // 2
        self.weight = torch.nn.Parameter(torch.empty(cout, cin // group, k, k))
        torch.nn.init.kaiming_normal_(self.weight, nonlinearity="relu")
        self.bias = torch.nn.Parameter(torch.zeros(cout))
        self.bn = torch.nn.BatchNorm2d(cout) if bn else None
        self.quantize = False

    def fold(self):
        if self.bn is None:
            return
        bn = self.bn
        s = bn.weight.detach() / torch.sqrt(bn.running_var + bn.eps)
        self.weight.data = self.weight.data * s.reshape(-1, 1, 1, 1)
        self.bias.data = (self.bias.data - bn.running_mean) * s + bn.bias.detach()
        self.bn = None

    def forward(self, x):
        w = fake_quant_weight(self.weight, 0) if self.quantize else self.weight
        y = F.conv2d(x, w, self.bias, self.stride, self.pad, 1, self.group)
        return self.bn(y) if self.bn is not None else y


class Linear(torch.nn.Module):
    """y = x @ W + b with W [K, N] (MatMul weights; per-column s8 scales, axis 1)."""

    def __init__(self, k, n, quantized=True):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.randn(k, n) * (1.0 / np.sqrt(k)))
        self.bias = torch.nn.Parameter(torch.zeros(n))
        self.quantized = quantized
        self.quantize = False

    def forward(self, x):
        w = fake_quant_weight(self.weight, 1) if (self.quantize and self.quantized) else self.weight
        return x @ w + self.bias


def set_quantize(model, on):
    for m in model.modules():
        if hasattr(m, "quantize"):
            m.quantize = on


# ---- ONNX export -------------------------------------------------------------------------

class Exporter:
    def __init__(self, model):
        self.model = model
        self.nodes, self.inits = [], []
        self.qparams = {}  # DQ output name -> (scale, zero point)
        self.counter = {}

    def fresh(self, base):
        i = self.counter.get(base, 0)
        self.counter[base] = i + 1
        return base if i == 0 else f"{base}_{i}"

    def const(self, name, array):
        name = self.fresh(name)
        self.inits.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def node(self, op, inputs, out=None, **attrs):
        out = self.fresh(out or op.lower())
        self.nodes.append(helper.make_node(op, inputs, [out], name=out, **attrs))
        return out

    def qdq(self, x, aq, name):
        """[Clip (PACT)] -> QuantizeLinear -> DequantizeLinear on activation x."""
        scale, zp, dtype, clip = aq.params()
        if clip is not None:
            x = self.node("Clip", [x, self.const(name + "_clip_min", clip[0]),
                                   self.const(name + "_clip_max", clip[1])], name + "_pact")
        np_dtype = np.uint8 if dtype == TensorProto.UINT8 else np.int8
        s = self.const(name + "_scale", np.float32(scale))
        z = self.const(name + "_zero_point", np_dtype(zp))
        q = self.node("QuantizeLinear", [x, s, z], name + "_q")
        dq = self.node("DequantizeLinear", [q, s, z], name + "_dq")
        self.qparams[dq] = (np.float32(scale), zp)
        return dq

    def weight(self, w, axis, name):
        w = w.detach().numpy().astype(np.float32)
        s = weight_scale(torch.from_numpy(w), axis).numpy().astype(np.float32)
        codes = np.clip(np.rint(w / s), -127, 127).astype(np.int8)  # same float32 division as torch
        flat_s = s.reshape(-1)
        wq = self.const(name + "_w_quantized", codes)
        ws = self.const(name + "_w_scale", flat_s)
        wz = self.const(name + "_w_zero_point", np.zeros_like(flat_s, dtype=np.int8))
        return self.node("DequantizeLinear", [wq, ws, wz], name + "_w", axis=axis), flat_s

    def bias_int32(self, b, x, w_scale, name):
        sx = self.qparams[x][0]
        bs = (np.float32(sx) * w_scale).astype(np.float32)
        codes = np.rint(b.detach().numpy().astype(np.float32) / bs).astype(np.int32)
        bq = self.const(name + "_b_quantized", codes)
        bsn = self.const(name + "_b_scale", bs)
        bz = self.const(name + "_b_zero_point", np.zeros_like(codes))
        return self.node("DequantizeLinear", [bq, bsn, bz], name + "_b", axis=0)

    def conv(self, m, x, name):
        w, ws = self.weight(m.weight, 0, name)
        b = self.bias_int32(m.bias, x, ws, name)
        k = m.weight.shape[-1]
        return self.node("Conv", [x, w, b], name, kernel_shape=[k, k], strides=[m.stride, m.stride],
                         pads=[m.pad] * 4, group=m.group)

    def float_conv(self, m, x, name):
        w = self.const(name + "_weight", m.weight.detach().numpy().astype(np.float32))
        b = self.const(name + "_bias", m.bias.detach().numpy().astype(np.float32))
        k = m.weight.shape[-1]
        return self.node("Conv", [x, w, b], name, kernel_shape=[k, k], strides=[m.stride, m.stride],
                         pads=[m.pad] * 4, group=m.group)

    def linear(self, m, x, name):
        w, _ = self.weight(m.weight, 1, name)
        y = self.node("MatMul", [x, w], name)
        return self.node("Add", [y, self.const(name + "_bias", m.bias.detach().numpy().astype(np.float32))],
                         name + "_add")

    def gemm(self, m, x, name):
        """Linear as Gemm with transB (weights [N, K], per-row scales) and an int32 bias."""
        wt = m.weight.detach().t().contiguous()
        w, ws = self.weight(wt, 0, name)
        b = self.bias_int32(m.bias, x, ws, name)
        return self.node("Gemm", [x, w, b], name, transB=1)

    def save(self, path, in_shape, out_shape, opset):
        graph = helper.make_graph(
            self.nodes, os.path.basename(path)[:-5],
            [helper.make_tensor_value_info("input", TensorProto.FLOAT, in_shape)],
            [helper.make_tensor_value_info("logits", TensorProto.FLOAT, out_shape)],
            self.inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                                  producer_name="qdrift testdata/gen/make_qat_models.py")
        model.ir_version = 8
        onnx.checker.check_model(model, full_check=True)
        onnx.save(model, path)


# ---- MobileNetV3-style -----------------------------------------------------------------------

class SE(torch.nn.Module):
    def __init__(self, c, r):
        super().__init__()
        self.reduce = ConvBN(c, r, 1, bn=False)
        self.expand = ConvBN(r, c, 1, bn=False)

    def forward(self, x):
        s = F.adaptive_avg_pool2d(x, 1)
        s = F.relu(F.conv2d(s, self.reduce.weight, self.reduce.bias))
        s = F.conv2d(s, self.expand.weight, self.expand.bias)
        return x * F.hardsigmoid(s)

    def export(self, e, x, name):
        s = e.node("GlobalAveragePool", [x], name + "_pool")
        s = e.node("Relu", [e.float_conv(self.reduce, s, name + "_reduce")], name + "_relu")
        s = e.node("HardSigmoid", [e.float_conv(self.expand, s, name + "_expand")], name + "_gate",
                   alpha=1.0 / 6.0, beta=0.5)
        return e.node("Mul", [x, s], name + "_scale")


class MobileNetV3(torch.nn.Module):
    def __init__(self):
        super().__init__()
        A = ActQuant
        self.q_in = A("u8")
        self.stem, self.q_stem = ConvBN(1, 16, 3), A("pact")
        # block 1: depthwise 3x3 + Relu, SE, pointwise-linear, residual
        self.b1_dw, self.q_b1_dw = ConvBN(16, 16, 3, group=16), A("pact_relu")
        self.b1_se, self.q_b1_se = SE(16, 8), A("pact")
        self.b1_pw, self.q_b1_pw = ConvBN(16, 16, 1), A("pact")
        self.q_b1_add = A("pact")
        # block 2: expand 1x1 + HardSwish, depthwise 3x3/2 + HardSwish, SE, project 1x1
        self.b2_expand, self.q_b2_expand = ConvBN(16, 48, 1), A("pact")
        self.b2_dw, self.q_b2_dw = ConvBN(48, 48, 3, stride=2, group=48), A("pact")
        self.b2_se, self.q_b2_se = SE(48, 16), A("pact")
        self.b2_project, self.q_b2_project = ConvBN(48, 32, 1), A("pact")
        # block 3: expand + HardSwish, depthwise 3x3 + HardSwish, project, residual
        self.b3_expand, self.q_b3_expand = ConvBN(32, 64, 1), A("pact")
        self.b3_dw, self.q_b3_dw = ConvBN(64, 64, 3, group=64), A("pact")
        self.b3_project, self.q_b3_project = ConvBN(64, 32, 1), A("pact")
        self.q_b3_add = A("pact")
        self.head, self.q_head = ConvBN(32, 96, 1), A("pact")
        self.q_pool = A("s8")
        self.fc = Linear(96, 10)

    def forward(self, x):
        hs = F.hardswish
        x = self.q_in(x)
        x = self.q_stem(hs(self.stem(x)))
        r = x
        x = self.q_b1_dw(F.relu(self.b1_dw(x)))
        x = self.q_b1_se(self.b1_se(x))
        x = self.q_b1_pw(self.b1_pw(x))
        x = self.q_b1_add(x + r)
        x = self.q_b2_expand(hs(self.b2_expand(x)))
        x = self.q_b2_dw(hs(self.b2_dw(x)))
        x = self.q_b2_se(self.b2_se(x))
        x = self.q_b2_project(self.b2_project(x))
        r = x
        x = self.q_b3_expand(hs(self.b3_expand(x)))
        x = self.q_b3_dw(hs(self.b3_dw(x)))
        x = self.q_b3_project(self.b3_project(x))
        x = self.q_b3_add(x + r)
        x = self.q_head(hs(self.head(x)))
        x = self.q_pool(F.adaptive_avg_pool2d(x, 1).flatten(1))
        w = fake_quant_weight(self.fc.weight.t(), 0).t() if self.fc.quantize else self.fc.weight
        return x @ w + self.fc.bias

    def export(self, path):
        e = Exporter(self)
        x = e.qdq("input", self.q_in, "input")
        x = e.qdq(e.node("HardSwish", [e.conv(self.stem, x, "stem")], "stem_hardswish"), self.q_stem, "stem")
        r = x
        x = e.qdq(e.node("Relu", [e.conv(self.b1_dw, x, "b1_dw")], "b1_dw_relu"), self.q_b1_dw, "b1_dw")
        x = e.qdq(self.b1_se.export(e, x, "b1_se"), self.q_b1_se, "b1_se")
        x = e.qdq(e.conv(self.b1_pw, x, "b1_pw"), self.q_b1_pw, "b1_pw")
        x = e.qdq(e.node("Add", [x, r], "b1_add"), self.q_b1_add, "b1_add")
        x = e.qdq(e.node("HardSwish", [e.conv(self.b2_expand, x, "b2_expand")], "b2_expand_hardswish"),
                  self.q_b2_expand, "b2_expand")
        x = e.qdq(e.node("HardSwish", [e.conv(self.b2_dw, x, "b2_dw")], "b2_dw_hardswish"), self.q_b2_dw, "b2_dw")
        x = e.qdq(self.b2_se.export(e, x, "b2_se"), self.q_b2_se, "b2_se")
        x = e.qdq(e.conv(self.b2_project, x, "b2_project"), self.q_b2_project, "b2_project")
        r = x
        x = e.qdq(e.node("HardSwish", [e.conv(self.b3_expand, x, "b3_expand")], "b3_expand_hardswish"),
                  self.q_b3_expand, "b3_expand")
        x = e.qdq(e.node("HardSwish", [e.conv(self.b3_dw, x, "b3_dw")], "b3_dw_hardswish"), self.q_b3_dw, "b3_dw")
        x = e.qdq(e.conv(self.b3_project, x, "b3_project"), self.q_b3_project, "b3_project")
        x = e.qdq(e.node("Add", [x, r], "b3_add"), self.q_b3_add, "b3_add")
        x = e.qdq(e.node("HardSwish", [e.conv(self.head, x, "head")], "head_hardswish"), self.q_head, "head")
        x = e.node("GlobalAveragePool", [x], "pool")
        x = e.qdq(e.node("Flatten", [x], "flatten"), self.q_pool, "pool")
        e.gemm(self.fc, x, "fc")
        e.nodes[-1].output[0] = "logits"
        e.save(path, [1, 1, 8, 8], [1, 10], opset=14)


# ---- ResNet-style ------------------------------------------------------------------------------

class BasicBlock(torch.nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1, self.q1 = ConvBN(cin, cout, 3, stride), ActQuant("u8")
        self.conv2 = ConvBN(cout, cout, 3)
        self.proj = ConvBN(cin, cout, 1, stride) if (stride != 1 or cin != cout) else None
        self.q_proj = ActQuant("s8") if self.proj is not None else None
        self.q_out = ActQuant("u8")

    def forward(self, x):
        r = self.q_proj(self.proj(x)) if self.proj is not None else x
        y = self.q1(F.relu(self.conv1(x)))
        return self.q_out(F.relu(self.conv2(y) + r))

    def export(self, e, x, name):
        r = e.qdq(e.conv(self.proj, x, name + "_proj"), self.q_proj, name + "_proj") if self.proj is not None else x
        y = e.qdq(e.node("Relu", [e.conv(self.conv1, x, name + "_conv1")], name + "_relu1"), self.q1, name + "_conv1")
        y = e.node("Add", [e.conv(self.conv2, y, name + "_conv2"), r], name + "_add")
        return e.qdq(e.node("Relu", [y], name + "_relu2"), self.q_out, name + "_out")


class ResNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.q_in = ActQuant("u8")
        self.stem, self.q_stem = ConvBN(1, 16, 3), ActQuant("u8")
        self.blocks = torch.nn.ModuleList([BasicBlock(16, 16, 1), BasicBlock(16, 32, 2), BasicBlock(32, 32, 1)])
        self.q_pool = ActQuant("u8")
        self.fc = Linear(32, 10)

    def forward(self, x):
        x = self.q_stem(F.relu(self.stem(self.q_in(x))))
        for b in self.blocks:
            x = b(x)
        x = self.q_pool(F.adaptive_avg_pool2d(x, 1).flatten(1))
        w = fake_quant_weight(self.fc.weight.t(), 0).t() if self.fc.quantize else self.fc.weight
        return x @ w + self.fc.bias

    def export(self, path):
        e = Exporter(self)
        x = e.qdq("input", self.q_in, "input")
        x = e.qdq(e.node("Relu", [e.conv(self.stem, x, "stem")], "stem_relu"), self.q_stem, "stem")
        for i, b in enumerate(self.blocks):
            x = b.export(e, x, f"block{i + 1}")
        x = e.node("GlobalAveragePool", [x], "pool")
        x = e.qdq(e.node("Flatten", [x], "flatten"), self.q_pool, "pool")
        e.gemm(self.fc, x, "fc")
        e.nodes[-1].output[0] = "logits"
        e.save(path, [1, 1, 8, 8], [1, 10], opset=13)


# ---- transformer encoder -----------------------------------------------------------------------

D_MODEL, N_HEADS, D_FF = 32, 2, 64
D_HEAD = D_MODEL // N_HEADS


class Transformer(torch.nn.Module):
    def __init__(self):
        super().__init__()
        A = ActQuant
        self.q_in = A("u8")
        self.embed = Linear(VOCAB, D_MODEL)
        self.pos = torch.nn.Parameter(torch.randn(SEQ_LEN, D_MODEL) * 0.1)
        self.ln1 = torch.nn.LayerNorm(D_MODEL)
        self.q_ln1 = A("s8")
        self.wq, self.wk, self.wv = Linear(D_MODEL, D_MODEL), Linear(D_MODEL, D_MODEL), Linear(D_MODEL, D_MODEL)
        self.q_q, self.q_k, self.q_v = A("s8"), A("s8"), A("s8")
        self.q_probs = A("fixed_u8", fixed_scale=1.0 / 255.0)
        self.q_ctx = A("s8")
        self.wo = Linear(D_MODEL, D_MODEL)
        self.ln2 = torch.nn.LayerNorm(D_MODEL)
        self.q_ln2 = A("s8")
        self.w1, self.q_gelu = Linear(D_MODEL, D_FF), A("s8")
        self.w2 = Linear(D_FF, D_MODEL)
        self.q_pool = A("s8")
        self.cls = Linear(D_MODEL, VOCAB)

    def forward(self, x):
        n = x.shape[0]
        h = self.embed(self.q_in(x)) + self.pos
        a = self.q_ln1(self.ln1(h))
        heads = lambda t: t.reshape(n, SEQ_LEN, N_HEADS, D_HEAD).transpose(1, 2)
        q, k, v = heads(self.q_q(self.wq(a))), heads(self.q_k(self.wk(a))), heads(self.q_v(self.wv(a)))
        p = self.q_probs(torch.softmax((q @ k.transpose(2, 3)) * (1.0 / np.sqrt(D_HEAD)), dim=-1))
        ctx = self.q_ctx((p @ v).transpose(1, 2).reshape(n, SEQ_LEN, D_MODEL))
        h = h + self.wo(ctx)
        f = self.q_gelu(F.gelu(self.w1(self.q_ln2(self.ln2(h)))))
        h = h + self.w2(f)
        return self.cls(self.q_pool(h.mean(dim=1)))

    def export(self, path):
        e = Exporter(self)
        x = e.qdq("input", self.q_in, "input")
        w, _ = e.weight(self.embed.weight, 1, "embed")
        h = e.node("MatMul", [x, w], "embed")
        pos_bias = (self.pos.detach() + self.embed.bias.detach()).numpy().astype(np.float32)
        h = e.node("Add", [h, e.const("embed_bias_pos", pos_bias)], "embed_add")

        def layer_norm(t, ln, name):
            g = e.const(name + "_gamma", ln.weight.detach().numpy().astype(np.float32))
            b = e.const(name + "_beta", ln.bias.detach().numpy().astype(np.float32))
            return e.node("LayerNormalization", [t, g, b], name, axis=-1, epsilon=ln.eps)

        def split_heads(t, name, perm):
            t = e.node("Reshape", [t, e.const(name + "_shape", np.array([1, SEQ_LEN, N_HEADS, D_HEAD], np.int64))],
                       name + "_reshape")
            return e.node("Transpose", [t], name + "_transpose", perm=perm)

        a = e.qdq(layer_norm(h, self.ln1, "ln1"), self.q_ln1, "ln1")
        q = split_heads(e.qdq(e.linear(self.wq, a, "wq"), self.q_q, "q"), "q", [0, 2, 1, 3])
        k = split_heads(e.qdq(e.linear(self.wk, a, "wk"), self.q_k, "k"), "k", [0, 2, 3, 1])
        v = split_heads(e.qdq(e.linear(self.wv, a, "wv"), self.q_v, "v"), "v", [0, 2, 1, 3])
        s = e.node("MatMul", [q, k], "scores")
        s = e.node("Mul", [s, e.const("scores_scale", np.float32(1.0 / np.sqrt(D_HEAD)))], "scores_scaled")
        p = e.qdq(e.node("Softmax", [s], "softmax", axis=-1), self.q_probs, "probs")
        c = e.node("MatMul", [p, v], "context")
        c = e.node("Transpose", [c], "context_transpose", perm=[0, 2, 1, 3])
        c = e.node("Reshape", [c, e.const("context_shape", np.array([1, SEQ_LEN, D_MODEL], np.int64))],
                   "context_reshape")
        c = e.qdq(c, self.q_ctx, "context")
        h = e.node("Add", [h, e.linear(self.wo, c, "wo")], "residual1")
        f = e.qdq(layer_norm(h, self.ln2, "ln2"), self.q_ln2, "ln2")
        f = e.linear(self.w1, f, "ffn1")
        g = e.node("Erf", [e.node("Div", [f, e.const("gelu_sqrt2", np.float32(np.sqrt(2.0)))], "gelu_div")], "gelu_erf")
        g = e.node("Add", [g, e.const("gelu_one", np.float32(1.0))], "gelu_add")
        g = e.node("Mul", [f, g], "gelu_mul")
        g = e.node("Mul", [g, e.const("gelu_half", np.float32(0.5))], "gelu")
        g = e.qdq(g, self.q_gelu, "gelu")
        h = e.node("Add", [h, e.linear(self.w2, g, "ffn2")], "residual2")
        m = e.node("ReduceMean", [h], "pool", axes=[1], keepdims=0)
        m = e.qdq(m, self.q_pool, "pool")
        e.linear(self.cls, m, "cls")
        e.nodes[-1].output[0] = "logits"
        e.save(path, [1, SEQ_LEN, VOCAB], [1, VOCAB], opset=17)


# ---- training ------------------------------------------------------------------------------------

def accuracy(model, x, y):
    model.eval()
    with torch.no_grad():
        return float((model(torch.from_numpy(x)).argmax(1).numpy() == y).mean())


def train(model, x, y, epochs, lr, batch=64, seed=0):
    g = torch.Generator().manual_seed(SEED + seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    for _ in range(epochs):
        model.train()
        perm = torch.randperm(len(yt), generator=g)
        for i in range(0, len(yt), batch):
            idx = perm[i:i + batch]
            loss = F.cross_entropy(model(xt[idx]), yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        sched.step()


def calibrate(model, x):
    """Seeds the min/max observers (EMA) and sets each PACT alpha to the observed max |x|."""
    pact = {}
    model.train()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, ActQuant) and m.kind.startswith("pact"):
                pact[m] = 0.0
        handles = []
        for m in pact:
            def pre(mod, inp):
                pact[mod] = max(pact[mod], float(inp[0].abs().max()))
            handles.append(m.register_forward_pre_hook(pre))
        for i in range(0, len(x), 128):
            model(torch.from_numpy(x[i:i + 128]))
        for h in handles:
            h.remove()
        for m, v in pact.items():
            m.alpha.fill_(max(v, 1e-3))


def make(name, model, data, epochs, qat_epochs, lr, in_shape):
    xtr, ytr, xte, yte = data
    torch.manual_seed(SEED)
    train(model, xtr, ytr, epochs, lr)
    for m in model.modules():
        if isinstance(m, ConvBN):
            m.fold()
    acc_fp32 = accuracy(model, xte, yte)
    calibrate(model, xtr)
    set_quantize(model, True)
    train(model, xtr, ytr, qat_epochs, lr * 0.1, seed=1)
    acc_fq = accuracy(model, xte, yte)
    os.makedirs(OUT_DIR, exist_ok=True)
    model.eval()
    model.export(os.path.join(OUT_DIR, name + ".onnx"))
    np.save(os.path.join(OUT_DIR, name + "_inputs.npy"), xte.astype(np.float32))
    np.save(os.path.join(OUT_DIR, name + "_labels.npy"), yte.astype(np.int64))
    with torch.no_grad():
        logits = model(torch.from_numpy(xte[:N_FQ_LOGITS])).numpy().astype(np.float32)
    np.save(os.path.join(OUT_DIR, name + "_fq_logits.npy"), logits)
    size = os.path.getsize(os.path.join(OUT_DIR, name + ".onnx"))
    print(f"{name}: fp32 top-1 {acc_fp32:.4f}, fake-quant top-1 {acc_fq:.4f} on {len(yte)} held-out inputs; "
          f"{size} bytes")


def main(argv):
    which = argv[1:] or ["mbv3", "resnet", "transformer"]
    for name in which:
        torch.manual_seed(SEED)
        if name == "mbv3":
            make("mbv3", MobileNetV3(), digits(), epochs=30, qat_epochs=10, lr=3e-3, in_shape=[1, 1, 8, 8])
        elif name == "resnet":
            make("resnet", ResNet(), digits(), epochs=20, qat_epochs=8, lr=3e-3, in_shape=[1, 1, 8, 8])
        elif name == "transformer":
            make("transformer", Transformer(), sequences(), epochs=30, qat_epochs=10, lr=2e-3,
                 in_shape=[1, SEQ_LEN, VOCAB])
        else:
            sys.exit(f"unknown model {name}")


if __name__ == "__main__":
    main(sys.argv)
