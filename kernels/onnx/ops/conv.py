"""Conv (2-D, on hpc_kernels.Conv2d plans or conv2d) and ConvTranspose (2-D, a GEMM on the kernels
then col2im in NumPy)."""
from __future__ import annotations

import threading
from typing import Dict, Optional, Tuple

import numpy as np

import hpc_kernels

from .._registry import register
from ._common import KERNEL_FLOATS, check_attrs, kernel_kwargs, unsupported

_CONV_ATTRS = ("auto_pad", "dilations", "group", "kernel_shape", "pads", "strides")
_AUTO_PADS = ("NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID")


def _check_2d(node, opset, ctx, wname: str) -> Optional[np.ndarray]:
    w = ctx.constant(wname)
    ks = node.attr("kernel_shape")
    rank = w.ndim - 2 if w is not None else (len(ks) if ks is not None else None)
    if rank is not None and rank != 2:
        raise unsupported(node, opset, f"a {rank}-D convolution (weights {None if w is None else w.shape})", "2-D (4-D NCHW input)")
    if w is not None and w.dtype not in KERNEL_FLOATS:
        raise unsupported(node, opset, f"weights of dtype {w.dtype}", "float32, float64")
    xdt = ctx.dtype(node.inputs[0])
    if xdt is not None and xdt not in KERNEL_FLOATS:
        raise unsupported(node, opset, f"input of dtype {xdt}", "float32, float64")
    auto = node.attr("auto_pad", "NOTSET")
    if auto not in _AUTO_PADS:
        raise unsupported(node, opset, f"auto_pad={auto!r}", ", ".join(_AUTO_PADS))
    for a in ("dilations", "strides"):
        v = node.attr(a)
        if v is not None and len(v) != 2:
            raise unsupported(node, opset, f"{a}={v}", "2 values (2-D)")
    return w


def same_pads(auto: str, size: int, k: int, s: int, d: int) -> Tuple[int, int]:
    """(begin, end) padding of SAME_UPPER/SAME_LOWER: output ceil(size / stride), the odd pixel at
    the end (UPPER) or the beginning (LOWER)."""
    out = -(-size // s)
    total = max((out - 1) * s + (k - 1) * d + 1 - size, 0)
    small = total // 2
    return (small, total - small) if auto == "SAME_UPPER" else (total - small, small)


def conv_pads(node, h: int, w: int, r: int, s: int) -> Tuple[int, int, int, int]:
    """(top, bottom, left, right) for this input size."""
    auto = node.attr("auto_pad", "NOTSET")
    st, dil = node.attr("strides", [1, 1]), node.attr("dilations", [1, 1])
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        t, b = same_pads(auto, h, r, st[0], dil[0])
        lt, rt = same_pads(auto, w, s, st[1], dil[1])
        return (t, b, lt, rt)
    if auto == "VALID":
        return (0, 0, 0, 0)
    p = node.attr("pads", [0, 0, 0, 0])
    return (p[0], p[2], p[1], p[3])  # ONNX: [h_begin, w_begin, h_end, w_end]


@register("Conv", since=1)
def conv(node, opset, ctx):
    check_attrs(node, opset, _CONV_ATTRS)
    w = _check_2d(node, opset, ctx, node.inputs[1])
    layout = node.layout or "NCHW"
    bias_name = node.inputs[2] if len(node.inputs) > 2 else ""
    b = ctx.constant(bias_name)
    group = node.attr("group", 1)
    st, dil = tuple(node.attr("strides", [1, 1])), tuple(node.attr("dilations", [1, 1]))
    kw = kernel_kwargs(ctx)
    plans: Dict[tuple, hpc_kernels.Conv2d] = {}
    lock = threading.Lock()

    def plan_for(pads) -> hpc_kernels.Conv2d:
        p = plans.get(pads)
        if p is None:
            with lock:
                p = plans.get(pads)
                if p is None:
                    p = plans[pads] = hpc_kernels.Conv2d(w, b, stride=st, padding=pads, dilation=dil, groups=group,
                                                         layout=layout, **kw)
        return p

    const = w is not None and (not bias_name or b is not None)
    if const and node.attr("auto_pad", "NOTSET") in ("NOTSET", "VALID"):
        plan_for(conv_pads(node, 0, 0, w.shape[2], w.shape[3]))  # packed once, at load

    def run(inputs, ws):
        x = inputs[0]
        if x.ndim != 4:
            raise ValueError(f"{node.describe()}: input of shape {x.shape}; supported: 4-D")
        x = np.ascontiguousarray(x)
        wt = w if w is not None else inputs[1]
        h, wd = (x.shape[2], x.shape[3]) if layout == "NCHW" else (x.shape[1], x.shape[2])
        pads = conv_pads(node, h, wd, wt.shape[2], wt.shape[3])
        ho = (h + pads[0] + pads[1] - dil[0] * (wt.shape[2] - 1) - 1) // st[0] + 1
        wo = (wd + pads[2] + pads[3] - dil[1] * (wt.shape[3] - 1) - 1) // st[1] + 1
        shape = (x.shape[0], wt.shape[0], ho, wo) if layout == "NCHW" else (x.shape[0], ho, wo, wt.shape[0])
        out = ws.output(0, shape, x.dtype)
        if const:
            return [plan_for(pads)(x, out=out)]
        bias = inputs[2] if len(inputs) > 2 else None
        return [hpc_kernels.conv2d(x, np.ascontiguousarray(wt), bias, stride=st, padding=pads, dilation=dil, groups=group,
                                   layout=layout, out=out, **kw)]

    return run


def _grouped(w: np.ndarray, g: int) -> np.ndarray:
    """ConvTranspose weights (C, K/g, R, S) as g matrices (K/g*R*S, C/g): cols = W_g^T @ x_g."""
    c, kg, r, s = w.shape
    return np.ascontiguousarray(w.reshape(g, c // g, kg * r * s).transpose(0, 2, 1))


@register("ConvTranspose", since=1)
def conv_transpose(node, opset, ctx):
    check_attrs(node, opset, _CONV_ATTRS + ("output_padding", "output_shape"))
    w = _check_2d(node, opset, ctx, node.inputs[1])
    g = node.attr("group", 1)
    st, dil = node.attr("strides", [1, 1]), node.attr("dilations", [1, 1])
    kw = kernel_kwargs(ctx)

    wg_const = _grouped(w, g) if w is not None else None  # the weights' GEMM form, once at load

    def geometry(size: int, k: int, i: int) -> Tuple[int, int]:
        """(begin pad, output size) of spatial axis i."""
        op = node.attr("output_padding", [0, 0])[i]
        full = st[i] * (size - 1) + op + (k - 1) * dil[i] + 1
        auto, oshape = node.attr("auto_pad", "NOTSET"), node.attr("output_shape")
        if oshape is not None or auto in ("SAME_UPPER", "SAME_LOWER"):
            out = oshape[-2:][i] if oshape is not None else size * st[i]
            total = full - out
            begin = total // 2 if auto == "SAME_UPPER" else total - total // 2
            return begin, out
        p = node.attr("pads", [0, 0, 0, 0]) if auto != "VALID" else [0, 0, 0, 0]
        return p[i], full - p[i] - p[i + 2]

    def run(inputs, ws):
        x, wt = inputs[0], (w if w is not None else inputs[1])
        if x.ndim != 4:
            raise ValueError(f"{node.describe()}: input of shape {x.shape}; supported: 4-D")
        n, c, h, wd = x.shape
        kg, r, s = wt.shape[1], wt.shape[2], wt.shape[3]
        cg = c // g
        (pt, ho), (pl, wo) = geometry(h, r, 0), geometry(wd, s, 1)
        # cols[n, group, (kg, r, s), h*w] = W_g^T @ x_g: one batched GEMM on the kernels
        wg = wg_const if wg_const is not None else _grouped(wt, g)
        xg = np.ascontiguousarray(x.reshape(n, g, cg, h * wd))
        if x.dtype in KERNEL_FLOATS and wt.dtype == x.dtype:
            cols = hpc_kernels.matmul(wg, xg, out=ws.scratch((n, g, kg * r * s, h * wd), x.dtype), **kw)
        else:
            cols = np.matmul(wg, xg)
        cols = cols.reshape(n, g * kg, r, s, h, wd)
        lo_h, lo_w = min(0, pt), min(0, pl)
        fh = max(st[0] * (h - 1) + (r - 1) * dil[0] + 1, pt + ho) - lo_h
        fw = max(st[1] * (wd - 1) + (s - 1) * dil[1] + 1, pl + wo) - lo_w
        canvas = ws.scratch((n, g * kg, fh, fw), x.dtype)
        canvas[...] = 0
        for i in range(r):
            for j in range(s):
                y0, x0 = i * dil[0] - lo_h, j * dil[1] - lo_w
                canvas[:, :, y0:y0 + st[0] * (h - 1) + 1:st[0], x0:x0 + st[1] * (wd - 1) + 1:st[1]] += cols[:, :, i, j]
        out = ws.output(0, (n, g * kg, ho, wo), x.dtype)
        out[...] = canvas[:, :, pt - lo_h:pt - lo_h + ho, pl - lo_w:pl - lo_w + wo]
        if len(inputs) > 2 and inputs[2] is not None:
            out += inputs[2].reshape(1, -1, 1, 1)
        return [out]

    return run
