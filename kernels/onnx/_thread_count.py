"""The cpu backend's thread count while InferenceSession runs are in flight (set by the first to
start, restored by the last to finish)."""
from __future__ import annotations

import contextlib
import threading
from typing import Optional


class _ThreadCount:
    """The cpu backend's thread count for the runs in flight. The count is process-wide: the first
    run to start sets it, the last to finish restores what was set before, so that concurrent runs
    never leave another count behind (with sessions of different counts running at once, the
    count of the first one in applies until all have finished)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._active = 0
        self._saved: Optional[int] = None

    @contextlib.contextmanager
    def use(self, n: Optional[int]):
        if n is None:
            yield
            return
        from .._threads import _set, get_num_threads, set_num_threads

        with self._lock:
            if self._active == 0:
                self._saved = get_num_threads()
                set_num_threads(n)
            self._active += 1
        try:
            yield
        finally:
            with self._lock:
                self._active -= 1
                if self._active == 0 and self._saved is not None:
                    _set(self._saved)


_THREADS = _ThreadCount()
thread_count = _THREADS.use
