"""Public gemm and matmul: argument handling shared by every backend, then dispatch."""
from __future__ import annotations

from typing import Any, Optional

from .. import _precision
from .._dispatch import pick


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
) -> Any:
    """BLAS GEMM: ``alpha * op(a) @ op(b) + beta * c`` with ``op(x) = x.T`` when ``trans_x``.

    The result is written into ``out`` if given, else into ``c`` if given (in place), else into a
    new array, and returned. ``beta == 0`` never reads ``c`` (NaN in ``c`` does not leak);
    ``alpha == 0`` or an empty inner dimension never reads ``a``/``b`` (BLAS semantics). Outputs
    must have the result's dtype and shape and be writable: they are never copied or cast.
    Raises TypeError for dtypes other than float32/float64 or mixed dtypes, ValueError for shapes.
    ``precision="tf32"`` lets float32 run on TF32 tensor cores where a backend has them (cuda);
    the default ``"exact"`` never does.
    """
    if precision is None:  # the common path: no context variable to set
        return pick("gemm", backend, a)(a, b, c, alpha, beta, trans_a, trans_b, out)
    with _precision.use("gemm", precision):
        return pick("gemm", backend, a)(a, b, c, alpha, beta, trans_a, trans_b, out)


def matmul(a: Any, b: Any, *, out: Any = None, backend: Optional[str] = None, precision: Optional[str] = None) -> Any:
    """``a @ b`` with NumPy matmul semantics: 1-D operands are promoted and the added axis removed,
    batch dimensions broadcast, and the whole batch runs as one call. Scalars are rejected.
    precision: as for gemm."""
    if precision is None:
        return pick("matmul", backend, a)(a, b, out)
    with _precision.use("matmul", precision):
        return pick("matmul", backend, a)(a, b, out)
