"""The numba backend's kernel cache is its own: a user's `@njit(cache=True)` functions cache where
numba puts them without hpc_kernels; and a compile of ours longer than a second says what it compiles."""
from __future__ import annotations

import logging
import textwrap
import time
import types

import pytest

from _helpers import python_code

pytest.importorskip("numba", reason="numba not installed")


def test_users_cache_true_functions_cache_where_numba_puts_them(tmp_path):
    """Before: loading the backend set numba.config.CACHE_DIR (and NUMBA_CACHE_DIR for children), so
    the user's function below was cached in hpc_kernels' directory instead of its own __pycache__."""
    user = tmp_path / "user"
    user.mkdir()
    (user / "userfn.py").write_text(textwrap.dedent("""
        from numba import njit

        @njit(cache=True)
        def twice(x):
            return 2 * x
    """))
    ours = tmp_path / "kernels_cache"
    code = textwrap.dedent(f"""
        import json, os, sys
        import hpc_kernels
        be = hpc_kernels.get_backend("numba")
        import numba
        from hpc_kernels.backends.numba import gemm
        sys.path.insert(0, {str(user)!r})
        import userfn
        assert userfn.twice(21) == 42
        print(json.dumps([numba.config.CACHE_DIR, os.environ.get("NUMBA_CACHE_DIR"), gemm.gemm._cache._cache_path]))
    """)
    p = python_code(code, {"KERNELS_CACHE_DIR": str(ours)}, env_drop=("NUMBA_CACHE_DIR", "NUMBA_CACHE_LOCATOR_CLASSES"),
                    timeout=300)
    assert p.returncode == 0, p.stderr
    import json

    numba_dir, env_dir, kernel_dir = json.loads(p.stdout.strip().splitlines()[-1])
    assert numba_dir == "" and env_dir is None  # numba's process-wide settings untouched
    assert kernel_dir.startswith(str(ours / "numba"))  # our kernels still go to our cache
    assert list((user / "__pycache__").glob("userfn.twice-*.nbi")), "the user's function is not in its own __pycache__"
    assert not [f for f in ours.rglob("*") if "userfn" in f.name]


def test_locator_claims_only_this_packages_functions():
    from hpc_kernels.backends.numba import cache

    def user_function():
        pass

    ours = types.FunctionType(user_function.__code__, {}, "k")
    ours.__module__ = "hpc_kernels.backends.numba.gemm"
    assert cache.KernelCacheLocator.from_function(user_function, __file__) is None
    loc = cache.KernelCacheLocator.from_function(ours, __file__)
    assert loc is not None and loc.get_cache_path().startswith(cache.CACHE_DIR)
    from numba.core import caching

    assert caching.CacheImpl._locator_classes[0] is cache.KernelCacheLocator


class _Ev:
    def __init__(self, module):
        def kernel():
            pass

        kernel.__module__, kernel.__qualname__ = module, "kernel"
        from numba import types as nt

        self.data = {"dispatcher": types.SimpleNamespace(py_func=kernel),
                     "args": (nt.Array(nt.float32, 2, "C"), nt.int64, nt.Array(nt.float32, 2, "A")), "return_type": None}


def test_a_compile_longer_than_the_threshold_says_what_it_compiles(monkeypatch, caplog):
    from hpc_kernels.backends.numba import compile_notice as cn

    monkeypatch.setattr(cn, "NOTICE_AFTER_S", 0.05)
    ours, inner, user = _Ev("hpc_kernels.backends.numba.gemm"), _Ev("hpc_kernels.backends.numba.pack"), _Ev("userpkg.mod")
    with caplog.at_level(logging.WARNING, logger="hpc_kernels"):
        cn._listener.on_start(ours)
        cn._listener.on_start(inner)  # a kernel compiled inside the outer compile: no line of its own
        cn._listener.on_start(user)
        time.sleep(0.5)
        cn._listener.on_end(user)
        cn._listener.on_end(inner)
        cn._listener.on_end(ours)
        cn._listener.on_start(user)  # the user's own slow compiles: not ours to announce
        time.sleep(0.3)
        cn._listener.on_end(user)
        cn._listener.on_start(ours)  # a fast compile: nothing
        cn._listener.on_end(ours)
        time.sleep(0.2)
    msgs = [r.getMessage() for r in caplog.records if r.name == "hpc_kernels"]
    assert len(msgs) == 1, msgs
    assert msgs[0].startswith("hpc_kernels numba backend: compiling gemm.kernel for float32 (first use on a cold kernel cache")
    assert caplog.records[0].levelno == logging.WARNING


def test_the_notice_listens_to_numbas_compile_events():
    from numba.core import event

    from hpc_kernels.backends.numba import compile_notice as cn

    assert cn._listener in event._registered["numba:compile"]


def test_cached_kernels_carry_one_stamp_for_the_whole_package():
    """Kernels inline functions of the package's other modules (gemm.py's epilogue into direct.py's
    kernels): each cached kernel's source stamp covers every module of the package, so a change
    to any of them invalidates every kernel on disk, not only those defined in the changed file."""
    from hpc_kernels.backends.numba import cache, depthwise, direct, gemm

    locs = [cache.KernelCacheLocator.from_function(f.py_func, f.py_func.__code__.co_filename)
            for f in (gemm.epilogue, direct.direct, depthwise.depthwise)]
    stamps = {loc.get_source_stamp() for loc in locs}
    assert len(stamps) == 1
    names = [e[0] for e in stamps.pop()]
    assert {"gemm.py", "direct.py", "depthwise.py", "conv.py"} <= set(names)
