"""Argument parsing and the driver of `python -m kernels bench` (gemm, peak; conv2d lives in conv2d.py)."""
from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from . import cases
from .meta import run_meta


def _positive(text: str) -> int:
    n = int(text)
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {n}")
    return n


def add_arguments(p: argparse.ArgumentParser) -> None:
    from .layers import NETS

    p.add_argument(
        "what", choices=["gemm", "conv2d", "peak"],
        help="gemm: kernels vs NumPy; conv2d: network conv layers, kernels vs NumPy im2col and torch; peak: FMA peak of one core",
    )
    p.add_argument("--threads", type=int, nargs="+", default=None, help="thread counts (default: 1 and all cores)")
    # None: each benchmark's own default (gemm both dtypes, conv2d float32, the dtype of CNN inference)
    p.add_argument("--dtype", nargs="+", default=None, choices=["float32", "float64", "float16", "bfloat16"],
                   help="default: gemm both, conv2d float32 (cuda: gemm every dtype, conv2d float16; 16-bit types on cuda only)")
    p.add_argument("--quick", action="store_true", help="fewer sizes/layers and rounds (about a minute)")
    p.add_argument("--rounds", type=int, default=None, help="interleaved rounds per case (default 5, quick 3)")
    p.add_argument("--shapes", choices=["all", "square", "resnet50"], default="all", help="gemm: which shapes")
    p.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    p.add_argument("--backend", choices=["cpu", "opencl", "cuda", "numba"], default="cpu",
                   help="cpu: kernels' cpu backend vs NumPy/torch; opencl: the opencl kernels vs CLBlast on the same queue and the cpu backend; "
                        "cuda: the CUDA kernels vs cuBLAS (cupy.matmul) and cuDNN (torch), CUDA events; "
                        "numba: the numba kernels vs NumPy (gemm) and the cpu backend")
    conv = p.add_argument_group("conv2d")
    conv.add_argument("--net", choices=list(NETS) + ["all"], default="resnet50", help="network whose conv layers run (default resnet50)")
    conv.add_argument("--batch", type=_positive, default=1, help="images per call (default 1)")
    conv.add_argument("--layout", choices=["NCHW", "NHWC"], default="NCHW", help="layout of x and y for kernels and NumPy (default NCHW)")
    conv.add_argument(
        "--algorithms", nargs="+", default=["auto", "im2col", "convgemm"], choices=["auto", "im2col", "convgemm", "gemm", "direct"],
        help="kernels.conv2d algorithms timed (auto always; one that rejects a layer is skipped there)",
    )
    conv.add_argument("--no-torch", action="store_true", help="leave torch out even when it is installed")


def run(args: argparse.Namespace) -> int:
    import kernels

    if args.what == "peak":
        return run_peak(args)
    if args.backend == "opencl":
        from .opencl import run as run_opencl

        return run_opencl(args)
    if args.backend == "cuda":
        from .cuda import run as run_cuda

        return run_cuda(args)
    if args.backend == "numba":
        from .numba import run as run_numba

        return run_numba(args)
    if args.dtype and set(args.dtype) - {"float32", "float64"}:
        print("bench: float16 and bfloat16 are benchmarked with --backend cuda", file=sys.stderr)
        return 2
    if args.what == "conv2d":
        from .conv2d import run as run_conv2d

        return run_conv2d(args)
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
            for dt in args.dtype or ["float32", "float64"]:
                for case in todo:
                    row = run_case(case, np.dtype(dt), rounds, nt)
                    row["threads"] = nt
                    rows.append(row)
            print(format_table(rows), flush=True)
            results += rows
    bad = [r for r in results if not r["correct"]]
    if args.json:
        meta = run_meta(engine, rounds)
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
    for dt in args.dtype or ["float32", "float64"]:
        runs = [_cpu.fma_peak(dt, 0.2) for _ in range(5)]
        if runs[0] is None:
            print(f"{dt}: no SIMD ISA built/supported for the FMA probe")
            continue
        print(f"{dt}: FMA peak of one core {statistics.median(runs):.1f} GFLOP/s (median of 5)")
    return 0
