"""Engines of the bfloat16 tests: the reference backend and the cpu backend at every ISA cap this
machine runs (avx512: vdpbf16ps where the CPU has AVX512-BF16; avx2: widened to fp32; generic: the
portable kernel), with default and tiny blocks (several k blocks: fp32 partial sums)."""
from __future__ import annotations

import pytest

from _helpers import ISAS
from hpc_kernels import _cpu

pytest.importorskip("ml_dtypes")

BENGINES = ["reference"] + [f"cpu-{isa}" for isa in ISAS] + [f"cpu-{isa}-small" for isa in ISAS]
SMALL = dict(mc=40, kc=13, nc=30)


@pytest.fixture(params=BENGINES)
def bengine(request, cpu_config) -> str:
    """Configures the engine named by the param (ISA cap, block sizes) and returns backend=."""
    if request.param == "reference":
        return "reference"
    parts = request.param.split("-")
    cpu_config(parts[1], **(SMALL if len(parts) == 3 else {}))
    info = _cpu.binfo()
    assert info["isa"] == parts[1], f"configure({parts[1]!r}) selected {info['ukernel']}"
    if len(parts) == 3:  # tiny blocks: several k blocks, many M and N blocks
        assert info["kc"] == 14 and info["nc"] <= 30
    return "cpu"
