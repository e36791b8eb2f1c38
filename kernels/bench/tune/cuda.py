"""`python -m hpc_kernels tune [gemm] --backend cuda`: search the tile configurations of the CUDA kernels for this GPU architecture, and record per shape class whether cuBLAS is faster.

For each dtype and precision (fp32 exact and tf32, fp64, fp16, bf16) every candidate of
kernels/backends/cuda/sources.py runs hpc_kernels.gemm at the given square sizes on device arrays
(checked against cupy.matmul first: a candidate that is wrong or fails to compile is skipped and
said so), timed with CUDA events, interleaved. The fastest configuration is recorded in the cuda
namespace of the tuning store (op "gemm.tiles") per GPU (name; its sm arch and "nvidia" are the
fallback levels), dtype and precision; then, per size, our best against cupy.matmul: the faster is
recorded for that power-of-two shape class (op "gemm.cublas"), and hpc_kernels.gemm/matmul follow it.
The front end (cli.py) has checked that the backend is available (a GPU, CuPy, NVRTC).
"""
from __future__ import annotations

import argparse
import sys
from typing import List

from ..suites.cuda import GEMM_KINDS, _check, _cupy_dtype, event_medians
from .results import Item, save


def run(args: argparse.Namespace) -> int:
    import cupy as cp

    import hpc_kernels

    from ...backends.cuda import plan
    from ...backends.cuda import runtime as rt
    from ...backends.cuda import sources as S
    from ...backends import cuda

    be = cuda.backend
    dev = cp.cuda.Device()
    p = rt.props(dev.id)
    sizes = args.sizes
    results: List[Item] = []
    for dt, precision in GEMM_KINDS:
        ndt = _cupy_dtype(dt)
        if ndt is None or (args.dtype and dt not in args.dtype):
            continue
        prec = precision or "exact"
        if S.compute_kind(dt, prec) != "simt" and p["arch"] < S.MIN_TC_ARCH:
            continue
        rng = cp.random.default_rng(0)
        ops = {n: (rng.standard_normal((n, n), dtype=cp.float32).astype(ndt), rng.standard_normal((n, n), dtype=cp.float32).astype(ndt),
                   cp.empty((n, n), ndt)) for n in sizes}
        fns, cands = {}, {}
        for i, cfg in enumerate(S.candidates(dt, prec)):
            be.forced[(dt, prec)] = cfg
            try:
                a, b, c = ops[sizes[0]]
                hpc_kernels.gemm(a, b, out=c, precision=precision)
                ok = _check(c, a, b, dt, precision)
            except Exception as exc:  # a compile or launch failure of one candidate
                print(f"  {dt} {prec} {cfg}: skipped ({type(exc).__name__}: {str(exc).splitlines()[0][:120]})")
                continue
            finally:
                be.forced.pop((dt, prec), None)
            if not ok:
                print(f"  {dt} {prec} {cfg}: skipped (wrong result)")
                continue

            def call(cfg=cfg):
                be.forced[(dt, prec)] = cfg
                try:
                    for a, b, c in ops.values():
                        hpc_kernels.gemm(a, b, out=c, precision=precision)
                finally:
                    be.forced.pop((dt, prec), None)

            fns[f"c{i}"], cands[f"c{i}"] = call, cfg
        if not fns:
            print(f"{dt} {prec}: no candidate ran", file=sys.stderr)
            return 1
        t = event_medians(fns, args.rounds)
        flops = sum(2.0 * n ** 3 for n in sizes)
        for name in sorted(t, key=t.get)[:3]:
            print(f"  {dt} {prec} {cands[name]}: {flops / t[name] / 1e12:6.1f} TFLOP/s over n = {sizes}")
        best = cands[min(t, key=t.get)]
        results.append(("gemm.tiles", plan.tiles_key(dt, prec), list(best), {"tflops": flops / min(t.values()) / 1e12, "sizes": sizes}))
        # ours (best tiles) against cuBLAS per size
        for n, (a, b, c) in ops.items():
            c2 = cp.empty_like(c)

            def ours(a=a, b=b, c=c):
                be.forced[(dt, prec)] = best
                try:
                    hpc_kernels.gemm(a, b, out=c, precision=precision)
                finally:
                    be.forced.pop((dt, prec), None)

            tt = event_medians({"kernels": ours, "cublas": lambda a=a, b=b, c2=c2: cp.matmul(a, b, out=c2)}, args.rounds)
            choice = "cublas" if tt["cublas"] < tt["kernels"] else "kernels"
            results.append(("gemm.cublas", plan.gemm_key(dt, prec, n, n, n), choice, {"seconds": dict(tt)}))
            print(f"{p['name']} {dt} {prec} n={n}: tiles {tuple(best)}, kernels {2 * n ** 3 / tt['kernels'] / 1e12:.1f} TFLOP/s, "
                  f"cuBLAS {2 * n ** 3 / tt['cublas'] / 1e12:.1f} -> {choice}")
    return save("cuda", plan.device(p["arch"], p["name"]), results, "cuda choices", args.dry_run)
