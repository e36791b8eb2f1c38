"""conv2d, im2col and Conv2d plans of the numba backend: the packed GEMM kernel, the direct kernel.

NCHW: per image and group Y (K/g x Ho*Wo) = W (K/g x C/g*R*S) cols, the pixels being the GEMM's
vector dimension (and the epilogue per row); NHWC: Y (Ho*Wo x K/g) = cols^T W'^T with W' the
weights in (r, s, c) order, channels the vector dimension (epilogue per column). The cols operand
is gathered from x while packing (convgemm) or lowered into a scratch matrix first (im2col).
Algorithms: "convgemm", "im2col"; "direct" runs the depthwise kernel for depthwise layers and
direct.py's kernel (pixels broadcast from x in place, weights in NR-wide panels) for the others,
in both layouts; "gemm" (1x1, stride 1, no padding) runs that kernel too, its taps then being
plain rows of x.
"""
from __future__ import annotations

import numba
import numpy as np

from . import direct as direct_kernel
from . import operands as ops
from .depthwise import depthwise
from .gemm import EPI_COLS, EPI_ROWS, lower_at, nr_of
from ..._api.conv_args import epilogue_of_zero
from .linalg import buffer, input_array, run
from .pack import D_STEP1, D_STEP2


class Weights:
    """The weights of a convolution in the forms its algorithms read, each made on first use and
    kept (a Conv2d plan makes each once; a one-shot call makes only the one it runs):
    `matrix` (K, C/g*R*S) in the layout's reduction order for the GEMM paths, `panels` for the
    direct kernel, `taps` for the depthwise one; and the (K,) epilogue vectors."""

    def __init__(self, w: np.ndarray, bias, scale, shift, spec, own: bool) -> None:
        # A plan owns its weights and epilogue vectors: later writes to the caller's arrays do not reach it.
        self.w = np.array(w, copy=True) if own else w
        self.bias, self.scale, self.shift = (None if v is None else (np.array(v, copy=True) if own else v)
                                             for v in (bias, scale, shift))
        self.layout, self.groups, self.own = spec.layout, spec.groups, own
        self._forms: dict = {}

    @property
    def contiguous(self) -> np.ndarray:
        """w as a C-contiguous (K, C/g, R, S) array (the packers read its rows in place)."""
        return self.w if self.w.flags.c_contiguous else self._form("contiguous", lambda: np.ascontiguousarray(self.w))

    def _form(self, name: str, make):
        f = self._forms.get(name)
        if f is None:
            f = self._forms[name] = make()
        return f

    @property
    def matrix(self) -> np.ndarray:
        """NCHW: (K, C/g*R*S) in (c, r, s) order; NHWC: (K, R*S*C/g) in (r, s, c) order."""
        def make():
            w = self.w if self.layout == "NCHW" else self.w.transpose(0, 2, 3, 1)
            return np.ascontiguousarray(w).reshape(self.w.shape[0], -1)
        return self._form("matrix", make)

    @property
    def panels(self) -> np.ndarray:
        """NR-wide panels of the weights in (r, s, c) order (direct.pack_panels)."""
        def make():
            p = np.empty(direct_kernel.panels_shape(*self.w.shape, self.groups, self.w.dtype), self.w.dtype)
            direct_kernel.pack_panels(self.contiguous, self.groups, p)
            return p
        return self._form("panels", make)

    @property
    def taps(self) -> np.ndarray:
        """Depthwise taps, flattened: (C, R*S) for NCHW, (R*S, C) for NHWC."""
        def make():
            t = self.w.reshape(self.w.shape[0], -1)
            return np.ascontiguousarray(t if self.layout == "NCHW" else t.T).reshape(-1)
        return self._form("taps", make)


def prepare(w, bias, scale, shift, spec, own: bool = False) -> Weights:
    return Weights(w, bias, scale, shift, spec, own)


def conv2d(wts: Weights, x, spec, shape, algorithm: str, out, residual=None):
    x = input_array(np.asarray(x))
    dt = x.dtype
    if out is None:  # a given out was checked by the front end (kernels/_api/conv.py)
        out = np.empty(shape.out_shape(spec.layout), dt)
    res_at = 0
    if residual is not None:
        # In the kernels' epilogue when it lies as out does (the usual case: a skip tensor of the
        # output's shape and layout); otherwise one NumPy pass after the kernels.
        res_at = ops.residual_address(np.asarray(residual), out) if shape.c else 0
        if not res_at:
            return _with_residual(wts, x, spec, shape, algorithm, out, residual)
    if out.size == 0:
        return out
    if shape.c == 0:  # no input channels: every output is the epilogue of an empty sum
        return _epilogue_of_zero(wts, spec, out)
    depthwise_layer = spec.groups == shape.c == shape.k
    nhwc = spec.layout == "NHWC"
    if algorithm == "direct" and depthwise_layer:
        axis = EPI_COLS if nhwc else EPI_ROWS
        ed = ops.epilogue(wts.bias, wts.scale, wts.shift, spec.activation, axis, 0, res_at)
        depthwise(shape.n, shape.c, shape.ho, ops.conv_input(x, spec, shape), wts.taps,
                  ops.conv_input(out, spec, shape), ed, nhwc)
        return out
    g = spec.groups
    kg, p = shape.k // g, shape.ho * shape.wo
    y3 = out.view()
    y3.shape = (shape.n, p, shape.k) if nhwc else (shape.n, shape.k, p)  # H, W one stride: never a copy
    if algorithm == "direct" or algorithm == "gemm":
        # rows: output pixels, columns: output channels, in either layout
        yd = ops.output(y3, 1, 2, (0, None)) if nhwc else ops.output(y3, 2, 1, (0, None))
        yd[D_STEP2] = kg * yd[ops.D_KS]
        ed = ops.epilogue(wts.bias, wts.scale, wts.shift, spec.activation, EPI_COLS, kg, res_at)
        threads = numba.get_num_threads()
        packed = wts.own  # a plan keeps its panels, packed once; a one-shot call's threads pack what they use
        # 1-D either way: one compiled signature for plans and one-shot calls
        panels = wts.panels.reshape(-1) if packed else buffer("panels", dt, threads * wts.w[0].size * nr_of(dt))
        xd = ops.conv_input(x, spec, shape)
        direct_kernel.direct(shape.n, g, kg, p, xd, wts.contiguous, panels, packed,
                             yd, ed, direct_kernel.zero_address(dt, shape.s * shape.c // g), threads)
        return out
    red = wts.matrix.shape[1]
    xd = ops.conv_input(x, spec, shape)
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
    ed = ops.epilogue(wts.bias, wts.scale, wts.shift, spec.activation, axis, kg, res_at)
    run(m, n, red, 1.0, 0.0, ad, bd, cd, dt, (shape.n, g), ed, explicit_rows=p if algorithm == "im2col" else 0)
    return out


def _with_residual(wts: Weights, x, spec, shape, algorithm: str, out, residual):
    """y = act(scale*(conv + bias) + shift + residual) for a residual the epilogue cannot read at the
    output's offsets (another layout or strides, a broadcast, out itself): the kernels run the
    epilogue without its activation, then one pass over y adds the residual and applies it. A
    residual that is out itself is copied first: the kernels write y before that pass reads it."""
    if out is not None and np.may_share_memory(out, residual):
        residual = residual.copy()  # the front end allowed only residual=out (the same view)
    y = conv2d(wts, x, spec._replace(activation=""), shape, algorithm, out)
    with np.errstate(invalid="ignore", over="ignore"):
        np.add(y, residual, out=y)
        if spec.activation:
            np.maximum(y, 0, out=y, where=~np.isnan(y))  # NaN stays NaN
            if spec.activation == "relu6":
                np.minimum(y, 6, out=y, where=~np.isnan(y))
    return y


def _epilogue_of_zero(wts: Weights, spec, out):
    """Every pixel of a layer with no input channels is its channel's epilogue of an empty sum."""
    v = epilogue_of_zero(wts.bias, wts.scale, wts.shift, spec.activation, out.shape[1 if spec.layout == "NCHW" else 3],
                         out.dtype)
    out[...] = v[:, None, None] if spec.layout == "NCHW" else v
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
