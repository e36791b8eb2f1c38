"""The integer ops on hpc_kernels.qgemm / qconv2d: MatMulInteger, ConvInteger, QLinearMatMul and
QLinearConv (ai.onnx), and QConv / QGemm (HPC_DOMAIN), the nodes the QDQ pass
(kernels/onnx/_passes/fuse_qdq.py) makes.

The arithmetic is kernels/_api/quant_args.py's (onnxruntime's requantization: QLinearConv and
QLinearMatMul match it exactly). A convolution whose weights, weight scales/zero points, output
scale/zero point and bias are constants is built once at load as an hpc_kernels.QConv2d plan (the
weights packed once, like Conv's Conv2d plans); otherwise each run calls qconv2d.

QConv: inputs [x, x_scale, x_zero_point, w, w_scale, w_zero_point, y_scale or "", y_zero_point or "",
B (int32) or "", residual (float32) or ""], Conv's attributes and `activation` ("", "relu",
"relu6"): QLinearConv plus the epilogue's residual and activation; without y_scale the output is
float32 (quant_args' "float" mode). QGemm: inputs [a, a_scale, a_zero_point, b (K, N), b_scale,
b_zero_point, y_scale or "", y_zero_point or "", bias (int32, N) or "", residual (float32) or ""] and
`activation`.
Not supported: per-row a_scale/a_zero_point of QLinearMatMul (the kernels take a scalar; MatMulInteger's
per-row zero point runs in NumPy), float8 types, 1-D/3-D convolutions.
"""
from __future__ import annotations

import threading
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

import hpc_kernels

from .._ir import HPC_DOMAIN, Node
from .._registry import BuildContext, Kernel, register, unsupported
from ._common import check_attrs
from .conv import conv_pads
from .gemm import matmul_shape

_CONV_ATTRS = ("auto_pad", "dilations", "group", "kernel_shape", "pads", "strides")
_INT8 = (np.dtype(np.uint8), np.dtype(np.int8))
_ACTIVATIONS = ("", "relu", "relu6")


def _scalar(v: Optional[np.ndarray]) -> Any:
    """A one-element scale or zero point as a 0-d array (the kernels take scalars as such)."""
    if v is None:
        return None
    v = np.asarray(v)
    return v.reshape(()) if v.size == 1 else v


def _scale(v: Optional[np.ndarray]) -> Any:
    """Scales as float32 (QLinearMatMul-21 allows float16/bfloat16 ones; the kernels take float32)."""
    return None if v is None else _scalar(np.asarray(v, np.float32))


def _check_int8(node: Node, opset: int, ctx: BuildContext, names: Sequence[str], what: str) -> None:
    for n in names:
        dt = ctx.dtype(n)
        if dt is not None and dt not in _INT8:
            raise unsupported(node, opset, f"{what} {n!r} of type {dt}", "uint8, int8")


def int_kwargs(ctx: BuildContext, op: str) -> Dict[str, Any]:
    """backend= for the integer kernels: the session's backend where it implements `op`, else the
    usual choice (not every backend has integer kernels; the model still runs, those nodes elsewhere)."""
    if not ctx.backend:
        return {}
    from ..._dispatch import get_backend

    try:
        return {"backend": ctx.backend} if op in get_backend(ctx.backend).ops else {}
    except Exception:  # not available here: the float kernels' calls report it
        return {}


def _activation(node: Node, opset: int) -> str:
    act = node.attr("activation", "") or ""
    if act not in _ACTIVATIONS:
        raise unsupported(node, opset, f"activation={act!r}", "'', 'relu', 'relu6'")
    return act


def _input(inputs: Sequence[Optional[np.ndarray]], i: int) -> Optional[np.ndarray]:
    return inputs[i] if len(inputs) > i else None


# -- convolutions ------------------------------------------------------------------------------

def _conv_builder(node: Node, opset: int, ctx: BuildContext, *, slots: Dict[str, int], quant: bool,
                  fused: bool) -> Kernel:
    """ConvInteger (quant=False: int32 out), QLinearConv and QConv (quant=True). `slots` maps the
    roles x, x_scale, x_zp, w, w_scale, w_zp, y_scale, y_zp, bias, residual to input positions."""
    check_attrs(node, opset, _CONV_ATTRS + (("activation",) if fused else ()))
    act = _activation(node, opset) if fused else ""
    names = {role: (node.inputs[i] if i < len(node.inputs) else "") for role, i in slots.items()}
    _check_int8(node, opset, ctx, [names["x"], names["w"]], "input")
    w = ctx.constant(names["w"])
    ks = node.attr("kernel_shape")
    rank = w.ndim - 2 if w is not None else (len(ks) if ks is not None else None)
    if rank is not None and rank != 2:
        raise unsupported(node, opset, f"a {rank}-D convolution", "2-D (4-D NCHW input)")
    auto = node.attr("auto_pad", "NOTSET")
    if auto not in ("NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"):
        raise unsupported(node, opset, f"auto_pad={auto!r}", "NOTSET, SAME_UPPER, SAME_LOWER, VALID")
    for a in ("dilations", "strides"):
        v = node.attr(a)
        if v is not None and len(v) != 2:
            raise unsupported(node, opset, f"{a}={v}", "2 values (2-D)")
    st, dil = tuple(node.attr("strides", [1, 1])), tuple(node.attr("dilations", [1, 1]))
    groups = int(node.attr("group", 1))
    kw = int_kwargs(ctx, "qconv2d")
    layout = node.layout or "NCHW"  # QConv: NHWC from the layout pass
    if layout not in ("NCHW", "NHWC"):
        raise unsupported(node, opset, f"layout {layout!r}", "'NCHW', 'NHWC'")
    hax = (2, 3) if layout == "NCHW" else (1, 2)
    has_res = bool(names.get("residual"))
    # QConv fused with the QAdd after it (fuse_qdq.py): the skip tensor and the addition's options,
    # constants (the pass fuses only those) applied in the plan's epilogue per binding.
    skip_add: Optional[Dict[str, Any]] = None
    if names.get("skip"):
        add_vals = [ctx.constant(names.get(r, "")) for r in ("skip_scale", "skip_zp", "sum_scale", "sum_zp")]
        if any(v is None for v in add_vals):
            raise unsupported(node, opset, "a skip addition with non-constant scales", "constant scales and zero points")
        skip_add = dict(skip_scale=_scale(add_vals[0]), skip_zero_point=_scalar(add_vals[1]),
                        sum_scale=_scale(add_vals[2]), sum_zero_point=_scalar(add_vals[3]))
    # Everything but x (and its scale/zero point) fixed at load: a QConv2d plan per padding.
    fixed_roles = ["w", "w_zp", "w_scale", "y_scale", "y_zp", "bias"]
    fixed = {r: ctx.constant(names.get(r, "")) for r in fixed_roles}
    const = all(fixed[r] is not None or not names.get(r) for r in fixed_roles)
    x_fixed = {r: ctx.constant(names.get(r, "")) for r in ("x_scale", "x_zp")}
    x_const = all(x_fixed[r] is not None or not names.get(r) for r in x_fixed)
    y_zp_dt = ctx.dtype(names.get("y_zp", ""))

    def options(vals: Dict[str, Any], x_dtype: np.dtype) -> Dict[str, Any]:
        o: Dict[str, Any] = dict(w_zero_point=_scalar(vals.get("w_zp")) if vals.get("w_zp") is not None else 0)
        if vals.get("bias") is not None:
            o["bias"] = np.ascontiguousarray(vals["bias"])
        if quant:
            o.update(w_scale=_scale(vals["w_scale"]))
            if vals.get("y_scale") is not None:
                o["out_scale"] = _scale(vals["y_scale"])
                yzp = vals.get("y_zp")
                o["out_zero_point"] = _scalar(yzp) if yzp is not None else np.zeros((), x_dtype)
            if act:
                o["activation"] = act
        return o

    def x_options(vals: Dict[str, Any], x_dtype: np.dtype) -> Dict[str, Any]:
        zp, scale = vals.get("x_zp"), vals.get("x_scale")
        o: Dict[str, Any] = dict(x_zero_point=_scalar(zp) if zp is not None else np.zeros((), x_dtype))
        if quant:
            # 1.0 stands for a scale given at run time: the plan is then called with each run's own.
            o["x_scale"] = _scale(scale) if scale is not None else np.float32(1)
        return o

    plans: Dict[tuple, Any] = {}
    lock = threading.Lock()
    x_zp0 = x_fixed["x_zp"]
    x_dtype0 = ctx.dtype(names["x"]) or (x_zp0.dtype if x_zp0 is not None else np.dtype(np.uint8))
    # The weights: kept for plans made at run time (SAME padding of another input size) and for
    # the calls without a plan; dropped once the only plan holds them packed.
    source = {"w": w}

    def plan_for(pads: tuple) -> Any:
        p = plans.get(pads)
        if p is None:
            with lock:
                p = plans.get(pads)
                if p is None:
                    opts = options(fixed, x_dtype0)
                    opts.update(x_options(x_fixed, x_dtype0))
                    try:
                        p = plans[pads] = hpc_kernels.QConv2d(source["w"], stride=st, padding=pads, dilation=dil,
                                                              groups=groups, layout=layout, **opts, **kw)
                    except (TypeError, ValueError) as exc:
                        raise unsupported(node, opset, str(exc), "what hpc_kernels.QConv2d accepts") from None
        return p

    # A plan whenever all but x's own parameters are constants: x_scale/x_zero_point computed at run
    # time (dynamic quantization) are given to each call.
    use_plan = const and w is not None
    w_shape = None if w is None else w.shape
    if use_plan and auto in ("NOTSET", "VALID"):
        plan_for(conv_pads(node, 0, 0, w.shape[2], w.shape[3]))  # packed once, at load
        source["w"] = None
        ctx.consume(names["w"])
    del w

    # Per activation shape, dtype and residual presence: the plan bound to it (QConv2d.bind: one
    # C++ call a run) or None where the checked path below runs (scales given at run time, SAME
    # padding of another size resolved per call, an output dtype the plan does not write).
    bound: Dict[tuple, Any] = {}

    def bind(x: np.ndarray, with_res: bool):
        pads = conv_pads(node, x.shape[hax[0]], x.shape[hax[1]], w_shape[2], w_shape[3])
        f = plan_for(pads).bind(x.shape, x.dtype, residual=with_res, skip_add=skip_add)
        want = np.dtype(np.float32) if not names.get("y_scale") else (y_zp_dt or x.dtype)
        return f if f.out_dtype == want else None

    def geometry(xs: tuple, wshape: tuple):
        """(pads, output shape) for an input of shape xs (4-D) and weights of shape wshape."""
        h, wd = xs[hax[0]], xs[hax[1]]
        pads = conv_pads(node, h, wd, wshape[2], wshape[3])
        ho = (h + pads[0] + pads[1] - dil[0] * (wshape[2] - 1) - 1) // st[0] + 1
        wo = (wd + pads[2] + pads[3] - dil[1] * (wshape[3] - 1) - 1) // st[1] + 1
        return pads, ((xs[0], wshape[0], ho, wo) if layout == "NCHW" else (xs[0], ho, wo, wshape[0]))

    def step(xs: Tuple[int, ...], dtype: np.dtype, skip_shape):
        """(output shape, the conv chain's "qconv" step or None, output dtype) for an input of
        shape xs: a step where a run takes the bound plan (its parameters constants, no float
        residual, a skip tensor of the output's shape exactly when the node has one); None where
        it takes the Python path (kernels/onnx/ops/chain.py)."""
        if len(xs) != 4:
            raise ValueError(f"{node.describe()}: input of shape {tuple(xs)}; supported: 4-D")
        dtype = np.dtype(dtype)
        want = np.dtype(np.float32) if not names.get("y_scale") else (y_zp_dt or dtype)
        if w_shape is None:  # (the chain pass takes only QConv nodes with constant weights)
            raise ValueError(f"{node.describe()}: weights computed at run time cannot be a chain step")
        if not (use_plan and x_const) or has_res:
            return geometry(tuple(xs), w_shape)[1], None, want
        pads = geometry(tuple(xs), w_shape)[0]
        f = plan_for(pads).bind(tuple(xs), dtype, residual=False, skip_add=skip_add)
        ok = (f.out_dtype == want and f.chain_params is not None and (skip_shape is not None) == (skip_add is not None)
              and (skip_shape is None or tuple(skip_shape) == f.out_shape))
        return f.out_shape, (("qconv",) + f.chain_params if ok else None), want

    def run(inputs, ws):
        x = inputs[slots["x"]]
        if use_plan and x_const and type(x) is np.ndarray:
            res = inputs[slots["residual"]] if has_res and len(inputs) > slots["residual"] else None
            key = (x.shape, x.dtype, res is not None)
            f = bound.get(key, False)
            if f is False and x.ndim == 4 and len(bound) < 16:
                f = bind(x, res is not None)  # (not under `lock`: plan_for takes it)
                with lock:
                    f = bound.setdefault(key, f)
            skip = inputs[slots["skip"]] if skip_add is not None else None
            if f and (skip is None or (type(skip) is np.ndarray and skip.shape == f.out_shape
                                       and skip.dtype == f.out_dtype)):
                if res is not None and res.dtype != np.float32:
                    res = np.asarray(res, np.float32)  # as the checked path below takes it
                return [f(x, ws.output(0, f.out_shape, f.out_dtype), res, skip)]
        if x.ndim != 4:
            raise ValueError(f"{node.describe()}: input of shape {x.shape}; supported: 4-D")
        x = np.ascontiguousarray(x)
        pads, shape = geometry(x.shape, w_shape if w_shape is not None else inputs[slots["w"]].shape)
        vals = {r: _input(inputs, i) for r, i in slots.items()}
        if not quant:
            dt = np.dtype(np.int32)
        elif not names.get("y_scale"):
            dt = np.dtype(np.float32)
        else:
            dt = vals["y_zp"].dtype if vals.get("y_zp") is not None else (y_zp_dt or x.dtype)
        skip = vals.get("skip") if skip_add is not None else None
        # A skip tensor of another shape or type (Add's broadcasting): the conv's 8-bit output
        # into scratch, then the QAdd with broadcasting (_add_unfused).
        fused_skip = skip is not None and skip.shape == shape and skip.dtype == dt
        out = ws.output(0, shape, dt) if skip is None or fused_skip else ws.scratch(shape, dt)
        res = vals.get("residual") if has_res else None
        extra: Dict[str, Any] = dict(skip=skip, **skip_add) if fused_skip else {}
        if res is not None:
            extra["residual"] = np.asarray(res, np.float32)  # broadcast by the kernel call, as Add would
        if skip is not None and not fused_skip:
            y = _conv_checked(x, out, pads, vals, extra)
            # (The output's scale and zero point from the constants: a conv chain's Python path
            # gives a step only its X and skip tensor.)
            outq = {r: fixed[r] if fixed.get(r) is not None else vals.get(r) for r in ("y_scale", "y_zp")}
            return [_add_unfused(node, y, dict(vals, **outq), skip_add, ws)]
        return [_conv_checked(x, out, pads, vals, extra)]

    def _conv_checked(x, out, pads, vals, extra):
        if use_plan:
            if not x_const:
                extra.update(x_options(vals, x.dtype))
            return plan_for(pads)(x, out=out, **extra)
        wt = source["w"] if source["w"] is not None else vals["w"]
        opts = options({r: (fixed[r] if fixed.get(r) is not None else vals.get(r)) for r in fixed_roles}, x.dtype)
        opts.update(x_options(vals, x.dtype))
        return hpc_kernels.qconv2d(x, np.ascontiguousarray(wt), stride=st, padding=pads, dilation=dil, groups=groups,
                                   layout=layout, out=out, **opts, **extra, **kw)

    run.step = step  # for FusedConvChain (kernels/onnx/ops/chain.py)
    return run


def _add_unfused(node: Node, y: np.ndarray, vals: Dict[str, Any], skip_add: Dict[str, Any], ws) -> np.ndarray:
    """The QAdd a QConv absorbed, for a skip tensor that broadcasts against the conv's output:
    QLinearAdd's formula tabulated over the byte pairs (ops/qadd_pool.py) and looked up."""
    from .qadd_pool import qadd_table

    skip = vals["skip"]
    if skip.dtype != y.dtype:
        raise TypeError(f"{node.describe()}: the skip tensor is {skip.dtype}, the output {y.dtype}: one type")
    yzp = vals.get("y_zp")
    table = qadd_table(vals["y_scale"], yzp if yzp is not None else 0, skip_add["skip_scale"], skip_add["skip_zero_point"],
                       skip_add["sum_scale"], skip_add["sum_zero_point"], y.dtype)
    shape = np.broadcast_shapes(y.shape, skip.shape)
    idx = np.left_shift(y.view(np.uint8), 8, dtype=np.uint16) | skip.view(np.uint8)
    out = ws.output(0, shape, y.dtype)
    np.take(table, np.broadcast_to(idx, shape), out=out)
    return out


_QLINEAR = dict(x=0, x_scale=1, x_zp=2, w=3, w_scale=4, w_zp=5, y_scale=6, y_zp=7, bias=8)


@register("ConvInteger", since=10)
def conv_integer(node: Node, opset: int, ctx: BuildContext) -> Kernel:
    return _conv_builder(node, opset, ctx, slots=dict(x=0, w=1, x_zp=2, w_zp=3), quant=False, fused=False)


@register("QLinearConv", since=10)
def qlinear_conv(node: Node, opset: int, ctx: BuildContext) -> Kernel:
    return _conv_builder(node, opset, ctx, slots=_QLINEAR, quant=True, fused=False)


# QConv's inputs past QLinearConv's: the float residual, then the skip addition of a fused QAdd
# (fuse_qdq.py: the skip tensor, its scale and zero point, the sum's scale and zero point).
_QCONV = dict(_QLINEAR, residual=9, skip=10, skip_scale=11, skip_zp=12, sum_scale=13, sum_zp=14)


@register("QConv", since=1, domain=HPC_DOMAIN)
def qconv(node: Node, opset: int, ctx: BuildContext) -> Kernel:
    return _conv_builder(node, opset, ctx, slots=_QCONV, quant=True, fused=True)


# -- matrix products ---------------------------------------------------------------------------

def _matmul(a: np.ndarray, b: np.ndarray, out_shape: tuple, run) -> np.ndarray:
    """run(a2, b2) with 1-D operands promoted to matrices (np.matmul's rule), reshaped back."""
    a2 = a.reshape(1, -1) if a.ndim == 1 else a
    b2 = b.reshape(-1, 1) if b.ndim == 1 else b
    return run(np.ascontiguousarray(a2), np.ascontiguousarray(b2)).reshape(out_shape)


def _gemm_builder(node: Node, opset: int, ctx: BuildContext, *, slots: Dict[str, int], quant: bool,
                  fused: bool) -> Kernel:
    check_attrs(node, opset, ("activation",) if fused else ())
    act = _activation(node, opset) if fused else ""
    names = {role: (node.inputs[i] if i < len(node.inputs) else "") for role, i in slots.items()}
    _check_int8(node, opset, ctx, [names["a"], names["b"]], "input")
    a_s, a_zp = ctx.constant(names.get("a_scale", "")), ctx.constant(names.get("a_zp", ""))
    if quant and a_s is not None and a_s.size != 1:
        raise unsupported(node, opset, f"a_scale of shape {a_s.shape} (per row)", "a scalar a_scale")
    if quant and a_zp is not None and a_zp.size != 1:
        raise unsupported(node, opset, f"a_zero_point of shape {a_zp.shape} (per row)", "a scalar a_zero_point")
    kw = int_kwargs(ctx, "qgemm")
    y_zp_dt = ctx.dtype(names.get("y_zp", ""))
    plan = _gemm_plan(node, opset, ctx, names, act) if quant else None
    # Each input's constant where it has one: a run's own input where given, else this (a conv
    # chain's Python path gives a QGemm step only its A).
    consts = {r: ctx.constant(names.get(r, "")) for r in slots}

    def step(xs: Tuple[int, ...], dtype: np.dtype, _second):
        """(output shape, the conv chain's "qgemm" step or None, output dtype) for an A of shape xs:
        a step where a run takes the plan (2-D A of the planned dtype): the plan is a 1x1 NHWC
        QConv2d over (M, 1, 1, K), run as a qconv step on those views of A and the output."""
        a_shape, dtype = tuple(xs), np.dtype(dtype)
        if plan is not None and len(a_shape) == 2 and dtype == plan[1]:
            f = plan[0].bind((a_shape[0], 1, 1, a_shape[1]), dtype)
            if f.chain_params is not None and f.out_dtype == plan[3]:
                return (a_shape[0], plan[2]), ("qgemm",) + f.chain_params, plan[3]
        b = consts["b"]
        if b is None:
            raise ValueError(f"{node.describe()}: B computed at run time cannot be a chain step")
        if not quant:
            dt = np.dtype(np.int32)
        elif consts.get("y_scale") is None:
            dt = np.dtype(np.float32)
        else:
            yzp = consts.get("y_zp")
            dt = yzp.dtype if yzp is not None else (y_zp_dt or dtype)
        return matmul_shape(a_shape, b.shape), None, dt

    def run(inputs, ws):
        v = {r: consts[r] if _input(inputs, i) is None else _input(inputs, i) for r, i in slots.items()}
        a, b = v["a"], v["b"]
        if plan is not None and a.ndim == 2 and a.dtype == plan[1]:
            out = ws.output(0, (a.shape[0], plan[2]), plan[3])
            plan[0](np.ascontiguousarray(a).reshape(a.shape[0], 1, 1, a.shape[1]), out=out.reshape(a.shape[0], 1, 1, plan[2]))
            return [out]
        shape = matmul_shape(a.shape, b.shape)
        azp = v.get("a_zp")
        if not quant and azp is not None and azp.size > 1 and np.any(azp != azp.reshape(-1)[0]):
            return [_matmul_integer_rows(a, b, azp, v.get("b_zp"), shape)]
        opts: Dict[str, Any] = dict(a_zero_point=_scalar(azp.reshape(-1)[:1].reshape(())) if azp is not None and azp.size
                                    else np.zeros((), a.dtype))
        if v.get("b_zp") is not None:
            opts["b_zero_point"] = _scalar(v["b_zp"])
        if v.get("bias") is not None:
            opts["bias"] = v["bias"]
        if v.get("residual") is not None:
            opts["residual"] = np.asarray(v["residual"], np.float32)  # broadcast by qgemm, as Add would
        if quant:
            opts.update(a_scale=_scale(v["a_scale"]), b_scale=_scale(v["b_scale"]))
            if v.get("y_scale") is not None:
                opts["out_scale"] = _scale(v["y_scale"])
                yzp = v.get("y_zp")
                opts["out_zero_point"] = _scalar(yzp) if yzp is not None else np.zeros((), y_zp_dt or a.dtype)
            if act:
                opts["activation"] = act
        if not quant:
            dt = np.dtype(np.int32)
        elif v.get("y_scale") is None:
            dt = np.dtype(np.float32)
        else:
            dt = np.asarray(opts["out_zero_point"]).dtype
        out = ws.output(0, shape, dt)
        if a.ndim >= 2 and b.ndim >= 2:
            return [hpc_kernels.qgemm(np.ascontiguousarray(a), np.ascontiguousarray(b), out=out, **opts, **kw)]
        r = _matmul(a, b, shape, lambda a2, b2: hpc_kernels.qgemm(a2, b2, **opts, **kw))
        out[...] = r
        return [out]

    run.step = step  # for FusedConvChain (kernels/onnx/ops/chain.py)
    return run


def _gemm_plan(node: Node, opset: int, ctx: BuildContext, names: Dict[str, str], act: str):
    """(plan, a dtype, N, out dtype) when every input but a is a constant, B is 2-D and there is no
    residual: B packed once at load as the 1x1 NHWC QConv2d plan of a (M, 1, 1, K) image (the same
    integer product and requantization as qgemm, which packs B on every call: ResNet-50's fc,
    2048 x 1000 at M = 1, 0.32 -> 0.10 ms). Else None (each run calls qgemm)."""
    if names.get("residual"):
        return None
    roles = ("a_scale", "a_zp", "b", "b_scale", "b_zp", "y_scale", "y_zp", "bias")
    vals = {r: ctx.constant(names.get(r, "")) for r in roles}
    if any(vals[r] is None and names.get(r) for r in roles) or vals["b"] is None or vals["a_scale"] is None:
        return None
    if vals["b"].ndim != 2 or vals["y_scale"] is None:
        return None
    b = vals["b"]
    n = b.shape[1]
    a_dt = ctx.dtype(names["a"]) or (vals["a_zp"].dtype if vals["a_zp"] is not None else np.dtype(np.uint8))
    y_zp = vals["y_zp"] if vals["y_zp"] is not None else np.zeros((), a_dt)
    opts: Dict[str, Any] = dict(
        x_zero_point=_scalar(vals["a_zp"]) if vals["a_zp"] is not None else np.zeros((), a_dt),
        w_zero_point=_scalar(vals["b_zp"]) if vals["b_zp"] is not None else 0, x_scale=_scale(vals["a_scale"]),
        w_scale=_scale(vals["b_scale"]), out_scale=_scale(vals["y_scale"]), out_zero_point=_scalar(y_zp))
    if vals["bias"] is not None:
        opts["bias"] = np.ascontiguousarray(vals["bias"])
    if act:
        opts["activation"] = act
    w = np.ascontiguousarray(b.T).reshape(n, b.shape[0], 1, 1)
    try:
        plan = hpc_kernels.QConv2d(w, layout="NHWC", **opts, **int_kwargs(ctx, "qconv2d"))
    except (TypeError, ValueError):
        return None  # options qgemm reports per call (a per-column zero point of a 1-D shape, ...)
    return plan, np.dtype(a_dt), n, np.asarray(y_zp).dtype


def _matmul_integer_rows(a, b, azp, bzp, shape) -> np.ndarray:
    """MatMulInteger with a per-row a_zero_point (M,): NumPy in int64, wrapped to int32 like the kernels."""
    a64 = a.astype(np.int64) - azp.astype(np.int64).reshape(-1, 1)
    b64 = b.astype(np.int64) - (0 if bzp is None else bzp.astype(np.int64))
    return np.matmul(a64, b64).astype(np.uint64).astype(np.uint32).view(np.int32).reshape(shape)


@register("MatMulInteger", since=10)
def matmul_integer(node: Node, opset: int, ctx: BuildContext) -> Kernel:
    return _gemm_builder(node, opset, ctx, slots=dict(a=0, b=1, a_zp=2, b_zp=3), quant=False, fused=False)


_QMATMUL = dict(a=0, a_scale=1, a_zp=2, b=3, b_scale=4, b_zp=5, y_scale=6, y_zp=7)


@register("QLinearMatMul", since=10)
def qlinear_matmul(node: Node, opset: int, ctx: BuildContext) -> Kernel:
    return _gemm_builder(node, opset, ctx, slots=_QMATMUL, quant=True, fused=False)


@register("QGemm", since=1, domain=HPC_DOMAIN)
def qgemm(node: Node, opset: int, ctx: BuildContext) -> Kernel:
    return _gemm_builder(node, opset, ctx, slots=dict(_QMATMUL, bias=8, residual=9), quant=True, fused=True)


__all__: List[str] = []
