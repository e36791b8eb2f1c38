"""Shape and data-movement ops in NumPy: Flatten Reshape Transpose Squeeze Unsqueeze Concat Split
Slice Gather Shape Cast Constant ConstantOfShape Identity Dropout (axes, splits and the like read
from attributes before the opset that made them inputs, from inputs after)."""
from __future__ import annotations

import numpy as np

from .._load import np_dtype
from .._registry import UnsupportedModelError, register
from ._common import axis, check_attrs, unsupported


def _ints(v):
    return None if v is None else [int(i) for i in np.asarray(v).reshape(-1)]


@register("Identity", since=1)
def identity(node, opset, ctx):
    check_attrs(node, opset, ())
    return lambda inputs, ws: [inputs[0]]


@register("Dropout", since=1)
def dropout(node, opset, ctx):
    check_attrs(node, opset, ("ratio", "seed", "is_test", "consumed_inputs"))
    if len(node.inputs) > 2 and node.inputs[2]:
        mode = ctx.constant(node.inputs[2])
        if mode is None or bool(mode):
            raise unsupported(node, opset, "training_mode true or computed at run time", "inference (training_mode a constant false)")

    def run(inputs, ws):
        x = inputs[0]
        if len(node.outputs) > 1 and node.outputs[1]:
            return [x, np.ones(x.shape, bool)]
        return [x]

    return run


@register("Flatten", since=1)
def flatten(node, opset, ctx):
    check_attrs(node, opset, ("axis",))
    ax = node.attr("axis", 1)

    def run(inputs, ws):
        x = inputs[0]
        a = axis(ax, x.ndim)
        return [np.ascontiguousarray(x).reshape(int(np.prod(x.shape[:a])), -1 if x.size else int(np.prod(x.shape[a:])))]

    return run


@register("Reshape", since=5)
def reshape(node, opset, ctx):
    check_attrs(node, opset, ("allowzero",))
    allowzero = node.attr("allowzero", 0)

    def run(inputs, ws):
        x, shape = inputs[0], _ints(inputs[1])
        if not allowzero:
            shape = [x.shape[i] if d == 0 else d for i, d in enumerate(shape)]
        return [np.ascontiguousarray(x).reshape(shape)]

    return run


@register("Transpose", since=1)
def transpose(node, opset, ctx):
    check_attrs(node, opset, ("perm",))
    perm = node.attr("perm")

    def run(inputs, ws):
        x = inputs[0]
        p = perm if perm is not None else list(range(x.ndim))[::-1]
        t = x.transpose(p)
        out = ws.output(0, t.shape, x.dtype)
        np.copyto(out, t)
        return [out]

    return run


def _axes(node, opset, inputs, since):
    """axes: attribute before opset `since`, input 1 from it on (None: not given)."""
    if opset < since:
        return node.attr("axes")
    return _ints(inputs[1]) if len(inputs) > 1 and inputs[1] is not None else None


@register("Squeeze", since=1)
def squeeze(node, opset, ctx):
    check_attrs(node, opset, ("axes",))

    def run(inputs, ws):
        x = inputs[0]
        ax = _axes(node, opset, inputs, 13)
        if ax is None:
            return [x.reshape([d for d in x.shape if d != 1])]
        return [np.squeeze(x, axis=tuple(axis(a, x.ndim) for a in ax))]

    return run


@register("Unsqueeze", since=1)
def unsqueeze(node, opset, ctx):
    check_attrs(node, opset, ("axes",))

    def run(inputs, ws):
        x = inputs[0]
        ax = _axes(node, opset, inputs, 13)
        rank = x.ndim + len(ax)
        shape, it = [], iter(x.shape)
        norm = {axis(a, rank) for a in ax}
        for i in range(rank):
            shape.append(1 if i in norm else next(it))
        return [x.reshape(shape)]

    return run


@register("Concat", since=1)
def concat(node, opset, ctx):
    check_attrs(node, opset, ("axis",))
    ax = node.attr("axis", 1)

    def run(inputs, ws):
        xs = [x for x in inputs if x is not None]
        a = axis(ax, xs[0].ndim)
        shape = list(xs[0].shape)
        shape[a] = sum(x.shape[a] for x in xs)
        dtype = np.result_type(*xs)
        return [np.concatenate(xs, axis=a, out=ws.output(0, tuple(shape), dtype))]

    return run


@register("Split", since=1)
def split(node, opset, ctx):
    check_attrs(node, opset, ("axis", "split", "num_outputs"))
    ax = node.attr("axis", 0)
    n_out = len(node.outputs)

    def run(inputs, ws):
        x = inputs[0]
        a = axis(ax, x.ndim)
        parts = node.attr("split") if opset < 13 else (_ints(inputs[1]) if len(inputs) > 1 and inputs[1] is not None else None)
        if parts is None:
            size = x.shape[a]
            step = -(-size // n_out)  # opset 18 num_outputs: the last part may be smaller
            parts = [min(step, size - i * step) for i in range(n_out)]
        outs, start = [], 0
        for i, p in enumerate(parts):
            idx = [slice(None)] * x.ndim
            idx[a] = slice(start, start + p)
            piece = x[tuple(idx)]
            out = ws.output(i, piece.shape, x.dtype)
            np.copyto(out, piece)
            outs.append(out)
            start += p
        return outs

    return run


@register("Slice", since=1)
def slice_(node, opset, ctx):
    check_attrs(node, opset, ("starts", "ends", "axes"))

    def run(inputs, ws):
        x = inputs[0]
        if opset < 10:
            starts, ends, axes, steps = node.attr("starts"), node.attr("ends"), node.attr("axes"), None
        else:
            starts, ends = _ints(inputs[1]), _ints(inputs[2])
            axes = _ints(inputs[3]) if len(inputs) > 3 and inputs[3] is not None else None
            steps = _ints(inputs[4]) if len(inputs) > 4 and inputs[4] is not None else None
        axes = list(range(len(starts))) if axes is None else axes
        steps = [1] * len(starts) if steps is None else steps
        idx = [slice(None)] * x.ndim
        for s, e, a, st in zip(starts, ends, axes, steps):
            idx[axis(a, x.ndim)] = slice(s, e, st)
        piece = x[tuple(idx)]
        out = ws.output(0, piece.shape, x.dtype)
        np.copyto(out, piece)
        return [out]

    return run


@register("Gather", since=1)
def gather(node, opset, ctx):
    check_attrs(node, opset, ("axis",))
    ax = node.attr("axis", 0)

    def run(inputs, ws):
        x, idx = inputs
        a = axis(ax, x.ndim)
        shape = x.shape[:a] + idx.shape + x.shape[a + 1:]
        return [np.take(x, idx.astype(np.int64), axis=a, out=ws.output(0, shape, x.dtype))]

    return run


@register("Shape", since=1)
def shape_(node, opset, ctx):
    check_attrs(node, opset, ("start", "end"))

    def run(inputs, ws):
        shp = inputs[0].shape
        r = len(shp)
        start, end = node.attr("start", 0), node.attr("end", r)
        start = max(0, min(r, start + r if start < 0 else start))
        end = max(0, min(r, end + r if end < 0 else end))
        return [np.array(shp[start:end], np.int64)]

    return run


@register("Cast", since=1)
def cast(node, opset, ctx):
    check_attrs(node, opset, ("to", "saturate"))
    try:
        to = np_dtype(node.attr("to"))
    except UnsupportedModelError as exc:
        raise unsupported(node, opset, f"cast to {exc}", "the numeric NumPy types and bool") from None

    def run(inputs, ws):
        x = inputs[0]
        if x.dtype.kind in "OSU":
            raise UnsupportedModelError(f"{node.describe()}: cast from {x.dtype} is not supported")
        out = ws.output(0, x.shape, to)
        np.copyto(out, x, casting="unsafe")
        return [out]

    return run


def _constant_value(node, opset):
    for key in ("sparse_value", "value_string", "value_strings"):
        if key in node.attrs:
            raise unsupported(node, opset, f"attribute {key}", "value, value_float(s), value_int(s)")
    if "value" in node.attrs:
        v = np.asarray(node.attrs["value"])
        if v.dtype.kind in "OSU":
            raise unsupported(node, opset, f"a {v.dtype} tensor", "numeric tensors")
        return v
    if "value_float" in node.attrs:
        return np.array(node.attrs["value_float"], np.float32)
    if "value_floats" in node.attrs:
        return np.array(node.attrs["value_floats"], np.float32)
    if "value_int" in node.attrs:
        return np.array(node.attrs["value_int"], np.int64)
    if "value_ints" in node.attrs:
        return np.array(node.attrs["value_ints"], np.int64)
    raise unsupported(node, opset, "no value attribute", "value, value_float(s), value_int(s)")


@register("Constant", since=1)
def constant(node, opset, ctx):
    v = _constant_value(node, opset)
    return lambda inputs, ws: [v]


@register("ConstantOfShape", since=9)
def constant_of_shape(node, opset, ctx):
    check_attrs(node, opset, ("value",))
    value = node.attr("value")
    value = np.zeros(1, np.float32) if value is None else np.asarray(value).reshape(-1)

    def run(inputs, ws):
        out = ws.output(0, tuple(_ints(inputs[0])), value.dtype)
        out[...] = value[0]
        return [out]

    return run
