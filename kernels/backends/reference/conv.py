"""The NumPy convolution: conv2d and im2col of the reference backend, and the oracle of the tests
(tests/_conv_reference.py runs it in float64). Slow and simple, the one NumPy convolution of the
package.

The convolution loops over the kernel taps (r, s) only: every tap is one batched matmul over
(groups, K/groups, C/groups) x (N, groups, C/groups, Ho*Wo) on a strided view of the padded input,
so no lowered matrix is built. Checked against torch.nn.functional.conv2d / unfold (float64) on
random configurations covering groups, dilation, stride, every padding form and both layouts.
"""
from __future__ import annotations

from typing import Optional

import numpy as np


def _padded(x: np.ndarray, spec, shape, dtype) -> np.ndarray:
    """x in NCHW order, in `dtype`, zero-padded by shape.padding."""
    xn = x if spec.layout == "NCHW" else x.transpose(0, 3, 1, 2)
    top, bottom, left, right = shape.padding
    xp = np.zeros((shape.n, shape.c, shape.h + top + bottom, shape.w + left + right), dtype)
    xp[:, :, top:top + shape.h, left:left + shape.w] = xn
    return xp


def _tap(xp: np.ndarray, spec, shape, ri: int, si: int) -> np.ndarray:
    """(N, C, Ho, Wo) view of the input pixels kernel tap (ri, si) reads for every output pixel."""
    (sh, sw), (dh, dw) = spec.stride, spec.dilation
    h0, w0 = ri * dh, si * dw
    return xp[:, :, h0:h0 + (shape.ho - 1) * sh + 1:sh, w0:w0 + (shape.wo - 1) * sw + 1:sw]


def convolve(x: np.ndarray, w: np.ndarray, spec, shape, dtype) -> np.ndarray:
    """Cross-correlation without epilogue, computed in `dtype`: (N, K, Ho, Wo)."""
    g = spec.groups
    cg, kg = shape.c // g, shape.k // g
    p = shape.ho * shape.wo
    xp = _padded(x, spec, shape, dtype)
    wg = np.asarray(w, dtype).reshape(g, kg, cg, shape.r, shape.s)
    y = np.zeros((shape.n, g, kg, p), dtype)
    if shape.n > 0:
        with np.errstate(invalid="ignore", over="ignore"):  # NaN / Inf inputs propagate, as in every backend
            for ri in range(shape.r):
                for si in range(shape.s):
                    tap = _tap(xp, spec, shape, ri, si).reshape(shape.n, g, cg, p)
                    y += np.matmul(wg[:, :, :, ri, si], tap)  # (G,Kg,Cg) @ (N,G,Cg,P) -> (N,G,Kg,P)
    return y.reshape(shape.n, shape.k, shape.ho, shape.wo)


def conv2d(x, w, bias, scale, shift, spec, shape, dtype: Optional[np.dtype] = None, residual=None) -> np.ndarray:
    """y = activation(scale * (conv(x, w) + bias) + shift + residual) in the layout of spec
    (C-contiguous), computed in `dtype` (default: x's); residual: None or an array of the
    output's shape in spec's layout (read before anything is written: it may be the caller's out)."""
    dt = np.dtype(dtype if dtype is not None else x.dtype)
    y = convolve(x, w, spec, shape, dt)
    per_channel = (1, -1, 1, 1)
    with np.errstate(invalid="ignore", over="ignore"):
        if bias is not None:
            y += np.asarray(bias, dt).reshape(per_channel)
        if scale is not None:
            y *= np.asarray(scale, dt).reshape(per_channel)
        if shift is not None:
            y += np.asarray(shift, dt).reshape(per_channel)
        if residual is not None:
            r = np.asarray(residual)
            y += (r if spec.layout == "NCHW" else r.transpose(0, 3, 1, 2)).astype(dt, copy=False)
    if spec.activation:
        np.maximum(y, 0, out=y, where=~np.isnan(y))  # NaN stays NaN
        if spec.activation == "relu6":
            np.minimum(y, 6, out=y, where=~np.isnan(y))
    return y if spec.layout == "NCHW" else np.ascontiguousarray(y.transpose(0, 2, 3, 1))


def im2col(x, spec, shape, dtype: Optional[np.dtype] = None) -> np.ndarray:
    """The lowered matrix in `dtype` (default: x's): NCHW (N, C*R*S, Ho*Wo), row (c*R + r)*S + s,
    column ho*Wo + wo (torch unfold); NHWC (N, Ho*Wo, R*S*C), column (r*S + s)*C + c. Padded
    positions are 0."""
    dt = np.dtype(dtype if dtype is not None else x.dtype)
    xp = _padded(x, spec, shape, dt)
    cols = np.zeros((shape.n, shape.c, shape.r, shape.s, shape.ho, shape.wo), dt)
    for ri in range(shape.r):
        for si in range(shape.s):
            cols[:, :, ri, si] = _tap(xp, spec, shape, ri, si)
    p = shape.ho * shape.wo
    if spec.layout == "NCHW":
        return cols.reshape(shape.n, shape.c * shape.r * shape.s, p)
    return cols.transpose(0, 4, 5, 2, 3, 1).reshape(shape.n, p, shape.r * shape.s * shape.c)
