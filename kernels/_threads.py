"""Thread count of the cpu backend: set/get/context manager over the OpenMP pool of hpc_kernels._cpu.

The count is process-wide. threadpoolctl sees the OpenMP runtime that hpc_kernels._cpu links and can
lower it for a scope (threadpool_limits), because the engine asks OpenMP for the caller's count.
The extension loads on the first call that needs it (kernels/_extension.py), not at import: until
then the count is kept here, and attach() applies it to the pool as the extension loads. The numba
backend reads the same count.
"""
from __future__ import annotations

import operator
import os
from typing import Any, Optional

from ._config import config

_pool: Any = None  # hpc_kernels._cpu once loaded: its OpenMP pool takes the count
_requested: Optional[int] = None  # the count last set; None: OpenMP's default (OMP_NUM_THREADS) governs


def cores() -> int:
    """Cores this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


# Upper bound of a thread count: OVERSUBSCRIPTION x the CPUs this process may use, at least
# MIN_BOUND. More threads than CPUs never speeds these kernels up (each thread's micro-kernel
# saturates its core's FMA units; extra threads only time-slice, and every barrier then waits for
# a descheduled thread), while each OpenMP thread reserves a stack (RLIMIT_STACK or OMP_STACKSIZE,
# typically 8 MiB of address space) and a thread id: 100000 threads exhaust a memory or pid limit,
# and libgomp then ends the process ("Thread creation failed") instead of raising. Some
# oversubscription stays allowed, to reproduce another machine's work split or to run the tests'
# 1..5-thread splits on a 1-core machine. csrc/threads.cpp caps the engine's count by the same
# rule, for counts that come from OMP_NUM_THREADS or threadpoolctl rather than from here.
OVERSUBSCRIPTION = 4
MIN_BOUND = 8


def max_threads() -> int:
    """The largest thread count set_num_threads accepts: 4 x the CPUs of this process, at least 8."""
    return max(MIN_BOUND, OVERSUBSCRIPTION * cores())


def _count(n) -> int:
    """`n` as a thread count >= 1 (TypeError, ValueError otherwise); the upper bound is checked by
    set_num_threads (a workflow task caps a larger request at what it owns instead)."""
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
    level, capped as the engine caps it), else the cores this process may run on."""
    omp = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    return min(int(omp), max_threads()) if omp.isdigit() and int(omp) > 0 else cores()


def set_num_threads(n: int) -> None:
    """Use `n` threads in every following cpu-backend call, from any thread. `n` may be at most
    max_threads() (4 x the CPUs this process may use, at least 8): ValueError beyond."""
    n = _count(n)
    bound = max_threads()
    if n > bound:
        raise ValueError(f"number of threads must be in [1, {bound}] (4 x the {cores()} CPU(s) this process may use, "
                         f"at least {MIN_BOUND}), got {n}")
    _set(n)


def _set(n: int) -> None:
    global _requested
    _requested = n
    pool = _pool
    if pool is not None:
        pool.set_num_threads(n)


def get_num_threads() -> int:
    """Threads the next cpu-backend call from this thread will use at most."""
    pool = _pool
    if pool is not None:
        return pool.get_num_threads()
    return _requested if _requested is not None else _openmp_default()


class _ThreadCountScope:
    """What num_threads returns: the count is set when it is made; leaving a ``with`` block puts
    back the count that was in effect before."""

    def __init__(self, n: int) -> None:
        self._old = get_num_threads()
        set_num_threads(n)

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: Any) -> None:
        _set(self._old)  # what was in effect, even if the CPUs changed since (the bound moved)


def num_threads(n: int) -> _ThreadCountScope:
    """``with hpc_kernels.num_threads(n):`` sets the count for the block and restores it after.
    The count takes effect at the call, as threadpoolctl's ``threadpool_limits`` does: called on
    its own, ``hpc_kernels.num_threads(n)`` sets it like ``set_num_threads(n)`` (before, such a
    call silently changed nothing, and a benchmark written so ran on every core)."""
    return _ThreadCountScope(n)


def attach(pool: Any) -> None:
    """The C++ extension has loaded (kernels/_extension.py): its pool takes the count set so far."""
    global _pool
    if _requested is not None:
        pool.set_num_threads(_requested)
    _pool = pool


def init_from_env() -> None:
    """KERNELS_NUM_THREADS wins; else OpenMP's default applies (OMP_NUM_THREADS, else the cores
    this process may run on)."""
    if config.num_threads is not None:
        try:
            set_num_threads(config.num_threads)
        except ValueError as exc:
            raise ValueError(f"KERNELS_NUM_THREADS={config.num_threads}: {exc}") from None
    elif not os.environ.get("OMP_NUM_THREADS"):
        set_num_threads(cores())
