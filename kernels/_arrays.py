"""Arrays of other libraries at the public API, in one place: a CPU-resident object exposing
`__dlpack__` (a torch tensor, a JAX array, a CuPy host array, any DLPack exporter) is read and
written zero-copy as a NumPy view (np.from_dlpack), and the result goes back as the first operand's
kind through that library's from_dlpack; masked arrays are refused (their mask would be ignored).

Why here and not in each backend: the host backends (cpu, numba, reference) see NumPy arrays only,
so every output check (kernels/_validation.py: dtype, shape, writable, aligned, no overlap) applies
to the zero-copy view exactly as to a NumPy `out=`, and a DLPack `out=` is written in place or
rejected, never copied. Device arrays a backend takes by type (CuPy, pyopencl) are left as they
are; a DLPack object on a device (a torch CUDA tensor) becomes the array of the backend that reads
that device (kernels/_dispatch.device_view, Backend.dlpack_devices / from_dlpack), zero-copy too.
"""
from __future__ import annotations

import importlib
import sys
from typing import Any, Callable, Optional

import numpy as np

_ndarray = np.ndarray
# DLPack device types whose memory the host backends read: kDLCPU. Anything else (kDLCUDA, ...)
# stays as it is, for a device backend to take by type.
HOST_DEVICES = frozenset({1})


def host(fn: str, name: str, x: Any, on_device: Optional[Callable[[Any, int], Any]] = None) -> Any:
    """x as the backends see it: NumPy arrays (and None, lists, scalars) as they are, a host
    DLPack exporter as a zero-copy NumPy view, a masked array refused (TypeError); a DLPack object
    on another device as on_device(x, device_type) makes it (kernels/_dispatch.device_view: the
    array of the backend that reads that device), else as it is."""
    if type(x) is _ndarray or x is None:
        return x
    if isinstance(x, np.ma.MaskedArray):
        raise TypeError(f"{fn}: {name} is a numpy.ma.MaskedArray; masked arrays are not supported (the mask would "
                        f"be ignored): pass {name}.filled(value) or np.asarray({name}) to say what masked entries hold")
    if isinstance(x, _ndarray) or not hasattr(x, "__dlpack__"):
        return x
    try:
        device = int(x.__dlpack_device__()[0])
    except Exception:  # an exporter without __dlpack_device__: nothing says it is host memory
        return x
    if device not in HOST_DEVICES:
        return x if on_device is None else on_device(x, device)
    try:
        return np.from_dlpack(x, copy=False)  # never a copy: a buffer it cannot share is an error
    except (BufferError, RuntimeError, TypeError, ValueError) as exc:
        raise TypeError(f"{fn}: {name} ({_kind(x)}) cannot be shared zero-copy through DLPack: {exc}") from None


def result(first: Any, r: Any) -> Any:
    """The NumPy result `r` of a call whose first operand was `first`, as first's kind: NumPy for
    NumPy (and lists), else the library's own from_dlpack of r (zero-copy). A DLPack exporter with
    no library behind it (no __array_namespace__, no importable from_dlpack) gets NumPy."""
    if type(first) is _ndarray or r is None or isinstance(first, _ndarray) or not hasattr(first, "__dlpack__"):
        return r
    if type(r) is type(first):
        return r
    if isinstance(r, np.generic):
        r = np.asarray(r)  # matmul of two vectors: a 0-d array, as torch returns a 0-d tensor
    from_dlpack = _from_dlpack_of(first)
    return r if from_dlpack is None else from_dlpack(r)


def _from_dlpack_of(x: Any):
    """x's library's from_dlpack: the array API namespace's (JAX, CuPy, array-api-strict), else
    the top-level module of x's type (torch.from_dlpack), else None."""
    ns = getattr(x, "__array_namespace__", None)
    if ns is not None:
        try:
            f = getattr(ns(), "from_dlpack", None)
        except Exception:  # a namespace that cannot be had (e.g. an api_version it does not know)
            f = None
        if f is not None:
            return f
    root = type(x).__module__.partition(".")[0]
    mod = sys.modules.get(root)
    if mod is None:
        try:
            mod = importlib.import_module(root)
        except ImportError:
            return None
    f = getattr(mod, "from_dlpack", None)
    return f if callable(f) and root != "numpy" else None


def _kind(x: Any) -> str:
    t = type(x)
    return f"{t.__module__}.{t.__qualname__}"
