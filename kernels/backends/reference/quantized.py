"""The reference backend's int8 operations: exact int64 NumPy products of the zero-point-shifted
operands, then quant_args.finish (the definition of the epilogue): the oracle of the int8 kernels."""
from __future__ import annotations

from typing import Optional

import numpy as np

from ..._api.quant_args import QuantParams, finish
from . import conv as _conv_numpy


def qgemm(a: np.ndarray, b: np.ndarray, q: QuantParams, residual: Optional[np.ndarray], out: np.ndarray) -> np.ndarray:
    """out[...] = finish((a - a_zp) @ (b - b_zp) in int64); residual: None or out's shape."""
    acc = np.matmul(a.astype(np.int64) - q.a_zero_point, b.astype(np.int64) - q.b_zero_point.astype(np.int64))
    out[...] = finish(acc, q, residual)  # residual read before out is written: residual=out is allowed
    return out


def _nhwc(y: np.ndarray, layout: str) -> np.ndarray:
    return y if layout == "NHWC" else y.transpose(0, 2, 3, 1)


def qconv2d(x: np.ndarray, w: np.ndarray, q: QuantParams, spec, shape, out: np.ndarray,
            residual: Optional[np.ndarray], skip: Optional[np.ndarray] = None) -> np.ndarray:
    """The NumPy convolution of x - x_zp (zero padding: a padded pixel is x_zp) and w - w_zp[k] in
    int64, the epilogue with the channel last (finish's per-column vectors), back in spec's layout."""
    xs = x.astype(np.int64) - q.a_zero_point
    ws = w.astype(np.int64) - q.b_zero_point.astype(np.int64).reshape(-1, 1, 1, 1)
    acc = _conv_numpy.convolve(xs, ws, spec, shape, np.int64).transpose(0, 2, 3, 1)  # (N, Ho, Wo, K)
    r = None if residual is None else _nhwc(residual, spec.layout)
    y = finish(acc, q, r, None if skip is None else _nhwc(skip, spec.layout))
    out[...] = y if spec.layout == "NHWC" else y.transpose(0, 3, 1, 2)
    return out
