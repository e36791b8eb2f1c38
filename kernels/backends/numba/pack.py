"""Packing of GEMM operands into R-wide micro-panels, from strided matrices or gathered straight
from a convolution's input (implicit im2col); the same routine writes explicit im2col matrices.

Every operand is seen as a matrix of "rows" (the panel dimension: rows of A, columns of B, output
pixels of a convolution) by the reduction dimension q. A micro-panel holds R rows of a KC slice:
dst[d0 + p*R + r] = M[row0 + r, q0 + p], rows past the matrix zero-filled so that the
micro-kernel always runs whole tiles. Operands are described by an int64 descriptor (see D_*).
"""
from __future__ import annotations

from numba import njit

from .runtime import FASTMATH

# Operand descriptor fields (int64 array). Kinds: a strided matrix, or the lowered matrix of a
# convolution's input gathered from x with the reduction ordered (c, r, s) as the NCHW weights
# are, or (r, s, c) as the NHWC weights are (channels contiguous in x).
STRIDED, CONV_CRS, CONV_RSC = 0, 1, 2
(D_KIND, D_ADDR, D_SPAN, D_OFF, D_RS, D_KS, D_STEP1, D_STEP2, D_SC, D_SH, D_SW, D_H, D_W, D_CG, D_R, D_S, D_WO,
 D_STRH, D_STRW, D_DILH, D_DILW, D_PADT, D_PADL) = range(23)
DESC_LEN = 23


@njit(cache=True, fastmath=FASTMATH)
def pack_strided(src, off, rs, ks, row0, nrows, q0, kc, R, dst, d0):
    base = off + row0 * rs + q0 * ks
    if rs == 1:  # rows contiguous in memory: copy runs of R
        for p in range(kc):
            s, d = base + p * ks, d0 + p * R
            for r in range(nrows):
                dst[d + r] = src[s + r]
            for r in range(nrows, R):
                dst[d + r] = 0
        return
    for r in range(nrows):  # reduction contiguous (or neither): read along q
        s = base + r * rs
        for p in range(kc):
            dst[d0 + p * R + r] = src[s + p * ks]
    for p in range(kc):
        for r in range(nrows, R):
            dst[d0 + p * R + r] = 0


@njit(cache=True, fastmath=FASTMATH)
def pack_conv_crs(src, desc, off, row0, nrows, q0, kc, R, dst, d0):
    """Pixels row0.. (the panel dimension) x reduction (c, r, s): per q, runs of pixels along an
    output row read one input row at stride `stride_w` (a plain copy when it is 1)."""
    sc, sh_, sw_ = desc[D_SC], desc[D_SH], desc[D_SW]
    h, w, s_, wo_n = desc[D_H], desc[D_W], desc[D_S], desc[D_WO]
    strh, strw, dilh, dilw = desc[D_STRH], desc[D_STRW], desc[D_DILH], desc[D_DILW]
    rs_n = desc[D_R] * s_
    for p in range(kc):
        q = q0 + p
        c, t = q // rs_n, q % rs_n
        r, s = t // s_, t % s_
        d = d0 + p * R
        ho, wo = row0 // wo_n, row0 % wo_n
        i = 0
        while i < nrows:
            run = min(nrows - i, wo_n - wo)
            hi = ho * strh - desc[D_PADT] + r * dilh
            lo = hi_ = 0
            if 0 <= hi < h:
                wi0 = wo * strw - desc[D_PADL] + s * dilw  # input column of the run's first pixel
                lo = min(run, max(0, (-wi0 + strw - 1) // strw))  # first pixel inside the row
                hi_ = max(lo, min(run, (w - 1 - wi0) // strw + 1)) if wi0 <= w - 1 else lo
                base = off + c * sc + hi * sh_ + wi0 * sw_
                step = strw * sw_
                if step == 1:
                    for t2 in range(lo, hi_):
                        dst[d + i + t2] = src[base + t2]
                else:
                    for t2 in range(lo, hi_):
                        dst[d + i + t2] = src[base + t2 * step]
            for t2 in range(lo):
                dst[d + i + t2] = 0
            for t2 in range(hi_, run):
                dst[d + i + t2] = 0
            i += run
            wo = 0
            ho += 1
        for r2 in range(nrows, R):
            dst[d + r2] = 0


@njit(cache=True, fastmath=FASTMATH)
def pack_conv_rsc(src, desc, off, row0, nrows, q0, kc, R, dst, d0):
    """Pixels row0.. x reduction (r, s, c): per pixel, runs of channels of one input pixel."""
    sc, sh_, sw_ = desc[D_SC], desc[D_SH], desc[D_SW]
    h, w, cg, s_, wo_n = desc[D_H], desc[D_W], desc[D_CG], desc[D_S], desc[D_WO]
    for r2 in range(nrows):
        pix = row0 + r2
        ho, wo = pix // wo_n, pix % wo_n
        p, q = 0, q0
        while p < kc:
            t, c = q // cg, q % cg
            r, s = t // s_, t % s_
            run = min(kc - p, cg - c)
            hi = ho * desc[D_STRH] - desc[D_PADT] + r * desc[D_DILH]
            wi = wo * desc[D_STRW] - desc[D_PADL] + s * desc[D_DILW]
            if 0 <= hi < h and 0 <= wi < w:
                base = off + hi * sh_ + wi * sw_ + c * sc
                if R == 1 and sc == 1:
                    for t2 in range(run):
                        dst[d0 + p + t2] = src[base + t2]
                else:
                    for t2 in range(run):
                        dst[d0 + (p + t2) * R + r2] = src[base + t2 * sc]
            else:
                for t2 in range(run):
                    dst[d0 + (p + t2) * R + r2] = 0
            p += run
            q += run
    for p in range(kc):
        for r2 in range(nrows, R):
            dst[d0 + p * R + r2] = 0


@njit(cache=True, fastmath=FASTMATH)
def pack(src, desc, off, row0, nrows, q0, kc, R, dst, d0):
    """One micro-panel (or, with R = all rows, a whole lowered matrix) of any operand kind."""
    kind = desc[D_KIND]
    if kind == STRIDED:
        pack_strided(src, off, desc[D_RS], desc[D_KS], row0, nrows, q0, kc, R, dst, d0)
    elif kind == CONV_CRS:
        pack_conv_crs(src, desc, off, row0, nrows, q0, kc, R, dst, d0)
    else:
        pack_conv_rsc(src, desc, off, row0, nrows, q0, kc, R, dst, d0)
