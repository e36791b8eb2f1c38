"""cpu backend: the C++ BLIS-style engine in kernels._cpu (pybind11, OpenMP)."""
from __future__ import annotations

import numpy as np

from .._extension import load_cpu_extension
from .._linalg import matmul_promoting
from .._validation import as_input
from .base import Backend

_cpu, _reason = load_cpu_extension()
_ndarray = np.ndarray


class CpuBackend(Backend):
    name = "cpu"
    extra = None
    ops = frozenset({"gemm", "matmul"})
    available = _cpu is not None
    reason = _reason

    def __init__(self) -> None:
        if _cpu is not None:
            # The C++ entry takes gemm's arguments as they are and validates them itself (dtypes,
            # shapes, strides, writability, overlap): no Python frame on the hot path.
            self.gemm = _cpu.gemm

    def matmul(self, a, b, out):
        if type(a) is _ndarray and type(b) is _ndarray and a.ndim >= 2 and b.ndim >= 2:
            return _cpu.matmul(a, b, out)  # validated in C++
        return matmul_promoting(_cpu.matmul, as_input(a), as_input(b), out)


backend = CpuBackend()
