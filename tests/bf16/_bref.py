"""The bf16 tests' oracle and bound: float64 products of the bf16 inputs, and the K-scaled bound
|C - Cref| <= u_out*|Cref| + (1 + u_out) * (K + 2) * 2^-24 * (|alpha| |A||B| + |beta| |C|)
(u_out = 2^-8 for a bf16 result, 2^-24 for fp32: one final rounding; the fp32 sums of the kernels
add at most (K + 2) fp32 roundings of the magnitudes; Cref is the unrounded float64 value)."""
from __future__ import annotations

import ml_dtypes
import numpy as np

BF16 = np.dtype(ml_dtypes.bfloat16)
F32 = np.dtype(np.float32)
F64 = np.float64


def unit(dt) -> float:
    return 2.0 ** -8 if np.dtype(dt) == BF16 else 2.0 ** -24


def rand(rng, shape) -> np.ndarray:
    return rng.standard_normal(shape).astype(BF16)


def ints(rng, shape, lo=-4, hi=4) -> np.ndarray:
    return rng.integers(lo, hi + 1, shape).astype(BF16)


def check(got, a, b, c=None, alpha=1.0, beta=0.0, what="") -> None:
    """got (bf16 or fp32) against alpha*a@b + beta*c in float64, within the bound above."""
    a64, b64 = a.astype(F64), b.astype(F64)
    ref = alpha * (a64 @ b64)
    mag = abs(alpha) * (np.abs(a64) @ np.abs(b64))
    if c is not None and beta != 0:
        ref = ref + beta * c.astype(F64)
        mag = mag + abs(beta) * np.abs(c.astype(F64))
    u = unit(got.dtype)
    k = a.shape[-1]
    bound = u * np.abs(ref) + (1 + u) * (k + 2) * 2.0 ** -24 * mag + 1e-30
    err = np.abs(got.astype(F64) - ref)
    bad = ~(err <= bound)
    assert not bad.any(), f"{what}: {bad.sum()} elements beyond the bound, worst err/bound {np.max(err / bound):.3g}"
