"""NumPy convolution for the reference backend: windows of the padded input contracted with the
weights per group (tensordot), then the epilogue. Slow and simple, the oracle of the others."""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def windows_nchw(x: np.ndarray, shape, spec) -> np.ndarray:
    """(N, C, Ho, Wo, R, S) view of the taps of every output pixel (x in NCHW order)."""
    pt, pb, pl, pr = shape.padding
    (sh, sw), (dh, dw) = spec.stride, spec.dilation
    xp = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)))
    ext = (dh * (shape.r - 1) + 1, dw * (shape.s - 1) + 1)
    win = sliding_window_view(xp, ext, axis=(2, 3))[:, :, ::sh, ::sw, ::dh, ::dw]
    return win[:, :, : shape.ho, : shape.wo]


def conv2d(x, w, bias, scale, shift, spec, shape) -> np.ndarray:
    """The result in the layout of spec, computed in the dtype of x."""
    xn = x if spec.layout == "NCHW" else x.transpose(0, 3, 1, 2)
    win = windows_nchw(xn, shape, spec)
    g, kg, cg = spec.groups, shape.k // spec.groups, shape.c // spec.groups
    y = np.empty((shape.n, shape.k, shape.ho, shape.wo), x.dtype)
    for i in range(g):
        part = np.tensordot(win[:, i * cg:(i + 1) * cg], w[i * kg:(i + 1) * kg], axes=([1, 4, 5], [1, 2, 3]))
        y[:, i * kg:(i + 1) * kg] = part.transpose(0, 3, 1, 2)  # (N, Ho, Wo, Kg) -> (N, Kg, Ho, Wo)
    per_channel = (1, -1, 1, 1)
    if bias is not None:
        y += bias.reshape(per_channel)
    if scale is not None:
        y *= scale.reshape(per_channel)
    if shift is not None:
        y += shift.reshape(per_channel)
    if spec.activation:
        np.maximum(y, 0, out=y, where=~np.isnan(y))
        if spec.activation == "relu6":
            np.minimum(y, 6, out=y, where=~np.isnan(y))
    return y if spec.layout == "NCHW" else y.transpose(0, 2, 3, 1)


def im2col(x, spec, shape) -> np.ndarray:
    xn = x if spec.layout == "NCHW" else x.transpose(0, 3, 1, 2)
    win = windows_nchw(xn, shape, spec)  # (N, C, Ho, Wo, R, S)
    p = shape.ho * shape.wo
    if spec.layout == "NCHW":
        return np.ascontiguousarray(win.transpose(0, 1, 4, 5, 2, 3)).reshape(shape.n, shape.c * shape.r * shape.s, p)
    return np.ascontiguousarray(win.transpose(0, 2, 3, 4, 5, 1)).reshape(shape.n, p, shape.r * shape.s * shape.c)
