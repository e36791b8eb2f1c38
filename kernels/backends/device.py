"""Host <-> device handling shared by the device backends (cuda, opencl): NumPy operands copied to
the device and results back (into a NumPy out when one is given), the check of a device output,
and matmul's promotion of 1-D operands. Each device backend describes its arrays with an Arrays
subclass; gemm, matmul and conv2d below do the rest, around the backend's own kernel launches.

NumPy in, NumPy out; device arrays in, device arrays out on the operands' device, no round trip.
"""
from __future__ import annotations

import contextlib
from typing import Any, Callable, Optional, Sequence, Tuple

import numpy as np

from .. import _validation as v
from .._api.conv_args import check_hw_stride, epilogue_of_zero


class Arrays:
    """What the shared code needs to know about one backend's device arrays. `place` is where an
    array lives, in the backend's terms (a GPU id, an OpenCL context and queue)."""

    backend = ""  # the backend's name, for messages
    plural = ""  # "cupy arrays"
    type_name = ""  # "cupy.ndarray"
    allocator = ""  # what allocates an aligned output: "cupy.empty"
    promotes_device_vectors = True  # matmul takes 1-D device operands

    @property
    def array_type(self) -> type:
        raise NotImplementedError

    def is_device(self, x: Any) -> bool:
        raise NotImplementedError

    def place_of(self, x: Any) -> Any:
        """Where device array x lives: results of calls on it go there."""
        raise NotImplementedError

    def default_place(self) -> Any:
        """Where calls on NumPy operands run."""
        raise NotImplementedError

    def check_place(self, fn: str, name: str, x: Any, place: Any, other: str = "the inputs") -> None:
        """ValueError when device array x does not live at `place` (where `other` live)."""
        raise NotImplementedError

    def check_dtype(self, fn: str, place: Any, dtype: np.dtype) -> None:
        """TypeError when the device at `place` cannot compute in dtype (e.g. no float64)."""

    def address(self, x: Any) -> int:
        """Byte address (or offset in its buffer) of x's first element: the alignment check."""
        raise NotImplementedError

    def alignment_detail(self, x: Any) -> str:
        """What the alignment message says before the strides ("offset 4, ")."""
        return ""

    def shares_memory(self, a: Any, b: Any) -> bool:
        raise NotImplementedError

    def upload(self, place: Any, x: np.ndarray) -> Any:
        raise NotImplementedError

    def download(self, x: Any) -> np.ndarray:
        raise NotImplementedError

    def empty(self, place: Any, shape: Tuple[int, ...], dtype: Any) -> Any:
        raise NotImplementedError

    def fill(self, place: Any, y: Any, values: np.ndarray) -> None:
        """Write the NumPy array `values` (y's shape) into the device array y, whatever its strides."""
        raise NotImplementedError

    def on(self, place: Any):
        """Context in which allocations and launches go to `place`."""
        return contextlib.nullcontext()


def check_output(arrays: Arrays, fn: str, name: str, out: Any, dtype: Any, shape: Tuple[int, ...],
                 inputs: Sequence[Tuple[str, Any]], place: Any) -> None:
    """A device output is used as given or rejected, as kernels/_validation.check_output does for
    NumPy outputs: its kind, dtype and shape, its place, alignment, no element twice, no overlap
    with a device input."""
    if not arrays.is_device(out):
        raise TypeError(f"{fn}: {name} must be a {arrays.type_name} when the inputs are, got {type(out).__name__}")
    v.check_output_dtype_shape(fn, name, out, dtype, shape)
    arrays.check_place(fn, name, out, place)
    item = out.dtype.itemsize
    if out.size and (arrays.address(out) % item or any(s % item for s, n in zip(out.strides, out.shape) if n > 1)):
        raise ValueError(f"{fn}: {name} is not aligned to its {item}-byte elements ({arrays.alignment_detail(out)}strides "
                         f"{tuple(out.strides)}); outputs are never copied: allocate it with {arrays.allocator}")
    if v.self_overlapping(out):
        raise ValueError(v.overlap_message(fn, name, out))
    for label, x in inputs:
        if arrays.is_device(x) and x.size and out.size and arrays.shares_memory(out, x):
            raise ValueError(f"{fn}: {name} shares memory with {label}; the output must not overlap an input")


def to_host(arrays: Arrays, res: Any, out: Optional[np.ndarray]) -> np.ndarray:
    """The device result of a NumPy call: a new array, or written into the caller's (checked) out."""
    host = arrays.download(res)
    if out is None:
        return host
    out[...] = host
    return out


# run(place, a, b, cin, cout, alpha, beta, trans_a, trans_b): cout := alpha op(a) op(b) + beta cin
# on device operands (cin None when beta == 0: C is never read; cout has the result's shape).
GemmRun = Callable[[Any, Any, Any, Any, Any, float, float, bool, bool], None]


def gemm(arrays: Arrays, a, b, c, alpha, beta, trans_a: bool, trans_b: bool, out, run: GemmRun, dtype_of=None):
    """gemm with BLAS semantics on either kind of operand: NumPy a and b run on the default
    device (C copied there when read, the result copied back into out, else c, else a new
    array); device a and b run where a lives and write the device target in place."""
    if not (arrays.is_device(a) or arrays.is_device(b)):
        g = v.gemm_arguments(a, b, c, out, alpha, beta, trans_a, trans_b, dtype_of=dtype_of)
        place = arrays.default_place()
        arrays.check_dtype("gemm", place, g.dtype)
        result = np.empty((g.m, g.n), g.dtype) if g.target is None else g.target
        if result.size == 0:
            return result
        with arrays.on(place):
            cin = None if g.source is None else arrays.upload(place, g.source)
            cout = arrays.empty(place, (g.m, g.n), g.dtype)
            run(place, arrays.upload(place, g.a), arrays.upload(place, g.b), cin, cout, g.alpha, g.beta, trans_a, trans_b)
        result[...] = arrays.download(cout)
        return result
    if not (arrays.is_device(a) and arrays.is_device(b)):
        raise TypeError(f"gemm: a and b must both be {arrays.plural} (device) or both NumPy arrays (host) on the "
                        f"{arrays.backend} backend")
    place = arrays.place_of(a)
    arrays.check_place("gemm", "b", b, place, "a")

    def check(fn, name, arr, dtype, shape, inputs):
        check_output(arrays, fn, name, arr, dtype, shape, inputs, place)

    g = v.gemm_arguments(a, b, c, out, alpha, beta, trans_a, trans_b, check=check, array_type=arrays.array_type,
                         dtype_of=dtype_of)
    arrays.check_dtype("gemm", place, g.dtype)
    if g.source is not None and g.source is not g.target:
        arrays.check_place("gemm", "c", g.source, place)
    with arrays.on(place):
        target = arrays.empty(place, (g.m, g.n), g.dtype) if g.target is None else g.target
        if target.size:
            run(place, a, b, g.source, target, g.alpha, g.beta, trans_a, trans_b)
    return target


def matmul(arrays: Arrays, a, b, out, run: Callable[[Any, Any, Any, Any], None], dtype_of):
    """matmul with NumPy semantics around run(place, a, b, c): c = a @ b on >= 2-D device
    operands (batch dimensions broadcast; c a device view). 1-D operands are promoted (a (k,) ->
    (1, k), b (k,) -> (k, 1)) and the added axes dropped from the result; NumPy operands are
    copied to the default device and the result back (into out when given)."""
    device = arrays.is_device(a) or arrays.is_device(b)
    if device:
        if not (arrays.is_device(a) and arrays.is_device(b)):
            raise TypeError(f"matmul: a and b must both be {arrays.plural} or both NumPy arrays on the {arrays.backend} backend")
        if not arrays.promotes_device_vectors and (a.ndim < 2 or b.ndim < 2):
            raise ValueError(f"matmul: {arrays.plural.split()[0]} operands must be at least 2-D on the {arrays.backend} "
                             "backend (1-D operands: reshape them)")
    else:
        a, b = v.as_input(a), v.as_input(b)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError("matmul: scalar operands are not allowed, use '*' instead")
    # out's kind before the operands' dtypes and shapes: the order of every backend (base.promote_matmul).
    if out is not None and device and not arrays.is_device(out):
        raise TypeError(f"matmul: out must be a {arrays.type_name} when the inputs are, got {type(out).__name__}")
    if out is not None and not device and not isinstance(out, np.ndarray):
        raise TypeError(f"matmul: out must be a numpy.ndarray, got {type(out).__name__}")
    a2 = a[None, :] if a.ndim == 1 else a
    b2 = b[:, None] if b.ndim == 1 else b
    dt = dtype_of("matmul", a2, b2)
    shape = v.matmul_shape(a2, b2)
    final = shape[:-2] + ((shape[-2],) if a.ndim > 1 else ()) + ((shape[-1],) if b.ndim > 1 else ())
    place = arrays.place_of(a) if device else arrays.default_place()
    if device:
        arrays.check_place("matmul", "b", b, place, "a")
    arrays.check_dtype("matmul", place, dt)
    if out is not None:
        if device:
            check_output(arrays, "matmul", "out", out, dt, final, (("a", a), ("b", b)), place)
        else:
            v.check_output("matmul", "out", out, dt, final, (("a", a), ("b", b)))
    with arrays.on(place):
        if device:
            res = out if out is not None else arrays.empty(place, final, dt)
            r2 = res[..., None] if b.ndim == 1 else res  # views with the promoted axes put back
            r2 = r2[..., None, :] if a.ndim == 1 else r2
        else:
            r2 = arrays.empty(place, shape, dt)
            a2, b2 = arrays.upload(place, a2), arrays.upload(place, b2)
        if r2.size:
            run(place, a2, b2, r2)
    if device:
        return res
    host = arrays.download(r2).reshape(final)
    if out is None:
        return host[()] if host.ndim == 0 else host
    out[...] = host
    return out


def _residual_on_device(arrays: Arrays, place, residual, out, shape, spec):
    """The residual as the conv kernels read it: a device array at `place`, aligned, its H and W at
    one stride (the kernels index pixels as one number), never the memory of the output. NumPy
    residuals are uploaded; a device residual that is out itself (the same view: y = conv + y) or
    that the kernels cannot address is read from a copy (the kernels may store partial sums in y
    before their last pass reads the residual); any other overlap with out is a ValueError."""
    if not arrays.is_device(residual):
        return arrays.upload(place, np.ascontiguousarray(residual))
    arrays.check_place("conv2d", "residual", residual, place)
    item = residual.dtype.itemsize
    hax, wax = (2, 3) if spec.layout == "NCHW" else (1, 2)
    copy = residual.size and (arrays.address(residual) % item or any(s % item for s in residual.strides)
                              or (shape.ho > 1 and shape.wo > 1 and residual.strides[hax] != shape.wo * residual.strides[wax]))
    if out is not None and arrays.is_device(out) and residual.size and arrays.shares_memory(out, residual):
        same = arrays.address(residual) == arrays.address(out) and all(
            a == b or n <= 1 for a, b, n in zip(residual.strides, out.strides, out.shape))
        if not same:
            raise ValueError("conv2d: residual and out share memory without being the same array view; pass "
                             "residual=out for an in-place sum (y = conv + y), or arrays that do not overlap")
        copy = True
    return arrays.upload(place, arrays.download(residual)) if copy else residual


def conv2d(arrays: Arrays, x, shape, spec, out, inputs: Sequence[Tuple[str, Any]], run: Callable[..., None],
           vectors: Sequence[Any] = (None, None, None), residual: Any = None):
    """conv2d around run(place, x, y), which fills the device output y from x (NumPy or device:
    the backend uploads what it reads). Device x: y is out (checked here) or a new device array
    where x lives; NumPy x: y is a new device array, copied back into out or a new array. A layer
    without input channels is every output's epilogue of an empty sum (bias, scale, shift in
    `vectors`), written here: the kernels are not launched on an empty reduction. residual (None,
    NumPy or device; dtype and shape checked by the front end): run(place, x, y, r) then gets it
    as a device array (_residual_on_device) and adds it before the activation."""
    device = arrays.is_device(x)
    place = arrays.place_of(x) if device else arrays.default_place()
    arrays.check_dtype("conv2d", place, x.dtype)
    ys = shape.out_shape(spec.layout)
    if device and out is not None:
        check_output(arrays, "conv2d", "out", out, x.dtype, ys, inputs, place)
        check_hw_stride("conv2d", out, shape, spec.layout)
    with arrays.on(place):
        y = out if (device and out is not None) else arrays.empty(place, ys, x.dtype)
        if shape.n and shape.k and shape.c == 0:
            host = [None if t is None else (arrays.download(t) if arrays.is_device(t) else np.asarray(t)) for t in vectors]
            act = spec.activation if residual is None else ""
            v0 = epilogue_of_zero(*host, act, shape.k, x.dtype)
            v0 = np.broadcast_to(v0[:, None, None] if spec.layout == "NCHW" else v0, ys)
            if residual is not None:
                v0 = v0 + (arrays.download(residual) if arrays.is_device(residual) else np.asarray(residual))
                if spec.activation:
                    np.maximum(v0, 0, out=v0, where=~np.isnan(v0))
                    if spec.activation == "relu6":
                        np.minimum(v0, 6, out=v0, where=~np.isnan(v0))
            arrays.fill(place, y, v0)
        elif shape.n and shape.k and residual is not None:
            run(place, x, y, _residual_on_device(arrays, place, residual, out if device else None, shape, spec))
        elif shape.n and shape.k:
            run(place, x, y)
    return y if device else to_host(arrays, y, out)
