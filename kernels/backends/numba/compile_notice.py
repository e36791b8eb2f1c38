"""One line when the numba backend compiles a kernel for more than a second (a cold kernel cache),
saying what it compiles, so that a first call that takes a minute does not look like a hang.

numba fires a "numba:compile" event around real compilations only (a kernel loaded from the disk
cache fires none). A timer started at the event says what is compiling once a second has passed;
a compile that ends sooner says nothing. The line goes to the "hpc_kernels" logger at WARNING:
with no logging configured Python's last-resort handler prints it to stderr, and a program that
configures logging can route, format or silence it like any of its own records (a bare print
could not be silenced without redirecting stderr).
"""
from __future__ import annotations

import logging
import threading

from numba.core import event

from .cache import CACHE_DIR

NOTICE_AFTER_S = 1.0
logger = logging.getLogger("hpc_kernels")
_PACKAGE = __name__.rpartition(".")[0] + "."
_MESSAGE = ("hpc_kernels numba backend: compiling %s (first use on a cold kernel cache, up to a minute; "
            "later processes load it from %s)")
_depth = threading.local()  # kernels inlined into another compile inside it: one line for the outer


def _what(data) -> str:
    """module.function and the float dtypes of its array arguments (the full signature is a
    dozen integer arguments long and says nothing more to a user)."""
    fn = data["dispatcher"].py_func
    dtypes = sorted({str(a.dtype) for a in data["args"] if getattr(a, "ndim", 0) and str(getattr(a, "dtype", "")).startswith("float")})
    return f"{fn.__module__.rpartition('.')[2]}.{fn.__qualname__}" + (f" for {', '.join(dtypes)}" if dtypes else "")


class _Notice(event.Listener):
    def on_start(self, ev) -> None:
        disp = ev.data["dispatcher"]
        if not getattr(disp.py_func, "__module__", "").startswith(_PACKAGE):
            return  # the user's own functions: not ours to announce
        stack = getattr(_depth, "stack", None)
        if stack is None:
            stack = _depth.stack = []
        timer = None
        if not stack:
            what = _what(ev.data)
            timer = threading.Timer(NOTICE_AFTER_S, logger.warning, (_MESSAGE, what, CACHE_DIR))
            timer.daemon = True
            timer.start()
        stack.append(timer)

    def on_end(self, ev) -> None:
        if not getattr(ev.data["dispatcher"].py_func, "__module__", "").startswith(_PACKAGE):
            return
        stack = getattr(_depth, "stack", None)
        if stack:
            timer = stack.pop()
            if timer is not None:
                timer.cancel()


_listener = _Notice()


def install() -> None:
    """Listen to numba's compile events (once per process)."""
    if not getattr(install, "done", False):
        event.register("numba:compile", _listener)
        install.done = True  # type: ignore[attr-defined]
