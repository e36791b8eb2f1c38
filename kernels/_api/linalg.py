"""Public gemm and matmul: argument handling shared by every backend, then dispatch. Arrays of other
libraries (torch, JAX, ... through DLPack) are taken and given back by kernels/_arrays.py."""
from __future__ import annotations

from typing import Any, Optional

import numpy as np

from .. import _precision
from . import bf16 as _bf16
from .._arrays import result
from .._dispatch import operand, pick

_ndarray = np.ndarray


def gemm(
    a: Any,
    b: Any,
    c: Any = None,
    *,
    alpha: float = 1.0,
    beta: float = 0.0,
    trans_a: bool = False,
    trans_b: bool = False,
    out: Any = None,
    backend: Optional[str] = None,
    precision: Optional[str] = None,
    out_dtype: Any = None,
) -> Any:
    """BLAS GEMM: ``alpha * op(a) @ op(b) + beta * c`` with ``op(x) = x.T`` when ``trans_x``.

    The result is written into ``out`` if given, else into ``c`` if given (in place), else into a
    new array, and returned. ``beta == 0`` never reads ``c`` (NaN in ``c`` does not leak);
    ``alpha == 0`` or an empty inner dimension never reads ``a``/``b`` (BLAS semantics). Outputs
    must have the result's dtype and shape and be writable: they are never copied or cast.
    Raises TypeError for dtypes other than float32/float64 or mixed dtypes, ValueError for shapes.
    ``precision="tf32"`` lets float32 run on TF32 tensor cores where a backend has them (cuda);
    the default ``"exact"`` never does.
    bfloat16 (ml_dtypes.bfloat16, both operands): fp32 accumulation, the result bf16 (rounded to
    nearest even once) or, with ``out_dtype=np.float32``, fp32 (then out and c are fp32);
    cpu and reference backends.
    """
    if precision is not None:
        with _precision.use("gemm", precision):
            return gemm(a, b, c, alpha=alpha, beta=beta, trans_a=trans_a, trans_b=trans_b, out=out, backend=backend,
                        out_dtype=out_dtype)
    if (type(a) is _ndarray and type(b) is _ndarray and (c is None or type(c) is _ndarray) and (out is None or type(out) is _ndarray)
            and out_dtype is None and a.dtype.kind != "V" and b.dtype.kind != "V"):  # (bfloat16's kind is "V")
        return pick("gemm", backend, a)(a, b, c, alpha, beta, trans_a, trans_b, out)  # the common path: NumPy as it is
    if _bf16.host_bf16(a, b):
        return _bf16.gemm(a, b, c, alpha, beta, trans_a, trans_b, out, out_dtype, backend)
    if out_dtype is not None:
        _bf16.result_dtype("gemm", getattr(a, "dtype", np.dtype(np.float64)), out_dtype, widen=False)
    ha, hc, ho = operand("gemm", "a", a), operand("gemm", "c", c), operand("gemm", "out", out)
    hb = operand("gemm", "b", b)
    if _bf16.host_bf16(ha, hb):  # other libraries' bf16 arrays seen as NumPy (DLPack / __array__)
        r = _bf16.gemm(ha, hb, hc, alpha, beta, trans_a, trans_b, ho, out_dtype, backend)
    else:
        r = pick("gemm", backend, ha)(ha, hb, hc, alpha, beta, trans_a, trans_b, ho)
    # Written in place: the caller's own out (or c), whatever its kind; else a new array of a's kind.
    return out if r is ho and out is not None else c if r is hc and c is not None else result(a, r)


def matmul(a: Any, b: Any, *, out: Any = None, backend: Optional[str] = None, precision: Optional[str] = None,
           out_dtype: Any = None) -> Any:
    """``a @ b`` with NumPy matmul semantics: 1-D operands are promoted and the added axis removed,
    batch dimensions broadcast, and the whole batch runs as one call. Scalars are rejected.
    precision, bfloat16 and out_dtype: as for gemm."""
    if precision is not None:
        with _precision.use("matmul", precision):
            return matmul(a, b, out=out, backend=backend, out_dtype=out_dtype)
    if (type(a) is _ndarray and type(b) is _ndarray and (out is None or type(out) is _ndarray) and out_dtype is None
            and a.dtype.kind != "V" and b.dtype.kind != "V"):
        return pick("matmul", backend, a)(a, b, out)
    if _bf16.host_bf16(a, b):
        return _bf16.matmul(a, b, out, out_dtype, backend)
    if out_dtype is not None:
        _bf16.result_dtype("matmul", getattr(a, "dtype", np.dtype(np.float64)), out_dtype, widen=False)
    ha, hb, ho = operand("matmul", "a", a), operand("matmul", "b", b), operand("matmul", "out", out)
    if _bf16.host_bf16(ha, hb):
        r = _bf16.matmul(ha, hb, ho, out_dtype, backend)
    else:
        r = pick("matmul", backend, ha)(ha, hb, ho)
    return out if out is not None and r is ho else result(a, r)
