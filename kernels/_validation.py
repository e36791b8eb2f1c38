"""Argument checks for the Python-side backends, mirroring the C++ checks of the cpu backend
(kernels/_cpu validates its own arguments before touching memory)."""
from __future__ import annotations

import numbers
from typing import Any, NamedTuple, Sequence, Tuple

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


# Above this many elements an output whose layout the cheap test cannot clear is rejected instead
# of enumerated (2^22 offsets: 32 MiB of int64 and a sort, still a few ms).
EXACT_OVERLAP_LIMIT = 1 << 22


def self_overlapping(x) -> bool:
    """Whether two distinct indices of x address the same byte (x: anything with shape, strides
    and itemsize). Exact where cheap, the same rule as the C++ entries (csrc/bindings): the
    dimensions sorted by |stride| must each step over everything the smaller ones span; when one
    does not (interleaved layouts), the element offsets are enumerated and compared, up to
    EXACT_OVERLAP_LIMIT elements; larger layouts the first test cannot clear count as
    overlapping (the caller says so)."""
    if x.size == 0:  # nothing to write (NumPy gives fresh empty arrays zero strides)
        return False
    flags = getattr(x, "flags", None)
    if flags is not None and (flags.c_contiguous or flags.f_contiguous):  # dense: the common case, ~2 us less
        return False
    dims = sorted((abs(s), n) for s, n in zip(x.strides, x.shape) if n > 1)
    extent = x.dtype.itemsize
    for stride, n in dims:
        if stride < extent:
            break
        extent += stride * (n - 1)
    else:
        return False
    if x.size > EXACT_OVERLAP_LIMIT:
        return True
    offsets = np.zeros(1, np.int64)
    for stride, n in dims:
        offsets = (offsets[:, None] + stride * np.arange(n, dtype=np.int64)[None, :]).ravel()
    offsets.sort()
    return bool((offsets[1:] == offsets[:-1]).any())


def overlap_message(fn: str, name: str, x) -> str:
    if x.size > EXACT_OVERLAP_LIMIT:
        return (f"{fn}: {name} has strides {tuple(x.strides)} whose elements could not be proven distinct "
                f"(interleaved dimensions, more than {EXACT_OVERLAP_LIMIT} elements); pass an array where every "
                "element has its own memory, e.g. from np.empty")
    return (f"{fn}: {name} has overlapping elements (a broadcast or as_strided view); "
            "pass an array where every element has its own memory")


def check_output_dtype_shape(fn: str, name: str, out, dtype, shape: Tuple[int, ...]) -> None:
    """The result's dtype and shape, exactly: outputs of every array kind are never cast or reshaped."""
    if out.dtype != dtype:
        raise TypeError(f"{fn}: {name} has dtype {out.dtype} but the result is {dtype}; outputs are never cast")
    if tuple(out.shape) != tuple(shape):
        raise ValueError(f"{fn}: {name} has shape {shape_str(out.shape)}, expected {shape_str(shape)}")


def check_output_aligned(fn: str, name: str, out: np.ndarray) -> None:
    """Outputs are written where they lie: their first element and strides must be whole elements
    (the kernels store vectors of elements; inputs that are not get an aligned copy instead)."""
    item = out.itemsize
    if out.flags.aligned and out.dtype.alignment == item:  # NumPy's own test, the same here (no ctypes object)
        return
    if out.size and (out.ctypes.data % item or any(s % item for s, n in zip(out.strides, out.shape) if n > 1)):
        raise ValueError(
            f"{fn}: {name} is not aligned to its {item}-byte elements (address {out.ctypes.data:#x}, strides "
            f"{tuple(out.strides)}); outputs are never copied: allocate it with np.empty or np.zeros, which align "
            "every new array"
        )


def check_output(fn: str, name: str, out, dtype: np.dtype, shape: Tuple[int, ...],
                 inputs: Sequence[Tuple[str, np.ndarray]]) -> None:
    """An output is used as given or rejected: never copied, cast or reallocated. inputs:
    (name, array) pairs the output must not overlap."""
    if not isinstance(out, np.ndarray):
        raise TypeError(f"{fn}: {name} must be a numpy.ndarray, got {type(out).__name__}")
    check_output_dtype_shape(fn, name, out, dtype, shape)
    if not out.flags.writeable:
        raise ValueError(f"{fn}: {name} is read-only; pass a writable array")
    check_output_aligned(fn, name, out)
    if self_overlapping(out):
        raise ValueError(overlap_message(fn, name, out))
    for label, x in inputs:
        if out.size and x.size and np.may_share_memory(out, x):
            raise ValueError(f"{fn}: {name} shares memory with {label}; the output must not overlap an input")


def real_scalar(fn: str, name: str, x) -> float:
    """alpha/beta: a real number (Python or NumPy), else TypeError; strings and bools are not
    numbers; an int beyond the float range is an OverflowError. The cpu backend's C++ entry
    calls this for every type but plain float and int, so every backend gives one error."""
    if isinstance(x, (bool, np.bool_)) or not isinstance(x, numbers.Real):
        raise TypeError(f"{fn}: {name} must be a real number, got {type(x).__name__}")
    try:
        return float(x)
    except OverflowError:
        raise OverflowError(f"{fn}: {name} is too large to convert to a float") from None


class GemmCall(NamedTuple):
    """gemm's arguments after the checks every backend shares."""

    a: Any
    b: Any
    alpha: float
    beta: float
    dtype: np.dtype
    m: int
    n: int
    k: int
    target: Any  # the array written in place (out, else c), or None: the backend allocates
    source: Any  # the array C is read from: None when beta == 0 (never read), target when in place, else c


def _array_type_name(array_type) -> str:
    return f"{array_type.__module__}.{array_type.__name__}"


def gemm_arguments(a, b, c, out, alpha, beta, trans_a: bool, trans_b: bool, *,
                   check=check_output, array_type=np.ndarray, dtype_of=None) -> GemmCall:
    """gemm's checks in the order every backend applies them (the cpu backend in C++,
    csrc/bindings/gemm_entry.cpp, so that a call with two bad arguments fails the same way
    everywhere): a and b converted, alpha/beta, the kinds of c and out, beta without c, dtypes,
    shapes, the written array (out, else c) as an output, a distinct c (read, never written)
    for its dtype and shape.

    check(fn, name, array, dtype, shape, inputs) is the output check of the array kind
    (check_output for NumPy; device backends pass theirs); array_type the kind c and out must
    be; dtype_of(fn, a, b) the operands' dtype (default: same_dtype, float32/float64). Inputs
    are NumPy-converted only when they are not already of array_type."""
    if array_type is np.ndarray:
        a, b = as_input(a), as_input(b)
    alpha, beta = real_scalar("gemm", "alpha", alpha), real_scalar("gemm", "beta", beta)
    for name, x in (("c", c), ("out", out)):
        if x is not None and not isinstance(x, array_type):
            raise TypeError(f"gemm: {name} must be a {_array_type_name(array_type)}, got {type(x).__name__}")
    distinct = out is not None and c is not None and out is not c
    if out is not None and c is None and beta != 0:
        raise ValueError("gemm: beta != 0 needs an input c")
    dt = (dtype_of or same_dtype)("gemm", a, b)
    m, n, k = gemm_shapes(a, b, trans_a, trans_b)
    if c is None and beta != 0:
        raise ValueError("gemm: beta != 0 needs an input c")
    target = out if out is not None else c
    if target is not None:
        inputs = (("a", a), ("b", b)) + ((("c", c),) if distinct else ())
        check("gemm", "out" if distinct or c is None else "c", target, dt, (m, n), inputs)
    source = None if beta == 0 else target
    if distinct:
        check_output_dtype_shape("gemm", "c", c, dt, (m, n))
        source = None if beta == 0 else c
    return GemmCall(a, b, alpha, beta, dt, m, n, k, target, source)


def matmul_arguments(a: np.ndarray, b: np.ndarray, out) -> Tuple[np.dtype, Tuple[int, ...]]:
    """matmul's checks for the Python backends (operands >= 2-D): (dtype, result shape); out,
    when given, checked as an output. Same order as the C++ entry: out's kind first."""
    if out is not None and not isinstance(out, np.ndarray):
        raise TypeError(f"matmul: out must be a numpy.ndarray, got {type(out).__name__}")
    dt = same_dtype("matmul", a, b)
    shape = matmul_shape(a, b)
    if out is not None:
        check_output("matmul", "out", out, dt, shape, (("a", a), ("b", b)))
    return dt, shape


_bf16_scalar: Any = None  # ml_dtypes.bfloat16, once an array of it has been seen


def is_bf16_dtype(dt: Any) -> bool:
    """dt is bfloat16. By its scalar type once known: NumPy computes a user dtype's .name in Python
    (0.4 us, and a bf16 call asked 6 times)."""
    global _bf16_scalar
    if not isinstance(dt, np.dtype):
        return False
    if dt.type is _bf16_scalar:
        return True
    if _bf16_scalar is None and dt.kind == "V" and dt.name == "bfloat16":
        _bf16_scalar = dt.type
        return True
    return False
