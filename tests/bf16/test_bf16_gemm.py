"""bfloat16 gemm and matmul on every engine (tests/bf16/conftest.py): the K-scaled bound of _bref.py
on random data, exact results on small integers (every product and sum exact in fp32, one final
rounding), every transpose, m/n/k tails (odd k: the zero-padded last pair), beta == 0 over NaN,
out_dtype=np.float32, views and strides, batched and 1-D matmul."""
from __future__ import annotations

import numpy as np
import pytest

import hpc_kernels as hk
from _bref import BF16, F32, F64, check, ints, rand

SHAPES = [(1, 1, 1), (5, 7, 3), (31, 13, 17), (33, 12, 2), (64, 25, 63), (97, 70, 129), (40, 50, 301)]


@pytest.mark.parametrize("trans_a", [False, True])
@pytest.mark.parametrize("trans_b", [False, True])
@pytest.mark.parametrize("m,n,k", SHAPES)
def test_gemm_within_bound_every_transpose_and_tail(bengine, rng, m, n, k, trans_a, trans_b):
    a = rand(rng, (k, m) if trans_a else (m, k))
    b = rand(rng, (n, k) if trans_b else (k, n))
    got = hk.gemm(a, b, trans_a=trans_a, trans_b=trans_b, backend=bengine)
    assert got.dtype == BF16 and got.shape == (m, n)
    check(got, a.T if trans_a else a, b.T if trans_b else b, what=f"{m}x{n}x{k}")


@pytest.mark.parametrize("out_dtype", [None, np.float32])
@pytest.mark.parametrize("m,n,k", [(7, 9, 5), (45, 38, 91), (70, 33, 257)])
def test_gemm_exact_on_small_integers(bengine, rng, m, n, k, out_dtype):
    a, b = ints(rng, (m, k)), ints(rng, (k, n))
    got = hk.gemm(a, b, backend=bengine, out_dtype=out_dtype)
    exact = a.astype(F64) @ b.astype(F64)
    want = exact.astype(BF16 if out_dtype is None else F32)  # one rounding of the exact sum
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got.astype(F64), want.astype(F64))


@pytest.mark.parametrize("out_dtype", [None, np.float32])
def test_beta_zero_never_reads_c(bengine, rng, out_dtype):
    a, b = ints(rng, (19, 11)), ints(rng, (11, 23))
    c = np.full((19, 23), np.nan, BF16 if out_dtype is None else F32)
    r = hk.gemm(a, b, c, beta=0.0, backend=bengine, out_dtype=out_dtype)
    assert r is c and not np.isnan(c.astype(F64)).any()
    np.testing.assert_array_equal(c.astype(F64), (a.astype(F64) @ b.astype(F64)).astype(c.dtype).astype(F64))


@pytest.mark.parametrize("out_dtype", [None, np.float32])
def test_alpha_beta_with_c_in_place_and_distinct(bengine, rng, out_dtype):
    odt = BF16 if out_dtype is None else F32
    a, b = rand(rng, (37, 29)), rand(rng, (29, 26))
    c = rand(rng, (37, 26)).astype(odt)
    c0 = c.copy()
    r = hk.gemm(a, b, c, alpha=0.5, beta=-2.0, backend=bengine, out_dtype=out_dtype)
    assert r is c
    check(c, a, b, c0, 0.5, -2.0, "in place")
    out = np.empty((37, 26), odt)
    r = hk.gemm(a, b, c0, alpha=1.5, beta=0.25, out=out, backend=bengine, out_dtype=out_dtype)
    assert r is out
    check(out, a, b, c0, 1.5, 0.25, "distinct c")


def test_alpha_zero_and_empty_k(bengine, rng):
    a, b = rand(rng, (4, 0)), rand(rng, (0, 5))
    np.testing.assert_array_equal(hk.gemm(a, b, backend=bengine).astype(F64), np.zeros((4, 5)))
    a, b = np.full((3, 4), np.nan, BF16), np.full((4, 2), np.nan, BF16)
    c = np.ones((3, 2), BF16)
    hk.gemm(a, b, c, alpha=0.0, beta=2.0, backend=bengine)
    np.testing.assert_array_equal(c.astype(F64), np.full((3, 2), 2.0))


@pytest.mark.parametrize("out_dtype", [None, np.float32])
def test_views_and_strides(bengine, rng, out_dtype):
    big_a, big_b = rand(rng, (60, 90)), rand(rng, (80, 70))
    a = big_a[3:50:2, ::-3]  # 24 x 30, negative column stride
    b = big_b[::-1, 5:65:2][:30]  # 30 x 30
    out_big = np.zeros((50, 70), BF16 if out_dtype is None else F32)
    out = out_big[1:49:2, 3:63:2]  # 24 x 30 view
    r = hk.gemm(a, b, out=out, backend=bengine, out_dtype=out_dtype)
    assert r is out
    check(out, a, b, what="views")
    assert (out_big[0] == 0).all()  # nothing written outside the view


def test_matmul_batched_broadcast_and_1d(bengine, rng):
    a, b = rand(rng, (3, 1, 9, 17)), rand(rng, (4, 17, 6))
    got = hk.matmul(a, b, backend=bengine)
    assert got.shape == (3, 4, 9, 6) and got.dtype == BF16
    check(got, np.broadcast_to(a, (3, 4, 9, 17)), np.broadcast_to(b, (3, 4, 17, 6)), what="batched")
    v = rand(rng, (17,))
    got = hk.matmul(v, b[0], backend=bengine, out_dtype=np.float32)
    assert got.shape == (6,) and got.dtype == F32
    check(got[None], v[None], b[0], what="1-D a")
    out = np.empty((9,), F32)
    assert hk.matmul(a[0, 0], v, out=out, backend=bengine, out_dtype=np.float32) is out
    check(out[:, None], a[0, 0], v[:, None], what="1-D b")


def test_large_k_several_blocks(bengine, rng):
    a, b = ints(rng, (20, 2101), -2, 2), ints(rng, (2101, 15), -2, 2)
    got = hk.gemm(a, b, backend=bengine, out_dtype=np.float32)
    np.testing.assert_array_equal(got, (a.astype(F64) @ b.astype(F64)).astype(F32))


def test_threads_agree(rng):
    a, b = rand(rng, (300, 257)), rand(rng, (257, 200))
    with hk.num_threads(1):
        one = hk.gemm(a, b, out_dtype=np.float32)
    with hk.num_threads(2):
        two = hk.gemm(a, b, out_dtype=np.float32)
    np.testing.assert_array_equal(one, two)  # each element is summed by one thread in one order


@pytest.mark.parametrize("m,n,k", [(64, 96, 70), (33, 65, 40), (128, 32, 1)])
def test_bf16_output_is_the_fp32_output_rounded_once(bengine, rng, m, n, k):
    """The bf16 result equals the same engine's float32 result rounded to nearest even (one rounding,
    whichever store writes it: the AMX kernel's vector store of full tiles, the general store of
    edge tiles), with overflow to infinity, infinities and NaN (quiet) among the sums."""
    a, b = rand(rng, (m, k)), rand(rng, (k, n))
    a[0, 0], a[1, 0], b[0, 2] = np.inf, np.nan, 3e38  # row 0: inf; row 1: NaN; column 2 huge
    a[2, :] = BF16.type(3e38)  # row 2 overflows to inf or -inf in fp32 where its products add up
    f32 = hk.matmul(a, b, out_dtype=np.float32, backend=bengine)
    got = hk.matmul(a, b, backend=bengine)
    want = f32.astype(BF16)
    nan = np.isnan(f32)
    np.testing.assert_array_equal(np.isnan(got.astype(F32)), nan)
    np.testing.assert_array_equal(got.view(np.uint16)[~nan], want.view(np.uint16)[~nan])
