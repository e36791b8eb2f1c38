"""`python -m kernels bench conv2d`: kernels.conv2d against an im2col + NumPy baseline and PyTorch
on the conv layers of ResNet-50, VGG-16, AlexNet and MobileNetV2, interleaved in one run.

Per layer and thread count every implementation writes the same convolution (random normal data,
no bias or activation): kernels.conv2d with each algorithm asked for (into a preallocated out=),
im2col lowered with NumPy and multiplied by NumPy's BLAS, and torch.nn.functional.conv2d in NCHW
and in channels_last memory format. Every result is checked against a float64 reference.
"""
from __future__ import annotations

import argparse
import contextlib
import gc
import json
import sys
from typing import Callable, Dict, Iterator, List, Optional

import numpy as np

from .gemm import numpy_threads
from .layers import NETS, ConvLayer, largest, load
from .meta import run_meta
from .timing import interleaved_medians

QUICK_LAYERS = 8  # distinct layers in a --quick run, split over the networks asked for
TORCH = ("torch", "torch_cl")  # NCHW-contiguous and channels_last memory format


class NumpyIm2col:
    """The textbook baseline: per image, copy the zero-padded input into a buffer, lower it with
    sliding_window_view into the column matrix of each group ((C/g)*R*S, Ho*Wo) for NCHW, its
    transpose for NHWC, then one np.matmul with the (K/g, (C/g)*R*S) weights per group into `out`.
    The padded input and the columns are allocated once and reused, as a framework keeps its
    workspace: the timed call is the lowering copies plus the GEMM."""

    def __init__(self, layer: ConvLayer, x: np.ndarray, w: np.ndarray, layout: str, out: np.ndarray):
        g, p, d, st = layer.groups, layer.padding, layer.dilation, layer.stride
        cg, kg, ho, wo = layer.c // g, layer.k // g, layer.out_h, layer.out_w
        span = (d * (layer.r - 1) + 1, d * (layer.s - 1) + 1)  # dilated window
        self.x, self.p, self.layout = x, p, layout
        win = np.lib.stride_tricks.sliding_window_view
        if layout == "NCHW":
            self.xp = np.zeros((layer.c, layer.h + 2 * p, layer.w + 2 * p), x.dtype)
            v = win(self.xp, span, axis=(1, 2))[:, ::st, ::st, ::d, ::d][:, :ho, :wo]  # (C, Ho, Wo, R, S)
            self.src = v.reshape(g, cg, ho, wo, layer.r, layer.s).transpose(0, 1, 4, 5, 2, 3)
            self.cols = np.empty((g, cg * layer.r * layer.s, ho * wo), x.dtype)
            self.a, self.b = w.reshape(g, kg, cg * layer.r * layer.s), self.cols  # W @ cols
            self.y = [out[n].reshape(g, kg, ho * wo) for n in range(out.shape[0])]
        else:
            self.xp = np.zeros((layer.h + 2 * p, layer.w + 2 * p, layer.c), x.dtype)
            v = win(self.xp, span, axis=(0, 1))[::st, ::st, :, ::d, ::d][:ho, :wo]  # (Ho, Wo, C, R, S)
            self.src = v.reshape(ho, wo, g, cg, layer.r, layer.s).transpose(2, 0, 1, 4, 5, 3)
            self.cols = np.empty((g, ho * wo, layer.r * layer.s * cg), x.dtype)
            # Weights reordered to (R, S, C/g) rows once, outside the timed call.
            wt = w.reshape(g, kg, cg, layer.r, layer.s).transpose(0, 3, 4, 2, 1).reshape(g, -1, kg)
            self.a, self.b = self.cols, np.ascontiguousarray(wt)  # cols @ W^T
            self.y = [out[n].reshape(ho * wo, g, kg).transpose(1, 0, 2) for n in range(out.shape[0])]
        self.src_shape = self.cols.shape[:1] + self.src.shape[1:]
        # Splitting C into (g, C/g) keeps a view; a silent copy would freeze the lowering source.
        assert np.shares_memory(self.src, self.xp) and all(np.shares_memory(y, out) for y in self.y)

    def __call__(self) -> None:
        p, cols = self.p, self.cols.reshape(self.src_shape)
        for n, y in enumerate(self.y):
            if self.layout == "NCHW":
                self.xp[:, p : self.xp.shape[1] - p, p : self.xp.shape[2] - p] = self.x[n]
            else:
                self.xp[p : self.xp.shape[0] - p, p : self.xp.shape[1] - p] = self.x[n]
            np.copyto(cols, self.src)
            np.matmul(self.a, self.b, out=y)


def numpy_conv(layer: ConvLayer, x: np.ndarray, w: np.ndarray, layout: str) -> np.ndarray:
    """One convolution by the NumPy baseline (in the dtype of x: the float64 reference)."""
    out = np.empty(layer.y_shape(x.shape[0], layout), x.dtype)
    NumpyIm2col(layer, x, w, layout, out)()
    return out


def reference(layer: ConvLayer, x: np.ndarray, w: np.ndarray, layout: str):
    """(float64 result, elementwise error bound). The bound is the GEMM one, 4 * k * eps * (|x| conv
    |w|) with k = C/g*R*S, since every output element is one dot product of length k."""
    x64, w64 = x.astype(np.float64), w.astype(np.float64)
    ref = numpy_conv(layer, x64, w64, layout)
    np.abs(x64, out=x64)
    np.abs(w64, out=w64)
    bound = numpy_conv(layer, x64, w64, layout)
    bound *= 4 * layer.reduction * np.finfo(x.dtype).eps
    bound += np.finfo(x.dtype).tiny
    return ref, bound


def within(y: np.ndarray, ref: np.ndarray, bound: np.ndarray) -> bool:
    return bool(np.all(np.abs(y - ref) <= bound))  # NaN compares False: fails


def _torch():
    try:
        import torch
        import torch.nn.functional as F  # noqa: N812
    except ImportError:
        return None, None
    return torch, F


@contextlib.contextmanager
def torch_threads(torch, n: int) -> Iterator[None]:
    """torch.set_num_threads(n) and inference mode for the block; the old count restored after."""
    if torch is None:
        yield
        return
    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        with torch.inference_mode():
            yield
    finally:
        torch.set_num_threads(old)


def run_layer(layer: ConvLayer, args: argparse.Namespace, dtype: np.dtype, nt: int, rounds: int, torch, F) -> dict:
    """Time every implementation on one layer (interleaved) and check every result; all arrays of
    the layer are local, so they are freed before the next (VGG-16's first layers are large)."""
    import kernels

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
            kernels.conv2d(x, w, **kw, layout=layout, algorithm=alg, out=out)
        except ValueError:
            if alg == "auto":
                raise
            skipped.append(alg)
            continue
        outs[alg] = out
        fns[alg] = lambda alg=alg, out=out: kernels.conv2d(x, w, **kw, layout=layout, algorithm=alg, out=out)
    outs["numpy"] = np.empty(layer.y_shape(n, layout), dtype)
    fns["numpy"] = NumpyIm2col(layer, x, w, layout, outs["numpy"])
    if torch is not None:
        # Converted once, outside the timed region; torch has no out=, so it allocates its result.
        xt = torch.from_numpy(x if layout == "NCHW" else x.transpose(0, 3, 1, 2))
        wt = torch.from_numpy(w)
        xs = {"torch": xt.contiguous(), "torch_cl": xt.contiguous(memory_format=torch.channels_last)}
        ws = {"torch": wt.contiguous(), "torch_cl": wt.contiguous(memory_format=torch.channels_last)}
        for name in TORCH:
            fns[name] = lambda xi=xs[name], wi=ws[name]: F.conv2d(xi, wi, None, **kw)
    with kernels.num_threads(nt), numpy_threads(nt), torch_threads(torch, nt):
        t = interleaved_medians(fns, rounds=rounds, settle_s=0.2 if nt > 1 else 0.0)
        if torch is not None:
            for name in TORCH:
                y = fns[name]().numpy()  # logical NCHW whatever the memory format
                outs[name] = y if layout == "NCHW" else y.transpose(0, 2, 3, 1)
    if torch is not None:
        t["torch_best"] = min(t["torch"], t["torch_cl"])  # per layer: the faster memory format
    del fns
    gc.collect()
    ref, bound = reference(layer, x, w, layout)
    correct = {name: within(y, ref, bound) for name, y in outs.items()}
    ws_bytes = kernels.conv2d_workspace(x.shape, w.shape, **kw, layout=layout, dtype=dtype, threads=nt)
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

def run(args: argparse.Namespace) -> int:
    import kernels

    from .._threads import cores

    nets = list(NETS) if args.net == "all" else [args.net]
    rounds = args.rounds or (3 if args.quick else 5)
    threads = args.threads or sorted({1, cores()})  # one thread and every core
    dtypes = args.dtype or ["float32"]
    algorithms = list(dict.fromkeys(["auto"] + list(args.algorithms)))  # auto always: the ratios use it
    args.algorithms = algorithms
    torch, F = (None, None) if args.no_torch else _torch()
    with_torch = torch is not None
    todo = {net: load(net) for net in nets}
    if args.quick:  # the layers that carry most of each network's flops
        todo = {net: largest(v, max(2, QUICK_LAYERS // len(nets))) for net, v in todo.items()}
    cols = _columns(algorithms, with_torch)
    engine = kernels.info()["cpu_engine"]
    print(
        f"conv2d benchmark: {', '.join(nets)}, batch {args.batch}, {args.layout}, {rounds} rounds; "
        f"GFLOP/s per implementation (torch = NCHW, torch_cl = channels_last{'' if with_torch else ': torch not used'}); "
        f"a/torch = time(auto) / time(torch best), a/numpy = time(auto) / time(numpy im2col): < 1 means kernels is faster; "
        f"ws = conv2d_workspace in MiB"
    )
    results, all_totals = [], []
    for nt in threads:
        with numpy_threads(nt) as blas:
            blas_name = blas or "threads not limited: pip install threadpoolctl"
        for dt in dtypes:
            print(
                f"\n== conv2d, {nt} thread(s), {dt}: kernels ({engine[dt]['isa'] if engine else 'n/a'}) vs NumPy im2col ({blas_name})"
                + (f" vs torch {torch.__version__}" if with_torch else ""),
                flush=True,
            )
            print(format_header(cols, with_torch))
            rows = []
            for net, layers in todo.items():
                for layer in layers:
                    row = run_layer(layer, args, np.dtype(dt), nt, rounds, torch, F)
                    rows.append(row)
                    print(format_row(row, cols, with_torch), flush=True)
            totals = network_totals(rows, cols, with_torch)
            for d in totals:
                d.update(threads=nt, dtype=dt)
            print("\n".join(format_totals(totals)), flush=True)
            results += rows
            all_totals += totals
    if args.json:
        meta = run_meta(
            engine,
            rounds,
            torch=torch.__version__ if with_torch else None,
            nets=nets,
            batch=args.batch,
            layout=args.layout,
            quick=args.quick,
        )
        with open(args.json, "w") as f:
            json.dump({"meta": meta, "results": results, "totals": all_totals}, f, indent=2)
    bad = [r for r in results if not r["ok"]]
    if bad:
        print(f"\n{len(bad)} layer(s) failed the correctness check", file=sys.stderr)
        return 1
    return 0
