"""`python -m kernels bench gemm` (cpu suite): kernels' cpu backend against NumPy's BLAS and PyTorch, interleaved in one run."""
from __future__ import annotations

import argparse
import contextlib
from typing import Dict, Iterator, List, Optional, Tuple

import numpy as np

from . import cases, progress, record, torchref
from .cases import GemmCase
from .timing import interleaved_medians


@contextlib.contextmanager
def numpy_threads(n: int) -> Iterator[Optional[str]]:
    """Limit NumPy's BLAS to n threads; yields the BLAS name (None when threadpoolctl is missing)."""
    try:
        from threadpoolctl import threadpool_info, threadpool_limits
    except ImportError:
        yield None
        return
    blas = [i for i in threadpool_info() if i.get("user_api") == "blas"]
    name = f"{blas[0]['internal_api']} {blas[0]['version']}" if blas else "numpy"
    with threadpool_limits(limits=n, user_api="blas"):
        yield name


def check(result: np.ndarray, a: np.ndarray, b: np.ndarray) -> bool:
    """Netlib-style bound against a float64 product: |C - Cref| <= 4 k eps |A||B|."""
    ref = a.astype(np.float64) @ b.astype(np.float64)
    bound = 4 * a.shape[1] * np.finfo(a.dtype).eps * (np.abs(a).astype(np.float64) @ np.abs(b).astype(np.float64))
    return bool(np.all(np.abs(result - ref) <= bound + np.finfo(a.dtype).tiny))


def records(suite: str, case: GemmCase, dtype: str, threads: int, seconds: Dict[str, float],
            correct: Dict[str, bool], spread: Optional[Dict[str, float]] = None) -> List[dict]:
    """The unified records of one GEMM case (every suite's gemm goes through here)."""
    itemsize = np.dtype(dtype).itemsize if dtype not in ("bfloat16",) else 2
    nbytes = itemsize * (case.m * case.k + case.k * case.n + case.m * case.n)
    net = "resnet50" if case.name.startswith("resnet50") else None
    return record.expand(suite, "gemm", case.name, seconds, correct, case.flops, spread, dtype=dtype, threads=threads,
                         nbytes=nbytes, shape={"m": case.m, "n": case.n, "k": case.k}, net=net, count=case.count)


def operands(case: GemmCase, dtype) -> Tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return (rng.standard_normal((case.m, case.k)).astype(dtype), rng.standard_normal((case.k, case.n)).astype(dtype))


def run_case(case: GemmCase, dtype: np.dtype, rounds: int, threads: int = 1, torch=None,
             backends: Tuple[str, ...] = ("cpu",)) -> dict:
    """Time the backends (the first one is the suite's), NumPy and torch on one case, interleaved; check every result."""
    import kernels

    a, b = operands(case, dtype)
    outs = {name: np.empty((case.m, case.n), dtype) for name in backends + ("numpy", "torch")}
    # All write into a preallocated output, so none pays for allocating the result.
    fns = {name: (lambda name=name: kernels.gemm(a, b, out=outs[name], backend=name)) for name in backends}
    fns["numpy"] = lambda: np.matmul(a, b, out=outs["numpy"])
    if torch is not None:  # tensors sharing the arrays' memory: the check reads outs["torch"]
        ta, tb, tc = (torch.from_numpy(x) for x in (a, b, outs["torch"]))
        fns["torch"] = lambda: torch.matmul(ta, tb, out=tc)
    with kernels.num_threads(threads), numpy_threads(threads), torchref.threads(torch, threads):
        t = interleaved_medians(fns, rounds=rounds, settle_s=0.2 if threads > 1 else 0.0)
    return {
        "case": case.name, "dtype": np.dtype(dtype).name, "m": case.m, "n": case.n, "k": case.k, "count": case.count,
        "threads": threads, "seconds": t, "gflops": {name: case.flops / s / 1e9 for name, s in t.items()},
        # fastest reference / the suite's backend: > 1, the backend is faster
        "ratio": min(s for name, s in t.items() if name not in backends) / t[backends[0]],
        "correct": {name: check(outs[name], a, b) for name in t},
        "spread": t.spread,
    }


def network_totals(rows: List[dict]) -> List[str]:
    """One line per dtype and thread count: total time of the ResNet-50 layers (each times its count)."""
    lines = []
    for dt, nt in sorted({(r["dtype"], r["threads"]) for r in rows}):
        layers = [r for r in rows if r["dtype"] == dt and r["threads"] == nt and r["case"].startswith("resnet50")]
        if not layers:
            continue
        tot = {name: sum(r["count"] * r["seconds"][name] for r in layers) for name in layers[0]["seconds"]}
        n = sum(r["count"] for r in layers)
        mine = next(iter(tot))  # the suite's backend comes first
        refs = {name: s / tot[mine] for name, s in tot.items() if record.kind_of(name) == "reference"}
        lines.append(f"resnet50 {dt} {nt} thread(s): {len(layers)} layer shapes, {n} layers: "
                     + ", ".join(f"{name} {s * 1e3:.1f} ms" for name, s in tot.items()) + "; time ratios "
                     + ", ".join(f"{name}/{mine} {x:.2f}" for name, x in refs.items()))
    return lines


def format_table(rows: List[dict]) -> str:
    """GFLOP/s per implementation, then time(reference) / time(ours) per reference library (> 1: ours faster)."""
    names = list(dict.fromkeys(name for r in rows for name in r["seconds"]))
    mine, refs = names[0], [n for n in names if record.kind_of(n) == "reference"]
    head = (f"{'case':<28} {'dtype':<8} {'M':>5} {'N':>6} {'K':>5} " + " ".join(f"{n + ' GF/s':>11}" for n in names)
            + "".join(f" {n + '/' + mine:>12}" for n in refs) + "  ok")
    lines = [head, "-" * len(head)]
    for r in rows:
        bad = [n for n, ok in r["correct"].items() if not ok]
        t = r["seconds"]
        lines.append(
            f"{r['case']:<28} {r['dtype']:<8} {r['m']:>5} {r['n']:>6} {r['k']:>5} "
            + " ".join(f"{r['gflops'][n]:>11.1f}" if n in r["gflops"] else f"{'-':>11}" for n in names)
            + "".join(f" {t[n] / t[mine]:>12.2f}" if n in t else f" {'-':>12}" for n in refs)
            + f"  {'yes' if not bad else 'NO: ' + ','.join(bad)}"
        )
    return "\n".join(lines + network_totals(rows))


def todo(args: argparse.Namespace) -> List[GemmCase]:
    out = []
    if args.shapes in ("all", "square"):
        out += cases.square_cases(args.quick)
    if args.shapes in ("all", "resnet50"):
        out += cases.resnet50_cases(args.quick)
    return out


def planned(args: argparse.Namespace, threads: List[int]) -> int:
    return len(todo(args)) * len(args.dtype or ["float32", "float64"]) * len(threads)


def collect(args: argparse.Namespace, threads: List[int], rounds: int) -> Tuple[List[dict], List[dict]]:
    """(records, rows) of the cpu suite's gemm; prints one table per thread count."""
    import kernels

    torch, _ = torchref.load(not args.no_torch)
    engine = kernels.info()["cpu_engine"]
    recs, rows = [], []
    for nt in threads:
        with numpy_threads(nt) as blas:
            progress.emit(f"\n== gemm, {nt} thread(s): cpu ({engine['float32']['isa'] if engine else 'n/a'}) vs NumPy "
                          f"({blas or 'threads not limited: pip install threadpoolctl'})"
                          + (f" vs torch {torch.__version__}" if torch is not None else "")
                          + "; numpy/cpu = time(numpy) / time(cpu): > 1, cpu faster")
        mine = []
        for dt in args.dtype or ["float32", "float64"]:
            for case in todo(args):
                row = run_case(case, np.dtype(dt), rounds, nt, torch)
                progress.tick(f"cpu gemm {case.name} {dt} {nt}t")
                mine.append(row)
                recs += records("cpu", case, dt, nt, row["seconds"], row["correct"], row["spread"])
        progress.emit(format_table(mine))
        rows += mine
    return recs, rows
