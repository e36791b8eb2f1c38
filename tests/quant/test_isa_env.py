"""KERNELS_CPU_ISA caps the int8 kernels as it caps the float ones: avx2 and generic select their
own int8 micro-kernel, and the cap's kernel computes qgemm bit-exactly (checked in a subprocess,
where the variable is read at import)."""
from __future__ import annotations

import json

import pytest

from _helpers import ISAS, python_code
from _qcpu import CPU_INT8

CODE = """
import json, numpy as np, hpc_kernels
from hpc_kernels import _cpu
rng = np.random.default_rng(1)
a = rng.integers(0, 256, (37, 45), dtype=np.uint8)
b = rng.integers(-128, 128, (45, 29), dtype=np.int8)
kw = dict(a_zero_point=7, b_zero_point=np.arange(29, dtype=np.int8) % 5, a_scale=0.1, b_scale=0.02, out_scale=0.3)
same = bool((hpc_kernels.qgemm(a, b, backend="cpu", **kw) == hpc_kernels.qgemm(a, b, backend="reference", **kw)).all())
print(json.dumps([_cpu.qinfo()["isa"], same]))
"""


@pytest.mark.skipif(not CPU_INT8, reason="the cpu backend has no int8 engine in this build")
@pytest.mark.parametrize("isa", [i for i in ISAS if i in ("avx2", "generic")])
def test_env_cap_selects_int8_kernel(isa):
    p = python_code(CODE, {"KERNELS_CPU_ISA": isa})
    assert p.returncode == 0, p.stderr
    got, same = json.loads(p.stdout.strip().splitlines()[-1])
    assert got == isa and same
