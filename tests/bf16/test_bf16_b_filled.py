"""The AMX kernel packing B as its tiles run (gemm/bgemm.cpp FillingBfB, driver.hpp `fills`): in
gemm(a, b) the kernel's B is `a`, so a row-major `a` that is not read in place (not 64-byte
aligned, or k not in whole 32-deep steps) and fits one k block is packed panel by panel by the
first A block's tiles, each tile its share of the next panel. The shapes give several B panels
(a's rows, 32 a panel, the last one part empty), one to many A panels (b's columns: each tile's
share from 32 columns down to one), k tails inside a step, and a's rows slices of a wider matrix
whose columns past k hold NaN (the masked copy must not read them); b wider than one A block (MC
lanes: the later blocks read the panels the first one's tiles packed). Exact small integers, the
K-scaled bound, and 1 and 2 threads bit for bit."""
from __future__ import annotations

import numpy as np
import pytest

import hpc_kernels as hk
from _bref import F32, F64, check, ints, rand

SHAPES = [  # m (B columns), n (A lanes), k
    (100, 200, 64),  # 4 B panels (the last 4 wide), 7 A panels
    (65, 20, 90),  # one A panel: its tile copies all 32 columns; k tail of 26
    (96, 1100, 40),  # 32 A panels in the first block (one column each), a second block
    (33, 64, 1000),  # a last panel of one column; a k tail of 8
    (160, 96, 4096),  # the longest single k block
    (64, 300, 2001),  # A in two blocks (MC 256 at this k), odd k
    (70, 100, 20),  # (small blocks: A blocks of 32 lanes)
]


def unaligned(x: np.ndarray, cols: int = 0, fill=0.0) -> np.ndarray:
    """x 16 bytes into a cache line (as np.empty places large arrays); with cols > x.shape[1] the
    first columns of a wider matrix whose other columns hold `fill`."""
    rows, k = x.shape
    width = max(cols, k) + 8
    y = hk.empty_aligned((rows, width), x.dtype)
    y[...] = fill
    y[:, 8 : 8 + k] = x
    assert y[:, 8:].ctypes.data % 64 == 16
    return y[:, 8 : 8 + k]


@pytest.mark.parametrize("m,n,k", SHAPES)
def test_filled_exact_on_small_integers(bengine, rng, m, n, k):
    a, b = unaligned(ints(rng, (m, k), -2, 2)), ints(rng, (k, n), -2, 2)
    got = hk.gemm(a, b, backend=bengine, out_dtype=np.float32)
    np.testing.assert_array_equal(got, (a.astype(F64) @ b.astype(F64)).astype(F32))


@pytest.mark.parametrize("m,n,k", SHAPES[:3])
def test_filled_within_bound_into_bf16(bengine, rng, m, n, k):
    a, b = unaligned(rand(rng, (m, k))), rand(rng, (k, n))
    check(hk.gemm(a, b, backend=bengine), a, b, what=f"{bengine} {m}x{n}x{k}")


@pytest.mark.parametrize("k", [40, 90, 96])
def test_filled_reads_nothing_past_k(bengine, rng, k):
    a = unaligned(ints(rng, (70, k), -3, 3), cols=160, fill=np.nan)
    b = ints(rng, (k, 50), -3, 3)
    got = hk.gemm(a, b, backend=bengine, out_dtype=np.float32)
    np.testing.assert_array_equal(got, (a.astype(F64) @ b.astype(F64)).astype(F32))


@pytest.mark.parametrize("m,n,k", [(256, 200, 320), (96, 1024, 100), (1024, 64, 64), (64, 600, 2001)])
def test_filled_threads_agree(rng, m, n, k):
    # 2 threads split M (B shared: packed ahead) or N (each thread fills its own panels)
    a, b = unaligned(rand(rng, (m, k))), rand(rng, (k, n))
    with hk.num_threads(1):
        one = hk.gemm(a, b, out_dtype=np.float32)
    with hk.num_threads(2):
        two = hk.gemm(a, b, out_dtype=np.float32)
    np.testing.assert_array_equal(one, two)
    check(one, a, b, what=f"{m}x{n}x{k}")
