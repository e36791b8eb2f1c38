"""Quantization parameters of qgemm/qconv2d (ONNX QLinear*/...Integer semantics), checked once and
shared by every backend, and the NumPy model of their epilogue: the definition every backend's
integer kernels must match bit for bit.

The product, per output element (i, j) (j is the output column of qgemm, the output channel of
qconv2d), with a the activation (uint8 or int8) and b the weights (int8, or uint8):

    acc[i, j] = sum_k (a[i, k] - a_zp) * (b[k, j] - b_zp[j]) + bias[j]        (int32)

exact while it fits in int32, wrapping like int32 beyond (ONNX accumulates in int32). Then one of
three output modes, chosen by which scales are given:

  "int32": no scales: the accumulator itself (MatMulInteger, ConvInteger).
  "float": a_scale and b_scale: v = float32(acc) * m[j] with m[j] = float32(a_scale * b_scale[j])
           (a float32 product), then + residual (float32), then the activation; written float32.
  "quant": a_scale, b_scale, out_scale (and out_zero_point, default 0): in output quantization
           units, u = float32(acc) * r[j] with r[j] = float32(m[j] / out_scale) (onnxruntime's
           requantization multiplier: QLinearConv/QLinearMatMul match it exactly), plus
           residual * float32(1 / out_scale) when a float32 residual is given; the activation acts
           on u (relu: max(u, 0); relu6: min(max(u, 0), float32(6 / out_scale))); then
           q = saturate(round_half_to_even(u) + out_zp) in out_dtype (uint8 or int8).

Round half to even is what vcvtps2dq does under the default MXCSR and what np.rint does.

A skip addition (qconv2d's skip, "quant" mode only) then adds an 8-bit tensor s of the output's
type to that q as onnxruntime's QLinearAdd does (a = q with out_scale and out_zero_point, b = s
with skip_scale and skip_zero_point, result with sum_scale and sum_zero_point), in float32 with
fused multiply-adds (MLAS qladd):
    ra = out_scale / sum_scale, rb = skip_scale / sum_scale,
    k = sum_zp - fma(ra, out_zp, rb * skip_zp)
    result = saturate(round_half_to_even(fma(q, ra, fma(s, rb, k))))
the residual connection of a QDQ model (Conv -> Q -> DQ, DQ(skip) -> Add -> Q) in the
convolution's epilogue: the conv's 8-bit output is never stored.
"""
from __future__ import annotations

from typing import Any, NamedTuple, Optional, Tuple

import numpy as np

from .conv_args import ACTIVATIONS

ACTIVATION_TYPES = (np.dtype(np.uint8), np.dtype(np.int8))
WEIGHT_TYPES = (np.dtype(np.int8), np.dtype(np.uint8))
OUTPUT_MODES = ("int32", "float", "quant")


class QuantParams(NamedTuple):
    """Normalised quantization options of one qgemm/qconv2d call (n = output columns/channels)."""

    a_zero_point: int
    b_zero_point: np.ndarray  # int32, shape (n,): per column, a per-tensor value repeated
    a_scale: Optional[np.float32]
    b_scale: Optional[np.ndarray]  # float32, shape (n,), or None
    out_scale: Optional[np.float32]
    out_zero_point: int
    out_dtype: np.dtype  # int32 ("int32"), float32 ("float"), uint8/int8 ("quant")
    bias: Optional[np.ndarray]  # int32, shape (n,): added to the accumulator
    activation: str  # "" for none
    mode: str  # one of OUTPUT_MODES
    skip: Optional[Tuple[np.float32, np.float32, np.float32]] = None  # (ra, rb, k) of the skip addition

    def multiplier(self) -> np.ndarray:
        """m[j] ("float") or r[j] ("quant") as float32, shape (n,); the kernels' per-column scale."""
        m = (np.float32(self.a_scale) * self.b_scale).astype(np.float32)
        return m if self.mode == "float" else (m / np.float32(self.out_scale)).astype(np.float32)


def _range(dt: np.dtype) -> range:
    info = np.iinfo(dt)
    return range(int(info.min), int(info.max) + 1)


def _zero_point(fn: str, name: str, v: Any, dt: np.dtype, n: Optional[int]) -> np.ndarray:
    arr = np.asarray(0 if v is None else v)
    if arr.dtype.kind not in "iu" or arr.dtype == np.bool_:
        raise TypeError(f"{fn}: {name} must be an integer (or integer array), got {arr.dtype}")
    if arr.ndim > 1 or (arr.ndim == 1 and (n is None or arr.shape[0] not in (1, n))):
        allowed = "a scalar" if n is None else f"a scalar or a vector of {n}"
        raise ValueError(f"{fn}: {name} must be {allowed}, got shape {arr.shape}")
    lo, hi = _range(dt)[0], _range(dt)[-1]
    if arr.size and (int(arr.min()) < lo or int(arr.max()) > hi):
        raise ValueError(f"{fn}: {name} must lie in [{lo}, {hi}] ({dt}), got {arr.min()}..{arr.max()}")
    return arr.astype(np.int32)


def _scale(fn: str, name: str, v: Any, n: Optional[int]) -> np.ndarray:
    arr = np.asarray(v)
    if arr.dtype.kind not in "fiu" or arr.dtype == np.bool_:
        raise TypeError(f"{fn}: {name} must be a float (or float array), got {arr.dtype}")
    if arr.ndim > 1 or (arr.ndim == 1 and (n is None or arr.shape[0] not in (1, n))):
        allowed = "a scalar" if n is None else f"a scalar or a vector of {n}"
        raise ValueError(f"{fn}: {name} must be {allowed}, got shape {arr.shape}")
    arr = arr.astype(np.float32)
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise ValueError(f"{fn}: {name} must be finite and > 0, got {arr}")
    return arr


# |ra|, |rb|, |k| below this: fma(a, ra, fma(b, rb, k)) stays finite for 8-bit a, b (no inf - inf).
_ADD_LIMIT = 2.0 ** 96


def qadd_params(sa, za, sb, zb, sc, zc, fn: str = "QAdd") -> Tuple[np.float32, np.float32, np.float32]:
    """(ra, rb, k) of QLinearAdd's formula (module docstring) as onnxruntime's kernel computes them.
    ValueError for scales whose ratios are not finite (a zero or non-finite scale) or beyond 2**96."""
    f32 = np.float32
    with np.errstate(all="ignore"):
        ra, rb = f32(f32(sa) / f32(sc)), f32(f32(sb) / f32(sc))
        pb = f32(rb * f32(zb))
        k = f32(f32(zc) - f32(np.float64(ra) * np.float64(za) + np.float64(pb)))
    for name, v in (("a_scale / c_scale", ra), ("b_scale / c_scale", rb), ("the zero-point term", k)):
        if not np.isfinite(v) or abs(float(v)) >= _ADD_LIMIT:
            raise ValueError(f"{fn}: {name} is {float(v)} (scales a {float(sa)}, b {float(sb)}, c {float(sc)}): "
                             "it must be finite and below 2**96 in magnitude")
    return ra, rb, k


def qadd_formula(a: np.ndarray, b: np.ndarray, ra, rb, k, dtype) -> np.ndarray:
    """saturate(rint(fma(a, ra, fma(b, rb, k)))) in dtype for 8-bit values a, b (broadcasting). An fma
    is emulated in float64: the 8-bit-by-float32 product is exact there, and so is its sum with a
    float32 unless the exponents lie more than 29 bits apart (then at most a double rounding)."""
    t = (np.asarray(b, np.float64) * np.float64(rb) + np.float64(k)).astype(np.float32)
    u = (np.asarray(a, np.float64) * np.float64(ra) + t.astype(np.float64)).astype(np.float32)
    info = np.iinfo(dtype)
    return np.clip(np.rint(u), info.min, info.max).astype(dtype)


def make_qparams(fn: str, a_dtype: np.dtype, b_dtype: np.dtype, n: int, *, a_zero_point: Any = 0,
                 b_zero_point: Any = 0, a_scale: Any = None, b_scale: Any = None, out_scale: Any = None,
                 out_zero_point: Any = None, out_dtype: Any = None, bias: Any = None,
                 activation: Optional[str] = None, residual: bool = False, skip_scale: Any = None,
                 skip_zero_point: Any = None, sum_scale: Any = None, sum_zero_point: Any = None) -> QuantParams:
    """Checks every quantization option of a call with n output columns; raises TypeError or
    ValueError naming the argument and what is allowed."""
    a_dtype, b_dtype = np.dtype(a_dtype), np.dtype(b_dtype)
    if a_dtype not in ACTIVATION_TYPES:
        raise TypeError(f"{fn}: the activation must be uint8 or int8, got {a_dtype}")
    if b_dtype not in WEIGHT_TYPES:
        raise TypeError(f"{fn}: the weights must be int8 or uint8, got {b_dtype}")
    if activation not in ACTIVATIONS:
        raise ValueError(f"{fn}: activation must be one of {ACTIVATIONS}, got {activation!r}")
    za = _zero_point(fn, "a_zero_point", a_zero_point, a_dtype, None)
    zb = np.broadcast_to(_zero_point(fn, "b_zero_point", b_zero_point, b_dtype, n), (n,)).copy()
    if (a_scale is None) != (b_scale is None):
        raise ValueError(f"{fn}: give both a_scale and b_scale (float or requantized output) or neither (int32 output)")
    if a_scale is None:
        mode = "int32"
        if out_scale is not None or out_zero_point is not None:
            raise ValueError(f"{fn}: out_scale/out_zero_point need a_scale and b_scale")
        if activation or residual:
            raise ValueError(f"{fn}: activation and residual need a_scale and b_scale (the int32 output has neither)")
    else:
        mode = "float" if out_scale is None else "quant"
        if out_zero_point is not None and out_scale is None:
            raise ValueError(f"{fn}: out_zero_point needs out_scale")
    sa = None if a_scale is None else np.float32(_scale(fn, "a_scale", a_scale, None))
    sb = None if b_scale is None else np.broadcast_to(_scale(fn, "b_scale", b_scale, n), (n,)).copy()
    so = None if out_scale is None else np.float32(_scale(fn, "out_scale", out_scale, None))
    if sa is not None:
        # The kernels' per-column multiplier must be finite: an infinite one times a zero accumulator
        # is NaN, whose rounding the paths would not agree on (0 * inf has no integer to round to).
        with np.errstate(all="ignore"):
            mult = (sa * sb).astype(np.float32)
            if so is not None:
                mult = (mult / so).astype(np.float32)
        if not np.all(np.isfinite(mult)):
            what = "a_scale * b_scale" + (" / out_scale" if so is not None else "")
            raise ValueError(f"{fn}: {what} must be finite in float32, got {mult[~np.isfinite(mult)][0]}")
    natural = {"int32": np.dtype(np.int32), "float": np.dtype(np.float32)}.get(mode)
    if mode == "quant":
        zo_dtype = np.asarray(out_zero_point).dtype if out_zero_point is not None else None
        natural = zo_dtype if zo_dtype in ACTIVATION_TYPES else a_dtype
    odt = natural if out_dtype is None else np.dtype(out_dtype)
    if odt != natural and not (mode == "quant" and odt in ACTIVATION_TYPES):
        raise TypeError(f"{fn}: out_dtype {odt} does not match the output mode {mode!r} (allowed: {natural})")
    zo = 0
    if mode == "quant":
        zo = int(_zero_point(fn, "out_zero_point", out_zero_point, odt, None))
    b = None
    if bias is not None:
        b = np.asarray(bias)
        if b.dtype != np.int32:
            raise TypeError(f"{fn}: bias must be int32 (the accumulator's type), got {b.dtype}")
        if b.shape != (n,):
            raise ValueError(f"{fn}: bias must have shape ({n},), got {b.shape}")
        b = np.ascontiguousarray(b)
    skip = None
    if skip_scale is not None or sum_scale is not None:
        if skip_scale is None or sum_scale is None:
            raise ValueError(f"{fn}: a skip addition needs both skip_scale and sum_scale")
        if mode != "quant":
            raise ValueError(f"{fn}: skip_scale/sum_scale need a requantized output (out_scale)")
        zs = int(_zero_point(fn, "skip_zero_point", skip_zero_point, odt, None))
        zsum = int(_zero_point(fn, "sum_zero_point", sum_zero_point, odt, None))
        ss = np.float32(_scale(fn, "skip_scale", skip_scale, None))
        ssum = np.float32(_scale(fn, "sum_scale", sum_scale, None))
        skip = qadd_params(so, zo, ss, zs, ssum, zsum, fn)
    elif skip_zero_point is not None or sum_zero_point is not None:
        raise ValueError(f"{fn}: skip_zero_point/sum_zero_point need skip_scale and sum_scale")
    return QuantParams(int(za), zb, sa, sb, so, zo, odt, b, activation or "", mode, skip)


def finish(acc: np.ndarray, q: QuantParams, residual: Optional[np.ndarray] = None,
           skip: Optional[np.ndarray] = None) -> np.ndarray:
    """The epilogue model: acc is int64 (..., n) (bias not yet added); returns out_dtype. The
    definition above, written in NumPy float32 arithmetic step by step; skip (the output's shape
    and type) is given exactly when q.skip is set."""
    if q.bias is not None:
        acc = acc + q.bias
    acc32 = acc.astype(np.int64).astype(np.uint64).astype(np.uint32).view(np.int32)  # int32 wrap
    if q.mode == "int32":
        return acc32
    v = acc32.astype(np.float32) * q.multiplier()
    if q.mode == "float":
        if residual is not None:
            v = v + residual.astype(np.float32)
        if q.activation:
            v = np.maximum(v, np.float32(0))
        if q.activation == "relu6":
            v = np.minimum(v, np.float32(6))
        return v.astype(np.float32)
    inv = np.float32(np.float32(1) / q.out_scale)
    if residual is not None:
        v = v + residual.astype(np.float32) * inv
    if q.activation:
        v = np.maximum(v, np.float32(0))
    if q.activation == "relu6":
        v = np.minimum(v, np.float32(np.float32(6) / q.out_scale))
    info = np.iinfo(q.out_dtype)
    v = np.clip(v, np.float32(-2.0**31), np.float32(2.0**31))  # saturates before the integer cast
    c = np.clip(np.rint(v).astype(np.int64) + q.out_zero_point, info.min, info.max).astype(q.out_dtype)
    return c if q.skip is None else qadd_formula(c, skip, *q.skip, q.out_dtype)
