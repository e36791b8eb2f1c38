"""Engines of the int8 tests: the reference backend and the cpu backend at every ISA cap this
machine runs (default and tiny blocks), once the cpu backend implements qgemm."""
from __future__ import annotations

import pytest

from _helpers import ISAS
from hpc_kernels import _cpu

from _qcpu import CPU_INT8

QENGINES = ["reference"] + ([f"cpu-{isa}" for isa in ISAS] + [f"cpu-{isa}-small" for isa in ISAS] if CPU_INT8 else [])
SMALL = dict(mc=40, kc=13, nc=30)


@pytest.fixture(params=QENGINES)
def qengine(request, cpu_config) -> str:
    """Configures the engine named by the param (ISA cap, block sizes) and returns backend=."""
    if request.param == "reference":
        return "reference"
    parts = request.param.split("-")
    cpu_config(parts[1], **(SMALL if len(parts) == 3 else {}))
    info = _cpu.qinfo()
    assert info["isa"] == parts[1], f"configure({parts[1]!r}) selected {info['ukernel']}"
    if len(parts) == 3:  # tiny blocks: several k blocks (int32 partial sums), many M and N blocks
        assert info["kc"] == 16 and info["nc"] <= 30
    return "cpu"
