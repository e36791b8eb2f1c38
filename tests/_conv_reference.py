"""Oracle of the convolution tests: the float64 NumPy convolution of the package's reference backend
(kernels/backends/reference/conv.py, the one NumPy convolution: a batched matmul per kernel tap,
checked against torch.nn.functional.conv2d / unfold), called on this module's own geometry (every
padding form and output size worked out here, independently of kernels' argument handling), its
elementwise error bound, an im2col reference and an integer-valued data generator whose
convolutions are exact in float32.
"""
from __future__ import annotations

from typing import Dict, Optional, Tuple, Union

import numpy as np

from _helpers import EPS
from hpc_kernels._api.conv_args import ConvShape, ConvSpec
from hpc_kernels.backends.reference import conv as numpy_conv

Padding = Union[int, str, Tuple[int, ...]]

ACTIVATIONS = (None, "relu", "relu6")


# --------------------------------------------------------------------------------------------
# Geometry
# --------------------------------------------------------------------------------------------

def pair(v) -> Tuple[int, int]:
    if isinstance(v, (int, np.integer)):
        return int(v), int(v)
    a, b = v
    return int(a), int(b)


def kernel_hw(kernel_size) -> Tuple[int, int]:
    return pair(kernel_size)


def normalize_padding(padding: Padding, R: int, S: int, dilation=1) -> Tuple[int, int, int, int]:
    """(top, bottom, left, right) of any accepted padding form. "same": total padding
    dilation*(kernel-1) per axis, the odd extra element at the bottom / right (as PyTorch)."""
    dh, dw = pair(dilation)
    if isinstance(padding, str):
        if padding == "valid":
            return 0, 0, 0, 0
        if padding == "same":
            th, tw = dh * (R - 1), dw * (S - 1)
            return th // 2, th - th // 2, tw // 2, tw - tw // 2
        raise ValueError(f"bad padding string {padding!r}")
    if isinstance(padding, (int, np.integer)):
        p = int(padding)
        return p, p, p, p
    padding = tuple(int(p) for p in padding)
    if len(padding) == 2:
        return padding[0], padding[0], padding[1], padding[1]
    if len(padding) == 4:
        return padding  # type: ignore[return-value]
    raise ValueError(f"bad padding {padding!r}")


def output_hw(H: int, W: int, R: int, S: int, stride=1, padding: Padding = 0, dilation=1) -> Tuple[int, int]:
    sh, sw = pair(stride)
    dh, dw = pair(dilation)
    t, b, l, r = normalize_padding(padding, R, S, dilation)
    Ho = (H + t + b - dh * (R - 1) - 1) // sh + 1
    Wo = (W + l + r - dw * (S - 1) - 1) // sw + 1
    return Ho, Wo


def output_shape(x_shape, w_shape, stride=1, padding: Padding = 0, dilation=1, layout: str = "NCHW") -> Tuple[int, ...]:
    if layout == "NCHW":
        N, C, H, W = x_shape
    else:
        N, H, W, C = x_shape
    K, _, R, S = w_shape
    Ho, Wo = output_hw(H, W, R, S, stride, padding, dilation)
    return (N, K, Ho, Wo) if layout == "NCHW" else (N, Ho, Wo, K)


def applicable_algorithms(x_shape, w_shape, stride=1, padding: Padding = 0, dilation=1, groups: int = 1,
                          layout: str = "NCHW"):
    """The algorithms the spec allows for this layer: im2col, convgemm and direct always; gemm for
    1x1 kernels with stride 1 and zero padding; winograd for 3x3 kernels, stride 1, dilation 1, one group."""
    K, _, R, S = w_shape
    algs = ["auto", "im2col", "convgemm", "direct"]
    if (R, S) == (1, 1) and pair(stride) == (1, 1) and normalize_padding(padding, R, S, dilation) == (0, 0, 0, 0):
        algs.append("gemm")
    if (R, S) == (3, 3) and pair(stride) == (1, 1) and pair(dilation) == (1, 1) and groups == 1:
        algs.append("winograd")
    return algs


# --------------------------------------------------------------------------------------------
# Reference convolution
# --------------------------------------------------------------------------------------------

def _from_nchw(y: np.ndarray, layout: str) -> np.ndarray:
    return y if layout == "NCHW" else y.transpose(0, 2, 3, 1)


def _geometry(x_shape, w_shape, stride, padding, dilation, groups: int, layout: str):
    """The package's (spec, shape) of a layer, every value computed here from the user-level forms."""
    if layout == "NCHW":
        N, C, H, W = x_shape
    else:
        N, H, W, C = x_shape
    K, Cg, R, S = w_shape
    assert C == Cg * groups and K % groups == 0, (x_shape, w_shape, groups)
    Ho, Wo = output_hw(H, W, R, S, stride, padding, dilation)
    assert Ho >= 1 and Wo >= 1
    pad = normalize_padding(padding, R, S, dilation)
    spec = ConvSpec(pair(stride), pad, pair(dilation), groups, layout, "")
    return spec, ConvShape(N, C, H, W, K, R, S, Ho, Wo, pad)


def conv2d_raw(x, w, *, stride=1, padding: Padding = 0, dilation=1, groups: int = 1, layout: str = "NCHW") -> np.ndarray:
    """float64 cross-correlation without epilogue, output in `layout` (C-contiguous)."""
    spec, shape = _geometry(np.shape(x), np.shape(w), stride, padding, dilation, groups, layout)
    y = numpy_conv.convolve(np.asarray(x), np.asarray(w), spec, shape, np.float64)
    return np.ascontiguousarray(_from_nchw(y, layout))


def _channel(v, layout: str, K: int):
    """A (K,) vector broadcast over the channel axis of an output in `layout`."""
    v = np.asarray(v, dtype=np.float64).reshape(K)
    return v.reshape(1, K, 1, 1) if layout == "NCHW" else v.reshape(1, 1, 1, K)


def apply_activation(y: np.ndarray, activation: Optional[str]) -> np.ndarray:
    if activation is None:
        return y
    if activation == "relu":  # np.maximum / np.minimum propagate NaN
        return np.maximum(y, 0.0)
    if activation == "relu6":
        return np.minimum(np.maximum(y, 0.0), 6.0)
    raise ValueError(activation)


def conv2d_ref(x, w, bias=None, *, stride=1, padding: Padding = 0, dilation=1, groups: int = 1, layout: str = "NCHW",
               activation: Optional[str] = None, scale=None, shift=None, residual=None) -> np.ndarray:
    """float64 y = act(scale * (conv(x, w) + bias) + shift + residual); missing bias/scale/shift/
    residual: 0, 1, 0, 0. residual: the output's shape in `layout`."""
    y = conv2d_raw(x, w, stride=stride, padding=padding, dilation=dilation, groups=groups, layout=layout)
    K = np.shape(w)[0]
    if bias is not None:
        y = y + _channel(bias, layout, K)
    if scale is not None:
        y = y * _channel(scale, layout, K)
    if shift is not None:
        y = y + _channel(shift, layout, K)
    if residual is not None:
        y = y + np.asarray(residual, dtype=np.float64)
    return apply_activation(y, activation)


def conv2d_ref_and_bound(x, w, bias=None, *, stride=1, padding: Padding = 0, dilation=1, groups: int = 1,
                         layout: str = "NCHW", activation: Optional[str] = None, scale=None, shift=None,
                         dtype=None, residual=None) -> Tuple[np.ndarray, np.ndarray]:
    """(ref, bound): the float64 reference and the elementwise bound
        |y - ref| <= (2*Kd + 8) * eps * (|scale| * (|x| conv |w| + |bias|) + |shift| + |residual|),
    Kd = (C/groups)*R*S, the reduction length (netlib style: grows with it). 2*Kd covers the
    Kd-term sums (and the float64 reference's own error for float64 data), +8 the bias add,
    scale, shift and any re-association of the epilogue (e.g. scale folded into w, or
    scale*bias + shift precomputed). relu / relu6 are 1-Lipschitz: the bound carries over."""
    dt = np.dtype(dtype if dtype is not None else np.asarray(x).dtype)
    geo = dict(stride=stride, padding=padding, dilation=dilation, groups=groups, layout=layout)
    ref = conv2d_ref(x, w, bias, activation=activation, scale=scale, shift=shift, residual=residual, **geo)
    mag = conv2d_raw(np.abs(np.asarray(x, dtype=np.float64)), np.abs(np.asarray(w, dtype=np.float64)), **geo)
    K, Cg, R, S = np.shape(w)
    if bias is not None:
        mag = mag + np.abs(_channel(bias, layout, K))
    if scale is not None:
        mag = mag * np.abs(_channel(scale, layout, K))
    if shift is not None:
        mag = mag + np.abs(_channel(shift, layout, K))
    if residual is not None:
        mag = mag + np.abs(np.asarray(residual, dtype=np.float64))
    kd = Cg * R * S
    return ref, (2 * kd + 8) * EPS[dt] * mag


def nan_mask_ref(x, w, *, stride=1, padding: Padding = 0, dilation=1, groups: int = 1, layout: str = "NCHW") -> np.ndarray:
    """Output positions whose receptive field (through a nonzero weight) holds a NaN of x."""
    x = np.asarray(x, dtype=np.float64)
    ind = np.isnan(x).astype(np.float64)
    wnz = (np.asarray(w) != 0).astype(np.float64)
    return conv2d_raw(ind, wnz, stride=stride, padding=padding, dilation=dilation, groups=groups, layout=layout) > 0


# --------------------------------------------------------------------------------------------
# im2col reference
# --------------------------------------------------------------------------------------------

def im2col_ref(x, kernel_size, *, stride=1, padding: Padding = 0, dilation=1, layout: str = "NCHW") -> np.ndarray:
    """NCHW: (N, C*R*S, Ho*Wo), row (c*R + r)*S + s, column ho*Wo + wo (torch unfold).
    NHWC: (N, Ho*Wo, R*S*C), column (r*S + s)*C + c. Padded positions are 0. float64."""
    R, S = kernel_hw(kernel_size)
    C = np.shape(x)[1 if layout == "NCHW" else 3]
    spec, shape = _geometry(np.shape(x), (C, C, R, S), stride, padding, dilation, 1, layout)
    return numpy_conv.im2col(np.asarray(x), spec, shape, np.float64)


# --------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------

EXACT_LIMIT = 2**24  # float32 integers are exact below this


def int_values(rng: np.random.Generator, shape, dtype, lo: int = -3, hi: int = 3) -> np.ndarray:
    return rng.integers(lo, hi + 1, size=shape).astype(dtype)


def int_operands(rng: np.random.Generator, x_shape, w_shape, dtype, *, bias: bool = False, scale: bool = False,
                 shift: bool = False, layout: str = "NCHW") -> Dict[str, Optional[np.ndarray]]:
    """Integer-valued x, w in [-3, 3], bias/shift in [-3, 3], scale in [-2, 2] (oneDNN benchdnn
    style): every partial sum of the convolution and the epilogue is an integer of magnitude
    < 2^24, so every float32 / float64 evaluation order gives the exact result."""
    K, Cg, R, S = w_shape
    kd = Cg * R * S
    worst = (kd * 9 + 3) * 2 + 3  # |conv| + |bias|, times |scale|, plus |shift|
    assert worst < EXACT_LIMIT, f"reduction length {kd} too long for exact float32 data"
    ops: Dict[str, Optional[np.ndarray]] = dict(
        x=int_values(rng, x_shape, dtype), w=int_values(rng, w_shape, dtype),
        bias=int_values(rng, (K,), dtype) if bias else None,
        scale=int_values(rng, (K,), dtype, -2, 2) if scale else None,
        shift=int_values(rng, (K,), dtype) if shift else None,
    )
    return ops


def normal_operands(rng: np.random.Generator, x_shape, w_shape, dtype, *, bias: bool = False, scale: bool = False,
                    shift: bool = False) -> Dict[str, Optional[np.ndarray]]:
    """Random normal operands (scale around +-1, both signs)."""
    K = w_shape[0]
    return dict(
        x=rng.standard_normal(x_shape).astype(dtype), w=rng.standard_normal(w_shape).astype(dtype),
        bias=rng.standard_normal(K).astype(dtype) if bias else None,
        scale=(rng.uniform(0.5, 1.5, K) * rng.choice([-1.0, 1.0], K)).astype(dtype) if scale else None,
        shift=rng.standard_normal(K).astype(dtype) if shift else None,
    )
