"""Argument checks for the Python-side backends, mirroring the C++ checks of the cpu backend
(kernels/_cpu validates its own arguments before touching memory)."""
from __future__ import annotations

import numbers
from typing import Optional, Sequence, Tuple

import numpy as np

ALLOWED = (np.dtype(np.float32), np.dtype(np.float64))


def as_input(x) -> np.ndarray:
    """Inputs may be any array-like; outputs are never converted (see check_output)."""
    return x if type(x) is np.ndarray else np.asarray(x)


def dtype_of(fn: str, name: str, x: np.ndarray) -> np.dtype:
    dt = x.dtype
    if dt not in ALLOWED or not dt.isnative:
        raise TypeError(f"{fn}: {name} has dtype {dt}; allowed dtypes are float32 and float64 (native byte order)")
    return dt


def same_dtype(fn: str, a: np.ndarray, b: np.ndarray) -> np.dtype:
    da, db = dtype_of(fn, "a", a), dtype_of(fn, "b", b)
    if da != db:
        raise TypeError(f"{fn}: a and b must have the same dtype, got {da} and {db} (allowed: float32, float64)")
    return da


def shape_str(shape: Sequence[int]) -> str:
    return "(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"


def require_rank(fn: str, name: str, x: np.ndarray, lo: int, hi: int) -> None:
    if not lo <= x.ndim <= hi:
        want = f"{lo}-D" if lo == hi else f"at least {lo}-D"
        raise ValueError(f"{fn}: {name} must be {want}, got shape {shape_str(x.shape)}")


def gemm_shapes(a: np.ndarray, b: np.ndarray, trans_a: bool, trans_b: bool) -> Tuple[int, int, int]:
    require_rank("gemm", "a", a, 2, 2)
    require_rank("gemm", "b", b, 2, 2)
    m, k = (a.shape[1], a.shape[0]) if trans_a else a.shape
    kb, n = (b.shape[1], b.shape[0]) if trans_b else b.shape
    if k != kb:
        raise ValueError(
            f"gemm: shapes {shape_str(a.shape)} and {shape_str(b.shape)} do not agree: op(a) is {m}x{k}, "
            f"op(b) is {kb}x{n} (trans_a={trans_a}, trans_b={trans_b})"
        )
    return m, n, k


def matmul_shape(a: np.ndarray, b: np.ndarray) -> Tuple[int, ...]:
    require_rank("matmul", "a", a, 2, 64)
    require_rank("matmul", "b", b, 2, 64)
    if a.shape[-1] != b.shape[-2]:
        raise ValueError(
            f"matmul: shapes {shape_str(a.shape)} and {shape_str(b.shape)} do not agree: a has "
            f"{a.shape[-1]} columns, b has {b.shape[-2]} rows"
        )
    try:
        batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    except ValueError:
        raise ValueError(
            f"matmul: batch dimensions of shapes {shape_str(a.shape)} and {shape_str(b.shape)} cannot be broadcast together"
        ) from None
    return tuple(batch) + (a.shape[-2], b.shape[-1])


def _self_overlapping(x: np.ndarray) -> bool:
    if x.size == 0:  # nothing to write (NumPy gives fresh empty arrays zero strides)
        return False
    dims = sorted((abs(s), n) for s, n in zip(x.strides, x.shape) if n > 1)
    span = x.itemsize
    for stride, n in dims:
        if stride < span:
            return True
        span = stride * n
    return False


def check_output_dtype_shape(fn: str, name: str, out, dtype, shape: Tuple[int, ...]) -> None:
    """The result's dtype and shape, exactly: outputs of every array kind are never cast or reshaped."""
    if out.dtype != dtype:
        raise TypeError(f"{fn}: {name} has dtype {out.dtype} but the result is {dtype}; outputs are never cast")
    if tuple(out.shape) != tuple(shape):
        raise ValueError(f"{fn}: {name} has shape {shape_str(out.shape)}, expected {shape_str(shape)}")


def check_output(fn: str, name: str, out, dtype: np.dtype, shape: Tuple[int, ...],
                 inputs: Sequence[Tuple[str, np.ndarray]]) -> None:
    """An output is used as given or rejected: never copied, cast or reallocated. inputs:
    (name, array) pairs the output must not overlap."""
    if not isinstance(out, np.ndarray):
        raise TypeError(f"{fn}: {name} must be a numpy.ndarray, got {type(out).__name__}")
    check_output_dtype_shape(fn, name, out, dtype, shape)
    if not out.flags.writeable:
        raise ValueError(f"{fn}: {name} is read-only; pass a writable array")
    if _self_overlapping(out):
        raise ValueError(
            f"{fn}: {name} has overlapping elements (a broadcast or as_strided view); "
            "pass an array where every element has its own memory"
        )
    for label, x in inputs:
        if out.size and x.size and np.may_share_memory(out, x):
            raise ValueError(f"{fn}: {name} shares memory with {label}; the output must not overlap an input")


def real_scalar(fn: str, name: str, x) -> float:
    """alpha/beta: a real number (Python or NumPy), else TypeError; strings are not numbers."""
    if isinstance(x, (bool, np.bool_)) or not isinstance(x, numbers.Real):
        raise TypeError(f"{fn}: {name} must be a real number, got {type(x).__name__}")
    return float(x)


def gemm_arguments(a, b, c, out, alpha, beta, trans_a: bool, trans_b: bool):
    """gemm's checks in order, for the Python backends: (a, b, alpha, beta, dtype, (m, n, k),
    target) with target the array written in place (None: allocate) and beta resolved for it."""
    a, b = as_input(a), as_input(b)
    alpha, beta = real_scalar("gemm", "alpha", alpha), real_scalar("gemm", "beta", beta)
    dt = same_dtype("gemm", a, b)
    m, n, k = gemm_shapes(a, b, trans_a, trans_b)
    target, beta = gemm_target(a, b, c, out, beta, trans_a, trans_b)
    if target is not None and target is not out:
        check_output("gemm", "c", target, dt, (m, n), (("a", a), ("b", b)))
    return a, b, alpha, beta, dt, (m, n, k), target


def matmul_arguments(a: np.ndarray, b: np.ndarray, out) -> Tuple[np.dtype, Tuple[int, ...]]:
    """matmul's checks for the Python backends (operands >= 2-D): (dtype, result shape); out,
    when given, checked as an output."""
    dt = same_dtype("matmul", a, b)
    shape = matmul_shape(a, b)
    if out is not None:
        check_output("matmul", "out", out, dt, shape, (("a", a), ("b", b)))
    return dt, shape


def gemm_target(
    a: np.ndarray, b: np.ndarray, c: Optional[np.ndarray], out: Optional[np.ndarray], beta: float, trans_a: bool, trans_b: bool
) -> Tuple[Optional[np.ndarray], float]:
    """Resolve gemm's (c, out) pair to the one array that is written in place (None: allocate).

    With both given and distinct, C is read from `c` and the result goes to `out`: after checking
    both (c too, even when beta == 0 leaves it unread, as the cpu backend does), `c` is copied
    into `out` only when beta != 0.
    """
    if c is None and beta != 0:
        raise ValueError("gemm: beta != 0 needs an input c")
    if out is None or out is c:
        return c, beta
    dt = same_dtype("gemm", a, b)
    m, n, _ = gemm_shapes(a, b, trans_a, trans_b)
    check_output("gemm", "out", out, dt, (m, n), (("a", a), ("b", b)))
    if c is None:
        return out, 0.0
    if not isinstance(c, np.ndarray):
        raise TypeError(f"gemm: c must be a numpy.ndarray, got {type(c).__name__}")
    if c.dtype != dt:
        raise TypeError(f"gemm: c has dtype {c.dtype} but the result is {dt}; outputs are never cast")
    if c.shape != (m, n):
        raise ValueError(f"gemm: c has shape {shape_str(c.shape)}, expected {shape_str((m, n))}")
    if out.size and c.size and np.may_share_memory(out, c):
        raise ValueError("gemm: out shares memory with c; pass out=c to update c in place")
    if beta == 0:
        return out, 0.0
    np.copyto(out, c, casting="no")
    return out, beta
