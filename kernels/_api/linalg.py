"""Public gemm and matmul: argument handling shared by every backend, then dispatch."""
from __future__ import annotations

from typing import Any, Callable, Optional

import numpy as np

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


def matmul_promoting(core: Callable[[Any, Any, Any], Any], a: Any, b: Any, out: Any) -> Any:
    """NumPy's rules for operands with fewer than 2 dimensions around a `core` that takes >= 2-D
    operands: scalars are an error; a (k,) -> (1, k) and b (k,) -> (k, 1), the added axes dropped
    from the result (and viewed into `out`, which has the final shape)."""
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError("matmul: scalar operands are not allowed, use '*' instead")
    if a.ndim >= 2 and b.ndim >= 2:
        return core(a, b, out)
    a2 = a[None, :] if a.ndim == 1 else a
    b2 = b[:, None] if b.ndim == 1 else b
    out2 = out
    if out is not None:
        if not hasattr(out, "shape"):
            raise TypeError(f"matmul: out must be an array, got {type(out).__name__}")
        batch = tuple(np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2]))
        want = batch + ((a2.shape[-2],) if a.ndim > 1 else ()) + ((b2.shape[-1],) if b.ndim > 1 else ())
        if out.shape != want:
            raise ValueError(f"matmul: out has shape {out.shape}, expected {want}")
        # Views with the promoted axes put back (expand_dims never copies).
        out2 = out[..., None] if b.ndim == 1 else out
        out2 = np.expand_dims(out2, -2) if a.ndim == 1 else out2
    r = core(a2, b2, out2)
    if out is not None:
        return out
    if b.ndim == 1:
        r = r[..., 0]
    if a.ndim == 1:
        r = r[..., 0, :] if b.ndim > 1 else r[..., 0]
    return r[()] if r.ndim == 0 else r  # vector . vector: a scalar, as NumPy returns
