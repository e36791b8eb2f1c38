"""ReduceMean (axes as an attribute before opset 18, an input from it on) and Softmax (2-D coerced
before opset 13, along one axis from it on) in NumPy."""
from __future__ import annotations

import numpy as np

from .._registry import register
from ._common import axis, check_attrs


@register("ReduceMean", since=1)
def reduce_mean(node, opset, ctx):
    check_attrs(node, opset, ("axes", "keepdims", "noop_with_empty_axes"))
    keep = bool(node.attr("keepdims", 1))
    noop = node.attr("noop_with_empty_axes", 0)

    def run(inputs, ws):
        x = inputs[0]
        if opset < 18:
            ax = node.attr("axes")
        else:
            ax = [int(i) for i in inputs[1].reshape(-1)] if len(inputs) > 1 and inputs[1] is not None else None
        if not ax:
            if noop:
                return [x]
            ax = list(range(x.ndim))
        ax = tuple(sorted(axis(a, x.ndim) for a in ax))
        shape = tuple(1 if i in ax else d for i, d in enumerate(x.shape)) if keep else tuple(d for i, d in enumerate(x.shape) if i not in ax)
        if np.issubdtype(x.dtype, np.floating):
            return [np.mean(x, axis=ax, keepdims=keep, out=ws.output(0, shape, x.dtype))]
        return [np.mean(x, axis=ax, keepdims=keep).astype(x.dtype)]

    return run


@register("Softmax", since=1)
def softmax(node, opset, ctx):
    check_attrs(node, opset, ("axis",))
    ax = node.attr("axis", 1 if opset < 13 else -1)

    def run(inputs, ws):
        x = inputs[0]
        a = axis(ax, x.ndim)
        out = ws.output(0, x.shape, x.dtype)
        if opset < 13:  # coerced to 2-D: the softmax runs over all axes from `axis` on
            v = out.reshape(int(np.prod(x.shape[:a])), -1)
            src, red = x.reshape(v.shape), 1
        else:
            v, src, red = out, x, a
        np.subtract(src, np.max(src, axis=red, keepdims=True), out=v)
        np.exp(v, out=v)
        v /= np.sum(v, axis=red, keepdims=True)
        return [out]

    return run
