"""Argument parsing and the driver of `python -m kernels bench`."""
from __future__ import annotations

import argparse
import json
import platform
import sys

import numpy as np

from . import cases


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("what", choices=["gemm", "peak"], help="gemm: kernels vs NumPy; peak: FMA peak of one core")
    p.add_argument("--threads", type=int, nargs="+", default=None, help="thread counts (default: 1 and all cores)")
    p.add_argument("--dtype", nargs="+", default=["float32", "float64"], choices=["float32", "float64"])
    p.add_argument("--quick", action="store_true", help="fewer sizes and rounds (about a minute)")
    p.add_argument("--rounds", type=int, default=None, help="interleaved rounds per case (default 5, quick 3)")
    p.add_argument("--shapes", choices=["all", "square", "resnet50"], default="all")
    p.add_argument("--json", metavar="PATH", help="also write the results as JSON")


def run(args: argparse.Namespace) -> int:
    import kernels

    if args.what == "peak":
        return run_peak(args)
    from .._threads import cores
    from .gemm import format_table, numpy_threads, run_case

    rounds = args.rounds or (3 if args.quick else 5)
    todo = []
    if args.shapes in ("all", "square"):
        todo += cases.square_cases(args.quick)
    if args.shapes in ("all", "resnet50"):
        todo += cases.resnet50_cases(args.quick)
    threads = args.threads or sorted({1, cores()})  # one thread and every core
    engine = kernels.info()["cpu_engine"]
    results = []
    for nt in threads:
        with kernels.num_threads(nt), numpy_threads(nt) as blas:
            print(f"\n== gemm, {nt} thread(s): kernels ({engine['float32']['isa'] if engine else 'n/a'}) vs NumPy ({blas or 'threads not limited: pip install threadpoolctl'})")
            rows = []
            for dt in args.dtype:
                for case in todo:
                    row = run_case(case, np.dtype(dt), rounds, nt)
                    row["threads"] = nt
                    rows.append(row)
            print(format_table(rows), flush=True)
            results += rows
    bad = [r for r in results if not r["correct"]]
    if args.json:
        meta = {
            "machine": platform.machine(),
            "processor": kernels.info()["processor"],
            "python": platform.python_version(),
            "numpy": np.__version__,
            "kernels": kernels.__version__,
            "cpu_engine": engine,
            "rounds": rounds,
        }
        with open(args.json, "w") as f:
            json.dump({"meta": meta, "results": results}, f, indent=2)
    if bad:
        print(f"\n{len(bad)} result(s) failed the correctness check", file=sys.stderr)
        return 1
    return 0


def run_peak(args: argparse.Namespace) -> int:
    """Single-core FMA throughput (median of 5 probes): the roofline ceiling per core."""
    import statistics

    from ..backends.cpu import _cpu

    if _cpu is None:
        print("the cpu backend is not built: no FMA probe", file=sys.stderr)
        return 1
    for dt in args.dtype:
        runs = [_cpu.fma_peak(dt, 0.2) for _ in range(5)]
        if runs[0] is None:
            print(f"{dt}: no SIMD ISA built/supported for the FMA probe")
            continue
        print(f"{dt}: FMA peak of one core {statistics.median(runs):.1f} GFLOP/s (median of 5)")
    return 0
