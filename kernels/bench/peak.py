"""`python -m hpc_kernels bench peak`: this machine's FMA peak (one core and all cores) and streaming memory
bandwidth, the two ceilings of the report's roofline.

FMA peak: the cpu extension's probe (independent vector FMAs in registers, csrc/arch/<isa>/fma_peak.cpp), which
releases the GIL, so n Python threads run n probes at once and their rates add up.

Bandwidth: STREAM's "add" kernel c = a + b (two float64 streams read, one written; counted as 24
bytes per element like STREAM, without the write-allocate read of c) with NumPy, each thread adding
its own contiguous slice (NumPy's ufuncs release the GIL), on arrays of 2x the last-level cache
each, best of several passes. It is what a streaming kernel can get out of memory, not the DRAM
spec figure.
"""
from __future__ import annotations

import os
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict, List, Optional

import numpy as np

MIN_ARRAY = 64 << 20  # bytes per array: far beyond any L2 even when the LLC size is unknown
MAX_ARRAY = 1 << 30


def fma_peak(dtype: str, threads: int = 1, seconds: float = 0.2, probes: int = 3) -> Optional[float]:
    """GFLOP/s of `threads` cores issuing FMAs together (median of `probes`); None without the cpu backend or a SIMD probe."""
    from ..backends.cpu import _cpu

    if _cpu is None:
        return None

    def one() -> Optional[float]:
        if threads == 1:
            return _cpu.fma_peak(dtype, seconds)
        with ThreadPoolExecutor(threads) as ex:
            rates = list(ex.map(lambda _: _cpu.fma_peak(dtype, seconds), range(threads)))
        return None if None in rates else sum(rates)

    runs = [one() for _ in range(probes)]
    return None if None in runs else statistics.median(runs)


def llc_bytes() -> Optional[int]:
    """Size of the largest cache level that sysfs reports for cpu0 (None where there is no sysfs)."""
    base = "/sys/devices/system/cpu/cpu0/cache"
    sizes = []
    try:
        for d in os.listdir(base):
            if not d.startswith("index"):
                continue
            with open(os.path.join(base, d, "size")) as f:
                text = f.read().strip()
            mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(text[-1:], 1)
            sizes.append(int(text.rstrip("KMG")) * mult)
    except (OSError, ValueError):
        return None
    return max(sizes) if sizes else None


def bandwidth(threads: int, array_bytes: Optional[int] = None, passes: int = 5) -> Dict[str, Any]:
    """Streaming bandwidth in GB/s (1e9 bytes) of c = a + b over `threads` threads; best of `passes`."""
    llc = llc_bytes()
    size = array_bytes or min(MAX_ARRAY, max(MIN_ARRAY, 2 * (llc or 0)))
    n = size // 8
    a, b, c = np.ones(n), np.ones(n), np.zeros(n)  # written: the pages are mapped before timing
    bounds = np.linspace(0, n, threads + 1).astype(np.int64)
    parts = [(a[lo:hi], b[lo:hi], c[lo:hi]) for lo, hi in zip(bounds[:-1], bounds[1:])]
    best = float("inf")
    with ThreadPoolExecutor(threads) as ex:
        for _ in range(passes):
            t0 = time.perf_counter()
            list(ex.map(lambda p: np.add(p[0], p[1], out=p[2]), parts))
            best = min(best, time.perf_counter() - t0)
    return {"gbs": 3 * 8 * n / best / 1e9, "kernel": "add c = a + b (float64, 24 B per element)", "threads": threads,
            "array_bytes": 8 * n, "llc_bytes": llc}


def measure(threads: List[int], dtypes: List[str], seconds: float = 0.2) -> Dict[str, Any]:
    """The ceilings for the report: FMA peak per dtype and thread count, bandwidth per thread count."""
    return {
        "fma_gflops": {dt: {str(nt): fma_peak(dt, nt, seconds) for nt in threads} for dt in dtypes},
        "bandwidth": {str(nt): bandwidth(nt) for nt in threads},
    }


def run(args) -> int:
    from .._threads import cores

    threads = args.threads or sorted({1, cores()})
    dtypes = args.dtype or ["float32", "float64"]
    if set(dtypes) - {"float32", "float64"}:
        print("bench peak: the FMA probe runs float32 and float64 only", file=sys.stderr)
        return 2
    p = measure(threads, dtypes, 0.1 if args.quick else 0.2)
    for dt, by in p["fma_gflops"].items():
        for nt, g in by.items():
            print(f"{dt}: FMA peak, {nt} core(s): " + ("no SIMD probe (cpu backend not built or no AVX2/AVX-512)" if g is None
                                                       else f"{g:.1f} GFLOP/s (median of 3)"))
    for nt, bw in p["bandwidth"].items():
        print(f"bandwidth, {nt} thread(s): {bw['gbs']:.1f} GB/s ({bw['kernel']}, arrays of {bw['array_bytes'] >> 20} MiB, "
              f"last-level cache {'unknown' if bw['llc_bytes'] is None else str(bw['llc_bytes'] >> 20) + ' MiB'})")
    if args.json:
        from . import record
        from .meta import run_meta

        record.dump(args.json, record.document(run_meta(threads=threads, peak=p), []))
    return 0
