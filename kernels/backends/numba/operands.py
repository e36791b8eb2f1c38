"""Descriptors of the numba kernels' operands, from NumPy arrays: the address of the lowest
element, the span, and element strides (any sign), so that views of every kind run in place."""
from __future__ import annotations

from typing import Sequence, Tuple

import numpy as np

from .gemm import E_ACT, E_AXIS, E_BIAS, E_RES, E_SCALE, E_SHIFT, E_STEP2, EPI_LEN
from .pack import (CONV_CRS, CONV_RSC, D_ADDR, D_CG, D_DILH, D_DILW, D_H, D_KIND, D_KS, D_OFF, D_PADL, D_PADT, D_R,
                   D_RS, D_S, D_SC, D_SH, D_SPAN, D_STEP1, D_STEP2, D_STRH, D_STRW, D_SW, D_W, D_WO, DESC_LEN, STRIDED)


def element_strides_ok(x: np.ndarray) -> bool:
    """Byte strides that are whole elements (NumPy allows others on unaligned views)."""
    return all(s % x.itemsize == 0 for s, n in zip(x.strides, x.shape) if n > 1)


def _extent(x: np.ndarray) -> Tuple[int, int, int, Tuple[int, ...]]:
    """(address of the lowest element, elements spanned, offset of x[0, ..., 0] from it, element
    strides). Indices from the lowest address are never negative, whatever the strides' signs."""
    item = x.itemsize
    strides = tuple(s // item if n > 1 else 0 for s, n in zip(x.strides, x.shape))
    low = sum(s * (n - 1) for s, n in zip(strides, x.shape) if s < 0)
    high = sum(s * (n - 1) for s, n in zip(strides, x.shape) if s > 0)
    return x.ctypes.data + low * item, high - low + 1, -low, strides


def matrix(x: np.ndarray, row_axis: int, k_axis: int, batch_axes: Sequence[int] = ()) -> np.ndarray:
    """A strided operand: rows (the panel dimension) along row_axis, reduction along k_axis,
    up to two batch axes (steps 1 and 2 of the kernel's batch loop)."""
    addr, span, off, st = _extent(x)
    d = np.zeros(DESC_LEN, np.int64)
    d[D_KIND], d[D_ADDR], d[D_SPAN], d[D_OFF], d[D_RS], d[D_KS] = STRIDED, addr, span, off, st[row_axis], st[k_axis]
    _steps(d, st, batch_axes)
    return d


def output(y: np.ndarray, row_axis: int, col_axis: int, batch_axes: Sequence[int] = ()) -> np.ndarray:
    """C: (address, row stride, column stride) in the same fields as a strided operand."""
    return matrix(y, row_axis, col_axis, batch_axes)


def _steps(d: np.ndarray, st: Tuple[int, ...], batch_axes: Sequence[int]) -> None:
    for field, ax in zip((D_STEP1, D_STEP2), batch_axes):
        d[field] = 0 if ax is None else st[ax]


def conv_input(x: np.ndarray, spec, shape) -> np.ndarray:
    """x as the gathered im2col operand: rows = output pixels of one image and group, reduction
    (c, r, s) for NCHW (the weights' own order) or (r, s, c) for NHWC (channels contiguous);
    batch steps: one image, one group of channels."""
    addr, span, off, st = _extent(x)
    if spec.layout == "NCHW":
        s_n, s_c, s_h, s_w = st
    else:
        s_n, s_h, s_w, s_c = st
    cg = shape.c // spec.groups
    d = np.zeros(DESC_LEN, np.int64)
    d[D_KIND] = CONV_CRS if spec.layout == "NCHW" else CONV_RSC
    d[D_ADDR], d[D_SPAN], d[D_OFF] = addr, span, off
    d[D_STEP1], d[D_STEP2] = s_n, cg * s_c
    d[D_SC], d[D_SH], d[D_SW], d[D_H], d[D_W], d[D_CG] = s_c, s_h, s_w, shape.h, shape.w, cg
    d[D_R], d[D_S], d[D_WO] = shape.r, shape.s, shape.wo
    d[D_STRH], d[D_STRW] = spec.stride
    d[D_DILH], d[D_DILW] = spec.dilation
    d[D_PADT], d[D_PADL] = shape.padding[0], shape.padding[2]
    return d


def residual_address(residual: np.ndarray, out: np.ndarray) -> int:
    """The residual's lowest address when the epilogue can read it at the output's own element
    offsets (same shape and strides, no overlap with out), else 0 (the caller adds it itself)."""
    same = residual.shape == out.shape and residual.dtype == out.dtype and all(
        a == b for a, b, n in zip(residual.strides, out.strides, out.shape) if n > 1)
    if not same or not out.size or np.may_share_memory(residual, out):
        return 0
    return _extent(residual)[0]


NO_EPILOGUE = np.zeros(EPI_LEN, np.int64)
_ACT = {"": 0, "relu": 1, "relu6": 2}


def epilogue(bias, scale, shift, activation: str, axis: int, group_step: int, residual_address: int = 0) -> np.ndarray:
    """Per-channel vectors (contiguous (K,) arrays or None), activation and residual (the lowest
    address of an array laid out as the output, see residual_address(); 0: none) of a convolution."""
    e = np.zeros(EPI_LEN, np.int64)
    if bias is None and scale is None and shift is None and not activation and not residual_address:
        return e  # no pass over the output at all
    e[E_AXIS], e[E_ACT], e[E_STEP2], e[E_RES] = axis, _ACT[activation], group_step, residual_address
    for field, v in ((E_BIAS, bias), (E_SCALE, scale), (E_SHIFT, shift)):
        e[field] = 0 if v is None else v.ctypes.data
    return e
