"""Fixtures: seeded RNG, cpu-engine configuration that is always restored, thread-count restore."""
from __future__ import annotations

import os
import sys

import numpy as np
import pytest

# Test the installed package. `python -m pytest` (the README's command) puts the repository root
# first on sys.path, where kernels/ is the source tree without the compiled hpc_kernels._cpu; drop it
# (an editable install is unaffected: its import hook maps kernels to the source and build trees).
_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _ROOT]
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import hpc_kernels  # noqa: E402
from hpc_kernels._config import config  # noqa: E402
from hpc_kernels._extension import cpu_extension  # noqa: E402

# The suite tests the C++ engine: loaded (and configured from KERNELS_CPU_*) as the cpu backend's
# first call would, before the helpers import hpc_kernels._cpu itself. Loading applies the cpu GEMM
# entries of the tuning store; a developer's own store (~/.cache/hpc-kernels/tuning.json) must not
# configure the engine under test, so the load sees an empty one (cache_path only: numba's kernel
# cache in cache_dir() stays warm, see the `store` fixture).
def _load_with_an_empty_store():
    import tempfile
    from pathlib import Path

    from hpc_kernels import _tuning

    real = _tuning.cache_path
    with tempfile.TemporaryDirectory() as empty:
        _tuning.cache_path = lambda: Path(empty) / _tuning.FILE_NAME
        _tuning.forget()
        try:
            return cpu_extension()
        finally:
            _tuning.cache_path = real
            _tuning.forget()


_cpu, _ = _load_with_an_empty_store()

from _helpers import ISAS, RUNNABLE_UKERNELS  # noqa: E402

# Hypothesis profiles of the fuzzer (tests/api/test_fuzz.py). No example database and a fixed seed
# (pytest_configure below): every run tries the same examples, so a CI failure reproduces.
# "default": the quick run of the ordinary test suite; "ci": .ci/fuzz.sh (FUZZ_EXAMPLES per test);
# "long": the full form, by hand. print_blob: a failure prints the blob that replays it
# (@hypothesis.reproduce_failure).
try:
    from hypothesis import HealthCheck, settings
except ImportError:  # without the test extra: tests/api/test_fuzz.py skips itself
    settings = None
if settings is not None:
    _FUZZ = dict(deadline=None, database=None, print_blob=True,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
    settings.register_profile("default", max_examples=30, **_FUZZ)
    settings.register_profile("ci", max_examples=int(os.environ.get("FUZZ_EXAMPLES", "500")), **_FUZZ)
    settings.register_profile("long", max_examples=int(os.environ.get("FUZZ_EXAMPLES", "5000")), **_FUZZ)
    settings.load_profile("default")
FUZZ_SEED = os.environ.get("FUZZ_SEED", "20251204")


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    """A fixed hypothesis seed unless --hypothesis-seed gives one (runs before hypothesis' own
    pytest_configure reads the option)."""
    if config.getoption("hypothesis_seed", None) is None:
        config.option.hypothesis_seed = FUZZ_SEED


_DEFAULT_INFO = _cpu.info()


def _restore_defaults() -> None:
    """The configuration kernels starts with: avx512 cap and derived blocks, unless the
    KERNELS_CPU_* variables said otherwise (as hpc_kernels._extension.cpu_extension applies them)."""
    _cpu.configure(config.cpu_isa or "avx512", config.cpu_mc, config.cpu_kc, config.cpu_nc, source="env")


@pytest.fixture
def rng(request) -> np.random.Generator:
    """A generator seeded from the test id: reproducible, different per test."""
    seed = sum(request.node.nodeid.encode()) * 7919 % (2**32)
    return np.random.default_rng(seed)


@pytest.fixture
def cpu_config():
    """`cpu_config(isa, mc=0, kc=0, nc=0)` configures the cpu engine; defaults restored after."""
    try:
        yield lambda isa, mc=0, kc=0, nc=0: _cpu.configure(isa, mc, kc, nc)
    finally:
        _restore_defaults()


@pytest.fixture(autouse=True)
def _engine_and_threads_restored():
    """Every test leaves the cpu engine and thread count as it found them (checked, not assumed)."""
    threads = hpc_kernels.get_num_threads()
    yield
    if hpc_kernels.get_num_threads() != threads:
        hpc_kernels.set_num_threads(threads)
    info = _cpu.info()
    if info["isa_cap"] != _DEFAULT_INFO["isa_cap"] or info["float32"] != _DEFAULT_INFO["float32"] or info[
        "float64"
    ] != _DEFAULT_INFO["float64"]:
        _restore_defaults()
        pytest.fail("test left a non-default cpu engine configuration behind")


# Engines for the gemm sweeps: every ISA this CPU runs, with default blocks and with tiny blocks
# (so the MC/KC/NC loops run many times on small matrices), and the NumPy reference backend.
SMALL_BLOCKS = dict(mc=40, kc=13, nc=30)  # rounded down per kernel to multiples of MR / NR
# ISAs with several micro-kernels (the driver picks one per shape) also get each kernel forced.
_EDGE_VARIANT = ("_half", "_narrow")  # edge kernels of a listed kernel, never the engine's own choice
_SHARED_ISA = [u for u in RUNNABLE_UKERNELS if not u["name"].endswith(_EDGE_VARIANT) and sum(v["isa"] == u["isa"] and v["dtype"] == u["dtype"] and not v["name"].endswith(_EDGE_VARIANT) for v in RUNNABLE_UKERNELS) > 1]
FORCED = [f"cpu-kernel-{u['name']}" for u in _SHARED_ISA]
ENGINES = [f"cpu-{isa}" for isa in ISAS] + [f"cpu-{isa}-small" for isa in ISAS] + FORCED + ["reference"]


@pytest.fixture(params=ENGINES)
def engine(request, cpu_config) -> str:
    """Configures the engine named by the param and returns the backend= name to pass."""
    if request.param == "reference":
        return "reference"
    return _configure_from_id(request.param, cpu_config)


@pytest.fixture(params=[f"cpu-{isa}" for isa in ISAS] + [f"cpu-{isa}-small" for isa in ISAS] + FORCED)
def cpu_engine(request, cpu_config) -> str:
    """Like `engine` but only the cpu backend (block-boundary tests need its block sizes)."""
    return _configure_from_id(request.param, cpu_config)


def _configure_from_id(name: str, cpu_config) -> str:
    """'cpu-<isa>', 'cpu-<isa>-small' or 'cpu-kernel-<name>': configure, check it took effect,
    return 'cpu'."""
    if name.startswith("cpu-kernel-"):
        ukr = name[len("cpu-kernel-"):]
        (u,) = [u for u in RUNNABLE_UKERNELS if u["name"] == ukr]
        _cpu.configure(u["isa"], ukernel=ukr)
        info = _cpu.info()[u["dtype"]]
        assert info["ukernel"] == ukr and len(info["candidates"]) == 1
        return "cpu"
    parts = name.split("-")
    isa = parts[1]
    small = len(parts) == 3
    cpu_config(isa, **(SMALL_BLOCKS if small else {}))
    info = _cpu.info()
    for dt in ("float32", "float64"):
        assert info[dt]["isa"] == isa, f"configure({isa!r}) selected {info[dt]['ukernel']}"
        if small:
            for c in info[dt]["candidates"]:  # MC is rounded down to whole micro-panels, >= MR
                assert c["kc"] == SMALL_BLOCKS["kc"] and c["mc"] == max(c["mr"], SMALL_BLOCKS["mc"] // c["mr"] * c["mr"])
    return "cpu"


@pytest.fixture
def type_dispatch():
    """For tests of the default (by array type) choice: KERNELS_BACKEND would override it."""
    if config.backend is not None:
        pytest.skip(f"KERNELS_BACKEND={config.backend} is set for this run")


@pytest.fixture
def store(tmp_path, monkeypatch):
    """The process's tuning store, in a fresh file (tests of the store and of what reads it)."""
    from hpc_kernels import _tuning

    # cache_path, not cache_dir: numba's kernel cache (cache_dir()/numba, fixed when the numba
    # backend is first imported) must stay warm, or the first numba call compiles for minutes
    monkeypatch.setattr(_tuning, "cache_path", lambda: tmp_path / _tuning.FILE_NAME)
    _tuning.forget()
    yield _tuning.store()
    _tuning.forget()
