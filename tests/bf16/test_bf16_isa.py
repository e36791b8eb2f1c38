"""KERNELS_CPU_ISA caps select the bf16 kernel of that ISA (a fresh process each: the variable is
read at import), and each computes an exact small-integer product; the default picks vdpbf16ps
exactly where the CPU reports AVX512-BF16 (/proc/cpuinfo's avx512_bf16), and AMX tiles where it
also reports amx_bf16 and amx_tile (the OS grants them to every process on Linux >= 5.16)."""
from __future__ import annotations

import pathlib

import pytest

from _helpers import ISAS, python_code

CODE = (
    "import numpy as np, ml_dtypes, hpc_kernels as hk\n"
    "from hpc_kernels import _cpu\n"
    "bf = ml_dtypes.bfloat16\n"
    "a = (np.arange(35 * 19) % 7 - 3).reshape(35, 19).astype(bf)\n"
    "b = (np.arange(19 * 14) % 5 - 2).reshape(19, 14).astype(bf)\n"
    "r = hk.gemm(a, b, out_dtype=np.float32)\n"
    "assert (r == a.astype(np.float64) @ b.astype(np.float64)).all()\n"
    "print(_cpu.binfo()['ukernel'])\n"
)
KERNEL = {"avx2": "ukr_bf16_avx2_16x6", "generic": "ukr_bf16_generic_8x4"}


@pytest.mark.parametrize("isa", [i for i in ISAS if i in KERNEL])
def test_isa_cap_selects_its_bf16_kernel(isa):
    r = python_code(CODE, {"KERNELS_CPU_ISA": isa})
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1] == KERNEL[isa]


def _flags() -> str:
    cpuinfo = pathlib.Path("/proc/cpuinfo")
    return cpuinfo.read_text() if cpuinfo.exists() else ""


def test_default_uses_amx_or_vdpbf16ps_where_the_cpu_has_them():
    if "avx512" not in ISAS:
        pytest.skip("no AVX-512 here")
    flags = _flags()
    r = python_code(CODE)
    assert r.returncode == 0, r.stderr
    if " amx_bf16" in flags and " amx_tile" in flags:
        want = "ukr_bf16_amx_32x32"
    else:
        want = "ukr_bf16_avx512bf16_32x12" if " avx512_bf16" in flags else "ukr_bf16_avx2_16x6"
    assert r.stdout.strip().splitlines()[-1] == want


def test_amx_switched_off_runs_vdpbf16ps():
    if "avx512" not in ISAS or " avx512_bf16" not in _flags():
        pytest.skip("no AVX512-BF16 here")
    r = python_code("from hpc_kernels import _cpu\n_cpu.bf16_amx(False)\n" + CODE)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1] == "ukr_bf16_avx512bf16_32x12"
