"""hpc_kernels.qconv2d and QConv2d bit-exact against the tests' int64 oracle (_qref.py) on every
engine: both layouts, stride/padding/dilation, groups, depthwise, padding holding x_zero_point,
per-channel weight zero points and scales, every output mode, QConv2d's per-call overrides."""
from __future__ import annotations

import numpy as np
import pytest

import hpc_kernels

from _qcpu import CPU_INT8
from _qref import conv_acc, epilogue
from hpc_kernels._api.conv_args import make_spec, shape_of

# (N, C, H, W, K, R, S, stride, padding, dilation, groups)
LAYERS = [
    (1, 3, 7, 7, 5, 3, 3, 1, 1, 1, 1),
    (2, 8, 9, 6, 12, 3, 3, 2, (1, 0, 2, 1), 1, 1),
    (1, 5, 10, 11, 7, 1, 1, 1, 0, 1, 1),
    (1, 6, 12, 12, 9, 3, 2, 1, 2, 2, 3),
    (2, 16, 8, 8, 16, 3, 3, 1, 1, 1, 16),  # depthwise
    (1, 8, 9, 9, 8, 5, 5, 2, 2, 1, 8),  # depthwise, stride 2
    (1, 4, 5, 5, 8, 3, 3, 1, "same", 1, 2),
    (1, 33, 6, 5, 17, 3, 1, 1, (1, 1, 0, 0), 1, 1),  # C*R*S not a multiple of 4
    # an RGB stem: C*R*S = 147 (lowered rows padded to 192 where the AMX tiles run, a 19-byte k
    # tail past the two 64-byte tile steps), 132 pixels (four 32-pixel tiles and an edge of 4)
    (1, 3, 23, 21, 40, 7, 7, 2, 3, 1, 1),
]


def rand_q(rng, shape, dtype):
    info = np.iinfo(dtype)
    return rng.integers(info.min, int(info.max) + 1, size=shape, dtype=dtype)


def layer(rng, case, layout, xdt=np.uint8, wdt=np.int8):
    n, c, h, w, k, r, s, st, pad, dil, g = case
    x = rand_q(rng, (n, c, h, w) if layout == "NCHW" else (n, h, w, c), xdt)
    wt = rand_q(rng, (k, c // g, r, s), wdt)
    spec = make_spec("t", st, pad, dil, g, layout, None)
    sh = shape_of("t", x.shape, wt.shape, spec)
    return x, wt, dict(stride=st, padding=pad, dilation=dil, groups=g, layout=layout), (spec, sh)


def expect(x, w, opts, geo, x_zp=0, w_zp=0, residual=None, **ep):
    spec, sh = geo
    acc = conv_acc(x, w, x_zp, w_zp, spec.stride, sh.padding, spec.dilation, spec.groups, spec.layout)
    if residual is not None and spec.layout == "NCHW":
        residual = np.broadcast_to(residual, sh.out_shape("NCHW")).transpose(0, 2, 3, 1)
    y = epilogue(acc, residual=residual, **ep)
    return y if spec.layout == "NHWC" else y.transpose(0, 3, 1, 2)


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize("case", LAYERS, ids=lambda c: "x".join(map(str, c[:7])) + f"-g{c[10]}")
def test_int32_mode(qengine, case, layout, rng):
    x, w, opts, geo = layer(rng, case, layout)
    k = w.shape[0]
    wzp = rng.integers(-3, 3, k).astype(np.int8)
    bias = rng.integers(-500, 500, k, dtype=np.int32)
    got = hpc_kernels.qconv2d(x, w, x_zero_point=77, w_zero_point=wzp, bias=bias, backend=qengine, **opts)
    assert got.dtype == np.int32
    np.testing.assert_array_equal(got, expect(x, w, opts, geo, 77, wzp, bias=bias))


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize("mode", ["float", "u8", "s8"])
@pytest.mark.parametrize("case", LAYERS[:2] + LAYERS[4:6], ids=lambda c: "x".join(map(str, c[:7])) + f"-g{c[10]}")
def test_modes(qengine, case, layout, mode, rng):
    x, w, opts, geo = layer(rng, case, layout, xdt=np.int8 if mode == "s8" else np.uint8)
    k = w.shape[0]
    ws = rng.uniform(0.002, 0.02, k).astype(np.float32)
    out_shape = geo[1].out_shape(layout)
    res = rng.standard_normal(out_shape).astype(np.float32)
    ep = dict(a_scale=0.03, b_scale=ws, activation="relu6" if mode == "u8" else "relu")
    kw = dict(x_scale=0.03, w_scale=ws, activation=ep["activation"])
    if mode != "float":
        odt = np.uint8 if mode == "u8" else np.int8
        ep.update(out_scale=0.05, out_zp=3, out_dtype=odt)
        kw.update(out_scale=0.05, out_zero_point=3, out_dtype=odt)
    xzp = -2 if mode == "s8" else 130
    got = hpc_kernels.qconv2d(x, w, x_zero_point=xzp, residual=res, backend=qengine, **kw, **opts)
    np.testing.assert_array_equal(got, expect(x, w, opts, geo, xzp, residual=res, **ep))


def test_padding_holds_zero_point(qengine, rng):
    """A padded pixel is x_zero_point: an all-zero-point input gives exactly the bias everywhere."""
    x = np.full((1, 4, 5, 5), 200, np.uint8)
    w = rand_q(rng, (6, 4, 3, 3), np.int8)
    bias = np.arange(6, dtype=np.int32)
    got = hpc_kernels.qconv2d(x, w, padding=2, x_zero_point=200, bias=bias, backend=qengine)
    np.testing.assert_array_equal(got, np.broadcast_to(bias.reshape(1, 6, 1, 1), got.shape))


def test_u8_weights_and_views(qengine, rng):
    """uint8 weights with a zero point; x a strided view (a channel slice of a larger NHWC tensor)."""
    big = rand_q(rng, (2, 9, 9, 12), np.uint8)
    x = big[:, ::-1, :, 2:10]
    w = rand_q(rng, (5, 8, 3, 3), np.uint8)
    opts = dict(stride=1, padding=1, dilation=1, groups=1, layout="NHWC")
    geo = (make_spec("t", 1, 1, 1, 1, "NHWC", None), shape_of("t", x.shape, w.shape, make_spec("t", 1, 1, 1, 1, "NHWC", None)))
    got = hpc_kernels.qconv2d(x, w, x_zero_point=10, w_zero_point=128, backend=qengine, **opts)
    np.testing.assert_array_equal(got, expect(x, w, opts, geo, 10, 128))


def test_out_view(qengine, rng):
    """out a channel slice of a larger NCHW array: written in place, nothing else touched."""
    x, w, opts, geo = layer(rng, LAYERS[0], "NCHW")
    big = np.full((1, 9, 7, 7), -1, np.int32)
    out = big[:, 2:7]
    assert hpc_kernels.qconv2d(x, w, out=out, backend=qengine, **opts) is out
    np.testing.assert_array_equal(out, expect(x, w, opts, geo))
    assert (big[:, :2] == -1).all() and (big[:, 7:] == -1).all()


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_plan_overrides(qengine, layout, rng):
    """QConv2d packs once; each call may bring its own activation zero point and scale."""
    x, w, opts, geo = layer(rng, LAYERS[1], layout)
    k = w.shape[0]
    ws = rng.uniform(0.002, 0.02, k).astype(np.float32)
    wzp = rng.integers(-3, 3, k).astype(np.int8)
    plan = hpc_kernels.QConv2d(w, x_zero_point=5, w_zero_point=wzp, x_scale=0.1, w_scale=ws, out_scale=0.2,
                               backend=qengine, **opts)
    ep = dict(b_scale=ws, out_scale=0.2, out_dtype=np.uint8)
    np.testing.assert_array_equal(plan(x), expect(x, w, opts, geo, 5, wzp, a_scale=0.1, **ep))
    np.testing.assert_array_equal(plan(x, x_zero_point=121, x_scale=0.07),
                                  expect(x, w, opts, geo, 121, wzp, a_scale=0.07, **ep))
    out = np.empty(geo[1].out_shape(layout), np.uint8)
    assert plan(x, out=out) is out
    np.testing.assert_array_equal(out, expect(x, w, opts, geo, 5, wzp, a_scale=0.1, **ep))
    x8 = x.view(np.int8)
    ep8 = dict(ep, out_dtype=np.int8)
    np.testing.assert_array_equal(plan(x8, x_zero_point=-1), expect(x8, w, opts, geo, -1, wzp, a_scale=0.1, **ep8))


@pytest.mark.skipif(not CPU_INT8, reason="the cpu backend has no int8 engine in this build")
def test_plan_packed_for_another_kernel(cpu_config, rng):
    """A QConv2d packed under one ISA cap and called under another (other MR) uses its weights as
    they are, and gives the same bits."""
    x, w, opts, geo = layer(rng, LAYERS[1], "NHWC")
    plan = hpc_kernels.QConv2d(w, x_zero_point=9, w_zero_point=1, backend="cpu", **opts)
    want = expect(x, w, opts, geo, 9, 1)
    np.testing.assert_array_equal(plan(x), want)
    cpu_config("generic")
    np.testing.assert_array_equal(plan(x), want)


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize("mode", ["int32", "float", "u8", "s8"])
def test_full_channel_tiles(qengine, layout, mode, rng):
    """K = 72 (whole 32-channel tiles and an edge) over 42 pixels, without a residual: the AVX-512
    kernel's vector epilogue, for NCHW through its L1 tile and per-channel copies."""
    case = (2, 8, 6, 7, 72, 3, 3, 1, 1, 1, 1)
    x, w, opts, geo = layer(rng, case, layout)
    ws = rng.uniform(0.002, 0.02, 72).astype(np.float32)
    bias = rng.integers(-3000, 3000, 72, dtype=np.int32)
    ep, kw = dict(bias=bias), dict(bias=bias)
    if mode != "int32":
        ep.update(a_scale=0.03, b_scale=ws, activation="relu")
        kw.update(x_scale=0.03, w_scale=ws, activation="relu")
    if mode in ("u8", "s8"):
        odt = np.uint8 if mode == "u8" else np.int8
        ep.update(out_scale=0.4, out_zp=-3 if mode == "s8" else 3, out_dtype=odt)
        kw.update(out_scale=0.4, out_zero_point=odt(-3 if mode == "s8" else 3))
    got = hpc_kernels.qconv2d(x, w, x_zero_point=100, w_zero_point=2, backend=qengine, **kw, **opts)
    np.testing.assert_array_equal(got, expect(x, w, opts, geo, 100, 2, **ep))


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize("case", [LAYERS[3], LAYERS[2], LAYERS[7]], ids=["groups3", "pointwise", "c33"])
def test_plan_layers(qengine, case, layout, rng):
    """QConv2d's packed weights (NHWC plans pack them in the (r, s, c) order their inputs are
    lowered in) on grouped, pointwise and odd-channel layers."""
    x, w, opts, geo = layer(rng, case, layout)
    wzp = rng.integers(-2, 3, w.shape[0]).astype(np.int8)
    plan = hpc_kernels.QConv2d(w, x_zero_point=17, w_zero_point=wzp, backend=qengine, **opts)
    np.testing.assert_array_equal(plan(x), expect(x, w, opts, geo, 17, wzp))


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize("case", [LAYERS[0], LAYERS[1], LAYERS[4]], ids=["3x3", "stride2", "depthwise"])
def test_plan_bind(qengine, case, layout, rng):
    """QConv2d.bind: the bound call writes what the plan's own call writes (requantized output with
    a float32 residual, relu), and arrays other than the bound ones take the checked path: a
    different shape or dtype gets __call__'s error, never a write outside out."""
    x, w, opts, geo = layer(rng, case, layout)
    kw = dict(x_zero_point=7, w_zero_point=1, x_scale=0.05, w_scale=0.02, out_scale=0.3,
              out_zero_point=np.uint8(4), activation="relu")
    plan = hpc_kernels.QConv2d(w, backend=qengine, **kw, **opts)
    f = plan.bind(x.shape, x.dtype, residual=True)
    res = rng.standard_normal(f.out_shape).astype(np.float32)
    out = np.empty(f.out_shape, f.out_dtype)
    assert f(x, out, res) is out
    np.testing.assert_array_equal(out, plan(x, residual=res))
    g = plan.bind(x.shape, x.dtype)
    np.testing.assert_array_equal(g(x, np.empty(g.out_shape, g.out_dtype)), plan(x))
    # Not what was bound: the checked path decides (here its errors).
    with pytest.raises(TypeError, match="out"):
        g(x, np.empty(g.out_shape, np.int8))
    with pytest.raises(ValueError):
        g(x[:, :-1] if layout == "NCHW" else x[..., :-1], out)
    big = np.zeros(out.size + 8, out.dtype)
    with pytest.raises(ValueError):
        g(x, big[:-8][: out.size - 1].reshape(-1))
    assert not big[-8:].any()
    # A residual view that is not C-contiguous runs the checked path, with the same result.
    wide = np.zeros(f.out_shape[:-1] + (2 * f.out_shape[-1],), np.float32)
    wide[..., ::2] = res
    np.testing.assert_array_equal(f(x, np.empty_like(out), wide[..., ::2]), out)


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize("mode", ["int32", "float", "u8"])
def test_lowered_in_chunks(qengine, layout, mode, rng):
    """A lowered matrix larger than half the L2 is lowered and multiplied chunk by chunk of pixels
    (csrc/conv/qconv.cpp): 48x48 pixels of 576 bytes (1.3 MB) are 2-3 chunks on a 1-2 MiB L2, the
    last one partial; every pixel's output and residual at its own offset, padding at the edges,
    equal to the oracle bit for bit."""
    case = (1, 64, 48, 48, 16, 3, 3, 1, 1, 1, 1)
    x, w, opts, geo = layer(rng, case, layout)
    res = rng.standard_normal(geo[1].out_shape(layout)).astype(np.float32)
    if mode == "int32":
        got = hpc_kernels.qconv2d(x, w, x_zero_point=120, w_zero_point=1, backend=qengine, **opts)
        np.testing.assert_array_equal(got, expect(x, w, opts, geo, 120, 1))
        return
    ws = rng.uniform(0.002, 0.02, w.shape[0]).astype(np.float32)
    ep = dict(a_scale=0.03, b_scale=ws, activation="relu")
    kw = dict(x_scale=0.03, w_scale=ws, activation="relu")
    if mode == "u8":
        ep.update(out_scale=0.05, out_zp=3, out_dtype=np.uint8)
        kw.update(out_scale=0.05, out_zero_point=3, out_dtype=np.uint8)
    got = hpc_kernels.qconv2d(x, w, x_zero_point=120, residual=res, backend=qengine, **kw, **opts)
    np.testing.assert_array_equal(got, expect(x, w, opts, geo, 120, residual=res, **ep))


@pytest.mark.parametrize("act", [None, "relu", "relu6"])
@pytest.mark.parametrize("odt,zp", [(np.uint8, 0), (np.uint8, 37), (np.uint8, 255), (np.int8, -128), (np.int8, 5),
                                    (np.int8, 127)])
@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_requantize_clamp_bounds(qengine, act, odt, zp, layout, rng):
    """The requantized output's one clamp (activation and type range folded, in output units):
    relu6's 6/out_scale below and above the type's top, zero points at both ends of the type, 64
    channels (whole register tiles) and an edge tile, sums reaching both saturation ends."""
    case = (1, 40, 6, 7, 72, 1, 1, 1, 0, 1, 1)
    x, w, opts, geo = layer(rng, case, layout)
    k = w.shape[0]
    ws = (rng.random(k) * 0.004 + 0.001).astype(np.float32)
    for out_scale in (0.05, 0.5):  # 6 / out_scale = 120 (inside the type's range) and 12
        ep = dict(x_scale=0.03, w_scale=ws, out_scale=out_scale, out_zero_point=odt(zp), activation=act)
        got = hpc_kernels.qconv2d(x, w, x_zero_point=9, backend=qengine, **opts, **ep)
        want = expect(x, w, opts, geo, 9, 0, a_scale=0.03, b_scale=ws, out_scale=out_scale, out_zp=zp,
                      out_dtype=odt, activation=act)
        np.testing.assert_array_equal(got, want)
