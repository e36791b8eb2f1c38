"""The cpu backend's int8 operations: the C++ int8 engine (csrc/gemm/qgemm.cpp) through
hpc_kernels._cpu. Arguments arrive checked (kernels/_api/quantized.py); here they are put in the
engine's form: operands broadcast to one batch shape (views), the per-column vectors and the
epilogue's float32 constants exactly as quant_args.finish computes them."""
from __future__ import annotations

from typing import Dict, Optional, Tuple

import numpy as np

from ..._api.quant_args import QuantParams


# epilogue_args per QuantParams object (a QConv2d plan reuses its own for every call): the entry
# holds q, so its id cannot be reused by another object while it is here.
_EPILOGUES: Dict[int, Tuple[QuantParams, Tuple[Optional[np.ndarray], float, float]]] = {}


def epilogue_args(q: QuantParams) -> Tuple[Optional[np.ndarray], float, float]:
    """(multiplier per column or None, float32(1/out_scale), relu6's bound in output units)."""
    hit = _EPILOGUES.get(id(q))
    if hit is not None and hit[0] is q:
        return hit[1]
    args = _epilogue_args(q)
    if len(_EPILOGUES) >= 256:  # per-call params (qconv2d, qgemm) pass through; plans' stay
        _EPILOGUES.clear()
    _EPILOGUES[id(q)] = (q, args)
    return args


def _epilogue_args(q: QuantParams) -> Tuple[Optional[np.ndarray], float, float]:
    if q.mode == "int32":
        return None, 1.0, 6.0
    mult = np.ascontiguousarray(q.multiplier(), np.float32)
    if q.mode == "float":
        return mult, 1.0, 6.0
    inv = np.float32(np.float32(1) / q.out_scale)
    hi = np.float32(np.float32(6) / q.out_scale)
    return mult, float(inv), float(hi)


def qgemm(cpu, a: np.ndarray, b: np.ndarray, q: QuantParams, residual: Optional[np.ndarray], out: np.ndarray):
    batch = out.shape[:-2]
    a3 = np.broadcast_to(a, batch + a.shape[-2:])
    b3 = np.broadcast_to(b, batch + b.shape[-2:])
    mult, inv, hi = epilogue_args(q)
    cpu.qgemm(a3, b3, out, q.a_zero_point, q.b_zero_point, q.bias, q.mode, mult, inv, hi, q.activation,
              q.out_zero_point, residual)
    return out


# conv2d algorithm names the int8 convolution answers to: "im2col" (the lowered u8 matrix; a
# pointwise layer reads the image in place) and "gemm" (pointwise layers only).
ALGORITHMS = ("im2col", "gemm")


def check_algorithm(spec, shape, algorithm: str) -> None:
    if algorithm not in ("auto",) + ALGORITHMS:
        raise ValueError(f"qconv2d: the cpu backend's int8 convolution implements 'auto', 'im2col' and 'gemm', "
                         f"got {algorithm!r}")
    if algorithm == "gemm" and not (shape.r == shape.s == 1 and spec.stride == (1, 1) and shape.padding == (0, 0, 0, 0)):
        raise ValueError("qconv2d: algorithm 'gemm' needs a 1x1 kernel, stride 1 and no padding")


def _add_args(q: QuantParams):
    """The skip addition's (ra, rb, k) as the entry takes them, or None."""
    return None if q.skip is None else tuple(float(v) for v in q.skip)


def _nchw(a: Optional[np.ndarray], layout: str) -> Optional[np.ndarray]:
    """An (n, c, h, w) view of an array of either layout (zero-copy)."""
    return a if a is None or layout == "NCHW" else a.transpose(0, 3, 1, 2)


def bind_qconv2d(cpu, packed, q: QuantParams, spec, shape, algorithm: str):
    """qconv2d_packed for one activation shape with every other argument put in the entry's form
    once: f(x, out, residual) makes the one C++ call (which checks x, out and residual against the
    geometry itself). What an ONNX session calls per QConv node: the ~20 us of per-call Python of
    QConv2d.__call__ was 10% of a QDQ ResNet-50 at 1 thread, and on 2 threads it let the OpenMP team
    fall asleep between nodes (GOMP_SPINCOUNT)."""
    check_algorithm(spec, shape, algorithm)
    mult, inv, hi = epilogue_args(q)
    head = (packed.weights,)
    tail = (spec.stride, shape.padding, spec.dilation, spec.groups, q.a_zero_point, q.b_zero_point, q.bias, q.mode,
            mult, inv, hi, q.activation, q.out_zero_point)
    run, nhwc = cpu.qconv2d, spec.layout == "NHWC"
    add = _add_args(q)

    def call(x, out, residual=None, skip=None):
        if nhwc:  # the entry takes (n, c, h, w) views whatever the layout
            if residual is not None:
                residual = residual.transpose(0, 3, 1, 2)
            if skip is not None:
                skip = skip.transpose(0, 3, 1, 2)
            run(x.transpose(0, 3, 1, 2), *head, out.transpose(0, 3, 1, 2), *tail, residual, packed, skip, add)
        else:
            run(x, *head, out, *tail, residual, packed, skip, add)
        return out

    # The same call as a step of the conv chain (csrc/bindings/qconv_entry.hpp): its parameters
    # after ("qconv", x, out, skip), the arrays' (n, c, h, w) views made there.
    call.chain_params = (nhwc,) + head + tail + (packed, add)
    return call


def qconv2d(cpu, x, w, q: QuantParams, spec, shape, algorithm: str, out, residual, packed=None, skip=None):
    check_algorithm(spec, shape, algorithm)
    r = _nchw(residual, spec.layout)
    if r is not None and shape.ho > 1 and r.strides[2] != shape.wo * r.strides[3]:
        r = np.ascontiguousarray(r)  # (a broadcast residual whose pixels are not one stride: an input, copied)
    s = _nchw(skip, spec.layout)
    if s is not None and shape.ho > 1 and s.strides[2] != shape.wo * s.strides[3]:
        s = np.ascontiguousarray(s)  # (the same for the skip tensor: an input)
    add = _add_args(q)
    mult, inv, hi = epilogue_args(q)
    wc = packed.weights if packed is not None else np.ascontiguousarray(w)
    cpu.qconv2d(_nchw(x, spec.layout), wc, _nchw(out, spec.layout), spec.stride, shape.padding, spec.dilation,
                spec.groups, q.a_zero_point, q.b_zero_point, q.bias, q.mode, mult, inv, hi, q.activation,
                q.out_zero_point, r, packed, s, add)
    return out
