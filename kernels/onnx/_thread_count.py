"""The cpu backend's thread count while an InferenceSession run is in flight: the running thread's
own count, so that concurrent sessions with different counts each run with theirs."""
from __future__ import annotations

from typing import Optional, Tuple

from .. import _threads


def enter(n: Optional[int]) -> Tuple[object, int]:
    """Until `leave`, cpu-backend calls made from this thread use n threads (None: the process's
    setting); other threads and the process-wide count (hpc_kernels.set_num_threads) are left as
    they are. The count lives in the calling thread's OpenMP ICV (hpc_kernels._cpu
    set_calling_thread_threads); a process-wide change made meanwhile applies from then on. A pair of
    calls rather than a context manager: run() pays for every line it runs after a network, whose
    convolutions have evicted the interpreter's code and objects from the caches."""
    pool = _threads._pool if n is not None else None
    if pool is None:  # no count asked, or no cpu extension loaded: no cpu-backend call can run
        return None, 0
    return pool, pool.set_calling_thread_threads(n)


def leave(token: Tuple[object, int]) -> None:
    """Restores what `enter` changed."""
    pool, before = token
    if pool is not None:
        pool.set_calling_thread_threads(before)
