"""BatchNormalization (inference: a per-channel scale and shift) and LRN (across channels) in NumPy."""
from __future__ import annotations

import numpy as np

from .._registry import register
from ._common import check_attrs, unsupported


@register("BatchNormalization", since=1)
def batch_norm(node, opset, ctx):
    check_attrs(node, opset, ("epsilon", "momentum", "training_mode", "spatial", "is_test", "consumed_inputs"))
    if node.attr("training_mode", 0) or len([o for o in node.outputs if o]) > 1:
        raise unsupported(node, opset, "training mode (training_mode=1 or the running mean/var outputs)", "inference: one output")
    if node.attr("spatial", 1) != 1:
        raise unsupported(node, opset, "spatial=0", "spatial=1")
    eps = node.attr("epsilon", 1e-5)
    consts = [ctx.constant(n) for n in node.inputs[1:5]]
    pre = None
    if all(c is not None for c in consts):
        scale, bias, mean, var = (c.astype(np.float64) for c in consts)
        a = scale / np.sqrt(var + eps)
        pre = (a, bias - mean * a)
    cache = {}  # (dtype, rank) -> the per-channel a, b as broadcastable arrays: computed once

    def run(inputs, ws):
        x = inputs[0]
        shape = (1, -1) + (1,) * (x.ndim - 2)
        key = (x.dtype, x.ndim)
        if pre is None:
            scale, bias, mean, var = (c.astype(np.float64) for c in inputs[1:5])
            a = scale / np.sqrt(var + eps)
            a, b = (v.astype(x.dtype).reshape(shape) for v in (a, bias - mean * a))
        else:
            if key not in cache:
                cache[key] = tuple(v.astype(x.dtype).reshape(shape) for v in pre)
            a, b = cache[key]
        out = ws.output(0, x.shape, x.dtype)
        np.multiply(x, a, out=out)
        return [np.add(out, b, out=out)]

    return run


@register("LRN", since=1)
def lrn(node, opset, ctx):
    check_attrs(node, opset, ("alpha", "beta", "bias", "size"))
    alpha, beta, bias, size = node.attr("alpha", 1e-4), node.attr("beta", 0.75), node.attr("bias", 1.0), node.attr("size")
    if size is None:
        raise unsupported(node, opset, "no size attribute", "size >= 1")
    lo, hi = (size - 1) // 2, -(-(size - 1) // 2)

    def run(inputs, ws):
        x = inputs[0]
        c = x.shape[1]
        sq = np.square(x)
        padded = np.zeros((x.shape[0], c + lo + hi) + x.shape[2:], x.dtype)
        padded[:, lo:lo + c] = sq
        acc = np.cumsum(padded, axis=1, dtype=np.float64)
        acc = np.concatenate([np.zeros_like(acc[:, :1]), acc], axis=1)
        window = acc[:, size:size + c] - acc[:, :c]
        out = ws.output(0, x.shape, x.dtype)
        np.copyto(out, x / (bias + alpha / size * window) ** beta, casting="unsafe")
        return [out]

    return run
