"""`python -m hpc_kernels bench gemm|conv2d --backend numba` (numba suite): the numba backend against NumPy
and torch, with the cpu backend alongside, interleaved in one run (kernels/bench/timing.py), results checked."""
from __future__ import annotations

import argparse
import gc
from typing import Callable, Dict, List, Tuple

import numpy as np

from .. import progress, torchref
from ..cases import GemmCase, square_cases
from ..layers import layers_of
from ..record import conv_records, gemm_records
from ..references import NAMES, add_references, numpy_threads, reference, within
from ..timing import interleaved_medians
from .cpu import run_case

QUICK_LAYERS = 4  # per network


def _backends() -> Tuple[str, ...]:
    import hpc_kernels

    return ("numba",) + (("cpu",) if hpc_kernels.get_backend("cpu").available else ())


def _gemm_cases(args: argparse.Namespace) -> List[GemmCase]:
    return square_cases(args.quick, "numba")


def planned(args: argparse.Namespace, threads: List[int]) -> int:
    if args.what == "gemm":
        return len(_gemm_cases(args)) * len(args.dtype or ["float32", "float64"]) * len(threads)
    return sum(len(v) for v in layers_of(args, QUICK_LAYERS).values()) * len(threads)


def _gemm(args: argparse.Namespace, nt: int, rounds: int, torch) -> List[dict]:
    recs = []
    for dt in args.dtype or ["float32", "float64"]:
        for case in _gemm_cases(args):
            row = run_case(case, np.dtype(dt), rounds, nt, torch, backends=_backends())
            recs += gemm_records("numba", case, dt, nt, row["seconds"], row["correct"], row["spread"])
            bad = [k for k, ok in row["correct"].items() if not ok]
            t = row["seconds"]
            progress.emit(f"gemm {dt} n={case.n:>5} {nt} thr: " + "  ".join(f"{k} {v:7.1f}" for k, v in row["gflops"].items())
                          + "  GFLOP/s; time ratios " + ", ".join(f"{k}/numba {s / t['numba']:.2f}" for k, s in t.items() if k != "numba")
                          + f"  {'ok' if not bad else 'WRONG: ' + ','.join(bad)}")
            progress.tick(f"numba gemm {case.name} {dt} {nt}t")
    return recs


def _conv(args: argparse.Namespace, nt: int, rounds: int, torch, F) -> List[dict]:
    import hpc_kernels

    recs = []
    names = {**{b: f"{b} auto" for b in _backends()}, **NAMES}
    for net, layers in layers_of(args, QUICK_LAYERS).items():
        mine = []
        for layer in layers:
            rng = np.random.default_rng(0)
            x = rng.standard_normal(layer.x_shape(args.batch, args.layout), dtype=np.float32)
            w = rng.standard_normal(layer.w_shape, dtype=np.float32)
            kw = dict(layer.conv_kwargs, layout=args.layout)
            outs = {name: np.empty(layer.y_shape(args.batch, args.layout), np.float32) for name in _backends()}
            fns: Dict[str, Callable[[], object]] = {
                name: (lambda name=name: hpc_kernels.conv2d(x, w, **kw, out=outs[name], backend=name)) for name in outs}
            fetch = add_references(fns, outs, layer, x, w, args.layout, torch, F)
            with torchref.threads(torch, nt):
                t = interleaved_medians(fns, rounds=rounds, settle_s=0.2 if nt > 1 else 0.0)
                fetch()
            del fns
            gc.collect()
            ref, bound = reference(layer, x, w, args.layout)
            ok = {name: within(o, ref, bound) for name, o in outs.items()}
            recs += conv_records("numba", layer, "float32", args.layout, args.batch, nt, t, ok, names, t.spread)
            mine.append((layer, t))
            progress.emit(f"conv2d {net} {layer.name:<24} x{layer.count} {nt} thr: " + "  ".join(f"{k} {s * 1e3:8.2f}" for k, s in t.items())
                          + f" ms  {'ok' if all(ok.values()) else 'WRONG: ' + ','.join(k for k, v in ok.items() if not v)}")
            progress.tick(f"numba conv2d {net} {layer.name} {nt}t")
        tot = {k: sum(layer.count * t[k] for layer, t in mine) for k in mine[0][1]}
        line = f"{net} total ({sum(layer.count for layer, _ in mine)} layers, {nt} thr): " + ", ".join(f"{k} {s * 1e3:.1f} ms" for k, s in tot.items())
        progress.emit(line + (f"; numba/cpu time {tot['numba'] / tot['cpu']:.2f}" if "cpu" in tot else ""))
    return recs


def collect(args: argparse.Namespace, threads: List[int], rounds: int) -> Tuple[List[dict], None, None]:
    """(records, no rows, no totals) of the numba suite for args.what (gemm or conv2d, float32 for conv2d)."""
    import hpc_kernels

    torch, F = torchref.load(not args.no_torch)
    recs = []
    for nt in threads:
        with hpc_kernels.num_threads(nt), numpy_threads(nt):
            recs += _gemm(args, nt, rounds, torch) if args.what == "gemm" else _conv(args, nt, rounds, torch, F)
    return recs, None, None
