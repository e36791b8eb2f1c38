"""Blocked, packed GEMM (BLIS loops jc, pc, then the micro-panels) with an MR x NR register tile,
over operands that are strided matrices or gathered convolution inputs (see pack.py).

C (m x n) := alpha * A B + beta * C, A m x k, B k x n. The micro-kernel broadcasts MR values
of an A micro-panel and multiplies them into NR-wide vectors of a B micro-panel (4 vectors per
row: 24 accumulators); LLVM's SLP vectorizer turns the fully unrolled tile into packed FMAs
(fastmath "contract" only). A thread keeps one A micro-panel in L1 and streams the B block (KC x
NC, sized for L2) past it. The epilogue of a convolution (bias, scale, shift, ReLU/ReLU6 per row
or per column) runs on each finished tile while it is in L1.
"""
from __future__ import annotations

import numba
import numpy as np
from numba import njit, prange
from numba.extending import overload

from ... import _tuning
from .pack import CONV_RSC, D_ADDR, D_KIND, D_KS, D_OFF, D_RS, D_SPAN, D_STEP1, D_STEP2, DESC_LEN, STRIDED, pack
from .runtime import FASTMATH, ISA, VECTOR_BYTES, array_at, element_ptr, stack_tile

MR = 6  # float32 tile: 6 rows x 4 vectors (6 x 64 on AVX-512)
NR32 = 4 * VECTOR_BYTES // 4
# float64: 3 rows x 8 vectors (3 x 64 on AVX-512), 24 accumulators too. With 6 x 32, LLVM fully
# unrolls the 32-wide row before vectorizing and then vectorizes the k loop with gathers and
# scatters into the tile (measured 4.5 GF/s against 32 for 3 x 64).
MR64 = 3
NR64 = NR32
TILE = MR * NR32  # elements of the accumulator tile
# Block sizes: a KC x NC block of packed B stays in L2 (1 MiB: half of this machine's L2, and
# the usual L2 of 1-2 MiB per core); an A micro-panel (MR x KC, 6 KiB) stays in L1.
KC = 256
NC = {4: 1024, 8: 512}  # by itemsize
# Defaults of the tuning store (backend "numba", op "gemm", per dtype); `python -m hpc_kernels tune
# --backend numba` measures others per CPU. Both are run-time arguments of the kernel: no recompile.
_tuning.register("numba", "gemm", {"default": {"float32": {"KC": KC, "NC": NC[4]}, "float64": {"KC": KC, "NC": NC[8]}}},
                 check=lambda v: set(v) == {"KC", "NC"} and all(type(x) is int and 1 <= x <= 1 << 16 for x in v.values()))
DEVICE = _tuning.host_device(ISA)
_KEY = {np.dtype(np.float32): "float32", np.dtype(np.float64): "float64"}  # dtype.name builds a string per call


def blocks(dtype) -> tuple:
    """(KC, NC) of the dtype on this CPU: tuned, else the defaults above."""
    b = _tuning.get("numba", "gemm", _KEY[np.dtype(dtype)], DEVICE)
    return b["KC"], b["NC"]


# Epilogue descriptor (int64 array): where the per-channel vectors apply and which are present.
# E_RES: the lowest address of a residual laid out exactly as the output (same shape and strides),
# so that the output's element offsets address it too (0: none).
E_AXIS, E_ACT, E_BIAS, E_SCALE, E_SHIFT, E_STEP2, E_RES = range(7)  # addresses at E_BIAS.. (0: absent)
EPI_NONE, EPI_ROWS, EPI_COLS = 0, 1, 2
EPI_LEN = 7


def nr_of(dtype) -> int:
    return NR32 if np.dtype(dtype).itemsize == 4 else NR64


def mr_of(dtype) -> int:
    return MR if np.dtype(dtype).itemsize == 4 else MR64


def tile_rows(x):
    """MR for the dtype of array x, a compile-time constant inside the kernels."""


@overload(tile_rows, inline="always")
def _tile_rows(x):
    mr = MR if x.dtype.bitwidth == 32 else MR64
    return lambda x: mr


def tile_width(x):
    """NR for the dtype of array x, as a compile-time constant inside the kernels."""


@overload(tile_width, inline="always")
def _tile_width(x):
    # Resolved at typing: a run-time select (NR32 if x.itemsize == 4 else NR64) reaches LLVM's
    # unroller too late, and the tile is then neither unrolled nor vectorized (measured 8 GF/s).
    nr = NR32 if x.dtype.bitwidth == 32 else NR64
    return lambda x: nr


@njit(inline="always", fastmath=FASTMATH)
def _tile(kc, ap, a0, bp, b0, c, c0, rs, cs, mr, nr_valid, alpha, beta):
    """C[c0 + i*rs + j*cs] (i < mr, j < nr_valid) := alpha * Apanel Bpanel + beta * C (beta == 0:
    C not read). NR is derived here from the dtype, a compile-time constant (a value from outside
    a prange would reach the parallel body as a run-time argument), so every tile index below is
    a constant and the accumulator lives in registers."""
    NR = tile_width(bp)
    MR_ = tile_rows(bp)
    pa, pb = element_ptr(ap, a0), element_ptr(bp, b0)
    acc = numba.carray(stack_tile(TILE, c), (TILE,))
    for t in range(MR_ * NR):
        acc[t] = 0
    for p in range(kc):
        for i in range(MR_):
            a = pa[p * MR_ + i]
            for j in range(NR):
                acc[i * NR + j] += a * pb[p * NR + j]
    store_tile(acc, c, c0, rs, cs, mr, nr_valid, alpha, beta, bp)


@njit(inline="always", fastmath=FASTMATH)
def store_tile(acc, c, c0, rs, cs, mr, nr_valid, alpha, beta, like):
    """C[c0 + i*rs + j*cs] (i < mr, j < nr_valid) := alpha * acc + beta * C (beta == 0: C not
    read), acc being an MR x NR register tile (MR, NR of like's dtype)."""
    NR = tile_width(like)
    MR_ = tile_rows(like)
    if cs == 1 and mr == MR_ and nr_valid == NR:  # whole tile, contiguous rows: vector stores
        pc = element_ptr(c, c0)
        if beta == 0:
            for i in range(MR_):
                for j in range(NR):
                    pc[i * rs + j] = alpha * acc[i * NR + j]
        else:
            for i in range(MR_):
                for j in range(NR):
                    pc[i * rs + j] = alpha * acc[i * NR + j] + beta * pc[i * rs + j]
        return
    # Edge or strided C: the tile goes to a scratch tile first, with the same constant-index
    # loops as above (a variable index into acc anywhere would keep it out of registers).
    out = numba.carray(stack_tile(TILE, c), (TILE,))
    for i in range(MR_):
        for j in range(NR):
            out[i * NR + j] = alpha * acc[i * NR + j]
    if rs == 1:  # rows adjacent in C (a column-major tile: NCHW pixels): write C's runs along i
        for j in range(nr_valid):
            for i in range(mr):
                _put(c, c0 + i + j * cs, out[i * NR + j], beta)
        return
    for i in range(mr):
        for j in range(nr_valid):
            _put(c, c0 + i * rs + j * cs, out[i * NR + j], beta)


@njit(inline="always", fastmath=FASTMATH)
def _put(c, k, value, beta):
    """c[k] := value + beta * c[k]; beta == 0 never reads c[k] (NaN there must not leak)."""
    if beta == 0:
        c[k] = value
    else:
        c[k] = value + beta * c[k]


@njit(inline="always", fastmath=FASTMATH)
def _vector(address, like, n):
    return numba.carray(array_at(address, like), (n,))


@njit(cache=True, fastmath=FASTMATH)
def epilogue(c, c0, rs, cs, mr, nr, ed, v0_rows, v0_cols, like):
    """y = act(scale * (y + bias) + shift + residual) on an mr x nr tile; the vectors are indexed by
    the tile's row (EPI_ROWS: NCHW output channels) or column (EPI_COLS: NHWC); the residual at the
    output's own offsets (E_RES)."""
    n_vec = v0_rows + mr if ed[E_AXIS] == EPI_ROWS else v0_cols + nr
    bias = _vector(ed[E_BIAS], like, n_vec)
    scale = _vector(ed[E_SCALE], like, n_vec)
    shift = _vector(ed[E_SHIFT], like, n_vec)
    res = _vector(ed[E_RES], like, c.shape[0] if ed[E_RES] != 0 else 0)
    act = ed[E_ACT]
    rows = ed[E_AXIS] == EPI_ROWS
    for i in range(mr):
        row = c0 + i * rs
        for j in range(nr):
            ch = v0_rows + i if rows else v0_cols + j
            y = c[row + j * cs]
            if ed[E_BIAS] != 0:
                y = y + bias[ch]
            if ed[E_SCALE] != 0:
                y = y * scale[ch]
            if ed[E_SHIFT] != 0:
                y = y + shift[ch]
            if ed[E_RES] != 0:
                y = y + res[row + j * cs]
            if act != 0:
                if y < 0:  # NaN stays NaN (comparisons with NaN are false)
                    y = 0
                if act == 2 and y > 6:
                    y = 6
            c[row + j * cs] = y


@njit(cache=True, fastmath=FASTMATH)
def _split(total, block, align):
    """Near-equal blocks of at most `block` (rounded up to `align`): no thin last block."""
    nblocks = (total + block - 1) // block
    size = (total + nblocks - 1) // nblocks
    return min(block, (size + align - 1) // align * align)


@njit(parallel=True, cache=True, fastmath=FASTMATH)
def lower(src, desc, off, rows, k, dst, threads):
    """Explicit im2col: the whole gathered rows x k operand into dst: (c, r, s)-ordered ones as
    dst[q*rows + row] (the NCHW lowered matrix), (r, s, c)-ordered ones as dst[row*k + q] (NHWC);
    in parallel over q or over rows. (Thread counts are arguments: numba.get_num_threads() inside
    a kernel embeds a runtime address, which makes it uncachable.)"""
    if desc[D_KIND] == CONV_RSC:
        for row in prange(rows):
            pack(src, desc, off, row, 1, 0, k, 1, dst, row * k)
    else:
        nchunks = min(k, 8 * threads)
        for ch in prange(nchunks):
            q0, q1 = ch * k // nchunks, (ch + 1) * k // nchunks
            pack(src, desc, off, 0, rows, q0, q1 - q0, rows, dst, q0 * rows)


@njit(cache=True)
def lower_at(desc, off, rows, k, dst, threads):
    """lower() from the operand's own address (hpc_kernels.im2col)."""
    lower(_vector(desc[D_ADDR], dst, desc[D_SPAN]), desc, off, rows, k, dst, threads)


@njit(inline="always")
def _operand(src, desc, off, rows, k, explicit, wbuf, lowered, threads):
    """(source, descriptor, offset) to pack from: the operand itself, or (explicit im2col) its
    lowered matrix in wbuf, read as a strided matrix."""
    if not explicit or desc[D_KIND] == STRIDED:
        return src, desc, off
    lower(src, desc, off, rows, k, wbuf, threads)
    lowered[D_KIND] = STRIDED
    lowered[D_RS], lowered[D_KS] = (k, 1) if desc[D_KIND] == CONV_RSC else (1, rows)
    return wbuf, lowered, 0


@njit(parallel=True, cache=True, fastmath=FASTMATH)
def gemm(m, n, k, alpha, beta, nb1, nb2, ad, bd, cd, ed, abuf, bbuf, wbuf, explicit, kc_max, nc_max, threads):
    """nb1 x nb2 products (batch steps in the descriptors: images x groups, or matmul batches).
    A rows are the panel dimension of ad, B columns that of bd; C is (address, rows, cols
    strides). abuf: ceil(m/MR)*MR*kc_max, bbuf: ceil(nc_max/NR)*NR*kc_max elements; explicit:
    a gathered (convolution) operand is lowered into wbuf first (explicit im2col)."""
    NR = tile_width(abuf)
    MR_ = tile_rows(abuf)
    asrc = _vector(ad[D_ADDR], abuf, ad[D_SPAN])
    bsrc = _vector(bd[D_ADDR], abuf, bd[D_SPAN])
    c = _vector(cd[D_ADDR], abuf, cd[D_SPAN])
    rs_c, cs_c = cd[D_RS], cd[D_KS]
    kc = _split(k, kc_max, 1)
    nc = _split(n, nc_max, NR)
    nap = (m + MR_ - 1) // MR_
    lowered = np.zeros(DESC_LEN, np.int64)
    for b in range(nb1 * nb2):
        b1, b2 = b // nb2, b % nb2
        v_off = b2 * ed[E_STEP2]
        a_s, a_d, a_off = _operand(asrc, ad, ad[D_OFF] + b1 * ad[D_STEP1] + b2 * ad[D_STEP2], m, k, explicit, wbuf, lowered, threads)
        b_s, b_d, b_off = _operand(bsrc, bd, bd[D_OFF] + b1 * bd[D_STEP1] + b2 * bd[D_STEP2], n, k, explicit, wbuf, lowered, threads)
        c_off = cd[D_OFF] + b1 * cd[D_STEP1] + b2 * cd[D_STEP2]
        for jc in range(0, n, nc):
            ncur = min(nc, n - jc)
            nbp = (ncur + NR - 1) // NR
            # Tasks: one A micro-panel sweeping a run of B panels; runs split when A is short.
            nj = max(1, min(nbp, (4 * threads + nap - 1) // nap))
            per = (nbp + nj - 1) // nj
            for pc in range(0, k, kc):
                kcur = min(kc, k - pc)
                for jp in prange(nbp):
                    j0 = jp * NR
                    pack(b_s, b_d, b_off, jc + j0, min(NR, ncur - j0), pc, kcur, NR, bbuf, j0 * kcur)
                for ip in prange(nap):
                    i0 = ip * MR_
                    pack(a_s, a_d, a_off, i0, min(MR_, m - i0), pc, kcur, MR_, abuf, i0 * kcur)
                beta_now = beta if pc == 0 else 1.0
                last = pc + kcur >= k and ed[E_AXIS] != 0
                for t in prange(nap * nj):
                    ip, jj = t // nj, t % nj
                    i0 = ip * MR_
                    mr = min(MR_, m - i0)
                    for jp in range(jj * per, min(nbp, (jj + 1) * per)):
                        j0 = jp * NR
                        nrv = min(NR, ncur - j0)
                        c0 = c_off + i0 * rs_c + (jc + j0) * cs_c
                        _tile(kcur, abuf, i0 * kcur, bbuf, j0 * kcur, c, c0, rs_c, cs_c, mr, nrv, alpha, beta_now)
                        if last:
                            epilogue(c, c0, rs_c, cs_c, mr, nrv, ed, v_off + i0, v_off + jc + j0, abuf)
