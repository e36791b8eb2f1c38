"""Public int8 API: qgemm, qconv2d and QConv2d (u8/s8 x s8/u8 -> s32, then the int32 / float /
requantized epilogue of kernels/_api/quant_args.py). Arguments are checked here once for every
backend, the output allocated here, then the chosen backend runs the call (ops "qgemm", "qconv2d",
"pack_qconv2d", "qconv2d_packed")."""
from __future__ import annotations

from typing import Any, Dict, Optional, Tuple

import numpy as np

from .._arrays import result
from .._dispatch import operand, pick
from .._validation import as_input, check_output, shape_str
from . import conv_args as A
from .quant_args import QuantParams, make_qparams

# qconv2d's names of the quantization options that quant_args calls a_/b_ (its messages name them).
_CONV_NAMES = (("a_zero_point", "x_zero_point"), ("b_zero_point", "w_zero_point"), ("a_scale", "x_scale"),
               ("b_scale", "w_scale"))


def _conv_qparams(fn: str, x_dtype, w_dtype, k: int, opts: Dict[str, Any], residual: bool) -> QuantParams:
    """make_qparams with qconv2d's argument names (x_*, w_*) in its messages."""
    try:
        return make_qparams(fn, x_dtype, w_dtype, k, a_zero_point=opts["x_zero_point"],
                            b_zero_point=opts["w_zero_point"], a_scale=opts["x_scale"], b_scale=opts["w_scale"],
                            out_scale=opts["out_scale"], out_zero_point=opts["out_zero_point"],
                            out_dtype=opts["out_dtype"], bias=opts["bias"], activation=opts["activation"],
                            residual=residual, skip_scale=opts.get("skip_scale"),
                            skip_zero_point=opts.get("skip_zero_point"), sum_scale=opts.get("sum_scale"),
                            sum_zero_point=opts.get("sum_zero_point"))
    except (TypeError, ValueError) as exc:
        msg = str(exc)
        for old, new in _CONV_NAMES:
            msg = msg.replace(old, new)
        raise type(exc)(msg.replace("the activation must", "x must").replace("the weights must", "w must")) from None


def _residual(fn: str, residual: Any, mode: str, shape: Tuple[int, ...], out: Any) -> Optional[np.ndarray]:
    """A float32 residual broadcastable to the output shape, as a (zero-copy) view of that shape;
    out itself (the same view) sums in place, any other overlap with out is an error."""
    if residual is None:
        return None
    r = as_input(operand(fn, "residual", residual))
    if r.dtype != np.float32:
        raise TypeError(f"{fn}: residual must be float32, got {r.dtype}")
    try:
        view = np.broadcast_to(r, shape)
    except ValueError:
        raise ValueError(f"{fn}: residual of shape {shape_str(r.shape)} does not broadcast to the output shape "
                         f"{shape_str(shape)}") from None
    if out is not None and out.size and not A.same_view(r, out) and np.may_share_memory(out, r):
        raise ValueError(f"{fn}: residual and out share memory without being the same array view; pass "
                         "residual=out for an in-place sum, or arrays that do not overlap")
    return view


def _skip(fn: str, skip: Any, q: QuantParams, shape: Tuple[int, ...], out: Any) -> Optional[np.ndarray]:
    """The 8-bit skip tensor of the QLinearAdd epilogue: given exactly when the options set one up
    (skip_scale, sum_scale), of the output's dtype and exact shape (any strides), not overlapping out."""
    if q.skip is None:
        if skip is not None:
            raise ValueError(f"{fn}: skip needs skip_scale and sum_scale (the QLinearAdd's scales)")
        return None
    if skip is None:
        raise ValueError(f"{fn}: skip_scale and sum_scale were given: pass the skip tensor (skip=)")
    s = as_input(operand(fn, "skip", skip))
    if s.dtype != q.out_dtype:
        raise TypeError(f"{fn}: skip must have the output's dtype {q.out_dtype}, got {s.dtype}")
    if s.shape != tuple(shape):
        raise ValueError(f"{fn}: skip must have the output's shape {shape_str(shape)}, got {shape_str(s.shape)}")
    if out is not None and out.size and np.may_share_memory(out, s):
        raise ValueError(f"{fn}: skip and out share memory; the output must be a separate array")
    return s


_SKIP_KEYS = ("skip_scale", "skip_zero_point", "sum_scale", "sum_zero_point")


def _check_skip_keys(fn: str, opts: Dict[str, Any]) -> None:
    """A plan call's keyword options beyond its named ones must be skip-addition options."""
    bad = sorted(set(opts) - set(_SKIP_KEYS))
    if bad:
        raise TypeError(f"{fn}: unexpected keyword argument(s) {', '.join(bad)} (per call: x_zero_point, x_scale, "
                        f"residual, skip and {', '.join(_SKIP_KEYS)})")


def _rank(fn: str, name: str, x: np.ndarray, lo: int) -> None:
    if x.ndim < lo:
        raise ValueError(f"{fn}: {name} must be at least {lo}-D, got shape {shape_str(x.shape)}")


def qgemm(a: Any, b: Any, *, a_zero_point: Any = 0, b_zero_point: Any = 0, a_scale: Any = None,
          b_scale: Any = None, out_scale: Any = None, out_zero_point: Any = None, out_dtype: Any = None,
          bias: Any = None, activation: Optional[str] = None, residual: Any = None, out: Any = None,
          backend: Optional[str] = None) -> Any:
    """Quantized matmul: ``acc = (a - a_zero_point) @ (b - b_zero_point) + bias`` in int32, then
    the output mode of hpc_kernels/_api/quant_args.py: int32 (no scales), float32 (a_scale and
    b_scale: ``acc * a_scale * b_scale + residual``, then the activation) or requantized uint8/int8
    (out_scale too). a: (..., M, K) uint8 or int8; b: (K, N) or (..., K, N) int8 or uint8, batch
    dimensions broadcast as np.matmul; any strides. b_zero_point, b_scale: scalar or per column
    (N,). bias: int32 (N,). residual: float32 broadcastable to the output. out: a writable array
    of the result's dtype and shape, never copied or cast."""
    a0 = a
    a, b = as_input(operand("qgemm", "a", a)), as_input(operand("qgemm", "b", b))
    out = operand("qgemm", "out", out)
    fn = pick("qgemm", backend, a)
    if out is not None and not isinstance(out, np.ndarray):
        raise TypeError(f"qgemm: out must be a numpy.ndarray, got {type(out).__name__}")
    _rank("qgemm", "a", a, 2)
    _rank("qgemm", "b", b, 2)
    n = b.shape[-1]
    q = make_qparams("qgemm", a.dtype, b.dtype, n, a_zero_point=a_zero_point, b_zero_point=b_zero_point,
                     a_scale=a_scale, b_scale=b_scale, out_scale=out_scale, out_zero_point=out_zero_point,
                     out_dtype=out_dtype, bias=bias, activation=activation, residual=residual is not None)
    if a.shape[-1] != b.shape[-2]:
        raise ValueError(f"qgemm: shapes {shape_str(a.shape)} and {shape_str(b.shape)} do not agree: a has "
                         f"{a.shape[-1]} columns, b has {b.shape[-2]} rows")
    try:
        batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    except ValueError:
        raise ValueError(f"qgemm: batch dimensions of shapes {shape_str(a.shape)} and {shape_str(b.shape)} cannot "
                         "be broadcast together") from None
    shape = tuple(batch) + (a.shape[-2], n)
    if out is not None:
        check_output("qgemm", "out", out, q.out_dtype, shape, (("a", a), ("b", b)))
    r = _residual("qgemm", residual, q.mode, shape, out)
    target = np.empty(shape, q.out_dtype) if out is None else out
    fn(a, b, q, r, target)
    return out if out is not None else result(a0, target)


def _conv_setup(fn: str, x: np.ndarray, w_shape, spec: A.ConvSpec) -> A.ConvShape:
    return A.shape_of(fn, x.shape, tuple(w_shape), spec)


def qconv2d(x: Any, w: Any, *, stride: Any = 1, padding: Any = 0, dilation: Any = 1, groups: int = 1,
            layout: str = "NCHW", x_zero_point: Any = 0, w_zero_point: Any = 0, x_scale: Any = None,
            w_scale: Any = None, out_scale: Any = None, out_zero_point: Any = None, out_dtype: Any = None,
            bias: Any = None, activation: Optional[str] = None, residual: Any = None, algorithm: str = "auto",
            out: Any = None, backend: Optional[str] = None, skip: Any = None, skip_scale: Any = None,
            skip_zero_point: Any = None, sum_scale: Any = None, sum_zero_point: Any = None) -> Any:
    """Quantized 2-D convolution (cross-correlation; ONNX ConvInteger / QLinearConv semantics):
    ``acc = conv(x - x_zero_point, w - w_zero_point) + bias`` in int32, then the output mode of
    qgemm (int32, float32 or requantized uint8/int8). x: NCHW or NHWC uint8/int8; w: (K, C/groups,
    R, S) int8 or uint8; w_zero_point, w_scale: per tensor or per output channel (K,); padding
    pixels hold x_zero_point (they contribute 0). stride, padding, dilation, groups, layout as
    conv2d takes them. residual: float32 broadcastable to the output (its layout). algorithm:
    "auto" or a conv2d algorithm name the backend runs for int8. skip (requantized output only):
    an 8-bit tensor of the output's dtype and shape added to the requantized result as ONNX's
    QLinearAdd does (the conv's result with out_scale/out_zero_point, skip with skip_scale/
    skip_zero_point, the sum written with sum_scale/sum_zero_point; quant_args.py's formula): a
    QDQ residual connection in the epilogue, the conv's own 8-bit result never stored."""
    x0 = x
    x, wv = as_input(operand("qconv2d", "x", x)), as_input(operand("qconv2d", "w", w))
    out = operand("qconv2d", "out", out)
    fn = pick("qconv2d", backend, x)
    spec = A.make_spec("qconv2d", stride, padding, dilation, groups, layout, activation)
    A.check_algorithm("qconv2d", algorithm)
    shape = _conv_setup("qconv2d", x, wv.shape, spec)
    opts = dict(x_zero_point=x_zero_point, w_zero_point=w_zero_point, x_scale=x_scale, w_scale=w_scale,
                out_scale=out_scale, out_zero_point=out_zero_point, out_dtype=out_dtype, bias=bias,
                activation=activation, skip_scale=skip_scale, skip_zero_point=skip_zero_point, sum_scale=sum_scale,
                sum_zero_point=sum_zero_point)
    q = _conv_qparams("qconv2d", x.dtype, wv.dtype, shape.k, opts, residual is not None)
    oshape = shape.out_shape(spec.layout)
    if out is not None:
        A.check_out("qconv2d", out, q.out_dtype, shape, spec.layout, (("x", x), ("w", wv)))
    r = _residual("qconv2d", residual, q.mode, oshape, out)
    sk = _skip("qconv2d", skip, q, oshape, out)
    target = np.empty(oshape, q.out_dtype) if out is None else out
    if sk is None:
        fn(x, wv, q, spec, shape, algorithm, target, r)
    else:
        fn(x, wv, q, spec, shape, algorithm, target, r, skip=sk)
    return out if out is not None else result(x0, target)


class QConv2d:
    """An int8 inference plan: checks the weights and options and packs the weights with their
    zero-point compensation (column sums) once; ``plan(x, out=None, residual=None,
    x_zero_point=None, x_scale=None)`` runs qconv2d with them (the last two override the
    construction's values: dynamic quantization gives each call its own activation scale and
    zero point). With skip_scale and sum_scale (qconv2d's skip addition) every call takes its skip
    tensor: ``plan(x, skip=s)``; a call may also give the skip addition's options itself
    (``plan(x, skip=s, skip_scale=..., sum_scale=...)``). Safe to call from several threads."""

    def __init__(self, w: Any, *, stride: Any = 1, padding: Any = 0, dilation: Any = 1, groups: int = 1,
                 layout: str = "NCHW", x_zero_point: Any = 0, w_zero_point: Any = 0, x_scale: Any = None,
                 w_scale: Any = None, out_scale: Any = None, out_zero_point: Any = None, out_dtype: Any = None,
                 bias: Any = None, activation: Optional[str] = None, residual: Any = None,
                 algorithm: str = "auto", backend: Optional[str] = None, skip_scale: Any = None,
                 skip_zero_point: Any = None, sum_scale: Any = None, sum_zero_point: Any = None) -> None:
        w = as_input(operand("QConv2d", "w", w))
        self._run = pick("qconv2d_packed", backend, w)
        self.spec = A.make_spec("QConv2d", stride, padding, dilation, groups, layout, activation)
        self.algorithm = A.check_algorithm("QConv2d", algorithm)
        if w.ndim != 4:
            raise ValueError(f"QConv2d: w must be 4-D (K, C/groups, R, S), got shape {w.shape}")
        k = w.shape[0]
        if k % self.spec.groups:
            raise ValueError(f"QConv2d: groups={self.spec.groups} must divide the output channels ({k})")
        self._opts = dict(x_zero_point=x_zero_point, w_zero_point=w_zero_point, x_scale=x_scale, w_scale=w_scale,
                          out_scale=out_scale, out_zero_point=out_zero_point, out_dtype=out_dtype, bias=bias,
                          activation=activation, skip_scale=skip_scale, skip_zero_point=skip_zero_point,
                          sum_scale=sum_scale, sum_zero_point=sum_zero_point)
        # The activation's dtype is known per call only: the options must suit uint8 or int8 x.
        q = self._check_options(w.dtype, k, residual is not None)
        self._q: Dict[Tuple[np.dtype, bool], QuantParams] = {}  # per (x dtype, residual given): see __call__
        self.weight_shape = tuple(w.shape)
        self.dtype = w.dtype
        self.residual = residual
        self._packed = pick("pack_qconv2d", backend, w)(w, q.b_zero_point, self.spec)

    def _check_options(self, w_dtype, k: int, residual: bool) -> QuantParams:
        first = None
        for x_dtype in (np.uint8, np.int8):
            try:
                return _conv_qparams("QConv2d", x_dtype, w_dtype, k, self._opts, residual)
            except (TypeError, ValueError) as exc:
                first = first or exc
        raise first  # type: ignore[misc]

    def __call__(self, x: Any, out: Any = None, residual: Any = None, x_zero_point: Any = None,
                 x_scale: Any = None, skip: Any = None, **skip_add: Any) -> Any:
        x0 = x
        x, out = as_input(operand("QConv2d", "x", x)), operand("QConv2d", "out", out)
        residual = self.residual if residual is None else residual
        shape = A.shape_of("QConv2d", x.shape, self.weight_shape, self.spec)
        _check_skip_keys("QConv2d", skip_add)
        if x_zero_point is None and x_scale is None and not skip_add:
            # The options are the construction's: checked once per activation dtype and residual
            # presence (make_qparams' NumPy checks cost ~50 us a call, more than a 1x1 layer's GEMM).
            key = (x.dtype, residual is not None)
            q = self._q.get(key)
            if q is None:
                q = self._q[key] = _conv_qparams("QConv2d", x.dtype, self.dtype, shape.k, self._opts, key[1])
        else:
            opts = dict(self._opts, **skip_add)
            if x_zero_point is not None:
                opts["x_zero_point"] = x_zero_point
            if x_scale is not None:
                opts["x_scale"] = x_scale
            q = _conv_qparams("QConv2d", x.dtype, self.dtype, shape.k, opts, residual is not None)
        oshape = shape.out_shape(self.spec.layout)
        if out is not None:
            A.check_out("QConv2d", out, q.out_dtype, shape, self.spec.layout, (("x", x),))
        r = _residual("QConv2d", residual, q.mode, oshape, out)
        sk = _skip("QConv2d", skip, q, oshape, out)
        target = np.empty(oshape, q.out_dtype) if out is None else out
        if sk is None:
            self._run(self._packed, x, q, self.spec, shape, self.algorithm, target, r)
        else:
            self._run(self._packed, x, q, self.spec, shape, self.algorithm, target, r, skip=sk)
        return out if out is not None else result(x0, target)

    def bind(self, x_shape: Tuple[int, ...], x_dtype: Any, residual: bool = False,
             skip_add: Optional[Dict[str, Any]] = None):
        """This plan for activations of one shape and dtype, every argument but the arrays checked
        and prepared once: ``f(x, out, residual=None)`` writes out and returns it. Meant for callers
        that run one layer shape many times with outputs they allocate themselves (an ONNX session):
        ``out`` must be a NumPy array of ``out_shape(x_shape)`` and the dtype ``out_dtype(x_dtype)``
        gives, and ``residual`` (given exactly when bound with residual=True) a float32 array of the
        output's shape; ``f(x, out, residual, skip)`` takes the skip tensor of a plan with a skip
        addition (the output's dtype and shape). skip_add: the skip addition's options for this
        binding (skip_scale, skip_zero_point, sum_scale, sum_zero_point), as a call may give them.
        Arrays that do not match what was bound, or an overlapping output, take the
        checked path of ``__call__`` (its errors); the backend's entry checks them again (on cpu,
        the C++ entry checks geometry, dtypes, strides and overlap of every call)."""
        x_dtype = np.dtype(x_dtype)
        shape = A.shape_of("QConv2d", tuple(x_shape), self.weight_shape, self.spec)
        skip_add = dict(skip_add or {})
        _check_skip_keys("QConv2d.bind", skip_add)
        key = (x_dtype, bool(residual))
        q = self._q.get(key) if not skip_add else None
        if q is None:
            q = _conv_qparams("QConv2d", x_dtype, self.dtype, shape.k, dict(self._opts, **skip_add), key[1])
            if not skip_add:
                self._q[key] = q
        oshape, odt, x_shape = shape.out_shape(self.spec.layout), q.out_dtype, tuple(x_shape)
        if residual and self.residual is not None:
            raise ValueError("QConv2d.bind: this plan holds its own residual; bind with residual=False")
        backend = getattr(self._run, "__self__", None)
        bind = getattr(backend, "qconv2d_bind", None)
        # A plan with its own residual keeps the checked path (the bound call takes residuals per call).
        fast = bind(self._packed, q, self.spec, shape, self.algorithm) if bind and self.residual is None else None
        ndarray, f32 = np.ndarray, np.dtype(np.float32)
        want_skip = q.skip is not None

        def call(x, out, residual=None, skip=None):
            ok = (fast is not None and type(x) is ndarray and type(out) is ndarray and x.shape == x_shape
                  and x.dtype == x_dtype and out.shape == oshape and out.dtype == odt and out.flags.c_contiguous
                  and x.flags.c_contiguous and out.flags.writeable and not np.may_share_memory(out, x))
            if ok and residual is not None:
                ok = (type(residual) is ndarray and residual.shape == oshape and residual.dtype == f32
                      and residual.flags.c_contiguous and not np.may_share_memory(out, residual))
            if ok and skip is not None:
                ok = (type(skip) is ndarray and skip.shape == oshape and skip.dtype == odt and skip.flags.c_contiguous
                      and not np.may_share_memory(out, skip))
            if ok and (residual is not None) == key[1] and (skip is not None) == want_skip:
                return fast(x, out, residual, skip)
            return self(x, out=out, residual=residual, skip=skip, **skip_add)

        call.out_shape, call.out_dtype = oshape, odt
        # What a backend's conv chain needs to run this call itself (the cpu backend: the
        # parameters of a "qconv" step of hpc_kernels._cpu.conv2d_chain), or None.
        call.chain_params = getattr(fast, "chain_params", None)
        return call

    def __repr__(self) -> str:
        return f"QConv2d(w={self.weight_shape}, {self.spec}, algorithm={self.algorithm!r}, dtype={self.dtype})"
