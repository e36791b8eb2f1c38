"""MaxPool, AveragePool (pads, auto_pad, ceil_mode, dilations, count_include_pad), GlobalAveragePool
and GlobalMaxPool in NumPy over any number of spatial axes (one strided slice per kernel offset)."""
from __future__ import annotations

import itertools
from typing import List, Tuple

import numpy as np

from .._registry import register
from ._common import check_attrs, unsupported
from .conv import same_pads

_POOL_ATTRS = ("auto_pad", "ceil_mode", "dilations", "kernel_shape", "pads", "strides")


def _geometry(node, spatial: Tuple[int, ...]) -> Tuple[List[int], List[int], List[int], List[int], List[int], List[int]]:
    """kernel, strides, dilations, pad begin, pad end (declared), output sizes."""
    nd = len(spatial)
    k = list(node.attr("kernel_shape"))
    if len(k) != nd:
        raise ValueError(f"{node.describe()}: kernel_shape {k} for {nd} spatial axes")
    s = list(node.attr("strides", [1] * nd))
    d = list(node.attr("dilations", [1] * nd))
    auto = node.attr("auto_pad", "NOTSET")
    ceil = node.attr("ceil_mode", 0)
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        pb, pe = zip(*(same_pads(auto, spatial[i], k[i], s[i], d[i]) for i in range(nd)))
        pb, pe = list(pb), list(pe)
    elif auto == "VALID":
        pb, pe = [0] * nd, [0] * nd
    else:
        p = node.attr("pads", [0] * (2 * nd))
        pb, pe = list(p[:nd]), list(p[nd:])
    out = []
    for i in range(nd):
        ext = (k[i] - 1) * d[i] + 1
        span = spatial[i] + pb[i] + pe[i] - ext
        if auto in ("SAME_UPPER", "SAME_LOWER"):
            o = -(-spatial[i] // s[i])
        elif auto == "VALID":
            o = (spatial[i] - ext) // s[i] + 1
        elif ceil:
            o = -(-span // s[i]) + 1
            if (o - 1) * s[i] >= spatial[i] + pb[i]:  # the last window must start inside the input or its left pad
                o -= 1
        else:
            o = span // s[i] + 1
        out.append(o)
    return k, s, d, pb, pe, out


def _windows(xp: np.ndarray, k, s, d, out):
    """Each kernel offset's strided view of the padded input (all of the output's positions)."""
    nd = len(k)
    for off in itertools.product(*(range(ki) for ki in k)):
        idx = tuple(slice(off[i] * d[i], off[i] * d[i] + (out[i] - 1) * s[i] + 1, s[i]) for i in range(nd))
        yield xp[(Ellipsis,) + idx]


def _padded(x: np.ndarray, pb, out, k, s, d, fill, ws=None) -> np.ndarray:
    """x inside a canvas of `fill` large enough for every window (declared pads and ceil_mode's);
    x itself when no window reaches outside it. The canvas is the workspace's scratch buffer."""
    nd = len(k)
    size = [max((out[i] - 1) * s[i] + (k[i] - 1) * d[i] + 1, pb[i] + x.shape[2 + i]) for i in range(nd)]
    if not any(pb) and tuple(size) == x.shape[2:]:
        return x
    shape = x.shape[:2] + tuple(size)
    xp = ws.scratch(shape, x.dtype) if ws is not None else np.empty(shape, x.dtype)
    xp[...] = fill
    xp[(Ellipsis,) + tuple(slice(pb[i], pb[i] + x.shape[2 + i]) for i in range(nd))] = x
    return xp


def _check(node, opset):
    if node.attr("kernel_shape") is None:
        raise unsupported(node, opset, "no kernel_shape", "kernel_shape given")
    if node.attr("auto_pad", "NOTSET") not in ("NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"):
        raise unsupported(node, opset, f"auto_pad={node.attr('auto_pad')!r}", "NOTSET, SAME_UPPER, SAME_LOWER, VALID")


def _flat_index(x_shape, k, s, d, pb, out, off, column_major: bool) -> np.ndarray:
    """The Indices output of one kernel offset: each output position's source element as an index
    into the flattened input (row-major, or column-major over the spatial axes: storage_order=1)."""
    nd = len(k)
    n, c = x_shape[:2]
    spatial = x_shape[2:]
    pos = np.meshgrid(*(np.arange(out[i]) * s[i] + off[i] * d[i] - pb[i] for i in range(nd)), indexing="ij")
    flat = np.zeros(tuple(out), np.int64)
    order = range(nd - 1, -1, -1) if column_major else range(nd)
    for i in order:
        flat = flat * spatial[i] + pos[i]
    base = (np.arange(n)[:, None] * c + np.arange(c)[None, :]) * int(np.prod(spatial))
    return base.reshape((n, c) + (1,) * nd) + flat


@register("MaxPool", since=1)
def max_pool(node, opset, ctx):
    check_attrs(node, opset, _POOL_ATTRS + ("storage_order",))
    _check(node, opset)
    with_indices = len(node.outputs) > 1 and bool(node.outputs[1])
    column_major = node.attr("storage_order", 0) == 1

    def run(inputs, ws):
        x = inputs[0]
        k, s, d, pb, pe, out = _geometry(node, x.shape[2:])
        fill = -np.inf if np.issubdtype(x.dtype, np.floating) else np.iinfo(x.dtype).min
        xp = _padded(x, pb, out, k, s, d, fill, ws)
        y = ws.output(0, x.shape[:2] + tuple(out), x.dtype)
        idx = ws.output(1, y.shape, np.int64) if with_indices else None
        offsets = itertools.product(*(range(ki) for ki in k))
        for i, (win, off) in enumerate(zip(_windows(xp, k, s, d, out), offsets)):
            if i == 0:
                np.copyto(y, win)
                if idx is not None:
                    idx[...] = _flat_index(x.shape, k, s, d, pb, out, off, column_major)
            elif idx is None:
                np.maximum(y, win, out=y)
            else:
                better = win > y  # the first maximum in window order wins, as onnxruntime's
                np.copyto(idx, np.broadcast_to(_flat_index(x.shape, k, s, d, pb, out, off, column_major), idx.shape), where=better)
                np.copyto(y, win, where=better)
        return [y, idx] if with_indices else [y]

    return run


@register("AveragePool", since=1)
def average_pool(node, opset, ctx):
    check_attrs(node, opset, _POOL_ATTRS + ("count_include_pad",))
    _check(node, opset)
    include = node.attr("count_include_pad", 0)

    def run(inputs, ws):
        x = inputs[0]
        k, s, d, pb, pe, out = _geometry(node, x.shape[2:])
        xp = _padded(x, pb, out, k, s, d, 0, ws)
        y = ws.output(0, x.shape[:2] + tuple(out), x.dtype)
        y[...] = 0
        for win in _windows(xp, k, s, d, out):
            y += win
        # divisor per output position: the window's input elements, plus its declared pads when counted
        ones = np.zeros((1, 1) + x.shape[2:], x.dtype) + 1
        if include:
            ones = np.pad(ones, [(0, 0), (0, 0)] + [(pb[i], pe[i]) for i in range(len(k))], constant_values=1)
            cnt_canvas = _padded(ones, [0] * len(k), out, k, s, d, 0)
        else:
            cnt_canvas = _padded(ones, pb, out, k, s, d, 0)
        cnt = np.zeros((1, 1) + tuple(out), np.float64)
        for win in _windows(cnt_canvas, k, s, d, out):
            cnt += win
        y /= np.maximum(cnt, 1).astype(x.dtype)
        return [y]

    return run


def _global(op_type: str, reducer):
    @register(op_type, since=1)
    def build(node, opset, ctx):
        check_attrs(node, opset, ())

        def run(inputs, ws):
            x = inputs[0]
            out = ws.output(0, x.shape[:2] + (1,) * (x.ndim - 2), x.dtype)
            return [reducer(x, axis=tuple(range(2, x.ndim)), keepdims=True, out=out)]

        return run

    return build


_global("GlobalAveragePool", np.mean)
_global("GlobalMaxPool", np.max)
