"""The cpu backend's thread count while an InferenceSession run is in flight: the running thread's
own count, so that concurrent sessions with different counts each run with theirs."""
from __future__ import annotations

import contextlib
from typing import Optional


@contextlib.contextmanager
def thread_count(n: Optional[int]):
    """Within the block, cpu-backend calls made from this thread use n threads (None: the process's
    setting); other threads and the process-wide count (hpc_kernels.set_num_threads) are left as
    they are. The count lives in the calling thread's OpenMP ICV (hpc_kernels._cpu
    set_calling_thread_threads); a process-wide change made during the block applies from then on."""
    if n is None:
        yield
        return
    from .. import _threads

    pool = _threads._pool
    if pool is None:  # no cpu extension loaded: no cpu-backend call can run in the block
        yield
        return
    before = pool.set_calling_thread_threads(n)
    try:
        yield
    finally:
        pool.set_calling_thread_threads(before)
