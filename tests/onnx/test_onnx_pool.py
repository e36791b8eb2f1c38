"""The C++ pooling of the ONNX runtime (csrc/ops/pool.cpp through hpc_kernels._cpu, called by
kernels/onnx/ops/_pool.py) against a float64 NumPy reference written from the definition: every
option, both layouts, both dtypes, strided views and errors; then the ONNX ops against
onnxruntime. Max pooling is exact (it only selects); averages are within a few float ulps."""
from __future__ import annotations

import numpy as np
import pytest

from hpc_kernels._extension import cpu_extension
from hpc_kernels.onnx.ops import _pool

_cpu = cpu_extension()[0]
pytestmark = pytest.mark.skipif(_cpu is None, reason="the cpu backend is not built")

DTYPES = [np.float32, np.float64]
LAYOUTS = ["NCHW", "NHWC"]
TOL = {np.float32: 2e-6, np.float64: 1e-13}

# (H, W, kernel, stride, pads (top, bottom, left, right), dilation, ceil_mode)
CASES = [
    (8, 8, (2, 2), (2, 2), (0, 0, 0, 0), (1, 1), False),
    (7, 9, (3, 3), (2, 2), (1, 1, 1, 1), (1, 1), False),  # ResNet's stem pool on odd sizes
    (7, 9, (3, 3), (2, 2), (1, 1, 1, 1), (1, 1), True),
    (6, 5, (3, 2), (1, 2), (0, 1, 1, 0), (1, 1), True),  # asymmetric pads, ceil overhang
    (10, 11, (3, 3), (3, 2), (2, 0, 0, 2), (2, 1), False),  # dilation (max only)
    (5, 5, (5, 5), (1, 1), (0, 0, 0, 0), (1, 1), False),  # window = image
    (1, 1, (1, 1), (1, 1), (0, 0, 0, 0), (1, 1), False),
    (4, 17, (2, 3), (1, 1), (1, 1, 2, 2), (1, 1), False),
]


def _out_hw(h, w, k, s, p, d, ceil):
    return (_pool.output_size(h, k[0], s[0], d[0], p[0], p[1], ceil), _pool.output_size(w, k[1], s[1], d[1], p[2], p[3], ceil))


def _reference(x, k, s, p, d, ho, wo, kind, include=False):
    """NCHW float64, window by window: only in-image pixels are read (padding never wins a max)."""
    x = x.astype(np.float64)
    n, c, h, w = x.shape
    y = np.empty((n, c, ho, wo))
    for oh in range(ho):
        for ow in range(wo):
            hs, ws = oh * s[0] - p[0], ow * s[1] - p[2]
            rows = [hs + i * d[0] for i in range(k[0]) if 0 <= hs + i * d[0] < h]
            cols = [ws + j * d[1] for j in range(k[1]) if 0 <= ws + j * d[1] < w]
            win = x[:, :, rows][:, :, :, cols].reshape(n, c, -1)
            if kind == "max":
                y[:, :, oh, ow] = win.max(axis=2)
            else:
                cnt = (min(hs + k[0], h + p[1]) - hs) * (min(ws + k[1], w + p[3]) - ws) if include else win.shape[2]
                y[:, :, oh, ow] = win.sum(axis=2) / cnt
    return y


def _to(layout, a):
    return np.ascontiguousarray(a.transpose(0, 2, 3, 1)) if layout == "NHWC" else a


def _from(layout, a):
    return a.transpose(0, 3, 1, 2) if layout == "NHWC" else a


def _x(shape, dtype, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_max_pool_is_exact(layout, dtype, case):
    h, w, k, s, p, d, ceil = case
    x = _x((2, 19, h, w), dtype)  # 19 channels: vector bodies and remainders in NHWC
    ho, wo = _out_hw(h, w, k, s, p, d, ceil)
    xl = _to(layout, x)
    out = np.empty(_to(layout, np.empty((2, 19, ho, wo))).shape, dtype)
    _pool.max_pool2d(xl, out, k, s, p, d, layout)
    want = _reference(x, k, s, p, d, ho, wo, "max")
    np.testing.assert_array_equal(_from(layout, out), want.astype(dtype))


@pytest.mark.parametrize("include", [False, True])
@pytest.mark.parametrize("case", [c for c in CASES if c[5] == (1, 1)])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_avg_pool_matches_reference(layout, dtype, case, include):
    h, w, k, s, p, d, ceil = case
    x = _x((2, 19, h, w), dtype, seed=1)
    ho, wo = _out_hw(h, w, k, s, p, d, ceil)
    out = np.empty(_to(layout, np.empty((2, 19, ho, wo))).shape, dtype)
    _pool.avg_pool2d(_to(layout, x), out, k, s, p, include, layout)
    want = _reference(x, k, s, p, d, ho, wo, "avg", include)
    np.testing.assert_allclose(_from(layout, out), want, rtol=TOL[dtype], atol=TOL[dtype])


@pytest.mark.parametrize("shape", [(1, 2048, 7, 7), (2, 70, 13, 11), (1, 1, 60, 60), (3, 5, 1, 1)])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_global_avg_pool_matches_reference(layout, dtype, shape):
    """ResNet-50's last pool (2048 channels, threads over channel blocks), a channel count that is
    not a multiple of the 64-channel block, one large plane (the 16-lane sum), a 1x1 plane."""
    x = _x(shape, dtype, seed=2)
    out = np.empty(_to(layout, np.empty(shape[:2] + (1, 1))).shape, dtype)
    _pool.global_avg_pool(_to(layout, x), out, layout)
    want = x.astype(np.float64).mean(axis=(2, 3), keepdims=True)
    np.testing.assert_allclose(_from(layout, out), want, rtol=TOL[dtype] * 4, atol=TOL[dtype] * 4)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_strided_views_in_and_out(layout):
    """x a view with steps on every axis, out a channel slice of a larger buffer: read and
    written through their strides (out is never copied)."""
    big = _x((3, 40, 20, 22), np.float32, seed=3)
    x_nchw = big[::2, 1::2, ::2, 1::2]  # (2, 20, 10, 11)
    x = _to(layout, x_nchw) if layout == "NCHW" else big.transpose(0, 2, 3, 1)[::2, ::2, 1::2, 1::2]
    k, s, p, d = (3, 3), (2, 2), (1, 1, 1, 1), (1, 1)
    ho, wo = _out_hw(10, 11, k, s, p, d, False)
    buf = np.full((2, 30, ho, wo) if layout == "NCHW" else (2, ho, wo, 30), np.nan, np.float32)
    out = buf[:, 5:25] if layout == "NCHW" else buf[:, :, :, 5:25]
    for fn, kind in ((lambda o: _pool.max_pool2d(x, o, k, s, p, d, layout), "max"),
                     (lambda o: _pool.avg_pool2d(x, o, k, s, p, False, layout), "avg")):
        fn(out)
        want = _reference(x_nchw, k, s, p, d, ho, wo, kind)
        np.testing.assert_allclose(_from(layout, out), want, rtol=2e-6, atol=2e-6)
        rest = buf[:, :5] if layout == "NCHW" else buf[..., :5]
        assert np.isnan(rest).all()  # nothing outside the view written
    gout = np.empty((2, 40, 1, 1) if layout == "NCHW" else (2, 1, 1, 40), np.float32)[:, ::2] if layout == "NCHW" else \
        np.empty((2, 1, 1, 40), np.float32)[..., ::2]
    _pool.global_avg_pool(x, gout, layout)
    np.testing.assert_allclose(_from(layout, gout), x_nchw.astype(np.float64).mean(axis=(2, 3), keepdims=True), rtol=1e-5)


@pytest.mark.parametrize("kind", ["max", "avg"])
def test_nhwc_pixels_not_contiguous_in_a_row(kind):
    """NHWC with unit channel stride but a step along W: the per-pixel path (contiguous rows take
    the separable one); both must agree with the reference."""
    big = _x((1, 9, 20, 16), np.float64, seed=6)  # (N, H, W, C)
    x = big[:, :, ::2, :]  # W stride 2*C
    x_nchw = x.transpose(0, 3, 1, 2)
    k, s, p, d = (3, 3), (2, 2), (1, 1, 1, 1), (1, 1)
    ho, wo = _out_hw(9, 10, k, s, p, d, True)
    out = np.empty((1, ho, wo, 16))
    if kind == "max":
        _pool.max_pool2d(x, out, k, s, p, d, "NHWC")
    else:
        _pool.avg_pool2d(x, out, k, s, p, True, "NHWC")
    want = _reference(x_nchw, k, s, p, d, ho, wo, kind, include=True)
    np.testing.assert_allclose(_from("NHWC", out), want, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_numpy_fallback_matches_the_cpu_kernels(layout):
    """Other backends (backend != "cpu") run the NumPy forms: the same results."""
    x = _to(layout, _x((2, 9, 9, 10), np.float64, seed=4))
    k, s, p, d = (3, 2), (2, 1), (1, 0, 1, 1), (1, 1)
    ho, wo = _out_hw(9, 10, k, s, p, d, True)
    shape = _to(layout, np.empty((2, 9, ho, wo))).shape
    for call in (lambda o, b: _pool.max_pool2d(x, o, k, s, p, d, layout, b),
                 lambda o, b: _pool.avg_pool2d(x, o, k, s, p, True, layout, b)):
        a, b = np.empty(shape), np.empty(shape)
        call(a, "cpu"), call(b, "reference")
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-13)
    g1, g2 = np.empty(_to(layout, np.empty((2, 9, 1, 1))).shape), np.empty(_to(layout, np.empty((2, 9, 1, 1))).shape)
    _pool.global_avg_pool(x, g1, layout, "cpu"), _pool.global_avg_pool(x, g2, layout, "reference")
    np.testing.assert_allclose(g1, g2, rtol=1e-13)


def test_errors():
    x = np.zeros((1, 3, 6, 6), np.float32)
    out = np.zeros((1, 3, 3, 3), np.float32)
    ok = dict(kernel=(2, 2), stride=(2, 2), padding=(0, 0, 0, 0), dilation=(1, 1), layout="NCHW")
    _cpu.max_pool2d(x, out, **ok)
    with pytest.raises(TypeError, match="dtype"):
        _cpu.max_pool2d(x, out.astype(np.float64), **ok)
    with pytest.raises(TypeError, match="dtype"):
        _cpu.max_pool2d(x.astype(np.int32), out, **ok)
    with pytest.raises(ValueError, match="N and C"):
        _cpu.max_pool2d(x, np.zeros((1, 4, 3, 3), np.float32), **ok)
    with pytest.raises(ValueError, match="does not fit"):
        _cpu.max_pool2d(x, np.zeros((1, 3, 5, 3), np.float32), **ok)
    with pytest.raises(ValueError, match="4-D"):
        _cpu.max_pool2d(x[0], out, **ok)
    with pytest.raises(ValueError, match="layout"):
        _cpu.max_pool2d(x, out, **{**ok, "layout": "NWHC"})
    with pytest.raises(ValueError, match="kernel"):
        _cpu.max_pool2d(x, out, **{**ok, "kernel": (0, 2)})
    with pytest.raises(ValueError, match="larger than the padded input"):
        _cpu.max_pool2d(x, out, **{**ok, "kernel": (9, 2)})
    # Ceil mode lets a last window overhang the padded input by less than a stride (onnxruntime
    # pools what lies inside): a 7-row window over 6 rows gives one output row, the column max.
    xr = np.arange(108, dtype=np.float32).reshape(1, 3, 6, 6)
    one = np.zeros((1, 3, 1, 3), np.float32)
    _cpu.max_pool2d(xr, one, **{**ok, "kernel": (7, 2)})
    np.testing.assert_array_equal(one, xr.reshape(1, 3, 6, 3, 2).max(axis=(2, 4))[:, :, None, :])
    with pytest.raises(ValueError, match="padding"):
        _cpu.max_pool2d(x, out, **{**ok, "padding": (-1, 0, 0, 0)})
    ro = out.copy()
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="writ"):
        _cpu.max_pool2d(x, ro, **ok)
    with pytest.raises(ValueError):
        _cpu.global_avg_pool(x, x[:, :, :1, :1], "NCHW")  # out overlaps x
    with pytest.raises(ValueError, match="1x1"):
        _cpu.global_avg_pool(x, out, "NCHW")
    with pytest.raises(ValueError, match="smaller than the kernel"):
        _cpu.avg_pool2d(x, np.zeros((1, 3, 4, 3), np.float32), (2, 2), (2, 2), (2, 0, 0, 0), False, "NCHW")


# -- the ONNX ops, against onnxruntime ---------------------------------------------------------
onnx_cases = [
    ("MaxPool", dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])),
    ("MaxPool", dict(kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1)),
    ("MaxPool", dict(kernel_shape=[2, 3], strides=[1, 2], dilations=[2, 1], pads=[1, 0, 1, 2])),
    ("MaxPool", dict(kernel_shape=[3, 3], strides=[2, 2], auto_pad="SAME_UPPER")),
    ("MaxPool", dict(kernel_shape=[2, 2], strides=[2, 2], auto_pad="SAME_LOWER")),
    ("AveragePool", dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], count_include_pad=1)),
    ("AveragePool", dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], count_include_pad=0)),
    ("AveragePool", dict(kernel_shape=[3, 2], strides=[2, 2], pads=[1, 0, 0, 1], ceil_mode=1, count_include_pad=1)),
    ("AveragePool", dict(kernel_shape=[3, 3], strides=[2, 2], auto_pad="VALID")),
    ("GlobalAveragePool", {}),
    ("GlobalMaxPool", {}),
]


@pytest.mark.parametrize("op,attrs", onnx_cases, ids=[f"{o}-{i}" for i, (o, _) in enumerate(onnx_cases)])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_onnx_pool_ops_match_onnxruntime(op, attrs, layout):
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from _passes_helpers import ModelBuilder, run_graph, run_onnxruntime, to_graph

    from hpc_kernels.onnx import HPC_DOMAIN
    from hpc_kernels.onnx._passes import compile_graph

    b = ModelBuilder()
    c = b.conv("x", 3, 6)  # a conv first: in NHWC the pool reads the conv's NHWC output
    y = b.node(op, [c], **attrs)
    m = b.model([("x", [1, 3, 11, 10])], [(y, None)])
    x = np.random.default_rng(5).standard_normal((1, 3, 11, 10)).astype(np.float32)
    want = run_onnxruntime(m, {"x": x})[0]
    g = compile_graph(to_graph(m), backend="cpu", layout=layout)
    pool = next(n for n in g.nodes if n.op_type == op)
    assert pool.domain == HPC_DOMAIN and pool.layout == layout
    got = run_graph(g, {"x": x}, backend="cpu")[0]
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def _misaligned(a: np.ndarray) -> np.ndarray:
    """A copy of a whose data pointer is one byte off the item size (what a packed record gives)."""
    buf = np.zeros(a.nbytes + 1, np.uint8)
    m = buf[1:].view(a.dtype).reshape(a.shape)
    m[...] = a
    return m


@pytest.mark.parametrize("layout", LAYOUTS)
def test_misaligned_input_is_copied_and_misaligned_output_rejected(layout):
    x = _to(layout, _x((1, 5, 6, 7), np.float32, seed=7))
    shape = _to(layout, np.empty((1, 5, 3, 3))).shape
    want, got = np.empty(shape, np.float32), np.empty(shape, np.float32)
    _cpu.max_pool2d(x, want, (2, 2), (2, 2), (0, 0, 0, 0), (1, 1), layout)
    _cpu.max_pool2d(_misaligned(x), got, (2, 2), (2, 2), (0, 0, 0, 0), (1, 1), layout)
    np.testing.assert_array_equal(got, want)
    with pytest.raises(ValueError):
        _cpu.max_pool2d(x, _misaligned(want), (2, 2), (2, 2), (0, 0, 0, 0), (1, 1), layout)
    g = np.empty(_to(layout, np.empty((1, 5, 1, 1))).shape, np.float32)
    _cpu.global_avg_pool(_misaligned(x), g, layout)
    np.testing.assert_allclose(_from(layout, g), _from(layout, x).astype(np.float64).mean(axis=(2, 3), keepdims=True), rtol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(1, 3, 224, 224), (2, 35, 5, 17), (1, 1, 1, 1), (3, 16, 2, 33), (1, 0, 4, 4)])
def test_relayout_is_the_transpose(dtype, shape):
    """_cpu.relayout: NCHW -> NHWC and back, exact, for channel counts off the 16 x 16 tiles, from
    strided views; out untouched outside (it is exactly out)."""
    rng = np.random.default_rng(0)
    base = rng.standard_normal((shape[0], shape[1], shape[2], 2 * shape[3] + 1)).astype(dtype)
    x = base[..., 1::2][..., : shape[3]]  # a view with a non-unit W stride
    for src in (x, np.ascontiguousarray(x)):  # (contiguous RGB planes take their own loop)
        out = np.full((shape[0], shape[2], shape[3], shape[1]), np.nan, dtype)
        _cpu.relayout(src, out, "NHWC")
        np.testing.assert_array_equal(out, x.transpose(0, 2, 3, 1))
    back = np.empty(shape, dtype)
    _cpu.relayout(out.transpose(0, 1, 2, 3)[:, ::1], back, "NCHW")
    np.testing.assert_array_equal(back, x)


def test_relayout_errors():
    x = np.zeros((1, 3, 4, 5), np.float32)
    with pytest.raises(TypeError, match="never cast"):
        _cpu.relayout(x, np.zeros((1, 4, 5, 3), np.float64), "NHWC")
    with pytest.raises(ValueError, match=r"needs \(1, 4, 5, 3\)"):
        _cpu.relayout(x, np.zeros((1, 3, 4, 5), np.float32), "NHWC")
    with pytest.raises(ValueError, match="C-contiguous"):
        _cpu.relayout(x, np.zeros((1, 5, 4, 3), np.float32).transpose(0, 2, 1, 3), "NHWC")
    with pytest.raises(ValueError, match="layout must be"):
        _cpu.relayout(x, np.zeros((1, 4, 5, 3), np.float32), "NWHC")
    with pytest.raises(ValueError, match="overlap|shares"):
        buf = np.zeros(60, np.float32)
        _cpu.relayout(buf.reshape(1, 3, 4, 5), buf.reshape(1, 4, 5, 3), "NHWC")


def test_lookup_pairs_is_the_table_lookup():
    """_cpu.lookup_pairs (the QAdd kernel): out[i] = table[(a[i] << 8) | b[i]] over uint8 and int8
    bytes; mismatched shapes, dtypes and overlaps are errors, never a cast or a write elsewhere."""
    rng = np.random.default_rng(0)
    for dt in (np.uint8, np.int8):
        t = rng.integers(0, 256, 65536, dtype=np.uint8).view(dt)
        a = rng.integers(0, 256, (3, 70, 71), dtype=np.uint8).view(dt)
        b = rng.integers(0, 256, (3, 70, 71), dtype=np.uint8).view(dt)
        out = np.empty_like(a)
        _cpu.lookup_pairs(a, b, t, out)
        idx = (a.view(np.uint8).astype(np.uint16) << 8) | b.view(np.uint8)
        np.testing.assert_array_equal(out, t[idx])
    t = np.zeros(65536, np.uint8)
    a = np.zeros((4, 4), np.uint8)
    with pytest.raises(TypeError, match="one dtype"):
        _cpu.lookup_pairs(a, a, t, np.zeros((4, 4), np.int8))
    with pytest.raises(ValueError, match="one shape"):
        _cpu.lookup_pairs(a, np.zeros((4, 5), np.uint8), t, np.zeros((4, 4), np.uint8))
    with pytest.raises(ValueError, match="65536"):
        _cpu.lookup_pairs(a, a, t[:100], np.zeros((4, 4), np.uint8))
    with pytest.raises(ValueError, match="C-contiguous"):
        _cpu.lookup_pairs(np.zeros((4, 8), np.uint8)[:, ::2], a, t, np.zeros((4, 4), np.uint8))
    with pytest.raises(TypeError, match="uint8 or int8"):
        _cpu.lookup_pairs(a.astype(np.float32), a, t, np.zeros((4, 4), np.uint8))
    with pytest.raises(ValueError, match="overlap|shares"):
        _cpu.lookup_pairs(a, a, t, a)
