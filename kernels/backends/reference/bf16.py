"""The reference backend's bfloat16 gemm/matmul/conv2d: the float64 product of the bf16 inputs
(exact for every product, the sums in float64), alpha/beta and the conv epilogue in float64, then
one rounding to the output dtype (ml_dtypes casts float64 to bfloat16 with one round-to-nearest-even):
the oracle the cpu kernels are tested against."""
from __future__ import annotations

import numpy as np

from . import conv as _conv_numpy

_F64 = np.float64


def gemm(a, b, source, alpha, beta, target):
    m, n = target.shape
    if alpha == 0 or a.shape[1] == 0:  # BLAS: A and B are not referenced
        r = np.zeros((m, n), _F64)
    else:
        r = np.matmul(a.astype(_F64), b.astype(_F64)) * alpha
    if source is not None:  # beta == 0: C is not read
        r += beta * source.astype(_F64)
    target[...] = r.astype(target.dtype)
    return target


def matmul(a, b, out):
    out[...] = np.matmul(a.astype(_F64), b.astype(_F64)).astype(out.dtype)
    return out


def conv2d(x, w, bias, scale, shift, spec, shape, out, residual=None):
    res = None if residual is None else residual.astype(_F64)
    y = _conv_numpy.conv2d(x.astype(_F64), w.astype(_F64), bias, scale, shift, spec, shape, _F64, res)
    out[...] = y.astype(out.dtype)
    return out
