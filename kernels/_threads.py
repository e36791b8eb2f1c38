"""Thread count of the cpu backend: set/get/context manager over the OpenMP pool of kernels._cpu.

The count is process-wide. threadpoolctl sees the OpenMP runtime that kernels._cpu links and can
lower it for a scope (threadpool_limits), because the engine asks OpenMP for the caller's count.
"""
from __future__ import annotations

import contextlib
import operator
import os
from typing import Iterator

from ._config import config
from .backends.cpu import _cpu

# The count when the C++ extension is not built (the numba backend reads it): process-wide too.
_without_cpu = {"threads": 1}


def cores() -> int:
    """Cores this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _count(n) -> int:
    if isinstance(n, bool):
        raise TypeError("number of threads must be an integer, got bool")
    try:
        n = operator.index(n)
    except TypeError:
        raise TypeError(f"number of threads must be an integer, got {type(n).__name__}") from None
    if n < 1:
        raise ValueError(f"number of threads must be >= 1, got {n}")
    return n


def set_num_threads(n: int) -> None:
    """Use `n` threads in every following cpu-backend call, from any thread."""
    n = _count(n)
    _without_cpu["threads"] = n
    if _cpu is not None:
        _cpu.set_num_threads(n)


def get_num_threads() -> int:
    """Threads the next cpu-backend call from this thread will use at most."""
    return _cpu.get_num_threads() if _cpu is not None else _without_cpu["threads"]


@contextlib.contextmanager
def num_threads(n: int) -> Iterator[None]:
    """``with kernels.num_threads(n):`` sets the count for the block and restores it after."""
    old = get_num_threads()
    set_num_threads(n)
    try:
        yield
    finally:
        set_num_threads(old)


def init_from_env() -> None:
    """KERNELS_NUM_THREADS wins; else OpenMP's default applies (OMP_NUM_THREADS, else the cores
    this process may run on)."""
    if config.num_threads is not None:
        set_num_threads(config.num_threads)
    elif _cpu is not None and not os.environ.get("OMP_NUM_THREADS"):
        set_num_threads(cores())
    elif _cpu is None:  # OpenMP's rule without OpenMP: OMP_NUM_THREADS, else the cores
        omp = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
        set_num_threads(int(omp) if omp.isdigit() and int(omp) > 0 else cores())
