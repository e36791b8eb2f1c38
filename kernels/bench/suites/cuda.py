"""`python -m hpc_kernels bench gemm|conv2d --backend cuda`: our CUDA kernels against cuBLAS (cupy.matmul) and PyTorch/cuDNN on the same GPU, timed with CUDA events.

GEMM: square sizes, TFLOP/s of hpc_kernels.gemm (fp32 exact and tf32, fp64, fp16, bf16) next to
cupy.matmul (cuBLAS) and torch.matmul (when torch with CUDA is installed) on the same device arrays. conv2d: every layer of a network (ResNet-50 by default)
at the given batch, layout and dtype (float16 NHWC is the case of the issue's target), our
algorithms next to torch.nn.functional.conv2d (cuDNN) when torch with CUDA is installed, and the
whole-network totals. Each result is checked against a float64 reference before it is timed.
"""
from __future__ import annotations

import argparse
import statistics
from typing import Callable, Dict, List, Tuple

import numpy as np

from .. import progress
from ..cases import square_sizes



def event_medians(fns: Dict[str, Callable[[], object]], rounds: int, sample_ms: float = 25.0) -> Dict[str, float]:
    """Median seconds per call of each fn, timed with CUDA events on the current stream, the
    competitors interleaved round by round (clock and thermal drifts hit all alike); each
    sample repeats a call enough times to last about sample_ms."""
    import cupy as cp

    start, end = cp.cuda.Event(), cp.cuda.Event()

    def timed(fn, reps: int) -> float:
        start.record()
        for _ in range(reps):
            fn()
        end.record()
        end.synchronize()
        return cp.cuda.get_elapsed_time(start, end) / 1e3 / reps

    reps = {}
    for name, fn in fns.items():
        fn()  # compile, allocate, warm the caches
        reps[name] = max(1, int(sample_ms / 1e3 / max(timed(fn, 1), 1e-6)))
    samples: Dict[str, List[float]] = {n: [] for n in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            samples[name].append(timed(fn, reps[name]))
    return {n: statistics.median(s) for n, s in samples.items()}


def _torch():
    try:
        import torch
    except ImportError:
        return None
    return torch if torch.cuda.is_available() else None


GEMM_KINDS = [("float32", None), ("float32", "tf32"), ("float64", None), ("float16", None), ("bfloat16", None)]


def _cupy_dtype(name: str):
    import cupy as cp

    try:
        return np.dtype(name)
    except TypeError:
        return getattr(cp, name, None)


def gemm_rows(sizes, kinds, rounds: int, use_torch: bool = True) -> List[dict]:
    import cupy as cp

    import hpc_kernels

    torch = _torch() if use_torch else None
    rows = []
    for dt, precision in kinds:
        ndt = _cupy_dtype(dt)
        if ndt is None:
            progress.emit(f"{dt}: no NumPy/CuPy dtype here (bfloat16 needs ml_dtypes); left out")
            continue
        for n in sizes:
            rng = cp.random.default_rng(0)
            a = rng.standard_normal((n, n), dtype=cp.float32).astype(ndt)
            b = rng.standard_normal((n, n), dtype=cp.float32).astype(ndt)
            c_k, c_b = cp.empty((n, n), ndt), cp.empty((n, n), ndt)
            fns = {"kernels": lambda: hpc_kernels.gemm(a, b, out=c_k, precision=precision),
                   "cublas": lambda: cp.matmul(a, b, out=c_b)}
            outs = {"kernels": c_k, "cublas": c_b}
            if torch is not None:  # torch.matmul on the same device memory (its default: no tf32)
                outs["torch"] = cp.empty((n, n), ndt)
                ta, tb, tc = (torch.from_dlpack(x) for x in (a, b, outs["torch"]))
                fns["torch"] = lambda: torch.matmul(ta, tb, out=tc)
            t = event_medians(fns, rounds)
            flops = 2.0 * n ** 3
            ok = _check(c_k, a, b, dt, precision)
            row = {"dtype": dt, "precision": precision or "exact", "n": n, "seconds": t,
                   "tflops": {k: flops / s / 1e12 for k, s in t.items()}, "vs_cublas": t["cublas"] / t["kernels"], "ok": ok,
                   "correct": {k: ok if k == "kernels" else _check(c, a, b, dt, None) for k, c in outs.items()}}
            rows.append(row)
            progress.emit(f"{dt:<9} {row['precision']:<6} n={n:<5} kernels {row['tflops']['kernels']:7.1f} TFLOP/s  cublas "
                          f"{row['tflops']['cublas']:7.1f}  kernels/cublas {row['vs_cublas']:5.2f}x  {'ok' if ok else 'WRONG'}")
            progress.tick(f"cuda gemm {dt} {n}")
    return rows


def _check(c, a, b, dt: str, precision) -> bool:
    """A 256-row sample against float64: the precision's bound of tests/backends/cuda/test_cuda_gpu.py."""
    import cupy as cp

    k = a.shape[1]
    rows = slice(0, min(256, a.shape[0]))
    a64, b64 = a[rows].astype(cp.float64), b.astype(cp.float64)
    ref = a64 @ b64
    mag = cp.abs(a64) @ cp.abs(b64)
    eps = 2.0 ** -52 if dt == "float64" else 2.0 ** -23
    extra = {"float16": 2 * 2.0 ** -11, "bfloat16": 2 * 2.0 ** -8}.get(dt, 4 * 2.0 ** -11 if precision == "tf32" else 0.0)
    bound = ((2 * k + 4) * eps + extra) * mag
    return bool(cp.all(cp.abs(c[rows].astype(cp.float64) - ref) <= bound))


def conv_rows(net: str, batch: int, layout: str, dt: str, algorithms, quick: bool, rounds: int, use_torch: bool) -> List[dict]:
    import cupy as cp

    import hpc_kernels

    from ..layers import largest, load

    torch = _torch() if use_torch else None
    layers = largest(load(net), 8) if quick else load(net)
    ndt = _cupy_dtype(dt)
    rows = []
    for layer in layers:
        rng = cp.random.default_rng(0)
        x = rng.standard_normal(layer.x_shape(batch, layout), dtype=cp.float32).astype(ndt)
        w = rng.standard_normal(layer.w_shape, dtype=cp.float32).astype(ndt)
        opts = dict(layer.conv_kwargs, layout=layout)
        outs = {a: cp.empty(layer.y_shape(batch, layout), ndt) for a in algorithms}
        fns = {a: (lambda a=a: hpc_kernels.conv2d(x, w, algorithm=a, out=outs[a], **opts)) for a in algorithms}
        if torch is not None:
            xt = torch.from_dlpack(x if layout == "NCHW" else x.transpose(0, 3, 1, 2))  # logical NCHW view
            wt = torch.from_dlpack(w)
            if layout == "NHWC":
                wt = wt.contiguous(memory_format=torch.channels_last)
            fns["cudnn"] = lambda: torch.nn.functional.conv2d(xt, wt, None, **layer.conv_kwargs)
        with torch.inference_mode() if torch is not None else _null():
            t = event_medians(fns, rounds)
            if torch is not None:  # cuDNN's result is checked too (a logical NCHW tensor on the GPU)
                y = cp.from_dlpack(fns["cudnn"]())
                outs["cudnn"] = y if layout == "NCHW" else y.transpose(0, 2, 3, 1)
        ok = _conv_ok(layer, x, w, outs, layout, dt)
        flops = batch * layer.flops
        row = {"layer": layer.name, "count": layer.count, "seconds": t, "tflops": {k: flops / s / 1e12 for k, s in t.items()}, "ok": ok}
        rows.append(row)
        cols = "  ".join(f"{k} {v:6.1f}" for k, v in row["tflops"].items())
        progress.emit(f"{layer.name:<24} x{layer.count:<2} TFLOP/s {cols}  {'ok' if all(ok.values()) else 'WRONG: ' + str(ok)}")
        progress.tick(f"cuda conv2d {layer.name}")
    return rows


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


def _conv_ok(layer, x, w, outs, layout: str, dt: str) -> Dict[str, bool]:
    """Each algorithm's output on the first image against a float64 NumPy reference, with the
    GEMM bound (fp32 accumulation) plus one rounding into the storage type."""
    import cupy as cp

    from ..references import reference

    x1 = cp.asnumpy(x[:1].astype(cp.float32)).astype(np.float32)
    w1 = cp.asnumpy(w.astype(cp.float32))
    ref, bnd = reference(layer, x1, w1, layout)
    unit = {"float16": 2.0 ** -11, "bfloat16": 2.0 ** -8}.get(dt, 0.0)
    out = {}
    for a, y in outs.items():
        got = cp.asnumpy(y[:1].astype(cp.float64))
        out[a] = bool(np.all(np.abs(got - ref) <= bnd + 2 * unit * np.abs(ref) + 1e-30))
    return out


def totals(rows: List[dict]) -> dict:
    names = list(rows[0]["seconds"]) if rows else []
    tot = {n: sum(r["count"] * r["seconds"][n] for r in rows) for n in names}
    return tot


def planned(args: argparse.Namespace, threads: List[int]) -> int:
    """Cases of the run (one GPU: the thread counts do not multiply them)."""
    if args.what == "gemm":
        kinds = [k for k in GEMM_KINDS if args.dtype is None or k[0] in args.dtype]
        return len(kinds) * len(square_sizes("cuda", args.quick))
    from ..layers import largest, load

    net = args.net if args.net != "all" else "resnet50"
    return len(largest(load(net), 8) if args.quick else load(net))


def collect(args: argparse.Namespace, threads: List[int], rounds: int) -> Tuple[List[dict], dict, None]:
    """(records, {"rows", "totals"}, None) of the cuda suite (threads: the host's, unused); the GPU must
    be there (the driver checks)."""
    from ..cases import GemmCase
    from ..layers import load
    from ..record import conv_records, gemm_records

    recs: List[dict] = []
    if args.what == "gemm":
        kinds = [k for k in GEMM_KINDS if args.dtype is None or k[0] in args.dtype]
        rows = gemm_rows(square_sizes("cuda", args.quick), kinds, rounds, not args.no_torch)
        for r in rows:  # tf32 is its own case: cuBLAS runs exact float32 on it, as a user calling cupy.matmul gets
            n, suffix = r["n"], "" if r["precision"] == "exact" else f" {r['precision']}"
            names = {"kernels": "cuda", "cublas": "cublas", "torch": "torch"}
            recs += gemm_records("cuda", GemmCase(f"square {n}{suffix}", n, n, n), r["dtype"], 1,
                                 {names[k]: s for k, s in r["seconds"].items()}, {names[k]: v for k, v in r["correct"].items()})
        return recs, {"rows": rows}, None
    dt = (args.dtype or ["float16"])[0]
    algorithms = [a for a in args.algorithms if a in ("auto", "im2col", "convgemm")] or ["auto"]
    net = args.net if args.net != "all" else "resnet50"
    progress.emit(f"== conv2d {net}, batch {args.batch}, {args.layout}, {dt}: kernels {algorithms} vs cuDNN (torch), TFLOP/s")
    rows = conv_rows(net, args.batch, args.layout, dt, algorithms, args.quick, rounds, not args.no_torch)
    layers = {layer.name: layer for layer in load(net)}
    names = {**{a: f"cuda {a}" for a in algorithms}, "cudnn": "cudnn"}
    for r in rows:
        recs += conv_records("cuda", layers[r["layer"]], dt, args.layout, args.batch, 1, r["seconds"], r["ok"], names)
    tot = totals(rows)
    line = ", ".join(f"{k} {v * 1e3:.2f} ms" for k, v in tot.items())
    if "cudnn" in tot:
        best = min(tot[a] for a in algorithms)
        line += f"; kernels best / cuDNN {best / tot['cudnn']:.2f}x (target <= 1.25)"
    progress.emit(f"total over {sum(r['count'] for r in rows)} layers: {line}")
    return recs, {"rows": rows, "totals": tot}, None
