"""The cpu backend's C++ entry points under adversarial arguments: failing conversions, misaligned
arrays, degenerate and overflowing geometry, interleaved outputs and odd scalars each give a correct
result or a clear Python exception, never a crash (crash-prone cases run in a subprocess)."""
from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest
from numpy.lib.stride_tricks import as_strided

import hpc_kernels

from hpc_kernels import _cpu


def run_isolated(code: str) -> str:
    """Runs `code` in a fresh interpreter: a crash (signal) fails the test instead of ending the run."""
    r = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, f"exit status {r.returncode} (negative: killed by that signal)\n{r.stdout}\n{r.stderr}"
    return r.stdout


def rand(*shape, dtype=np.float64, seed=0):
    return np.random.default_rng(seed + sum(shape)).standard_normal(shape).astype(dtype)


# ---- 3: an operand whose conversion to an array raises -------------------------------------------

_RAISING = """
import numpy as np
import hpc_kernels
from hpc_kernels import _cpu

class Raising:
    def __array__(self, dtype=None, copy=None):
        raise RuntimeError("no array for you")

a = np.ones((2, 2))
calls = {
    "gemm-a": lambda: hpc_kernels.gemm(Raising(), a, backend="cpu"),
    "gemm-b": lambda: hpc_kernels.gemm(a, Raising(), backend="cpu"),
    "raw-gemm-a": lambda: _cpu.gemm(Raising(), a),
    "raw-gemm-b": lambda: _cpu.gemm(a, Raising(), None, 1.0, 0.0, False, False, None),
    "matmul": lambda: hpc_kernels.matmul(Raising(), a, backend="cpu"),
    "conv2d": lambda: hpc_kernels.conv2d(Raising(), np.ones((1, 1, 1, 1)), backend="cpu"),
}
for name, call in calls.items():
    try:
        call()
    except RuntimeError as e:
        assert str(e) == "no array for you", (name, e)
        print(name, "RuntimeError")
    else:
        raise AssertionError(name + ": no exception")
"""


def test_array_conversion_error_propagates():
    """The exception of a failing __array__ (a torch tensor with requires_grad does this) reaches
    the caller unchanged; gemm used to get a null array from py::array::ensure and crash."""
    out = run_isolated(_RAISING)
    for name in ("gemm-a", "gemm-b", "raw-gemm-a", "raw-gemm-b", "matmul", "conv2d"):
        assert f"{name} RuntimeError" in out


# ---- 4: misaligned inputs are copied, misaligned outputs rejected --------------------------------

def misaligned(x: np.ndarray, gap: int = 0) -> np.ndarray:
    """x's values in memory 1 byte off alignment; gap > 0: also `gap` spare bytes after every element
    (strides not multiples of the item size either)."""
    x = np.asarray(x)
    strides, step = [], x.itemsize + gap
    for n in reversed(x.shape):
        strides.insert(0, step)
        step *= n
    y = np.ndarray(x.shape, x.dtype, buffer=bytearray(max(step, x.itemsize) + 1), offset=1, strides=tuple(strides))
    y[...] = x
    assert not y.flags.aligned
    return y


@pytest.mark.parametrize("gap", [0, 3], ids=["offset", "offset+strides"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_misaligned_gemm_inputs(dtype, gap):
    a, b, c = rand(7, 5, dtype=dtype), rand(5, 9, dtype=dtype, seed=1), rand(7, 9, dtype=dtype, seed=2)
    want = hpc_kernels.gemm(a, b, c.copy(), alpha=1.5, beta=0.5, backend="cpu")
    np.testing.assert_array_equal(hpc_kernels.gemm(misaligned(a, gap), b, c.copy(), alpha=1.5, beta=0.5, backend="cpu"), want)
    np.testing.assert_array_equal(hpc_kernels.gemm(a, misaligned(b, gap), c.copy(), alpha=1.5, beta=0.5, backend="cpu"), want)
    # c read into a distinct out (c is then an input)
    out = np.zeros((7, 9), dtype)
    hpc_kernels.gemm(a, b, misaligned(c, gap), alpha=1.5, beta=0.5, out=out, backend="cpu")
    np.testing.assert_array_equal(out, want)
    # transposed operands
    want_t = hpc_kernels.gemm(a.T.copy(), b.T.copy(), trans_a=True, trans_b=True, backend="cpu")
    got_t = hpc_kernels.gemm(misaligned(a.T.copy(), gap), misaligned(b.T.copy(), gap), trans_a=True, trans_b=True,
                         backend="cpu")
    np.testing.assert_array_equal(got_t, want_t)
    # the raw entry
    np.testing.assert_array_equal(_cpu.gemm(misaligned(a, gap), misaligned(b, gap)), hpc_kernels.gemm(a, b, backend="cpu"))


@pytest.mark.parametrize("gap", [0, 3], ids=["offset", "offset+strides"])
def test_misaligned_matmul_inputs(gap):
    a, b = rand(6, 4, dtype=np.float32), rand(4, 5, dtype=np.float32, seed=1)
    np.testing.assert_array_equal(hpc_kernels.matmul(misaligned(a, gap), misaligned(b, gap), backend="cpu"),
                                  hpc_kernels.matmul(a, b, backend="cpu"))
    a3, b3 = rand(3, 6, 4), rand(3, 4, 5, seed=1)
    np.testing.assert_array_equal(hpc_kernels.matmul(misaligned(a3, gap), misaligned(b3, gap), backend="cpu"),
                                  hpc_kernels.matmul(a3, b3, backend="cpu"))
    np.testing.assert_array_equal(_cpu.matmul(misaligned(a3, gap), b3), hpc_kernels.matmul(a3, b3, backend="cpu"))


CONV_CASES = [  # (layout, groups, x shape, w shape, algorithm)
    ("NCHW", 1, (2, 4, 9, 8), (6, 4, 3, 3), "direct"),
    ("NCHW", 1, (2, 4, 9, 8), (6, 4, 3, 3), "convgemm"),
    ("NCHW", 1, (2, 4, 9, 8), (6, 4, 3, 3), "im2col"),
    ("NCHW", 1, (2, 4, 9, 8), (6, 4, 1, 1), "gemm"),
    ("NHWC", 1, (2, 9, 8, 4), (6, 4, 3, 3), "direct"),
    ("NHWC", 1, (2, 9, 8, 4), (6, 4, 3, 3), "convgemm"),
    ("NCHW", 4, (2, 4, 9, 8), (4, 1, 3, 3), "direct"),  # depthwise
    ("NHWC", 4, (2, 9, 8, 4), (4, 1, 3, 3), "direct"),  # depthwise
]


@pytest.mark.parametrize("gap", [0, 3], ids=["offset", "offset+strides"])
@pytest.mark.parametrize("layout,groups,xs,ws,algo", CONV_CASES)
def test_misaligned_conv2d_inputs(layout, groups, xs, ws, algo, gap):
    dt = np.float32
    x, w = rand(*xs, dtype=dt), rand(*ws, dtype=dt, seed=1)
    k = ws[0]
    bias, scale, shift = rand(k, dtype=dt, seed=2), rand(k, dtype=dt, seed=3), rand(k, dtype=dt, seed=4)
    kw = dict(padding=1 if ws[2] > 1 else 0, groups=groups, layout=layout, algorithm=algo, activation="relu",
              backend="cpu")
    want = hpc_kernels.conv2d(x, w, bias, scale=scale, shift=shift, **kw)
    for name in ("x", "w", "bias", "scale", "shift"):
        args = dict(x=x, w=w, bias=bias, scale=scale, shift=shift)
        args[name] = misaligned(args[name], gap)
        got = hpc_kernels.conv2d(args.pop("x"), args.pop("w"), args.pop("bias"), **args, **kw)
        np.testing.assert_array_equal(got, want, err_msg=f"misaligned {name}")
    # Plans: misaligned weights and epilogue vectors at construction, misaligned x per call.
    plan_kw = {key: v for key, v in kw.items() if key != "backend"}
    plan = hpc_kernels.Conv2d(misaligned(w, gap), misaligned(bias, gap), scale=misaligned(scale, gap),
                          shift=misaligned(shift, gap), backend="cpu", **plan_kw)
    np.testing.assert_array_equal(plan(x), want)
    np.testing.assert_array_equal(plan(misaligned(x, gap)), want)


def test_misaligned_conv2d_raw_entry():
    """hpc_kernels._cpu.conv2d itself: w and the epilogue vectors as the caller gave them."""
    x, w = rand(1, 3, 6, 6, dtype=np.float32), rand(4, 3, 3, 3, dtype=np.float32, seed=1)
    bias = rand(4, dtype=np.float32, seed=2)
    args = ((1, 1), (1, 1, 1, 1), (1, 1), 1, "NCHW", "", "convgemm")
    want = np.zeros((1, 4, 6, 6), np.float32)
    _cpu.conv2d(x, w, bias, None, None, want, *args)
    got = np.zeros_like(want)
    _cpu.conv2d(misaligned(x, 3), misaligned(w, 3), misaligned(bias, 3), misaligned(bias), None, got, *args)
    want2 = np.zeros_like(want)
    _cpu.conv2d(x, w, bias, bias.copy(), None, want2, *args)
    np.testing.assert_array_equal(got, want2)


@pytest.mark.parametrize("gap", [0, 3], ids=["offset", "offset+strides"])
@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_misaligned_im2col_input(layout, gap):
    x = rand(2, 3, 7, 6) if layout == "NCHW" else rand(2, 7, 6, 3)
    want = hpc_kernels.im2col(x, 3, padding=1, stride=2, layout=layout, backend="cpu")
    np.testing.assert_array_equal(hpc_kernels.im2col(misaligned(x, gap), 3, padding=1, stride=2, layout=layout,
                                                 backend="cpu"), want)


def _assert_output_advice(excinfo):
    msg = str(excinfo.value)
    assert "ascontiguousarray" not in msg, msg
    assert "np.empty" in msg, msg


@pytest.mark.parametrize("gap", [0, 3], ids=["offset", "offset+strides"])
def test_misaligned_outputs_rejected(gap):
    """Outputs are never copied: a misaligned one is rejected, with advice that works (NumPy's
    ascontiguousarray returns a contiguous misaligned array unchanged), and left unwritten."""
    a, b = rand(4, 3), rand(3, 5, seed=1)
    out = misaligned(np.zeros((4, 5)), gap)
    with pytest.raises(ValueError, match="out") as e:
        hpc_kernels.gemm(a, b, out=out, backend="cpu")
    _assert_output_advice(e)
    c = misaligned(np.full((4, 5), 2.0), gap)
    with pytest.raises(ValueError, match="c ") as e:
        hpc_kernels.gemm(a, b, c, beta=1.0, backend="cpu")
    _assert_output_advice(e)
    np.testing.assert_array_equal(c, np.full((4, 5), 2.0))
    with pytest.raises(ValueError, match="out") as e:
        hpc_kernels.matmul(a, b, out=out, backend="cpu")
    _assert_output_advice(e)
    with pytest.raises(ValueError, match="out") as e:
        hpc_kernels.matmul(rand(2, 4, 3), b, out=misaligned(np.zeros((2, 4, 5)), gap), backend="cpu")
    _assert_output_advice(e)
    np.testing.assert_array_equal(out, np.zeros((4, 5)))
    x, w = rand(1, 2, 5, 5, dtype=np.float32), rand(3, 2, 3, 3, dtype=np.float32)
    y = misaligned(np.zeros((1, 3, 3, 3), np.float32), gap)
    for algo in ("direct", "convgemm"):
        with pytest.raises(ValueError, match="out") as e:
            hpc_kernels.conv2d(x, w, out=y, algorithm=algo, backend="cpu")
        _assert_output_advice(e)
        with pytest.raises(ValueError, match="out") as e:
            hpc_kernels.Conv2d(w, algorithm=algo, backend="cpu")(x, out=y)
        _assert_output_advice(e)
    np.testing.assert_array_equal(y, np.zeros((1, 3, 3, 3), np.float32))


# ---- 5: geometry: bad values and overflowing sizes -----------------------------------------------

_DEGENERATE = """
import numpy as np
from hpc_kernels import _cpu

X, W = (1, 2, 8, 8), (2, 2, 3, 3)
x, w = np.ones(X, np.float32), np.ones(W, np.float32)
base = dict(stride=(1, 1), padding=(0, 0, 0, 0), dilation=(1, 1), groups=1)
bad = {
    "stride0": dict(stride=(0, 1)), "stride0w": dict(stride=(1, 0)), "groups0": dict(groups=0),
    "groups-1": dict(groups=-1), "dilation0": dict(dilation=(1, 0)), "padding-1": dict(padding=(0, -1, 0, 0)),
    "stride-neg": dict(stride=(-2, 1)),
}
for name, change in bad.items():
    a = {**base, **change}
    calls = {
        "workspace": lambda: _cpu.conv2d_workspace(X, W, a["stride"], a["padding"], a["dilation"], a["groups"],
                                                   "NCHW", "float32", "convgemm"),
        "workspace-direct": lambda: _cpu.conv2d_workspace(X, W, a["stride"], a["padding"], a["dilation"],
                                                          a["groups"], "NCHW", "float64", "direct", 4),
        "conv2d": lambda: _cpu.conv2d(x, w, None, None, None, np.zeros((1, 2, 6, 6), np.float32), a["stride"],
                                      a["padding"], a["dilation"], a["groups"], "NCHW", "", "direct"),
        "im2col": lambda: _cpu.im2col(x, (3, 3), a["stride"], a["padding"], a["dilation"], "NCHW"),
    }
    if name.startswith("groups"):
        del calls["im2col"]
    for where, call in calls.items():
        try:
            call()
        except ValueError as e:
            assert len(str(e).splitlines()) == 1, (name, where, str(e))
            print(name, where, "ValueError", e)
        else:
            raise AssertionError(f"{name} {where}: no exception")
"""


def test_degenerate_geometry_raises_value_error():
    """stride 0 and groups 0 used to end the process with SIGFPE (a division in the geometry)."""
    out = run_isolated(_DEGENERATE)
    assert out.count("ValueError") == 7 * 4 - 2
    assert "workspace ValueError conv2d_workspace: stride must be >= 1, got (0, 1)" in out
    assert "groups0 workspace ValueError conv2d_workspace: groups must be >= 1, got 0" in out
    assert "dilation0 conv2d ValueError conv2d: dilation must be >= 1" in out
    assert "padding-1 im2col ValueError im2col: padding must be >= 0" in out


_HUGE_PADDING = """
import re
import numpy as np
import hpc_kernels
from hpc_kernels import _cpu

x = np.ones((1, 1, 2, 2), np.float32)
for pad in (2**31, 2**62, 2**63 - 1):
    calls = {
        "im2col": lambda: hpc_kernels.im2col(x, 3, padding=pad, backend="cpu"),
        "raw-im2col": lambda: _cpu.im2col(x, (3, 3), (1, 1), (pad,) * 4, (1, 1), "NCHW"),
        "workspace": lambda: hpc_kernels.conv2d_workspace(x.shape, (1, 1, 3, 3), padding=pad),
        "raw-workspace": lambda: _cpu.conv2d_workspace(x.shape, (1, 1, 3, 3), (1, 1), (pad,) * 4, (1, 1), 1, "NCHW",
                                                       "float32", "direct", 2),
    }
    for name, call in calls.items():
        try:
            call()
        except OverflowError as e:  # the raw C++ entries check the sizes themselves
            assert name.startswith("raw") and re.search("too large.*exceeds 2\\^63", str(e)), (pad, name, str(e))
            print(pad, name, "OverflowError")
        except ValueError as e:  # the public API bounds every integer option first
            assert not name.startswith("raw") and "must be at most 2147483647" in str(e), (pad, name, str(e))
            print(pad, name, "ValueError")
        else:
            raise AssertionError(f"{pad} {name}: no exception")
"""


def test_huge_padding_raises_overflow_error():
    """padding 2**31 made im2col's output size wrap (a crash), 2**62 the padded height itself."""
    out = run_isolated(_HUGE_PADDING)
    assert out.count("OverflowError") == 3 * 2 and out.count("ValueError") == 3 * 2


def test_huge_padding_with_stride_checks_the_depthwise_plane():
    """A small output from a huge padded plane (large stride): the depthwise kernel's padded plane
    is far larger than x and y, and its size must not wrap."""
    with pytest.raises(OverflowError, match="depthwise.*too large"):
        _cpu.conv2d_workspace((1, 1, 1, 1), (1, 1, 1, 1), (2**40, 2**40), (2**40,) * 4, (1, 1), 1, "NCHW", "float32",
                              "direct", 2)
    x = np.ones((1, 1, 1, 1), np.float32)
    y = np.zeros((1, 1, 3, 3), np.float32)
    with pytest.raises(OverflowError, match="depthwise.*too large"):
        _cpu.conv2d(x, x, None, None, None, y, (2**40, 2**40), (2**40,) * 4, (1, 1), 1, "NCHW", "", "direct")
    np.testing.assert_array_equal(y, 0)


ALGOS = ["im2col", "convgemm", "direct"]


@pytest.mark.parametrize("algo", ALGOS)
def test_huge_images_workspace(algo):
    """2^30 x 2^30 images: a size that fits is returned (< 2^63), one that does not raises
    OverflowError; sizes used to wrap."""
    for dt in ("float32", "float64"):
        try:
            got = _cpu.conv2d_workspace((1, 1, 2**30, 2**30), (1, 1, 3, 3), (1, 1), (0, 0, 0, 0), (1, 1), 1, "NCHW",
                                        dt, algo, 2)
        except OverflowError as e:
            assert "exceeds 2^63 bytes" in str(e)
        else:
            assert 0 <= got < 2**63
    with pytest.raises(OverflowError, match=r"conv2d_workspace: x \(N, C, H, W\) = \(1, 16, 1073741824, 1073741824\)"):
        _cpu.conv2d_workspace((1, 16, 2**30, 2**30), (16, 16, 3, 3), (1, 1), (0, 0, 0, 0), (1, 1), 1, "NCHW",
                              "float32", algo, 2)
    with pytest.raises(OverflowError, match="exceeds 2\\^63 bytes"):
        hpc_kernels.conv2d_workspace((1, 16, 2**30, 2**30), (16, 16, 3, 3))
    # im2col's lowered matrix of a 1-channel 2^30 x 2^30 image: 9 * 2^60 elements
    if algo == "im2col":
        with pytest.raises(OverflowError, match="im2col lowered matrix"):
            _cpu.conv2d_workspace((1, 1, 2**30, 2**30), (1, 1, 3, 3), (1, 1), (0, 0, 0, 0), (1, 1), 1, "NCHW",
                                  "float32", "im2col", 2)


def test_huge_kernel_workspace():
    """Huge taps over a huge padding: the direct kernel's tap table and weight block sizes."""
    geom = ((1, 1, 1, 1), (2, 1, 2**29, 2**29), (1, 1), (2**29,) * 4, (1, 1), 1, "NCHW", "float32")
    for algo in ("im2col", "direct"):
        with pytest.raises(OverflowError, match="too large"):
            _cpu.conv2d_workspace(*geom, algo, 2)
    assert 0 < _cpu.conv2d_workspace(*geom, "convgemm", 2) < 2**63  # packing buffers only: cache-sized


def test_workspace_shapes_are_checked():
    with pytest.raises(ValueError, match="x's dimensions"):
        _cpu.conv2d_workspace((1, 1, -8, 8), (1, 1, 3, 3), (1, 1), (0, 0, 0, 0), (1, 1), 1, "NCHW", "float32", "direct")
    with pytest.raises(ValueError, match="input channels per group"):
        _cpu.conv2d_workspace((1, 4, 8, 8), (2, 3, 3, 3), (1, 1), (0, 0, 0, 0), (1, 1), 2, "NCHW", "float32", "direct")
    with pytest.raises(ValueError, match="at least 1x1"):
        _cpu.conv2d_workspace((1, 1, 8, 8), (1, 1, 0, 3), (1, 1), (0, 0, 0, 0), (1, 1), 1, "NCHW", "float32", "direct")
    with pytest.raises(ValueError, match="larger than the padded input"):
        _cpu.conv2d_workspace((1, 1, 2, 2), (1, 1, 3, 3), (1, 1), (0, 0, 0, 0), (1, 1), 1, "NCHW", "float32", "direct")
    with pytest.raises(OverflowError, match="dilation"):
        _cpu.conv2d_workspace((1, 1, 2, 2), (1, 1, 3, 3), (1, 1), (0, 0, 0, 0), (2**62, 1), 1, "NCHW", "float32",
                              "direct")
    assert _cpu.conv2d_workspace((1, 1, 8, 8), (1, 1, 3, 3), (1, 1), (0, 0, 0, 0), (1, 1), 1, "NCHW", "float32",
                                 "im2col") > 0


# ---- 7: strided outputs: accepted exactly when no two elements share memory -----------------------

def test_strided_gemm_output_example():
    a, b = rand(13, 4), rand(4, 65, seed=1)
    base = np.full((13, 129), np.nan)
    out = base[:, ::2]
    r = hpc_kernels.gemm(a, b, out=out, backend="cpu")
    assert r is out
    np.testing.assert_allclose(out, a @ b, rtol=1e-13, atol=1e-13)
    assert np.isnan(base[:, 1::2]).all()


def _offsets(shape, strides):
    off = np.zeros(1, np.int64)
    for n, s in zip(shape, strides):
        off = (off[:, None] + np.arange(n, dtype=np.int64)[None, :] * s).ravel()
    return off


def _strided_view(rng, shape, item):
    """A writable view into a NaN buffer with random element strides (0..7 per dimension, some
    reversed): elements may interleave or repeat. Returns (view, buffer, byte offsets)."""
    st = [int(rng.integers(0, 8)) for _ in shape]
    need = sum((n - 1) * s for n, s in zip(shape, st)) + 1
    buf = np.full(need, np.nan, np.float64 if item == 8 else np.float32)
    view = as_strided(buf, shape=shape, strides=[s * item for s in st], writeable=True)
    for d in range(len(shape)):
        if rng.random() < 0.3:
            view = np.flip(view, d)
    return view, buf, _offsets(view.shape, view.strides) + (view.__array_interface__["data"][0] -
                                                            buf.__array_interface__["data"][0])


@pytest.mark.parametrize("seed", range(6))
def test_random_strided_gemm_outputs(seed):
    """Accepted iff every element has its own address (np.unique of the byte offsets); accepted
    ones hold a @ b and nothing else in the buffer is written."""
    rng = np.random.default_rng(seed)
    accepted = rejected = 0
    for trial in range(60):
        m, n, k = (int(v) for v in rng.integers(1, 7, 3))
        dt = np.float64 if trial % 2 else np.float32
        a, b = rand(m, k, dtype=dt, seed=trial), rand(k, n, dtype=dt, seed=trial + 1)
        out, buf, offs = _strided_view(rng, (m, n), np.dtype(dt).itemsize)
        distinct = np.unique(offs).size == offs.size
        if distinct:
            hpc_kernels.gemm(a, b, out=out, backend="cpu")
            np.testing.assert_allclose(out, a.astype(np.float64) @ b, rtol=1e-5, atol=1e-5)
            written = np.zeros(buf.size, bool)
            written[offs // buf.itemsize] = True
            assert np.isnan(buf[~written]).all()
            accepted += 1
        else:
            with pytest.raises(ValueError, match="out has overlapping elements"):
                hpc_kernels.gemm(a, b, out=out, backend="cpu")
            assert np.isnan(buf).all()
            rejected += 1
    assert accepted and rejected


@pytest.mark.parametrize("seed", range(4))
def test_random_strided_matmul_outputs(seed):
    rng = np.random.default_rng(100 + seed)
    for trial in range(40):
        bt, m, n, k = (int(v) for v in rng.integers(1, 5, 4))
        a, b = rand(bt, m, k, seed=trial), rand(k, n, seed=trial + 1)
        out, buf, offs = _strided_view(rng, (bt, m, n), 8)
        if np.unique(offs).size == offs.size:
            hpc_kernels.matmul(a, b, out=out, backend="cpu")
            np.testing.assert_allclose(out, a @ b, rtol=1e-12, atol=1e-12)
        else:
            with pytest.raises(ValueError, match="overlapping"):
                hpc_kernels.matmul(a, b, out=out, backend="cpu")


def test_interleaved_output_that_fails_the_cheap_test():
    """Strides (2, 3) elements over 3 x 3: offsets 0..10 without repeats, but the sorted-stride
    test cannot show it: decided by enumerating the offsets."""
    buf = np.full(11, np.nan)
    out = as_strided(buf, (3, 3), (16, 24), writeable=True)
    a, b = rand(3, 2), rand(2, 3, seed=1)
    hpc_kernels.gemm(a, b, out=out, backend="cpu")
    np.testing.assert_allclose(out, a @ b, rtol=1e-13)
    assert not np.isnan(buf[[0, 2, 3, 4, 5, 6, 7, 8, 10]]).any()
    assert np.isnan(buf[[1, 9]]).all()


def test_large_unprovable_output_rejected():
    """Above 2^22 elements an inconclusive layout is rejected, saying it could not be proven."""
    n = 2**19  # 3 x 3 x n > 2^22 elements; (2, 3) interleave per block of 11
    buf = np.zeros(11 * n, np.float32)
    out = as_strided(buf, (3, 3, n), (8, 12, 44), writeable=True)
    with pytest.raises(ValueError, match="could not be proven free of overlapping elements"):
        hpc_kernels.matmul(np.ones((3, 3, 1), np.float32), np.ones((1, n), np.float32), out=out, backend="cpu")
    assert not buf.any()


def test_zero_size_outputs_never_overlap():
    out = as_strided(np.zeros(1), (0, 4), (0, 0), writeable=True)
    assert hpc_kernels.gemm(np.ones((0, 3)), np.ones((3, 4)), out=out, backend="cpu").shape == (0, 4)


# ---- 8: scalars and integer arguments ------------------------------------------------------------

@pytest.mark.parametrize("name", ["alpha", "beta"])
@pytest.mark.parametrize("value", [True, False, np.bool_(True)], ids=["True", "False", "np.bool_"])
def test_bool_scalars_rejected(name, value):
    a = np.ones((2, 2))
    c = np.ones((2, 2))
    with pytest.raises(TypeError, match=f"gemm: {name} must be a real number, got bool"):
        hpc_kernels.gemm(a, a, c, backend="cpu", **{name: value})
    with pytest.raises(TypeError, match=f"gemm: {name} must be a real number, got bool"):
        _cpu.gemm(a, a, c, **{name: value})
    np.testing.assert_array_equal(c, 1.0)


@pytest.mark.parametrize("name", ["alpha", "beta"])
def test_bad_scalars(name):
    a, c = np.ones((2, 2)), np.ones((2, 2))
    with pytest.raises(OverflowError, match=f"gemm: {name} is too large to convert to a float"):
        hpc_kernels.gemm(a, a, c, backend="cpu", **{name: 10**400})
    with pytest.raises(OverflowError, match=f"gemm: {name} is too large to convert to a float"):
        hpc_kernels.gemm(a, a, c, backend="cpu", **{name: -(10**400)})
    with pytest.raises(TypeError, match=f"gemm: {name} must be a real number, got str"):
        hpc_kernels.gemm(a, a, c, backend="cpu", **{name: "1"})
    with pytest.raises(TypeError, match=f"gemm: {name} must be a real number, got complex"):
        hpc_kernels.gemm(a, a, c, backend="cpu", **{name: 1j})
    np.testing.assert_array_equal(c, 1.0)


def test_numpy_and_int_scalars_accepted():
    a, b, c = rand(3, 4), rand(4, 2, seed=1), rand(3, 2, seed=2)
    want = 2.0 * (a @ b) + 0.5 * c
    for alpha, beta in [(np.float32(2), np.float64(0.5)), (2, 0.5), (np.int64(2), np.float16(0.5)), (2**53, 0)]:
        got = hpc_kernels.gemm(a, b, c.copy(), alpha=alpha, beta=beta, backend="cpu")
        exp = want if alpha == 2 else float(alpha) * (a @ b)
        np.testing.assert_allclose(got, exp, rtol=1e-12)


def _conv_raw_args():
    x, w = np.ones((1, 1, 4, 4), np.float32), np.ones((1, 1, 3, 3), np.float32)
    out = np.zeros((1, 1, 2, 2), np.float32)
    return x, w, out


@pytest.mark.parametrize("arg,value", [
    ("stride", (2**63, 1)), ("stride", (1, -(2**63) - 1)), ("padding", (0, 0, 2**64, 0)), ("dilation", (10**30, 1)),
    ("groups", 2**63), ("stride", (1.0, 1)), ("stride", (True, 1)), ("padding", (0, 0)), ("stride", 1),
    ("groups", None),
])
def test_raw_conv_int_arguments_one_line_errors(arg, value):
    """An out-of-range or ill-typed integer argument gives a one-line OverflowError/TypeError/
    ValueError naming it, not pybind11's dump of the whole signature."""
    x, w, out = _conv_raw_args()
    a = dict(stride=(1, 1), padding=(0, 0, 0, 0), dilation=(1, 1), groups=1)
    a[arg] = value
    calls = [
        lambda: _cpu.conv2d(x, w, None, None, None, out, a["stride"], a["padding"], a["dilation"], a["groups"], "NCHW",
                            "", "direct"),
        lambda: _cpu.conv2d_workspace(x.shape, w.shape, a["stride"], a["padding"], a["dilation"], a["groups"], "NCHW",
                                      "float32", "direct"),
    ]
    if arg != "groups":
        plan = _cpu.ConvWeights(w, None, None, None, 1, "NCHW", "")
        calls.append(lambda: _cpu.conv2d_packed(plan, x, out, a["stride"], a["padding"], a["dilation"], "direct"))
        calls.append(lambda: _cpu.im2col(x, (3, 3), a["stride"], a["padding"], a["dilation"], "NCHW"))
    else:
        calls.append(lambda: _cpu.ConvWeights(w, None, None, None, a["groups"], "NCHW", ""))
    for call in calls:
        with pytest.raises((OverflowError, TypeError, ValueError)) as e:
            call()
        msg = str(e.value)
        assert len(msg.splitlines()) == 1, msg
        assert arg in msg, msg
    np.testing.assert_array_equal(out, 0)


def test_raw_stride_2_63_is_overflow_error():
    x, w, out = _conv_raw_args()
    with pytest.raises(OverflowError) as e:
        _cpu.conv2d(x, w, None, None, None, out, (2**63, 1), (0, 0, 0, 0), (1, 1), 1, "NCHW", "", "direct")
    assert str(e.value) == "conv2d: stride is out of range: it must fit in a signed 64-bit integer"
    with pytest.raises(OverflowError) as e:
        _cpu.conv2d_workspace((2**63, 1, 4, 4), w.shape, (1, 1), (0, 0, 0, 0), (1, 1), 1, "NCHW", "float32", "direct")
    assert len(str(e.value).splitlines()) == 1 and "x_shape" in str(e.value)
    with pytest.raises(OverflowError) as e:
        _cpu.im2col(x, (2**63, 1), (1, 1), (0, 0, 0, 0), (1, 1), "NCHW")
    assert len(str(e.value).splitlines()) == 1 and "kernel_size" in str(e.value)


def test_public_conv2d_huge_stride_one_line():
    x, w = np.ones((1, 1, 4, 4), np.float32), np.ones((1, 1, 3, 3), np.float32)
    with pytest.raises((OverflowError, ValueError)) as e:
        hpc_kernels.conv2d(x, w, stride=2**63, backend="cpu")
    assert len(str(e.value).splitlines()) == 1, str(e.value)
