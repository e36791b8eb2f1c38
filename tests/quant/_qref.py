"""The tests' own int8 oracle, written apart from quant_args.finish and the backends: exact int64
products by explicit loops over K-chunks / kernel taps, the int32 wrap, then the epilogue's float32
steps as the quant_args docstring defines them."""
from __future__ import annotations

import numpy as np


def wrap32(acc: np.ndarray) -> np.ndarray:
    return (((acc.astype(np.int64) + 2**31) % 2**32) - 2**31).astype(np.int32)


def epilogue(acc, bias=None, a_scale=None, b_scale=None, out_scale=None, out_zp=0, out_dtype=None,
             activation=None, residual=None) -> np.ndarray:
    """acc: int64 (..., n) without bias; vectors broadcast along the last axis."""
    n = acc.shape[-1]
    if bias is not None:
        acc = acc + np.asarray(bias, np.int64)
    acc = wrap32(acc)
    if a_scale is None:
        return acc
    sb = np.broadcast_to(np.asarray(b_scale, np.float32), (n,))
    m = np.array([np.float32(a_scale) * s for s in sb], np.float32)
    if out_scale is None:
        v = acc.astype(np.float32) * m
        if residual is not None:
            v = v + residual
        if activation:
            v = np.maximum(v, np.float32(0))
        if activation == "relu6":
            v = np.minimum(v, np.float32(6))
        return v
    r = np.array([x / np.float32(out_scale) for x in m], np.float32)
    u = acc.astype(np.float32) * r
    if residual is not None:
        u = u + residual * (np.float32(1) / np.float32(out_scale))
    if activation:
        u = np.maximum(u, np.float32(0))
    if activation == "relu6":
        u = np.minimum(u, np.float32(6) / np.float32(out_scale))
    info = np.iinfo(out_dtype)
    u = np.clip(u, -2.0**31, 2.0**31).astype(np.float64)
    return np.clip(np.rint(u) + out_zp, info.min, info.max).astype(out_dtype)


def matmul_acc(a, b, a_zp, b_zp) -> np.ndarray:
    """(a - a_zp) @ (b - b_zp) exactly in int64, batch broadcast, b_zp per column."""
    a64 = a.astype(np.int64) - int(a_zp)
    b64 = b.astype(np.int64) - np.asarray(b_zp, np.int64)
    k = a.shape[-1]
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    acc = np.zeros(batch + (a.shape[-2], b.shape[-1]), np.int64)
    for k0 in range(0, k, 7):  # chunks: einsum over int64 has no overflow at these sizes
        acc += np.einsum("...ik,...kj->...ij", a64[..., k0:k0 + 7], b64[..., k0:k0 + 7, :])
    return acc


def conv_acc(x, w, x_zp, w_zp, stride, padding, dilation, groups, layout) -> np.ndarray:
    """(N, Ho, Wo, K) int64: padded with x_zp, one einsum per kernel tap and group."""
    xn = x if layout == "NCHW" else x.transpose(0, 3, 1, 2)
    n, c, h, wd = xn.shape
    k, cg, r, s = w.shape
    t, b, le, ri = padding
    xp = np.full((n, c, h + t + b, wd + le + ri), int(x_zp), np.int64)
    xp[:, :, t:t + h, le:le + wd] = xn
    xp -= int(x_zp)
    ws = w.astype(np.int64) - np.broadcast_to(np.asarray(w_zp, np.int64), (k,)).reshape(k, 1, 1, 1)
    (sh, sw), (dh, dw) = stride, dilation
    ho = (h + t + b - dh * (r - 1) - 1) // sh + 1
    wo = (wd + le + ri - dw * (s - 1) - 1) // sw + 1
    kg = k // groups
    acc = np.zeros((n, ho, wo, k), np.int64)
    for g in range(groups):
        for i in range(r):
            for j in range(s):
                tap = xp[:, g * cg:(g + 1) * cg, i * dh:i * dh + (ho - 1) * sh + 1:sh, j * dw:j * dw + (wo - 1) * sw + 1:sw]
                acc[..., g * kg:(g + 1) * kg] += np.einsum("nchw,kc->nhwk", tap, ws[g * kg:(g + 1) * kg, :, i, j])
    return acc


def qlinear_add(a, b, sa, za, sb, zb, sc, zc, dtype) -> np.ndarray:
    """onnxruntime's QLinearAdd of 8-bit a and b: ra = sa/sc, rb = sb/sc (float32), k = zc -
    fma(ra, za, rb*zb), then saturate(rint(fma(a, ra, fma(b, rb, k)))); each fma one rounding
    (float64 holds the 8-bit-by-float32 products exactly)."""
    f32, f64 = np.float32, np.float64
    ra, rb = f32(f32(sa) / f32(sc)), f32(f32(sb) / f32(sc))
    k = f32(f32(zc) - f32(f64(ra) * f64(za) + f64(f32(rb * f32(zb)))))
    t = (b.astype(f64) * f64(rb) + f64(k)).astype(f32)
    u = (a.astype(f64) * f64(ra) + t.astype(f64)).astype(f32)
    info = np.iinfo(dtype)
    return np.clip(np.rint(u), info.min, info.max).astype(dtype)
