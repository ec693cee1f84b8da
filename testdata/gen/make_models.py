#!/usr/bin/python3
"""Writes qdrift's bundled test model and its sample input (fixed seed, numpy + onnx.helper).

    /usr/bin/python3 testdata/gen/make_models.py        # rewrites the files in testdata/

Outputs (all committed; the build and tests never run Python):
  mobilenet_tiny_qdq.onnx          MobileNetV3-flavoured QDQ model, as ONNX Runtime's static
                                   quantizer exports one (QuantizeLinear/DequantizeLinear pairs)
  mobilenet_tiny_input.npy         sample input, float32 [1,3,32,32]
  mobilenet_tiny_fp32_probs.npy    numpy run with the activation Q->DQ pairs removed (weights and
                                   biases still their dequantized integers), as qdrift's fp32 baseline
  mobilenet_tiny_qdq_probs.npy     numpy run of the QDQ model (fake quantization, ONNX semantics)

The graph: u8 QDQ input -> stem conv 3x3/2 (s8 symmetric QDQ after the BN-free conv) ->
HardSwish -> block 1 (depthwise 3x3 + Relu, pointwise 1x1, residual Add) -> block 2 (expand
1x1 + HardSwish, depthwise 3x3/2 + HardSwish, project 1x1) -> head conv 1x1 + Relu ->
GlobalAveragePool -> Flatten -> Gemm (10 classes) -> Softmax. Weights are s8 per output
channel through DequantizeLinear(axis=0), biases int32 with scale s_x * s_w and zero point
0. Activation scales come from min/max calibration on 16 random images other than the sample,
so the sample input saturates only here and there, as with a real calibration set.

Opset 14, not 13: HardSwish exists in the default domain only from opset 14. Every other
op, QuantizeLinear/DequantizeLinear with `axis` included, is at its opset-13 version.
"""

import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
SEED = 20240531
OPSET = 14
N_CLASSES = 10

# ---- float building blocks (numpy, float32 throughout) ----------------------------------


def conv2d(x, w, b, stride, pad, group):
    n, c, h, wd = x.shape
    cout, cin_g, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    oh = (h + 2 * pad - kh) // stride + 1
    ow = (wd + 2 * pad - kw) // stride + 1
    out = np.zeros((n, cout, oh, ow), dtype=np.float32)
    cout_g = cout // group
    for g in range(group):
        xs = xp[:, g * cin_g:(g + 1) * cin_g]
        # columns: [n, cin_g*kh*kw, oh*ow]
        cols = np.empty((n, cin_g, kh, kw, oh, ow), dtype=np.float32)
        for i in range(kh):
            for j in range(kw):
                cols[:, :, i, j] = xs[:, :, i:i + stride * oh:stride, j:j + stride * ow:stride]
        cols = cols.reshape(n, cin_g * kh * kw, oh * ow)
        wg = w[g * cout_g:(g + 1) * cout_g].reshape(cout_g, -1)
        out[:, g * cout_g:(g + 1) * cout_g] = (wg @ cols).reshape(n, cout_g, oh, ow)
    return (out + b.reshape(1, -1, 1, 1)).astype(np.float32)


def hardswish(x):
    return (x * np.clip(x * np.float32(1 / 6) + np.float32(0.5), 0, 1)).astype(np.float32)


def relu(x):
    return np.maximum(x, 0).astype(np.float32)


def softmax(x):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


# ---- quantization (ONNX QuantizeLinear/DequantizeLinear semantics) ----------------------


def quantize(x, scale, zp, dtype):
    info = np.iinfo(dtype)
    q = np.rint(x.astype(np.float32) / np.float32(scale)) + zp  # rint: half to even, like ONNX
    return np.clip(q, info.min, info.max).astype(dtype)


def dequantize(q, scale, zp):
    return ((q.astype(np.int32) - np.int32(zp)).astype(np.float32) * np.float32(scale)).astype(np.float32)


def act_params(lo, hi, signed):
    """ONNX Runtime MinMax calibration: u8 asymmetric with zero point, or s8 symmetric."""
    lo, hi = min(float(lo), 0.0), max(float(hi), 0.0)
    if signed:
        scale = max(abs(lo), abs(hi)) / 127.0
        return np.float32(scale), np.int8(0)
    scale = (hi - lo) / 255.0
    zp = int(np.clip(round(-lo / scale), 0, 255))
    return np.float32(scale), np.uint8(zp)


def quantize_weights(w):
    """s8 symmetric per output channel (axis 0), as the quantizer does for Conv/Gemm weights."""
    flat = np.abs(w.reshape(w.shape[0], -1)).max(axis=1)
    scale = (np.maximum(flat, 1e-8) / 127.0).astype(np.float32)
    shape = (-1,) + (1,) * (w.ndim - 1)
    q = np.clip(np.rint(w / scale.reshape(shape)), -127, 127).astype(np.int8)
    return q, scale


# ---- the network ------------------------------------------------------------------------

# (name, cin, cout, kernel, stride, group); every conv is BN-free with a bias.
CONVS = [
    ("stem", 3, 16, 3, 2, 1),
    ("b1_dw", 16, 16, 3, 1, 16),
    ("b1_pw", 16, 16, 1, 1, 1),
    ("b2_expand", 16, 32, 1, 1, 1),
    ("b2_dw", 32, 32, 3, 2, 32),
    ("b2_project", 32, 24, 1, 1, 1),
    ("head", 24, 48, 1, 1, 1),
]


def make_weights(rng):
    params = {}
    for name, cin, cout, k, _, group in CONVS:
        fan_in = (cin // group) * k * k
        w = rng.normal(0, np.sqrt(2.0 / fan_in), size=(cout, cin // group, k, k)).astype(np.float32)
        # Channels of real networks differ in scale: per-channel weight scales matter.
        w *= rng.uniform(0.5, 1.5, size=(cout, 1, 1, 1)).astype(np.float32)
        params[name] = (w, rng.normal(0, 0.1, size=cout).astype(np.float32))
    fc_w = rng.normal(0, np.sqrt(1.0 / 48), size=(N_CLASSES, 48)).astype(np.float32) * 3
    params["fc"] = (fc_w, rng.normal(0, 0.1, size=N_CLASSES).astype(np.float32))
    return params


def conv_of(name):
    return next(c for c in CONVS if c[0] == name)


def forward(x, params, qdq=None, fake_acts=True):
    """Runs the network. Without `qdq`: plain float with the float weights (calibration).
    With `qdq` (tensor name -> (scale, zp)): weights and biases are the dequantized integers
    of the ONNX graph, and with `fake_acts` every activation listed goes through Q/DQ as
    well (the QDQ model); without it activations stay float, which is what the model becomes
    when its Q->DQ pairs are removed (qdrift's fp32 baseline, core/passes.h strip_qdq).
    Returns (probs, {activation name: float tensor before its Q})."""
    acts = {}

    def fq(name, t):
        acts[name] = t
        if qdq is None or not fake_acts:
            return t
        scale, zp = qdq[name]
        return dequantize(quantize(t, scale, zp, type(zp)), scale, zp)

    def conv(name, t, in_name):
        w, b = params[name]
        _, _, _, k, stride, group = conv_of(name)
        if qdq is not None:
            qw, sw = quantize_weights(w)
            w = dequantize(qw, sw.reshape(-1, 1, 1, 1), 0)
            sb = (qdq[in_name][0] * sw).astype(np.float32)
            b = dequantize(np.rint(b / sb).astype(np.int32), sb, 0)
        return conv2d(t, w, b, stride, k // 2, group)

    t = fq("input", x)
    stem = fq("stem_conv", conv("stem", t, "input"))
    stem_hs = fq("stem_hswish", hardswish(stem))
    dw1 = fq("b1_dw_relu", relu(conv("b1_dw", stem_hs, "stem_hswish")))
    pw1 = fq("b1_pw_conv", conv("b1_pw", dw1, "b1_dw_relu"))
    add1 = fq("b1_add", stem_hs + pw1)
    ex = fq("b2_expand_conv", conv("b2_expand", add1, "b1_add"))
    ex = fq("b2_expand_hswish", hardswish(ex))
    dw2 = fq("b2_dw_conv", conv("b2_dw", ex, "b2_expand_hswish"))
    dw2 = fq("b2_dw_hswish", hardswish(dw2))
    proj = fq("b2_project_conv", conv("b2_project", dw2, "b2_dw_hswish"))
    head = fq("head_relu", relu(conv("head", proj, "b2_project_conv")))
    pool = fq("pool", head.mean(axis=(2, 3), keepdims=True, dtype=np.float32))
    flat = pool.reshape(1, -1)  # Flatten keeps the pool's quantization
    if qdq is not None:
        flat = fq("flatten", flat)
    w, b = params["fc"]
    if qdq is not None:
        qw, sw = quantize_weights(w)
        w = dequantize(qw, sw.reshape(-1, 1), 0)
        sb = (qdq["flatten"][0] * sw).astype(np.float32)
        b = dequantize(np.rint(b / sb).astype(np.int32), sb, 0)
    logits = fq("logits", (flat @ w.T + b).astype(np.float32))
    return softmax(logits), acts


# Activation tensors quantized signed (s8 symmetric) vs unsigned (u8 with zero point).
SIGNED = {"stem_conv", "b1_pw_conv", "b2_expand_conv", "b2_dw_conv", "b2_project_conv"}


def calibrate(params, images):
    lo, hi = {}, {}
    for img in images:
        _, acts = forward(img, params)
        for k, v in acts.items():
            lo[k] = min(lo.get(k, np.inf), float(v.min()))
            hi[k] = max(hi.get(k, -np.inf), float(v.max()))
    qdq = {k: act_params(lo[k], hi[k], k in SIGNED) for k in lo}
    qdq["flatten"] = qdq["pool"]
    return qdq


def make_image(rng):
    """A smooth 32x32 RGB picture normalised with ImageNet mean/std (values about -2..2.5)."""
    yy, xx = np.mgrid[0:32, 0:32].astype(np.float32) / 32.0
    img = np.zeros((3, 32, 32), dtype=np.float32)
    for c in range(3):
        for _ in range(4):
            fx, fy, ph = rng.uniform(0.5, 3.0), rng.uniform(0.5, 3.0), rng.uniform(0, 2 * np.pi)
            img[c] += np.sin(2 * np.pi * (fx * xx + fy * yy) + ph).astype(np.float32)
        img[c] = 0.5 + 0.12 * img[c] + rng.normal(0, 0.04, size=(32, 32)).astype(np.float32)
    img = np.clip(img, 0, 1)
    mean = np.array([0.485, 0.456, 0.406], dtype=np.float32).reshape(3, 1, 1)
    std = np.array([0.229, 0.224, 0.225], dtype=np.float32).reshape(3, 1, 1)
    return ((img - mean) / std).astype(np.float32)[None]


# ---- the ONNX graph (names follow ONNX Runtime's QDQ quantizer) --------------------------


class Builder:
    def __init__(self):
        self.nodes, self.inits = [], []

    def init(self, name, array):
        self.inits.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def node(self, op, inputs, outputs, name, **attrs):
        self.nodes.append(helper.make_node(op, inputs, outputs, name=name, **attrs))
        return outputs[0]

    def qdq(self, tensor, scale, zp):
        """tensor -> QuantizeLinear -> DequantizeLinear; returns the dequantized name."""
        s = self.init(tensor + "_scale", np.float32(scale))
        z = self.init(tensor + "_zero_point", zp)
        q = self.node("QuantizeLinear", [tensor, s, z], [tensor + "_QuantizeLinear_Output"],
                      tensor + "_QuantizeLinear")
        return self.node("DequantizeLinear", [q, s, z], [tensor + "_DequantizeLinear_Output"],
                         tensor + "_DequantizeLinear")

    def dq_const(self, name, q, scale, axis=None):
        """A quantized initializer through DequantizeLinear (weights per channel, int32 bias)."""
        qn = self.init(name + "_quantized", q)
        s = self.init(name + "_quantized_scale", scale.astype(np.float32))
        z = self.init(name + "_quantized_zero_point", np.zeros(scale.shape, dtype=q.dtype))
        attrs = {} if axis is None else {"axis": axis}
        return self.node("DequantizeLinear", [qn, s, z], [name + "_DequantizeLinear_Output"],
                         name + "_DequantizeLinear", **attrs)


def build_model(params, qdq):
    b = Builder()

    def conv(name, x, in_act, out):
        w, bias = params[name]
        _, _, _, k, stride, group = conv_of(name)
        qw, sw = quantize_weights(w)
        sb = (qdq[in_act][0] * sw).astype(np.float32)
        qb = np.rint(bias / sb).astype(np.int32)
        wd = b.dq_const(name + ".weight", qw, sw, axis=0)
        bd = b.dq_const(name + ".bias", qb, sb, axis=0)
        p = k // 2
        return b.node("Conv", [x, wd, bd], [out], name, kernel_shape=[k, k], strides=[stride, stride],
                      pads=[p, p, p, p], group=group, dilations=[1, 1])

    def act(op, x, out):
        return b.node(op, [x], [out], out + "_node")

    x = b.qdq("input", *qdq["input"])
    conv("stem", x, "input", "stem_conv")
    t = b.qdq("stem_conv", *qdq["stem_conv"])
    act("HardSwish", t, "stem_hswish")
    stem = b.qdq("stem_hswish", *qdq["stem_hswish"])
    conv("b1_dw", stem, "stem_hswish", "b1_dw_conv")
    act("Relu", "b1_dw_conv", "b1_dw_relu")
    dw1 = b.qdq("b1_dw_relu", *qdq["b1_dw_relu"])
    conv("b1_pw", dw1, "b1_dw_relu", "b1_pw_conv")
    pw1 = b.qdq("b1_pw_conv", *qdq["b1_pw_conv"])
    b.node("Add", [stem, pw1], ["b1_add"], "b1_add_node")
    add1 = b.qdq("b1_add", *qdq["b1_add"])
    conv("b2_expand", add1, "b1_add", "b2_expand_conv")
    t = b.qdq("b2_expand_conv", *qdq["b2_expand_conv"])
    act("HardSwish", t, "b2_expand_hswish")
    ex = b.qdq("b2_expand_hswish", *qdq["b2_expand_hswish"])
    conv("b2_dw", ex, "b2_expand_hswish", "b2_dw_conv")
    t = b.qdq("b2_dw_conv", *qdq["b2_dw_conv"])
    act("HardSwish", t, "b2_dw_hswish")
    dw2 = b.qdq("b2_dw_hswish", *qdq["b2_dw_hswish"])
    conv("b2_project", dw2, "b2_dw_hswish", "b2_project_conv")
    proj = b.qdq("b2_project_conv", *qdq["b2_project_conv"])
    conv("head", proj, "b2_project_conv", "head_conv")
    act("Relu", "head_conv", "head_relu")
    head = b.qdq("head_relu", *qdq["head_relu"])
    b.node("GlobalAveragePool", [head], ["pool"], "pool_node")
    pool = b.qdq("pool", *qdq["pool"])
    b.node("Flatten", [pool], ["flatten"], "flatten_node", axis=1)
    flat = b.qdq("flatten", *qdq["flatten"])
    w, bias = params["fc"]
    qw, sw = quantize_weights(w)
    sb = (qdq["flatten"][0] * sw).astype(np.float32)
    wd = b.dq_const("fc.weight", qw, sw, axis=0)
    bd = b.dq_const("fc.bias", np.rint(bias / sb).astype(np.int32), sb, axis=0)
    b.node("Gemm", [flat, wd, bd], ["logits"], "fc", transB=1)
    logits = b.qdq("logits", *qdq["logits"])
    b.node("Softmax", [logits], ["probs"], "softmax", axis=1)

    graph = helper.make_graph(
        b.nodes, "mobilenet_tiny_qdq",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 32, 32])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, [1, N_CLASSES])],
        b.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="qdrift testdata/gen/make_models.py")
    model.ir_version = 7
    model.doc_string = "MobileNetV3-flavoured QDQ test model for qdrift (random weights, fixed seed)"
    return model


def main():
    rng = np.random.RandomState(SEED)
    params = make_weights(rng)
    calibration = [make_image(rng) for _ in range(16)]
    sample = make_image(rng)
    qdq = calibrate(params, calibration)

    model = build_model(params, qdq)
    onnx.checker.check_model(model, full_check=True)  # full_check also runs shape inference

    fp32_probs, _ = forward(sample, params, qdq, fake_acts=False)
    qdq_probs, acts = forward(sample, params, qdq)
    # Sanity: quantization error is small, the classes agree, and few values saturate.
    assert np.isfinite(qdq_probs).all() and abs(qdq_probs.sum() - 1) < 1e-5
    assert fp32_probs.argmax() == qdq_probs.argmax(), (fp32_probs, qdq_probs)
    assert np.abs(fp32_probs - qdq_probs).max() < 0.05, np.abs(fp32_probs - qdq_probs).max()
    for name, t in acts.items():
        scale, zp = qdq[name]
        info = np.iinfo(type(zp))
        q = np.rint(t / scale) + int(zp)
        sat = float(np.mean((q < info.min) | (q > info.max)))
        assert sat < 0.02, (name, sat)
    try:
        from onnx.reference import ReferenceEvaluator  # onnx >= 1.13
        (ref,) = ReferenceEvaluator(model).run(None, {"input": sample})
        assert np.allclose(ref, qdq_probs, atol=1e-5), np.abs(ref - qdq_probs).max()
        print("onnx.reference agrees with the numpy reference")
    except ImportError:
        print("onnx.reference not available (onnx", onnx.__version__ + "): numpy reference only")

    onnx.save(model, os.path.join(OUT_DIR, "mobilenet_tiny_qdq.onnx"))
    np.save(os.path.join(OUT_DIR, "mobilenet_tiny_input.npy"), sample)
    np.save(os.path.join(OUT_DIR, "mobilenet_tiny_fp32_probs.npy"), fp32_probs)
    np.save(os.path.join(OUT_DIR, "mobilenet_tiny_qdq_probs.npy"), qdq_probs)
    print(f"{len(model.graph.node)} nodes; top-1 {qdq_probs.argmax()} "
          f"(p={qdq_probs.max():.3f}, fp32 p={fp32_probs.max():.3f}); "
          f"max |fp32-qdq| {np.abs(fp32_probs - qdq_probs).max():.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
