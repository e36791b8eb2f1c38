"""The cuda backend end to end without a GPU: CuPy replaced by NumPy and every kernel launch by a NumPy model of that kernel's contract (tests/_fake_cupy.py), so operand layouts, copies, strides, batch offsets, grids, shared memory, tap tables, packed weights and epilogue arguments are checked against NumPy results. The CUDA code itself is what tests/backends/cuda/test_cuda_gpu.py runs."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

import hpc_kernels

import _fake_cupy as fc
from _conv_reference import conv2d_ref, int_operands
from _helpers import in_layout, small_ints


@pytest.fixture
def emu(monkeypatch):
    # The fake arrays are NumPy subclasses, which the cpu backend would take by type: name cuda.
    with fc.installed(monkeypatch) as rec, hpc_kernels.use_backend("cuda"):
        yield rec


@pytest.mark.parametrize("dt", ["float32", "float64", "float16"])
@pytest.mark.parametrize("trans_a,trans_b", list(itertools.product((False, True), repeat=2)))
@pytest.mark.parametrize("order", ["C", "F"])
def test_gemm_layouts(emu, dt, trans_a, trans_b, order, rng):
    for m, n, k in ((5, 7, 3), (33, 20, 17), (1, 9, 4)):
        a_h = small_ints(rng, (k, m) if trans_a else (m, k), dt)
        b_h = small_ints(rng, (n, k) if trans_b else (k, n), dt)
        c_h = small_ints(rng, (m, n), dt)
        a, b = fc.device(np.asarray(a_h, order=order)), fc.device(np.asarray(b_h, order=order))
        c = fc.device(np.asarray(c_h, order=order))
        got = hpc_kernels.gemm(a, b, c, alpha=2.0, beta=-1.0, trans_a=trans_a, trans_b=trans_b)
        assert got is c
        opa = (a_h.T if trans_a else a_h).astype(np.float64)
        opb = (b_h.T if trans_b else b_h).astype(np.float64)
        np.testing.assert_array_equal(np.asarray(got, np.float64), 2 * opa @ opb - c_h)
    kind = "gemm_simt<" if dt != "float16" else "gemm_tc<half_t"
    assert emu.calls and all(call[1].startswith(kind) for call in emu.calls)


def test_gemm_views_copies_and_semantics(emu, rng):
    m, n, k = 9, 7, 5  # n = 7 floats: rows of B are not 16-byte aligned -> copied for cp.async
    for la, lb, lc in (("strided", "C", "sub"), ("neg", "F", "strided"), ("rows2", "negF", "neg")):
        a_h, _ = in_layout(small_ints(rng, (m, k), np.float32), la)
        b_h, _ = in_layout(small_ints(rng, (k, n), np.float32), lb)
        base = fc.device(np.full((3 * m, 3 * n), np.nan, np.float32))
        out = {"sub": base[2:2 + m, 3:3 + n], "strided": base[1::2, 2::3][:m, :n], "neg": base[:m, :n][::-1, ::-1]}[lc]
        a, b = fc.device(a_h), fc.device(b_h)
        a_before = np.array(a)
        got = hpc_kernels.gemm(a[...], b, out=out)
        assert got is out
        np.testing.assert_array_equal(np.asarray(got), a_h.astype(np.float64) @ b_h)
        np.testing.assert_array_equal(np.asarray(a), a_before)  # inputs untouched (copies are new)
        assert np.isnan(np.asarray(base)).sum() == base.size - m * n  # nothing outside out written
    # beta == 0 never reads C; alpha == 0 never reads A and B (k = 0 to the kernel)
    c = fc.device(np.full((3, 4), np.nan, np.float32))
    hpc_kernels.gemm(fc.device(np.ones((3, 2), np.float32)), fc.device(np.ones((2, 4), np.float32)), c)
    np.testing.assert_array_equal(np.asarray(c), 2.0)
    hpc_kernels.gemm(fc.device(np.full((3, 2), np.nan, np.float32)), fc.device(np.ones((2, 4), np.float32)), c, alpha=0.0, beta=0.5)
    np.testing.assert_array_equal(np.asarray(c), 1.0)
    assert emu.calls[-1][1].startswith("gemm_simt") and emu.calls[-1][2][0] == 1


def test_gemm_errors(emu):
    a = fc.device(np.ones((4, 4), np.float32))
    with pytest.raises(ValueError, match="overlap"):
        hpc_kernels.gemm(a, a, out=a)
    with pytest.raises(TypeError, match="never cast"):
        hpc_kernels.gemm(a, a, out=fc.device(np.ones((4, 4))))
    with pytest.raises(TypeError, match="both be cupy arrays"):
        hpc_kernels.gemm(a, np.ones((4, 4), np.float32), backend="cuda")
    with pytest.raises(TypeError, match="float32, float64, float16 and bfloat16"):
        hpc_kernels.gemm(fc.device(np.ones((2, 2), np.int32)), fc.device(np.ones((2, 2), np.int32)))
    with pytest.raises(ValueError, match="broadcast"):
        hpc_kernels.gemm(a, a, out=np.broadcast_to(fc.device(np.zeros(4, np.float32)), (4, 4), subok=True))


def test_tf32_only_when_asked(emu, rng):
    a, b = fc.device(small_ints(rng, (16, 8), np.float32)), fc.device(small_ints(rng, (8, 24), np.float32))
    hpc_kernels.gemm(a, b)
    assert emu.calls[-1][1].startswith("gemm_simt<float")
    got = hpc_kernels.gemm(a, b, precision="tf32")
    assert emu.calls[-1][1].startswith("gemm_tc<float")
    np.testing.assert_array_equal(np.asarray(got), np.asarray(a, np.float64) @ np.asarray(b))


def test_cublas_when_the_store_says_so(emu, monkeypatch, tmp_path, rng):
    from hpc_kernels import _tuning
    from hpc_kernels.backends.cuda import plan

    monkeypatch.setattr(_tuning, "cache_path", lambda: tmp_path / _tuning.FILE_NAME)
    _tuning.forget()
    _tuning.put("cuda", "gemm.cublas", plan.gemm_key("float32", "exact", 64, 64, 64), "cublas", plan.device(90, "Emulated sm_90"))
    # the cpu's namespace is another: a cpu entry of the same op and key is never read by cuda
    _tuning.put("cpu", "gemm.cublas", plan.gemm_key("float32", "exact", 16, 16, 16), "cublas", plan.device(90, "Emulated sm_90"))
    a, b = fc.device(small_ints(rng, (64, 64), np.float32)), fc.device(small_ints(rng, (64, 64), np.float32))
    c = fc.device(small_ints(rng, (64, 64), np.float32))
    c0 = np.array(c, np.float64)
    n = len(emu.calls)
    hpc_kernels.gemm(a, b, c, alpha=0.5, beta=2.0)
    assert len(emu.calls) == n  # no kernel of ours
    np.testing.assert_array_equal(np.asarray(c), 0.5 * (np.asarray(a, np.float64) @ np.asarray(b)) + 2 * c0)
    a16, b16 = fc.device(small_ints(rng, (16, 16), np.float32)), fc.device(small_ints(rng, (16, 16), np.float32))
    hpc_kernels.gemm(a16, b16)
    assert len(emu.calls) > n  # ours: the cpu entry of the same key was not read
    _tuning.forget()


@pytest.mark.parametrize("shapes", [((5, 7), (7, 3)), ((4, 5, 7), (7, 3)), ((2, 1, 5, 7), (3, 7, 2)), ((7,), (3, 7, 4)),
                                    ((6, 7), (7,)), ((7,), (7,)), ((2, 3, 4, 6), (2, 3, 6, 5))])
def test_matmul_batches(emu, shapes, rng):
    sa, sb = shapes
    a_h, b_h = small_ints(rng, sa, np.float32), small_ints(rng, sb, np.float32)
    want = np.matmul(a_h.astype(np.float64), b_h)
    got = hpc_kernels.matmul(fc.device(a_h), fc.device(b_h))
    np.testing.assert_array_equal(np.asarray(got), want)
    host = hpc_kernels.matmul(a_h, b_h, backend="cuda")
    assert type(host) is np.ndarray or np.isscalar(host)
    np.testing.assert_array_equal(np.asarray(host), want)
    if a_h.ndim >= 2:  # a transposed view of a Fortran copy: the same values, other strides
        f = fc.device(np.asfortranarray(a_h))
        np.testing.assert_array_equal(np.asarray(hpc_kernels.matmul(f, fc.device(b_h))), want)


def test_numpy_round_trip(emu, rng):
    a, b = small_ints(rng, (6, 5), np.float32), small_ints(rng, (5, 4), np.float32)
    out = np.empty((6, 4), np.float32)
    assert hpc_kernels.gemm(a, b, out=out, backend="cuda") is out
    np.testing.assert_array_equal(out, a.astype(np.float64) @ b)


CONV = [
    dict(x=(2, 3, 7, 6), w=(4, 3, 3, 3), stride=2, padding=1, dilation=1, groups=1),
    dict(x=(1, 8, 6, 6), w=(6, 4, 2, 3), stride=(1, 2), padding=(0, 1, 2, 0), dilation=(2, 1), groups=2),
    dict(x=(2, 4, 5, 5), w=(4, 1, 3, 3), stride=1, padding=1, dilation=1, groups=4),
    dict(x=(2, 16, 4, 3), w=(8, 16, 1, 1), stride=1, padding=0, dilation=1, groups=1),
]


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize("algorithm", ["auto", "im2col", "convgemm", "gemm"])
@pytest.mark.parametrize("dt", ["float32", "float16"])
@pytest.mark.parametrize("case", range(len(CONV)))
def test_conv2d(emu, case, layout, algorithm, dt, rng):
    c = dict(CONV[case])
    xs, ws = c.pop("x"), c.pop("w")
    if algorithm == "gemm" and ws[2:] != (1, 1):
        pytest.skip("gemm: 1x1 layers")
    if layout == "NHWC":
        xs = (xs[0], xs[2], xs[3], xs[1])
    ops = int_operands(rng, xs, ws, np.float32, bias=True, scale=True, shift=True, layout=layout)
    act = ("relu", "relu6", None, "relu")[case]
    ref = conv2d_ref(ops["x"], ops["w"], ops["bias"], **c, layout=layout, activation=act, scale=ops["scale"], shift=ops["shift"])
    dev = {k: None if v is None else fc.device(v.astype(dt)) for k, v in ops.items()}
    y = hpc_kernels.conv2d(dev["x"], dev["w"], dev["bias"], **c, layout=layout, activation=act, scale=dev["scale"],
                       shift=dev["shift"], algorithm=algorithm)
    assert isinstance(y, fc.ndarray) and y.dtype == dt
    np.testing.assert_array_equal(np.asarray(y, np.float64), ref)
    host = hpc_kernels.conv2d(ops["x"].astype(dt), ops["w"].astype(dt), ops["bias"].astype(dt), **c, layout=layout, activation=act,
                          scale=ops["scale"].astype(dt), shift=ops["shift"].astype(dt), algorithm=algorithm, backend="cuda")
    assert type(host) is np.ndarray
    np.testing.assert_array_equal(host.astype(np.float64), ref)


def test_conv2d_out_slice_and_plan(emu, rng):
    ops = int_operands(rng, (2, 5, 5, 6), (8, 6, 3, 3), np.float32, bias=True, layout="NHWC")
    ref = conv2d_ref(ops["x"], ops["w"], ops["bias"], padding=1, layout="NHWC", activation="relu")
    full = fc.device(np.full((2, 5, 5, 12), np.nan, np.float32))
    out = full[..., 2:10]
    y = hpc_kernels.conv2d(fc.device(ops["x"]), fc.device(ops["w"]), fc.device(ops["bias"]), padding=1, layout="NHWC", activation="relu", out=out)
    assert y is out
    np.testing.assert_array_equal(np.asarray(out), ref)
    assert np.isnan(np.asarray(full[..., :2])).all() and np.isnan(np.asarray(full[..., 10:])).all()
    plan = hpc_kernels.Conv2d(ops["w"], ops["bias"], padding=1, layout="NHWC", activation="relu", backend="cuda")
    np.testing.assert_array_equal(np.asarray(plan(fc.device(ops["x"]))), ref)
    np.testing.assert_array_equal(np.asarray(plan(fc.device(ops["x"]))), ref)  # packed weights reused


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize("algorithm", ["auto", "im2col", "gemm"])
@pytest.mark.parametrize("dt", ["float32", "float64", "float16"])
def test_conv2d_residual(emu, layout, algorithm, dt, rng):
    """residual= through ConvOut's epilogue arguments: a device residual (fresh, a strided view,
    out itself), a NumPy one, and a plan's; NaN in it propagates."""
    xs, ws = ((2, 6, 5, 5), (8, 6, 1, 1)) if algorithm == "gemm" else ((2, 6, 7, 5), (8, 6, 3, 3))
    pad = 0 if algorithm == "gemm" else 1
    if layout == "NHWC":
        xs = (xs[0], xs[2], xs[3], xs[1])
    ops = int_operands(rng, xs, ws, np.float32, bias=True, scale=True, layout=layout)
    ys = (xs[0], 8, xs[2] - ws[2] + 1 + 2 * pad, xs[3] - ws[3] + 1 + 2 * pad) if layout == "NCHW" else \
        (xs[0], xs[1] - ws[2] + 1 + 2 * pad, xs[2] - ws[3] + 1 + 2 * pad, 8)
    r = small_ints(rng, ys, np.float32)
    ref = conv2d_ref(ops["x"], ops["w"], ops["bias"], padding=pad, layout=layout, activation="relu", scale=ops["scale"],
                     residual=r)
    dev = {k: None if v is None else fc.device(v.astype(dt)) for k, v in ops.items()}
    kw = dict(padding=pad, layout=layout, activation="relu", scale=dev["scale"], algorithm=algorithm)
    y = hpc_kernels.conv2d(dev["x"], dev["w"], dev["bias"], residual=fc.device(r.astype(dt)), **kw)
    np.testing.assert_array_equal(np.asarray(y, np.float64), ref)
    big = fc.device(np.zeros(ys[:-1] + (2 * ys[-1],), dt))  # a residual whose last axis is stepped
    big[..., ::2] = r.astype(dt)
    y = hpc_kernels.conv2d(dev["x"], dev["w"], dev["bias"], residual=big[..., ::2], **kw)
    np.testing.assert_array_equal(np.asarray(y, np.float64), ref)
    y = hpc_kernels.conv2d(dev["x"], dev["w"], dev["bias"], residual=r.astype(dt), **kw)  # NumPy residual
    np.testing.assert_array_equal(np.asarray(y, np.float64), ref)
    inplace = fc.device(r.astype(dt))
    assert hpc_kernels.conv2d(dev["x"], dev["w"], dev["bias"], residual=inplace, out=inplace, **kw) is inplace
    np.testing.assert_array_equal(np.asarray(inplace, np.float64), ref)
    plan = hpc_kernels.Conv2d(dev["w"], dev["bias"], scale=dev["scale"], padding=pad, layout=layout, activation="relu",
                              algorithm=algorithm, backend="cuda")
    np.testing.assert_array_equal(np.asarray(plan(dev["x"], residual=fc.device(r.astype(dt))), np.float64), ref)
    rn = r.astype(dt)
    rn.flat[3] = np.nan
    y = np.asarray(hpc_kernels.conv2d(dev["x"], dev["w"], dev["bias"], residual=fc.device(rn), **kw), np.float64)
    assert np.isnan(y).sum() == 1 and np.isnan(y.flat[3])
    cax = 1 if layout == "NCHW" else 3  # channel slices of one array: valid outputs, overlapping
    overlap = fc.device(np.zeros(tuple(d + 1 if i == cax else d for i, d in enumerate(ys)), dt))
    lo, hi = [slice(None)] * 4, [slice(None)] * 4
    lo[cax], hi[cax] = slice(0, -1), slice(1, None)
    with pytest.raises(ValueError, match="residual and out share memory"):
        hpc_kernels.conv2d(dev["x"], dev["w"], dev["bias"], residual=overlap[tuple(hi)], out=overlap[tuple(lo)], **kw)
