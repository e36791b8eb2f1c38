"""Direct depthwise convolution (groups == C == K) for the numba backend: one output row (NCHW,
vectorised along the row) or one output pixel (NHWC, vectorised over channels) at a time,
accumulated tap by tap with the out-of-image taps skipped, then the epilogue."""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from .gemm import _vector, epilogue
from .pack import (D_ADDR, D_DILH, D_DILW, D_H, D_OFF, D_PADL, D_PADT, D_R, D_S, D_SC, D_SH, D_SPAN, D_STEP1, D_STRH,
                   D_STRW, D_SW, D_W, D_WO)
from .runtime import FASTMATH


@njit(parallel=True, cache=True, fastmath=FASTMATH)
def depthwise(n_img, ch, ho_n, xd, w, yd, ed, nhwc):
    """x, y: conv-input descriptors (strides of N, C, H, W in D_STEP1, D_SC, D_SH, D_SW);
    w: (C, R*S) for NCHW or (R*S, C) for NHWC, contiguous."""
    x = _vector(xd[D_ADDR], w, xd[D_SPAN])
    y = _vector(yd[D_ADDR], w, yd[D_SPAN])
    h, wd, r_n, s_n, wo_n = xd[D_H], xd[D_W], xd[D_R], xd[D_S], xd[D_WO]
    strh, strw, dilh, dilw, pt, pl = xd[D_STRH], xd[D_STRW], xd[D_DILH], xd[D_DILW], xd[D_PADT], xd[D_PADL]
    xn, xc, xh, xw = xd[D_STEP1], xd[D_SC], xd[D_SH], xd[D_SW]
    yn, yc, yh, yw = yd[D_STEP1], yd[D_SC], yd[D_SH], yd[D_SW]
    if not nhwc:
        for t in prange(n_img * ch):
            img, c = t // ch, t % ch
            acc = np.empty(wo_n, w.dtype)
            for ho in range(ho_n):
                acc[:] = 0
                for r in range(r_n):
                    hi = ho * strh - pt + r * dilh
                    if hi < 0 or hi >= h:
                        continue
                    row = xd[D_OFF] + img * xn + c * xc + hi * xh
                    for s in range(s_n):
                        wi0 = s * dilw - pl  # input column of output column 0
                        lo = min(wo_n, max(0, (-wi0 + strw - 1) // strw))
                        hi_ = max(lo, min(wo_n, (wd - 1 - wi0) // strw + 1)) if wi0 <= wd - 1 else lo
                        wv = w[c * r_n * s_n + r * s_n + s]
                        for wo in range(lo, hi_):
                            acc[wo] += wv * x[row + (wi0 + wo * strw) * xw]
                y0 = yd[D_OFF] + img * yn + c * yc + ho * yh
                for wo in range(wo_n):
                    y[y0 + wo * yw] = acc[wo]
                if ed[0] != 0:
                    epilogue(y, y0, 0, yw, 1, wo_n, ed, c, 0, w)
    else:
        for t in prange(n_img * ho_n):
            img, ho = t // ho_n, t % ho_n
            acc = np.empty(ch, w.dtype)
            for wo in range(wo_n):
                acc[:] = 0
                for r in range(r_n):
                    hi = ho * strh - pt + r * dilh
                    if hi < 0 or hi >= h:
                        continue
                    for s in range(s_n):
                        wi = wo * strw - pl + s * dilw
                        if wi < 0 or wi >= wd:
                            continue
                        px = xd[D_OFF] + img * xn + hi * xh + wi * xw
                        tap = (r * s_n + s) * ch
                        for c in range(ch):
                            acc[c] += w[tap + c] * x[px + c * xc]
                y0 = yd[D_OFF] + img * yn + ho * yh + wo * yw
                for c in range(ch):
                    y[y0 + c * yc] = acc[c]
                if ed[0] != 0:
                    epilogue(y, y0, 0, yc, 1, ch, ed, 0, 0, w)
