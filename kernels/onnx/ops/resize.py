"""Resize (and Upsample) in NumPy: nearest, linear and cubic modes, one axis at a time (all three are
separable), with every coordinate_transformation_mode, nearest_mode, axes, keep_aspect_ratio_policy and
antialias (a widened filter when downsampling)."""
from __future__ import annotations

import numpy as np

from .._registry import register
from ._common import check_attrs, unsupported

_COORD = ("half_pixel", "half_pixel_symmetric", "pytorch_half_pixel", "align_corners", "asymmetric", "tf_crop_and_resize")
_NEAREST = ("round_prefer_floor", "round_prefer_ceil", "floor", "ceil")
_MODES = ("nearest", "linear", "bilinear", "cubic")  # "bilinear": Upsample-9's name of linear


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


def _cubic(t: np.ndarray, a: float) -> np.ndarray:
    """Keys' cubic convolution weights of the 4 neighbours floor(x)-1 .. floor(x)+2, t = x - floor(x)."""
    d = np.stack([t + 1, t, 1 - t, 2 - t], axis=-1)
    near = ((a + 2) * d - (a + 3)) * d * d + 1  # |d| <= 1
    far = ((a * d - 5 * a) * d + 8 * a) * d - 4 * a  # 1 < |d| < 2
    return np.where(d <= 1, near, far)


def _antialias_weights(ratio: np.ndarray, scale: float, mode: str, a: float) -> np.ndarray:
    """Downsampling's widened filter (the ONNX reference's): the linear or cubic kernel stretched by
    1/scale, normalised; (n_out, taps)."""
    scale = min(scale, 1.0)
    if mode == "linear":
        start = int(np.floor(-1 / scale) + 1)
        taps = np.arange(start, 2 - start)
        w = np.clip(1 - np.abs((taps[None, :] - ratio[:, None]) * scale), 0, 1)
    else:
        start = int(np.floor(-2 / scale) + 1)
        d = np.abs((np.arange(start, 2 - start)[None, :] - ratio[:, None]) * scale)
        w = np.where(d <= 1, ((a + 2) * d - (a + 3)) * d * d + 1, np.where(d < 2, ((a * d - 5 * a) * d + 8 * a) * d - 4 * a, 0.0))
    return w / w.sum(axis=1, keepdims=True)


def _antialias(data, ax, x, n_in, scale, mode, a, exclude_outside, shape):
    """One axis through the antialias filter: the taps nearest x (ties to the smaller index, as the
    reference places them), edge-clamped."""
    f = np.floor(x)
    ratio = np.where(x == f, 1.0, x - f)
    w = _antialias_weights(ratio, scale, mode, a)
    n = w.shape[1]
    pad = -(-n // 2)
    xp = x + pad
    p = np.floor(xp)
    frac = xp - p
    if n % 2 == 0:
        off = np.where(frac == 0, -(n // 2), -(n // 2) + 1)
    else:
        off = np.where(frac <= 0.5, -((n - 1) // 2), -((n - 1) // 2) + 1)
    idx = (p + off)[:, None] + np.arange(n)[None, :] - pad
    if exclude_outside:
        w = np.where((idx < 0) | (idx > n_in - 1), 0.0, w)
        w = w / np.where(w.sum(axis=1, keepdims=True) == 0, 1.0, w.sum(axis=1, keepdims=True))
    idx = np.clip(idx, 0, n_in - 1).astype(np.intp)
    return sum(np.take(data, idx[:, j], axis=ax) * w[:, j].reshape(shape) for j in range(n))


def _axis(data, ax, scale, n_out, mode, coord, rule, roi, extrapolation, cubic_a=-0.75, exclude_outside=False,
          antialias=False):
    n_in = data.shape[ax]
    x = _source(coord, np.arange(n_out, dtype=np.float64), scale, n_in, n_out, roi)
    shape = [1] * data.ndim
    shape[ax] = n_out
    if antialias and mode != "nearest":
        res = _antialias(data, ax, x, n_in, scale, mode, cubic_a, exclude_outside, shape)
    elif mode == "cubic":
        f = np.floor(x)
        w = _cubic(x - f, cubic_a)
        idx = f[:, None] + np.arange(-1, 3)[None, :]
        if exclude_outside:
            w = np.where((idx < 0) | (idx > n_in - 1), 0.0, w)
            w = w / np.where(w.sum(axis=1, keepdims=True) == 0, 1.0, w.sum(axis=1, keepdims=True))
        idx = np.clip(idx, 0, n_in - 1).astype(np.intp)
        res = sum(np.take(data, idx[:, j], axis=ax) * w[:, j].reshape(shape) for j in range(4))
    elif mode == "nearest":
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
        raise unsupported(node, opset, f"mode={mode!r}", "nearest, linear, cubic")
    if mode == "cubic" and (upsample or opset < 11):
        raise unsupported(node, opset, "mode='cubic' before opset 11", "nearest, linear")
    if coord not in _COORD:
        raise unsupported(node, opset, f"coordinate_transformation_mode={coord!r}", ", ".join(_COORD))
    if rule not in _NEAREST:
        raise unsupported(node, opset, f"nearest_mode={rule!r}", ", ".join(_NEAREST))
    antialias = bool(node.attr("antialias", 0))
    if antialias and mode == "nearest":
        raise unsupported(node, opset, "antialias=1 with mode='nearest'", "antialias with linear or cubic")
    policy = node.attr("keep_aspect_ratio_policy", "stretch")
    if policy not in ("stretch", "not_larger", "not_smaller"):
        raise unsupported(node, opset, f"keep_aspect_ratio_policy={policy!r}", "stretch, not_larger, not_smaller")
    extrap = node.attr("extrapolation_value", 0.0)
    cubic_a, exclude = node.attr("cubic_coeff_a", -0.75), bool(node.attr("exclude_outside", 0))
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
            kind = mode if mode in ("nearest", "cubic") else "linear"
            y = _axis(y, a, scale[a], out[a], kind, coord, rule, (full_roi[a], full_roi[r + a]), extrap, cubic_a, exclude,
                      antialias)
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
