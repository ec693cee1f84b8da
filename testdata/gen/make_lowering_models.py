#!/usr/bin/python3
"""Writes the small QDQ models the int8 lowering is tested on (fixed seed, numpy + onnx.helper).

    /usr/bin/python3 testdata/gen/make_lowering_models.py    # rewrites testdata/qdq/

Each model exercises lowering rules on odd shapes; activation scales are calibrated (min/max)
on the model's own fake-quant forward pass of its sample input, so every quantized tensor
uses most of its grid. Files: testdata/qdq/<name>.onnx and <name>_input.npy.

  conv_chain_u8     u8 asymmetric: conv3x3+Relu, conv1x1/2, MaxPool on int8, dilated conv+Clip(0,6)
  depthwise_s8      s8 symmetric: conv+HardSwish fused, depthwise 3x3/2 + LeakyRelu (calibrated
                    short, so it saturates at -128/-127 and 127), 13 channels
  residual_u8       conv -> Add(., DQ(skip)) -> Relu -> Q (sum post-op) and a float Add between Qs
  gemm_concat_s8    GlobalAveragePool, Flatten, Gemm(transB)+Relu, MatMul, Concat of two scales
  bn_conv_u8        conv -> BatchNormalization -> Relu -> Q (BN folding under weights=requantize)
  int8_ops_u8       what a real int8 runtime keeps in int8 between two int8 ops: torchvision's
                    residual Add -> Relu -> Q and an Add -> Clip -> Q of two quantized tensors,
                    MaxPool 3x3/2 (padded), AveragePool 2x2/2, GlobalAveragePool, Flatten
  paddle_style_s8   PaddleSlim-like: s8 symmetric activations (zero point 0), conv+Relu, conv+Relu6
                    (Clip 0..6), HardSwish, f32 bias, the shapes where Paddle's int8 pass diverges
  conv_chain_u8_qop the real int8 (QOperator) twin of conv_chain_u8, read back from it: the same
                    weights, int32 biases, scales and zero points as QuantizeLinear -> QLinearConv
                    (Relu and Clip implied by the u8 grid, zero point 0) -> QLinearConv -> MaxPool
                    on u8 -> QLinearConv -> DequantizeLinear, with Paddle-style tensor names
                    (image.quantized, relu_0.tmp_0, conv2d_1.tmp_1, pool2d_0.tmp_0, ...) that
                    differ from the QDQ model's. Asserted with numpy to be within one step of the
                    QDQ model on the sample input. Writes conv_chain_u8_qop.onnx (no input file:
                    it takes conv_chain_u8_input.npy). The hand-written
                    conv_chain_u8_qop_rules.json pairs the two namings for `qdrift diff --rules`.

The script is deterministic: rerunning it rewrites byte-identical files.
"""

import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "qdq")
OPSET = 14  # HardSwish needs 14; Q/DQ use their opset-13 form (axis)


def conv2d(x, w, b, stride=1, pad=0, group=1, dilation=1):
    n, c, h, wd = x.shape
    cout, cin_g, kh, kw = w.shape
    ekh, ekw = (kh - 1) * dilation + 1, (kw - 1) * dilation + 1
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    oh = (h + 2 * pad - ekh) // stride + 1
    ow = (wd + 2 * pad - ekw) // stride + 1
    out = np.zeros((n, cout, oh, ow), dtype=np.float64)
    cout_g = cout // group
    for g in range(group):
        xs = xp[:, g * cin_g:(g + 1) * cin_g].astype(np.float64)
        cols = np.empty((n, cin_g, kh, kw, oh, ow))
        for i in range(kh):
            for j in range(kw):
                r, s = i * dilation, j * dilation
                cols[:, :, i, j] = xs[:, :, r:r + stride * oh:stride, s:s + stride * ow:stride]
        cols = cols.reshape(n, cin_g * kh * kw, oh * ow)
        wg = w[g * cout_g:(g + 1) * cout_g].reshape(cout_g, -1).astype(np.float64)
        out[:, g * cout_g:(g + 1) * cout_g] = (wg @ cols).reshape(n, cout_g, oh, ow)
    if b is not None:
        out += b.reshape(1, -1, 1, 1)
    return out.astype(np.float32)


def hardswish(x):
    return (x * np.clip(x / np.float32(6) + np.float32(0.5), 0, 1)).astype(np.float32)


class Builder:
    """Builds a QDQ graph and its fake-quant forward pass side by side."""

    def __init__(self, name, x, signed, seed):
        self.name, self.signed = name, signed
        self.rng = np.random.default_rng(seed)
        self.nodes, self.inits = [], []
        self.count = 0
        self.input = x
        self.x_info = helper.make_tensor_value_info("input", TensorProto.FLOAT, list(x.shape))

    def uid(self, base):
        self.count += 1
        return f"{base}{self.count}"

    def init(self, name, arr):
        self.inits.append(numpy_helper.from_array(arr, name))
        return name

    def act_params(self, v, signed, ratio=1.0):
        if signed:
            scale = ratio * max(float(np.abs(v).max()), 1e-3) / 127.0
            return np.float32(scale), np.int8(0)
        lo, hi = min(float(v.min()), 0.0), max(float(v.max()), 0.0)
        scale = max(hi - lo, 1e-3) / 255.0
        zp = int(np.clip(np.rint(-lo / scale), 0, 255))
        return np.float32(scale), np.uint8(zp)

    def qdq(self, tname, v, signed=None, params=None, ratio=1.0):
        """Q then DQ of activation `tname` (value v); returns the DQ name and fake-quant value.
        ratio < 1 calibrates on a smaller range than the sample reaches, so it saturates."""
        signed = self.signed if signed is None else signed
        scale, zp = params if params is not None else self.act_params(v, signed, ratio)
        base = self.uid(tname + "_")
        s = self.init(base + "_scale", np.array(scale, dtype=np.float32))
        z = self.init(base + "_zp", np.array(zp))
        self.nodes.append(helper.make_node("QuantizeLinear", [tname, s, z], [base + "_q"], name=base + "_Q"))
        self.nodes.append(helper.make_node("DequantizeLinear", [base + "_q", s, z], [base + "_dq"], name=base + "_DQ"))
        info = np.iinfo(np.int8 if signed else np.uint8)
        q = np.clip(np.rint(v / scale) + int(zp), info.min, info.max)
        return base + "_dq", ((q - int(zp)) * scale).astype(np.float32), (scale, zp)

    def weights(self, base, w):
        """Per-output-channel s8 weights through DequantizeLinear(axis=0)."""
        axes = tuple(range(1, w.ndim))
        scale = (np.abs(w).max(axis=axes) / 127.0).astype(np.float32)
        q = np.clip(np.rint(w / scale.reshape(-1, *([1] * (w.ndim - 1)))), -128, 127).astype(np.int8)
        qn = self.init(base + ".weight_q", q)
        sn = self.init(base + ".weight_scale", scale)
        zn = self.init(base + ".weight_zp", np.zeros_like(scale, dtype=np.int8))
        self.nodes.append(helper.make_node("DequantizeLinear", [qn, sn, zn], [base + ".weight"], name=base + ".weight_DQ", axis=0))
        return base + ".weight", (q.astype(np.float32) * scale.reshape(-1, *([1] * (w.ndim - 1)))).astype(np.float32), scale

    def bias_s32(self, base, b, sx, sw):
        bs = (np.float32(sx) * sw).astype(np.float32)
        q = np.rint(b / bs).astype(np.int32)
        qn = self.init(base + ".bias_q", q)
        sn = self.init(base + ".bias_scale", bs)
        zn = self.init(base + ".bias_zp", np.zeros_like(q))
        self.nodes.append(helper.make_node("DequantizeLinear", [qn, sn, zn], [base + ".bias"], name=base + ".bias_DQ", axis=0))
        return base + ".bias", (q * bs).astype(np.float32)

    def conv(self, xn, xv, xparams, cout, k, stride=1, pad=0, group=1, dilation=1, bias="s32"):
        base = self.uid("conv")
        cin = xv.shape[1]
        w = (self.rng.standard_normal((cout, cin // group, k, k)) * np.sqrt(2.0 / (cin // group * k * k))).astype(np.float32)
        wn, wv, sw = self.weights(base, w)
        b = (self.rng.standard_normal(cout) * 0.1).astype(np.float32)
        inputs = [xn, wn]
        if bias == "s32":
            bn, bv = self.bias_s32(base, b, xparams[0], sw)
            inputs.append(bn)
        elif bias == "f32":
            inputs.append(self.init(base + ".bias", b))
            bv = b
        else:
            bv = None
        out = base + "_out"
        self.nodes.append(helper.make_node("Conv", inputs, [out], name=base, kernel_shape=[k, k], strides=[stride, stride],
                                           pads=[pad] * 4, group=group, dilations=[dilation, dilation]))
        return out, conv2d(xv, wv, bv, stride, pad, group, dilation)

    def unary(self, op, xn, **attrs):
        base = self.uid(op.lower())
        inputs = [xn]
        if op == "Clip":
            inputs += [self.init(base + "_min", np.array(attrs.pop("lo"), np.float32)),
                       self.init(base + "_max", np.array(attrs.pop("hi"), np.float32))]
        self.nodes.append(helper.make_node(op, inputs, [base + "_out"], name=base, **attrs))
        return base + "_out"

    def finish(self, out_name, out_shape):
        graph = helper.make_graph(self.nodes, self.name, [self.x_info],
                                  [helper.make_tensor_value_info(out_name, TensorProto.FLOAT, list(out_shape))], self.inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="qdrift-testdata")
        model.ir_version = 8
        onnx.checker.check_model(model, full_check=True)
        os.makedirs(OUT_DIR, exist_ok=True)
        onnx.save(model, os.path.join(OUT_DIR, self.name + ".onnx"))
        np.save(os.path.join(OUT_DIR, self.name + "_input.npy"), self.input)


def relu(v):
    return np.maximum(v, 0).astype(np.float32)


def conv_chain_u8():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((1, 3, 19, 19)).astype(np.float32)
    b = Builder("conv_chain_u8", x, signed=False, seed=11)
    xn, xv, xp = b.qdq("input", x)
    c, cv = b.conv(xn, xv, xp, 8, 3, pad=1)
    r = b.unary("Relu", c); rv = relu(cv)
    xn, xv, xp = b.qdq(r, rv)
    c, cv = b.conv(xn, xv, xp, 13, 1, stride=2)
    xn, xv, xp = b.qdq(c, cv)
    p = b.unary("MaxPool", xn, kernel_shape=[2, 2], strides=[2, 2])
    # MaxPool 2x2/2 on 10x10 -> 5x5, computed on the fake-quant values
    pv = xv[:, :, :10, :10].reshape(1, 13, 5, 2, 5, 2).max(axis=(3, 5))
    xn, xv, xp = b.qdq(p, pv, params=xp)  # same grid: a pure int8 pass-through
    c, cv = b.conv(xn, xv, xp, 7, 3, pad=2, dilation=2)
    cl = b.unary("Clip", c, lo=0.0, hi=6.0); clv = np.clip(cv, 0, 6)
    on, ov, _ = b.qdq(cl, clv)
    b.finish(on, ov.shape)


def depthwise_s8():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((1, 5, 13, 13)).astype(np.float32) * 2
    b = Builder("depthwise_s8", x, signed=True, seed=12)
    xn, xv, xp = b.qdq("input", x)
    c, cv = b.conv(xn, xv, xp, 13, 3, pad=1)
    h = b.unary("HardSwish", c); hv = hardswish(cv)
    xn, xv, xp = b.qdq(h, hv)
    c, cv = b.conv(xn, xv, xp, 13, 3, stride=2, pad=1, group=13)
    l = b.unary("LeakyRelu", c, alpha=0.1); lv = np.where(cv > 0, cv, np.float32(0.1) * cv).astype(np.float32)
    xn, xv, xp = b.qdq(l, lv, ratio=0.1)  # calibrated short: saturates at both ends
    c, cv = b.conv(xn, xv, xp, 3, 1, bias="f32")
    on, ov, _ = b.qdq(c, cv)
    b.finish(on, ov.shape)


def residual_u8():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((1, 6, 11, 11)).astype(np.float32)
    b = Builder("residual_u8", x, signed=False, seed=13)
    xn, xv, xp = b.qdq("input", x)
    c, cv = b.conv(xn, xv, xp, 6, 3, pad=1)
    r = b.unary("Relu", c); rv = relu(cv)
    sn, sv, sp = b.qdq(r, rv)
    # Residual with the conv's raw output feeding the Add: a sum post-op
    c2, c2v = b.conv(sn, sv, sp, 6, 3, pad=1)
    base = b.uid("add")
    b.nodes.append(helper.make_node("Add", [c2, xn], [base + "_out"], name=base))
    a = b.unary("Relu", base + "_out"); av = relu(c2v + xv)
    an, av, ap = b.qdq(a, av)
    # Residual between two quantized tensors: a float Add between Q/DQ pairs
    c3, c3v = b.conv(an, av, ap, 6, 1)
    c3n, c3v, _ = b.qdq(c3, c3v)
    base = b.uid("add")
    b.nodes.append(helper.make_node("Add", [c3n, sn], [base + "_out"], name=base))
    on, ov, _ = b.qdq(base + "_out", c3v + sv)
    b.finish(on, ov.shape)


def gemm_concat_s8():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 4, 9, 9)).astype(np.float32)
    b = Builder("gemm_concat_s8", x, signed=True, seed=14)
    xn, xv, xp = b.qdq("input", x)
    c1, c1v = b.conv(xn, xv, xp, 12, 3, pad=1)
    c1n, c1v, _ = b.qdq(c1, c1v)
    c2, c2v = b.conv(xn, xv, xp, 5, 1)
    c2n, c2v, _ = b.qdq(c2, c2v * 3)  # a different scale on the second branch
    base = b.uid("concat")
    b.nodes.append(helper.make_node("Concat", [c1n, c2n], [base + "_out"], name=base, axis=1))
    catv = np.concatenate([c1v, c2v], axis=1)
    cn, cv, cp = b.qdq(base + "_out", catv)
    g = b.unary("GlobalAveragePool", cn); gv = cv.mean(axis=(2, 3), keepdims=True)
    gn, gv, gp = b.qdq(g, gv)
    f = b.unary("Flatten", gn, axis=1); fv = gv.reshape(2, -1)
    fn, fv, fp = b.qdq(f, fv, params=gp)
    # Gemm with transB: weights [N, K]
    base = b.uid("gemm")
    w = (b.rng.standard_normal((11, 17)) * 0.3).astype(np.float32)
    wn, wv, sw = b.weights(base, w)
    bn, bv = b.bias_s32(base, (b.rng.standard_normal(11) * 0.1).astype(np.float32), fp[0], sw)
    b.nodes.append(helper.make_node("Gemm", [fn, wn, bn], [base + "_out"], name=base, transB=1))
    r = b.unary("Relu", base + "_out"); rv = relu(fv @ wv.T + bv)
    rn, rv, rp = b.qdq(r, rv)
    # MatMul with constant [K, N] weights quantized per column (axis=1)
    base = b.uid("matmul")
    w = (b.rng.standard_normal((11, 7)) * 0.3).astype(np.float32)
    scale = (np.abs(w).max(axis=0) / 127.0).astype(np.float32)
    q = np.clip(np.rint(w / scale), -128, 127).astype(np.int8)
    qn = b.init(base + ".weight_q", q)
    sn = b.init(base + ".weight_scale", scale)
    zn = b.init(base + ".weight_zp", np.zeros(7, np.int8))
    b.nodes.append(helper.make_node("DequantizeLinear", [qn, sn, zn], [base + ".weight"], name=base + ".weight_DQ", axis=1))
    b.nodes.append(helper.make_node("MatMul", [rn, base + ".weight"], [base + "_out"], name=base))
    mv = rv @ (q.astype(np.float32) * scale)
    on, ov, _ = b.qdq(base + "_out", mv)
    b.finish(on, ov.shape)


def max_pool(v, k, stride, pad):
    n, c, h, w = v.shape
    vp = np.pad(v, ((0, 0), (0, 0), (pad, pad), (pad, pad)), constant_values=-np.inf)
    oh, ow = (h + 2 * pad - k) // stride + 1, (w + 2 * pad - k) // stride + 1
    out = np.full((n, c, oh, ow), -np.inf, np.float32)
    for i in range(k):
        for j in range(k):
            out = np.maximum(out, vp[:, :, i:i + stride * oh:stride, j:j + stride * ow:stride])
    return out.astype(np.float32)


def int8_ops_u8():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((1, 6, 15, 15)).astype(np.float32)
    b = Builder("int8_ops_u8", x, signed=False, seed=17)
    xn, xv, xp = b.qdq("input", x)
    c, cv = b.conv(xn, xv, xp, 8, 3, pad=1)
    r = b.unary("Relu", c); rv = relu(cv)
    an, av, ap = b.qdq(r, rv)
    c, cv = b.conv(xn, xv, xp, 8, 1)
    bn_, bv, bp = b.qdq(c, cv)
    # torchvision's residual: Add, then Relu, then QuantizeLinear (one QAdd with act_min 0)
    base = b.uid("add")
    b.nodes.append(helper.make_node("Add", [bn_, an], [base + "_out"], name=base))
    r = b.unary("Relu", base + "_out"); rv = relu(bv + av)
    sn, sv, sp = b.qdq(r, rv)
    # Add -> Clip(-0.5, 1.5) -> Q: both bounds inside the range, real units
    base = b.uid("add")
    b.nodes.append(helper.make_node("Add", [sn, bn_], [base + "_out"], name=base))
    cl = b.unary("Clip", base + "_out", lo=-0.5, hi=1.5); clv = np.clip(sv + bv, np.float32(-0.5), np.float32(1.5))
    tn, tv, tp = b.qdq(cl, clv)
    # MaxPool 3x3/2 with padding, on the same grid (int8 pass-through)
    p = b.unary("MaxPool", tn, kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    pn, pv, pp = b.qdq(p, max_pool(tv, 3, 2, 1), params=tp)
    # AveragePool 2x2/2 and GlobalAveragePool, each re-quantized on its own calibrated grid
    a = b.unary("AveragePool", pn, kernel_shape=[2, 2], strides=[2, 2])
    avv = pv.reshape(1, 8, 4, 2, 4, 2).mean(axis=(3, 5), dtype=np.float32)
    qn, qv, qp = b.qdq(a, avv)
    g = b.unary("GlobalAveragePool", qn); gv = qv.mean(axis=(2, 3), keepdims=True, dtype=np.float32)
    gn, gv, gp = b.qdq(g, gv)
    f = b.unary("Flatten", gn, axis=1); fv = gv.reshape(1, -1)
    on, ov, _ = b.qdq(f, fv, params=gp)
    b.finish(on, ov.shape)


def bn_conv_u8():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((1, 4, 10, 10)).astype(np.float32)
    b = Builder("bn_conv_u8", x, signed=False, seed=15)
    xn, xv, xp = b.qdq("input", x)
    c, cv = b.conv(xn, xv, xp, 9, 3, pad=1, bias="none")
    base = b.uid("bn")
    gamma = (b.rng.uniform(0.5, 1.5, 9)).astype(np.float32)
    beta = (b.rng.standard_normal(9) * 0.2).astype(np.float32)
    mean = (b.rng.standard_normal(9) * 0.2).astype(np.float32)
    var = (b.rng.uniform(0.5, 2.0, 9)).astype(np.float32)
    names = [b.init(f"{base}_{k}", v) for k, v in (("gamma", gamma), ("beta", beta), ("mean", mean), ("var", var))]
    b.nodes.append(helper.make_node("BatchNormalization", [c] + names, [base + "_out"], name=base, epsilon=1e-5))
    k = gamma / np.sqrt(var + np.float32(1e-5))
    bnv = ((cv - mean.reshape(1, -1, 1, 1)) * k.reshape(1, -1, 1, 1) + beta.reshape(1, -1, 1, 1)).astype(np.float32)
    r = b.unary("Relu", base + "_out")
    on, ov, _ = b.qdq(r, relu(bnv))
    b.finish(on, ov.shape)


def paddle_style_s8():
    rng = np.random.default_rng(6)
    x = rng.standard_normal((1, 3, 16, 16)).astype(np.float32)
    b = Builder("paddle_style_s8", x, signed=True, seed=16)
    xn, xv, xp = b.qdq("input", x)
    c, cv = b.conv(xn, xv, xp, 13, 3, stride=2, pad=1)
    r = b.unary("Relu", c); rv = relu(cv)
    xn, xv, xp = b.qdq(r, rv)
    c, cv = b.conv(xn, xv, xp, 13, 3, pad=1, group=13, bias="f32")
    cl = b.unary("Clip", c, lo=0.0, hi=6.0); clv = np.clip(cv, 0, 6)
    xn, xv, xp = b.qdq(cl, clv)
    c, cv = b.conv(xn, xv, xp, 16, 1)
    h = b.unary("HardSwish", c); hv = hardswish(cv)
    xn, xv, xp = b.qdq(h, hv)
    c, cv = b.conv(xn, xv, xp, 8, 1)
    on, ov, _ = b.qdq(c, cv)
    b.finish(on, ov.shape)


# The real int8 (QOperator) twin of conv_chain_u8, as another exporter would write it: the
# QDQ model's own weights, scales and zero points, with Paddle-style tensor names that differ
# from the QDQ model's. Keys: the QDQ model's tensor and node names; values: the twin's.
CONV_CHAIN_QOP_NAMES = {
    "input": "image",
    "input_1_q": "image.quantized",
    "relu3_out_4_q": "relu_0.tmp_0",          # conv2d_0 with its Relu implied by zero point 0
    "conv5_out_6_q": "conv2d_1.tmp_1",
    "maxpool7_out_8_q": "pool2d_0.tmp_0",     # MaxPool on the u8 codes
    "clip10_out_11_q": "relu6_0.tmp_0",       # conv2d_2 with Clip(0,6) implied by the u8 grid
    "clip10_out_11_dq": "save_infer_model/scale_0.tmp_0",
    "conv2": "conv2d_0", "conv5": "conv2d_1", "conv9": "conv2d_2", "maxpool7": "pool2d_0",
}


def conv_chain_u8_qop():
    """QuantizeLinear -> QLinearConv (Relu implied) -> QLinearConv -> MaxPool (u8) ->
    QLinearConv (Clip implied) -> DequantizeLinear, read from conv_chain_u8.onnx (written
    first) so that every weight, bias, scale and zero point is the QDQ model's own. Checks
    with numpy that its integer forward pass is within one step of the QDQ fake-quant pass
    on the sample input (QLinearConv requantizes acc * sx*sw/sy in float: ties may move)."""
    src_name, names = "conv_chain_u8", CONV_CHAIN_QOP_NAMES
    src = onnx.load(os.path.join(OUT_DIR, src_name + ".onnx"))
    inits = {t.name: numpy_helper.to_array(t) for t in src.graph.initializer}
    producer = {o: n for n in src.graph.node for o in n.output}
    x = np.load(os.path.join(OUT_DIR, src_name + "_input.npy"))
    nodes, twin_inits = [], []
    ref_codes, twin_codes = {}, {}  # QDQ model's Q outputs: fake-quant codes / twin's int codes

    def init(name, arr):
        twin_inits.append(numpy_helper.from_array(arr, name))
        return name

    def quantize(v, scale, zp):
        info = np.iinfo(zp.dtype)
        return np.clip(np.rint(v / np.float64(scale)) + int(zp), info.min, info.max)

    def qparams(q):  # constant scale and zero point of a QuantizeLinear / DequantizeLinear
        return inits[q.input[1]], inits[q.input[2]]

    def out_params(tensor, q):  # the twin's scale/zero point initializers for a Q output
        s, z = qparams(q)
        return init(names[tensor] + ".scale", s), init(names[tensor] + ".zero_point", z)

    def attrs(n):
        return {a.name: helper.get_attribute_value(a) for a in n.attribute}

    for q in (n for n in src.graph.node if n.op_type == "QuantizeLinear"):
        y = q.output[0]
        sy, zy = qparams(q)
        info = np.iinfo(zy.dtype)
        op = producer.get(q.input[0])
        if op is None:  # the graph input
            assert q.input[0] == "input"
            sn, zn = out_params(y, q)
            nodes.append(helper.make_node("QuantizeLinear", [names["input"], sn, zn], [names[y]], name="quantize_0"))
            ref_codes[y] = twin_codes[y] = quantize(x.astype(np.float64), sy, zy)
            continue
        act = None
        if op.op_type in ("Relu", "Clip"):
            act, op = op, producer[op.input[0]]
        if op.op_type == "MaxPool":
            dq = producer[op.input[0]]
            assert [inits[i] for i in dq.input[1:]] == [sy, zy], "MaxPool passes int8 through on one grid"
            k = attrs(op)
            assert act is None and k["kernel_shape"] == [2, 2] and k["strides"] == [2, 2]
            nodes.append(helper.make_node("MaxPool", [names[dq.input[0]]], [names[y]], name=names[op.name], **k))
            for codes in (ref_codes, twin_codes):
                c = codes[dq.input[0]]
                h, w = c.shape[2] // 2 * 2, c.shape[3] // 2 * 2
                codes[y] = c[:, :, :h, :w].reshape(c.shape[0], c.shape[1], h // 2, 2, w // 2, 2).max(axis=(3, 5))
            continue
        assert op.op_type == "Conv", op.op_type
        # The activation must be what the output grid's saturation does anyway.
        lo_real = (info.min - int(zy)) * float(sy)
        hi_real = (info.max - int(zy)) * float(sy)
        if act is not None and act.op_type == "Relu":
            assert lo_real == 0.0, "Relu is implied only when the grid's lowest code is real 0"
        elif act is not None:
            lo, hi = float(inits[act.input[1]]), float(inits[act.input[2]])
            assert lo_real == lo and hi_real <= hi, "Clip is implied only when the grid lies inside it"
        xdq, wdq, bdq = (producer[i] for i in op.input)
        sx, zx = qparams(xdq)
        wq, sw, zw = (inits[i] for i in wdq.input)
        bq, sb = inits[bdq.input[0]], inits[bdq.input[1]]
        assert np.array_equal(sb, (sx * sw).astype(np.float32)), "bias on the accumulator's grid"
        base = names[op.name]
        ins = [names[xdq.input[0]], init(base + ".input_scale", sx), init(base + ".input_zero_point", zx),
               init(base + ".w_0", wq), init(base + ".w_0.scale", sw), init(base + ".w_0.zero_point", zw),
               *out_params(y, q), init(base + ".b_0", bq)]
        k = attrs(op)
        nodes.append(helper.make_node("QLinearConv", ins, [names[y]], name=base, **k))
        conv_args = dict(stride=k["strides"][0], pad=k["pads"][0], group=k["group"], dilation=k["dilations"][0])
        # QDQ reference: dequantize, float conv, activation, quantize.
        xr = (ref_codes[xdq.input[0]] - int(zx)) * np.float64(sx)
        wr = wq.astype(np.float64) * sw.reshape(-1, 1, 1, 1)
        v = conv2d(xr.astype(np.float32), wr.astype(np.float32), (bq * sb).astype(np.float32), **conv_args)
        if act is not None:
            v = relu(v) if act.op_type == "Relu" else np.clip(v, lo, hi)
        ref_codes[y] = quantize(v, sy, zy)
        # QLinearConv: integer accumulator plus bias, scaled by sx*sw/sy, plus zy, saturated.
        acc = conv2d(twin_codes[xdq.input[0]] - int(zx), wq.astype(np.float64), None, **conv_args).astype(np.float64)
        acc = acc + bq.reshape(1, -1, 1, 1)
        m = (np.float64(sx) * sw.astype(np.float64) / np.float64(sy)).reshape(1, -1, 1, 1)
        twin_codes[y] = np.clip(np.rint(acc * m) + int(zy), info.min, info.max)

    out = src.graph.output[0].name
    dq = producer[out]
    nodes.append(helper.make_node("DequantizeLinear", [names[dq.input[0]], init(names[out] + ".scale", inits[dq.input[1]]),
                                                       init(names[out] + ".zero_point", inits[dq.input[2]])],
                                  [names[out]], name="dequantize_0"))
    for t in ref_codes:
        steps = np.abs(ref_codes[t] - twin_codes[t]).max()
        assert steps <= 1, f"{t}: the twin is {steps} steps from the QDQ model"
    out_shape = [d.dim_value for d in src.graph.output[0].type.tensor_type.shape.dim]
    graph = helper.make_graph(nodes, src_name + "_qop",
                              [helper.make_tensor_value_info(names["input"], TensorProto.FLOAT, list(x.shape))],
                              [helper.make_tensor_value_info(names[out], TensorProto.FLOAT, out_shape)], twin_inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="qdrift-testdata")
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, os.path.join(OUT_DIR, src_name + "_qop.onnx"))


if __name__ == "__main__":
    for make in (conv_chain_u8, depthwise_s8, residual_u8, gemm_concat_s8, bn_conv_u8, paddle_style_s8,
                 conv_chain_u8_qop, int8_ops_u8):
        make()
        print("wrote", make.__name__)
