"""Workflow task functions: one per kernel, operands as arrays or .npy paths, threads bound to
what the task owns, the GPU given to the task used when there is one."""
from __future__ import annotations

import os
import platform
import time
from typing import Any, Dict, Optional, Union

import numpy as np

import hpc_kernels

from hpc_kernels._dispatch import _loaded, pick

from .arrays import PathLike, load, save_atomic
from .resources import bound_threads, dask_worker, gpu_backend, owned_threads


def _where() -> str:
    w = dask_worker()
    return f"dask worker {w.address}" if w is not None else f"{platform.node()} pid {os.getpid()}"


def _picked(op: str, first: Any) -> str:
    """The name of the backend the dispatch picks for `first` (the call then picks the same)."""
    fn = pick(op, None, first)
    for name, be in _loaded.items():  # bound methods and functions stored on the backend object alike
        if getattr(fn, "__self__", None) is be or getattr(be, op, None) is fn:
            return name
    return "default"


def run_kernel(kernel: str, first: Any, fn, out: Optional[PathLike], threads: Optional[int], backend: Optional[str], info: bool,
               op: Optional[str] = None):
    """Run `fn(backend)` as a task: threads bound, backend chosen, result returned or saved to
    `out`; with info=True also a dict of what ran where (kernel, worker, backend, threads, seconds).
    `op`: the dispatched op whose choice for `first` names the backend (default: `kernel`; an ONNX
    model's convolutions go where conv2d of its input would)."""
    chosen = backend if backend is not None else gpu_backend()
    name = chosen if chosen is not None else _picked(op or kernel, first)
    _, source = owned_threads()  # as the task starts (a Dask worker's share depends on the moment)
    with bound_threads(threads) as n:
        t0 = time.perf_counter()
        result = fn(chosen)
        seconds = time.perf_counter() - t0
        seen = hpc_kernels.get_num_threads()  # what the kernel actually ran with on this thread
    if hasattr(result, "get") and not isinstance(result, np.ndarray) and out is not None:
        result = result.get()  # a device array going to a file
    value: Any = save_atomic(out, result) if out is not None else result
    if not info:
        return value
    return value, {"kernel": kernel, "where": _where(), "backend": name, "threads": seen, "threads_from": source,
                   "threads_bound": n, "seconds": seconds}


def gemm_task(
    a: Union[np.ndarray, PathLike],
    b: Union[np.ndarray, PathLike],
    c: Union[np.ndarray, PathLike, None] = None,
    *,
    out: Optional[PathLike] = None,
    alpha: float = 1.0,
    beta: float = 0.0,
    trans_a: bool = False,
    trans_b: bool = False,
    threads: Optional[int] = None,
    backend: Optional[str] = None,
    info: bool = False,
) -> Any:
    """hpc_kernels.gemm as a task: ``alpha * op(a) @ op(b) + beta * c``. Operands are arrays or .npy
    paths; with ``out`` (a path) the result is written there atomically and the path returned, else
    the array is returned (never written into a caller's c: a task's inputs stay unchanged).
    ``threads``: at most what the task owns (default: all of it). ``info=True`` returns
    ``(result, info)`` with the worker, backend, threads and kernel seconds."""
    a, b, c = load("gemm: a", a), load("gemm: b", b), load("gemm: c", c)

    def call(be):
        target = None if c is None else c.copy() if hasattr(c, "copy") else np.array(c)  # gemm writes into c; a task's inputs stay as they are
        return hpc_kernels.gemm(a, b, target, alpha=alpha, beta=beta, trans_a=trans_a, trans_b=trans_b, backend=be)

    return run_kernel("gemm", a, call, out, threads, backend, info)


def conv2d_task(
    x: Union[np.ndarray, PathLike],
    w: Union[np.ndarray, PathLike],
    bias: Union[np.ndarray, PathLike, None] = None,
    *,
    out: Optional[PathLike] = None,
    threads: Optional[int] = None,
    backend: Optional[str] = None,
    info: bool = False,
    **options: Any,
) -> Any:
    """hpc_kernels.conv2d as a task: x, w, bias as arrays or .npy paths, the other keyword arguments
    of hpc_kernels.conv2d (stride, padding, dilation, groups, layout, activation, scale, shift,
    algorithm) as they are; ``out``, ``threads``, ``backend``, ``info`` as for gemm_task."""
    x, w, bias = load("conv2d: x", x), load("conv2d: w", w), load("conv2d: bias", bias)
    if "out" in options:
        raise TypeError("conv2d_task: out is the output .npy path here")
    return run_kernel("conv2d", x, lambda be: hpc_kernels.conv2d(x, w, bias, backend=be, **options), out, threads, backend, info)


TASKS: Dict[str, Any] = {"gemm": gemm_task, "conv2d": conv2d_task}
