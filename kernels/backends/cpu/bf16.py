"""The cpu backend's bfloat16 gemm/matmul/conv2d on the C++ bf16 engine (_cpu.bgemm: bf16 arrays
passed as their uint16 views, fp32 accumulation, the fp32 epilogue and one rounding in C++).
conv2d lowers explicitly (im2col on the bf16 bits: csrc/conv/bf16_lower.cpp for one group, NumPy
strided copies for grouped layers; none for 1x1 stride-1 layers) into the bf16 GEMM, all
groups batched into one call, the channel epilogue (bias folded into shift) and the residual fused
in its store. Depthwise layers (groups == C == K) run a direct kernel (csrc/conv/bdepthwise.cpp)
instead: one-channel GEMMs would use one of the micro-kernel's 12 columns; channel multipliers > 1
take the GEMM path."""
from __future__ import annotations

import numpy as np

from ..._validation import is_bf16_dtype

_U16 = np.dtype(np.uint16)
_F32 = np.dtype(np.float32)


def bits(x: np.ndarray) -> np.ndarray:
    """A bf16 array's uint16 view (same memory and strides); fp32 arrays as they are."""
    return x.view(_U16) if is_bf16_dtype(x.dtype) else x


def gemm(cpu, a, b, source, alpha, beta, target):
    if source is not None and source is not target:  # a distinct c: C is read from it, out written
        target[...] = source
    cpu.bgemm(bits(a), bits(b), bits(target), alpha, beta if source is not None else 0.0)
    return target


def matmul(cpu, a, b, out):
    cpu.bgemm(bits(a), bits(b), bits(out))
    return out


def _windows(xp: np.ndarray, spec, shape, layout: str) -> np.ndarray:
    """Strided view of the padded input: NCHW (N, C, R, S, Ho, Wo), NHWC (N, Ho, Wo, R, S, C)."""
    (sh, sw), (dh, dw) = spec.stride, spec.dilation
    if layout == "NCHW":
        n_, c_, h_, w_ = xp.strides
        return np.lib.stride_tricks.as_strided(
            xp, (shape.n, shape.c, shape.r, shape.s, shape.ho, shape.wo), (n_, c_, h_ * dh, w_ * dw, h_ * sh, w_ * sw),
            writeable=False)
    n_, h_, w_, c_ = xp.strides
    return np.lib.stride_tricks.as_strided(
        xp, (shape.n, shape.ho, shape.wo, shape.r, shape.s, shape.c), (n_, h_ * sh, w_ * sw, h_ * dh, w_ * dw, c_),
        writeable=False)


def _lowered(cpu, xb: np.ndarray, spec, shape, groups: int) -> np.ndarray:
    """The im2col matrix of bf16 bits xb: NCHW (N, C*R*S, P) rows (c, r, s); NHWC (N*P, R*S*C)
    columns (r, s, c), all groups' channels in each tap (the caller splits groups). A 1x1 stride-1
    unpadded layer is its input itself (NHWC, or NCHW: (N, C, P)); one group: the C++ lowering
    (csrc/conv/bf16_lower.cpp, one pass); else NumPy's padded copy and strided view."""
    nchw = spec.layout == "NCHW"
    n, p = shape.n, shape.ho * shape.wo
    rsc = shape.r * shape.s * shape.c
    if shape.r == shape.s == 1 and spec.stride == (1, 1) and not any(shape.padding) and xb.flags.c_contiguous:
        return xb.reshape(n, shape.c, p) if nchw else xb.reshape(n * p, shape.c)
    if groups == 1 and hasattr(cpu, "bf16_im2col"):
        cols = np.empty((n, rsc, p) if nchw else (n * p, rsc), _U16)
        cpu.bf16_im2col(np.ascontiguousarray(xb), cols, (shape.r, shape.s), spec.stride, shape.padding, spec.dilation,
                        spec.layout)
        return cols
    top, bottom, left, right = shape.padding
    pad = ((0, 0), (0, 0), (top, bottom), (left, right)) if nchw else ((0, 0), (top, bottom), (left, right), (0, 0))
    xp = np.pad(xb, pad) if any(shape.padding) else xb  # bf16 zero is the bits 0
    win = _windows(xp, spec, shape, spec.layout)
    return np.ascontiguousarray(win).reshape((n, rsc, p) if nchw else (n * p, rsc))


def conv2d(cpu, x, w, bias, scale, shift, spec, shape, out, residual=None, direct=False):
    top, bottom, left, right = shape.padding
    nchw = spec.layout == "NCHW"
    xb = bits(x)
    # The epilogue in fp32: y = act(scale * (conv + bias) + shift + residual) = act(scale*conv + shift').
    eff_shift = shift
    if bias is not None:
        eff_shift = (bias * scale if scale is not None else bias.copy()) + (shift if shift is not None else 0)
        eff_shift = eff_shift.astype(_F32)
    act = spec.activation or "none"
    res = None if residual is None else residual.astype(_F32)  # read before out is written (it may be out)
    if direct:  # depthwise (groups == C == K): the direct kernel reads x in place (no lowering)
        top, _, left, _ = shape.padding
        taps = np.ascontiguousarray(bits(w)).reshape(shape.k, shape.r, shape.s)
        cpu.bdepthwise(bits(x), taps, bits(out), spec.stride, (top, left), spec.dilation, scale, eff_shift, act, res,
                       not nchw)
        return out
    y = out if out.flags.c_contiguous else np.empty(out.shape, out.dtype)
    yb = bits(y)
    g = spec.groups
    cg, kg = shape.c // g, shape.k // g
    n, p, rsc = shape.n, shape.ho * shape.wo, shape.r * shape.s * cg
    wb = bits(w)
    # Every group in one bgemm call: the groups are a batch dimension of the lowered operands, of
    # the output view and of the channel vectors ((G, Kg): each group its own channels).
    sc = None if scale is None else scale.reshape(g, kg)
    sh = None if eff_shift is None else eff_shift.reshape(g, kg)
    if nchw:  # per image and group: out (Kg, P) = W_g (Kg, Cg*R*S) @ cols (Cg*R*S, P)
        cols = _lowered(cpu, xb, spec, shape, g).reshape(n, g, rsc, p)
        wg = np.broadcast_to(wb.reshape(g, kg, rsc), (n, g, kg, rsc))
        o = yb.reshape(n, g, kg, p)
        r = None if res is None else res.reshape(n, g, kg, p)
        vecs = [None if v is None else np.broadcast_to(v, (n, g, kg)) for v in (sc, sh)]
        cpu.bgemm(wg, cols, o, 1.0, 0.0, vecs[0], vecs[1], act, r, 0)
    else:  # per group, all pixels: out (N*P, Kg) = cols (N*P, R*S*Cg) @ W_g (R*S*Cg, Kg)
        cols = _lowered(cpu, xb, spec, shape, g)
        if g > 1:
            win7 = cols.reshape(n, shape.ho, shape.wo, shape.r, shape.s, g, cg)
            cols = np.ascontiguousarray(win7.transpose(5, 0, 1, 2, 3, 4, 6))
        cols = cols.reshape(g, n * p, rsc)
        wg = np.ascontiguousarray(wb.reshape(g, kg, cg, shape.r, shape.s).transpose(0, 3, 4, 2, 1)).reshape(g, rsc, kg)
        o = yb.reshape(n * p, g, kg).transpose(1, 0, 2)
        r = None if res is None else res.reshape(n * p, g, kg).transpose(1, 0, 2)
        cpu.bgemm(cols, wg, o, 1.0, 0.0, sc, sh, act, r, 1)
    if y is not out:
        out[...] = y
    return out
