#!/usr/bin/python3
"""Writes the small purpose-built models the named causes are tested on (docs/causes.md),
with numpy + onnx.helper and a fixed seed, reusing make_lowering_models.py's Builder.

    /usr/bin/python3 testdata/gen/make_cause_models.py    # rewrites testdata/causes/

Each model has one mechanism and nothing else; some come with a twin (`<name>_twin.onnx`):
the same graph and tensor names as another exporter or deployment pass would write it, for
`qdrift diff MODEL --other TWIN --against ref`.

  per_tensor_w_s8   conv 3x3 + Relu, conv 1x1 with per-tensor s8 weights: weights=requantize
                    makes them per-channel (weights_requantized, per_channel_mismatch)
  ties_s8           input scale 1/16 and an input made of half steps (k + 0.5) / 16: every input
                    element is a rounding tie (rounding_ties with --fake-rounding half_away)
  hswish_s8 + twin  conv -> HardSwish -> Q s8 (negatives down to -0.375); the twin quantizes that
                    tensor as u8 with zero point 0 and scale T/255 (wrongly_unsigned)
  saturate_s8 + twin conv -> Q s8; the twin quantizes the conv output with a quarter of the
                    scale, so a large share saturates (extra_saturation, act_scale_source)
  island_s8 + twin  conv -> Q -> DQ -> Clip(-0.5, 0.5) (float) -> Q; the twin re-quantizes the
                    island's output with the scale of its input (float_island)
  residual_s8 + twin conv -> Q -> DQ -> Add(., DQ(skip)) -> Q; the twin re-quantizes the skip onto
                    the conv branch's (smaller) scale before the add (residual_rescale)

The script is deterministic: rerunning it rewrites byte-identical files.
"""

import os
import sys

import numpy as np
import onnx
from onnx import helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_lowering_models as low  # noqa: E402

OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "causes")
low.OUT_DIR = OUT_DIR


def save_twin(b, name, edit):
    """Re-saves the model `b` just wrote as `name`, after edit(model) changes constants."""
    m = onnx.load(os.path.join(OUT_DIR, b.name + ".onnx"))
    edit(m)
    onnx.checker.check_model(m, full_check=True)
    onnx.save(m, os.path.join(OUT_DIR, name + ".onnx"))


def set_init(m, name, arr):
    for i, t in enumerate(m.graph.initializer):
        if t.name == name:
            m.graph.initializer[i].CopyFrom(onnx.numpy_helper.from_array(arr, name))
            return
    raise KeyError(name)


def per_tensor_w_s8():
    rng = np.random.default_rng(21)
    x = rng.standard_normal((1, 3, 12, 12)).astype(np.float32)
    b = low.Builder("per_tensor_w_s8", x, signed=True, seed=31)
    xn, xv, xp = b.qdq("input", x)
    c, cv = b.conv(xn, xv, xp, 8, 3, pad=1)
    r = b.unary("Relu", c)
    xn, xv, xp = b.qdq(r, low.relu(cv))
    # Per-tensor weights whose output channels differ 30x in size: one scale serves them badly.
    w = (rng.standard_normal((6, 8, 1, 1)) * np.geomspace(0.02, 0.6, 6).reshape(6, 1, 1, 1)).astype(np.float32)
    scale = np.float32(np.abs(w).max() / 127.0)
    q = np.clip(np.rint(w / scale), -128, 127).astype(np.int8)
    qn, sn, zn = b.init("conv9.weight_q", q), b.init("conv9.weight_scale", np.array(scale)), b.init("conv9.weight_zp", np.array(np.int8(0)))
    b.nodes.append(helper.make_node("DequantizeLinear", [qn, sn, zn], ["conv9.weight"], name="conv9.weight_DQ"))
    b.nodes.append(helper.make_node("Conv", [xn, "conv9.weight"], ["conv9_out"], name="conv9", kernel_shape=[1, 1]))
    wv = q.astype(np.float32) * scale
    cv = low.conv2d(xv, wv, None)
    on, ov, _ = b.qdq("conv9_out", cv)
    b.finish(on, ov.shape)


def ties_s8():
    rng = np.random.default_rng(22)
    k = rng.integers(-40, 40, size=(1, 2, 8, 8))
    x = ((k + 0.5) / 16.0).astype(np.float32)  # exact in f32: every x / (1/16) is a .5 tie
    b = low.Builder("ties_s8", x, signed=True, seed=32)
    xn, xv, xp = b.qdq("input", x, params=(np.float32(1 / 16), np.int8(0)))
    c, cv = b.conv(xn, xv, xp, 4, 3, pad=1)
    on, ov, _ = b.qdq(c, cv)
    b.finish(on, ov.shape)


def hswish_s8():
    rng = np.random.default_rng(23)
    x = rng.standard_normal((1, 3, 10, 10)).astype(np.float32)
    b = low.Builder("hswish_s8", x, signed=True, seed=33)
    xn, xv, xp = b.qdq("input", x)
    c, cv = b.conv(xn, xv, xp, 6, 3, pad=1)
    h = b.unary("HardSwish", c)
    hn, hv, (s, _) = b.qdq(h, low.hardswish(cv))
    c, cv = b.conv(hn, hv, (s, 0), 4, 1)
    on, ov, _ = b.qdq(c, cv)
    b.finish(on, ov.shape)
    base = hn[: -len("_dq")]

    def unsigned(m):  # the HardSwish output as u8, zero point 0, the same threshold over 255 codes
        set_init(m, base + "_scale", np.array(np.float32(s * 127.0 / 255.0)))
        set_init(m, base + "_zp", np.array(np.uint8(0)))
    save_twin(b, "hswish_s8_twin", unsigned)


def saturate_s8():
    rng = np.random.default_rng(24)
    x = rng.standard_normal((1, 3, 10, 10)).astype(np.float32)
    b = low.Builder("saturate_s8", x, signed=True, seed=34)
    xn, xv, xp = b.qdq("input", x)
    c, cv = b.conv(xn, xv, xp, 6, 3, pad=1)
    on, ov, (s, _) = b.qdq(c, cv)
    b.finish(on, ov.shape)
    base = on[: -len("_dq")]
    save_twin(b, "saturate_s8_twin", lambda m: set_init(m, base + "_scale", np.array(np.float32(s / 4))))


def island_s8():
    rng = np.random.default_rng(25)
    x = rng.standard_normal((1, 3, 10, 10)).astype(np.float32)
    b = low.Builder("island_s8", x, signed=True, seed=35)
    xn, xv, xp = b.qdq("input", x)
    c, cv = b.conv(xn, xv, xp, 6, 3, pad=1)
    cn, cvq, (sc, _) = b.qdq(c, cv)
    # A float op whose output range is a fraction of its input's: Clip(-0.5, 0.5).
    h = b.unary("Clip", cn, lo=-0.5, hi=0.5)
    hn, hv, (sh, _) = b.qdq(h, np.clip(cvq, -0.5, 0.5))
    c, cv = b.conv(hn, hv, (sh, 0), 4, 1)
    on, ov, _ = b.qdq(c, cv)
    b.finish(on, ov.shape)
    base = hn[: -len("_dq")]
    # The twin re-quantizes the island's output with the scale propagated from its input.
    save_twin(b, "island_s8_twin", lambda m: set_init(m, base + "_scale", np.array(np.float32(sc))))


def residual_s8():
    rng = np.random.default_rng(26)
    x = rng.standard_normal((1, 4, 10, 10)).astype(np.float32)
    b = low.Builder("residual_s8", x, signed=True, seed=36)
    xn, xv, xp = b.qdq("input", x)
    c, cv = b.conv(xn, xv, xp, 4, 3, pad=1)
    cn, cvq, (sc, _) = b.qdq(c, cv)
    b.nodes.append(helper.make_node("Add", [cn, xn], ["add_out"], name="residual_add"))
    on, ov, _ = b.qdq("add_out", cvq + xv)
    b.finish(on, ov.shape)
    conv_q = cn[: -len("_dq")]

    def rescale_skip(m):  # the skip re-quantized onto a third of the conv branch's scale first
        g = m.graph
        g.initializer.append(onnx.numpy_helper.from_array(np.array(np.float32(sc / 3)), "skip_rescaled_scale"))
        at = [n.name for n in g.node].index("residual_add")
        g.node.insert(at, helper.make_node("QuantizeLinear", [xn, "skip_rescaled_scale", conv_q + "_zp"],
                                           ["skip_rescaled_q"], name="skip_rescaled_Q"))
        g.node.insert(at + 1, helper.make_node("DequantizeLinear", ["skip_rescaled_q", "skip_rescaled_scale",
                                                                    conv_q + "_zp"], ["skip_rescaled_dq"],
                                               name="skip_rescaled_DQ"))
        g.node[at + 2].input[1] = "skip_rescaled_dq"
    save_twin(b, "residual_s8_twin", rescale_skip)


if __name__ == "__main__":
    for make in (per_tensor_w_s8, ties_s8, hswish_s8, saturate_s8, island_s8, residual_s8):
        make()
        print("wrote", make.__name__)
