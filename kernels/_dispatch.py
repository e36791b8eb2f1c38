"""Backend registry and the choice of a backend for each call.

Order of precedence: the ``backend=`` argument, then ``with hpc_kernels.use_backend(name)``, then the
``KERNELS_BACKEND`` environment variable, then the array type: the first backend in registry order
that can and should run the call (Backend.can_run / should_run: NumPy arrays go to cpu, else numba,
else reference). This module knows no backend: it imports them by the registry's string paths
(REGISTRY below) on first use. Every decision is logged at DEBUG on the ``hpc_kernels``
logger.
"""
from __future__ import annotations

import collections
import contextlib
import contextvars
import importlib
import logging
from typing import Any, DefaultDict, Dict, Iterator, List, Optional

import numpy as np

from ._arrays import host
from ._config import config
from ._errors import BackendNotAvailable, UnsupportedOperation

# Backend registry: name -> "module:object", imported on first use (this module imports no
# backend). Order matters: for an array type, the first backend that can and should run a call
# takes it. A new backend is a package under kernels/backends/ plus one line here.
REGISTRY = {
    "cpu": "hpc_kernels.backends.cpu:backend",
    "numba": "hpc_kernels.backends.numba:backend",  # the default for NumPy arrays when cpu is not built
    "reference": "hpc_kernels.backends.reference:backend",
    "opencl": "hpc_kernels.backends.opencl:backend",
    "cuda": "hpc_kernels.backends.cuda:backend",
}

logger = logging.getLogger("hpc_kernels")

_debug_on = logger.isEnabledFor  # bound once: pick() runs on every call
_DEBUG = logging.DEBUG
_ENV_BACKEND = config.backend
_context: contextvars.ContextVar[Optional[str]] = contextvars.ContextVar("kernels_backend", default=None)
_loaded: Dict[str, Any] = {}
# Cache of the type rule: op -> {array type -> the chosen backend's method}, and the backend's name.
_fast: DefaultDict[str, Dict[type, Any]] = collections.defaultdict(dict)
_fast_names: DefaultDict[str, Dict[type, str]] = collections.defaultdict(dict)


def _load(name: str):
    """The backend object for a registered name (imported on first use), or ValueError."""
    be = _loaded.get(name)
    if be is None:
        path = REGISTRY.get(name)
        if path is None:
            raise ValueError(f"unknown backend {name!r}; known backends: {', '.join(REGISTRY)}")
        module_name, _, attr = path.partition(":")
        be = getattr(importlib.import_module(module_name), attr)
        _loaded[name] = be
    return be


def backend_names() -> List[str]:
    return list(REGISTRY)


def get_backend(name: str):
    """The backend called `name`, raising BackendNotAvailable when it cannot run here."""
    be = _load(name)
    if not be.available:
        raise BackendNotAvailable(name, be.reason, be.extra, getattr(be, "installed", False))
    return be


def _named(op: str, name: str, why: str):
    be = get_backend(name)
    if op not in be.ops:
        raise UnsupportedOperation(f"backend {name!r} does not implement {op}; it implements {sorted(be.ops)}")
    if logger.isEnabledFor(logging.DEBUG):
        logger.debug("%s -> backend %r (%s)", op, name, why)
    return be


def device_view(x: Any, device: int) -> Any:
    """A DLPack object in memory of `device` (not the host's): as the array of the first available
    backend that reads that device (Backend.dlpack_devices, e.g. a torch CUDA tensor as a CuPy
    array for the cuda backend), zero-copy; x itself when a backend takes it by type or none reads
    the device (the call then fails as for any array of an unknown kind)."""
    for name in REGISTRY:
        be = _load(name)
        if be.available and be.accepts(x):
            return x
    for name in REGISTRY:
        be = _load(name)
        if be.available and device in be.dlpack_devices:
            if logger.isEnabledFor(logging.DEBUG):
                logger.debug("DLPack device %d array -> backend %r's own array (from_dlpack)", device, name)
            return be.from_dlpack(x)
    return x


def operand(fn: str, name: str, x: Any) -> Any:
    """An array argument as the backends take it (kernels/_arrays.py): NumPy and backends' own
    arrays as they are, CPU DLPack objects as NumPy views, GPU ones as the array of the backend
    that reads their device; masked arrays refused."""
    return host(fn, name, x, device_view)


def _by_array_type(op: str, x: Any):
    kind = type(x)
    for name in REGISTRY:  # the backends decide (Backend.can_run / should_run); the registry order breaks ties
        be = _load(name)
        if be.can_run(op, x) and be.should_run(op, x):
            if logger.isEnabledFor(logging.DEBUG):
                logger.debug("%s -> backend %r (array type %s.%s)", op, name, kind.__module__, kind.__qualname__)
            return be
    if kind.__module__ == "builtins" or hasattr(x, "__array__"):  # lists, scalars, array-likes: NumPy's
        return _by_array_type(op, np.empty(0))
    raise TypeError(f"{op}: no available backend accepts arrays of type {kind.__module__}.{kind.__qualname__}")


def pick(op: str, backend: Optional[str], x: Any):
    """The function that runs `op` on first operand `x`: the chosen backend's method. Kept cheap,
    it is on every call's path: one dict lookup by array type when nothing overrides the choice."""
    if backend is None and _ENV_BACKEND is None and _context.get() is None:
        fn = _fast[op].get(type(x))
        if fn is not None:
            if _debug_on(_DEBUG):
                kind = type(x)
                logger.debug("%s -> backend %r (array type %s.%s)", op, _fast_names[op][kind], kind.__module__, kind.__qualname__)
            return fn
        be = _by_array_type(op, x)
        _fast[op][type(x)] = getattr(be, op)
        _fast_names[op][type(x)] = be.name
        return getattr(be, op)
    if backend is not None:
        return getattr(_named(op, backend, "backend= argument"), op)
    name = _context.get()
    if name is not None:
        return getattr(_named(op, name, "use_backend() context"), op)
    return getattr(_named(op, _ENV_BACKEND, "KERNELS_BACKEND"), op)


def backend_of(op: str, backend: Optional[str], x: Any):
    """The backend object that runs `op` on first operand `x`, by pick's precedence (the bf16 entry
    points, kernels/_api/bf16.py, call the backend's own bf16 method)."""
    if backend is not None:
        return _named(op, backend, "backend= argument")
    name = _context.get()
    if name is not None:
        return _named(op, name, "use_backend() context")
    if _ENV_BACKEND is not None:
        return _named(op, _ENV_BACKEND, "KERNELS_BACKEND")
    return _by_array_type(op, x)


@contextlib.contextmanager
def use_backend(name: str) -> Iterator[None]:
    """Run the calls inside the block on backend `name` (per thread / async task: a context variable)."""
    get_backend(name)  # fail at the `with`, not at the first call
    token = _context.set(name)
    try:
        yield
    finally:
        _context.reset(token)


def configure_logging() -> None:
    """KERNELS_VERBOSE=1: send the hpc_kernels logger's DEBUG records to stderr."""
    if config.verbose and not any(getattr(h, "_kernels_verbose", False) for h in logger.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("hpc_kernels: %(message)s"))
        handler._kernels_verbose = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
