"""Binary and variadic element-wise math with NumPy broadcasting: Add Sub Mul Div Pow Sqrt Max Min
Sum, written into the workspace's buffers."""
from __future__ import annotations

import numpy as np

from .._registry import register
from ._common import check_attrs

_LEGACY = ("broadcast", "axis", "consumed_inputs")  # opset < 7 attributes: absent from opset 9 models


def _binary(op_type: str, ufunc):
    @register(op_type, since=1)
    def build(node, opset, ctx):
        check_attrs(node, opset, _LEGACY)

        def run(inputs, ws):
            a, b = inputs
            out = ws.output(0, np.broadcast_shapes(a.shape, b.shape), np.result_type(a, b) if a.dtype != b.dtype else a.dtype)
            return [ufunc(a, b, out=out)]

        return run

    return build


_binary("Add", np.add)
_binary("Sub", np.subtract)
_binary("Mul", np.multiply)


@register("Div", since=1)
def div(node, opset, ctx):
    check_attrs(node, opset, _LEGACY)

    def run(inputs, ws):
        a, b = inputs
        out = ws.output(0, np.broadcast_shapes(a.shape, b.shape), a.dtype)
        if np.issubdtype(a.dtype, np.integer):  # ONNX integer division truncates toward zero (C semantics)
            q = np.floor_divide(a, b)
            fix = (np.remainder(a, b) != 0) & ((a < 0) != (b < 0))
            return [np.add(q, fix.astype(a.dtype), out=out)]
        return [np.divide(a, b, out=out)]

    return run


@register("Pow", since=1)
def pow_(node, opset, ctx):
    check_attrs(node, opset, _LEGACY)

    def run(inputs, ws):
        x, y = inputs
        shape = np.broadcast_shapes(x.shape, y.shape)
        if x.dtype == y.dtype:
            return [np.power(x, y, out=ws.output(0, shape, x.dtype))]
        # the exponent may have another type (opset 12); the result has the base's type
        r = np.power(x.astype(np.float64), y.astype(np.float64))
        out = ws.output(0, shape, x.dtype)
        np.copyto(out, r, casting="unsafe")
        return [out]

    return run


@register("Sqrt", since=1)
def sqrt(node, opset, ctx):
    check_attrs(node, opset, ("consumed_inputs",))
    return lambda inputs, ws: [np.sqrt(inputs[0], out=ws.output(0, inputs[0].shape, inputs[0].dtype))]


def _variadic(op_type: str, ufunc):
    @register(op_type, since=1)
    def build(node, opset, ctx):
        check_attrs(node, opset, ("consumed_inputs",))

        def run(inputs, ws):
            xs = [x for x in inputs if x is not None]
            out = ws.output(0, np.broadcast_shapes(*(x.shape for x in xs)), xs[0].dtype)
            np.copyto(out, xs[0])
            for x in xs[1:]:
                ufunc(out, x, out=out)
            return [out]

        return run

    return build


_variadic("Max", np.maximum)
_variadic("Min", np.minimum)
_variadic("Sum", np.add)
