"""Thread count of the cpu backend: set/get/context manager over the OpenMP pool of kernels._cpu.

The count is process-wide. threadpoolctl sees the OpenMP runtime that kernels._cpu links and can
lower it for a scope (threadpool_limits), because the engine asks OpenMP for the caller's count.
The extension loads on the first call that needs it (kernels/_extension.py), not at import: until
then the count is kept here, and attach() applies it to the pool as the extension loads. The numba
backend reads the same count.
"""
from __future__ import annotations

import contextlib
import operator
import os
from typing import Any, Iterator, Optional

from ._config import config

_pool: Any = None  # kernels._cpu once loaded: its OpenMP pool takes the count
_set: Optional[int] = None  # the count last set; None: OpenMP's default (OMP_NUM_THREADS) governs


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


def _openmp_default() -> int:
    """OpenMP's rule, for as long as no OpenMP runtime is loaded: OMP_NUM_THREADS (its first
    level), else the cores this process may run on."""
    omp = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    return int(omp) if omp.isdigit() and int(omp) > 0 else cores()


def set_num_threads(n: int) -> None:
    """Use `n` threads in every following cpu-backend call, from any thread."""
    global _set
    n = _count(n)
    _set = n
    pool = _pool
    if pool is not None:
        pool.set_num_threads(n)


def get_num_threads() -> int:
    """Threads the next cpu-backend call from this thread will use at most."""
    pool = _pool
    if pool is not None:
        return pool.get_num_threads()
    return _set if _set is not None else _openmp_default()


@contextlib.contextmanager
def num_threads(n: int) -> Iterator[None]:
    """``with kernels.num_threads(n):`` sets the count for the block and restores it after."""
    old = get_num_threads()
    set_num_threads(n)
    try:
        yield
    finally:
        set_num_threads(old)


def attach(pool: Any) -> None:
    """The C++ extension has loaded (kernels/_extension.py): its pool takes the count set so far."""
    global _pool
    if _set is not None:
        pool.set_num_threads(_set)
    _pool = pool


def init_from_env() -> None:
    """KERNELS_NUM_THREADS wins; else OpenMP's default applies (OMP_NUM_THREADS, else the cores
    this process may run on)."""
    if config.num_threads is not None:
        set_num_threads(config.num_threads)
    elif not os.environ.get("OMP_NUM_THREADS"):
        set_num_threads(cores())
