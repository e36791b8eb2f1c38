"""`python -m kernels bench gemm|conv2d --backend numba`: the numba backend against NumPy (gemm)
and the cpu backend (both), interleaved in one run (kernels/bench/timing.py), results checked."""
from __future__ import annotations

import argparse
import json
import sys
from typing import Callable, Dict, List

import numpy as np

from .gemm import check, numpy_threads
from .layers import NETS, largest, load
from .timing import interleaved_medians

SIZES = (256, 512, 1024, 2048)


def _backends() -> List[str]:
    import kernels

    return ["numba"] + (["cpu"] if kernels.get_backend("cpu").available else [])


def _gemm_rows(args: argparse.Namespace, nt: int, rounds: int) -> List[dict]:
    import kernels

    rows = []
    for dt in args.dtype or ["float32", "float64"]:
        for n in SIZES[1:3] if args.quick else SIZES:
            rng = np.random.default_rng(0)
            a, b = (rng.standard_normal((n, n)).astype(dt) for _ in range(2))
            outs = {name: np.empty((n, n), dt) for name in _backends() + ["numpy"]}
            fns: Dict[str, Callable[[], object]] = {
                name: (lambda name=name: kernels.gemm(a, b, out=outs[name], backend=name)) for name in _backends()}
            fns["numpy"] = lambda: np.matmul(a, b, out=outs["numpy"])
            t = interleaved_medians(fns, rounds=rounds, settle_s=0.2 if nt > 1 else 0.0)
            gf = {k: 2.0 * n**3 / s / 1e9 for k, s in t.items()}
            rows.append({"op": "gemm", "dtype": dt, "n": n, "threads": nt, "seconds": t, "gflops": gf,
                         "numba_vs_numpy": t["numpy"] / t["numba"], "ok": all(check(o, a, b) for o in outs.values())})
            print(f"gemm {dt} n={n:>5} {nt} thr: " + "  ".join(f"{k} {v:7.1f}" for k, v in gf.items())
                  + f"  GFLOP/s; numba/numpy {rows[-1]['numba_vs_numpy']:.2f}  {'ok' if rows[-1]['ok'] else 'WRONG'}", flush=True)
    return rows


def _conv_rows(args: argparse.Namespace, nt: int, rounds: int) -> List[dict]:
    import kernels

    from .conv2d import reference, within

    rows = []
    for net in list(NETS) if args.net == "all" else [args.net]:
        layers = largest(load(net), 4) if args.quick else load(net)
        for layer in layers:
            rng = np.random.default_rng(0)
            x = rng.standard_normal(layer.x_shape(args.batch, args.layout), dtype=np.float32)
            w = rng.standard_normal(layer.w_shape, dtype=np.float32)
            kw = dict(layer.conv_kwargs, layout=args.layout)
            outs = {name: np.empty(layer.y_shape(args.batch, args.layout), np.float32) for name in _backends()}
            fns = {name: (lambda name=name: kernels.conv2d(x, w, **kw, out=outs[name], backend=name)) for name in outs}
            t = interleaved_medians(fns, rounds=rounds, settle_s=0.2 if nt > 1 else 0.0)
            ref, bound = reference(layer, x, w, args.layout)
            row = {"op": "conv2d", "net": net, "layer": layer.name, "count": layer.count, "threads": nt, "seconds": t,
                   "ok": all(within(o, ref, bound) for o in outs.values())}
            rows.append(row)
            print(f"conv2d {net} {layer.name:<24} x{layer.count} {nt} thr: " + "  ".join(f"{k} {s * 1e3:8.2f}" for k, s in t.items())
                  + f" ms  {'ok' if row['ok'] else 'WRONG'}", flush=True)
        mine = [r for r in rows if r["net"] == net]
        tot = {k: sum(r["count"] * r["seconds"][k] for r in mine) for k in mine[0]["seconds"]}
        line = f"{net} total ({sum(r['count'] for r in mine)} layers, {nt} thr): " + ", ".join(f"{k} {s * 1e3:.1f} ms" for k, s in tot.items())
        print(line + (f"; numba/cpu time {tot['numba'] / tot['cpu']:.2f}" if "cpu" in tot else ""), flush=True)
    return rows


def run(args: argparse.Namespace) -> int:
    import kernels

    from .._threads import cores

    rounds = args.rounds or (3 if args.quick else 5)
    rows = []
    for nt in args.threads or sorted({1, cores()}):
        with kernels.num_threads(nt), numpy_threads(nt):
            rows += _gemm_rows(args, nt, rounds) if args.what == "gemm" else _conv_rows(args, nt, rounds)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"results": rows, "first_call_s": kernels.get_backend("numba").describe().get("first_call_s")}, f, indent=2)
    if not all(r["ok"] for r in rows):
        print("some results failed the correctness check", file=sys.stderr)
        return 1
    return 0
