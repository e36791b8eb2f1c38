"""Pad in NumPy: constant, reflect, edge and wrap modes; pads as an attribute before opset 11, inputs
(pads, constant_value, axes of opset 18) from it on; negative pads crop."""
from __future__ import annotations

import numpy as np

from .._registry import register
from ._common import axis, check_attrs, unsupported

_MODES = ("constant", "reflect", "edge", "wrap")


@register("Pad", since=1)
def pad(node, opset, ctx):
    check_attrs(node, opset, ("mode", "pads", "value", "paddings"))
    mode = node.attr("mode", "constant")
    if mode not in _MODES or (mode == "wrap" and opset < 19):
        raise unsupported(node, opset, f"mode={mode!r}", ", ".join(_MODES))

    def run(inputs, ws):
        x = inputs[0]
        if opset < 11:
            pads, value, axes = node.attr("pads"), node.attr("value", 0.0), None
        else:
            pads = [int(i) for i in inputs[1].reshape(-1)]
            value = inputs[2].reshape(-1)[0] if len(inputs) > 2 and inputs[2] is not None and inputs[2].size else 0
            axes = [int(i) for i in inputs[3].reshape(-1)] if len(inputs) > 3 and inputs[3] is not None else None
        axes = list(range(x.ndim)) if axes is None else [axis(a, x.ndim) for a in axes]
        n = len(axes)
        width = [(0, 0)] * x.ndim
        for k, a in enumerate(axes):
            width[a] = (pads[k], pads[k + n])
        crop = tuple(slice(max(0, -b), x.shape[i] - max(0, -e)) for i, (b, e) in enumerate(width))
        x = x[crop]
        width = [(max(0, b), max(0, e)) for b, e in width]
        kw = {"constant_values": value} if mode == "constant" else {}
        y = np.pad(x, width, mode=mode, **kw)
        out = ws.output(0, y.shape, x.dtype)
        np.copyto(out, y)
        return [out]

    return run
