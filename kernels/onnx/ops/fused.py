"""Kernels of FusedConv and FusedGemm (HPC_DOMAIN), the nodes kernels/onnx/_passes/fuse_conv.py
and fuse_gemm.py make.

FusedConv: inputs [X, W, B or "", residual (optional)], attributes of Conv plus `activation`
("", "relu", "relu6"); y = act(conv(X, W) + B + residual), in node.layout ("NCHW" default, or
"NHWC" from the layout pass). Built once at load as an hpc_kernels.Conv2d plan: the constant
weights are checked and packed once, bias and activation go into the GEMM epilogue; each run
writes into the session's buffer (out=ws.output(...)), so a steady-state run allocates nothing.
"""
from __future__ import annotations

import inspect
from typing import Dict, Tuple

import numpy as np

from ..._api.conv import Conv2d
from .._ir import HPC_DOMAIN, Node
from .._registry import BuildContext, Kernel, register, unsupported
from ._common import check_attrs
from ._pool import runs_in_engine, same_padding

# Conv2d.__call__(x, out=None, residual=None) (the `residual` branch, merged here) adds the
# residual in the GEMM epilogue before the activation. Checked rather than assumed so that this
# module also runs on a tree without it: the residual is then added with NumPy after the conv and
# the activation applied after that (the path a broadcasting residual always takes).
_EPILOGUE_RESIDUAL = "residual" in inspect.signature(Conv2d.__call__).parameters
_ACTIVATIONS = ("", "relu", "relu6")


def _pair(node: Node, opset: int, key: str, default) -> Tuple[int, int]:
    v = [int(a) for a in node.attr(key, default)]
    if len(v) != 2:
        raise unsupported(node, opset, f"{key}={v}", "2 values (2-D convolution)")
    return v[0], v[1]


@register("FusedConv", since=1, domain=HPC_DOMAIN)
def fused_conv(node: Node, opset: int, ctx: BuildContext) -> Kernel:
    check_attrs(node, opset, ("activation", "auto_pad", "dilations", "group", "kernel_shape", "pads", "strides"))
    w = ctx.constant(node.inputs[1])
    if w is None or w.ndim != 4:
        raise unsupported(node, opset, "weights computed at run time or not 4-D", "constant (K, C/group, kH, kW) weights")
    if w.dtype not in (np.float32, np.float64):
        raise unsupported(node, opset, f"dtype {w.dtype}", "float32, float64")
    # precision="bf16": the plans hold bf16 weights (rounded once, here); x is rounded per call.
    bf16 = _bf16_type() if ctx.precision == "bf16" and w.dtype == np.float32 else None
    if bf16 is not None:
        w = w.astype(bf16)
        to_bf16 = _rounder(ctx.backend, bf16)
    bias_name = node.inputs[2] if len(node.inputs) > 2 else ""
    b = ctx.constant(bias_name)
    if bias_name and b is None:
        raise unsupported(node, opset, "a bias computed at run time", "a constant bias")
    has_res = len(node.inputs) > 3 and bool(node.inputs[3])
    act = node.attr("activation", "") or ""
    if isinstance(act, bytes):
        act = act.decode()
    if act not in _ACTIVATIONS:
        raise unsupported(node, opset, f"activation={act!r}", "'', 'relu', 'relu6'")
    layout = node.layout or "NCHW"
    if layout not in ("NCHW", "NHWC"):
        raise unsupported(node, opset, f"layout {layout!r}", "'NCHW', 'NHWC'")
    k, _, kh, kw = w.shape
    ks = node.attr("kernel_shape")
    if ks is not None and tuple(int(v) for v in ks) != (kh, kw):
        raise unsupported(node, opset, f"kernel_shape={list(ks)} with weights {w.shape}", "kernel_shape equal to W's spatial shape")
    stride, dil = _pair(node, opset, "strides", (1, 1)), _pair(node, opset, "dilations", (1, 1))
    group = int(node.attr("group", 1))
    auto_pad = node.attr("auto_pad", "NOTSET")
    if isinstance(auto_pad, bytes):
        auto_pad = auto_pad.decode()
    if auto_pad not in ("NOTSET", "VALID", "SAME_UPPER", "SAME_LOWER"):
        raise unsupported(node, opset, f"auto_pad={auto_pad!r}", "NOTSET, VALID, SAME_UPPER, SAME_LOWER")
    pads = [int(p) for p in node.attr("pads", (0, 0, 0, 0))] if auto_pad == "NOTSET" else [0, 0, 0, 0]
    if len(pads) != 4 or min(pads) < 0:
        raise unsupported(node, opset, f"pads={pads}", "4 values >= 0")
    # The activation runs in the plan's epilogue unless the residual is added after the conv with
    # NumPy: then the conv stops at conv + bias (a second plan, made only when that path runs).
    options = dict(stride=stride, dilation=dil, groups=group, layout=layout, backend=ctx.backend)
    epilogue_act = (act or None) if (not has_res or _EPILOGUE_RESIDUAL) else None

    # The weights a later plan is made from: w until a plan holds its own copy, then that copy
    # (w, an initializer, is freed by the session once no kernel reads it: see below).
    source = {"w": w}

    def make(padding, activation) -> Conv2d:
        wt = source["w"] if source["w"] is not None else next(iter(plans.values())).weights
        try:
            return Conv2d(wt, b, padding=padding, activation=activation, **options)
        except (TypeError, ValueError) as exc:  # an option the plan rejects: a load-time error
            raise unsupported(node, opset, str(exc), "what hpc_kernels.Conv2d accepts") from None

    def padding_of(h: int, wd: int) -> Tuple[int, int, int, int]:
        if auto_pad.startswith("SAME"):
            up = auto_pad == "SAME_UPPER"
            _, t, bt = same_padding(h, kh, stride[0], dil[0], up)
            _, l, r = same_padding(wd, kw, stride[1], dil[1], up)
            return (t, bt, l, r)
        return (pads[0], pads[2], pads[1], pads[3])  # ONNX (t, l, b, r) -> conv2d (t, b, l, r)

    # Plans by (padding, activation), each packed once. SAME padding depends on the input size
    # unless the stride is 1 (a model with a fixed input size still has one plan); otherwise the
    # plan is made here, so that the weights are packed and checked at load.
    plans: Dict[tuple, Conv2d] = {}
    if not auto_pad.startswith("SAME") or stride == (1, 1):
        pad0 = padding_of(kh, kw)
        plans[(pad0, epilogue_act)] = make(pad0, epilogue_act)
        source["w"] = None
        ctx.consume(node.inputs[1], bias_name)  # the plans hold w and b; the kernel never reads them
    hax = (2, 3) if layout == "NCHW" else (1, 2)

    def plan_for(pad, activation) -> Conv2d:
        p = plans.get((pad, activation))
        if p is None:
            p = plans.setdefault((pad, activation), make(pad, activation))
        return p

    def geometry(xs: Tuple[int, ...]):
        """(padding, output shape) for an input of shape xs."""
        if len(xs) != 4:
            raise ValueError(f"{node.describe()}: X must be 4-D, got shape {tuple(xs)}")
        h, wd = xs[hax[0]], xs[hax[1]]
        pad = padding_of(h, wd)
        ho = (h + pad[0] + pad[1] - dil[0] * (kh - 1) - 1) // stride[0] + 1
        wo = (wd + pad[2] + pad[3] - dil[1] * (kw - 1) - 1) // stride[1] + 1
        return pad, ((xs[0], k, ho, wo) if layout == "NCHW" else (xs[0], ho, wo, k))

    calls: Dict[tuple, object] = {}  # (x shape, padding) -> the call running the epilogue plan

    def conv_bf16(inputs, ws):
        """precision="bf16": x rounded to bf16, the bf16 plan with fp32 output (epilogue in fp32)."""
        x = inputs[0]
        if x.dtype != np.float32:
            raise TypeError(f"{node.describe()}: X must be float32 (the bf16 session's activations), got {x.dtype}")
        pad, shape = geometry(x.shape)
        res = inputs[3] if has_res else None
        xb = to_bf16(x, ws)
        if res is None or (_EPILOGUE_RESIDUAL and tuple(res.shape) == shape and res.dtype == np.float32):
            out = ws.output(0, shape, np.float32)
            plan_for(pad, epilogue_act)(xb, out=out, residual=res, out_dtype=np.float32)
            return [out]
        t = plan_for(pad, None)(xb, out_dtype=np.float32)  # a broadcasting residual: NumPy's add, then act
        y = ws.output(0, np.broadcast_shapes(shape, res.shape), np.result_type(t, res))
        np.add(t, res, out=y)
        if act:
            np.clip(y, 0, 6 if act == "relu6" else None, out=y)
        return [y]

    def conv(inputs, ws):
        x = inputs[0]
        pad, shape = geometry(x.shape)
        res = inputs[3] if has_res else None
        if res is None or (_EPILOGUE_RESIDUAL and tuple(res.shape) == shape and res.dtype == x.dtype):
            call = calls.get((x.shape, pad))
            if call is None:
                call = calls.setdefault((x.shape, pad), _call_of(plan_for(pad, epilogue_act), x))
            return [call(x, ws.output(0, shape, x.dtype), res)]
        # NumPy residual: a broadcasting residual (Add's semantics allow it), or a tree without
        # the epilogue residual. The conv runs without its activation, applied after the add.
        plan = plan_for(pad, None)
        if tuple(res.shape) == shape:
            y = plan(x, out=ws.output(0, shape, x.dtype))
            np.add(y, res, out=y)
        else:
            t = plan(x)
            y = ws.output(0, np.broadcast_shapes(shape, res.shape), np.result_type(t, res))
            np.add(t, res, out=y)
        if act:
            np.clip(y, 0, 6 if act == "relu6" else None, out=y)
        return [y]

    def step(xs: Tuple[int, ...], dtype: np.dtype, res_shape):
        """(output shape, the conv2d_chain step's (weights, stride, padding, dilation, algorithm))
        for an input of shape xs; the step is None where a run takes the Python path (another
        backend or dtype, a broadcasting residual). Raises what conv() would for a bad input."""
        pad, shape = geometry(xs)
        if bf16 is not None or (res_shape is not None and (not _EPILOGUE_RESIDUAL or tuple(res_shape) != shape)):
            return shape, None
        return shape, _cpu_step(plan_for(pad, epilogue_act), xs, dtype)

    def on_device(x, res):
        """The conv of device array x (and device residual res, or None) into a new device array,
        or None where the residual broadcasts (the chain then runs through the host)."""
        pad, shape = geometry(tuple(x.shape))
        if res is not None and (not _EPILOGUE_RESIDUAL or tuple(res.shape) != shape):
            return None
        plan = plan_for(pad, epilogue_act)
        return plan(x) if res is None else plan(x, residual=res)

    # ctx.threads is not applied here: the session runs the whole graph under its thread count
    # (hpc_kernels.num_threads), and the plan's calls take the calling thread's count.
    if bf16 is not None:
        conv_bf16.step = step  # (None steps: a chain would run it through this kernel)
        return conv_bf16
    conv.step = step  # for FusedConvChain (kernels/onnx/ops/chain.py)
    conv.on_device = on_device
    return conv


@register("FusedGemm", since=1, domain=HPC_DOMAIN)
def fused_gemm(node: Node, opset: int, ctx: BuildContext) -> Kernel:
    """Gemm with a constant B (kernels/onnx/_passes/fuse_gemm.py): B kept as (K, N) row-major
    (transposed once here when transB), beta*C folded once (in float64), Relu applied in place."""
    import hpc_kernels

    check_attrs(node, opset, ("activation", "alpha", "beta", "transA", "transB"))
    b = ctx.constant(node.inputs[1])
    if b is None or b.ndim != 2 or b.dtype not in (np.float32, np.float64):
        raise unsupported(node, opset, "B computed at run time, not 2-D or not float32/float64", "a constant 2-D float B")
    c_name = node.inputs[2] if len(node.inputs) > 2 else ""
    c = ctx.constant(c_name)
    if c_name and c is None:
        raise unsupported(node, opset, "C computed at run time", "a constant C")
    alpha, beta = float(node.attr("alpha", 1.0)), float(node.attr("beta", 1.0))
    ta, tb = bool(node.attr("transA", 0)), bool(node.attr("transB", 0))
    act = node.attr("activation", "") or ""
    if act not in ("", "relu"):
        raise unsupported(node, opset, f"activation={act!r}", "'', 'relu'")
    bkn = np.ascontiguousarray(b.T if tb else b)  # (K, N): the order the engine packs fastest
    kdim, n = bkn.shape
    bias = None if c is None or beta == 0.0 else (beta * c.astype(np.float64)).astype(b.dtype)
    if bias is not None:
        try:
            np.broadcast_shapes(bias.shape, (1, n))
        except ValueError:
            raise unsupported(node, opset, f"C of shape {c.shape} with N={n}", "C broadcastable to (M, N)") from None
    backend = ctx.backend
    ctx.consume(node.inputs[1], c_name)  # run() reads bkn and bias, its own forms of B and C
    if ctx.precision == "bf16" and bkn.dtype == np.float32:
        return _gemm_bf16(node, bkn.astype(_bf16_type()), bias, alpha, ta, act, backend)

    def run(inputs, ws):
        a = inputs[0]
        if a.dtype != bkn.dtype or a.ndim != 2:
            raise ValueError(f"{node.describe()}: A must be a 2-D {bkn.dtype} array, got {a.dtype} {a.shape}")
        a = np.ascontiguousarray(a.T if ta else a)
        if a.shape[1] != kdim:
            raise ValueError(f"{node.describe()}: A has {a.shape[1]} columns (after transA) but B has {kdim} rows")
        out = ws.output(0, (a.shape[0], n), a.dtype)
        hpc_kernels.gemm(a, bkn, alpha=alpha, out=out, backend=backend)
        if bias is not None:
            out += bias  # broadcast (N,) / (1, N) / (M, N) / scalar, as Gemm's C
        if act:
            np.maximum(out, 0, out=out)
        return [out]

    # As a conv chain's op step (kernels/onnx/ops/chain.py, csrc/bindings/chain_ops.hpp): the same
    # operations in the same order, a C that is one row as the (N,) vector added to every row.
    bias_row = None
    if bias is not None and bias.ndim <= 2 and bias.size in (1, n) and (bias.ndim < 2 or bias.shape[0] == 1):
        bias_row = np.ascontiguousarray(np.broadcast_to(bias, (1, n)).reshape(n))
    engine = runs_in_engine(backend, bkn.dtype)

    def step(xs: Tuple[int, ...], dtype: np.dtype, res_shape):
        if len(xs) != 2 or np.dtype(dtype) != bkn.dtype:
            raise ValueError(f"{node.describe()}: A must be a 2-D {bkn.dtype} array, got {np.dtype(dtype)} {tuple(xs)}")
        rows, cols = (xs[1], xs[0]) if ta else (xs[0], xs[1])
        if cols != kdim:
            raise ValueError(f"{node.describe()}: A has {cols} columns (after transA) but B has {kdim} rows")
        ok = engine and (bias is None or bias_row is not None)
        return (rows, n), ("gemm", bkn, bias_row, alpha, ta, bool(act)) if ok else None

    run.step = step
    return run


def _bf16_type() -> np.dtype:
    from ..._api.bf16 import bf16_dtype

    return bf16_dtype()


def _rounder(backend, bf16: np.dtype):
    """to_bf16(x, ws): float32 x rounded to bf16 (nearest, ties to even), in a scratch buffer of the
    run. The cpu backend's C++ pass (_cpu.round_bf16: 56x56x64, 0.15 -> 0.04 ms against ml_dtypes' astype), else astype."""
    ext = None
    if backend in (None, "cpu"):
        from ..._extension import cpu_extension

        ext = getattr(cpu_extension()[0], "round_bf16", None)

    def to_bf16(x: np.ndarray, ws) -> np.ndarray:
        if ext is None or type(x) is not np.ndarray:
            return x.astype(bf16)
        x = np.ascontiguousarray(x)
        bits = ws.scratch(x.shape, np.uint16)
        ext(x, bits)
        return bits.view(bf16)

    return to_bf16


def _gemm_bf16(node: Node, bkn, bias, alpha: float, ta: bool, act: str, backend) -> Kernel:
    """FusedGemm with precision="bf16": B (K, N) already bf16; A rounded to bf16 per call; the product
    accumulated and written in fp32, then C and Relu in fp32 as the fp32 kernel adds them."""
    import hpc_kernels

    kdim, n = bkn.shape
    to_bf16 = _rounder(backend, bkn.dtype)

    def run(inputs, ws):
        a = inputs[0]
        if a.dtype != np.float32 or a.ndim != 2:
            raise ValueError(f"{node.describe()}: A must be a 2-D float32 array, got {a.dtype} {a.shape}")
        a = to_bf16(a.T if ta else a, ws)
        if a.shape[1] != kdim:
            raise ValueError(f"{node.describe()}: A has {a.shape[1]} columns (after transA) but B has {kdim} rows")
        out = ws.output(0, (a.shape[0], n), np.float32)
        hpc_kernels.gemm(a, bkn, alpha=alpha, out=out, out_dtype=np.float32, backend=backend)
        if bias is not None:
            out += bias
        if act:
            np.maximum(out, 0, out=out)
        return [out]

    return run


def _cpu_step(plan: Conv2d, xs: Tuple[int, ...], dtype: np.dtype):
    """(packed weights, stride, padding, dilation, algorithm): the arguments of the C++ entry
    (hpc_kernels._cpu.conv2d_packed) that run `plan` on an input of shape xs, or None when the plan
    is not the cpu backend's or dtype is not its dtype. The algorithm is chosen here, once per shape."""
    from ..._api import conv_args as A

    be = getattr(plan._run, "__self__", None)
    if getattr(be, "name", None) != "cpu" or dtype != plan.dtype:
        return None
    spec = plan.spec
    shape = A.shape_of("Conv2d", xs, plan.weight_shape, spec)
    algo = be.choose_algorithm(shape, spec, plan.dtype, plan.algorithm, fn="Conv2d")
    return plan._packed, spec.stride, shape.padding, spec.dilation, algo


def _call_of(plan: Conv2d, x: np.ndarray):
    """call(x, out, residual) running `plan` on inputs shaped like x.

    On the cpu backend with NumPy arrays: the C++ entry directly, with the algorithm chosen once
    for this shape. Conv2d.__call__ normalises and checks its arguments in Python on every call
    (about 10 us, against 1 us for the C++ call of a small layer: 0.5 ms of MobileNetV2's 52
    convs); the C++ entry re-checks every array itself (dtype, shape, strides, overlap,
    writability), so skipping the Python layer skips no check that guards memory. Elsewhere,
    the plan's own call."""
    step = _cpu_step(plan, x.shape, x.dtype) if type(x) is np.ndarray else None
    if step is not None:
        from ...backends.cpu import _cpu

        packed, stride, padding, dilation, algo = step
        run = _cpu.conv2d_packed

        def direct(x, out, res):
            if type(x) is not np.ndarray:  # another array type after all: the checked path
                return plan(x, out=out) if res is None else plan(x, out=out, residual=res)
            if res is None:
                run(packed, x, out, stride, padding, dilation, algo)
            else:
                run(packed, x, out, stride, padding, dilation, algo, res)
            return out

        return direct

    def checked(x, out, res):
        return plan(x, out=out) if res is None else plan(x, out=out, residual=res)

    return checked
