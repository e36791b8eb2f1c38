"""The numba backend's view of the CPU comes from kernels/_cpu_features.py, the one place that asks:
the C++ engine's table when it is built, the same rules on LLVM's host features otherwise."""
from __future__ import annotations

import pytest

from hpc_kernels import _cpu_features
from hpc_kernels._extension import cpu_extension


def test_llvm_rules_agree_with_the_cpp_table():
    pytest.importorskip("llvmlite", reason="numba (and llvmlite) not installed: pip install '.[numba]'")
    module, _ = cpu_extension()
    if module is None:
        pytest.skip("the C++ extension is not built")
    assert _cpu_features.isas() == tuple(module.info()["isas_supported"])
    assert _cpu_features._isas_from_llvm() == _cpu_features.isas()


def test_numba_tiles_follow_the_best_isa():
    runtime = pytest.importorskip("hpc_kernels.backends.numba.runtime", reason="numba not installed")
    assert runtime.ISA == _cpu_features.isas()[0]
    assert runtime.VECTOR_BYTES == {"avx512": 64, "avx2": 32}.get(runtime.ISA, 16)
