"""The host CPU, asked in one place: its model name, and the vector ISAs it runs, from the C++
engine's own table (hpc_kernels._cpu.info(): the checks its micro-kernels are chosen by) when the
extension is built, else from LLVM's host features (llvmlite, which the numba backend brings).
The numba backend sizes its register tiles from isas(); the tuning cache keys on cpu_model()."""
from __future__ import annotations

import platform
from typing import Tuple

from ._extension import cpu_extension


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def isas() -> Tuple[str, ...]:
    """The vector ISAs this CPU runs, best first, named as in the C++ table: avx512, avx2, generic
    (not capped by KERNELS_CPU_ISA, which caps the cpu backend only)."""
    module, _ = cpu_extension()
    if module is not None:
        return tuple(module.info()["isas_supported"])
    return _isas_from_llvm()


def _isas_from_llvm() -> Tuple[str, ...]:
    """The C++ table's rules (csrc/cpu_info.cpp) on LLVM's host features: avx2 needs AVX2 and
    FMA, avx512 also AVX-512F; without llvmlite only the portable kernels are known to run."""
    try:
        import llvmlite.binding as llvm

        f = llvm.get_host_cpu_features()
    except (ImportError, RuntimeError):
        return ("generic",)
    avx2 = bool(f.get("avx2", False)) and bool(f.get("fma", False))
    avx512 = avx2 and bool(f.get("avx512f", False))
    return (("avx512",) if avx512 else ()) + (("avx2",) if avx2 else ()) + ("generic",)
