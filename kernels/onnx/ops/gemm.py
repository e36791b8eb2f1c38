"""Gemm and MatMul (batched, NumPy broadcasting) on hpc_kernels.gemm/matmul for float32/float64;
NumPy for the integer and float16 types ONNX also allows."""
from __future__ import annotations

from typing import Tuple

import numpy as np

import hpc_kernels

from .._registry import register
from ._common import KERNEL_FLOATS, check_attrs, kernel_kwargs


def matmul_shape(a: Tuple[int, ...], b: Tuple[int, ...]) -> Tuple[int, ...]:
    """The shape of np.matmul(a, b) (1-D operands promoted, then the added axis dropped)."""
    a2 = (1,) + a if len(a) == 1 else a
    b2 = b + (1,) if len(b) == 1 else b
    batch = np.broadcast_shapes(a2[:-2], b2[:-2])
    out = batch + (a2[-2], b2[-1])
    if len(a) == 1:
        out = out[:-2] + out[-1:]
    if len(b) == 1:
        out = out[:-1]
    return out


@register("MatMul", since=1)
def matmul(node, opset, ctx):
    check_attrs(node, opset, ())
    kw = kernel_kwargs(ctx)

    def run(inputs, ws):
        a, b = inputs
        if a.dtype in KERNEL_FLOATS and b.dtype == a.dtype and a.ndim >= 1 and b.ndim >= 1:
            out = ws.output(0, matmul_shape(a.shape, b.shape), a.dtype)
            return [hpc_kernels.matmul(np.ascontiguousarray(a), np.ascontiguousarray(b), out=out, **kw)]
        return [np.matmul(a, b)]

    return run


@register("Gemm", since=1)
def gemm(node, opset, ctx):
    check_attrs(node, opset, ("alpha", "beta", "transA", "transB", "broadcast"))
    alpha, beta = float(node.attr("alpha", 1.0)), float(node.attr("beta", 1.0))
    ta, tb = bool(node.attr("transA", 0)), bool(node.attr("transB", 0))
    kw = kernel_kwargs(ctx)

    def run(inputs, ws):
        a, b = inputs[0], inputs[1]
        c = inputs[2] if len(inputs) > 2 else None
        m = a.shape[1] if ta else a.shape[0]
        n = b.shape[0] if tb else b.shape[1]
        if a.dtype in KERNEL_FLOATS and b.dtype == a.dtype and (c is None or c.dtype == a.dtype):
            out = ws.output(0, (m, n), a.dtype)
            a, b = np.ascontiguousarray(a), np.ascontiguousarray(b)
            if c is None or beta == 0.0:
                return [hpc_kernels.gemm(a, b, alpha=alpha, trans_a=ta, trans_b=tb, out=out, **kw)]
            out[...] = c  # unidirectional broadcast of C to (M, N); the kernel adds beta * C in place
            return [hpc_kernels.gemm(a, b, out, alpha=alpha, beta=beta, trans_a=ta, trans_b=tb, **kw)]
        y = alpha * np.matmul(a.T if ta else a, b.T if tb else b)
        if c is not None:
            y = y + beta * c
        return [y.astype(a.dtype, copy=False)]

    return run
