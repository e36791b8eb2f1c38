"""hpc_kernels.info() is a dict for programs that prints as the text of `python -m hpc_kernels info`;
show_config() prints it; neither (nor the command) compiles the numba backend's kernels."""
from __future__ import annotations

import json
import pickle

import pytest

import hpc_kernels
from hpc_kernels.info import format_info

from _helpers import run_python


def test_info_is_a_dict_that_prints_as_text():
    d = hpc_kernels.info()
    assert isinstance(d, dict)
    text = str(d)
    assert text == format_info(d) and "\n" in text and text.startswith(f"hpc-kernels {hpc_kernels.__version__}")
    assert "backends:" in text and "{" not in text.splitlines()[0]
    assert json.loads(json.dumps(d)) == dict(d)  # programs: JSON as before
    assert repr(d) == repr(dict(d))  # and the dict's repr (logs, debuggers)
    assert pickle.loads(pickle.dumps(d)) == d


def test_show_config_prints_the_info_text(capsys):
    assert "show_config" in hpc_kernels.__all__
    hpc_kernels.show_config()
    out = capsys.readouterr().out
    assert out == str(hpc_kernels.info()) + "\n"


def _compiled_numba_kernels():
    from hpc_kernels.backends.numba import cache, depthwise, direct, gemm, pack

    return {d.py_func.__qualname__: len(d.signatures) for d in cache.cached_kernels((gemm, direct, pack, depthwise))}


def test_info_compiles_no_numba_kernel():
    if not hpc_kernels._dispatch._load("numba").available:
        pytest.skip("numba not installed")
    before = _compiled_numba_kernels()
    assert before  # the kernels are found
    k = hpc_kernels.info()["backends"]["numba"]["kernels"]
    assert _compiled_numba_kernels() == before
    assert k["in_memory"] + k["on_disk"] + k["not_compiled"] == len(before)
    assert k["cold_compile_s"] > 0 and k["cache_dir"]


def test_cli_info_on_a_cold_cache_says_not_compiled_yet(tmp_path):
    """Before: describing the numba backend ran every kernel once (~100 s on a cold cache)."""
    if not hpc_kernels._dispatch._load("numba").available:
        pytest.skip("numba not installed")
    p = run_python(["-m", "hpc_kernels", "info"], {"NUMBA_CACHE_DIR": str(tmp_path)}, timeout=120)
    assert p.returncode == 0, p.stderr
    line = next(ln for ln in p.stdout.splitlines() if ln.strip().startswith("kernels:"))
    assert "not compiled yet (the first calls compile them: about" in line and "compiled in this process" not in line, line
    assert str(tmp_path) in line
    assert not list(tmp_path.rglob("*.nbi")) and not list(tmp_path.rglob("*.nbc"))  # nothing compiled, nothing cached
    assert "compiling" not in p.stderr
