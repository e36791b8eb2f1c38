"""Kernels of the layout pass's ops (HPC_DOMAIN): ToNHWC/ToNCHW, the pools in either layout
(node.layout), and ChannelAffine (an inference BatchNormalization as per-channel scale/shift).

Why separate ops and not the ai.onnx ones with a flag: a node in HPC_DOMAIN can only be built by
these builders, so an NHWC node can never silently run through a kernel that assumes NCHW."""
from __future__ import annotations

from typing import Tuple

import numpy as np

from .._ir import HPC_DOMAIN, Node
from .._registry import BuildContext, Kernel, register, unsupported
from . import _pool
from ._common import check_attrs

_TO_NHWC, _TO_NCHW = (0, 2, 3, 1), (0, 3, 1, 2)
_WINDOW_ATTRS = ("auto_pad", "ceil_mode", "dilations", "kernel_shape", "pads", "strides")


# What _cpu.relayout copies: the float types and the bytes of quantized tensors (a QDQ model's input).
_RELAYOUT = (np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.uint8), np.dtype(np.int8))


def _transpose(node: Node, opset: int, perm: Tuple[int, ...], backend) -> Kernel:
    check_attrs(node, opset, ())
    to = "NHWC" if perm == _TO_NHWC else "NCHW"
    relayout = _pool.cpu_relayout(backend)  # the C++ tiled copy (csrc/ops/layout.cpp), or None

    def run(inputs, ws):
        x = inputs[0]
        if x.ndim != 4:
            raise ValueError(f"{node.describe()}: expects a 4-D tensor, got shape {x.shape}")
        v = x.transpose(perm)
        out = ws.output(0, v.shape, x.dtype)  # contiguous: the next op (a conv) reads it densely
        if relayout is not None and type(x) is np.ndarray and x.dtype in _RELAYOUT:
            relayout(x, out, to)
        else:
            np.copyto(out, v)
        return [out]

    def step(xs: Tuple[int, ...], dtype: np.dtype, res_shape):
        """(output shape, the conv chain's op step or None): see kernels/onnx/ops/chain.py."""
        if len(xs) != 4:
            raise ValueError(f"{node.describe()}: expects a 4-D tensor, got shape {xs}")
        shape = tuple(xs[p] for p in perm)
        return shape, ("relayout", to) if relayout is not None and np.dtype(dtype) in _RELAYOUT else None

    run.step = step
    return run


@register("ToNHWC", since=1, domain=HPC_DOMAIN)
def to_nhwc(node: Node, opset: int, ctx: BuildContext) -> Kernel:
    return _transpose(node, opset, _TO_NHWC, ctx.backend)


@register("ToNCHW", since=1, domain=HPC_DOMAIN)
def to_nchw(node: Node, opset: int, ctx: BuildContext) -> Kernel:
    return _transpose(node, opset, _TO_NCHW, ctx.backend)


def _layout(node: Node, opset: int) -> str:
    layout = node.layout or "NCHW"
    if layout not in ("NCHW", "NHWC"):
        raise unsupported(node, opset, f"layout {layout!r}", "'NCHW', 'NHWC'")
    return layout


def _ints(node: Node, key: str, default, n: int, opset: int):
    v = [int(a) for a in node.attr(key, default)]
    if len(v) != n:
        raise unsupported(node, opset, f"{key}={v}", f"{n} values (2-D pooling)")
    return v


def _window_geometry(node: Node, opset: int, dilations_allowed: bool):
    """What MaxPool/AveragePool's attributes mean in 2-D: kernel, stride, dilation, and a function
    of (H, W) giving (Ho, Wo, pads (top, bottom, left, right))."""
    k = _ints(node, "kernel_shape", (), 2, opset)
    s = _ints(node, "strides", (1, 1), 2, opset)
    d = _ints(node, "dilations", (1, 1), 2, opset)
    if not dilations_allowed and d != [1, 1]:
        raise unsupported(node, opset, f"dilations={d}", "dilations 1 for AveragePool")
    if min(k + s + d) < 1:
        raise unsupported(node, opset, f"kernel_shape={k}, strides={s}, dilations={d}", "values >= 1")
    auto_pad = node.attr("auto_pad", "NOTSET")
    if isinstance(auto_pad, bytes):
        auto_pad = auto_pad.decode()
    if auto_pad not in ("NOTSET", "VALID", "SAME_UPPER", "SAME_LOWER"):
        raise unsupported(node, opset, f"auto_pad={auto_pad!r}", "NOTSET, VALID, SAME_UPPER, SAME_LOWER")
    pads = _ints(node, "pads", (0, 0, 0, 0), 4, opset) if auto_pad == "NOTSET" else [0, 0, 0, 0]
    if min(pads) < 0:
        raise unsupported(node, opset, f"pads={pads}", "pads >= 0")
    ceil_mode = bool(node.attr("ceil_mode", 0))

    def geometry(h: int, w: int):
        if auto_pad.startswith("SAME"):
            up = auto_pad == "SAME_UPPER"
            ho, t, b = _pool.same_padding(h, k[0], s[0], d[0], up)
            wo, l, r = _pool.same_padding(w, k[1], s[1], d[1], up)
            return ho, wo, (t, b, l, r)
        t, l, b, r = pads  # ONNX: (begin H, begin W, end H, end W)
        ho = _pool.output_size(h, k[0], s[0], d[0], t, b, ceil_mode)
        wo = _pool.output_size(w, k[1], s[1], d[1], l, r, ceil_mode)
        return ho, wo, (t, b, l, r)

    return k, s, d, geometry


def _hw(x: np.ndarray, layout: str, node: Node) -> Tuple[int, int, int, int]:
    """(N, C, H, W) of a 4-D input in either layout."""
    return _hw_of(tuple(x.shape), layout, node)


def _hw_of(s: Tuple[int, ...], layout: str, node: Node) -> Tuple[int, int, int, int]:
    """(N, C, H, W) of a 4-D input's shape in either layout."""
    if len(s) != 4:
        raise ValueError(f"{node.describe()}: expects a 4-D input, got shape {s}")
    return (s[0], s[1], s[2], s[3]) if layout == "NCHW" else (s[0], s[3], s[1], s[2])


def _shape(n: int, c: int, h: int, w: int, layout: str) -> Tuple[int, int, int, int]:
    return (n, c, h, w) if layout == "NCHW" else (n, h, w, c)


def _window_kernel(node: Node, layout: str, geometry, pool, op_step) -> Kernel:
    """The run of a windowed pool: this input's output size and padding (geometry), the session's
    buffer, then pool(x, out, pads) fills it. op_step(dtype, pads): the conv chain's step, or None."""

    def run(inputs, ws):
        x = inputs[0]
        n, c, h, w = _hw(x, layout, node)
        ho, wo, pads = geometry(h, w)
        return [pool(x, ws.output(0, _shape(n, c, ho, wo, layout), x.dtype), pads)]

    def step(xs: Tuple[int, ...], dtype: np.dtype, res_shape):
        """(output shape, the conv chain's op step or None): see kernels/onnx/ops/chain.py."""
        n, c, h, w = _hw_of(tuple(xs), layout, node)
        ho, wo, pads = geometry(h, w)
        return _shape(n, c, ho, wo, layout), op_step(dtype, tuple(pads))

    run.step = step
    return run


@register("MaxPool", since=1, domain=HPC_DOMAIN)
def max_pool(node: Node, opset: int, ctx: BuildContext) -> Kernel:
    layout = _layout(node, opset)
    check_attrs(node, opset, _WINDOW_ATTRS + ("storage_order",))  # storage_order: Indices only
    if len([o for o in node.outputs if o]) != 1:
        raise unsupported(node, opset, "the Indices output", "one output (the layout pass keeps such nodes ai.onnx)")
    k, s, d, geometry = _window_geometry(node, opset, dilations_allowed=True)
    backend = ctx.backend
    return _window_kernel(node, layout, geometry,
                          lambda x, out, pads: _pool.max_pool2d(x, out, k, s, pads, d, layout, backend),
                          lambda dtype, pads: ("max_pool2d", tuple(k), tuple(s), pads, tuple(d), layout)
                          if _pool.runs_in_engine(backend, dtype, bytes_too=True) else None)


@register("AveragePool", since=1, domain=HPC_DOMAIN)
def average_pool(node: Node, opset: int, ctx: BuildContext) -> Kernel:
    layout = _layout(node, opset)
    check_attrs(node, opset, _WINDOW_ATTRS + ("count_include_pad",))
    k, s, d, geometry = _window_geometry(node, opset, dilations_allowed=False)
    include = bool(node.attr("count_include_pad", 0))
    backend = ctx.backend
    return _window_kernel(node, layout, geometry,
                          lambda x, out, pads: _pool.avg_pool2d(x, out, k, s, pads, include, layout, backend),
                          lambda dtype, pads: ("avg_pool2d", tuple(k), tuple(s), pads, include, layout)
                          if _pool.runs_in_engine(backend, dtype) else None)


@register("GlobalAveragePool", since=1, domain=HPC_DOMAIN)
def global_average_pool(node: Node, opset: int, ctx: BuildContext) -> Kernel:
    layout = _layout(node, opset)
    check_attrs(node, opset, ("flatten",))
    backend = ctx.backend
    flatten = bool(node.attr("flatten", 0))  # (N, C) out: the pass _passes/fuse_pool_flatten.py

    def run(inputs, ws):
        x = inputs[0]
        n, c, _, _ = _hw(x, layout, node)
        if flatten:  # a 1x1 map: the (N, C) matrix is the pooled map's memory in either layout
            out = ws.output(0, (n, c), x.dtype)
            _pool.global_avg_pool(x, out.reshape(_shape(n, c, 1, 1, layout)), layout, backend)
            return [out]
        out = ws.output(0, _shape(n, c, 1, 1, layout), x.dtype)
        return [_pool.global_avg_pool(x, out, layout, backend)]

    def step(xs: Tuple[int, ...], dtype: np.dtype, res_shape):
        """(output shape, the conv chain's op step or None): see kernels/onnx/ops/chain.py."""
        n, c, _, _ = _hw_of(tuple(xs), layout, node)
        shape = (n, c) if flatten else _shape(n, c, 1, 1, layout)
        return shape, ("global_avg_pool", layout) if _pool.runs_in_engine(backend, dtype) else None

    run.step = step
    return run


@register("GlobalMaxPool", since=1, domain=HPC_DOMAIN)
def global_max_pool(node: Node, opset: int, ctx: BuildContext) -> Kernel:
    layout = _layout(node, opset)
    check_attrs(node, opset, ())
    axes = (2, 3) if layout == "NCHW" else (1, 2)

    def run(inputs, ws):  # rare in CNNs: NumPy's reduction is enough
        x = inputs[0]
        n, c, _, _ = _hw(x, layout, node)
        out = ws.output(0, _shape(n, c, 1, 1, layout), x.dtype)
        np.amax(x, axis=axes, keepdims=True, out=out)
        return [out]

    return run


@register("ChannelAffine", since=1, domain=HPC_DOMAIN)
def channel_affine(node: Node, opset: int, ctx: BuildContext) -> Kernel:
    """y = x * scale[c] + shift[c], c the channel axis of node.layout (a BN the fold could not
    absorb; the layout pass computes scale and shift in float64)."""
    layout = _layout(node, opset)
    check_attrs(node, opset, ())
    scale, shift = ctx.constant(node.inputs[1]), ctx.constant(node.inputs[2])
    if scale is None or shift is None or scale.ndim != 1 or scale.shape != shift.shape:
        raise unsupported(node, opset, "run-time or mismatched scale/shift", "constant (C,) vectors")
    bshape = (-1,) if layout == "NHWC" else (-1, 1, 1)
    scale_b, shift_b = scale.reshape(bshape), shift.reshape(bshape)
    cache = {}

    def run(inputs, ws):
        x = inputs[0]
        sc, sf = cache.get(x.dtype) or cache.setdefault(x.dtype, (scale_b.astype(x.dtype), shift_b.astype(x.dtype)))
        out = ws.output(0, x.shape, x.dtype)
        np.multiply(x, sc, out=out)
        out += sf
        return [out]

    return run
