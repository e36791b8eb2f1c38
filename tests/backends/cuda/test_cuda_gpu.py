"""cuda backend on a GPU: gemm/matmul/conv2d sweeps against float64 references with a bound per precision, device arrays and outputs, streams, NumPy round trips, plans and errors (skipped without a CUDA GPU)."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

import hpc_kernels

from _conv_reference import conv2d_ref, conv2d_ref_and_bound, int_operands
from _helpers import gemm_reference, in_layout, rand, small_ints

from hpc_kernels.backends import cuda as cuda_mod

if not cuda_mod.backend.available:
    pytest.skip(f"no CUDA GPU: {cuda_mod.backend.reason}", allow_module_level=True)

import cupy as cp  # noqa: E402

EPS32 = float(np.finfo(np.float32).eps)
# Unit roundoff of each stored type (the result is rounded once into it).
UNIT = {"float16": 2.0 ** -11, "bfloat16": 2.0 ** -8, "float32": 2.0 ** -24, "float64": 2.0 ** -53}


def _bf16():
    try:
        return np.dtype("bfloat16")
    except TypeError:
        return None


# (dtype, precision): float32 exact on CUDA cores, tf32 and 16-bit on tensor cores.
CASES = [("float32", None), ("float64", None), ("float16", None), ("float32", "tf32")] + ([("bfloat16", None)] if _bf16() else [])


def bound(dt: str, precision, k: int, mag: np.ndarray) -> np.ndarray:
    """Elementwise error bound of each precision, stated:
    - float32 / float64 exact: the netlib bound of the CPU tests, (2k + 4) eps |alpha||A||B| + ...
    - float16 / bfloat16: products exact in fp32, fp32 accumulation ((2k + 4) eps32), one final
      rounding to the storage type (unit u_out): (2k + 4) eps32 mag + 2 u_out mag
    - tf32: each input rounded to 10 mantissa bits (u = 2^-11) before exact products: a product
      is off by <= 2u relative, so (2k + 4) eps32 mag + 4 * 2^-11 mag."""
    if dt == "float64":
        return (2 * k + 4) * float(np.finfo(np.float64).eps) * mag
    base = (2 * k + 4) * EPS32 * mag
    if precision == "tf32":
        return base + 4 * 2.0 ** -11 * mag
    if dt in ("float16", "bfloat16"):
        return base + 2 * UNIT[dt] * mag
    return base


def _np_dtype(dt: str):
    return _bf16() if dt == "bfloat16" else np.dtype(dt)


def _check(got, ref, bnd, what):
    got = cp.asnumpy(got).astype(np.float64) if isinstance(got, cp.ndarray) else np.asarray(got, np.float64)
    err = np.abs(got - ref)
    bad = ~(err <= bnd + 1e-300)
    assert not bad.any(), f"{what}: {int(bad.sum())} outside the bound, first {np.argwhere(bad)[0]}: got {got[tuple(np.argwhere(bad)[0])]}, ref {ref[tuple(np.argwhere(bad)[0])]}"


SHAPES = [(1, 1, 1), (7, 13, 17), (64, 64, 64), (129, 300, 65), (200, 37, 150), (255, 257, 33), (512, 384, 256)]


@pytest.mark.parametrize("dt,precision", CASES)
@pytest.mark.parametrize("trans_a,trans_b", list(itertools.product((False, True), repeat=2)))
@pytest.mark.parametrize("order", ["C", "F"])
def test_gemm_sweep(dt, precision, trans_a, trans_b, order, rng):
    for m, n, k in SHAPES:
        a_h = rand(rng, (k, m) if trans_a else (m, k), np.float32).astype(_np_dtype(dt))
        b_h = rand(rng, (n, k) if trans_b else (k, n), np.float32).astype(_np_dtype(dt))
        c_h = rand(rng, (m, n), np.float32).astype(_np_dtype(dt))
        a, b = cp.asarray(np.asarray(a_h, order=order)), cp.asarray(np.asarray(b_h, order=order))
        c = cp.asarray(np.asarray(c_h, order=order))
        got = hpc_kernels.gemm(a, b, c, alpha=0.7, beta=-1.0, trans_a=trans_a, trans_b=trans_b, precision=precision)
        assert got is c
        opa = a_h.T if trans_a else a_h
        opb = b_h.T if trans_b else b_h
        ref, _ = gemm_reference(opa.astype(np.float64), opb.astype(np.float64), c_h.astype(np.float64), 0.7, -1.0)
        mag = 0.7 * (np.abs(opa.astype(np.float64)) @ np.abs(opb.astype(np.float64))) + np.abs(c_h.astype(np.float64))
        _check(got, ref, bound(dt, precision, k, mag), f"{dt} {precision} {(m, n, k)} ta={trans_a} tb={trans_b} {order}")


@pytest.mark.parametrize("dt,precision", CASES)
def test_gemm_exact_integer_data(dt, precision, rng):
    """Small integers: exact in every precision (fp16 results below 2048 are exact too)."""
    for m, n, k in ((33, 65, 40), (128, 128, 24), (3, 250, 129)):
        a_h, b_h = small_ints(rng, (m, k), np.float32), small_ints(rng, (k, n), np.float32)
        a, b = cp.asarray(a_h.astype(_np_dtype(dt))), cp.asarray(b_h.astype(_np_dtype(dt)))
        got = cp.asnumpy(hpc_kernels.gemm(a, b, precision=precision)).astype(np.float64)
        np.testing.assert_array_equal(got, a_h.astype(np.float64) @ b_h, err_msg=f"{dt} {precision} {(m, n, k)}")


@pytest.mark.parametrize("dt", ["float32", "float64", "float16"])
def test_gemm_views_and_outputs(dt, rng):
    """Strided, negative-stride and sliced inputs; out into a strided view; elements outside it untouched."""
    m, n, k = 37, 29, 23
    for la, lb, lc in (("strided", "C", "sub"), ("neg", "F", "strided"), ("rows2", "negF", "F")):
        a_h, _ = in_layout(rand(rng, (m, k), np.float32).astype(dt), la)
        b_h, _ = in_layout(rand(rng, (k, n), np.float32).astype(dt), lb)
        base = cp.full((3 * m, 3 * n), cp.nan, dt)
        out = base[1::2, 2::3][:m, :n] if lc == "strided" else base[2 : 2 + m, 3 : 3 + n] if lc == "sub" else cp.asfortranarray(base[:m, :n])
        got = hpc_kernels.gemm(cp.asarray(a_h), cp.asarray(b_h), out=out)
        assert got is out
        ref, _ = gemm_reference(a_h.astype(np.float64), b_h.astype(np.float64), None, 1.0, 0.0)
        mag = np.abs(a_h.astype(np.float64)) @ np.abs(b_h.astype(np.float64))
        _check(got, ref, bound(dt, None, k, mag), f"{dt} {la} {lb} {lc}")
        if lc != "F":
            mask = cp.zeros(base.shape, bool)
            (mask[1::2, 2::3][:m, :n] if lc == "strided" else mask[2 : 2 + m, 3 : 3 + n])[...] = True
            assert bool(cp.isnan(base[~mask]).all())


def test_gemm_blas_semantics():
    a = cp.full((8, 5), cp.nan, cp.float32)
    b = cp.ones((5, 6), cp.float32)
    c = cp.full((8, 6), 2.0, cp.float32)
    hpc_kernels.gemm(a, b, c, alpha=0.0, beta=3.0)  # alpha == 0: A and B not read
    np.testing.assert_array_equal(cp.asnumpy(c), 6.0)
    c[...] = cp.nan
    good = cp.ones((8, 5), cp.float32)
    hpc_kernels.gemm(good, b, c, beta=0.0)  # beta == 0: C not read
    np.testing.assert_array_equal(cp.asnumpy(c), 5.0)
    e = hpc_kernels.gemm(cp.ones((4, 0), cp.float32), cp.ones((0, 3), cp.float32))  # k == 0
    np.testing.assert_array_equal(cp.asnumpy(e), 0.0)


def test_numpy_round_trip_and_streams(rng):
    a, b = rand(rng, (70, 90), np.float32), rand(rng, (90, 50), np.float32)
    got = hpc_kernels.gemm(a, b, backend="cuda")
    assert isinstance(got, np.ndarray)
    np.testing.assert_allclose(got, a.astype(np.float64) @ b, rtol=0, atol=200 * EPS32 * 90)
    s = cp.cuda.Stream(non_blocking=True)
    with s:
        ad, bd = cp.asarray(a), cp.asarray(b)
        cd = hpc_kernels.gemm(ad, bd)  # enqueued on s
        md = hpc_kernels.matmul(ad, bd)
    s.synchronize()
    np.testing.assert_array_equal(cp.asnumpy(cd), cp.asnumpy(md))
    np.testing.assert_allclose(cp.asnumpy(cd), got, rtol=0, atol=200 * EPS32 * 90)


@pytest.mark.parametrize("shapes", [((5, 7), (7, 3)), ((4, 5, 7), (7, 3)), ((2, 1, 5, 7), (3, 7, 2)), ((7,), (3, 7, 4)),
                                    ((6, 7), (7,)), ((7,), (7,)), ((3, 2, 64, 48), (3, 2, 48, 80))])
@pytest.mark.parametrize("dt", ["float32", "float16"])
def test_matmul_batched(shapes, dt, rng):
    sa, sb = shapes
    a_h = small_ints(rng, sa, np.float32).astype(dt)
    b_h = small_ints(rng, sb, np.float32).astype(dt)
    want = np.matmul(a_h.astype(np.float64), b_h.astype(np.float64))
    got = hpc_kernels.matmul(cp.asarray(a_h), cp.asarray(b_h))
    np.testing.assert_array_equal(cp.asnumpy(got).astype(np.float64), want)
    out = cp.empty(want.shape, dt)
    assert hpc_kernels.matmul(cp.asarray(a_h), cp.asarray(b_h), out=out) is out
    host = hpc_kernels.matmul(a_h, b_h, backend="cuda")
    np.testing.assert_array_equal(np.asarray(host, np.float64), want)


CONV = [
    dict(x=(2, 3, 17, 15), w=(8, 3, 7, 7), stride=2, padding=3, dilation=1, groups=1),
    dict(x=(1, 16, 12, 12), w=(24, 16, 3, 3), stride=1, padding=1, dilation=1, groups=1),
    dict(x=(3, 8, 9, 10), w=(8, 4, 3, 2), stride=(2, 1), padding=(0, 1, 2, 0), dilation=(1, 2), groups=2),
    dict(x=(2, 32, 7, 7), w=(32, 1, 3, 3), stride=1, padding=1, dilation=1, groups=32),
    dict(x=(2, 64, 8, 8), w=(40, 64, 1, 1), stride=1, padding=0, dilation=1, groups=1),
    dict(x=(1, 24, 30, 30), w=(136, 24, 3, 3), stride=2, padding=1, dilation=1, groups=1),
]


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize("algorithm", ["auto", "im2col", "convgemm", "gemm"])
@pytest.mark.parametrize("dt,precision", [("float32", None), ("float64", None), ("float16", None), ("float32", "tf32")])
@pytest.mark.parametrize("case", range(len(CONV)))
def test_conv2d_sweep(case, layout, algorithm, dt, precision, rng):
    """Integer data: every precision is exact up to the final rounding (fp16: |y| u_out)."""
    c = dict(CONV[case])
    xs, ws = c.pop("x"), c.pop("w")
    if algorithm == "gemm" and not (ws[2:] == (1, 1) and c["stride"] == 1 and c["padding"] == 0):
        pytest.skip("gemm: 1x1 stride-1 layers only")
    if layout == "NHWC":
        xs = (xs[0], xs[2], xs[3], xs[1])
    ops = int_operands(rng, xs, ws, np.float32, bias=True, scale=True, shift=True, layout=layout)
    act = ("relu", "relu6", None)[case % 3]
    ref = conv2d_ref(ops["x"], ops["w"], ops["bias"], **c, layout=layout, activation=act, scale=ops["scale"], shift=ops["shift"])
    dev = {k: None if v is None else cp.asarray(v.astype(dt)) for k, v in ops.items()}
    y = hpc_kernels.conv2d(dev["x"], dev["w"], dev["bias"], **c, layout=layout, activation=act, scale=dev["scale"],
                       shift=dev["shift"], algorithm=algorithm, precision=precision)
    assert isinstance(y, cp.ndarray) and y.dtype == dt
    got = cp.asnumpy(y).astype(np.float64)
    tol = UNIT[dt] * np.abs(ref) if dt == "float16" else 0.0
    assert np.all(np.abs(got - ref) <= tol), f"{case} {layout} {algorithm} {dt} {precision}"


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_conv2d_normal_data_bound_and_out_slice(layout, rng):
    x = rng.standard_normal((2, 32, 14, 14)).astype(np.float32)
    w = rng.standard_normal((48, 32, 3, 3)).astype(np.float32)
    if layout == "NHWC":
        x = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    ref, bnd = conv2d_ref_and_bound(x, w, padding=1, layout=layout, dtype=np.float32)
    full = cp.full((2, 64, 14, 14) if layout == "NCHW" else (2, 14, 14, 64), cp.nan, cp.float32)
    out = full[:, 8:56] if layout == "NCHW" else full[..., 8:56]  # a channel range of a bigger buffer
    y = hpc_kernels.conv2d(cp.asarray(x), cp.asarray(w), padding=1, layout=layout, out=out)
    assert y is out
    _check(y, ref, bnd, layout)
    rest = cp.asnumpy(full[:, :8] if layout == "NCHW" else full[..., :8])
    assert np.isnan(rest).all()


def test_conv2d_plan_and_numpy(rng):
    ops = int_operands(rng, (2, 8, 9, 9), (16, 8, 3, 3), np.float32, bias=True)
    plan = hpc_kernels.Conv2d(ops["w"], ops["bias"], padding=1, activation="relu", backend="cuda")
    ref = conv2d_ref(ops["x"], ops["w"], ops["bias"], padding=1, activation="relu")
    y = plan(cp.asarray(ops["x"]))
    np.testing.assert_array_equal(cp.asnumpy(y), ref)
    host = hpc_kernels.conv2d(ops["x"], ops["w"], ops["bias"], padding=1, activation="relu", backend="cuda")
    assert isinstance(host, np.ndarray)
    np.testing.assert_array_equal(host, ref)


def test_errors():
    a = cp.ones((4, 4), cp.float32)
    with pytest.raises(TypeError, match="both be cupy arrays"):
        hpc_kernels.gemm(a, np.ones((4, 4), np.float32), backend="cuda")
    with pytest.raises(TypeError, match="same dtype"):
        hpc_kernels.gemm(a, cp.ones((4, 4), cp.float64))
    with pytest.raises(TypeError, match="never cast"):
        hpc_kernels.gemm(a, a, out=cp.empty((4, 4), cp.float64))
    with pytest.raises(ValueError, match="overlap"):
        hpc_kernels.gemm(a, a, out=a)
    with pytest.raises(ValueError, match="broadcast"):
        hpc_kernels.gemm(a, a, out=cp.broadcast_to(cp.zeros(4, cp.float32), (4, 4)))
    with pytest.raises(TypeError, match="float32, float64, float16 and bfloat16"):
        hpc_kernels.gemm(cp.ones((2, 2), cp.int32), cp.ones((2, 2), cp.int32))
    with pytest.raises(ValueError, match="do not agree"):
        hpc_kernels.gemm(a, cp.ones((3, 4), cp.float32))


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize("algorithm", ["auto", "im2col", "convgemm", "gemm"])
@pytest.mark.parametrize("dt,precision", CASES)
def test_conv2d_residual(layout, algorithm, dt, precision, rng):
    """residual= in ConvOut's epilogue, integer data: a fresh device residual, a channel-strided
    view (copied to y's strides by the host), out itself (in place) and a plan's call."""
    ws = (24, 16, 1, 1) if algorithm == "gemm" else (24, 16, 3, 3)
    pad = 0 if algorithm == "gemm" else 1
    xs = (2, 16, 9, 7) if layout == "NCHW" else (2, 9, 7, 16)
    ops = int_operands(rng, xs, ws, np.float32, bias=True, layout=layout)
    ys = (2, 24, 9, 7) if layout == "NCHW" else (2, 9, 7, 24)
    r = small_ints(rng, ys, np.float32)
    ref = conv2d_ref(ops["x"], ops["w"], ops["bias"], padding=pad, layout=layout, activation="relu", residual=r)
    x, w, b = (cp.asarray(ops[k].astype(dt)) for k in ("x", "w", "bias"))
    kw = dict(padding=pad, layout=layout, activation="relu", algorithm=algorithm, precision=precision)
    tol = UNIT[dt] * np.abs(ref) if dt in ("float16", "bfloat16") else 0.0

    def check(y, what):
        got = cp.asnumpy(y).astype(np.float64)
        assert np.all(np.abs(got - ref) <= tol), f"{what} {layout} {algorithm} {dt} {precision}"

    check(hpc_kernels.conv2d(x, w, b, residual=cp.asarray(r.astype(dt)), **kw), "fresh")
    cax = 1 if layout == "NCHW" else 3
    big = cp.asarray(np.zeros(tuple(2 * d if i == cax else d for i, d in enumerate(ys)), dt))
    view = big[:, ::2] if layout == "NCHW" else big[..., ::2]
    view[...] = cp.asarray(r.astype(dt))
    check(hpc_kernels.conv2d(x, w, b, residual=view, **kw), "strided view")
    y = cp.asarray(r.astype(dt))
    assert hpc_kernels.conv2d(x, w, b, residual=y, out=y, **kw) is y
    check(y, "in place")
    if precision is None:  # (plans take no precision= of their own)
        plan = hpc_kernels.Conv2d(w, b, padding=pad, layout=layout, activation="relu", algorithm=algorithm, backend="cuda")
        check(plan(x, residual=cp.asarray(r.astype(dt))), "plan")
