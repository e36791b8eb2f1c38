"""opencl backend: GEMM and conv2d kernels (NDRange and FPGA forms, backends/opencl/*.cl) on any OpenCL device through pyopencl.

pyopencl arrays in -> pyopencl arrays out, on the queue of the first operand (no host round trip);
NumPy arrays with backend="opencl" -> copied to the default device and back, NumPy out. The kernel
form is "ndrange" (tiled, register-blocked, vector loads) unless the device is an accelerator
(FPGA), a program binary is loaded (KERNELS_OPENCL_BINARY), or `use_form("fpga")` says otherwise.
"""
from __future__ import annotations

import contextlib
import contextvars
from typing import Dict, Iterator, Optional, Tuple

import numpy as np

from ... import _validation as v
from ..._api.conv_args import check_hw_stride
from . import launch as L
from . import runtime as rt
from ..base import Backend, promote_matmul
from . import algorithms as _algorithms

FORMS = ("ndrange", "fpga")
_form: contextvars.ContextVar[Optional[str]] = contextvars.ContextVar("kernels_opencl_form", default=None)


@contextlib.contextmanager
def use_form(form: str) -> Iterator[None]:
    """Run the opencl calls inside the block with kernel form "ndrange" or "fpga"."""
    if form not in FORMS:
        raise ValueError(f"opencl: form must be one of {FORMS}, got {form!r}")
    token = _form.set(form)
    try:
        yield
    finally:
        _form.reset(token)


def _is_dev(x) -> bool:
    return rt.cla is not None and isinstance(x, rt.cla.Array)


_queues: Dict[int, rt.Device] = {}  # the Device of each foreign queue seen (kept: programs are per context)


def _device_of(arr) -> rt.Device:
    """The Device (context, device, queue) of a pyopencl array: results go to its queue."""
    if arr.queue is None:
        raise ValueError("opencl: the pyopencl array has no queue; create it with one")
    dev = rt.default_device()
    if arr.queue.int_ptr == dev.queue.int_ptr:
        return dev
    found = _queues.get(arr.queue.int_ptr)
    if found is None or found.queue is not arr.queue:
        found = _queues[arr.queue.int_ptr] = rt.Device(arr.context, arr.queue.device, arr.queue)
    return found


def _check_fp64(fn: str, dev: rt.Device, dtype: np.dtype) -> None:
    if dtype == np.float64 and not dev.fp64:
        raise TypeError(f"{fn}: the OpenCL device {dev.name!r} does not support float64 (no cl_khr_fp64); use float32 or another backend")


def _form_for(dev: rt.Device) -> str:
    form = _form.get()
    if form is not None:
        return form
    if rt.config.opencl_binary or dev.device.type & rt.cl.device_type.ACCELERATOR:
        return "fpga"
    return "ndrange"


def _extent(arr) -> Tuple[int, int]:
    """[first, last] byte of a device array within its buffer."""
    lo = hi = arr.offset
    for n, s in zip(arr.shape, arr.strides):
        if n > 1:
            if s < 0:
                lo += (n - 1) * s
            else:
                hi += (n - 1) * s
    return lo, hi + arr.dtype.itemsize - 1


def _check_device_output(fn: str, name: str, out, dtype, shape, inputs, dev: rt.Device) -> None:
    """A device output is used as given or rejected, like check_output for NumPy outputs."""
    if not _is_dev(out):
        raise TypeError(f"{fn}: {name} must be a pyopencl.array.Array when the inputs are, got {type(out).__name__}")
    v.check_output_dtype_shape(fn, name, out, dtype, shape)
    if out.context.int_ptr != dev.context.int_ptr:
        raise ValueError(f"{fn}: {name} lives in another OpenCL context than the inputs")
    item = out.dtype.itemsize
    if out.size and (out.offset % item or any(s % item for s, n in zip(out.strides, out.shape) if n > 1)):
        raise ValueError(f"{fn}: {name} is not aligned to its {item}-byte elements (offset {out.offset}, strides "
                         f"{tuple(out.strides)}); outputs are never copied: allocate it with pyopencl.array.empty")
    if v.self_overlapping(out):
        raise ValueError(v.overlap_message(fn, name, out))
    for label, x in inputs:
        if _is_dev(x) and x.size and out.size and x.base_data.int_ptr == out.base_data.int_ptr:
            (a0, a1), (b0, b1) = _extent(out), _extent(x)
            if a0 <= b1 and b0 <= a1:
                raise ValueError(f"{fn}: {name} shares memory with {label}; the output must not overlap an input")


def _operand(dev: rt.Device, x, fn: str, name: str) -> L.Operand:
    """A device operand of x: device arrays as they lie (same context), NumPy arrays uploaded."""
    if _is_dev(x):
        if x.context.int_ptr != dev.context.int_ptr:
            raise ValueError(f"{fn}: {name} lives in another OpenCL context than the other operands")
        return L.Operand.of(x)
    return L.Operand.of(rt.cla.to_device(dev.queue, np.ascontiguousarray(x)))


def _swap(op: L.Operand, trans: bool) -> L.Operand:
    return op._replace(strides=op.strides[::-1]) if trans else op


class OpenclBackend(Backend):
    name = "opencl"
    extra = "opencl"
    ops = frozenset({"gemm", "matmul", "conv2d", "pack_conv2d", "conv2d_packed"})
    array_types = (rt.cla.Array,) if rt.cla is not None else ()
    algorithms = _algorithms.IMPLEMENTED
    auto = _algorithms.AUTO

    def __init__(self) -> None:
        self.available, self.reason = rt.platforms_available()

    def auto_algorithm(self, shape, spec, dtype) -> str:
        return _algorithms.auto()

    def describe(self) -> dict:
        """The base description plus every OpenCL device: fp64, compute units, the tiles used."""
        from . import tiles

        d = super().describe()
        if not self.available:
            return d
        chosen = rt.default_device()
        devices = []
        for p in rt.cl.get_platforms():
            for dv in p.get_devices():
                dev = chosen if dv.int_ptr == chosen.device.int_ptr else rt.Device(rt.cl.Context([dv]), dv)
                dts = ["float32", "float64"] if dev.fp64 else ["float32"]
                devices.append({
                    "name": dev.name, "platform": p.name.strip(), "version": dv.version.strip(),
                    "type": rt.kind(dv), "compute_units": dv.max_compute_units, "fp64": dev.fp64,
                    "chosen": dev is chosen, "form": _form_for(dev),
                    "tiles": {dt: {"ndrange": tiles.ndrange(dev, dt), "tuned": tiles.tuned(dev, dt), "fpga": tiles.FPGA[dt]} for dt in dts},
                })
        d["devices"] = devices
        d["binary"] = rt.config.opencl_binary
        return d

    # -- GEMM ---------------------------------------------------------------------------------
    def gemm(self, a, b, c, alpha, beta, trans_a, trans_b, out):
        if _is_dev(a) or _is_dev(b):
            return self._gemm_device(a, b, c, alpha, beta, trans_a, trans_b, out)
        g = v.gemm_arguments(a, b, c, out, alpha, beta, trans_a, trans_b)
        dev = rt.default_device()
        _check_fp64("gemm", dev, g.dtype)
        result = np.empty((g.m, g.n), g.dtype) if g.target is None else g.target
        if result.size == 0:
            return result
        if g.source is not None:
            cdev = rt.cla.to_device(dev.queue, np.ascontiguousarray(g.source))
        else:
            cdev = rt.cla.empty(dev.queue, (g.m, g.n), g.dtype)
        self._run_gemm(dev, g.dtype, g.m, g.n, g.k, g.alpha, g.beta, g.a, g.b, trans_a, trans_b,
                       L.Operand.of(cdev), L.Operand.of(cdev))
        result[...] = cdev.get()
        return result

    def _gemm_device(self, a, b, c, alpha, beta, trans_a, trans_b, out):
        if not (_is_dev(a) and _is_dev(b)):
            raise TypeError("gemm: a and b must both be pyopencl arrays (device) or both NumPy arrays (host) on the opencl backend")
        dev = _device_of(a)

        def check(fn, name, arr, dtype, shape, inputs):
            _check_device_output(fn, name, arr, dtype, shape, inputs, dev)

        g = v.gemm_arguments(a, b, c, out, alpha, beta, trans_a, trans_b, check=check, array_type=rt.cla.Array)
        _check_fp64("gemm", dev, g.dtype)
        target = rt.cla.empty(dev.queue, (g.m, g.n), g.dtype) if g.target is None else g.target
        if g.source is not None and g.source is not target and g.source.context.int_ptr != dev.context.int_ptr:
            raise ValueError("gemm: c lives in another OpenCL context than the inputs")
        if target.size:
            cin = L.Operand.of(g.source if g.source is not None else target)
            self._run_gemm(dev, g.dtype, g.m, g.n, g.k, g.alpha, g.beta, a, b, trans_a, trans_b, cin, L.Operand.of(target))
        return target

    def _run_gemm(self, dev, dt, m, n, k, alpha, beta, a, b, trans_a, trans_b, cin, cout) -> None:
        if alpha == 0 or k == 0:  # BLAS: A and B are not referenced
            opa = opb = L.Operand(cout.buf, 0, (0, 0))
            k = 0
        else:
            opa = _swap(_operand(dev, a, "gemm", "a"), trans_a)
            opb = _swap(_operand(dev, b, "gemm", "b"), trans_b)
        g = L.Gemm(m, n, k, alpha, beta, opa, opb, cin, cout)
        (L.gemm_fpga if _form_for(dev) == "fpga" else L.gemm_ndrange)(dev, dt, g)

    # -- matmul -------------------------------------------------------------------------------
    def matmul(self, a, b, out):
        if _is_dev(a) or _is_dev(b):
            if not (_is_dev(a) and _is_dev(b)):
                raise TypeError("matmul: a and b must both be pyopencl arrays or both NumPy arrays on the opencl backend")
            if a.ndim < 2 or b.ndim < 2:
                raise ValueError("matmul: pyopencl operands must be at least 2-D on the opencl backend (1-D operands: reshape them)")
            return self._matmul(a, b, out)
        return promote_matmul(self._matmul, v.as_input(a), v.as_input(b), out)

    def _matmul(self, a, b, out):
        dt = v.same_dtype("matmul", a, b)
        shape = v.matmul_shape(a, b)
        dev = _device_of(a) if _is_dev(a) else rt.default_device()
        _check_fp64("matmul", dev, dt)
        if _is_dev(a):
            if out is not None:
                _check_device_output("matmul", "out", out, dt, shape, (("a", a), ("b", b)), dev)
            res = out if out is not None else rt.cla.empty(dev.queue, shape, dt)
        else:
            if out is not None:
                v.check_output("matmul", "out", out, dt, shape, (("a", a), ("b", b)))
            res = rt.cla.empty(dev.queue, shape, dt)
        batch = shape[:-2]
        m, n, k = shape[-2], shape[-1], a.shape[-1]
        ad = a if _is_dev(a) else rt.cla.to_device(dev.queue, np.ascontiguousarray(a))
        bd = b if _is_dev(b) else rt.cla.to_device(dev.queue, np.ascontiguousarray(b))
        for idx in np.ndindex(*batch):  # one GEMM per batch element, on views (no copies)
            ia = tuple(i if d > 1 else 0 for i, d in zip(idx[len(idx) - (a.ndim - 2):], a.shape[:-2]))
            ib = tuple(i if d > 1 else 0 for i, d in zip(idx[len(idx) - (b.ndim - 2):], b.shape[:-2]))
            av, bv, cv = (ad[ia] if ia else ad), (bd[ib] if ib else bd), (res[idx] if idx else res)
            if m and n:
                self._run_gemm(dev, dt, m, n, k, 1.0, 0.0, av, bv, False, False, L.Operand.of(cv), L.Operand.of(cv))
        return res if _is_dev(a) else _to_host(res, out)

    # -- conv2d -------------------------------------------------------------------------------
    def conv2d(self, x, w, bias, scale, shift, spec, shape, algorithm, out):
        dev = _device_of(x) if _is_dev(x) else rt.default_device()
        _check_fp64("conv2d", dev, x.dtype)
        ys = shape.out_shape(spec.layout)
        if _is_dev(x):
            if out is not None:
                _check_device_output("conv2d", "out", out, x.dtype, ys, (("x", x), ("w", w)), dev)
                check_hw_stride("conv2d", out, shape, spec.layout)
            y = out if out is not None else rt.cla.empty(dev.queue, ys, x.dtype)
        else:
            y = rt.cla.empty(dev.queue, ys, x.dtype)
        if shape.n and shape.k:
            self._run_conv(dev, x, w, (bias, scale, shift), spec, shape, algorithm, y)
        return y if _is_dev(x) else _to_host(y, out)

    def _run_conv(self, dev, x, w, vecs, spec, shape, algorithm, y) -> None:
        dt = x.dtype
        if _is_dev(w) and not (w.flags.c_contiguous and w.offset % dt.itemsize == 0):
            raise ValueError("conv2d: a pyopencl w must be C-contiguous (K, C/groups, R, S) on the opencl backend")
        wop = _operand(dev, w, "conv2d", "w")
        xop = _operand(dev, x, "conv2d", "x")
        vdev = [None if t is None else (t if _is_dev(t) else rt.cla.to_device(dev.queue, t)) for t in vecs]
        vbufs = [None if t is None else _buffer_at(t) for t in vdev]
        geo = L.ConvGeometry.of(shape, spec, xop, L.Operand.of(y))
        yop = L.Operand.of(y)
        if _form_for(dev) == "fpga":
            if algorithm == "im2col" and rt.logger.isEnabledFor(10):
                rt.logger.debug("conv2d: the opencl FPGA form has no explicit im2col; conv_fpga gathers implicitly")
            L.conv_fpga(dev, dt, geo, wop, xop, yop, *vbufs, spec.activation)
        else:  # explicit im2col lowers into panels; every other algorithm gathers implicitly
            L.conv_ndrange(dev, dt, geo, wop, xop, yop, *vbufs, spec.activation, implicit=algorithm != "im2col")

    def pack_conv2d(self, w, bias, scale, shift, spec):
        """A plan's weights and epilogue vectors, uploaded to the default device once."""
        dev = rt.default_device()
        _check_fp64("Conv2d", dev, w.dtype)
        up = [None if t is None else (t if _is_dev(t) else rt.cla.to_device(dev.queue, np.ascontiguousarray(t))) for t in (w, bias, scale, shift)]
        return tuple(up)

    def conv2d_packed(self, packed, x, spec, shape, algorithm, out):
        return self.conv2d(x, *packed, spec, shape, algorithm, out)


def _to_host(res, out):
    """The device result of a NumPy call: a new array, or written into the caller's `out`."""
    host = res.get()
    if out is None:
        return host
    out[...] = host
    return out


def _buffer_at(t):
    """An epilogue vector as a buffer starting at its first element (the kernels index it from 0)."""
    if t.offset == 0 and t.flags.c_contiguous:
        return t.base_data
    return t.copy().base_data if t.flags.c_contiguous else rt.cla.to_device(t.queue, t.get()).base_data


backend = OpenclBackend()
