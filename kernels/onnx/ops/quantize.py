"""QuantizeLinear, DequantizeLinear and DynamicQuantizeLinear in vectorised NumPy (per-tensor,
per-axis and, from opset 21, blocked), and the quantize/dequantize functions the QDQ pass shares.

Semantics (ONNX, and onnxruntime's MLAS kernels): QuantizeLinear divides (x / scale, not x times a
reciprocal), rounds half to even (np.rint, what vcvtps2dq does) and saturates to the output type
after adding the zero point; DequantizeLinear is (x - zero_point) * scale in float32, cast to the
scale's type (or opset 23's output_dtype). They stay at the edges of a quantized graph (the QDQ
pass turns the interior into integer nodes), so NumPy is fast enough for them, but for the graph
input's QuantizeLinear (float32, one scale, 8-bit: hpc_kernels._cpu.quantize_linear on the cpu
backend, 0.2 ms in NumPy for a 224x224 image, a tenth of that in C++; NaN gives the type's minimum
there, as in onnxruntime).
Not supported (load-time errors): float8/int4/int2/float4 element types (no NumPy dtype).
"""
from __future__ import annotations

from typing import Optional, Tuple

import numpy as np

from .._ir import Node
from .._registry import BuildContext, Kernel, register, unsupported
from ._common import check_attrs, cpu_op

# The integer types Q/DQ run here: what ONNX allows up to opset 21 that NumPy has a dtype for.
QUANT_TYPES = (np.dtype(np.uint8), np.dtype(np.int8), np.dtype(np.uint16), np.dtype(np.int16))
_FLOATS = (np.dtype(np.float32), np.dtype(np.float16), np.dtype(np.float64))
# TensorProto element type -> dtype for output_dtype / precision attributes (the ones supported).
_ELEM = {1: np.dtype(np.float32), 2: np.dtype(np.uint8), 3: np.dtype(np.int8), 4: np.dtype(np.uint16),
         5: np.dtype(np.int16), 6: np.dtype(np.int32), 10: np.dtype(np.float16), 11: np.dtype(np.float64)}


def broadcast_param(v: np.ndarray, shape: Tuple[int, ...], axis: int, block_size: int = 0) -> np.ndarray:
    """A scale or zero point shaped to broadcast against x: a scalar (or 1-element) as it is, a
    vector along `axis` (per-axis), or with block_size, each entry repeated over its block."""
    if v.ndim == 0 or (v.size == 1 and not block_size):
        return v.reshape(())
    ax = axis + len(shape) if axis < 0 else axis
    if not 0 <= ax < len(shape):
        raise ValueError(f"axis {axis} is out of range for an input of rank {len(shape)}")
    if not block_size:
        if v.ndim != 1 or v.shape[0] != shape[ax]:
            raise ValueError(f"a per-axis scale/zero point must have shape ({shape[ax]},) (axis {axis} of {shape}), got {v.shape}")
        dims = [1] * len(shape)
        dims[ax] = v.shape[0]
        return v.reshape(dims)
    want = tuple(-(-d // block_size) if i == ax else d for i, d in enumerate(shape))
    if v.shape != want:
        raise ValueError(f"a blocked scale/zero point for x {shape} with block_size {block_size} on axis {axis} "
                         f"must have shape {want}, got {v.shape}")
    return np.repeat(v, block_size, axis=ax).take(np.arange(shape[ax]), axis=ax)


def quantize(x: np.ndarray, scale: np.ndarray, zero_point: Optional[np.ndarray], dtype: np.dtype, axis: int = 1,
             block_size: int = 0, precision: Optional[np.dtype] = None, out: Optional[np.ndarray] = None) -> np.ndarray:
    """saturate(rint(x / scale) + zero_point) as `dtype`."""
    s = broadcast_param(np.asarray(scale), x.shape, axis, block_size)
    if precision is not None:
        v = x.astype(precision) / s.astype(precision)
    elif x.dtype.kind in "iu":
        v = x.astype(s.dtype) / s  # an int32 input divides in the scale's float type, as onnxruntime
    else:
        v = x / s
    v = np.asarray(v)
    v = np.rint(v).astype(np.float32) if v.dtype == np.float16 else np.rint(v, out=v if v.ndim else None)
    info = np.iinfo(dtype)
    lo, hi = float(info.min), float(info.max)
    if zero_point is not None:
        # float16 was widened above: the sum of zero point and value stays exact in float32.
        zp = broadcast_param(np.asarray(zero_point), x.shape, axis, block_size).astype(v.dtype)
        # Clipping before the zero point is added keeps every value small enough to be exact in
        # float (the sum of two integers below 2**24) and equals clip(rint + zp) after it.
        v = np.clip(v, lo - zp, hi - zp) + zp
    else:
        v = np.clip(v, lo, hi)
    if out is None:
        return np.asarray(v).astype(dtype)
    np.copyto(out, v, casting="unsafe")
    return out


def dequantize(x: np.ndarray, scale: np.ndarray, zero_point: Optional[np.ndarray], axis: int = 1, block_size: int = 0,
               dtype: Optional[np.dtype] = None, out: Optional[np.ndarray] = None) -> np.ndarray:
    """(x - zero_point) * scale computed in float32, as `dtype` (default: the scale's type)."""
    scale = np.asarray(scale)
    s = broadcast_param(scale, x.shape, axis, block_size)
    d = x.astype(np.float32)
    if zero_point is not None:
        zp = broadcast_param(np.asarray(zero_point), x.shape, axis, block_size)
        d -= zp.astype(np.float32)  # exact: an 8/16-bit difference; int32 zero points are 0
    dt = np.dtype(dtype or scale.dtype)
    if out is None and dt == np.float32:
        return np.multiply(d, s.astype(np.float32), out=d)
    r = d * s.astype(np.float32)
    if out is None:
        return r.astype(dt)
    np.copyto(out, r, casting="unsafe")
    return out


def _param_check(node: Node, opset: int, ctx: BuildContext, name: str, what: str, block_size: int) -> None:
    v = ctx.constant(name)
    if v is None:
        return
    if opset < 13 and v.size != 1:
        raise unsupported(node, opset, f"{what} of shape {v.shape} before opset 13", "a scalar (per-axis from opset 13)")
    if v.ndim > 1 and not block_size:
        raise unsupported(node, opset, f"{what} of shape {v.shape} without block_size", "a scalar or a 1-D per-axis vector")


def _attrs(node: Node, opset: int, extra: Tuple[str, ...]) -> Tuple[int, int]:
    allowed = (("axis",) if opset >= 13 else ()) + (("saturate",) if opset >= 19 else ()) + (
        ("block_size",) if opset >= 21 else ()) + extra
    check_attrs(node, opset, allowed)
    return int(node.attr("axis", 1)), int(node.attr("block_size", 0))


def _elem(node: Node, opset: int, key: str, allowed: Tuple[np.dtype, ...]) -> Optional[np.dtype]:
    v = node.attr(key)
    if v is None or int(v) == 0:
        return None
    dt = _ELEM.get(int(v))
    if dt is None or dt not in allowed:
        raise unsupported(node, opset, f"{key}={v} (TensorProto element type)", ", ".join(d.name for d in allowed))
    return dt


@register("QuantizeLinear", since=10)
def quantize_linear(node: Node, opset: int, ctx: BuildContext) -> Kernel:
    axis, block = _attrs(node, opset, (("output_dtype",) if opset >= 21 else ()) + (("precision",) if opset >= 23 else ()))
    if block < 0:
        raise unsupported(node, opset, f"block_size={block}", "block_size >= 0")
    out_dt = _elem(node, opset, "output_dtype", QUANT_TYPES)
    precision = _elem(node, opset, "precision", _FLOATS)
    zp_name = node.inputs[2] if len(node.inputs) > 2 else ""
    zdt = ctx.dtype(zp_name)
    if zdt is not None and zdt not in QUANT_TYPES:
        raise unsupported(node, opset, f"zero point of type {zdt}", ", ".join(d.name for d in QUANT_TYPES))
    if zdt is not None and out_dt is not None and zdt != out_dt:
        raise unsupported(node, opset, f"output_dtype {out_dt} with a {zdt} zero point", "the same type")
    _param_check(node, opset, ctx, node.inputs[1], "y_scale", block)
    xdt = ctx.dtype(node.inputs[0])
    if xdt is not None and xdt not in _FLOATS + (np.dtype(np.int32),):
        raise unsupported(node, opset, f"input of type {xdt}", "float32, float16, float64, int32")

    fast = cpu_op(ctx.backend, "quantize_linear") if block == 0 and precision in (None, np.dtype(np.float32)) else None
    consts = _constants(node, ctx)

    def step(xs: Tuple[int, ...], dtype: np.dtype, _second):
        """(output shape, the conv chain's "quantize_linear" step or None, output dtype)."""
        s, zp = consts
        dt = zp.dtype if zp is not None else (out_dt or np.dtype(np.uint8))
        scale = _one_scale(s)
        ok = (fast is not None and np.dtype(dtype) == np.float32 and dt.itemsize == 1 and (zp is None or zp.size == 1)
              and scale is not None and scale != 0.0 and np.isfinite(np.float32(1.0) / np.float32(scale)))
        return tuple(xs), (("quantize_linear", scale, int(zp.reshape(())) if zp is not None else 0) if ok else None), dt

    def run(inputs, ws):
        x, s, zp = _inputs(inputs, consts)
        dt = zp.dtype if zp is not None else (out_dt or np.dtype(np.uint8))
        out = ws.output(0, x.shape, dt)
        if (fast is not None and x.dtype == np.float32 and x.flags.c_contiguous and s.size == 1
                and s.dtype == np.float32 and dt.itemsize == 1 and (zp is None or zp.size == 1)):
            scale = float(s.reshape(()))
            if np.isfinite(scale) and scale != 0.0 and np.isfinite(np.float32(1.0) / np.float32(scale)):
                fast(x, out, scale, int(zp.reshape(())) if zp is not None else 0)
                return [out]
        return [quantize(x, s, zp, dt, axis, block, precision, out=out)]

    if all(c is not None or not v for c, v in zip(consts, node.inputs[1:3])) and consts[0] is not None:
        run.step = step  # (a chain step only with constant parameters: the chain gives it only x)
    return run


def _constants(node: Node, ctx: BuildContext) -> Tuple[Optional[np.ndarray], Optional[np.ndarray]]:
    """A Q/DQ node's scale and zero point where they are constants (else None each)."""
    names = list(node.inputs[1:3]) + [""] * (3 - len(node.inputs))
    return ctx.constant(names[0]), ctx.constant(names[1])


def _inputs(inputs, consts):
    """(x, scale, zero point) of a run: its own inputs, the constants where it was given none (a
    conv chain's Python path gives a step only its x)."""
    s = inputs[1] if len(inputs) > 1 and inputs[1] is not None else consts[0]
    zp = inputs[2] if len(inputs) > 2 and inputs[2] is not None else consts[1]
    return inputs[0], s, zp


def _one_scale(s: Optional[np.ndarray]) -> Optional[float]:
    """A per-tensor float32 scale's finite value, else None."""
    if s is None or s.size != 1 or s.dtype != np.float32:
        return None
    v = float(s.reshape(()))
    return v if np.isfinite(v) else None


@register("DequantizeLinear", since=10)
def dequantize_linear(node: Node, opset: int, ctx: BuildContext) -> Kernel:
    axis, block = _attrs(node, opset, ("output_dtype",) if opset >= 23 else ())
    out_dt = _elem(node, opset, "output_dtype", _FLOATS)
    xdt = ctx.dtype(node.inputs[0])
    if xdt is not None and xdt not in QUANT_TYPES + (np.dtype(np.int32),):
        raise unsupported(node, opset, f"input of type {xdt}", "uint8, int8, uint16, int16, int32")
    _param_check(node, opset, ctx, node.inputs[1], "x_scale", block)

    consts = _constants(node, ctx)
    fast = cpu_op(ctx.backend, "dequantize_linear") if block == 0 else None

    def step(xs: Tuple[int, ...], dtype: np.dtype, _second):
        """(output shape, the conv chain's "dequantize_linear" step or None, output dtype)."""
        s, zp = consts
        dt = np.dtype(out_dt or s.dtype)
        scale = _one_scale(s)
        ok = (fast is not None and np.dtype(dtype).itemsize == 1 and np.dtype(dtype).kind in "iu" and dt == np.float32
              and scale is not None and (zp is None or (zp.size == 1 and zp.dtype == np.dtype(dtype))))
        return tuple(xs), (("dequantize_linear", scale, int(zp.reshape(())) if zp is not None else 0) if ok else None), dt

    def run(inputs, ws):
        x, s, zp = _inputs(inputs, consts)
        if zp is not None and zp.dtype != x.dtype:
            raise TypeError(f"{node.describe()}: x is {x.dtype} but its zero point is {zp.dtype}")
        dt = out_dt or s.dtype
        return [dequantize(x, s, zp, axis, block, dt, out=ws.output(0, x.shape, dt))]

    if all(c is not None or not v for c, v in zip(consts, node.inputs[1:3])) and consts[0] is not None:
        run.step = step
    return run


def dynamic_qparams(x: np.ndarray) -> Tuple[np.float32, np.uint8]:
    """DynamicQuantizeLinear's uint8 scale and zero point: the range [min(x, 0), max(x, 0)] over 255."""
    hi = np.float32(max(0.0, float(x.max()))) if x.size else np.float32(0)
    lo = np.float32(min(0.0, float(x.min()))) if x.size else np.float32(0)
    scale = np.float32(1.0 if hi == lo else (hi - lo)) / np.float32(255)
    zp = np.rint(np.clip(np.float32(0) - lo / scale, 0, 255))
    return np.float32(scale), np.uint8(zp)


@register("DynamicQuantizeLinear", since=11)
def dynamic_quantize_linear(node: Node, opset: int, ctx: BuildContext) -> Kernel:
    check_attrs(node, opset, ())
    xdt = ctx.dtype(node.inputs[0])
    if xdt is not None and xdt != np.float32:
        raise unsupported(node, opset, f"input of type {xdt}", "float32")

    def run(inputs, ws):
        x = inputs[0]
        scale, zp = dynamic_qparams(x)
        y = quantize(x, np.asarray(scale), np.asarray(zp), np.dtype(np.uint8), out=ws.output(0, x.shape, np.uint8))
        return [y, np.array(scale, np.float32), np.array(zp, np.uint8)]

    return run
