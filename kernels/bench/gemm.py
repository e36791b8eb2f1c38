"""`python -m kernels bench gemm`: kernels.gemm against NumPy's BLAS, interleaved in one run."""
from __future__ import annotations

import contextlib
from typing import Iterator, List, Optional

import numpy as np

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


def run_case(case: GemmCase, dtype: np.dtype, rounds: int, threads: int = 1) -> dict:
    import kernels

    rng = np.random.default_rng(0)
    a = rng.standard_normal((case.m, case.k)).astype(dtype)
    b = rng.standard_normal((case.k, case.n)).astype(dtype)
    c_k = np.empty((case.m, case.n), dtype)
    c_n = np.empty((case.m, case.n), dtype)
    fns = {
        # Both write into a preallocated output, so neither pays for allocating the result.
        "kernels": lambda: kernels.gemm(a, b, out=c_k),
        "numpy": lambda: np.matmul(a, b, out=c_n),
    }
    t = interleaved_medians(fns, rounds=rounds, settle_s=0.2 if threads > 1 else 0.0)
    return {
        "case": case.name,
        "dtype": np.dtype(dtype).name,
        "m": case.m,
        "n": case.n,
        "k": case.k,
        "count": case.count,
        "kernels_s": t["kernels"],
        "numpy_s": t["numpy"],
        "kernels_gflops": case.flops / t["kernels"] / 1e9,
        "numpy_gflops": case.flops / t["numpy"] / 1e9,
        "ratio": t["numpy"] / t["kernels"],
        "correct": check(c_k, a, b),
    }


def network_totals(rows: List[dict]) -> List[str]:
    """One line per dtype: total time of all ResNet-50 layers (each layer times its count)."""
    lines = []
    for dt in sorted({r["dtype"] for r in rows}):
        layers = [r for r in rows if r["dtype"] == dt and r["case"].startswith("resnet50")]
        if not layers:
            continue
        tk = sum(r["count"] * r["kernels_s"] for r in layers)
        tn = sum(r["count"] * r["numpy_s"] for r in layers)
        n = sum(r["count"] for r in layers)
        lines.append(
            f"resnet50 {dt}: {len(layers)} layer shapes, {n} layers: kernels {tk * 1e3:.1f} ms, "
            f"numpy {tn * 1e3:.1f} ms, ratio {tn / tk:.2f}"
        )
    return lines


def format_table(rows: List[dict]) -> str:
    head = f"{'case':<28} {'dtype':<8} {'M':>5} {'N':>6} {'K':>5} {'kernels GF/s':>13} {'numpy GF/s':>11} {'ratio':>6}  ok"
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r['case']:<28} {r['dtype']:<8} {r['m']:>5} {r['n']:>6} {r['k']:>5} {r['kernels_gflops']:>13.1f} "
            f"{r['numpy_gflops']:>11.1f} {r['ratio']:>6.2f}  {'yes' if r['correct'] else 'NO'}"
        )
    return "\n".join(lines + network_totals(rows))
