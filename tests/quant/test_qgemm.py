"""hpc_kernels.qgemm bit-exact against the tests' int64 oracle (_qref.py) on every engine: each
output mode, zero points (per tensor and per column), K not a multiple of 4, saturation edges, s8
activations, u8 weights, strided views, broadcast batches, int32 wrap-around."""
from __future__ import annotations

import numpy as np
import pytest

import hpc_kernels

from _qref import epilogue, matmul_acc

SHAPES = [(1, 1, 1), (3, 5, 2), (7, 13, 17), (33, 25, 40), (64, 64, 64), (97, 130, 31), (200, 37, 150), (5, 70, 259)]


def rand_q(rng, shape, dtype):
    info = np.iinfo(dtype)
    return rng.integers(info.min, int(info.max) + 1, size=shape, dtype=dtype)


def expect(a, b, a_zp=0, b_zp=0, residual=None, **ep):
    return epilogue(matmul_acc(a, b, a_zp, b_zp), residual=residual, **ep)


@pytest.mark.parametrize("mnk", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("adt,bdt", [(np.uint8, np.int8), (np.int8, np.int8), (np.uint8, np.uint8), (np.int8, np.uint8)],
                         ids=["u8s8", "s8s8", "u8u8", "s8u8"])
def test_int32_mode(qengine, mnk, adt, bdt, rng):
    """int32 output with nonzero, per-column weight zero points and a bias."""
    m, n, k = mnk
    a, b = rand_q(rng, (m, k), adt), rand_q(rng, (k, n), bdt)
    a_zp = 3 if adt == np.uint8 else -5
    b_zp = rand_q(rng, (n,), bdt)
    bias = rng.integers(-1000, 1000, n, dtype=np.int32)
    got = hpc_kernels.qgemm(a, b, a_zero_point=a_zp, b_zero_point=b_zp, bias=bias, backend=qengine)
    assert got.dtype == np.int32 and got.shape == (m, n)
    np.testing.assert_array_equal(got, expect(a, b, a_zp, b_zp, bias=bias))
    plain = hpc_kernels.qgemm(a, b, backend=qengine)
    np.testing.assert_array_equal(plain, expect(a, b))


@pytest.mark.parametrize("k", [0, 1, 2, 3, 4, 5, 7, 9, 31, 63, 65])
def test_k_edges(qengine, k, rng):
    """K = 0 (bias only) and K around multiples of 4 (the VNNI quad)."""
    a, b = rand_q(rng, (19, k), np.uint8), rand_q(rng, (k, 35), np.int8)
    bias = rng.integers(-50, 50, 35, dtype=np.int32)
    got = hpc_kernels.qgemm(a, b, a_zero_point=128, b_zero_point=-1, bias=bias, backend=qengine)
    np.testing.assert_array_equal(got, expect(a, b, 128, -1, bias=bias))


@pytest.mark.parametrize("act", [None, "relu", "relu6"])
@pytest.mark.parametrize("per_col", [False, True])
def test_float_mode(qengine, act, per_col, rng):
    m, n, k = 45, 38, 67
    a, b = rand_q(rng, (m, k), np.uint8), rand_q(rng, (k, n), np.int8)
    sb = rng.uniform(1e-3, 2e-2, n).astype(np.float32) if per_col else np.float32(0.0123)
    zb = rng.integers(-4, 4, n).astype(np.int8) if per_col else 2
    res = rng.standard_normal((m, n)).astype(np.float32) * 50
    bias = rng.integers(-3000, 3000, n, dtype=np.int32)
    kw = dict(a_scale=0.021, b_scale=sb, bias=bias, activation=act)
    got = hpc_kernels.qgemm(a, b, a_zero_point=100, b_zero_point=zb, residual=res, backend=qengine, **kw)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, expect(a, b, 100, zb, residual=res, **kw))
    got = hpc_kernels.qgemm(a, b, a_zero_point=100, b_zero_point=zb, backend=qengine, **kw)
    np.testing.assert_array_equal(got, expect(a, b, 100, zb, **kw))


@pytest.mark.parametrize("act", [None, "relu", "relu6"])
@pytest.mark.parametrize("odt", [np.uint8, np.int8])
@pytest.mark.parametrize("adt", [np.uint8, np.int8])
def test_quant_mode(qengine, act, odt, adt, rng):
    """Requantized output: saturation at both ends, rounding half to even, residual."""
    m, n, k = 37, 53, 29
    a, b = rand_q(rng, (m, k), adt), rand_q(rng, (k, n), np.int8)
    sb = rng.uniform(1e-3, 3e-2, n).astype(np.float32)
    zo = 7 if odt == np.uint8 else -9
    res = rng.standard_normal((1, n)).astype(np.float32)  # broadcast along the rows
    kw = dict(a_scale=0.05, b_scale=sb, out_scale=0.1, out_zp=zo, out_dtype=odt, activation=act)
    got = hpc_kernels.qgemm(a, b, a_zero_point=1, a_scale=0.05, b_scale=sb, out_scale=0.1,
                            out_zero_point=odt(zo), activation=act, residual=res, backend=qengine)
    assert got.dtype == odt
    want = expect(a, b, 1, residual=res, **kw)
    np.testing.assert_array_equal(got, want)
    info = np.iinfo(odt)
    if act is None:  # both ends saturate somewhere
        assert (want == info.min).any() and (want == info.max).any()


def test_half_to_even(qengine):
    """Accumulators landing exactly on .5 in output units round to the even neighbour."""
    a = np.arange(1, 12, dtype=np.uint8).reshape(11, 1)
    b = np.ones((1, 1), np.int8)
    got = hpc_kernels.qgemm(a, b, a_scale=0.5, b_scale=1.0, out_scale=1.0, out_dtype=np.int8, backend=qengine)
    np.testing.assert_array_equal(got[:, 0], np.rint(np.arange(1, 12) * 0.5).astype(np.int8))


@pytest.mark.parametrize("bdt", [np.int8, np.uint8])
def test_saturation_edges(qengine, bdt):
    """Activations 0 and 255 against weights at their extremes (-128/127, 0/255): the largest
    products, where vpmaddubsw would saturate int16."""
    k = 131
    a = np.zeros((9, k), np.uint8)
    a[::2] = 255
    a[1::4, ::3] = 0
    info = np.iinfo(bdt)
    b = np.full((k, 21), info.min, bdt)
    b[:, ::2] = info.max
    b[::5, 1::3] = info.max
    for a_zp in (0, 255):
        got = hpc_kernels.qgemm(a, b, a_zero_point=a_zp, backend=qengine)
        np.testing.assert_array_equal(got, expect(a, b, a_zp))
    s8 = np.where(a == 255, np.int8(127), np.int8(-128)).astype(np.int8)
    np.testing.assert_array_equal(hpc_kernels.qgemm(s8, b, a_zero_point=-128, backend=qengine), expect(s8, b, -128))


def test_int32_wraps(qengine):
    """Past int32 the accumulator wraps like int32 (ONNX accumulates in int32)."""
    k = 70001
    a = np.full((2, k), 255, np.uint8)
    b = np.full((k, 3), -128, np.int8)
    b[:, 1] = 127
    got = hpc_kernels.qgemm(a, b, backend=qengine)
    np.testing.assert_array_equal(got, expect(a, b))


@pytest.mark.parametrize("view", ["T", "neg", "step", "F"])
def test_strided_views(qengine, view, rng):
    m, n, k = 23, 31, 45
    big = 3 * (m + n + k)
    base_a, base_b = rand_q(rng, (big, big), np.uint8), rand_q(rng, (big, big), np.int8)
    if view == "T":
        a, b = base_a[:k, :m].T, base_b[:n, :k].T
    elif view == "neg":
        a, b = base_a[:m, :k][::-1, ::-1], base_b[:k, :n][::-1]
    elif view == "step":
        a, b = base_a[::3, ::2][:m, :k], base_b[::2, ::3][:k, :n]
    else:
        a, b = np.asfortranarray(base_a[:m, :k]), np.asfortranarray(base_b[:k, :n])
    got = hpc_kernels.qgemm(a, b, a_zero_point=9, b_zero_point=-3, backend=qengine)
    np.testing.assert_array_equal(got, expect(a, b, 9, -3))


@pytest.mark.parametrize("ashape,bshape", [((4, 9, 13), (13, 7)), ((2, 1, 5, 6), (3, 6, 8)), ((5, 6), (2, 6, 3))])
def test_batch_broadcast(qengine, ashape, bshape, rng):
    a, b = rand_q(rng, ashape, np.uint8), rand_q(rng, bshape, np.int8)
    sb = rng.uniform(0.01, 0.02, bshape[-1]).astype(np.float32)
    got = hpc_kernels.qgemm(a, b, a_zero_point=4, a_scale=0.1, b_scale=sb, out_scale=0.5, backend=qengine)
    assert got.shape == np.broadcast_shapes(ashape[:-2], bshape[:-2]) + (ashape[-2], bshape[-1])
    np.testing.assert_array_equal(got, expect(a, b, 4, a_scale=0.1, b_scale=sb, out_scale=0.5, out_dtype=np.uint8))


def test_out_in_place(qengine, rng):
    """out is written and returned; out as a strided view; residual=out sums in place."""
    a, b = rand_q(rng, (20, 30), np.uint8), rand_q(rng, (30, 12), np.int8)
    big = np.zeros((40, 30), np.int32)
    out = big[::2, ::2][:, :12]
    assert hpc_kernels.qgemm(a, b, out=out, backend=qengine) is out
    np.testing.assert_array_equal(out, expect(a, b))
    f = np.ones((20, 12), np.float32)
    r = hpc_kernels.qgemm(a, b, a_scale=0.1, b_scale=0.2, residual=f, out=f, backend=qengine)
    assert r is f
    np.testing.assert_array_equal(f, expect(a, b, a_scale=0.1, b_scale=0.2, residual=np.ones((20, 12), np.float32)))
