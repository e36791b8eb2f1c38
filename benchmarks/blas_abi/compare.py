"""dgemm through libkernels_blas.so from C, the same product through Python (hpc_kernels.gemm), and
another BLAS's dgemm_ (the system OpenBLAS) from C: interleaved rounds, medians, spread and ratios.

    python benchmarks/blas_abi/compare.py --other /usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3 \
        --sizes 64 1024 4096 --threads 1 --rounds 5

Each C measurement is one run of dgemm_time.c (built here with cc): a warm-up call, then `calls`
timed calls, their median. Python times the same column-major product in this process the same
way. Rounds interleave the implementations (the machines are shared and noisy).
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import hpc_kernels

HERE = Path(__file__).resolve().parent


def calls_for(n: int) -> int:
    return max(3, min(2000, int(2e9 / (2.0 * n**3))))  # ~2 GFLOP of timed work per measurement


def c_time(exe: str, lib: str, n: int, env: dict, *symbol: str) -> float:
    p = subprocess.run([exe, lib, str(n), str(calls_for(n)), *symbol], capture_output=True, text=True, env=env, check=True)
    return float(p.stdout)


def python_time(n: int) -> float:
    rng = np.random.default_rng(0)
    a, b = np.asfortranarray(rng.standard_normal((n, n))), np.asfortranarray(rng.standard_normal((n, n)))
    c = np.asfortranarray(np.empty((n, n)))
    hpc_kernels.gemm(a, b, out=c)
    t = []
    for _ in range(calls_for(n)):
        t0 = time.perf_counter()
        hpc_kernels.gemm(a, b, out=c)
        t.append(time.perf_counter() - t0)
    return statistics.median(t)


def openblas_config(path: str) -> str:
    """OpenBLAS's build and the kernel set it chose for this CPU, when the library is OpenBLAS."""
    import ctypes

    lib = ctypes.CDLL(path)
    parts = []
    for name in ("openblas_get_config", "openblas_get_corename"):
        fn = getattr(lib, name, None)
        if fn is not None:
            fn.restype = ctypes.c_char_p
            parts.append(fn().decode())
    return f" ({'; core '.join(parts)})" if parts else ""


def numpy_openblas() -> str:
    """The OpenBLAS shared library NumPy's wheel bundles (scipy-openblas, ILP64, scipy_ prefix)."""
    libs = Path(np.__file__).resolve().parent.parent / "numpy.libs"
    found = sorted(libs.glob("libscipy_openblas64_*.so"))
    if not found:
        raise SystemExit(f"no libscipy_openblas64_*.so in {libs}")
    return str(found[0])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--other", help="another BLAS library with dgemm_ (e.g. the system OpenBLAS)")
    ap.add_argument("--numpy-openblas", action="store_true",
                    help="also NumPy's bundled OpenBLAS from C (ILP64, scipy_dgemm_64_)")
    ap.add_argument("--sizes", type=int, nargs="+", default=[64, 1024, 4096])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp()
    exe = os.path.join(tmp, "dgemm_time")
    subprocess.run(["cc", "-O2", str(HERE / "dgemm_time.c"), "-o", exe, "-ldl"], check=True)
    env = {**os.environ, "KERNELS_NUM_THREADS": str(args.threads), "OMP_NUM_THREADS": str(args.threads),
           "OPENBLAS_NUM_THREADS": str(args.threads)}
    hpc_kernels.set_num_threads(args.threads)
    ours = hpc_kernels.blas_library()
    impls = {"C -> libkernels_blas": lambda n: c_time(exe, ours, n, env), "Python -> hpc_kernels.gemm": python_time}
    if args.other:
        impls[f"C -> {Path(args.other).name} ({Path(args.other).parent.name})"] = lambda n: c_time(exe, args.other, n, env)
    if args.numpy_openblas:
        np_lib = numpy_openblas()
        impls[f"C -> NumPy's {Path(np_lib).name}"] = lambda n: c_time(exe, np_lib, n, env, "scipy_dgemm_64_", "ilp64")
    times = {(name, n): [] for name in impls for n in args.sizes}
    for _ in range(args.rounds):
        for n in args.sizes:
            for name, fn in impls.items():
                times[(name, n)].append(fn(n))
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    print(f"dgemm, column-major n x n, {args.threads} thread(s), {args.rounds} interleaved rounds, {cpu}")
    if args.other:
        print(f"other library: {args.other}{openblas_config(args.other)}")
    if args.numpy_openblas:
        print(f"NumPy's OpenBLAS: {numpy_openblas()}")
    print(f"{'implementation':<44}{'n':>6}{'median ms':>12}{'min..max ms':>22}{'GFLOP/s':>9}{'vs C ours':>10}")
    for n in args.sizes:
        base = statistics.median(times[(next(iter(impls)), n)])
        for name in impls:
            t = times[(name, n)]
            med = statistics.median(t)
            print(f"{name:<44}{n:>6}{med * 1e3:>12.3f}{f'{min(t) * 1e3:.3f}..{max(t) * 1e3:.3f}':>22}"
                  f"{2 * n**3 / med / 1e9:>9.1f}{base / med:>10.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
