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
from .. import device
from ..base import Backend
from . import algorithms as _algorithms
from . import launch as L
from . import runtime as rt

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


class _Arrays(device.Arrays):
    """pyopencl arrays for the shared host/device code (kernels/backends/device.py): a place is a
    Device (context, device and the queue results go to)."""

    backend, plural, type_name, allocator = "opencl", "pyopencl arrays", "pyopencl.array.Array", "pyopencl.array.empty"
    promotes_device_vectors = False  # 1-D pyopencl operands: the caller reshapes them

    @property
    def array_type(self) -> type:
        return rt.cla.Array

    def is_device(self, x) -> bool:
        return _is_dev(x)

    def place_of(self, x) -> rt.Device:
        return _device_of(x)

    def default_place(self) -> rt.Device:
        return rt.default_device()

    def check_place(self, fn, name, x, place, other="the inputs") -> None:
        if x.context.int_ptr != place.context.int_ptr:
            raise ValueError(f"{fn}: {name} lives in another OpenCL context than {other}")

    def check_dtype(self, fn, place, dtype) -> None:
        _check_fp64(fn, place, dtype)

    def address(self, x) -> int:
        return x.offset

    def alignment_detail(self, x) -> str:
        return f"offset {x.offset}, "

    def shares_memory(self, a, b) -> bool:
        if a.base_data.int_ptr != b.base_data.int_ptr:
            return False
        (a0, a1), (b0, b1) = _extent(a), _extent(b)
        return a0 <= b1 and b0 <= a1

    def upload(self, place, x):
        return rt.cla.to_device(place.queue, np.ascontiguousarray(x))

    def download(self, x):
        return x.get()

    def empty(self, place, shape, dtype):
        return rt.cla.empty(place.queue, shape, dtype)

    def fill(self, place, y, values) -> None:
        # pyopencl assigns only between arrays of equal strides (and np.ascontiguousarray keeps a
        # broadcast's zero strides on length-1 axes): a fresh C-order copy, stored element by element.
        src = rt.cla.to_device(place.queue, np.array(values, dtype=y.dtype, order="C"))
        L.scatter(place, y.dtype, src, L.Operand.of(y), y.shape)


_ARRAYS = _Arrays()


def _operand(dev: rt.Device, x, fn: str, name: str) -> L.Operand:
    """A device operand of x: device arrays as they lie (same context), NumPy arrays uploaded."""
    if _is_dev(x):
        if x.context.int_ptr != dev.context.int_ptr:
            raise ValueError(f"{fn}: {name} lives in another OpenCL context than the other operands")
        item = x.dtype.itemsize
        if x.size and (x.offset % item or any(s % item for s, n in zip(x.strides, x.shape) if n > 1)):
            # The kernels address whole elements: an input that is not aligned to them is read
            # from an aligned copy (through the host: a rare layout, and pyopencl copies keep it).
            x = rt.cla.to_device(dev.queue, _host_copy(x))
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

    installed = rt.cl is not None
    device_arrays = _ARRAYS  # what the ONNX runtime's conv chains keep values in between steps

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
        return device.gemm(_ARRAYS, a, b, c, alpha, beta, trans_a, trans_b, out, self._gemm)

    def _gemm(self, dev, a, b, cin, cout, alpha, beta, trans_a, trans_b) -> None:
        """cout := alpha op(a) op(b) + beta cin on device arrays (cin None: beta == 0, not read)."""
        m, n = cout.shape
        k = a.shape[0] if trans_a else a.shape[1]
        cin = _operand(dev, cin, "gemm", "c") if cin is not None else L.Operand.of(cout)  # c: copied if misaligned
        self._run_gemm(dev, cout.dtype, m, n, k, alpha, beta, a, b, trans_a, trans_b, cin, L.Operand.of(cout))

    def _run_gemm(self, dev, dt, m, n, k, alpha, beta, a, b, trans_a, trans_b, cin, cout, fn: str = "gemm") -> None:
        if alpha == 0 or k == 0:  # BLAS: A and B are not referenced
            opa = opb = L.Operand(cout.buf, 0, (0, 0))
            k = 0
        else:
            opa = _swap(_operand(dev, a, fn, "a"), trans_a)
            opb = _swap(_operand(dev, b, fn, "b"), trans_b)
        g = L.Gemm(m, n, k, alpha, beta, opa, opb, cin, cout)
        (L.gemm_fpga if _form_for(dev) == "fpga" else L.gemm_ndrange)(dev, dt, g)

    # -- matmul -------------------------------------------------------------------------------
    def matmul(self, a, b, out):
        return device.matmul(_ARRAYS, a, b, out, self._matmul, v.same_dtype)

    def _matmul(self, dev, a, b, res) -> None:
        """res = a @ b for >= 2-D device operands: one GEMM per batch element, on views (no copies)."""
        batch = res.shape[:-2]
        m, n, k = res.shape[-2], res.shape[-1], a.shape[-1]
        for idx in np.ndindex(*batch):
            ia = tuple(i if d > 1 else 0 for i, d in zip(idx[len(idx) - (a.ndim - 2):], a.shape[:-2]))
            ib = tuple(i if d > 1 else 0 for i, d in zip(idx[len(idx) - (b.ndim - 2):], b.shape[:-2]))
            av, bv, cv = (a[ia] if ia else a), (b[ib] if ib else b), (res[idx] if idx else res)
            if m and n:
                self._run_gemm(dev, res.dtype, m, n, k, 1.0, 0.0, av, bv, False, False, L.Operand.of(cv), L.Operand.of(cv), "matmul")

    # -- conv2d -------------------------------------------------------------------------------
    def conv2d(self, x, w, bias, scale, shift, spec, shape, algorithm, out, residual=None):
        def run(dev, x, y, r=None):
            self._run_conv(dev, x, w, (bias, scale, shift), spec, shape, algorithm, y, r)

        return device.conv2d(_ARRAYS, x, shape, spec, out, (("x", x), ("w", w)), run, (bias, scale, shift), residual)

    def _run_conv(self, dev, x, w, vecs, spec, shape, algorithm, y, r=None) -> None:
        dt = x.dtype
        if _is_dev(w) and not (w.flags.c_contiguous and w.offset % dt.itemsize == 0):
            raise ValueError("conv2d: a pyopencl w must be C-contiguous (K, C/groups, R, S) on the opencl backend")
        wop = _operand(dev, w, "conv2d", "w")
        xop = _operand(dev, x, "conv2d", "x")
        vdev = [None if t is None else (t if _is_dev(t) else rt.cla.to_device(dev.queue, t)) for t in vecs]
        vbufs = [None if t is None else _buffer_at(t) for t in vdev]
        geo = L.ConvGeometry.of(shape, spec, xop, L.Operand.of(y))
        yop = L.Operand.of(y)
        res = None
        if r is not None:  # a device array device.conv2d prepared (aligned, H and W one stride, not y)
            rop = _operand(dev, r, "conv2d", "residual")
            res = (rop, L.residual_strides(rop, spec.layout, shape.wo))
        if _form_for(dev) == "fpga":
            if algorithm == "im2col" and rt.logger.isEnabledFor(10):
                rt.logger.debug("conv2d: the opencl FPGA form has no explicit im2col; conv_fpga gathers implicitly")
            L.conv_fpga(dev, dt, geo, wop, xop, yop, *vbufs, spec.activation, res=res)
        else:  # explicit im2col lowers into panels; convgemm gathers implicitly
            L.conv_ndrange(dev, dt, geo, wop, xop, yop, *vbufs, spec.activation, implicit=algorithm != "im2col", res=res)

    def pack_conv2d(self, w, bias, scale, shift, spec):
        """A plan's weights and epilogue vectors, uploaded to the default device once."""
        dev = rt.default_device()
        _check_fp64("Conv2d", dev, w.dtype)
        up = [None if t is None else (t if _is_dev(t) else rt.cla.to_device(dev.queue, np.ascontiguousarray(t))) for t in (w, bias, scale, shift)]
        return tuple(up)

    def conv2d_packed(self, packed, x, spec, shape, algorithm, out, residual=None):
        return self.conv2d(x, *packed, spec, shape, algorithm, out, residual)


def _host_copy(x) -> np.ndarray:
    """A device array of any offset and strides as a contiguous NumPy array: the bytes it spans,
    read in one transfer, viewed with its strides (pyopencl's get() takes contiguous arrays only)."""
    lo, hi = _extent(x)
    raw = np.empty(hi - lo + 1, np.uint8)
    rt.cl.enqueue_copy(x.queue, raw, x.base_data, src_offset=lo).wait()
    return np.ascontiguousarray(np.ndarray(x.shape, x.dtype, raw, x.offset - lo, x.strides))


def _buffer_at(t):
    """An epilogue vector as a buffer starting at its first element (the kernels index it from 0)."""
    if t.offset == 0 and t.flags.c_contiguous:
        return t.base_data
    return t.copy().base_data if t.flags.c_contiguous else rt.cla.to_device(t.queue, t.get()).base_data


backend = OpenclBackend()
