"""cuda backend: our own GEMM and convolution kernels (backends/cuda/*.cu, compiled at run time by NVRTC through CuPy) on NVIDIA GPUs; cuBLAS where the tuning store measured it faster.

CuPy arrays in -> CuPy arrays out, on their device and the current stream (no host round trip);
NumPy arrays with backend="cuda" -> copied to the current device and back, NumPy out. float32
and float64 run on CUDA cores (exact: float32 uses tensor cores only with precision="tf32"),
float16 and bfloat16 on tensor cores with float32 accumulation. Without a usable GPU the
backend is listed as unavailable with the reason, and backend="cuda" raises BackendNotAvailable.
"""
from __future__ import annotations

import os
from typing import Any, Dict, List, Tuple

import numpy as np

from ... import _precision
from ..._api.conv_args import check_vector
from . import plan
from . import runtime as rt
from . import sources as S
from .. import device
from ..base import Backend
from . import algorithms as _algorithms

cp = rt.cp
_i32, _i64, _u64 = np.int32, np.int64, np.uint64


def _is_dev(x) -> bool:
    return cp is not None and isinstance(x, cp.ndarray)


def _estrides(x) -> Tuple[int, ...]:
    return tuple(s // x.itemsize for s in x.strides)


def _ptr(x) -> np.uint64:
    return _u64(x.data.ptr) if x is not None else _u64(0)


def _acc(dt: str, value: float):
    return np.float64(value) if dt == "float64" else np.float32(value)


class _Arrays(device.Arrays):
    """CuPy arrays for the shared host/device code (kernels/backends/device.py): a place is a GPU id."""

    backend, plural, type_name, allocator = "cuda", "cupy arrays", "cupy.ndarray", "cupy.empty"

    @property
    def array_type(self) -> type:
        return cp.ndarray

    def is_device(self, x) -> bool:
        return _is_dev(x)

    def place_of(self, x) -> int:
        return x.device.id

    def default_place(self) -> int:
        return cp.cuda.Device().id

    def check_place(self, fn, name, x, place, other="the inputs") -> None:
        if x.device.id != place:
            raise ValueError(f"{fn}: {name} is on GPU {x.device.id}, {other} on GPU {place}")

    def check_dtype(self, fn, place, dtype) -> None:
        plan.dtype_name(fn, "x" if fn == "conv2d" else "a", dtype)

    def address(self, x) -> int:
        return x.data.ptr

    def shares_memory(self, a, b) -> bool:
        return cp.may_share_memory(a, b)

    def upload(self, place, x):
        return cp.asarray(x)

    def download(self, x):
        return cp.asnumpy(x)

    def empty(self, place, shape, dtype):
        return cp.empty(shape, dtype)

    def fill(self, place, y, values) -> None:
        y[...] = cp.asarray(values)

    def on(self, place):
        return cp.cuda.Device(place)


_ARRAYS = _Arrays()


def _dtype_pair(fn: str, a, b) -> str:
    da, db = plan.dtype_name(fn, "a", a.dtype), plan.dtype_name(fn, "b", b.dtype)
    if da != db:
        raise TypeError(f"{fn}: a and b must have the same dtype, got {da} and {db}")
    return da


def _dtype_of(fn: str, a, b) -> np.dtype:
    """gemm's dtype check for kernels/_validation.gemm_arguments: the common dtype itself."""
    _dtype_pair(fn, a, b)
    return a.dtype


def _aligned_copy(x):
    """A copy of x whose last dimension is padded to 16 bytes (rows and batches aligned for
    cp.async); returns the view of the copy with x's shape. Inputs may be copied, never outputs."""
    vec = 16 // x.itemsize
    last = x.shape[-1]
    buf = cp.empty(x.shape[:-1] + (max(1, -(-last // vec) * vec),), x.dtype)
    view = buf[..., :last]
    view[...] = x
    return view


class _Operand:
    """One GEMM operand as the kernels read it: pointer, layout, batch strides (elements)."""

    __slots__ = ("arr", "ptr", "kc", "ld", "bs")

    def __init__(self, arr, kc: bool, ld: int, bs: List[int]):
        self.arr, self.ptr, self.kc, self.ld, self.bs = arr, arr.data.ptr, kc, ld, bs


def _operand(x, rows_axis: int, k_axis: int, kind: str) -> _Operand:
    """Operand x (3-D: batch, then its matrix in rows_axis and k_axis) as it lies when the
    kernels can read it there, else an aligned copy (inputs may be copied; outputs never)."""
    for arr in (x, None):
        arr = arr if arr is not None else _aligned_copy(x)
        st, item, ptr = _estrides(arr), arr.itemsize, arr.data.ptr
        rows, k = arr.shape[rows_axis], arr.shape[k_axis]
        d = plan.dense_layout(rows, k, st[rows_axis], st[k_axis], item, ptr, aligned=False)
        if d is not None and plan.needs_alignment(kind, d.kc):
            d = plan.dense_layout(rows, k, st[rows_axis], st[k_axis], item, ptr, aligned=True)
        if d is None:
            continue
        bs = st[0] if arr.shape[0] > 1 else 0
        if plan.needs_alignment(kind, d.kc) and (bs * item) % 16:
            continue
        return _Operand(arr, d.kc, d.ld, [bs])
    raise AssertionError("an aligned copy is always readable")  # pragma: no cover


class CudaBackend(Backend):
    name = "cuda"
    device_arrays = _ARRAYS  # what the ONNX runtime's conv chains keep values in between steps
    extra = "cuda12"
    ops = frozenset({"gemm", "matmul", "conv2d", "pack_conv2d", "conv2d_packed"})
    dtypes = frozenset({"float32", "float64", "float16", "bfloat16"})
    array_types = (cp.ndarray,) if cp is not None else ()
    dlpack_devices = frozenset({2}) if cp is not None else frozenset()  # kDLCUDA: torch/JAX GPU tensors

    def from_dlpack(self, x):
        return cp.from_dlpack(x)  # zero-copy: a CuPy view of the tensor's device memory
    algorithms = _algorithms.IMPLEMENTED
    auto = _algorithms.AUTO

    installed = rt.INSTALLED

    def __init__(self) -> None:
        self.available, self.reason = rt.available()
        self._taps: Dict[tuple, Any] = {}
        # (dtype, precision) -> a tile configuration forced by the tuner, and whether the tuner
        # is timing our kernels alone (no cuBLAS substitution).
        self.forced: Dict[Tuple[str, str], Any] = {}

    def auto_algorithm(self, shape, spec, dtype) -> str:
        return _algorithms.auto()

    def run_algorithm(self, shape, spec, requested) -> str:
        return _algorithms.runs(shape, spec, requested)

    def describe(self) -> dict:
        d = super().describe()
        if self.available:
            d["gpus"] = [dict(rt.props(i), id=i) for i in range(cp.cuda.runtime.getDeviceCount())]
        return d

    # -- kernel choice ------------------------------------------------------------------------
    def _config(self, dev_id: int, dt: str, precision: str):
        if (dt, precision) in self.forced:
            return self.forced[(dt, precision)]
        p = rt.props(dev_id)
        if S.compute_kind(dt, precision) != "simt" and p["arch"] < S.MIN_TC_ARCH:
            raise TypeError(f"cuda: {dt}{' with tf32' if precision == 'tf32' else ''} runs on tensor cores of sm_80 or newer; "
                            f"{p['name']} is sm_{p['arch']}")
        return plan.tiles_for(p["arch"], p["name"], dt, precision)

    def _cublas_faster(self, dev_id: int, dt: str, precision: str, m: int, n: int, k: int) -> bool:
        """The tuning store measured cuBLAS faster for this shape class. cuBLAS computes fp32
        exactly unless CUPY_TF32=1, which is then only allowed under precision="tf32"."""
        if (dt, precision) in self.forced:
            return False
        if dt == "float32" and precision == "exact" and os.environ.get("CUPY_TF32", "0") != "0":
            return False
        p = rt.props(dev_id)
        return plan.cublas_measured_faster(p["arch"], p["name"], dt, precision, m, n, k)

    # -- GEMM ---------------------------------------------------------------------------------
    def gemm(self, a, b, c, alpha, beta, trans_a, trans_b, out):
        return device.gemm(_ARRAYS, a, b, c, alpha, beta, trans_a, trans_b, out,
                           lambda place, *args: self._run_gemm(*args), dtype_of=_dtype_of)

    def _run_gemm(self, a, b, cin, cout, alpha, beta, trans_a, trans_b) -> None:
        """cout := alpha * op(a) op(b) + beta * cin (cin None when beta == 0: never read)."""
        opa = a.T if trans_a else a
        opb = b.T if trans_b else b
        self._batched(opa[None], opb[None], cin[None] if cin is not None else None, cout[None], alpha, beta)

    def _batched(self, a, b, cin, c, alpha: float, beta: float) -> None:
        """c[i] := alpha * a[i] @ b[i] + beta * cin[i] over one batch dimension (views with any
        strides; a and b may broadcast with stride 0), launched in as few kernels as possible."""
        dt = a.dtype.name
        dev_id = c.device.id
        precision = _precision.current()
        nb, m, n = c.shape
        k = a.shape[-1]
        if alpha == 0 or k == 0:  # BLAS: A and B are not referenced
            k, alpha = 0, 0.0
        elif self._cublas_faster(dev_id, dt, precision, m, n, k):
            self._cublas(a, b, cin, c, alpha, beta)
            return
        cfg = self._config(dev_id, dt, precision)
        kind = S.compute_kind(dt, precision)
        # A as rows = m, B as rows = n; both read along k.
        if k:
            A = _operand(a, 1, 2, kind)
            B = _operand(b, 2, 1, kind)
        else:  # never read: any readable pointer
            A = B = _Operand(c, True, 1, [0])
        cs = _estrides(c)
        ci = _estrides(cin) if cin is not None else (0, 0, 0)
        cin_ptr = cin.data.ptr if cin is not None else c.data.ptr
        name = S.gemm_name(cfg, "float32" if kind == "tf32" else dt, A.kc, B.kc)
        smem = S.smem_bytes(cfg, dt, A.kc, B.kc)
        acc = lambda x: _acc(dt, x)  # noqa: E731
        for z0, cnt in plan.batch_chunks(nb, 1):
            args = (_i32(m), _i32(n), _i32(k), _i32(1),
                    _u64(A.ptr + z0 * A.bs[0] * a.itemsize), _i64(A.ld), _i64(A.bs[0]), _i64(0),
                    _u64(B.ptr + z0 * B.bs[0] * b.itemsize), _i64(B.ld), _i64(B.bs[0]), _i64(0),
                    _u64(c.data.ptr + z0 * cs[0] * c.itemsize), _i64(cs[1]), _i64(cs[2]), _i64(cs[0]), _i64(0),
                    _u64(cin_ptr + z0 * ci[0] * c.itemsize), _i64(ci[1]), _i64(ci[2]), _i64(ci[0]), _i64(0),
                    acc(alpha), acc(beta))
            rt.launch(dev_id, "gemm.cu", name, (plan.tiles(m, n, cfg), cnt), cfg.threads, smem, args)

    @staticmethod
    def _cublas(a, b, cin, c, alpha: float, beta: float) -> None:
        prod = cp.matmul(a, b)
        if alpha != 1:
            prod *= alpha
        if beta != 0:
            prod += beta * cin
        c[...] = prod

    # -- matmul -------------------------------------------------------------------------------
    def matmul(self, a, b, out):
        return device.matmul(_ARRAYS, a, b, out, lambda place, a2, b2, c2: self._matmul(a2, b2, c2), _dtype_of)

    def _matmul(self, a, b, c) -> None:
        """c = a @ b for >= 2-D device operands: the batch dimensions collapsed into as few as
        the strides allow; the kernels take one, the rest loop here (views, no copies)."""
        batch = c.shape[:-2]
        nd = len(batch)

        def bstrides(x):
            pad = (0,) * (nd - (x.ndim - 2))
            st = pad + _estrides(x)[:-2]
            sh = (1,) * len(pad) + x.shape[:-2]
            return [s if d > 1 else 0 for s, d in zip(st, sh)]

        dims, (sa, sb, sc) = plan.collapse_batch(batch, [bstrides(a), bstrides(b), bstrides(c)])
        a0, b0, c0 = (x.reshape(x.shape[-2:]) if x.ndim == 2 else x[(0,) * (x.ndim - 2)] for x in (a, b, c))
        outer, inner = dims[:-1], (dims[-1] if dims else 1)
        ia, ib, ic = (s[-1] if dims else 0 for s in (sa, sb, sc))
        for idx in np.ndindex(*outer):
            oa = sum(i * s for i, s in zip(idx, sa))
            ob = sum(i * s for i, s in zip(idx, sb))
            oc = sum(i * s for i, s in zip(idx, sc))
            av = _strided(a0, oa, ia, inner)
            bv = _strided(b0, ob, ib, inner)
            cv = _strided(c0, oc, ic, inner)
            self._batched(av, bv, None, cv, 1.0, 0.0)

    # -- conv2d -------------------------------------------------------------------------------
    def conv2d(self, x, w, bias, scale, shift, spec, shape, algorithm, out, residual=None):
        return self._conv(x, _Weights(w, bias, scale, shift), spec, shape, algorithm, out, residual)

    def pack_conv2d(self, w, bias, scale, shift, spec):
        """A plan's weights and epilogue vectors on the current GPU, packed per layout/kernel on
        first use and kept."""
        with cp.cuda.Device():
            return _Weights(*(None if t is None else (t if _is_dev(t) else cp.asarray(t)) for t in (w, bias, scale, shift)))

    def conv2d_packed(self, packed, x, spec, shape, algorithm, out, residual=None):
        return self._conv(x, packed, spec, shape, algorithm, out, residual)

    def _conv(self, x, wts: "_Weights", spec, shape, algorithm, out, residual=None):
        dt = plan.dtype_name("conv2d", "x", x.dtype)
        for name, t in (("bias", wts.bias), ("scale", wts.scale), ("shift", wts.shift)):
            if t is not None:
                check_vector("conv2d", name, t, shape.k, x.dtype)

        def run(dev_id, x, y, r=None):
            self._run_conv(dev_id, dt, x if _is_dev(x) else cp.asarray(x), wts, spec, shape, algorithm, y, r)

        return device.conv2d(_ARRAYS, x, shape, spec, out, (("x", x), ("w", wts.w)), run, (wts.bias, wts.scale, wts.shift),
                             residual)

    def _run_conv(self, dev_id, dt, x, wts, spec, shape, algorithm, y, r=None) -> None:
        precision = _precision.current()
        kind = S.compute_kind(dt, precision)
        cfg = self._config(dev_id, dt, precision)
        g = spec.groups
        cg = shape.c // g
        kg = shape.k // g
        # NHWC tensor-core layers with a channel count off 16 bytes (RGB stems): pad x and w with
        # zero channels so the cp.async gather applies (one copy of x, a cached one of w).
        cpad = plan.pad_channels(cg, g, spec.layout, kind)
        if cpad != cg:
            xp = cp.zeros(x.shape[:3] + (cpad,), x.dtype)
            xp[..., :cg] = x
            x, shape = xp, shape._replace(c=cpad)
            cg = cpad
        xs = plan.nchw_strides(_estrides(x), spec.layout)
        ystr = plan.out_strides(_estrides(y), spec.layout, shape.wo)
        npix = shape.n * shape.ho * shape.wo
        kd = cg * shape.r * shape.s
        pix_rows = spec.layout == "NHWC"
        wpk = wts.packed(spec.layout, g, cpad)
        ldw = wpk.shape[-1]
        vec = [t.data.ptr if t is not None else 0 for t in (wts.dev(t_) for t_ in ("bias", "scale", "shift"))]
        act = {"": 0, "relu": 1, "relu6": 2}[spec.activation]
        # The residual (a device array device.conv2d prepared: not y's memory), laid out with y's
        # strides: ConvOut reads res[o] beside y[o] (own strides cost registers in the keys).
        r = _with_strides_of(y, r) if r is not None else None  # (a _Kept copy lives to the launches' end)
        tail = (_i64(ystr.yn), _i64(ystr.yk), _i64(ystr.yp), _i32(shape.ho * shape.wo), *(_u64(p) for p in vec), _i32(act),
                _ptr(r))
        tuned = cfg not in (S.SIMT_DEFAULT.get(dt), S.TC_DEFAULT.get(kind))
        if kind != "simt" and not pix_rows and not tuned:
            cfg = S.TC_CONV_NCHW_DEFAULT[kind]  # register gathers: eight warps halve the staged elements
        mn = (npix, kg) if pix_rows else (kg, npix)
        cfg = plan.conv_tiles(cfg, tuned, kind, dt, mn[0], mn[1], rt.props(dev_id)["sms"], pix_rows)
        (sh, sw), (pt, _, pl, _) = spec.stride, shape.padding
        geo = (_i32(shape.h), _i32(shape.w), _i32(shape.ho), _i32(shape.wo), _i32(sh), _i32(sw), _i32(pt), _i32(pl))
        if algorithm == "gemm" and pix_rows and xs[1] == 1 and xs[2] == shape.w * xs[3] and xs[0] == shape.h * xs[2]:
            # 1x1 stride 1 unpadded NHWC: x is the (npix x C) GEMM operand as it lies
            if kind == "simt" or (x.data.ptr % 16 == 0 and (xs[3] * x.itemsize) % 16 == 0 and (cg * x.itemsize) % 16 == 0):
                self._conv_dense(dev_id, dt, kind, cfg, npix, kg, kd, g, x.data.ptr, xs[3], cg, True, wpk, ldw, y, tail)
                return
        if algorithm == "gemm" and rt.logger.isEnabledFor(10):
            rt.logger.debug("conv2d: x's strides or alignment do not allow the cuda dense 1x1 GEMM; the implicit GEMM runs")
        taps = self._taps_for(dev_id, shape, spec, xs)
        if algorithm == "im2col":
            vecn = 16 // x.itemsize
            if pix_rows:
                ldc = -(-kd // vecn) * vecn
                cols = cp.empty((g, npix, ldc), x.dtype)
            else:
                ldc = -(-npix // vecn) * vecn
                cols = cp.empty((g, kd, ldc), x.dtype)
            total = cols[0].size
            blocks = min(-(-total // 256), 1 << 20)
            rt.launch(dev_id, "conv.cu", S.im2col_name(dt, pix_rows), (blocks, g), 256, 0,
                      (_i32(kd), _i32(ldc), _i32(npix), _i32(shape.h), _i32(shape.w), _i32(shape.ho * shape.wo), _i32(shape.wo),
                       _i32(sh), _i32(sw), _i32(pt), _i32(pl), _ptr(x), _i64(xs[0]), _i64(xs[2]), _i64(xs[3]), _i64(cg * xs[1]),
                       _ptr(taps), _ptr(cols), _i64(total)))
            if pix_rows:
                self._conv_dense(dev_id, dt, kind, cfg, npix, kg, kd, g, cols.data.ptr, ldc, npix * ldc, True, wpk, ldw, y, tail)
            else:
                self._conv_dense(dev_id, dt, kind, cfg, kg, npix, kd, g, wpk.data.ptr, ldw, kg * ldw, False, cols, ldc, y, tail,
                                 b_ld=ldc, b_g=kd * ldc)
            return
        gasync = plan.gather_async_ok(spec.layout, kind, cg, xs, x.itemsize, x.data.ptr)
        name = S.conv_implicit_name(cfg, "float32" if kind == "tf32" else dt, pix_rows, gasync)
        a_kc, b_kc = S.implicit_smem_layout(cfg, pix_rows, gasync) if kind != "simt" else (False, False)
        smem = S.smem_bytes(cfg, dt, a_kc, b_kc)
        m, n = (npix, kg) if pix_rows else (kg, npix)
        args = (_i32(kg), _i32(kd), _i32(ldw), _i32(npix), geo[0], geo[1], geo[3], *geo[4:],
                _ptr(x), _i64(xs[0]), _i64(xs[2]), _i64(xs[3]), _i64(cg * xs[1]), _ptr(taps), _ptr(wpk), _ptr(y), *tail)
        rt.launch(dev_id, "conv.cu", name, (plan.tiles(m, n, cfg), g), cfg.threads, smem, args)

    def _conv_dense(self, dev_id, dt, kind, cfg, m, n, k, g, a_ptr, lda, a_g, pix_rows, b, ldb, y, tail, b_ld=None, b_g=None) -> None:
        """The conv epilogue GEMM on dense operands: pixels x weights (NHWC: im2col columns or
        x itself), or weights x columns (NCHW im2col). b: packed weights or the columns."""
        kg = n if pix_rows else m
        if pix_rows:
            a_kc, b_kc, b_ld, b_g = True, True, b.shape[-1], kg * b.shape[-1]
        else:
            a_kc, b_kc = True, False
        name = S.conv_gemm_name(cfg, "float32" if kind == "tf32" else dt, a_kc, b_kc, pix_rows)
        smem = S.smem_bytes(cfg, dt, a_kc, b_kc)
        args = (_i32(m), _i32(n), _i32(k), _i32(kg), _u64(a_ptr), _i64(lda), _i64(a_g), _ptr(b), _i64(b_ld), _i64(b_g), _ptr(y), *tail)
        rt.launch(dev_id, "conv.cu", name, (plan.tiles(m, n, cfg), g), cfg.threads, smem, args)

    def _taps_for(self, dev_id: int, shape, spec, xs):
        """The layer's Tap table on the GPU, built once per geometry and x strides."""
        key = (dev_id, shape.c, shape.r, shape.s, spec.groups, spec.dilation, spec.layout, tuple(xs[1:]))
        t = self._taps.get(key)
        if t is None:
            if len(self._taps) > 256:
                self._taps.clear()
            t = self._taps[key] = cp.asarray(plan.taps(shape, spec, xs))
        return t


def _with_strides_of(y, r):
    """r itself when its element strides are y's (dimensions of length 1 aside), else a copy of
    it in new memory viewed with y's strides (negative ones included); the view's .base keeps
    that memory (a raw-pointer view need not)."""
    if all(a == b or n <= 1 for a, b, n in zip(r.strides, y.strides, y.shape)):
        return r
    item = y.itemsize
    lo = sum((n - 1) * s for n, s in zip(y.shape, y.strides) if s < 0 and n > 0) // item
    hi = sum((n - 1) * s for n, s in zip(y.shape, y.strides) if s > 0 and n > 0) // item
    buf = cp.empty(hi - lo + 1, y.dtype)
    view = cp.ndarray(y.shape, y.dtype, buf.data + (-lo) * item, y.strides)
    view[...] = r
    return _Kept(view, buf)


class _Kept:
    """A device view and the allocation it points into, alive together (the view's .data.ptr is
    what the launch reads)."""

    def __init__(self, view, owner) -> None:
        self.view, self.owner = view, owner
        self.data = view.data


def _strided(x2, offset: int, stride: int, count: int):
    """count matrices x2 + offset + i * stride (elements) as one 3-D CuPy view."""
    item = x2.itemsize
    mem = x2.data + offset * item
    return cp.ndarray((count,) + x2.shape, x2.dtype, mem, (stride * item,) + x2.strides)


class _Weights:
    """Conv weights and epilogue vectors on the GPU, with their packed forms cached per (layout,
    groups, padded channels): a Conv2d plan packs once, a one-shot conv2d once per call."""

    def __init__(self, w, bias=None, scale=None, shift=None):
        self.w, self.bias, self.scale, self.shift = w, bias, scale, shift
        self._packed: Dict[tuple, Any] = {}
        self._dev: Dict[str, Any] = {}

    def dev(self, name: str):
        t = getattr(self, name)
        if t is None or _is_dev(t):
            return t
        d = self._dev.get(name)
        if d is None:
            d = self._dev[name] = cp.asarray(t)
        return d

    def packed(self, layout: str, groups: int, cpad: int):
        key = (layout, groups, cpad, cp.cuda.Device().id)
        p = self._packed.get(key)
        if p is None:
            w = self.w if _is_dev(self.w) else cp.asarray(self.w)
            if cpad != w.shape[1]:
                wp = cp.zeros(w.shape[:1] + (cpad,) + w.shape[2:], w.dtype)
                wp[:, : w.shape[1]] = w
                w = wp
            p = self._packed[key] = plan.pack_weights(cp, w, groups, layout)
        return p


backend = CudaBackend()
