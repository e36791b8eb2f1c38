"""Backend choice and its precedence, logging of decisions, info(), and the command line."""
from __future__ import annotations

import json
import logging
import threading

import numpy as np
import pytest

import hpc_kernels
from hpc_kernels import BackendNotAvailable, UnsupportedOperation

from _helpers import python_code, run_python

A = np.ones((3, 3))


def decisions(caplog):
    """(op, backend, reason) of every dispatch decision logged so far."""
    out = []
    for r in caplog.records:
        if r.name == "hpc_kernels" and "-> backend" in r.getMessage():
            out.append(r.getMessage())
    return out


@pytest.fixture
def debug_log(caplog):
    caplog.set_level(logging.DEBUG, logger="hpc_kernels")
    return caplog


def test_backend_names_and_get_backend():
    assert hpc_kernels.backend_names()[:3] == ["cpu", "numba", "reference"]
    for name in hpc_kernels.backend_names():
        if not hpc_kernels._dispatch._load(name).available:  # e.g. cuda without a GPU (tests/backends/cuda/test_cuda_host.py)
            continue
        be = hpc_kernels.get_backend(name)
        assert be.name == name and be.available
        assert {"gemm", "matmul"} <= be.ops
        d = be.describe()
        assert d["name"] == name and d["available"] is True
        assert set(d) >= {"name", "available", "reason", "ops", "dtypes", "array_types", "extra"}
        assert {"float32", "float64"} <= set(d["dtypes"])  # cuda adds float16, bfloat16


def test_backend_not_available_is_import_error(monkeypatch):
    assert issubclass(BackendNotAvailable, ImportError)
    assert issubclass(UnsupportedOperation, TypeError)
    e = BackendNotAvailable("cuda", "no GPU found", "cuda12")
    assert e.backend == "cuda" and e.reason == "no GPU found" and e.extra == "cuda12"
    assert "backend 'cuda' is not available: no GPU found" in str(e)
    assert "pip install 'hpc-kernels[cuda12]'" in str(e)
    assert e.name == "hpc_kernels.backends.cuda"
    # a registered backend that cannot run raises it, and `except ImportError` catches it
    ref = hpc_kernels.get_backend("reference")
    monkeypatch.setattr(ref, "available", False)
    monkeypatch.setattr(ref, "reason", "switched off by a test")
    with pytest.raises(ImportError, match="switched off by a test"):
        hpc_kernels.get_backend("reference")
    with pytest.raises(BackendNotAvailable):
        hpc_kernels.gemm(A, A, backend="reference")
    with pytest.raises(BackendNotAvailable):
        with hpc_kernels.use_backend("reference"):
            pass


def test_unsupported_operation(monkeypatch):
    ref = hpc_kernels.get_backend("reference")
    monkeypatch.setattr(ref, "ops", frozenset({"gemm"}))
    with pytest.raises(UnsupportedOperation, match="does not implement matmul"):
        hpc_kernels.matmul(A, A, backend="reference")


def test_default_backend_by_array_type(debug_log, type_dispatch):
    hpc_kernels.gemm(A, A)
    hpc_kernels.matmul(A, A)
    msgs = decisions(debug_log)
    assert msgs and all("backend 'cpu'" in m and "array type" in m for m in msgs), msgs


def test_precedence_argument_over_context(debug_log):
    with hpc_kernels.use_backend("reference"):
        hpc_kernels.gemm(A, A)
        hpc_kernels.gemm(A, A, backend="cpu")
        hpc_kernels.matmul(A, A)
    msgs = decisions(debug_log)
    assert msgs == [
        "gemm -> backend 'reference' (use_backend() context)",
        "gemm -> backend 'cpu' (backend= argument)",
        "matmul -> backend 'reference' (use_backend() context)",
    ]


def test_use_backend_nests_and_restores(debug_log, type_dispatch):
    with hpc_kernels.use_backend("reference"):
        with hpc_kernels.use_backend("cpu"):
            hpc_kernels.gemm(A, A)
        hpc_kernels.gemm(A, A)
    hpc_kernels.gemm(A, A)
    msgs = decisions(debug_log)
    assert "'cpu' (use_backend() context)" in msgs[0]
    assert "'reference' (use_backend() context)" in msgs[1]
    assert "array type" in msgs[2]


def test_use_backend_restored_after_exception():
    with pytest.raises(RuntimeError):
        with hpc_kernels.use_backend("reference"):
            raise RuntimeError
    from hpc_kernels import _dispatch

    assert _dispatch._context.get() is None


def test_use_backend_is_per_thread(debug_log, type_dispatch):
    """The context is a context variable: another thread is not affected by this thread's block."""
    seen = []

    def worker():
        hpc_kernels.gemm(A, A)
        seen.append(True)

    with hpc_kernels.use_backend("reference"):
        t = threading.Thread(target=worker)
        t.start()
        t.join()
    assert seen
    msgs = decisions(debug_log)
    assert msgs == ["gemm -> backend 'cpu' (array type numpy.ndarray)"] or msgs == [
        "gemm -> backend 'cpu' (array type ndarray)"
    ], msgs


def test_results_agree_across_backends(rng):
    a, b = rng.random((40, 30)), rng.random((30, 20))
    np.testing.assert_allclose(hpc_kernels.gemm(a, b, backend="cpu"), hpc_kernels.gemm(a, b, backend="reference"), rtol=1e-12)
    with hpc_kernels.use_backend("reference"):
        r = hpc_kernels.matmul(a, b)
    np.testing.assert_allclose(r, a @ b, rtol=1e-12)


_PRECEDENCE_SCRIPT = r"""
import json, logging, numpy as np, hpc_kernels
msgs = []
class H(logging.Handler):
    def emit(self, r): msgs.append(r.getMessage())
lg = logging.getLogger("hpc_kernels"); lg.addHandler(H()); lg.setLevel(logging.DEBUG)
a = np.ones((2, 2))
hpc_kernels.gemm(a, a)                      # env
hpc_kernels.matmul(a, a)                    # env
with hpc_kernels.use_backend("cpu"):
    hpc_kernels.gemm(a, a)                  # context beats env
    hpc_kernels.gemm(a, a, backend="reference")  # argument beats context
hpc_kernels.gemm(a, a, backend="cpu")       # argument beats env
print(json.dumps(msgs))
"""


@pytest.mark.parametrize("env_value", ["reference", " Reference "])
def test_precedence_env_variable(env_value):
    """KERNELS_BACKEND (read at import, case-insensitive) beats the array type, loses to
    use_backend() and to backend=."""
    p = python_code(_PRECEDENCE_SCRIPT, {"KERNELS_BACKEND": env_value})
    assert p.returncode == 0, p.stderr
    msgs = json.loads(p.stdout.strip().splitlines()[-1])
    assert msgs == [
        "gemm -> backend 'reference' (KERNELS_BACKEND)",
        "matmul -> backend 'reference' (KERNELS_BACKEND)",
        "gemm -> backend 'cpu' (use_backend() context)",
        "gemm -> backend 'reference' (backend= argument)",
        "gemm -> backend 'cpu' (backend= argument)",
    ]


def test_env_unknown_backend_fails_on_use():
    code = (
        "import numpy as np, hpc_kernels\n"
        "try:\n hpc_kernels.gemm(np.ones((2,2)), np.ones((2,2)))\n"
        "except ValueError as e: print('ValueError:', e)\n"
    )
    p = python_code(code, {"KERNELS_BACKEND": "nope"})
    assert p.returncode == 0, p.stderr
    assert "ValueError: unknown backend 'nope'" in p.stdout


def test_verbose_logs_decisions_to_stderr():
    code = (
        "import numpy as np, hpc_kernels\n"
        "a = np.ones((2, 2))\n"
        "hpc_kernels.gemm(a, a)\n"
        "hpc_kernels.matmul(a, a, backend='reference')\n"
    )
    p = python_code(code, {"KERNELS_VERBOSE": "1"})
    assert p.returncode == 0, p.stderr
    assert "hpc_kernels: gemm -> backend 'cpu'" in p.stderr
    assert "hpc_kernels: matmul -> backend 'reference' (backend= argument)" in p.stderr
    quiet = python_code(code)
    assert quiet.returncode == 0 and "-> backend" not in quiet.stderr


def test_caplog_sees_decision_without_env(debug_log):
    hpc_kernels.matmul(A, A, backend="reference")
    recs = [r for r in debug_log.records if r.name == "hpc_kernels"]
    assert recs and recs[-1].levelno == logging.DEBUG
    assert recs[-1].getMessage() == "matmul -> backend 'reference' (backend= argument)"


def test_info_keys():
    d = hpc_kernels.info()
    assert set(d) >= {"version", "python", "machine", "processor", "num_threads", "cpu_engine", "backends"}
    assert d["version"] == hpc_kernels.__version__
    assert d["num_threads"] == hpc_kernels.get_num_threads()
    assert set(d["backends"]) == set(hpc_kernels.backend_names())
    e = d["cpu_engine"]
    assert set(e) >= {"isas_built", "isas_supported", "isa_cap", "cache_bytes", "float32", "float64", "openmp", "compiler"}
    assert "generic" in e["isas_built"] and "generic" in e["isas_supported"]
    assert set(e["cache_bytes"]) == {"l1d", "l2", "l3"} and all(v > 0 for v in e["cache_bytes"].values())
    for dt, mr_max in (("float32", 64), ("float64", 32)):
        k = e[dt]
        # ("large": the microarchitecture's blocks for large products, where its row has them)
        assert set(k) - {"large"} == {"ukernel", "isa", "mr", "nr", "efficiency", "mc", "kc", "nc", "candidates", "source"}
        assert k["candidates"][0] == {key: v for key, v in k.items() if key not in ("candidates", "source")}
        # where the kernel choice and each block size came from (tests load the engine with an empty store)
        assert set(k["source"]) == {"ukernel", "mc", "kc", "nc"} and "tuned" not in k["source"].values()
        for c in k["candidates"]:  # every candidate: same ISA, whole micro-panels per block
            assert 0 < c["mr"] <= mr_max and c["nr"] > 0 and 0 < c["efficiency"] <= 1
            assert c["mc"] % c["mr"] == 0 and c["nc"] % c["nr"] == 0 and c["kc"] > 0
            assert c["isa"] == k["isa"] and c["isa"] in e["isas_supported"]
            if "large" in c:
                big = c["large"]
                assert big["min_mn"] > 0 and big["mc"] % c["mr"] == 0 and big["nc"] % c["nr"] == 0 and big["kc"] > 0
    json.dumps(d)  # serialisable (python -m hpc_kernels info --json)


def test_configure_caps_isa_and_overrides_blocks(cpu_config):
    from hpc_kernels import _cpu

    cpu_config("generic", 20, 30, 40)
    e = _cpu.info()
    assert e["isa_cap"] == "generic"
    for dt in ("float32", "float64"):
        k = e[dt]
        assert k["isa"] == "generic" and "generic" in k["ukernel"]
        assert k["kc"] == 30
        assert k["mc"] == 20 // k["mr"] * k["mr"] and k["nc"] == 40 // k["nr"] * k["nr"]
    with pytest.raises(ValueError, match="unknown ISA 'sse'; allowed: generic, rvv, avx2, avx512"):
        _cpu.configure("sse")
    with pytest.raises(ValueError, match="block sizes must be >= 0"):
        _cpu.configure("avx512", -1, 0, 0)


def test_cli_info():
    p = run_python(["-m", "hpc_kernels", "info"])
    assert p.returncode == 0, p.stderr
    assert "kernels " in p.stdout and "backends:" in p.stdout and "KERNELS_BACKEND" in p.stdout
    p = run_python(["-m", "hpc_kernels", "info", "--json"])
    assert p.returncode == 0, p.stderr
    start = p.stdout.index("{")  # (an editable install may print rebuild lines first)
    d = json.loads(p.stdout[start : p.stdout.rindex("}") + 1])
    assert d["version"] == hpc_kernels.__version__ and "cpu" in d["backends"]


def test_cli_bench_quick():
    p = run_python(
        ["-m", "hpc_kernels", "bench", "gemm", "--quick", "--shapes", "square", "--threads", "1",
         "--dtype", "float32", "--rounds", "1"],
        timeout=300,
    )
    assert p.returncode == 0, p.stdout + p.stderr
    assert "square 16" in p.stdout and "float32" in p.stdout


def test_env_cpu_settings_in_subprocess():
    """KERNELS_CPU_ISA / KERNELS_CPU_KC and KERNELS_NUM_THREADS are read at import (applied when
    the engine loads: a bad KERNELS_CPU_ISA fails the first cpu call, tests/api/test_lazy_import.py)."""
    code = "import hpc_kernels, json; print(json.dumps([hpc_kernels.info()['cpu_engine'], hpc_kernels.get_num_threads()]))"
    p = python_code(code, {"KERNELS_CPU_ISA": "generic", "KERNELS_CPU_KC": "48", "KERNELS_NUM_THREADS": "1"})
    assert p.returncode == 0, p.stderr
    eng, nt = json.loads(p.stdout.strip().splitlines()[-1])
    assert eng["isa_cap"] == "generic" and eng["float64"]["isa"] == "generic" and eng["float32"]["kc"] == 48
    assert nt == 1
    bad = python_code("import hpc_kernels; hpc_kernels.info()", {"KERNELS_CPU_ISA": "sse9"})
    assert bad.returncode != 0 and "KERNELS_CPU_ISA" in bad.stderr
    bad = python_code("import hpc_kernels", {"KERNELS_NUM_THREADS": "0"})
    assert bad.returncode != 0 and "KERNELS_NUM_THREADS" in bad.stderr
