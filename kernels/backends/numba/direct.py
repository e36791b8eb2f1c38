"""Direct convolution of the numba backend (every non-depthwise layer, NCHW and NHWC): the implicit
GEMM Y (pixels x K/g) = cols (pixels x R*S*C/g) W'^T in which nothing of the image is packed.

The micro-kernel is the packed GEMM's MR x NR tile (gemm.py) with A replaced by addresses: for
each kernel tap it holds one address per output pixel of the tile (a tap in the padding reads
zeros) and broadcasts that pixel's input channels straight from x (NCHW: at the channel-plane
stride), against the weights packed into NR-wide panels in (r, s, c) order. So convGemm's
gather, the cost that kept the numba convolutions at 2.5-3.3x the cpu backend's time, is gone,
and the accumulators stay in registers over the whole reduction R*S*C/g (C is never re-read). When channels and columns are contiguous in x (NHWC, groups 1,
undilated columns), a kernel row of a pixel inside the image is one run of S*C channels.

A Conv2d plan packs the weights once; a one-shot call packs each panel right before the thread
that runs its tiles uses it (see direct()).
"""
from __future__ import annotations

from typing import Dict, List

import numba
import numpy as np
from numba import njit, prange

from .gemm import E_AXIS, E_STEP2, TILE, _vector, epilogue, store_tile, tile_rows, tile_width
from .pack import (D_ADDR, D_CG, D_DILH, D_DILW, D_H, D_KS, D_OFF, D_PADL, D_PADT, D_R, D_RS, D_S, D_SC, D_SH, D_SPAN,
                   D_STEP1, D_STEP2, D_STRH, D_STRW, D_SW, D_W, D_WO)
from .runtime import FASTMATH, array_at, element_ptr, stack_tile

_ZEROS: Dict[np.dtype, List[np.ndarray]] = {}


def zero_address(dtype, n: int) -> int:
    """Where a tap in the padding reads its zeros: at least n of them (NHWC: a kernel row of
    S*C/g channels; NCHW reads one, at stride 0). The arrays only grow, and earlier ones are
    kept: a kernel running in another Python thread may still be reading them."""
    zs = _ZEROS.setdefault(np.dtype(dtype), [])
    if not zs or zs[-1].size < n:
        zs.append(np.zeros(max(n, 4096), dtype))
    return zs[-1].ctypes.data


def panels_shape(k: int, cg: int, r: int, s: int, groups: int, dtype) -> tuple:
    from .gemm import nr_of

    nr = nr_of(dtype)
    return (groups, -(-(k // groups) // nr), r * s * cg, nr)


@njit(inline="always")
def _pack_panel(wf, g, jb, kg, cg, taps, df, d0):
    """Panel jb of group g into df[d0:]: df[d0 + (tap*cg + c)*NR + j] = w[g*kg + jb*NR + j, c,
    tap] (0 past kg). Blocks of 16 output channels x 16 input channels: the 16 w rows are read in
    runs of 16 channels x R*S taps (contiguous in w), and they fill one cache line in each of the
    16*R*S destination rows (9 KB for 3x3), whole, while both stay in L1. Raw pointers: an
    array index that LLVM cannot prove non-negative costs a wraparound test per element (this
    loop ran at 4 GB/s with them, 11-18 with pointers)."""
    NR = tile_width(df)
    red = taps * cg
    nj = min(NR, kg - jb * NR)
    for c0 in range(0, cg, 16):
        nc = min(16, cg - c0)
        for j0 in range(0, nj, 16):
            for j in range(j0, min(nj, j0 + 16)):
                ps = element_ptr(wf, ((g * kg + jb * NR + j) * cg + c0) * taps)
                if taps == 1:
                    pd = element_ptr(df, d0 + c0 * NR + j)
                    for c in range(nc):
                        pd[c * NR] = ps[c]
                else:
                    for tap in range(taps):
                        pt = element_ptr(df, d0 + (tap * cg + c0) * NR + j)
                        for c in range(nc):
                            pt[c * NR] = ps[c * taps + tap]
    if nj < NR:  # the last panel of a group: output channels past kg are zeros
        pz = element_ptr(df, d0)
        for q in range(red):
            for j in range(nj, NR):
                pz[q * NR + j] = 0


@njit(cache=True)
def pack_panels(w, groups, dst):
    """dst[g, jb, (r*S + s)*cg + c, j] = w[g*kg + jb*NR + j, c, r, s] (0 past kg): the weights
    of a Conv2d plan as NR-wide panels, packed once (serially: ~1 ms per million weights, and a
    parallel kernel takes 10 s longer to compile on first use)."""
    NR = tile_width(dst)
    k, cg, r_n, s_n = w.shape
    kg = k // groups
    nbj = (kg + NR - 1) // NR
    red = r_n * s_n * cg
    for t in range(groups * nbj):
        _pack_panel(w.reshape(w.size), t // nbj, t % nbj, kg, cg, r_n * s_n, dst.reshape(dst.size), t * red * NR)


@njit(inline="always", fastmath=FASTMATH)
def _reduce(n, addr, step, pb, acc):
    """acc (MR x NR) += sum over c < n of x_i[c * step[i]] * panel[c, :], x_i at address
    addr[i] (NCHW: step is the channel-plane stride, or 0 for a tap in the padding). Every tile
    index is a constant, as in gemm._tile."""
    MR_ = tile_rows(pb)
    p0, p1, p2 = array_at(addr[0], pb), array_at(addr[1], pb), array_at(addr[2], pb)
    s0, s1, s2 = step[0], step[1], step[2]
    if MR_ == 6:
        p3, p4, p5 = array_at(addr[3], pb), array_at(addr[4], pb), array_at(addr[5], pb)
        s3, s4, s5 = step[3], step[4], step[5]
        for c in range(n):
            _rank1(acc, pb, c, p0[c * s0], p1[c * s1], p2[c * s2], p3[c * s3], p4[c * s4], p5[c * s5])
    else:
        for c in range(n):
            _rank1(acc, pb, c, p0[c * s0], p1[c * s1], p2[c * s2], 0.0, 0.0, 0.0)


@njit(inline="always", fastmath=FASTMATH)
def _reduce_unit(n, addr, step, pb, acc):
    """_reduce with unit channel stride (NHWC; the padding reads a run of zeros; step is not
    read): one index for all six pixels, so the loop carries one induction variable instead of
    six pointer updates, which would compete with the FMAs for their ports."""
    MR_ = tile_rows(pb)
    p0, p1, p2 = array_at(addr[0], pb), array_at(addr[1], pb), array_at(addr[2], pb)
    if MR_ == 6:
        p3, p4, p5 = array_at(addr[3], pb), array_at(addr[4], pb), array_at(addr[5], pb)
        for c in range(n):
            _rank1(acc, pb, c, p0[c], p1[c], p2[c], p3[c], p4[c], p5[c])
    else:
        for c in range(n):
            _rank1(acc, pb, c, p0[c], p1[c], p2[c], 0.0, 0.0, 0.0)


@njit(inline="always", fastmath=FASTMATH)
def _rank1(acc, pb, c, a0, a1, a2, a3, a4, a5):
    """acc[i, :] += a_i * panel row c, for the MR rows of the tile (a3..a5 unused when MR is 3).
    Row by row, as gemm._tile: the NR/16 vectors of the panel row and one broadcast are live
    with the 24 accumulators (29 registers). Column by column, LLVM kept all six broadcasts
    and three panel vectors live (33 > 32 registers) and rotated and spilled accumulators."""
    NR = tile_width(pb)
    MR_ = tile_rows(pb)
    av = numba.carray(stack_tile(6, pb), (6,))
    av[0], av[1], av[2], av[3], av[4], av[5] = a0, a1, a2, a3, a4, a5
    b = c * NR
    for i in range(MR_):
        a = av[i]
        for j in range(NR):
            acc[i * NR + j] += a * pb[b + j]


@njit(parallel=True, cache=True, fastmath=FASTMATH)
def direct(n_img, groups, kg, npix, xd, w, panels, packed, yd, ed, zaddr, threads):
    """y (an output descriptor: pixel stride D_RS, channel stride D_KS, image D_STEP1, group
    D_STEP2; npix pixels per image) := conv(x (a conv-input descriptor), w), then the epilogue
    ed (per column: output channel). packed: panels holds w packed whole (a plan's pack_panels);
    else panels is `threads` scratch panels and each thread packs the weight panels of its own
    tasks right before using them, into its scratch panel, which then stays in L2 (packing
    everything first wrote and re-read every panel through memory: 2x slower on 7x7 layers).

    Tasks are (group, weight panel, image, pixel tile) in that order, split into `threads`
    contiguous runs (one prange iteration each), so a thread's consecutive tiles share a panel
    and packs each panel it touches once; a panel spans at most two threads' runs."""
    NR = tile_width(panels)
    red = xd[D_R] * xd[D_S] * xd[D_CG]
    nbj = (kg + NR - 1) // NR
    ntiles = (npix + tile_rows(panels) - 1) // tile_rows(panels)
    ntasks = groups * nbj * n_img * ntiles
    pflat = panels.reshape(panels.size)
    wf = w.reshape(w.size)
    for th in prange(threads):
        have = -1  # the panel (g * nbj + jb) in this thread's scratch
        for t in range(th * ntasks // threads, (th + 1) * ntasks // threads):
            gj, rem = t // (n_img * ntiles), t % (n_img * ntiles)
            g, jb = gj // nbj, gj % nbj
            img, it = rem // ntiles, rem % ntiles
            if packed:
                p0 = gj * red * NR
            else:
                p0 = th * red * NR
                if have != gj:
                    _pack_panel(wf, g, jb, kg, xd[D_CG], xd[D_R] * xd[D_S], pflat, p0)
                    have = gj
            if xd[D_SC] == 1:
                _tile_unit(img, g, jb, it, kg, npix, xd, pflat, p0, yd, ed, zaddr)
            else:
                _tile_strided(img, g, jb, it, kg, npix, xd, pflat, p0, yd, ed, zaddr)


def _make_tile(reduce, unit: bool):
    """The tile routine of direct() for one reduction loop (unit: channels contiguous in x, as
    in NHWC, which also enables kernel-row runs), so that each routine inlines a single loop
    that carries the 24 accumulators and LLVM assigns them registers once. (A precaution taken
    while chasing the rotated and spilled accumulators that _rank1's row order cured; not
    measured on its own.)"""

    @njit(inline="always", fastmath=FASTMATH)
    def tile(img, g, jb, it, kg, npix, xd, pflat, p0, yd, ed, zaddr):
        """Output pixels it*MR.. x channels jb*NR.. of image img, group g, against the panel
        at pflat[p0:]: tap by tap, or kernel row by kernel row where every pixel of the tile
        sees its whole row inside the image (or none of it); then stored, and the epilogue
        applied while the tile is in L1."""
        NR = tile_width(pflat)
        MR_ = tile_rows(pflat)
        item = pflat.itemsize
        h, w_n, cg, r_n, s_n, wo_n = xd[D_H], xd[D_W], xd[D_CG], xd[D_R], xd[D_S], xd[D_WO]
        strh, strw, dilh, dilw, padt, padl = xd[D_STRH], xd[D_STRW], xd[D_DILH], xd[D_DILW], xd[D_PADT], xd[D_PADL]
        sc, sh, sw = xd[D_SC], xd[D_SH], xd[D_SW]
        rows_run = unit and sw == cg and dilw == 1  # a kernel row of a pixel: S*cg contiguous channels
        pix0 = it * MR_
        mr = min(MR_, npix - pix0)
        nrv = min(NR, kg - jb * NR)
        xbase = xd[D_ADDR] + (xd[D_OFF] + img * xd[D_STEP1] + g * xd[D_STEP2]) * item
        hi0 = numba.carray(stack_tile(6, xd), (6,))  # top-left input pixel of each output pixel
        wi0 = numba.carray(stack_tile(6, xd), (6,))
        addr = numba.carray(stack_tile(6, xd), (6,))
        step = numba.carray(stack_tile(6, xd), (6,))
        for i in range(MR_):
            pix = pix0 + min(i, mr - 1)  # tail rows repeat the last pixel: computed, never stored
            hi0[i] = (pix // wo_n) * strh - padt
            wi0[i] = (pix % wo_n) * strw - padl
        acc = numba.carray(stack_tile(TILE, pflat), (TILE,))
        for e in range(MR_ * NR):
            acc[e] = 0
        for r in range(r_n):
            whole = rows_run
            if whole:
                for i in range(MR_):
                    hi = hi0[i] + r * dilh
                    if hi >= 0 and hi < h and (wi0[i] < 0 or wi0[i] + s_n > w_n):
                        whole = False
            segments, length = (1, s_n * cg) if whole else (s_n, cg)
            for s in range(segments):
                for i in range(MR_):
                    hi, wi = hi0[i] + r * dilh, wi0[i] + s * dilw
                    inside = hi >= 0 and hi < h and (whole or (wi >= 0 and wi < w_n))
                    addr[i] = xbase + (hi * sh + wi * sw) * item if inside else zaddr
                    step[i] = sc if inside else 0
                reduce(length, addr, step, element_ptr(pflat, p0 + (r * s_n + s) * cg * NR), acc)
        y = _vector(yd[D_ADDR], pflat, yd[D_SPAN])
        rs_y, cs_y = yd[D_RS], yd[D_KS]
        c0 = yd[D_OFF] + img * yd[D_STEP1] + g * yd[D_STEP2] + pix0 * rs_y + jb * NR * cs_y
        store_tile(acc, y, c0, rs_y, cs_y, mr, nrv, 1.0, 0.0, pflat)
        if ed[E_AXIS] != 0:
            epilogue(y, c0, rs_y, cs_y, mr, nrv, ed, 0, g * ed[E_STEP2] + jb * NR, pflat)

    return tile


_tile_unit = _make_tile(_reduce_unit, True)
_tile_strided = _make_tile(_reduce, False)
