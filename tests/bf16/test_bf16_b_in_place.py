"""The AMX kernel reading B in place (gemm/bgemm.cpp direct_b: k in whole 32-deep steps, whole
32-column panels, 64-byte-aligned columns) on every engine (the others take the same arrays down
their packed paths): the K-scaled bound, exact small integers over several k blocks, a column slice
of a wider matrix whose columns past k hold NaN (nothing past k is read: a load past it would turn
the sums into NaN), the shapes just off the conditions (k % 32, m % 32, a misaligned start), and
both output dtypes. In gemm(a, b) the kernel's B is `a` (row-major C is computed as C^T = B^T A^T),
so `a` is the array that must be aligned."""
from __future__ import annotations

import numpy as np
import pytest

import hpc_kernels as hk
from _bref import BF16, F32, F64, check, ints, rand


def aligned_copy(x: np.ndarray, cols: int = 0, fill=0.0) -> np.ndarray:
    """x in a 64-byte-aligned buffer; with cols > x.shape[1], the first columns of a wider matrix
    whose other columns hold `fill`."""
    rows, k = x.shape
    width = max(cols, k)
    y = hk.empty_aligned((rows, width), x.dtype)
    y[...] = fill
    y[:, :k] = x
    assert y.ctypes.data % 64 == 0
    return y[:, :k]


@pytest.mark.parametrize("out_dtype", [None, np.float32])
@pytest.mark.parametrize("m,n,k", [(32, 17, 32), (64, 33, 96), (96, 64, 320), (32, 1, 64), (128, 45, 1056)])
def test_in_place_within_bound(bengine, rng, m, n, k, out_dtype):
    a, b = aligned_copy(rand(rng, (m, k))), rand(rng, (k, n))
    got = hk.gemm(a, b, backend=bengine, out_dtype=out_dtype)
    check(got, a, b, what=f"{bengine} {m}x{n}x{k}")


@pytest.mark.parametrize("m,n,k", [(64, 40, 4160), (32, 31, 64)])
def test_in_place_exact_on_small_integers(bengine, rng, m, n, k):
    # k = 4160: two k blocks at the default KC (4096) as well as many at the small one
    a, b = aligned_copy(ints(rng, (m, k), -2, 2)), ints(rng, (k, n), -2, 2)
    got = hk.gemm(a, b, backend=bengine, out_dtype=np.float32)
    np.testing.assert_array_equal(got, (a.astype(F64) @ b.astype(F64)).astype(F32))


@pytest.mark.parametrize("k", [32, 64, 40, 90])
def test_nothing_past_k_is_read(bengine, rng, k):
    # a's columns k..127 of the wider aligned matrix are NaN: k % 32 == 0 reads B in place up to k,
    # any other k is packed; either way no NaN may reach C.
    a = aligned_copy(ints(rng, (64, k), -3, 3), cols=128, fill=np.nan)
    b = ints(rng, (k, 48), -3, 3)
    got = hk.gemm(a, b, backend=bengine, out_dtype=np.float32)
    np.testing.assert_array_equal(got, (a.astype(F64) @ b.astype(F64)).astype(F32))


@pytest.mark.parametrize("case", ["m_tail", "k_tail", "misaligned", "row_offset"])
def test_shapes_off_the_conditions(bengine, rng, case):
    m, k = {"m_tail": (40, 64), "k_tail": (64, 48)}.get(case, (64, 64))
    wide = aligned_copy(ints(rng, (m + 32, k + 32), -3, 3))
    a = {
        "misaligned": wide[:m, 8 : 8 + k],  # starts 16 bytes into a line: packed
        "row_offset": wide[32 : 32 + m, :k],  # 32 rows of 192 bytes on: aligned again, in place
    }.get(case, wide[:m, :k])
    b = ints(rng, (k, 20), -3, 3)
    got = hk.gemm(a, b, backend=bengine)
    np.testing.assert_array_equal(got.astype(F64), a.astype(F64) @ b.astype(F64))
    assert got.dtype == BF16


def test_in_place_into_bf16_views_with_alpha_beta(bengine, rng):
    a, b = aligned_copy(rand(rng, (64, 96))), rand(rng, (96, 70))
    c0 = rand(rng, (64, 80))
    c = c0.copy()
    hk.gemm(a, b, c[:, 5:75], alpha=0.5, beta=2.0, backend=bengine)
    check(c[:, 5:75], a, b, c0[:, 5:75], alpha=0.5, beta=2.0, what=bengine)
    np.testing.assert_array_equal(c[:, :5], c0[:, :5])
    np.testing.assert_array_equal(c[:, 75:], c0[:, 75:])


def test_threads_agree_in_place(rng):
    a, b = aligned_copy(rand(rng, (256, 320))), rand(rng, (320, 200))
    with hk.num_threads(1):
        one = hk.gemm(a, b, out_dtype=np.float32)
    with hk.num_threads(2):
        two = hk.gemm(a, b, out_dtype=np.float32)
    np.testing.assert_array_equal(one, two)
