"""reference backend: plain NumPy with BLAS semantics; the oracle the other backends are tested against."""
from __future__ import annotations

import numpy as np

from .. import _validation as v
from .._linalg import matmul_promoting
from .base import Backend


class ReferenceBackend(Backend):
    name = "reference"
    extra = None
    ops = frozenset({"gemm", "matmul"})

    def gemm(self, a, b, c, alpha, beta, trans_a, trans_b, out):
        a, b = v.as_input(a), v.as_input(b)
        alpha, beta = v.real_scalar("gemm", "alpha", alpha), v.real_scalar("gemm", "beta", beta)
        dt = v.same_dtype("gemm", a, b)
        m, n, k = v.gemm_shapes(a, b, trans_a, trans_b)
        target, beta = v.gemm_target(a, b, c, out, beta, trans_a, trans_b)
        if target is not None and target is not out:
            v.check_output("gemm", "c", target, dt, (m, n), (a, b))
        opa, opb = (a.T if trans_a else a), (b.T if trans_b else b)
        if alpha == 0 or k == 0:  # BLAS: A and B are not referenced
            result = np.zeros((m, n), dt)
        else:
            result = np.matmul(opa, opb).astype(dt, copy=False) * dt.type(alpha)
        if beta != 0:  # beta == 0: C is not read, so NaN/Inf in C do not leak
            result += dt.type(beta) * target
        if target is None:
            return result
        target[...] = result
        return target

    def matmul(self, a, b, out):
        return matmul_promoting(self._matmul, v.as_input(a), v.as_input(b), out)

    @staticmethod
    def _matmul(a, b, out):
        dt = v.same_dtype("matmul", a, b)
        shape = v.matmul_shape(a, b)
        if out is not None:
            v.check_output("matmul", "out", out, dt, shape, (a, b))
            np.matmul(a, b, out=out)
            return out
        return np.matmul(a, b)


backend = ReferenceBackend()
