"""gemm and matmul of the numba backend: operands described in place (no copies), the packed
kernel of gemm.py called with per-thread packing buffers; BLAS quick returns done here."""
from __future__ import annotations

import threading

import numba
import numpy as np

from . import operands as ops
from .gemm import MR, blocks, gemm as _kernel, nr_of

_local = threading.local()  # packing buffers per Python thread: concurrent calls never share them


def buffer(name: str, dtype: np.dtype, size: int) -> np.ndarray:
    """A reusable scratch array of at least `size` elements (grown, never shrunk)."""
    cache = _local.__dict__.setdefault("buffers", {})
    key = (name, dtype)
    buf = cache.get(key)
    if buf is None or buf.size < size:
        buf = cache[key] = np.empty(max(size, 1), dtype)
    return buf


def run(m: int, n: int, k: int, alpha: float, beta: float, ad, bd, cd, dtype: np.dtype, batch=(1, 1),
        epilogue=ops.NO_EPILOGUE, explicit_rows: int = 0) -> None:
    """C := alpha A B + beta C for every batch item; explicit_rows > 0: explicit im2col, the
    gathered operand (that many rows by k) is lowered into a scratch matrix first."""
    nr = nr_of(dtype)
    kc, nc = blocks(dtype)
    abuf = buffer("a", dtype, -(-m // MR) * MR * kc)
    bbuf = buffer("b", dtype, (-(-nc // nr) * nr) * kc)
    wbuf = buffer("w", dtype, explicit_rows * k)
    _kernel(m, n, k, float(alpha), float(beta), batch[0], batch[1], ad, bd, cd, epilogue, abuf, bbuf, wbuf,
            explicit_rows > 0, kc, nc, numba.get_num_threads())


def gemm_into(opa: np.ndarray, opb: np.ndarray, c: np.ndarray, alpha: float, beta: float) -> None:
    """c (m x n, or with up to two leading batch axes) := alpha opa opb + beta c, where opa and
    opb are (broadcast) views of the same batch shape. Column-major C runs as C^T = B^T A^T, so
    the micro-kernel always stores along contiguous rows when either orientation has them."""
    m, n = c.shape[-2:]
    k = opa.shape[-1]
    if m == 0 or n == 0 or c.size == 0:
        return
    if alpha == 0 or k == 0:  # BLAS: A and B not referenced; beta == 0: C not read either
        if beta == 0:
            c[...] = 0
        else:
            c *= c.dtype.type(beta)
        return
    nb = c.ndim - 2
    batch_axes = list(range(nb))
    batch = tuple(c.shape[:nb]) + (1,) * (2 - nb)
    if abs(c.strides[-2]) < abs(c.strides[-1]) and m > 1:
        opa, opb, c = np.swapaxes(opb, -1, -2), np.swapaxes(opa, -1, -2), np.swapaxes(c, -1, -2)
        m, n = n, m
    axes = batch_axes + [None] * (2 - nb)
    ad = ops.matrix(opa, nb, nb + 1, axes)
    bd = ops.matrix(opb, nb + 1, nb, axes)
    cd = ops.output(c, nb, nb + 1, axes)
    run(m, n, k, alpha, beta, ad, bd, cd, c.dtype, batch)


def input_array(x: np.ndarray) -> np.ndarray:
    """Inputs whose byte strides are not whole elements (unaligned views) are copied; any other
    view is read where it lies."""
    return x if ops.element_strides_ok(x) else np.ascontiguousarray(x)

