"""The cpu suite of `python -m hpc_kernels bench gemm|conv2d`: kernels' cpu backend against NumPy's BLAS,
an im2col + NumPy convolution and PyTorch, interleaved in one run.

gemm: the square and ResNet-50 im2col cases of kernels/bench/cases.py. conv2d: the conv layers of
ResNet-50, VGG-16, AlexNet and MobileNetV2; per layer and thread count every implementation
writes the same convolution (random normal data, no bias or activation): hpc_kernels.conv2d with each
algorithm asked for (into a preallocated out=), im2col lowered with NumPy and multiplied by
NumPy's BLAS, and torch.nn.functional.conv2d in NCHW and in channels_last memory format. Every
result is checked against a float64 reference (kernels/bench/references.py).
"""
from __future__ import annotations

import argparse
import gc
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np

from .. import cases, progress, record, torchref
from ..cases import GemmCase
from ..layers import ConvLayer, layers_of, load
from ..references import NAMES, TORCH, add_references, check, numpy_threads, reference, within
from ..timing import interleaved_medians


# ------------------------------------------------------------------------------------------ gemm

def operands(case: GemmCase, dtype) -> Tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return (rng.standard_normal((case.m, case.k)).astype(dtype), rng.standard_normal((case.k, case.n)).astype(dtype))


def run_case(case: GemmCase, dtype: np.dtype, rounds: int, threads: int = 1, torch=None,
             backends: Tuple[str, ...] = ("cpu",)) -> dict:
    """Time the backends (the first one is the suite's), NumPy and torch on one case, interleaved; check every result."""
    import hpc_kernels

    a, b = operands(case, dtype)
    outs = {name: np.empty((case.m, case.n), dtype) for name in backends + ("numpy", "torch")}
    # All write into a preallocated output, so none pays for allocating the result.
    fns = {name: (lambda name=name: hpc_kernels.gemm(a, b, out=outs[name], backend=name)) for name in backends}
    fns["numpy"] = lambda: np.matmul(a, b, out=outs["numpy"])
    if torch is not None:  # tensors sharing the arrays' memory: the check reads outs["torch"]
        ta, tb, tc = (torch.from_numpy(x) for x in (a, b, outs["torch"]))
        fns["torch"] = lambda: torch.matmul(ta, tb, out=tc)
    with hpc_kernels.num_threads(threads), numpy_threads(threads), torchref.threads(torch, threads):
        t = interleaved_medians(fns, rounds=rounds, settle_s=0.2 if threads > 1 else 0.0)
    return {
        "case": case.name, "dtype": np.dtype(dtype).name, "m": case.m, "n": case.n, "k": case.k, "count": case.count,
        "threads": threads, "seconds": t, "gflops": {name: case.flops / s / 1e9 for name, s in t.items()},
        # fastest reference / the suite's backend: > 1, the backend is faster
        "ratio": min(s for name, s in t.items() if name not in backends) / t[backends[0]],
        "correct": {name: check(outs[name], a, b) for name in t},
        "spread": t.spread,
    }


def gemm_totals(rows: List[dict]) -> List[str]:
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


def format_gemm_table(rows: List[dict]) -> str:
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
    return "\n".join(lines + gemm_totals(rows))


def gemm_cases(args: argparse.Namespace) -> List[GemmCase]:
    out = []
    if args.shapes in ("all", "square"):
        out += cases.square_cases(args.quick)
    if args.shapes in ("all", "resnet50"):
        out += cases.resnet50_cases(args.quick)
    return out


def collect_gemm(args: argparse.Namespace, threads: List[int], rounds: int) -> Tuple[List[dict], List[dict]]:
    """(records, rows) of the cpu suite's gemm; prints one table per thread count."""
    import hpc_kernels

    torch, _ = torchref.load(not args.no_torch)
    engine = hpc_kernels.info()["cpu_engine"]
    recs, rows = [], []
    for nt in threads:
        with numpy_threads(nt) as blas:
            progress.emit(f"\n== gemm, {nt} thread(s): cpu ({engine['float32']['isa'] if engine else 'n/a'}) vs NumPy "
                          f"({blas or 'threads not limited: pip install threadpoolctl'})"
                          + (f" vs torch {torch.__version__}" if torch is not None else "")
                          + "; numpy/cpu = time(numpy) / time(cpu): > 1, cpu faster")
        mine = []
        for dt in args.dtype or ["float32", "float64"]:
            for case in gemm_cases(args):
                row = run_case(case, np.dtype(dt), rounds, nt, torch)
                progress.tick(f"cpu gemm {case.name} {dt} {nt}t")
                mine.append(row)
                recs += record.gemm_records("cpu", case, dt, nt, row["seconds"], row["correct"], row["spread"])
        progress.emit(format_gemm_table(mine))
        rows += mine
    return recs, rows


# ---------------------------------------------------------------------------------------- conv2d

def run_layer(layer: ConvLayer, args: argparse.Namespace, dtype: np.dtype, nt: int, rounds: int, torch, F) -> dict:
    """Time every implementation on one layer (interleaved) and check every result; all arrays of
    the layer are local, so they are freed before the next (VGG-16's first layers are large)."""
    import hpc_kernels

    rng = np.random.default_rng(0)
    n, layout = args.batch, args.layout
    x = rng.standard_normal(layer.x_shape(n, layout), dtype=np.float32).astype(dtype, copy=False)
    w = rng.standard_normal(layer.w_shape, dtype=np.float32).astype(dtype, copy=False)
    kw = layer.conv_kwargs
    fns: Dict[str, Callable[[], object]] = {}
    outs: Dict[str, np.ndarray] = {}
    skipped = []
    for alg in args.algorithms:
        out = np.empty(layer.y_shape(n, layout), dtype)
        try:  # the first call also tells whether the algorithm takes this layer at all
            hpc_kernels.conv2d(x, w, **kw, layout=layout, algorithm=alg, out=out, backend="cpu")
        except ValueError:
            if alg == "auto":
                raise
            skipped.append(alg)
            continue
        outs[alg] = out
        fns[alg] = lambda alg=alg, out=out: hpc_kernels.conv2d(x, w, **kw, layout=layout, algorithm=alg, out=out, backend="cpu")
    fetch = add_references(fns, outs, layer, x, w, layout, torch, F)
    with hpc_kernels.num_threads(nt), numpy_threads(nt), torchref.threads(torch, nt):
        t = interleaved_medians(fns, rounds=rounds, settle_s=0.2 if nt > 1 else 0.0)
        fetch()
    if torch is not None:
        t["torch_best"] = min(t["torch"], t["torch_cl"])  # per layer: the faster memory format
    del fns
    gc.collect()
    ref, bound = reference(layer, x, w, layout)
    correct = {name: within(y, ref, bound) for name, y in outs.items()}
    ws_bytes = hpc_kernels.conv2d_workspace(x.shape, w.shape, **kw, layout=layout, dtype=dtype, threads=nt)
    flops = n * layer.flops
    row = {
        "net": layer.net,
        "layer": layer.name,
        "count": layer.count,
        "dtype": np.dtype(dtype).name,
        "layout": layout,
        "batch": n,
        "threads": nt,
        "geometry": {f: getattr(layer, f) for f in ("c", "k", "h", "w", "r", "s", "stride", "padding", "dilation", "groups")},
        "flops": flops,
        "seconds": t,
        "spread": t.spread,
        "gflops": {name: flops / s / 1e9 for name, s in t.items()},
        "skipped": skipped,
        "workspace_bytes": {a: ws_bytes.get(a) for a in ("im2col", "convgemm")},
        "correct": correct,
        "ok": all(correct.values()),
    }
    if torch is not None:
        row["auto_vs_torch"] = t["auto"] / t["torch_best"]
    row["auto_vs_numpy"] = t["auto"] / t["numpy"]
    return row


# ---------------------------------------------------------------------------------------- output

def _columns(algorithms: List[str], with_torch: bool) -> List[str]:
    return list(algorithms) + ["numpy"] + (list(TORCH) if with_torch else [])


def _mib(b: Optional[int]) -> str:
    return "-" if b is None else f"{b / 2**20:.2f}"


def format_header(cols: List[str], with_torch: bool) -> str:
    names = {"torch": "torch", "torch_cl": "torch_cl"}
    head = f"{'layer':<26} {'n':>2} {'MFLOP':>8} " + " ".join(f"{names.get(c, c):>8}" for c in cols)
    head += (f" {'a/torch':>7}" if with_torch else "") + f" {'a/numpy':>7} {'ws i2c':>7} {'ws cg':>7}  ok"
    return head + "\n" + "-" * len(head)


def format_row(r: dict, cols: List[str], with_torch: bool) -> str:
    g = r["gflops"]
    line = f"{r['layer'][:26]:<26} {r['count']:>2} {r['flops'] / 1e6:>8.1f} " + " ".join(
        f"{g[c]:>8.1f}" if c in g else f"{'-':>8}" for c in cols
    )
    if with_torch:
        line += f" {r['auto_vs_torch']:>7.2f}"
    line += f" {r['auto_vs_numpy']:>7.2f} {_mib(r['workspace_bytes']['im2col']):>7} {_mib(r['workspace_bytes']['convgemm']):>7}"
    bad = [name for name, ok in r["correct"].items() if not ok]
    return line + ("  yes" if not bad else "  NO: " + ",".join(bad))


def _is_depthwise(geometry: dict) -> bool:
    return geometry["groups"] == geometry["c"] == geometry["k"]


def _totals(name: str, mine: List[dict], full: list, cols: List[str], with_torch: bool) -> dict:
    tot = {c: sum(r["count"] * r["seconds"][c] for r in mine) for c in cols if all(c in r["seconds"] for r in mine)}
    flops = sum(r["count"] * r["flops"] for r in mine)
    d = {"net": name, "layers": sum(r["count"] for r in mine), "distinct": len(mine), "of_distinct": len(full),
         "flops": flops, "flop_share": flops / (mine[0]["batch"] * sum(x.count * x.flops for x in full)), "seconds": tot}
    if with_torch:
        d["torch_best"] = min(tot["torch"], tot["torch_cl"])
        d["auto_vs_torch"] = tot["auto"] / d["torch_best"]
    d["auto_vs_numpy"] = tot["auto"] / tot["numpy"]
    if "im2col" in tot and "convgemm" in tot:
        d["convgemm_vs_im2col"] = tot["convgemm"] / tot["im2col"]
    return d


def network_totals(rows: List[dict], cols: List[str], with_torch: bool) -> List[dict]:
    """Whole-network time per implementation: sum over the layers of count * time (an algorithm
    skipped on some layer gets no total). torch best is the better of the two whole-network torch
    totals, not the per-layer minimum: a network runs in one memory format. A network with
    depthwise layers also gets their subtotal ("<net> depthwise")."""
    out = []
    for net in dict.fromkeys(r["net"] for r in rows):
        mine = [r for r in rows if r["net"] == net]
        full = load(net)
        out.append(_totals(net, mine, full, cols, with_torch))
        dw = [r for r in mine if _is_depthwise(r["geometry"])]
        if dw:
            full_dw = [x for x in full if x.groups == x.c == x.k]
            out.append(_totals(f"{net} depthwise", dw, full_dw, cols, with_torch))
    return out


def format_totals(totals: List[dict]) -> List[str]:
    lines = []
    for d in totals:
        subset = "" if d["distinct"] == d["of_distinct"] else (
            f", subset: {d['distinct']} of {d['of_distinct']} distinct layers, {d['flop_share']:.0%} of the flops"
        )
        lines.append(f"{d['net']}: {d['layers']} layers, {d['flops'] / 1e9:.2f} GFLOP{subset}; time (ms) and GFLOP/s:")
        lines.append("  " + ", ".join(f"{c} {s * 1e3:.1f} ({d['flops'] / s / 1e9:.0f})" for c, s in d["seconds"].items()))
        ratios = [f"{k.replace('_vs_', '/')} {d[k]:.2f}" for k in ("auto_vs_torch", "auto_vs_numpy", "convgemm_vs_im2col") if k in d]
        lines.append("  time ratios: " + ", ".join(ratios) + (" (torch best = the faster torch memory format)" if "torch_best" in d else ""))
    return lines


# ---------------------------------------------------------------------------------------- driver

def planned(args: argparse.Namespace, threads: List[int]) -> int:
    """Cases the run of args.what will time (the progress bar's total)."""
    if args.what == "gemm":
        return len(gemm_cases(args)) * len(args.dtype or ["float32", "float64"]) * len(threads)
    return sum(len(v) for v in layers_of(args).values()) * len(args.dtype or ["float32"]) * len(threads)


def collect_conv2d(args: argparse.Namespace, threads: List[int], rounds: int):
    """(records, rows, totals) of the cpu suite's conv2d; prints a table and the network totals per thread count and dtype."""
    import hpc_kernels

    dtypes = args.dtype or ["float32"]
    algorithms = list(dict.fromkeys(["auto"] + list(args.algorithms)))  # auto always: the ratios use it
    args = argparse.Namespace(**{**vars(args), "algorithms": algorithms})
    torch, F = torchref.load(not args.no_torch)
    with_torch = torch is not None
    todo = layers_of(args)
    cols = _columns(algorithms, with_torch)
    names = {**{a: f"cpu {a}" for a in algorithms}, **NAMES}
    engine = hpc_kernels.info()["cpu_engine"]
    progress.emit(
        f"conv2d benchmark: {', '.join(todo)}, batch {args.batch}, {args.layout}, {rounds} rounds; "
        f"GFLOP/s per implementation (torch = NCHW, torch_cl = channels_last{'' if with_torch else ': torch not used'}); "
        f"a/torch = time(auto) / time(torch best), a/numpy = time(auto) / time(numpy im2col): < 1 means kernels is faster; "
        f"ws = conv2d_workspace in MiB"
    )
    recs, results, all_totals = [], [], []
    for nt in threads:
        with numpy_threads(nt) as blas:
            blas_name = blas or "threads not limited: pip install threadpoolctl"
        for dt in dtypes:
            progress.emit(
                f"\n== conv2d, {nt} thread(s), {dt}: kernels ({engine[dt]['isa'] if engine else 'n/a'}) vs NumPy im2col ({blas_name})"
                + (f" vs torch {torch.__version__}" if with_torch else "")
            )
            progress.emit(format_header(cols, with_torch))
            rows = []
            for layers in todo.values():
                for layer in layers:
                    row = run_layer(layer, args, np.dtype(dt), nt, rounds, torch, F)
                    rows.append(row)
                    recs += record.conv_records("cpu", layer, dt, args.layout, args.batch, nt, row["seconds"], row["correct"], names,
                                    row["spread"])
                    progress.emit(format_row(row, cols, with_torch))
                    progress.tick(f"cpu conv2d {layer.net} {layer.name} {nt}t")
            totals = network_totals(rows, cols, with_torch)
            for d in totals:
                d.update(threads=nt, dtype=dt)
            progress.emit("\n".join(format_totals(totals)))
            results += rows
            all_totals += totals
    return recs, results, all_totals


def collect(args: argparse.Namespace, threads: List[int], rounds: int) -> Tuple[List[dict], List[dict], Optional[List[dict]]]:
    """(records, rows, totals) of the cpu suite on args.what (gemm: no network totals)."""
    if args.what == "gemm":
        recs, rows = collect_gemm(args, threads, rounds)
        return recs, rows, None
    return collect_conv2d(args, threads, rounds)
