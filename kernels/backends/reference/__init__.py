"""reference backend: plain NumPy with BLAS semantics; the oracle the other backends are tested against."""
from __future__ import annotations

import numpy as np

from ... import _validation as v
from ..base import Backend, promote_matmul
from . import algorithms as _algorithms
from . import bf16 as _bf16
from . import conv as _conv_numpy
from . import quantized as _quantized


class ReferenceBackend(Backend):
    name = "reference"
    extra = None
    ops = frozenset({"gemm", "matmul", "conv2d", "im2col", "pack_conv2d", "conv2d_packed",
                     "qgemm", "qconv2d", "pack_qconv2d", "qconv2d_packed"})
    algorithms = _algorithms.IMPLEMENTED
    auto = _algorithms.AUTO

    def auto_algorithm(self, shape, spec, dtype) -> str:
        return _algorithms.auto()

    def run_algorithm(self, shape, spec, requested) -> str:
        return _algorithms.auto()  # one NumPy convolution computes every algorithm's result

    def gemm(self, a, b, c, alpha, beta, trans_a, trans_b, out):
        g = v.gemm_arguments(a, b, c, out, alpha, beta, trans_a, trans_b)
        dt = g.dtype
        opa, opb = (g.a.T if trans_a else g.a), (g.b.T if trans_b else g.b)
        if g.alpha == 0 or g.k == 0:  # BLAS: A and B are not referenced
            result = np.zeros((g.m, g.n), dt)
        else:
            result = np.matmul(opa, opb).astype(dt, copy=False) * dt.type(g.alpha)
        if g.source is not None:  # beta == 0: C is not read, so NaN/Inf in C do not leak
            result += dt.type(g.beta) * g.source
        if g.target is None:
            return result
        g.target[...] = result
        return g.target

    def matmul(self, a, b, out):
        return promote_matmul(self._matmul, v.as_input(a), v.as_input(b), out)

    @staticmethod
    def _matmul(a, b, out):
        dt, shape = v.matmul_arguments(a, b, out)
        if out is not None:
            np.matmul(a, b, out=out)
            return out
        return np.matmul(a, b)

    def conv2d(self, x, w, bias, scale, shift, spec, shape, algorithm, out, residual=None):
        y = _conv_numpy.conv2d(x, w, bias, scale, shift, spec, shape, residual=residual)
        if out is None:
            return y
        out[...] = y  # checked by the front end (kernels/_api/conv.py)
        return out

    def im2col(self, x, spec, shape):
        return _conv_numpy.im2col(x, spec, shape)

    def pack_conv2d(self, w, bias, scale, shift, spec):
        return tuple(None if a is None else a.copy() for a in (w, bias, scale, shift))

    def conv2d_packed(self, packed, x, spec, shape, algorithm, out, residual=None):
        return self.conv2d(x, *packed, spec, shape, algorithm, out, residual)

    # bfloat16 (kernels/_api/bf16.py checks every argument): float64 products, one final rounding.
    def gemm_bf16(self, a, b, source, alpha, beta, target):
        return _bf16.gemm(a, b, source, alpha, beta, target)

    def matmul_bf16(self, a, b, out):
        return _bf16.matmul(a, b, out)

    def conv2d_bf16(self, x, w, bias, scale, shift, spec, shape, algorithm, out, residual=None):
        self.check_algorithm("conv2d", algorithm)
        return _bf16.conv2d(x, w, bias, scale, shift, spec, shape, out, residual)

    # int8 (kernels/_api/quantized.py checks every argument and allocates out): exact int64 NumPy.
    def qgemm(self, a, b, q, residual, out):
        return _quantized.qgemm(a, b, q, residual, out)

    def qconv2d(self, x, w, q, spec, shape, algorithm, out, residual=None, skip=None):
        self.check_algorithm("qconv2d", algorithm)
        return _quantized.qconv2d(x, w, q, spec, shape, out, residual, skip)

    def pack_qconv2d(self, w, w_zero_point, spec):
        return w.copy()

    def qconv2d_packed(self, packed, x, q, spec, shape, algorithm, out, residual=None, skip=None):
        return self.qconv2d(x, packed, q, spec, shape, algorithm, out, residual, skip)


backend = ReferenceBackend()
