"""What a workflow task owns (threads, GPU) and binding the kernels' thread count to it."""
from __future__ import annotations

import contextlib
import os
from typing import Iterator, Optional, Tuple

import hpc_kernels
from hpc_kernels._extension import cpu_extension
from hpc_kernels._threads import _count, cores

# Read at task time, not through hpc_kernels._config: these are the workflow runtime's per-task
# variables (PyCOMPSs sets them in the worker process that runs each task), not our settings.
_COMPUTING_UNITS_VARS = ("COMPSS_NUM_THREADS", "OMP_NUM_THREADS")


def _positive_env(name: str) -> Optional[int]:
    raw = os.environ.get(name, "").split(",")[0].strip()  # OMP lists per nesting level: the first
    if not raw:
        return None
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"{name}={os.environ[name]!r}: the task's computing units must be a positive integer")
    return int(raw)


def dask_worker():
    """The Dask worker running the current task, or None outside one (or without distributed)."""
    try:
        from distributed import get_worker
    except ImportError:
        return None
    try:
        return get_worker()
    except ValueError:  # not inside a worker's task
        return None


def owned_threads() -> Tuple[int, str]:
    """(threads this task owns, where that number came from).

    In a Dask worker: the worker's threads shared by the tasks it is executing now (a worker with
    2 threads running 2 tasks gives each 1: no oversubscription). Else the task's computing units
    from COMPSS_NUM_THREADS, then OMP_NUM_THREADS (what PyCOMPSs sets for a task with
    computing_units). Else the cores of this process. Never more than the cores this process may use.
    """
    w = dask_worker()
    if w is not None:
        running = max(1, w.state.executing_count)
        n, src = max(1, w.state.nthreads // running), f"dask worker {w.address} ({w.state.nthreads} threads, {running} running)"
    else:
        n, src = cores(), "cores of this process"
        for name in _COMPUTING_UNITS_VARS:
            v = _positive_env(name)
            if v is not None:
                n, src = v, name
                break
    return min(n, cores()), src


def gpu_backend() -> Optional[str]:
    """'cuda' when the task was given a GPU (CUDA_VISIBLE_DEVICES names one) and the cuda backend
    runs here; else None (the dispatch's usual choice)."""
    devices = os.environ.get("CUDA_VISIBLE_DEVICES", "").strip()
    if not devices or devices.startswith("-1") or devices.lower() in ("none", "nodevfiles"):
        return None
    try:
        hpc_kernels.get_backend("cuda")
    except (ImportError, ValueError):
        return None
    return "cuda"


@contextlib.contextmanager
def bound_threads(requested: Optional[int] = None) -> Iterator[int]:
    """Run the block with the task's thread count: `requested` if given, capped at what the task
    owns (never more); yields the count in effect.

    The cpu backend's count is process-wide, but a Dask worker runs several tasks at once in one
    process, so the limit is set per calling thread: this thread first adopts the process-wide
    count (the engine syncs it lazily, which would undo a limit set before), then
    threadpoolctl sets this thread's OpenMP count (and caps NumPy's BLAS for the reference
    backend). Without threadpoolctl the process-wide count is used (one task per process).
    """
    owned, _ = owned_threads()
    n = owned if requested is None else min(_count(requested), owned)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        with hpc_kernels.num_threads(n):
            yield n
        return
    _cpu, _ = cpu_extension()  # loaded before threadpoolctl looks for the OpenMP runtime it links
    hpc_kernels.get_num_threads()
    with threadpool_limits(limits=n):
        if _cpu is None:  # numba backend: it reads the process-wide count
            with hpc_kernels.num_threads(n):
                yield n
        else:
            yield n
