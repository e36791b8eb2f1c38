"""Public convolution API: conv2d, im2col, conv2d_workspace and Conv2d plans.

Arguments are normalised and checked here once for every backend (kernels/_api/conv_args.py); the
algorithm name is checked against every backend's names, then the chosen backend resolves it
(Backend.choose_algorithm: "auto" means what that backend decides, kernels/backends/<name>/
algorithms.py) and runs it. The decision is logged at DEBUG on the "hpc_kernels" logger. Arrays of
other libraries (torch, JAX, ... through DLPack) are taken and given back by kernels/_arrays.py.
"""
from __future__ import annotations

from typing import Any, Dict, Optional, Sequence

import numpy as np

from .. import _dispatch, _precision
from .._arrays import result
from .._dispatch import logger, operand, pick
from .._threads import get_num_threads
from . import bf16 as _bf16
from . import conv_args as A

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


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


def _algorithm(fn: str, run: Any, requested: str, shape: A.ConvShape, spec: A.ConvSpec, dtype: np.dtype) -> str:
    """The algorithm the backend that `run` belongs to runs for this layer (it resolves "auto")."""
    be = run.__self__
    algo = be.choose_algorithm(shape, spec, dtype, requested, fn=fn)
    if logger.isEnabledFor(10):
        logger.debug("%s: algorithm %r on backend %r (asked for %r)", fn, algo, be.name, requested)
    return algo


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
    residual: Any = None,
    out_dtype: Any = None,
) -> Any:
    """2-D convolution (cross-correlation, PyTorch semantics) with a fused per-channel epilogue:
    ``y = activation(scale * (conv2d(x, w) + bias) + shift + residual)``.

    x is (N, C, H, W) for layout "NCHW" or (N, H, W, C) for "NHWC"; the output has the same
    layout; w is (K, C/groups, R, S). padding: int, (h, w), (top, bottom, left, right), "same"
    (stride 1 only) or "valid". stride, dilation: int or (h, w). bias, scale, shift: (K,) or None.
    activation: None, "relu" or "relu6". algorithm: "auto" (the backend's choice), "im2col",
    "convgemm", "gemm" (1x1, stride 1, no padding), "direct" (no lowering, any layer) or
    "winograd" (F(2x2, 3x3): 3x3, stride 1, dilation 1, groups=1; cpu backend); each
    backend implements a subset (hpc_kernels.info()["backends"][name]["algorithms"]) and raises
    ValueError for the others. out: a writable array of
    the output's shape and dtype (never copied or cast). residual: None, or an array of the
    output's shape, dtype and layout, any strides (a view is read in place), added before the
    activation in the same write-back (oneDNN's "sum" post-op: ResNet's Conv -> Add(skip) ->
    Relu in one call); NumPy on cpu/numba/reference, the backend's device arrays (or NumPy) on
    opencl/cuda. ``residual=out`` sums in place (y = act(... + y)); any other overlap of residual
    and out is a ValueError. float32 and float64 (and float16 on
    the cuda backend). precision: "exact" (default) or "tf32" (float32 on TF32 tensor cores
    where a backend has them).
    bfloat16 x and w (cpu: explicit im2col into the bf16 GEMM; reference): bias, scale and shift
    fp32, fp32 accumulation and epilogue, the result bf16 or, with ``out_dtype=np.float32``, fp32.
    """
    if precision is not None:
        with _precision.use("conv2d", precision):
            return conv2d(x, w, bias, stride=stride, padding=padding, dilation=dilation, groups=groups, layout=layout,
                          activation=activation, scale=scale, shift=shift, algorithm=algorithm, out=out, backend=backend,
                          residual=residual, out_dtype=out_dtype)
    x0, out0 = x, out
    x, out = operand("conv2d", "x", x), operand("conv2d", "out", out)
    residual = None if residual is None else operand("conv2d", "residual", residual)
    bias, scale, shift = (operand("conv2d", n, v) for n, v in (("bias", bias), ("scale", scale), ("shift", shift)))
    fn = pick("conv2d", backend, x)
    x, w = _as_array(x, fn), _as_array(operand("conv2d", "w", w), fn)
    spec = A.make_spec("conv2d", stride, padding, dilation, groups, layout, activation)
    A.check_algorithm("conv2d", algorithm)
    shape = A.shape_of("conv2d", x.shape, w.shape, spec)
    if _bf16.is_bf16(x) or _bf16.is_bf16(w):
        be = getattr(fn, "__self__", None)
        if hasattr(be, "conv2d_bf16"):
            r = _conv2d_bf16("conv2d", be, x, w, (bias, scale, shift), spec, shape, algorithm, out, residual, out_dtype)
            return out0 if out0 is not None and r is out else result(x0, r)
    if out_dtype is not None:
        _bf16.result_dtype("conv2d", x.dtype, out_dtype, widen=False)  # other calls: their own dtype only
    dt = _float_dtype("conv2d", x, w, _allowed(fn))
    vec = [_vector(fn, "conv2d", name, v, shape.k, dt) for name, v in (("bias", bias), ("scale", scale), ("shift", shift))]
    algo = _algorithm("conv2d", fn, algorithm, shape, spec, dt)
    if out is not None and not _device_array(fn, out):  # device outputs: checked by their backend
        A.check_out("conv2d", out, dt, shape, spec.layout,
                    (("x", x), ("w", w), ("bias", vec[0]), ("scale", vec[1]), ("shift", vec[2])))
    if residual is None:
        r = fn(x, w, *vec, spec, shape, algo, out)
    else:
        residual = _as_array(residual, fn)
        A.check_residual("conv2d", residual, dt, shape, spec.layout, out)
        r = fn(x, w, *vec, spec, shape, algo, out, residual)
    return out0 if out0 is not None and r is out else result(x0, r)


def _conv2d_bf16(fn: str, be: Any, x: Any, w: Any, vectors, spec, shape, algorithm, out, residual, out_dtype):
    """A bf16 convolution's checks (both bf16, fp32 vectors, the output dtype), then the backend's conv2d_bf16."""
    _bf16.check_conv_operands(fn, x, w)
    dt = _bf16.result_dtype(fn, x.dtype, out_dtype)
    vec = _bf16.conv_vectors(fn, shape.k, vectors)
    if out is not None:
        A.check_out(fn, out, dt, shape, spec.layout, (("x", x), ("w", w)))
    if residual is not None:
        residual = _as_array(operand(fn, "residual", residual))
        A.check_residual(fn, residual, dt, shape, spec.layout, out)
    if out is None:
        out = np.empty(shape.out_shape(spec.layout), dt)
    if logger.isEnabledFor(10):
        logger.debug("%s: bfloat16 on backend %r (asked for algorithm %r)", fn, be.name, algorithm)
    return be.conv2d_bf16(x, w, *vec, spec, shape, algorithm, out, residual)


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
    x0 = x
    x = operand("im2col", "x", x)
    fn = pick("im2col", backend, x)
    x = _as_array(x)
    r, s = A.pair("im2col", "kernel_size", kernel_size, 1)
    spec = A.make_spec("im2col", stride, padding, dilation, 1, layout, None)
    c = x.shape[1 if layout == "NCHW" else 3] if x.ndim == 4 else 1
    shape = A.shape_of("im2col", x.shape, (c, c, r, s), spec)
    if x.dtype not in _FLOATS:
        raise TypeError(f"im2col: x has dtype {x.dtype}; supported: float32, float64")
    return result(x0, fn(x, spec, shape))


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
    dt = np.dtype(dtype)
    if dt not in _FLOATS:
        raise TypeError(f"conv2d_workspace: dtype must be float32 or float64, got {dt}")
    spec = A.make_spec("conv2d_workspace", stride, padding, dilation, groups, layout, None)
    x_shape, w_shape = A.dims("conv2d_workspace", "x_shape", x_shape, 4), A.dims("conv2d_workspace", "w_shape", w_shape, 4)
    shape = A.shape_of("conv2d_workspace", x_shape, w_shape, spec)
    cpu = _dispatch._load("cpu")  # the cpu engine's workspace, whatever backend runs the calls
    if not cpu.available:
        raise RuntimeError("conv2d_workspace: the cpu backend is not built")
    nt = get_num_threads() if threads is None else A.integer("conv2d_workspace", "threads", threads, 1)
    return cpu.conv2d_workspace(x_shape, w_shape, spec, shape, dt, nt)


class Conv2d:
    """An inference plan: validates and packs the weights (and folds bias/scale/shift) once;
    ``plan(x, out=None, residual=None)`` runs the convolution with them (residual: as in conv2d). Safe to call from several threads.

    Picklable and deep-copyable (a Dask or multiprocessing worker can receive one): the packed
    weights are a backend's private, process-local object (the cpu backend's is a C++ one), so a
    plan pickles its constructor arguments, with a copy of the weights taken when it was built,
    and packs them again when it is loaded. ``backend=None`` is chosen again where it is loaded."""

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
        w = operand("Conv2d", "w", w)
        bias, scale, shift = (operand("Conv2d", n, v) for n, v in (("bias", bias), ("scale", scale), ("shift", shift)))
        self._run = pick("conv2d_packed", backend, w)
        w = _as_array(w, self._run)
        self.spec = A.make_spec("Conv2d", stride, padding, dilation, groups, layout, activation)
        self.algorithm = A.check_algorithm("Conv2d", algorithm)
        self._run.__self__.check_algorithm("Conv2d", algorithm)  # the plan's backend implements it
        if w.ndim != 4:
            raise ValueError(f"Conv2d: w must be 4-D (K, C/groups, R, S), got shape {w.shape}")
        # bfloat16 weights on a backend with bf16 convolutions: the plan keeps a copy of w and the
        # fp32 vectors, each call runs conv2d_bf16 (no prepacked bf16 weights yet).
        self._bf16 = _bf16.is_bf16(w) and hasattr(self._run.__self__, "conv2d_bf16")
        if self._bf16:
            k = w.shape[0]
            if k % self.spec.groups:
                raise ValueError(f"Conv2d: groups={self.spec.groups} must divide the output channels ({k})")
            self.weight_shape, self.dtype = tuple(w.shape), w.dtype
            self._check_fixed_algorithm(w.shape[2], w.shape[3])
            vec = _bf16.conv_vectors("Conv2d", k, (bias, scale, shift))
            if self.spec.layout == "NHWC" and self.spec.groups == 1:
                # Kept (K, C, R, S) as a view of (R, S, C, K) memory: the GEMM's B for NHWC lowering,
                # which the backend then reads without transposing the weights on every call.
                wk = np.ascontiguousarray(w.transpose(2, 3, 1, 0)).transpose(3, 2, 0, 1)
            else:
                wk = w.copy()
            self._packed = (wk, *vec)
            self._arguments = ((self._packed[0], *(_copy(v) for v in vec)),
                               dict(stride=stride, padding=padding, dilation=dilation, groups=groups, layout=layout,
                                    activation=activation, algorithm=algorithm, backend=backend))
            return
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
        # What __reduce__ rebuilds the plan from: copies, so that a later change to the caller's
        # arrays does not change the plan a pickle carries (the packed weights do not see it either).
        # A backend whose packed object keeps its own copy of w (the cpu backend's ConvWeights:
        # `weights`) is asked for it then, rather than holding a second copy here: an inference
        # model's plans would otherwise hold every weight twice besides the packed forms.
        own = getattr(self._packed, "weights", None) is not None
        self._arguments = (
            (None if own else _copy(w), *(_copy(v) for v in vec)),  # bias/scale/shift: arrays of w's dtype
            dict(stride=stride, padding=padding, dilation=dilation, groups=groups, layout=layout,
                 activation=activation, algorithm=algorithm, backend=backend),
        )

    def _check_fixed_algorithm(self, r: int, s: int) -> None:
        """gemm depends on the weights and options only: reject it here, not per call."""
        sp = self.spec
        if self.algorithm == "gemm" and not (r == s == 1 and sp.stride == (1, 1) and sp.padding in ((0, 0, 0, 0), "same")):
            raise ValueError("Conv2d: algorithm 'gemm' needs a 1x1 kernel, stride 1 and no padding")

    def __call__(self, x: Any, out: Any = None, residual: Any = None, out_dtype: Any = None) -> Any:
        x0, out0 = x, out
        x, out = _as_array(operand("Conv2d", "x", x), self._run), operand("Conv2d", "out", out)
        shape = A.shape_of("Conv2d", x.shape, self.weight_shape, self.spec)
        if self._bf16:
            w, *vec = self._packed
            r = _conv2d_bf16("Conv2d", self._run.__self__, x, w, vec, self.spec, shape, self.algorithm, out, residual,
                             out_dtype)
            return out0 if out0 is not None and r is out else result(x0, r)
        if out_dtype is not None:
            _bf16.result_dtype("Conv2d", self.dtype, out_dtype, widen=False)
        if x.dtype != self.dtype:
            raise TypeError(f"Conv2d: x has dtype {x.dtype} but the plan's weights are {self.dtype}")
        algo = _algorithm("Conv2d", self._run, self.algorithm, shape, self.spec, self.dtype)
        if out is not None and not _device_array(self._run, out):
            A.check_out("Conv2d", out, self.dtype, shape, self.spec.layout, (("x", x),))
        if residual is None:
            r = self._run(self._packed, x, self.spec, shape, algo, out)
        else:
            residual = _as_array(operand("Conv2d", "residual", residual), self._run)
            A.check_residual("Conv2d", residual, self.dtype, shape, self.spec.layout, out)
            r = self._run(self._packed, x, self.spec, shape, algo, out, residual)
        return out0 if out0 is not None and r is out else result(x0, r)

    @property
    def weights(self) -> Any:
        """The plan's own copy of w (read-only): what it was built from, whatever the caller's
        array has become since."""
        w = self._arguments[0][0]
        if w is None:
            w = self._packed.weights
        v = w.view()
        v.flags.writeable = False
        return v

    def __reduce__(self):
        """Pickle and copy.deepcopy: the constructor's arguments; loading packs the weights again."""
        (w, bias, scale, shift), options = self._arguments
        return (_rebuild, (self.weights if w is None else w, bias, scale, shift, options))

    def __repr__(self) -> str:
        return f"Conv2d(w={self.weight_shape}, {self.spec}, algorithm={self.algorithm!r}, dtype={self.dtype})"


def _copy(v: Any) -> Any:
    """A private copy of a checked array argument (NumPy or a backend's device array: both have
    .copy()), None as None."""
    return None if v is None else v.copy()


def _rebuild(w: Any, bias: Any, scale: Any, shift: Any, options: Dict[str, Any]) -> "Conv2d":
    """Conv2d.__reduce__'s loader (module level: pickle finds it by name)."""
    return Conv2d(w, bias, scale=scale, shift=shift, **options)
