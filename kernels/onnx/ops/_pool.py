"""2-D pooling for the ONNX ops: the cpu backend's C++ kernels (csrc/ops/pool.cpp through
hpc_kernels._cpu) with a NumPy fallback for other backends, other dtypes or a missing extension.

Private to the ONNX runtime: the ops (ops/nhwc.py) compute the output size (ceil_mode, auto_pad)
and pass the output buffer; these functions only fill it. Padding is (top, bottom, left, right)."""
from __future__ import annotations

from typing import Optional, Sequence, Tuple

import numpy as np

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
_BYTES = (np.dtype(np.uint8), np.dtype(np.int8))  # MaxPool only (quantized tensors)


def _engine(backend: Optional[str], x: np.ndarray, dtypes: Tuple[np.dtype, ...] = _FLOATS):
    """hpc_kernels._cpu when the cpu backend runs these arrays, else None (NumPy)."""
    if backend not in (None, "cpu") or type(x) is not np.ndarray or x.dtype not in dtypes:
        return None
    from ..._extension import cpu_extension

    return cpu_extension()[0]


def runs_in_engine(backend: Optional[str], dtype: np.dtype, bytes_too: bool = False) -> bool:
    """Whether the C++ engine runs an op (a pool, the classifier's GEMM) for NumPy arrays of dtype,
    as _engine decides per call (bytes_too: max pooling, which also takes the one-byte types): what
    a conv chain's op step (kernels/onnx/ops/chain.py) needs."""
    if backend not in (None, "cpu") or np.dtype(dtype) not in (_FLOATS + _BYTES if bytes_too else _FLOATS):
        return False
    from ..._extension import cpu_extension

    return cpu_extension()[0] is not None


def cpu_relayout(backend: Optional[str]):
    """hpc_kernels._cpu.relayout (x, out, to) when the cpu backend runs this session's NumPy arrays
    (backend None or "cpu" and the extension built), else None (NumPy's transposed copy)."""
    if backend not in (None, "cpu"):
        return None
    from ..._extension import cpu_extension

    ext = cpu_extension()[0]
    return getattr(ext, "relayout", None) if ext is not None else None


def output_size(n: int, k: int, s: int, d: int, begin: int, end: int, ceil_mode: bool) -> int:
    """Output extent along one axis: ONNX's floor/ceil formula; with ceil_mode a last window that
    would start beyond the input and its leading padding is dropped (onnxruntime and PyTorch do).
    With ceil_mode a window may overhang the padded input (SqueezeNet's 3x3/2 pools on small
    images): onnxruntime pools what lies inside, as the kernels do."""
    ext = d * (k - 1) + 1
    span = n + begin + end - ext
    out = (-(-span // s) if ceil_mode else span // s) + 1
    if ceil_mode and (out - 1) * s >= n + begin:
        out -= 1
    if out < 1:
        raise ValueError(f"the pooling window (extent {ext}) is larger than the padded input ({n + begin + end})")
    return out


def same_padding(n: int, k: int, s: int, d: int, upper: bool) -> Tuple[int, int, int]:
    """auto_pad SAME_UPPER/SAME_LOWER: (output size, begin, end); the odd pixel goes at the end
    for SAME_UPPER, at the beginning for SAME_LOWER."""
    out = -(-n // s)
    total = max((out - 1) * s + d * (k - 1) + 1 - n, 0)
    small = total // 2
    return (out, small, total - small) if upper else (out, total - small, small)


def _nchw_view(a: np.ndarray, layout: str) -> np.ndarray:
    return a if layout == "NCHW" else a.transpose(0, 3, 1, 2)


def max_pool2d(x: np.ndarray, out: np.ndarray, kernel: Sequence[int], stride: Sequence[int], pads: Sequence[int],
               dilation: Sequence[int], layout: str, backend: Optional[str] = None) -> np.ndarray:
    cpu = _engine(backend, x, _FLOATS + _BYTES)
    if cpu is not None:
        cpu.max_pool2d(x, out, tuple(kernel), tuple(stride), tuple(pads), tuple(dilation), layout)
        return out
    _window_numpy(_nchw_view(x, layout), _nchw_view(out, layout), kernel, stride, pads, dilation, "max", False)
    return out


def avg_pool2d(x: np.ndarray, out: np.ndarray, kernel: Sequence[int], stride: Sequence[int], pads: Sequence[int],
               count_include_pad: bool, layout: str, backend: Optional[str] = None) -> np.ndarray:
    cpu = _engine(backend, x)
    if cpu is not None:
        cpu.avg_pool2d(x, out, tuple(kernel), tuple(stride), tuple(pads), bool(count_include_pad), layout)
        return out
    _window_numpy(_nchw_view(x, layout), _nchw_view(out, layout), kernel, stride, pads, (1, 1), "avg", count_include_pad)
    return out


def global_avg_pool(x: np.ndarray, out: np.ndarray, layout: str, backend: Optional[str] = None) -> np.ndarray:
    cpu = _engine(backend, x)
    if cpu is not None:
        cpu.global_avg_pool(x, out, layout)
        return out
    np.mean(x, axis=(2, 3) if layout == "NCHW" else (1, 2), keepdims=True, out=out)
    return out


def _window_numpy(x, y, kernel, stride, pads, dilation, kind: str, count_include_pad: bool) -> None:
    """y (N, C, Ho, Wo) from x (N, C, H, W), both NCHW views: one strided slice per window
    offset, accumulated (max, or sum and a per-position divisor)."""
    n, c, h, w = x.shape
    ho, wo = y.shape[2], y.shape[3]
    (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    pt, pb, pl, pr = pads
    # Enough trailing padding for every window the output asks for (ceil_mode goes past pb/pr).
    eh = max((ho - 1) * sh + dh * (kh - 1) + 1 - h - pt, 0)
    ew = max((wo - 1) * sw + dw * (kw - 1) + 1 - w - pl, 0)
    # Max pooling pads with the type's lowest value: -inf does not exist in an integer type (cast, it
    # became 0, and an int8 window of negative values pooled to 0).
    low = -np.inf if np.issubdtype(x.dtype, np.floating) else np.iinfo(x.dtype).min
    fill = low if kind == "max" else 0
    xp = np.full((n, c, pt + h + eh, pl + w + ew), fill, dtype=x.dtype)
    xp[:, :, pt:pt + h, pl:pl + w] = x
    acc = np.full((n, c, ho, wo), fill, dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            win = xp[:, :, i * dh: i * dh + (ho - 1) * sh + 1: sh, j * dw: j * dw + (wo - 1) * sw + 1: sw]
            if kind == "max":
                np.maximum(acc, win, out=acc)
            else:
                acc += win
    if kind == "avg":
        hs, ws_ = np.arange(ho) * sh - pt, np.arange(wo) * sw - pl
        if count_include_pad:  # the window clipped to the padded input (not to ceil_mode's overhang)
            ch = np.minimum(hs + kh, h + pb) - hs
            cw = np.minimum(ws_ + kw, w + pr) - ws_
        else:
            ch = np.minimum(hs + kh, h) - np.maximum(hs, 0)
            cw = np.minimum(ws_ + kw, w) - np.maximum(ws_, 0)
        acc /= (ch[:, None] * cw[None, :]).astype(x.dtype)
    np.copyto(y, acc)


__all__ = ["avg_pool2d", "global_avg_pool", "max_pool2d", "output_size", "same_padding"]
