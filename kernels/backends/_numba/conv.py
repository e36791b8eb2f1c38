"""conv2d, im2col and Conv2d plans of the numba backend on the packed GEMM kernel.

NCHW: per image and group Y (K/g x Ho*Wo) = W (K/g x C/g*R*S) cols, the pixels being the GEMM's
vector dimension (and the epilogue per row); NHWC: Y (Ho*Wo x K/g) = cols^T W'^T with W' the
weights in (r, s, c) order, channels the vector dimension (epilogue per column). The cols operand
is gathered from x while packing (convgemm) or lowered into a scratch matrix first (im2col).
Algorithms: "convgemm", "im2col"; "gemm" (1x1, stride 1, no padding) runs the convgemm path,
whose gather is then a plain copy of rows of x; "direct" runs the depthwise kernel for depthwise
layers and the convgemm path for the others (the implicit GEMM also reads x in place, with no
lowered matrix).
"""
from __future__ import annotations

from typing import NamedTuple, Optional

import numba
import numpy as np

from ... import _validation as v
from . import operands as ops
from .depthwise import depthwise
from .gemm import EPI_COLS, EPI_ROWS, lower_at
from .linalg import check_output_strides, input_array, run
from .pack import D_STEP1, D_STEP2


class Weights(NamedTuple):
    """What a plan keeps: the weights reordered once for its layout (a (K, C/g*R*S) matrix in the
    layout's reduction order, or depthwise taps) and the (K,) vectors."""

    matrix: np.ndarray  # NCHW: (K, C/g*R*S) in (c, r, s) order; NHWC: (K, R*S*C/g) in (r, s, c) order
    taps: Optional[np.ndarray]  # depthwise: (C, R*S) for NCHW, (R*S, C) for NHWC, flattened
    bias: Optional[np.ndarray]
    scale: Optional[np.ndarray]
    shift: Optional[np.ndarray]


def prepare(w, bias, scale, shift, spec) -> Weights:
    k = w.shape[0]
    if spec.layout == "NCHW":
        mat = np.ascontiguousarray(w).reshape(k, -1)
    else:
        mat = np.ascontiguousarray(w.transpose(0, 2, 3, 1)).reshape(k, -1)
    taps = None
    if spec.groups == k and w.shape[1] == 1:  # depthwise (K == groups, one channel each)
        t = w.reshape(k, -1)
        taps = np.ascontiguousarray(t if spec.layout == "NCHW" else t.T).reshape(-1)
    return Weights(mat, taps, bias, scale, shift)


def conv2d(wts: Weights, x, spec, shape, algorithm: str, out):
    x = input_array(np.asarray(x))
    dt = x.dtype
    if out is None:
        out = np.empty(shape.out_shape(spec.layout), dt)
    else:
        v.check_output("conv2d", "out", out, dt, shape.out_shape(spec.layout), (x, wts.matrix))
        check_output_strides("conv2d", "out", out)
    if out.size == 0:
        return out
    depthwise_layer = spec.groups == shape.c == shape.k
    nhwc = spec.layout == "NHWC"
    if algorithm == "direct" and depthwise_layer:
        axis = EPI_COLS if nhwc else EPI_ROWS
        ed = ops.epilogue(wts.bias, wts.scale, wts.shift, spec.activation, axis, 0)
        depthwise(shape.n, shape.c, shape.ho, ops.conv_input(x, spec, shape), wts.taps,
                  ops.conv_input(out, spec, shape), ed, nhwc)
        return out
    g = spec.groups
    kg, p = shape.k // g, shape.ho * shape.wo
    red = wts.matrix.shape[1]
    xd = ops.conv_input(x, spec, shape)
    y3 = out.view()
    y3.shape = (shape.n, p, shape.k) if nhwc else (shape.n, shape.k, p)  # H, W one stride: never a copy
    if nhwc:  # rows: pixels (gathered A), columns: channels (B = W'^T)
        ad, bd = xd, ops.matrix(wts.matrix, 0, 1)
        cd = ops.output(y3, 1, 2, (0, None))
        cd[D_STEP2] = kg * cd[ops.D_KS]
        m, n, wd, axis = p, kg, bd, EPI_COLS
    else:  # rows: output channels (A = W), columns: pixels (gathered B)
        ad, bd = ops.matrix(wts.matrix, 0, 1), xd
        cd = ops.output(y3, 1, 2, (0, None))
        cd[D_STEP2] = kg * cd[ops.D_RS]
        m, n, wd, axis = kg, p, ad, EPI_ROWS
    wd[D_STEP1], wd[D_STEP2] = 0, kg * wd[ops.D_RS]  # the weights: same for every image, per group
    ed = ops.epilogue(wts.bias, wts.scale, wts.shift, spec.activation, axis, kg)
    run(m, n, red, 1.0, 0.0, ad, bd, cd, dt, (shape.n, g), ed, explicit_rows=p if algorithm == "im2col" else 0)
    return out


def im2col(x, spec, shape):
    """(N, C*R*S, Ho*Wo) for NCHW (rows (c, r, s)), (N, Ho*Wo, R*S*C) for NHWC: the scratch
    matrix of explicit im2col, one image at a time."""
    x = input_array(np.asarray(x))
    p, red = shape.ho * shape.wo, shape.c * shape.r * shape.s
    nhwc = spec.layout == "NHWC"
    cols = np.empty((shape.n, p, red) if nhwc else (shape.n, red, p), x.dtype)
    if cols.size == 0:
        return cols
    xd = ops.conv_input(x, spec._replace(groups=1), shape)
    for i in range(shape.n):
        lower_at(xd, xd[ops.D_OFF] + i * xd[D_STEP1], p, red, cols[i].reshape(-1), numba.get_num_threads())
    return cols
