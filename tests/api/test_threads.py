"""Thread count API, threadpoolctl interplay, and gemm called from many Python threads at once."""
from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import hpc_kernels

from _helpers import ISAS, check_gemm, python_code, rand


def test_set_get_num_threads():
    old = hpc_kernels.get_num_threads()
    try:
        for n in (1, 3, 2, np.int64(4)):
            hpc_kernels.set_num_threads(n)
            assert hpc_kernels.get_num_threads() == int(n)
    finally:
        hpc_kernels.set_num_threads(old)


def test_num_threads_context_manager_restores():
    old = hpc_kernels.get_num_threads()
    with hpc_kernels.num_threads(1):
        assert hpc_kernels.get_num_threads() == 1
        with hpc_kernels.num_threads(5):
            assert hpc_kernels.get_num_threads() == 5
        assert hpc_kernels.get_num_threads() == 1
    assert hpc_kernels.get_num_threads() == old
    with pytest.raises(KeyError):
        with hpc_kernels.num_threads(3):
            raise KeyError
    assert hpc_kernels.get_num_threads() == old


def test_num_threads_called_alone_sets_the_count():
    # Not only a context manager: a bare call takes effect (as threadpoolctl's threadpool_limits
    # does), where it used to change nothing; a bad count fails at the call.
    old = hpc_kernels.get_num_threads()
    try:
        hpc_kernels.num_threads(1)
        assert hpc_kernels.get_num_threads() == 1
        scope = hpc_kernels.num_threads(2)
        assert hpc_kernels.get_num_threads() == 2
        with scope:
            assert hpc_kernels.get_num_threads() == 2
        assert hpc_kernels.get_num_threads() == 1  # the count before the scope was made
        with pytest.raises(ValueError):
            hpc_kernels.num_threads(0)
        assert hpc_kernels.get_num_threads() == 1
    finally:
        hpc_kernels.set_num_threads(old)


def test_set_num_threads_is_process_wide():
    """A count set in one thread applies to calls from every thread (including new ones)."""
    old = hpc_kernels.get_num_threads()
    seen = {}
    ready, go = threading.Event(), threading.Event()

    def existing():
        seen["before"] = hpc_kernels.get_num_threads()
        ready.set()
        go.wait(10)
        seen["after"] = hpc_kernels.get_num_threads()

    t = threading.Thread(target=existing)
    t.start()
    ready.wait(10)
    try:
        hpc_kernels.set_num_threads(3)
        go.set()
        t.join()
        t2 = threading.Thread(target=lambda: seen.__setitem__("new", hpc_kernels.get_num_threads()))
        t2.start()
        t2.join()
    finally:
        hpc_kernels.set_num_threads(old)
    assert seen == {"before": old, "after": 3, "new": 3}


def test_default_thread_count_from_environment():
    code = "import hpc_kernels; print(hpc_kernels.get_num_threads())"
    for env, want in (({"KERNELS_NUM_THREADS": "3"}, 3), ({"OMP_NUM_THREADS": "2"}, 2),
                      ({"KERNELS_NUM_THREADS": "1", "OMP_NUM_THREADS": "4"}, 1)):
        p = python_code(code, env, env_drop=("OMP_NUM_THREADS",))
        assert p.returncode == 0, p.stderr
        assert int(p.stdout.strip().splitlines()[-1]) == want, env
    p = python_code(code, {}, env_drop=("OMP_NUM_THREADS",))
    assert int(p.stdout.strip().splitlines()[-1]) == len(os.sched_getaffinity(0))


def _openmp_entries():
    threadpoolctl = pytest.importorskip("threadpoolctl", reason="threadpoolctl (test extra) not installed")
    return threadpoolctl, [i for i in threadpoolctl.threadpool_info() if i["user_api"] == "openmp"]


def test_threadpoolctl_sees_the_extensions_openmp():
    _, entries = _openmp_entries()
    assert entries, "threadpool_info() lists no OpenMP runtime"
    paths = [os.path.realpath(e["filepath"]) for e in entries]
    assert any(os.path.basename(p).startswith("libgomp") for p in paths), paths
    # the libgomp listed is the one mapped into this process for hpc_kernels._cpu
    with open("/proc/self/maps") as f:
        mapped = {line.split()[-1] for line in f if "libgomp" in line}
    assert any(p in {os.path.realpath(m) for m in mapped} for p in paths)
    gomp = [e for e in entries if "libgomp" in os.path.basename(e["filepath"])]
    assert gomp[0]["num_threads"] == hpc_kernels.get_num_threads()


def test_threadpoolctl_limits_the_pool(rng):
    threadpoolctl, _ = _openmp_entries()
    old = hpc_kernels.get_num_threads()
    a, b = rand(rng, (300, 200), np.float64), rand(rng, (200, 250), np.float64)
    with threadpoolctl.threadpool_limits(1, user_api="openmp"):
        assert hpc_kernels.get_num_threads() == 1
        got = hpc_kernels.gemm(a, b)
    assert hpc_kernels.get_num_threads() == old
    check_gemm(got, a, b, None, 1.0, 0.0)
    with threadpoolctl.threadpool_limits(limits={"openmp": 1}):
        assert hpc_kernels.get_num_threads() == 1


def test_set_num_threads_visible_to_threadpoolctl():
    threadpoolctl, _ = _openmp_entries()
    with hpc_kernels.num_threads(1):
        entries = [i for i in threadpoolctl.threadpool_info() if i["user_api"] == "openmp"]
        assert any(e["num_threads"] == 1 for e in entries)


def _problems(rng):
    """Different sizes (200..500), dtypes, transposes and alpha/beta for each Python thread."""
    probs = []
    for i, (m, n, k) in enumerate(
        [(200, 210, 220), (333, 250, 200), (500, 200, 301), (257, 499, 210),
         (210, 300, 480), (450, 450, 200), (300, 201, 333), (222, 444, 256)]
    ):
        dt = (np.float32, np.float64)[i % 2]
        ta, tb = bool(i & 2), bool(i & 4)
        a = rand(rng, (k, m) if ta else (m, k), dt)
        b = rand(rng, (n, k) if tb else (k, n), dt)
        c = rand(rng, (m, n), dt)
        probs.append((a, b, c, 0.5 + i, -0.25 * i, ta, tb))
    return probs


def _run(p):
    a, b, c, alpha, beta, ta, tb = p
    return hpc_kernels.gemm(a, b, c.copy(), alpha=alpha, beta=beta, trans_a=ta, trans_b=tb)


@pytest.mark.parametrize("threads", [1, 2])
def test_concurrent_python_threads_match_serial(threads, rng):
    """8 Python threads calling gemm at once (different sizes) give bit-identical results to the
    same calls made one after another (same thread count)."""
    probs = _problems(rng)
    with hpc_kernels.num_threads(threads):
        serial = [_run(p) for p in probs]
        barrier = threading.Barrier(len(probs))

        def work(p):
            barrier.wait(30)
            return [_run(p) for _ in range(2)]

        with ThreadPoolExecutor(len(probs)) as ex:
            results = list(ex.map(work, probs))
    for i, (p, s, rs) in enumerate(zip(probs, serial, results)):
        for r in rs:
            assert np.array_equal(r, s), f"problem {i}: concurrent result differs from the serial one"
        a, b, c, alpha, beta, ta, tb = p
        check_gemm(s, a, b, c, alpha, beta, ta, tb, what=f"problem {i}")


def test_concurrent_matmul_and_configure_do_not_crash(rng, cpu_config):
    """configure() may swap the engine while other threads compute (results stay within bound)."""
    a, b = rand(rng, (4, 120, 90), np.float32), rand(rng, (90, 100), np.float32)
    stop = threading.Event()

    def flip():
        isas = hpc_kernels.info()["cpu_engine"]["isas_supported"]
        i = 0
        while not stop.is_set():
            cpu_config(isas[i % len(isas)])
            i += 1

    t = threading.Thread(target=flip)
    t.start()
    try:
        outs = [hpc_kernels.matmul(a, b) for _ in range(20)]
    finally:
        stop.set()
        t.join()
    ref = np.matmul(a.astype(np.float64), b)
    bound = (2 * 90 + 4) * np.finfo(np.float32).eps * np.matmul(np.abs(a.astype(np.float64)), np.abs(b))
    for o in outs:
        assert np.all(np.abs(o - ref) <= bound)


def test_one_and_two_threads_within_bound(rng):
    """1 vs 2 threads need not be bit-identical, but both are within the bound."""
    a, b = rand(rng, (400, 300), np.float32), rand(rng, (300, 350), np.float32)
    for nt in (1, 2):
        with hpc_kernels.num_threads(nt):
            check_gemm(hpc_kernels.gemm(a, b), a, b, None, 1.0, 0.0, what=f"{nt} threads")


@pytest.mark.parametrize("isa", ISAS)
def test_thread_counts_give_identical_results(rng, cpu_config, isa):
    """The work split never changes the arithmetic (same kernel, same k blocking per C element),
    so 1..4 threads must agree bit for bit. Small blocks make every loop run many times, which
    exposes races between threads packing and reading B (shared or per-thread regions)."""
    cpu_config(isa, mc=40, kc=13, nc=30)
    shapes = [(200, 37, 150), (49, 512, 300), (300, 49, 70), (129, 257, 65), (7, 400, 33), (333, 5, 41)]
    for dtype in (np.float32, np.float64):
        for m, n, k in shapes:
            a, b = rand(rng, (m, k), dtype), rand(rng, (k, n), dtype)
            results = []
            for nt in (1, 2, 3, 4):
                with hpc_kernels.num_threads(nt):
                    results += [hpc_kernels.gemm(a, b) for _ in range(3)]
            for r in results[1:]:
                assert np.array_equal(r, results[0]), f"{isa} {np.dtype(dtype).name} {m}x{n}x{k}"


# --------------------------------------------------------------------------------------------
# Bound of the thread count (kernels/_threads.py max_threads, csrc/threads.cpp)
# --------------------------------------------------------------------------------------------

def test_max_threads_is_four_times_the_cpus_at_least_8():
    from hpc_kernels._threads import max_threads

    assert max_threads() == max(8, 4 * len(os.sched_getaffinity(0)))


def test_thread_count_beyond_the_bound_is_a_value_error():
    from hpc_kernels._threads import max_threads

    before = hpc_kernels.get_num_threads()
    bound = max_threads()
    for n in (100000, bound + 1):
        with pytest.raises(ValueError, match=rf"number of threads must be in \[1, {bound}\] .*got {n}"):
            hpc_kernels.set_num_threads(n)
        with pytest.raises(ValueError, match=rf"in \[1, {bound}\]"):
            with hpc_kernels.num_threads(n):
                pass
    assert hpc_kernels.get_num_threads() == before
    with hpc_kernels.num_threads(bound):  # the largest allowed count works
        assert hpc_kernels.get_num_threads() == bound
        a = np.ones((300, 300), np.float32)
        np.testing.assert_array_equal(hpc_kernels.gemm(a, a), np.full((300, 300), 300, np.float32))
    assert hpc_kernels.get_num_threads() == before


def test_engine_caps_counts_that_bypass_set_num_threads():
    """The extension clamps a direct count (hpc_kernels._cpu) to the same bound."""
    from hpc_kernels._threads import max_threads

    hpc_kernels._cpu.set_num_threads(100000)
    assert hpc_kernels.get_num_threads() == max_threads()


def test_thread_bound_of_the_environment():
    """KERNELS_NUM_THREADS beyond the bound fails the import with the variable named; the bound
    itself is accepted; OMP_NUM_THREADS=100000 (libgomp's own setting) is capped by the engine, and
    a gemm then runs instead of libgomp ending the process."""
    bound = max(8, 4 * len(os.sched_getaffinity(0)))
    bad = python_code("import hpc_kernels", {"KERNELS_NUM_THREADS": "100000"})
    assert bad.returncode != 0 and f"KERNELS_NUM_THREADS=100000: number of threads must be in [1, {bound}]" in bad.stderr
    code = ("import numpy as np, hpc_kernels; a = np.ones((600, 600), np.float32); "
            "assert (hpc_kernels.gemm(a, a) == 600).all(); print(hpc_kernels.get_num_threads())")
    for env in ({"KERNELS_NUM_THREADS": str(bound)}, {"OMP_NUM_THREADS": "100000"}):
        p = python_code(code, env, env_drop=("OMP_NUM_THREADS",))
        assert p.returncode == 0, p.stderr
        assert int(p.stdout.strip().splitlines()[-1]) == bound, env


# --------------------------------------------------------------------------------------------
# libgomp's wait policy (kernels/_config.py openmp_defaults)
# --------------------------------------------------------------------------------------------

def _libgomp_spincount(env):
    """GOMP_SPINCOUNT as libgomp read it at load (OMP_DISPLAY_ENV prints its settings to stderr;
    the first cpu call loads it, `import hpc_kernels` does not) and as os.environ holds it after
    `import hpc_kernels`."""
    import re

    env = dict(env, OMP_DISPLAY_ENV="VERBOSE")
    p = python_code("import os, numpy as np, hpc_kernels; hpc_kernels.gemm(np.ones((2, 2)), np.ones((2, 2))); "
                    "print(os.environ.get('GOMP_SPINCOUNT'))", env, env_drop=("OMP_WAIT_POLICY", "GOMP_SPINCOUNT"))
    assert p.returncode == 0, p.stderr
    seen = re.findall(r"GOMP_SPINCOUNT = '(\d+)'", p.stderr)
    assert len(seen) == 1, p.stderr
    return int(seen[0]), p.stdout.strip().splitlines()[-1]


def test_bounded_spin_default_reaches_libgomp():
    from hpc_kernels._config import GOMP_SPINCOUNT_DEFAULT

    assert _libgomp_spincount({}) == (int(GOMP_SPINCOUNT_DEFAULT), GOMP_SPINCOUNT_DEFAULT)


def test_users_wait_policy_is_kept():
    assert _libgomp_spincount({"GOMP_SPINCOUNT": "1234"}) == (1234, "1234")
    assert _libgomp_spincount({"OMP_WAIT_POLICY": "PASSIVE"}) == (0, "None")
    assert _libgomp_spincount({"OMP_WAIT_POLICY": "active"})[1] == "None"


@pytest.mark.parametrize("env", [{"OMP_THREAD_LIMIT": "1"}, {"OMP_DYNAMIC": "true", "OMP_THREAD_LIMIT": "2"}])
def test_a_smaller_team_than_asked_still_computes_everything(env):
    # The runtime may give fewer threads than the engine planned for (a thread limit, dynamic
    # teams): the blocked GEMM then reruns on one thread, the direct convolution spreads its parts.
    # Before, the parts of the missing threads were never computed (NaN left in the output).
    code = ("import numpy as np, hpc_kernels\n"
            "hpc_kernels.set_num_threads(4)\n"
            "rng = np.random.default_rng(0)\n"
            "a, b = rng.standard_normal((700, 600)), rng.standard_normal((600, 650))\n"
            "c = np.full((700, 650), np.nan); hpc_kernels.gemm(a, b, out=c)\n"
            "assert np.allclose(c, a @ b), 'gemm'\n"
            "x, w = rng.standard_normal((2, 32, 40, 40)), rng.standard_normal((48, 32, 3, 3))\n"
            "ref = hpc_kernels.conv2d(x, w, padding=1, backend='reference')\n"
            "for alg in ('direct', 'convgemm', 'im2col'):\n"
            "    y = np.full(ref.shape, np.nan); hpc_kernels.conv2d(x, w, padding=1, algorithm=alg, out=y)\n"
            "    assert np.allclose(y, ref), alg\n"
            "print('ok')\n")
    p = python_code(code, {**env, "GOMP_SPINCOUNT": "1000"})
    assert p.returncode == 0 and p.stdout.strip().endswith("ok"), p.stderr[-2000:]
