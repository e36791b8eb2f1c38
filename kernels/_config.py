"""Every KERNELS_* environment variable, read in this one place at import time; and the OpenMP
wait default kernels sets before its extension loads libgomp (openmp_defaults)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Optional

# name -> what it does (`python -m hpc_kernels info` prints it); docs/environment.md's table documents the
# same variables, which tests/docs/test_env_vars.py checks.
ENV_VARS = {
    "KERNELS_BACKEND": "backend used when none is given (cpu, reference, ...); default: by array type",
    "KERNELS_NUM_THREADS": "threads of the cpu backend (at most 4 x the cores, at least 8); default OMP_NUM_THREADS, else the core count",
    "KERNELS_CPU_ISA": "cap on the cpu micro-kernel ISA: avx512, avx2, rvv (RISC-V) or generic (default: best the CPU runs)",
    "KERNELS_CPU_UARCH": "microarchitecture whose defaults the cpu engine uses (block-size rules, kernel efficiencies, thread grid): auto (from CPUID, the default), zen5, zen4, zen3, zen2, spr, skx, haswell or unknown (the cache-size model alone)",
    "KERNELS_CPU_MC": "cpu GEMM block size MC (rows of the packed A block); default from the L2 size",
    "KERNELS_CPU_KC": "cpu GEMM block size KC (depth of packed panels); default from the L1 size",
    "KERNELS_CPU_NC": "cpu GEMM block size NC (columns of the packed B block); default from the L3 size and the microarchitecture's B-block budget",
    "KERNELS_CPU_SCHEDULE": "how the threads of one cpu product share its work: dynamic (units taken at run time, a thread's own rows first, so a core slowed by another tenant or process does less; the default) or static (a split fixed in advance)",
    "KERNELS_VERBOSE": "1 logs every dispatch decision (logger 'hpc_kernels') to stderr",
    "KERNELS_CACHE_DIR": "directory of the tuning store (tuning.json) and numba's kernel cache; default: the platform's user cache dir",
    "KERNELS_OPENCL_DEVICE": "opencl device: 'platform:device' indices or a name substring; default PYOPENCL_CTX, else the first GPU/accelerator, else a CPU, that builds a probe program",
    "KERNELS_OPENCL_BINARY": "opencl: load the FPGA-form program from this precompiled binary (clCreateProgramWithBinary) instead of source",
    "KERNELS_CONV_BAND_BYTES": "per-thread budget in bytes of the row bands in which an hpc_kernels.onnx conv chain runs consecutive NHWC layers whose intermediates outgrow it (0: never banded); default half the L2",
    "KERNELS_ONNX_CHAIN": "0 runs each convolution of an hpc_kernels.onnx session as its own node (default 1: consecutive ones as one C++ call, FusedConvChain)",
    "KERNELS_TASK_CUS": "computing units the PyCOMPSs task versions (hpc_kernels.workflow.compss) ask for; default 1",
}


def _int(name: str) -> Optional[int]:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not an integer") from None
    if value < 0 or (value == 0 and name == "KERNELS_NUM_THREADS"):
        raise ValueError(f"{name}={raw!r} must be a positive integer")
    return value


@dataclass(frozen=True)
class Config:
    backend: Optional[str]
    num_threads: Optional[int]
    cpu_isa: Optional[str]
    cpu_uarch: Optional[str]
    cpu_mc: int
    cpu_kc: int
    cpu_nc: int
    cpu_schedule: Optional[str]
    verbose: bool
    cache_dir: Optional[str]
    opencl_device: Optional[str]
    opencl_binary: Optional[str]
    task_cus: int
    conv_band_bytes: Optional[int]


def read() -> Config:
    return Config(
        backend=os.environ.get("KERNELS_BACKEND", "").strip().lower() or None,
        num_threads=_int("KERNELS_NUM_THREADS"),
        cpu_isa=os.environ.get("KERNELS_CPU_ISA", "").strip().lower() or None,
        cpu_uarch=os.environ.get("KERNELS_CPU_UARCH", "").strip().lower() or None,
        cpu_mc=_int("KERNELS_CPU_MC") or 0,
        cpu_kc=_int("KERNELS_CPU_KC") or 0,
        cpu_nc=_int("KERNELS_CPU_NC") or 0,
        cpu_schedule=os.environ.get("KERNELS_CPU_SCHEDULE", "").strip().lower() or None,
        verbose=os.environ.get("KERNELS_VERBOSE", "").strip().lower() in ("1", "true", "yes", "on"),
        cache_dir=os.environ.get("KERNELS_CACHE_DIR", "").strip() or None,
        opencl_device=os.environ.get("KERNELS_OPENCL_DEVICE", "").strip() or None,
        opencl_binary=os.environ.get("KERNELS_OPENCL_BINARY", "").strip() or None,
        task_cus=_int("KERNELS_TASK_CUS") or 1,
        conv_band_bytes=_int("KERNELS_CONV_BAND_BYTES"),
    )


config = read()


# libgomp's idle threads spin GOMP_SPINCOUNT times before they sleep; libgomp reads the variable
# (and OMP_WAIT_POLICY) once, when it is loaded. Its default when neither is set, 300000 spins
# (~7 ms on the Zen 4 here, 23 ns a spin), makes small parallel calls slow under oversubscription
# (more runnable threads than cores, as on a busy workflow node): a thread waiting at a barrier
# spins through the time slice the thread it waits for needs. PASSIVE (sleep at once) fixes that,
# but then every call wakes sleeping threads: back-to-back small calls 3-4x slower on an idle machine.
# 1000 spins (~23 us here; a spin lasts one `pause`, whose latency varies by CPU) outlast the gap
# between back-to-back calls (Python's share of a small conv2d call: 8 us), so unloaded calls run as
# fast as with the default, while an oversubscribed thread wastes up to 300x less
# (benchmarks/oversubscription.py; figures in docs/environment.md, section "Threads").
GOMP_SPINCOUNT_DEFAULT = "1000"


def openmp_defaults() -> None:
    """Set GOMP_SPINCOUNT to GOMP_SPINCOUNT_DEFAULT unless the user chose a wait policy
    (OMP_WAIT_POLICY or GOMP_SPINCOUNT set). Called first thing by kernels/__init__.py, before the
    extension (the first thing in `import hpc_kernels` that loads libgomp) or numba's OpenMP layer
    load it; it stays in the environment, so child processes (Dask workers, PyCOMPSs tasks) get it
    too. Without effect where libgomp was already loaded by another module imported before kernels."""
    if not os.environ.get("OMP_WAIT_POLICY", "").strip() and not os.environ.get("GOMP_SPINCOUNT", "").strip():
        os.environ["GOMP_SPINCOUNT"] = GOMP_SPINCOUNT_DEFAULT
