"""bfloat16 gemm, matmul and conv2d: the checks every backend shares (both operands bf16, the output
dtype bf16 or, with out_dtype=np.float32, fp32; bias/scale/shift fp32), then the backend's
gemm_bf16 / conv2d_bf16. bfloat16 is ml_dtypes' NumPy dtype (the one JAX uses); it is recognised by
name, so this module, like the package, imports without ml_dtypes (the [bf16] extra)."""
from __future__ import annotations

from typing import Any, Optional, Tuple

import numpy as np

from .. import _validation as v
from .._validation import is_bf16_dtype
from .._dispatch import backend_of

_F32 = np.dtype(np.float32)


def is_bf16(x: Any) -> bool:
    return is_bf16_dtype(getattr(x, "dtype", None))


def bf16_dtype() -> np.dtype:
    """ml_dtypes' bfloat16, imported on first use (only a bf16 call needs it)."""
    try:
        import ml_dtypes
    except ImportError as e:  # an input had the dtype, so something registered it; say what is missing
        raise ImportError("bfloat16 support needs ml_dtypes: pip install 'hpc-kernels[bf16]'") from e
    return np.dtype(ml_dtypes.bfloat16)


def _backend(fn: str, backend: Optional[str], x: Any, method: str):
    be = backend_of(fn, backend, x)
    if not hasattr(be, method):
        raise TypeError(f"{fn}: the {be.name} backend does not take bfloat16 arrays; it accepts "
                        f"{', '.join(sorted(be.dtypes))} (bfloat16 runs on the cpu and reference backends)")
    return be


def operands(fn: str, a: Any, b: Any, names: Tuple[str, str] = ("a", "b")) -> np.dtype:
    """Both bf16, else TypeError naming both dtypes (no mixed bf16 x fp32)."""
    if not (is_bf16(a) and is_bf16(b)):
        raise TypeError(f"{fn}: {names[0]} and {names[1]} must both be bfloat16 (or both float32/float64), got "
                        f"{getattr(a, 'dtype', type(a).__name__)} and {getattr(b, 'dtype', type(b).__name__)}")
    return a.dtype


def host_bf16(*xs: Any) -> bool:
    """Some operand is a bf16 NumPy array: the bf16 entry points take the call. Device arrays (a
    CuPy bf16 array on the cuda backend, which has its own bf16 GEMM) keep the float path."""
    return any(isinstance(x, np.ndarray) and is_bf16(x) for x in xs)


def result_dtype(fn: str, in_dtype: np.dtype, out_dtype: Any, widen: bool = True) -> np.dtype:
    """out_dtype: None (the inputs' dtype) or, for bf16 inputs of the bf16 entry points (widen),
    np.float32; any other call accepts only the inputs' own dtype."""
    if out_dtype is None:
        return in_dtype
    dt = np.dtype(out_dtype)
    if dt == in_dtype:
        return dt
    if widen and is_bf16_dtype(in_dtype) and dt == _F32:
        return dt
    allowed = "None, bfloat16 or float32" if widen and is_bf16_dtype(in_dtype) else f"None or {in_dtype}"
    raise TypeError(f"{fn}: out_dtype {dt} is not allowed for {in_dtype} inputs; allowed: {allowed}")


def gemm(a, b, c, alpha, beta, trans_a, trans_b, out, out_dtype, backend):
    be = _backend("gemm", backend, a, "gemm_bf16")
    a, b = v.as_input(a), v.as_input(b)
    alpha, beta = v.real_scalar("gemm", "alpha", alpha), v.real_scalar("gemm", "beta", beta)
    for name, x in (("c", c), ("out", out)):
        if x is not None and not isinstance(x, np.ndarray):
            raise TypeError(f"gemm: {name} must be a numpy.ndarray, got {type(x).__name__}")
    if c is None and beta != 0:
        raise ValueError("gemm: beta != 0 needs an input c")
    dt = result_dtype("gemm", operands("gemm", a, b), out_dtype)
    m, n, k = v.gemm_shapes(a, b, trans_a, trans_b)
    distinct = out is not None and c is not None and out is not c
    target = out if out is not None else c
    if target is not None:
        inputs = (("a", a), ("b", b)) + ((("c", c),) if distinct else ())
        v.check_output("gemm", "out" if distinct or c is None else "c", target, dt, (m, n), inputs)
    source = None if beta == 0 else target
    if distinct:
        v.check_output_dtype_shape("gemm", "c", c, dt, (m, n))
        source = None if beta == 0 else c
    opa, opb = (a.T if trans_a else a), (b.T if trans_b else b)
    if target is None:
        target = np.empty((m, n), dt)
    return be.gemm_bf16(opa, opb, source, alpha, beta, target)


def matmul(a, b, out, out_dtype, backend):
    be = _backend("matmul", backend, a, "matmul_bf16")
    a, b = v.as_input(a), v.as_input(b)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError("matmul: scalar operands are not allowed, use '*' instead")
    if out is not None and not isinstance(out, np.ndarray):
        raise TypeError(f"matmul: out must be a numpy.ndarray, got {type(out).__name__}")
    dt = result_dtype("matmul", operands("matmul", a, b), out_dtype)
    a2 = a[None, :] if a.ndim == 1 else a
    b2 = b[:, None] if b.ndim == 1 else b
    shape = v.matmul_shape(a2, b2)
    want = shape[:-2] + ((shape[-2],) if a.ndim > 1 else ()) + ((shape[-1],) if b.ndim > 1 else ())
    if out is not None:
        v.check_output("matmul", "out", out, dt, want, (("a", a), ("b", b)))
        o = out[..., None] if b.ndim == 1 else out
        o = np.expand_dims(o, -2) if a.ndim == 1 else o
    else:
        o = np.empty(shape, dt)
    batch = shape[:-2]
    # (np.broadcast_to only where a batch shape differs: it took half of a small product's call)
    ab = a2 if a2.shape[:-2] == batch else np.broadcast_to(a2, batch + a2.shape[-2:])
    bb = b2 if b2.shape[:-2] == batch else np.broadcast_to(b2, batch + b2.shape[-2:])
    be.matmul_bf16(ab, bb, o)
    if out is not None:
        return out
    r = o
    if b.ndim == 1:
        r = r[..., 0]
    if a.ndim == 1:
        r = r[..., 0, :] if b.ndim > 1 else r[..., 0]
    return r[()] if r.ndim == 0 else r


def conv_vectors(fn: str, k: int, vectors):
    """bias/scale/shift of a bf16 convolution: fp32 (K,) arrays (array-likes converted), never cast."""
    from .conv_args import channel_vector

    return [channel_vector(fn, name, x, k, _F32) for name, x in zip(("bias", "scale", "shift"), vectors)]


def check_conv_operands(fn: str, x: Any, w: Any) -> None:
    operands(fn, x, w, ("x", "w"))
