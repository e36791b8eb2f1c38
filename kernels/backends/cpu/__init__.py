"""cpu backend: the C++ BLIS-style engine in kernels._cpu (pybind11, OpenMP)."""
from __future__ import annotations

import numpy as np

from ..._extension import load_cpu_extension
from ..._api.linalg import matmul_promoting
from ..._validation import as_input
from ..base import Backend

_cpu, _reason = load_cpu_extension()
_ndarray = np.ndarray


class CpuBackend(Backend):
    name = "cpu"
    extra = None
    ops = frozenset({"gemm", "matmul", "conv2d", "im2col", "pack_conv2d", "conv2d_packed"})
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

    # Convolution: arguments arrive normalised and checked (kernels/_api/conv.py); the C++ entries
    # re-check the arrays (dtypes, shapes, output strides, overlap) before running.
    def conv2d(self, x, w, bias, scale, shift, spec, shape, algorithm, out):
        if out is None:
            out = np.empty(shape.out_shape(spec.layout), x.dtype)
        if not w.flags.c_contiguous:
            w = np.ascontiguousarray(w)  # an input: copying it is allowed
        _cpu.conv2d(x, w, bias, scale, shift, out, spec.stride, shape.padding, spec.dilation, spec.groups,
                    spec.layout, spec.activation, algorithm)
        return out

    def im2col(self, x, spec, shape):
        return _cpu.im2col(x, (shape.r, shape.s), spec.stride, shape.padding, spec.dilation, spec.layout)

    def pack_conv2d(self, w, bias, scale, shift, spec):
        return _cpu.ConvWeights(np.ascontiguousarray(w), bias, scale, shift, spec.groups, spec.layout, spec.activation)

    def conv2d_packed(self, packed, x, spec, shape, algorithm, out):
        if out is None:
            out = np.empty(shape.out_shape(spec.layout), x.dtype)
        _cpu.conv2d_packed(packed, x, out, spec.stride, shape.padding, spec.dilation, algorithm)
        return out


backend = CpuBackend()
