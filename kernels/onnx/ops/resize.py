"""Resize (and Upsample) in NumPy: nearest and linear modes, one axis at a time (both are separable),
with every coordinate_transformation_mode, nearest_mode, axes and keep_aspect_ratio_policy."""
from __future__ import annotations

import numpy as np

from .._registry import register
from ._common import check_attrs, unsupported

_COORD = ("half_pixel", "half_pixel_symmetric", "pytorch_half_pixel", "align_corners", "asymmetric", "tf_crop_and_resize")
_NEAREST = ("round_prefer_floor", "round_prefer_ceil", "floor", "ceil")
_MODES = ("nearest", "linear", "bilinear")  # "bilinear": Upsample-9's name of linear


def _source(mode: str, y: np.ndarray, scale: float, n_in: int, n_out: int, roi) -> np.ndarray:
    """The input coordinate each output index maps to (as the ONNX spec's formulas)."""
    out_w = scale * n_in  # the real-valued output length: the spec's formulas divide by it, not n_out
    if mode == "align_corners":
        return np.zeros(n_out) if out_w == 1 else y * (n_in - 1) / (out_w - 1)
    if mode == "asymmetric":
        return y / scale
    if mode == "tf_crop_and_resize":
        s, e = roi
        x = np.full(n_out, (e - s) * (n_in - 1) / 2) if out_w == 1 else y * (e - s) * (n_in - 1) / (out_w - 1)
        return x + s * (n_in - 1)
    if mode == "pytorch_half_pixel":
        return np.full(n_out, -0.5) if out_w == 1 else (y + 0.5) / scale - 0.5
    if mode == "half_pixel":
        return (y + 0.5) / scale - 0.5
    offset = n_in / 2 * (1 - n_out / out_w)  # half_pixel_symmetric
    return offset + (y + 0.5) / scale - 0.5


def _nearest_index(x: np.ndarray, rule: str) -> np.ndarray:
    if rule == "floor":
        return np.floor(x)
    if rule == "ceil":
        return np.ceil(x)
    f = np.floor(x)
    half = (x - f) == 0.5
    return np.where(half, f if rule == "round_prefer_floor" else f + 1, np.round(x))


def _axis(data, ax, scale, n_out, mode, coord, rule, roi, extrapolation):
    n_in = data.shape[ax]
    x = _source(coord, np.arange(n_out, dtype=np.float64), scale, n_in, n_out, roi)
    shape = [1] * data.ndim
    shape[ax] = n_out
    if mode == "nearest":
        idx = np.clip(_nearest_index(x, rule), 0, n_in - 1).astype(np.intp)
        res = np.take(data, idx, axis=ax)
    else:
        f = np.floor(x)
        w = (x - f).reshape(shape)
        i0 = np.clip(f, 0, n_in - 1).astype(np.intp)
        i1 = np.clip(f + 1, 0, n_in - 1).astype(np.intp)
        res = np.take(data, i0, axis=ax) * (1 - w) + np.take(data, i1, axis=ax) * w
    if coord == "tf_crop_and_resize":
        outside = ((x < 0) | (x > n_in - 1)).reshape(shape)
        res = np.where(outside, extrapolation, res)
    return res


def _build(node, opset, ctx, upsample: bool):
    mode = node.attr("mode", "nearest")
    coord = "asymmetric" if opset < 11 else node.attr("coordinate_transformation_mode", "half_pixel")
    rule = "floor" if opset < 11 else node.attr("nearest_mode", "round_prefer_floor")
    if mode not in _MODES:
        raise unsupported(node, opset, f"mode={mode!r}", "nearest, linear")
    if coord not in _COORD:
        raise unsupported(node, opset, f"coordinate_transformation_mode={coord!r}", ", ".join(_COORD))
    if rule not in _NEAREST:
        raise unsupported(node, opset, f"nearest_mode={rule!r}", ", ".join(_NEAREST))
    if node.attr("antialias", 0):
        raise unsupported(node, opset, "antialias=1", "antialias=0")
    policy = node.attr("keep_aspect_ratio_policy", "stretch")
    if policy not in ("stretch", "not_larger", "not_smaller"):
        raise unsupported(node, opset, f"keep_aspect_ratio_policy={policy!r}", "stretch, not_larger, not_smaller")
    extrap = node.attr("extrapolation_value", 0.0)
    axes_attr = node.attr("axes")

    def arg(inputs, i):
        return inputs[i] if len(inputs) > i and inputs[i] is not None and inputs[i].size else None

    def run(inputs, ws):
        x = inputs[0]
        r = x.ndim
        if upsample:
            scales, sizes, roi = (node.attr("scales") if opset < 9 else arg(inputs, 1)), None, None
        elif opset < 11:
            scales, sizes, roi = arg(inputs, 1), None, None
        else:
            roi, scales, sizes = arg(inputs, 1), arg(inputs, 2), arg(inputs, 3)
        axes = list(range(r)) if axes_attr is None else [a + r if a < 0 else a for a in axes_attr]
        full_roi = [0.0] * r + [1.0] * r
        if roi is not None:
            roi = [float(v) for v in roi.reshape(-1)]
            for k, a in enumerate(axes):
                full_roi[a], full_roi[r + a] = roi[k], roi[len(axes) + k]
        scale = [1.0] * r
        out = list(x.shape)
        if sizes is not None:
            sz = [int(v) for v in sizes.reshape(-1)]
            for k, a in enumerate(axes):
                scale[a] = sz[k] / x.shape[a]
            if policy != "stretch":
                pick = min if policy == "not_larger" else max
                s = pick(scale[a] for a in axes)
                for a in axes:
                    scale[a] = s
                    out[a] = int(np.floor(s * x.shape[a] + 0.5))
            else:
                for k, a in enumerate(axes):
                    out[a] = sz[k]
        else:
            sc = [float(v) for v in np.asarray(scales).reshape(-1)]
            for k, a in enumerate(axes):
                scale[a] = sc[k]
                out[a] = int(sc[k] * x.shape[a])
        y = x
        for a in axes:
            if out[a] == x.shape[a] and scale[a] == 1.0 and coord != "tf_crop_and_resize":
                continue
            y = _axis(y, a, scale[a], out[a], "nearest" if mode == "nearest" else "linear", coord, rule,
                      (full_roi[a], full_roi[r + a]), extrap)
        res = ws.output(0, y.shape, x.dtype)
        np.copyto(res, y, casting="unsafe")
        return [res]

    return run


@register("Resize", since=10)
def resize(node, opset, ctx):
    check_attrs(node, opset, ("mode", "coordinate_transformation_mode", "nearest_mode", "cubic_coeff_a", "exclude_outside",
                              "extrapolation_value", "antialias", "axes", "keep_aspect_ratio_policy"))
    return _build(node, opset, ctx, upsample=False)


@register("Upsample", since=7)
def upsample(node, opset, ctx):
    check_attrs(node, opset, ("mode", "scales"))
    return _build(node, opset, ctx, upsample=True)
