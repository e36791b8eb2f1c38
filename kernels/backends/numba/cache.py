"""Where the numba backend's compiled kernels live on disk, scoped to this backend's own functions,
and whether they are compiled yet (without compiling them).

numba has one process-wide cache directory (numba.config.CACHE_DIR / NUMBA_CACHE_DIR). Setting it
for our kernels also moved every `@njit(cache=True)` function of the user's own code into our cache
(issue 22). Instead a locator class placed first in numba's list claims only the functions defined
in this package and sends them to CACHE_DIR; every other function finds no claim here and falls
through to numba's own locators, exactly as if this package were not loaded.
"""
from __future__ import annotations

import os
from typing import Dict, Iterable, Iterator

from numba.core import caching
from numba.core.dispatcher import Dispatcher

from ..._tuning import cache_dir

# A user's NUMBA_CACHE_DIR wins (numba would put everything there anyway); else ours.
CACHE_DIR = os.environ.get("NUMBA_CACHE_DIR") or str(cache_dir() / "numba")
_PACKAGE = __name__.rpartition(".")[0] + "."  # "hpc_kernels.backends.numba."


class KernelCacheLocator(caching.UserProvidedCacheLocator):
    """numba's user-directory locator with our directory, for this package's functions only."""

    def __init__(self, py_func, py_file):
        self._py_file = py_file
        self._lineno = py_func.__code__.co_firstlineno
        self._cache_path = os.path.join(CACHE_DIR, self.get_suitable_cache_subpath(py_file))

    def get_source_stamp(self):
        # One stamp for the whole package: numba's is the function's own file, but our kernels
        # inline functions of the package's other modules (gemm.py's epilogue into direct.py's and
        # depthwise.py's kernels), so a change there left a stale kernel on disk that still
        # matched its own file's stamp and ran the old epilogue (seen: a residual never added).
        return _package_stamp()

    @classmethod
    def from_function(cls, py_func, py_file):
        if not (getattr(py_func, "__module__", None) or "").startswith(_PACKAGE):
            return None  # not ours: numba's own locators decide
        # Skip UserProvidedCacheLocator.from_function: it declines when numba.config.CACHE_DIR is unset.
        return super(caching.UserProvidedCacheLocator, cls).from_function(py_func, py_file)


_STAMP = None


def _package_stamp():
    """(file name, mtime, size) of every module of this package, computed once per process."""
    global _STAMP
    if _STAMP is None:
        here = os.path.dirname(os.path.abspath(__file__))
        entries = []
        for name in sorted(os.listdir(here)):
            if name.endswith(".py"):
                st = os.stat(os.path.join(here, name))
                entries.append((name, st.st_mtime, st.st_size))
        _STAMP = tuple(entries)
    return _STAMP


def install() -> None:
    """Put the locator first in numba's list (once). Must run before this package's
    `@njit(cache=True)` decorators: numba picks a function's locator when it is decorated."""
    classes = caching.CacheImpl._locator_classes
    if KernelCacheLocator not in classes:
        classes.insert(0, KernelCacheLocator)


def cached_kernels(modules: Iterable) -> Iterator[Dispatcher]:
    """The `@njit(cache=True)` kernels defined in these modules (those a first call compiles or loads)."""
    for m in modules:
        for v in vars(m).values():
            if isinstance(v, Dispatcher) and not isinstance(v._cache, caching.NullCache) and v.py_func.__module__ == m.__name__:
                yield v


def state(dispatchers: Iterable) -> Dict[str, int]:
    """How many of the cached kernels are compiled in this process, how many have compiled code in
    the disk cache (an index entry for this numba and source; reading it compiles nothing), and
    how many have neither (their first call compiles them)."""
    counts = {"in_memory": 0, "on_disk": 0, "not_compiled": 0}
    for d in dispatchers:
        if d.signatures:
            counts["in_memory"] += 1
            continue
        try:
            on_disk = bool(d._cache._cache_file._load_index())  # numba's own check of the source stamp
        except Exception:  # a private numba API that moved: count it as not compiled, never fail info()
            on_disk = False
        counts["on_disk" if on_disk else "not_compiled"] += 1
    return counts
