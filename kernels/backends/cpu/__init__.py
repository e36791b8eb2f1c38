"""cpu backend: the C++ BLIS-style engine in hpc_kernels._cpu (pybind11, OpenMP); its choice of conv2d
algorithm is algorithms.py."""
from __future__ import annotations

from typing import Dict, Optional

import numpy as np

from ..._extension import cpu_extension
from ..._validation import as_input
from ..base import Backend, promote_matmul
from . import algorithms as _algorithms
from . import bf16 as _bf16
from . import quantized as _quantized

_cpu, _reason = cpu_extension()  # loaded (and configured) by the first use of this backend, not by `import hpc_kernels`
_ndarray = np.ndarray


class CpuBackend(Backend):
    name = "cpu"
    extra = None
    ops = frozenset({"gemm", "matmul", "conv2d", "im2col", "pack_conv2d", "conv2d_packed", "qgemm",
                     "qconv2d", "pack_qconv2d", "qconv2d_packed", "qconv2d_bind"})
    available = _cpu is not None
    reason = _reason
    algorithms = _algorithms.IMPLEMENTED
    auto = _algorithms.AUTO

    def __init__(self) -> None:
        if _cpu is not None:
            # The C++ entry takes gemm's arguments as they are and validates them itself (dtypes,
            # shapes, strides, writability, overlap): no Python frame on the hot path.
            self.gemm = _cpu.gemm

    def auto_algorithm(self, shape, spec, dtype) -> str:
        return _algorithms.auto(shape, spec, dtype)

    def matmul(self, a, b, out):
        if type(a) is _ndarray and type(b) is _ndarray and a.ndim >= 2 and b.ndim >= 2:
            return _cpu.matmul(a, b, out)  # validated in C++
        return promote_matmul(_cpu.matmul, as_input(a), as_input(b), out)

    # Convolution: arguments arrive normalised and checked (kernels/_api/conv.py); the C++ entries
    # re-check the arrays (dtypes, shapes, output strides, overlap) before running.
    def conv2d(self, x, w, bias, scale, shift, spec, shape, algorithm, out, residual=None):
        if out is None:
            out = np.empty(shape.out_shape(spec.layout), x.dtype)
        if not w.flags.c_contiguous:
            w = np.ascontiguousarray(w)  # an input: copying it is allowed
        _cpu.conv2d(x, w, bias, scale, shift, out, spec.stride, shape.padding, spec.dilation, spec.groups,
                    spec.layout, spec.activation, algorithm, residual)
        return out

    def im2col(self, x, spec, shape):
        return _cpu.im2col(x, (shape.r, shape.s), spec.stride, shape.padding, spec.dilation, spec.layout)

    def pack_conv2d(self, w, bias, scale, shift, spec):
        return _cpu.ConvWeights(np.ascontiguousarray(w), bias, scale, shift, spec.groups, spec.layout, spec.activation)

    def conv2d_packed(self, packed, x, spec, shape, algorithm, out, residual=None):
        if out is None:
            out = np.empty(shape.out_shape(spec.layout), x.dtype)
        _cpu.conv2d_packed(packed, x, out, spec.stride, shape.padding, spec.dilation, algorithm, residual)
        return out

    # int8 (kernels/_api/quantized.py checks every argument and allocates out): the C++ int8 engine.
    def qgemm(self, a, b, q, residual, out):
        return _quantized.qgemm(_cpu, a, b, q, residual, out)

    # bfloat16 (kernels/_api/bf16.py checks every argument and allocates the output): the C++ bf16
    # engine; conv2d by explicit im2col, depthwise layers by their direct kernel ("auto"/"direct").
    def gemm_bf16(self, a, b, source, alpha, beta, target):
        return _bf16.gemm(_cpu, a, b, source, alpha, beta, target)

    def matmul_bf16(self, a, b, out):
        return _bf16.matmul(_cpu, a, b, out)

    def conv2d_bf16(self, x, w, bias, scale, shift, spec, shape, algorithm, out, residual=None):
        depthwise = spec.groups == shape.c == shape.k
        if algorithm not in ("auto", "im2col") and not (algorithm == "direct" and depthwise):
            raise ValueError(f"conv2d: bfloat16 runs algorithm 'im2col' on the cpu backend, and 'direct' for depthwise "
                             f"layers (asked for {algorithm!r})")
        direct = depthwise and algorithm != "im2col"
        return _bf16.conv2d(_cpu, x, w, bias, scale, shift, spec, shape, out, residual, direct)

    def qconv2d(self, x, w, q, spec, shape, algorithm, out, residual=None, skip=None):
        return _quantized.qconv2d(_cpu, x, w, q, spec, shape, algorithm, out, residual, skip=skip)

    def pack_qconv2d(self, w, w_zero_point, spec):
        """The weights packed once for the int8 kernel with their column sums (C++ QConvWeights)."""
        # NHWC inputs are lowered in (r, s, c) order: their weights are packed in that order.
        return _cpu.QConvWeights(np.ascontiguousarray(w), spec.groups, spec.layout == "NHWC")

    def qconv2d_packed(self, packed, x, q, spec, shape, algorithm, out, residual=None, skip=None):
        return _quantized.qconv2d(_cpu, x, None, q, spec, shape, algorithm, out, residual, packed, skip)

    def qconv2d_bind(self, packed, q, spec, shape, algorithm):
        """qconv2d_packed for one activation shape, its arguments prepared once (QConv2d.bind)."""
        return _quantized.bind_qconv2d(_cpu, packed, q, spec, shape, algorithm)

    def conv2d_workspace(self, x_shape, w_shape, spec, shape, dtype: np.dtype, threads: Optional[int]) -> Dict[str, int]:
        """Extra bytes each algorithm that applies to the layer allocates besides its output."""
        return {
            a: int(_cpu.conv2d_workspace(tuple(x_shape), tuple(w_shape), spec.stride, shape.padding, spec.dilation,
                                         spec.groups, spec.layout, dtype.name, a, threads))
            for a in _algorithms.applicable(shape, spec)
        }


backend = CpuBackend()
