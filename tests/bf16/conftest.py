"""Engines of the bfloat16 tests: the reference backend and the cpu backend at every ISA cap this
machine runs (avx512: AMX tiles where the CPU has AMX-BF16, and then also with AMX switched off,
"avx512vec": vdpbf16ps where the CPU has AVX512-BF16; avx2: widened to fp32; generic: the portable
kernel), with default and tiny blocks (several k blocks: fp32 partial sums)."""
from __future__ import annotations

import pytest

from _helpers import ISAS
from hpc_kernels import _cpu

pytest.importorskip("ml_dtypes")

_ISAS = ISAS + (["avx512vec"] if "avx512" in ISAS and _cpu.bf16_amx() else [])
BENGINES = ["reference"] + [f"cpu-{isa}" for isa in _ISAS] + [f"cpu-{isa}-small" for isa in _ISAS]
SMALL = dict(mc=40, kc=13, nc=30)


@pytest.fixture(params=BENGINES)
def bengine(request, cpu_config) -> str:
    """Configures the engine named by the param (ISA cap, block sizes) and returns backend=."""
    if request.param == "reference":
        return "reference"
    parts = request.param.split("-")
    vec = parts[1] == "avx512vec"
    isa = "avx512" if vec else parts[1]
    cpu_config(isa, **(SMALL if len(parts) == 3 else {}))
    if vec:
        _cpu.bf16_amx(False)
        request.addfinalizer(lambda: _cpu.bf16_amx(True))
    info = _cpu.binfo()
    amx = info["amx"]
    assert info["isa"] == isa and not (vec and amx), f"configure({isa!r}) selected {info['ukernel']}"
    if len(parts) == 3:  # tiny blocks: several k blocks, many M and N blocks (AMX: k in steps of 32)
        assert info["kc"] == (32 if amx else 14) and info["nc"] <= (32 if amx else 30)
    return "cpu"
