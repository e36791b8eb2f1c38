"""Ahead-of-time NVRTC compilation of the CUDA sources to SASS for a given architecture: the compile check that needs no GPU (CI) and the `compile` report of the cuda backend."""
from __future__ import annotations

import concurrent.futures as cf
import os
import time
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

from . import sources as S


class Compiled(NamedTuple):
    file: str
    arch: int
    names: Dict[str, str]  # name expression -> lowered (mangled) symbol
    cubin_bytes: int
    seconds: float
    log: str


class CompileError(RuntimeError):
    pass


def _nvrtc():
    """CuPy's NVRTC binding (it loads libnvrtc from the nvidia-cuda-nvrtc wheel or the CUDA
    toolkit; no driver or GPU involved)."""
    from cupy_backends.cuda.libs import nvrtc

    return nvrtc


def version() -> str:
    major, minor = _nvrtc().getVersion()
    return f"{major}.{minor}"


def compile_names(file: str, names: List[str], arch: int, extra=()) -> Compiled:
    """Compile `file` with `names` instantiated, to a cubin for sm_<arch>; CompileError with
    NVRTC's log when it fails."""
    nvrtc = _nvrtc()
    src = S.source(file)
    t0 = time.perf_counter()
    prog = nvrtc.createProgram(src, file, [], [])
    try:
        for n in names:
            nvrtc.addNameExpression(prog, n)
        try:
            nvrtc.compileProgram(prog, list(S.options(arch)) + list(extra))
        except nvrtc.NVRTCError as exc:
            raise CompileError(f"{file} for sm_{arch}: {exc}\n{nvrtc.getProgramLog(prog)}") from None
        log = nvrtc.getProgramLog(prog)
        lowered = {n: nvrtc.getLoweredName(prog, n) for n in names}
        cubin = nvrtc.getCUBIN(prog)
    finally:
        nvrtc.destroyProgram(prog)
    return Compiled(file, arch, lowered, len(cubin), time.perf_counter() - t0, log)


def _job(job: Tuple[str, int, List[str]]) -> Compiled:
    f, arch, names = job
    return compile_names(f, names, arch, extra=("--ptxas-options=-v",))  # ptxas reports registers and spills


def spills(c: Compiled) -> List[str]:
    """ptxas lines of `c` (compiled by compile_catalogue) that report register spills."""
    return [line.strip() for line in c.log.splitlines() if "spill" in line and ", 0 bytes spill stores, 0 bytes spill loads" not in line]


def compile_catalogue(archs: Sequence[int] = S.ARCHS, workers: Optional[int] = None, chunk: int = 40) -> List[Compiled]:
    """Every kernel of the catalogue for every architecture, in chunks of `chunk` kernels spread
    over worker processes (NVRTC runs on one core per program). CompileError on the first failure."""
    jobs = [(f, arch, names[i:i + chunk]) for f, names in S.by_file().items() for arch in archs
            for i in range(0, len(names), chunk)]
    with cf.ProcessPoolExecutor(workers or min(len(jobs), os.cpu_count() or 1)) as pool:
        return list(pool.map(_job, jobs))
