"""cpu backend: the C++ BLIS-style engine in kernels._cpu (pybind11, OpenMP)."""
from __future__ import annotations

import numpy as np

from .._validation import gemm_target
from .base import Backend

try:
    from .. import _cpu
except ImportError as exc:  # the C++ extension was not built or cannot load
    _cpu = None
    _import_error = f"the C++ extension kernels._cpu could not be imported ({exc})"


_ndarray = np.ndarray


class CpuBackend(Backend):
    name = "cpu"
    extra = None
    ops = frozenset({"gemm", "matmul"})
    available = _cpu is not None
    reason = "C++ extension kernels._cpu loaded" if _cpu is not None else _import_error

    def gemm(self, a, b, c, alpha, beta, trans_a, trans_b, out):
        if type(a) is not _ndarray:
            a = np.asarray(a)
        if type(b) is not _ndarray:
            b = np.asarray(b)
        if out is not None and out is not c:
            if c is None:  # C is not read: out is simply where the result goes
                if beta != 0:
                    raise ValueError("gemm: beta != 0 needs an input c")
                c = out
            else:
                c, beta = gemm_target(a, b, c, out, beta, trans_a, trans_b)
        # _cpu validates dtypes, shapes, strides, writability and overlap before computing.
        return _cpu.gemm(a, b, c, alpha, beta, trans_a, trans_b)

    def matmul(self, a, b, out):
        return _cpu.matmul(a, b, out)


backend = CpuBackend()
