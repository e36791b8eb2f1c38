"""Public convolution API: conv2d, im2col, conv2d_workspace and Conv2d plans.

Arguments are normalised and checked here once for every backend (kernels/_api/conv_args.py); the
backend then runs the chosen algorithm. algorithm="auto" picks, in order (heuristic_choice): the
direct kernels for depthwise layers and for every NHWC layer (the batch-reduce kernel reads the
image in place: no im2col block and no packed image; measured faster than every other algorithm
on each ResNet-50 layer), a plain GEMM for 1x1 stride-1 unpadded layers, the direct kernel for
NCHW layers with taps, >= 16 channels per group and planes up to 64x64; then a measured choice
from the tuning cache (kernels/_tuning.py), explicit im2col for NCHW layers of <= 64 output
pixels, else convGemm (no workspace beyond the packing buffers, and as fast as explicit im2col
on larger layers).
"""
from __future__ import annotations

from typing import Any, Dict, Optional, Sequence

import numpy as np

from . import conv_args as A
from .. import _precision, _tuning
from .._dispatch import logger, pick
from .._threads import get_num_threads

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
# NCHW layers with at most this many output pixels (the 7x7 stage of ImageNet CNNs) run explicit
# im2col: its lowered matrix is small, and the GEMM's unpacked path then reads the weights in
# place instead of repacking every weight for only <= 64 uses (measured 1.17x convGemm there).
_FEW_PIXELS = 64
# NCHW layers with taps run the direct kernel from this many channels per group and up to this
# many input pixels per plane: it broadcasts each channel at the plane stride, which beats
# convGemm's gather by 1.2-1.5x on ResNet-50's 3x3 layers (planes of 7x7 to 56x56); with 3
# channels (RGB stems) each tap is too short a reduction (0.5x convGemm), and on 112x112 and
# 224x224 planes (VGG-16's first layers) every channel step lands on another page (0.85-1.0x).
_DIRECT_MIN_CHANNELS = 16
_DIRECT_MAX_PLANE = 64 * 64


def _as_array(x: Any, fn: Any = None) -> np.ndarray:
    """NumPy arrays, and the device arrays of the backend whose method `fn` is, as they are;
    anything else through np.asarray."""
    return x if isinstance(x, np.ndarray) or _device_array(fn, x) else np.asarray(x)


def _device_array(fn: Any, x: Any) -> bool:
    """x is a device array that the chosen backend takes as it is (it validates them itself)."""
    be = getattr(fn, "__self__", None)
    return be is not None and not isinstance(x, np.ndarray) and be.accepts(x)


def _vector(fn: Any, where: str, name: str, v: Any, k: int, dtype: np.dtype) -> Any:
    """bias/scale/shift: device arrays of the chosen backend checked as they are, else NumPy."""
    if _device_array(fn, v):
        A.check_vector(where, name, v, k, dtype)
        return v
    return A.channel_vector(where, name, v, k, dtype)


def _allowed(run: Any) -> tuple:
    """The float dtypes of the chosen backend: float32, float64 and what it adds (the cuda
    backend: float16, and bfloat16 where a NumPy bfloat16 dtype exists, e.g. from ml_dtypes)."""
    names = getattr(getattr(run, "__self__", None), "dtypes", None) or ()
    extra = []
    for n in sorted(set(names) - {"float32", "float64"}):
        try:
            extra.append(np.dtype(n))
        except TypeError:
            pass
    return _FLOATS + tuple(extra)


def _float_dtype(fn: str, x: np.ndarray, w: np.ndarray, allowed: tuple = _FLOATS) -> np.dtype:
    if x.dtype not in allowed:
        raise TypeError(f"{fn}: x has dtype {x.dtype}; supported: {', '.join(d.name for d in allowed)}")
    if w.dtype != x.dtype:
        raise TypeError(f"{fn}: x is {x.dtype} but w is {w.dtype}; both must have the same dtype (no silent casts)")
    return x.dtype


def applicable_algorithms(shape: A.ConvShape, spec: A.ConvSpec) -> list:
    algos = ["im2col", "convgemm", "direct"]
    if shape.r == shape.s == 1 and spec.stride == (1, 1) and shape.padding == (0, 0, 0, 0):
        algos.append("gemm")
    return algos


def heuristic_choice(shape: A.ConvShape, spec: A.ConvSpec) -> Optional[str]:
    """The choice "auto" makes without consulting the tuning cache, or None where it consults it."""
    if spec.groups == shape.c == shape.k and shape.r * shape.s <= 1024:
        return "direct"  # depthwise
    if spec.layout == "NHWC":
        return "direct"
    if shape.r == shape.s == 1 and spec.stride == (1, 1) and shape.padding == (0, 0, 0, 0):
        return "gemm"
    wide = shape.c // spec.groups >= _DIRECT_MIN_CHANNELS
    if shape.r * shape.s > 1 and wide and shape.h * shape.w <= _DIRECT_MAX_PLANE:
        return "direct"
    return None


def resolve_algorithm(fn: str, algorithm: str, shape: A.ConvShape, spec: A.ConvSpec, dtype: np.dtype) -> str:
    """The algorithm to run: the caller's (checked against the layer) or the "auto" choice."""
    usable = applicable_algorithms(shape, spec)
    if algorithm != "auto":
        if algorithm == "gemm" and "gemm" not in usable:
            raise ValueError(f"{fn}: algorithm 'gemm' needs a 1x1 kernel, stride 1 and no padding")
        return algorithm
    choice = heuristic_choice(shape, spec)
    if choice is not None:
        return choice
    if _tuning.entries():  # measured choices exist for this machine
        choice = _tuning.lookup(_tuning.layer_key(shape, spec, dtype.name, get_num_threads()))
        if choice is not None:
            if logger.isEnabledFor(10):
                logger.debug("%s: algorithm %r from the tuning cache", fn, choice)
            return choice
    if spec.layout == "NCHW" and shape.ho * shape.wo <= _FEW_PIXELS:
        return "im2col"
    return "convgemm"


def conv2d(
    x: Any,
    w: Any,
    bias: Any = None,
    *,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    groups: int = 1,
    layout: str = "NCHW",
    activation: Optional[str] = None,
    scale: Any = None,
    shift: Any = None,
    algorithm: str = "auto",
    out: Any = None,
    backend: Optional[str] = None,
    precision: Optional[str] = None,
) -> Any:
    """2-D convolution (cross-correlation, PyTorch semantics) with a fused per-channel epilogue:
    ``y = activation(scale * (conv2d(x, w) + bias) + shift)``.

    x is (N, C, H, W) for layout "NCHW" or (N, H, W, C) for "NHWC"; the output has the same
    layout; w is (K, C/groups, R, S). padding: int, (h, w), (top, bottom, left, right), "same"
    (stride 1 only) or "valid". stride, dilation: int or (h, w). bias, scale, shift: (K,) or None.
    activation: None, "relu" or "relu6". algorithm: "auto", "im2col", "convgemm", "gemm" (1x1,
    stride 1, no padding) or "direct" (no lowering, any layer). out: a writable array of
    the output's shape and dtype (never copied or cast). float32 and float64 (and float16 on
    the cuda backend). precision: "exact" (default) or "tf32" (float32 on TF32 tensor cores
    where a backend has them).
    """
    if precision is not None:
        with _precision.use("conv2d", precision):
            return conv2d(x, w, bias, stride=stride, padding=padding, dilation=dilation, groups=groups, layout=layout,
                          activation=activation, scale=scale, shift=shift, algorithm=algorithm, out=out, backend=backend)
    fn = pick("conv2d", backend, x)
    x, w = _as_array(x, fn), _as_array(w, fn)
    spec = A.make_spec("conv2d", stride, padding, dilation, groups, layout, activation)
    A.check_algorithm("conv2d", algorithm)
    shape = A.shape_of("conv2d", x.shape, w.shape, spec)
    dt = _float_dtype("conv2d", x, w, _allowed(fn))
    vec = [_vector(fn, "conv2d", name, v, shape.k, dt) for name, v in (("bias", bias), ("scale", scale), ("shift", shift))]
    algo = resolve_algorithm("conv2d", algorithm, shape, spec, dt)
    if out is not None and not _device_array(fn, out):  # device outputs: checked by their backend
        A.check_out("conv2d", out, dt, shape, spec.layout,
                    (("x", x), ("w", w), ("bias", vec[0]), ("scale", vec[1]), ("shift", vec[2])))
    return fn(x, w, *vec, spec, shape, algo, out)


def im2col(
    x: Any,
    kernel_size: Any,
    *,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    layout: str = "NCHW",
    backend: Optional[str] = None,
) -> np.ndarray:
    """The lowered matrix of explicit im2col, one per image: (N, C*R*S, Ho*Wo) for "NCHW" (rows
    (c, r, s), as torch.nn.functional.unfold) and (N, Ho*Wo, R*S*C) for "NHWC" (columns (r, s, c))."""
    fn = pick("im2col", backend, x)
    x = _as_array(x)
    r, s = A.pair("im2col", "kernel_size", kernel_size, 1)
    spec = A.make_spec("im2col", stride, padding, dilation, 1, layout, None)
    c = x.shape[1 if layout == "NCHW" else 3] if x.ndim == 4 else 1
    shape = A.shape_of("im2col", x.shape, (c, c, r, s), spec)
    if x.dtype not in _FLOATS:
        raise TypeError(f"im2col: x has dtype {x.dtype}; supported: float32, float64")
    return fn(x, spec, shape)


def conv2d_workspace(
    x_shape: Sequence[int],
    w_shape: Sequence[int],
    *,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    groups: int = 1,
    layout: str = "NCHW",
    dtype: Any = "float32",
    threads: Optional[int] = None,
) -> Dict[str, int]:
    """Extra bytes each applicable cpu algorithm allocates for this layer besides its output:
    packing buffers, im2col's lowered matrix, the depthwise kernel's scratch planes."""
    from ..backends.cpu import _cpu

    dt = np.dtype(dtype)
    if dt not in _FLOATS:
        raise TypeError(f"conv2d_workspace: dtype must be float32 or float64, got {dt}")
    spec = A.make_spec("conv2d_workspace", stride, padding, dilation, groups, layout, None)
    x_shape, w_shape = A.dims("conv2d_workspace", "x_shape", x_shape, 4), A.dims("conv2d_workspace", "w_shape", w_shape, 4)
    shape = A.shape_of("conv2d_workspace", x_shape, w_shape, spec)
    if _cpu is None:
        raise RuntimeError("conv2d_workspace: the cpu backend is not built")
    nt = get_num_threads() if threads is None else A.integer("conv2d_workspace", "threads", threads, 1)
    return {
        a: int(_cpu.conv2d_workspace(tuple(x_shape), tuple(w_shape), spec.stride, shape.padding, spec.dilation,
                                     spec.groups, layout, dt.name, a, nt))
        for a in applicable_algorithms(shape, spec)
    }


class Conv2d:
    """An inference plan: validates and packs the weights (and folds bias/scale/shift) once;
    ``plan(x, out=None)`` runs the convolution with them. Safe to call from several threads."""

    def __init__(
        self,
        w: Any,
        bias: Any = None,
        *,
        stride: Any = 1,
        padding: Any = 0,
        dilation: Any = 1,
        groups: int = 1,
        layout: str = "NCHW",
        activation: Optional[str] = None,
        scale: Any = None,
        shift: Any = None,
        algorithm: str = "auto",
        backend: Optional[str] = None,
    ) -> None:
        self._run = pick("conv2d_packed", backend, w)
        w = _as_array(w, self._run)
        self.spec = A.make_spec("Conv2d", stride, padding, dilation, groups, layout, activation)
        self.algorithm = A.check_algorithm("Conv2d", algorithm)
        if w.ndim != 4:
            raise ValueError(f"Conv2d: w must be 4-D (K, C/groups, R, S), got shape {w.shape}")
        if w.dtype not in _allowed(self._run):
            raise TypeError(f"Conv2d: w has dtype {w.dtype}; supported: {', '.join(d.name for d in _allowed(self._run))}")
        k = w.shape[0]
        if k % self.spec.groups:
            raise ValueError(f"Conv2d: groups={self.spec.groups} must divide the output channels ({k})")
        self.weight_shape = tuple(w.shape)
        self._check_fixed_algorithm(w.shape[2], w.shape[3])
        self.dtype = w.dtype
        vec = [_vector(self._run, "Conv2d", n, v, k, w.dtype) for n, v in (("bias", bias), ("scale", scale), ("shift", shift))]
        self._packed = pick("pack_conv2d", backend, w)(w, *vec, self.spec)

    def _check_fixed_algorithm(self, r: int, s: int) -> None:
        """gemm depends on the weights and options only: reject it here, not per call."""
        sp = self.spec
        if self.algorithm == "gemm" and not (r == s == 1 and sp.stride == (1, 1) and sp.padding in ((0, 0, 0, 0), "same")):
            raise ValueError("Conv2d: algorithm 'gemm' needs a 1x1 kernel, stride 1 and no padding")

    def __call__(self, x: Any, out: Any = None) -> Any:
        x = _as_array(x, self._run)
        shape = A.shape_of("Conv2d", x.shape, self.weight_shape, self.spec)
        if x.dtype != self.dtype:
            raise TypeError(f"Conv2d: x has dtype {x.dtype} but the plan's weights are {self.dtype}")
        algo = resolve_algorithm("Conv2d", self.algorithm, shape, self.spec, self.dtype)
        if out is not None and not _device_array(self._run, out):
            A.check_out("Conv2d", out, self.dtype, shape, self.spec.layout, (("x", x),))
        return self._run(self._packed, x, self.spec, shape, algo, out)

    def __repr__(self) -> str:
        return f"Conv2d(w={self.weight_shape}, {self.spec}, algorithm={self.algorithm!r}, dtype={self.dtype})"
