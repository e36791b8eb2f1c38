"""Element-wise activations in NumPy, written into the workspace's buffers: Relu, LeakyRelu, PRelu,
Clip, Sigmoid, HardSigmoid, HardSwish, Tanh."""
from __future__ import annotations

import numpy as np

from .._registry import register
from ._common import check_attrs


def _out(ws, x, i=0):
    return ws.output(i, x.shape, x.dtype)


@register("Relu", since=1)
def relu(node, opset, ctx):
    check_attrs(node, opset, ("consumed_inputs",))
    return lambda inputs, ws: [np.maximum(inputs[0], inputs[0].dtype.type(0), out=_out(ws, inputs[0]))]


@register("LeakyRelu", since=1)
def leaky_relu(node, opset, ctx):
    check_attrs(node, opset, ("alpha", "consumed_inputs"))
    alpha = node.attr("alpha", 0.01)

    def run(inputs, ws):
        x = inputs[0]
        out = _out(ws, x)
        np.multiply(x, x.dtype.type(alpha), out=out)
        np.copyto(out, x, where=x >= 0)
        return [out]

    return run


@register("PRelu", since=1)
def prelu(node, opset, ctx):
    check_attrs(node, opset, ("consumed_inputs",))

    def run(inputs, ws):
        x, slope = inputs
        out = _out(ws, x)
        np.multiply(x, slope, out=out)
        np.copyto(out, x, where=x >= 0)
        return [out]

    return run


@register("Clip", since=1)
def clip(node, opset, ctx):
    check_attrs(node, opset, ("min", "max", "consumed_inputs"))

    def run(inputs, ws):
        x = inputs[0]
        if opset < 11:
            lo, hi = node.attr("min"), node.attr("max")
        else:
            lo = inputs[1] if len(inputs) > 1 and inputs[1] is not None else None
            hi = inputs[2] if len(inputs) > 2 and inputs[2] is not None else None
        out = _out(ws, x)
        np.copyto(out, x)
        if lo is not None:
            np.maximum(out, np.asarray(lo, x.dtype), out=out)
        if hi is not None:
            np.minimum(out, np.asarray(hi, x.dtype), out=out)
        return [out]

    return run


@register("Sigmoid", since=1)
def sigmoid(node, opset, ctx):
    check_attrs(node, opset, ("consumed_inputs",))

    def run(inputs, ws):
        x = inputs[0]
        out = _out(ws, x)
        np.negative(x, out=out)
        np.exp(out, out=out)
        out += 1
        return [np.reciprocal(out, out=out)]

    return run


@register("HardSigmoid", since=1)
def hard_sigmoid(node, opset, ctx):
    check_attrs(node, opset, ("alpha", "beta", "consumed_inputs"))
    alpha, beta = node.attr("alpha", 0.2), node.attr("beta", 0.5)

    def run(inputs, ws):
        x = inputs[0]
        out = _out(ws, x)
        np.multiply(x, x.dtype.type(alpha), out=out)
        out += x.dtype.type(beta)
        return [np.clip(out, 0, 1, out=out)]

    return run


@register("HardSwish", since=14)
def hard_swish(node, opset, ctx):
    check_attrs(node, opset, ())

    def run(inputs, ws):
        x = inputs[0]
        out = _out(ws, x)
        np.multiply(x, x.dtype.type(1 / 6), out=out)
        out += x.dtype.type(0.5)
        np.clip(out, 0, 1, out=out)
        return [np.multiply(out, x, out=out)]

    return run


@register("Tanh", since=1)
def tanh(node, opset, ctx):
    check_attrs(node, opset, ("consumed_inputs",))
    return lambda inputs, ws: [np.tanh(inputs[0], out=_out(ws, inputs[0]))]

