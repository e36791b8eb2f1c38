"""QAdd and QGlobalAveragePool (HPC_DOMAIN): DQ(a) + DQ(b) -> Q and DQ -> GlobalAveragePool -> Q as
integer nodes (kernels/onnx/_passes/fuse_qdq.py makes them) with onnxruntime's arithmetic for
QLinearAdd and QLinearGlobalAveragePool: the residual Add and the final pooling of a QDQ CNN.

Inputs [a, a_scale, a_zero_point, b, b_scale, b_zero_point, c_scale, c_zero_point] (scalar scales
and zero points, a, b and c of one 8-bit type). onnxruntime fuses the same pattern into QLinearAdd,
whose x86 kernel (MLAS qladd_avx2.cpp) computes, in float32 with fused multiply-adds,
    ra = a_scale / c_scale, rb = b_scale / c_scale, k = c_zp - fma(ra, a_zp, rb * b_zp)
    c = saturate(round_half_even(fma(a, ra, fma(b, rb, k))))
which differs from the float graph's (DQ(a) + DQ(b)) / c_scale in about 1 element in 2*10^5 (a
value within float32 rounding of a .5 tie); measured bit-identical to onnxruntime on 2.6M random
elements. An fma is emulated in float64: the 8-bit-by-float32 product is exact there, and so is its
sum with a float32 unless the exponents lie more than 29 bits apart (then at most a double rounding).
Broadcasting operands run through the same formula (onnxruntime adds a scalar b to k first: it may
differ by a step there). On the cpu backend hpc_kernels._cpu.qadd evaluates the formula with real
float32 FMAs (AVX-512, AVX2 or a portable loop, csrc/ops/qadd.hpp); elsewhere, and for broadcasting
operands, it is tabulated over the 256 x 256 input pairs (see qadd) and looked up.
"""
from __future__ import annotations

from typing import Tuple

import numpy as np

from ..._api.quant_args import qadd_formula, qadd_params
from .._ir import HPC_DOMAIN, Node
from .._registry import BuildContext, Kernel, register, unsupported
from ._common import check_attrs, cpu_op

_F32 = np.float32


def qadd_table(sa, za, sb, zb, sc, zc, dtype) -> np.ndarray:
    """The result for every pair of 8-bit inputs: table[(a_byte << 8) | b_byte] (raw bytes, so int8
    indexes as its two's complement), by the formula above (quant_args.qadd_formula)."""
    ra, rb, k = qadd_params(sa, za, sb, zb, sc, zc)
    codes = np.arange(256, dtype=np.uint8).view(dtype)  # the value of each byte
    return qadd_formula(codes[:, None], codes[None, :], ra, rb, k, dtype).reshape(-1)


@register("QAdd", since=1, domain=HPC_DOMAIN)
def qadd(node: Node, opset: int, ctx: BuildContext) -> Kernel:
    """On the cpu backend, operands of one shape: _cpu.qadd, the formula in float32 vectors (one
    pass; 56x56x256 uint8, 1 thread, warm: 0.048 ms against the table lookup's 0.164; QDQ
    ResNet-50's 16 Adds: 2.3-2.8 -> ~0.8 ms per run in the session profile). Otherwise the two 8-bit operands
    take 65536 values at most: the formula is evaluated once per parameter set into a table and
    each run looks the pairs up: 4 integer passes instead of 10 float64 ones."""
    check_attrs(node, opset, ())
    if len(node.inputs) != 8:
        raise unsupported(node, opset, f"{len(node.inputs)} inputs", "8 (a, scale, zero point, b, ..., c_scale, c_zero_point)")
    params = [ctx.constant(node.inputs[i]) for i in (1, 2, 4, 5, 6, 7)]
    tables, ratios = {}, {}

    def key_of(vals) -> tuple:
        return tuple(float(v) if i % 2 == 0 else int(v) for i, v in enumerate(vals)) + (vals[-1].dtype.str,)

    def params_of(vals) -> tuple:
        key = key_of(vals)
        r = ratios.get(key)
        if r is None:
            r = ratios.setdefault(key, qadd_params(*key[:6]))
        return r

    def table_of(vals) -> np.ndarray:
        key = key_of(vals)
        t = tables.get(key)
        if t is None:
            params_of(vals)  # the same ValueError as the cpu path for unusable scales
            t = tables.setdefault(key, qadd_table(*key[:6], vals[-1].dtype))
        return t

    vector = cpu_op(ctx.backend, "qadd")
    if all(p is not None for p in params):
        params_of(params)  # checked at load
        if vector is None:
            table_of(params)  # built at load

    def run(inputs, ws):
        a, sa, za, b, sb, zb, sc, zc = inputs
        dt = zc.dtype
        if a.dtype != dt or b.dtype != dt:
            raise TypeError(f"{node.describe()}: a {a.dtype}, b {b.dtype} and c {dt} must have one type")
        shape = np.broadcast_shapes(a.shape, b.shape)
        if vector is not None and a.shape == b.shape == shape and a.flags.c_contiguous and b.flags.c_contiguous:
            ra, rb, k = params_of([sa, za, sb, zb, sc, zc])
            out = ws.output(0, shape, dt)
            vector(a, b, out, float(ra), float(rb), float(k))  # one pass in C++ (csrc/ops/qadd.cpp)
            return [out]
        table = table_of([sa, za, sb, zb, sc, zc])
        idx = ws.scratch(shape, np.uint16)
        np.left_shift(a.view(np.uint8), 8, out=idx, dtype=np.uint16)
        np.bitwise_or(idx, b.view(np.uint8), out=idx)
        out = ws.output(0, shape, dt)
        np.take(table, idx, out=out)
        return [out]

    return run


@register("QGlobalAveragePool", since=1, domain=HPC_DOMAIN)
def qglobal_average_pool(node: Node, opset: int, ctx: BuildContext) -> Kernel:
    """DQ -> GlobalAveragePool -> Q (fuse_qdq.py) as onnxruntime's QLinearGlobalAveragePool computes
    it (MLAS qlgavgpool.cpp, x86): acc = sum(x) - x_zp * n in int32 over the n pixels, then
    saturate(round_half_even(float32(acc) * s) + y_zp) with s = float32(x_scale / float32(y_scale * n)).
    Inputs [x, x_scale, x_zero_point, y_scale, y_zero_point]; node.layout NCHW or NHWC (4-D);
    attribute flatten=1 (fuse_pool_flatten.py): the output is the (N, C) matrix. On the cpu backend
    hpc_kernels._cpu.qglobal_avg_pool, also as a conv chain's step (ops/chain.py); else NumPy."""
    check_attrs(node, opset, ("flatten",))
    layout = node.layout or "NCHW"
    flatten = bool(node.attr("flatten", 0))
    # The scales and zero points from the constants where they are (what a chain step is given),
    # else from each run's inputs.
    consts = [ctx.constant(v) for v in node.inputs[1:5]] + [None] * (5 - len(node.inputs))
    cpu_pool = cpu_op(ctx.backend, "qglobal_avg_pool")

    def params(x_shape, inputs):
        sx, zx, sy, zy = (c if c is not None else (inputs[i + 1] if len(inputs) > i + 1 else None)
                          for i, c in enumerate(consts[:4]))
        if sx is None or sy is None or zy is None:
            raise ValueError(f"{node.describe()}: needs x_scale, y_scale and y_zero_point")
        axes = (2, 3) if layout == "NCHW" else (1, 2)
        n = x_shape[axes[0]] * x_shape[axes[1]]
        zx = zx if zx is not None else np.zeros((), zy.dtype)
        s = _F32(_F32(sx) / _F32(_F32(sy) * _F32(n)))
        return axes, n, zx, zy, s

    def out_shape(xs):
        c = xs[1] if layout == "NCHW" else xs[3]
        if flatten:
            return (xs[0], c)
        return (xs[0], c, 1, 1) if layout == "NCHW" else (xs[0], 1, 1, c)

    def run(inputs, ws):
        x = inputs[0]
        if x.ndim != 4:
            raise ValueError(f"{node.describe()}: expects a 4-D input, got shape {x.shape}")
        axes, n, zx, zy, s = params(x.shape, inputs)
        out = ws.output(0, out_shape(x.shape), zy.dtype)
        if cpu_pool is not None and type(x) is np.ndarray and x.dtype == zy.dtype and n > 0:
            cpu_pool(x, out, layout, int(zx), int(zy), float(s))
            return [out]
        # int32 sums while 8-bit values cannot overflow them (half the time of int64's); NHWC as
        # one reduction over the pixel axis of an (N, H*W, C) view.
        acc_dt = np.int32 if n < 2 ** 23 else np.int64
        if layout == "NHWC" and x.flags.c_contiguous:
            acc = x.reshape(x.shape[0], n, x.shape[3]).sum(axis=1, dtype=acc_dt)
        else:
            acc = x.sum(axis=axes, dtype=acc_dt)
        acc = acc.astype(np.int64) - int(zx) * n
        u = np.rint(acc.astype(_F32) * s) + _F32(int(zy))
        info = np.iinfo(zy.dtype)
        np.copyto(out, np.clip(u, info.min, info.max).reshape(out.shape), casting="unsafe")
        return [out]

    def step(xs: Tuple[int, ...], dtype: np.dtype, _second):
        """(output shape, the conv chain's "qglobal_avg_pool" step or None, output dtype)."""
        if len(xs) != 4:
            raise ValueError(f"{node.describe()}: expects a 4-D input, got shape {tuple(xs)}")
        _, n, zx, zy, s = params(tuple(xs), [])
        ok = cpu_pool is not None and np.dtype(dtype) == zy.dtype and n > 0
        return out_shape(tuple(xs)), (("qglobal_avg_pool", layout, int(zx), int(zy), float(s)) if ok else None), zy.dtype

    if all(c is not None for c in (consts[0], consts[2], consts[3])):
        run.step = step  # (a chain step only with constant scales: the chain gives it only x)
    return run
