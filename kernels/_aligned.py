"""empty_aligned: NumPy arrays whose data starts on a cache line (64 bytes by default).

Why: NumPy's allocator starts large arrays 16 bytes into a line, and some kernels take operands in
place only from aligned memory (the bf16 AMX GEMM reads its B operand, `a` of gemm(a, b), without
packing when each row starts on a line: rows that straddle two lines load at 0.7x). Arrays from
torch (through DLPack) are aligned already; this gives NumPy users the same.
"""
from __future__ import annotations

import operator
from typing import Any

import numpy as np


def empty_aligned(shape: Any, dtype: Any = np.float32, *, align: int = 64) -> np.ndarray:
    """A C-contiguous, writable array of ``shape`` and ``dtype`` (zero-filled) whose data address is
    a multiple of ``align`` bytes (a power of two, at least the dtype's alignment). Rows of a 2-D
    array whose row length in bytes is a multiple of ``align`` then all start aligned. (An array of
    size 0 has no data to align.)"""
    dt = np.dtype(dtype)
    align = operator.index(align)
    if align <= 0 or align & (align - 1):
        raise ValueError(f"empty_aligned: align must be a positive power of two, got {align}")
    if dt.hasobject:
        raise TypeError(f"empty_aligned: dtype {dt} holds Python objects; only plain numeric dtypes are allowed")
    shape = (operator.index(shape),) if np.ndim(shape) == 0 else tuple(operator.index(s) for s in shape)
    if any(s < 0 for s in shape):
        raise ValueError(f"empty_aligned: negative dimensions are not allowed, got shape {shape}")
    nbytes = int(np.prod(shape, dtype=np.int64)) * dt.itemsize
    # A bytearray owns the memory, not an ndarray: the array is then its own root (its base is no
    # ndarray), as np.empty's arrays are, which code that follows `.base` to the buffer an array
    # lives in relies on (hpc_kernels.onnx's memory plan took a view of a uint8 array for another
    # buffer and reused it while still live).
    raw = bytearray(nbytes + align)
    start = -np.frombuffer(raw, np.uint8).ctypes.data % align
    return np.ndarray(shape, dtype=dt, buffer=raw, offset=start)
