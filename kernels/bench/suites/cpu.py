"""`python -m kernels bench conv2d`: kernels.conv2d against an im2col + NumPy baseline and PyTorch
on the conv layers of ResNet-50, VGG-16, AlexNet and MobileNetV2, interleaved in one run.

Per layer and thread count every implementation writes the same convolution (random normal data,
no bias or activation): kernels.conv2d with each algorithm asked for (into a preallocated out=),
im2col lowered with NumPy and multiplied by NumPy's BLAS, and torch.nn.functional.conv2d in NCHW
and in channels_last memory format. Every result is checked against a float64 reference.
"""
from __future__ import annotations

import argparse
import gc
from typing import Callable, Dict, List, Optional

import numpy as np

from . import progress, record, torchref
from .gemm import numpy_threads
from .layers import NETS, ConvLayer, largest, load
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


NAMES = {"numpy": "numpy im2col", "torch": "torch", "torch_cl": "torch channels_last"}  # row key -> record impl


def add_references(fns: Dict[str, Callable[[], object]], outs: Dict[str, np.ndarray], layer: ConvLayer, x: np.ndarray,
                   w: np.ndarray, layout: str, torch, F) -> Callable[[], None]:
    """Add the reference libraries of a conv layer to `fns` (NumPy im2col into outs["numpy"]; torch in
    NCHW and channels_last when given). Returns what to call after the timing, under the same
    thread settings, to put torch's results into `outs` (torch has no out=, it allocates its result)."""
    outs["numpy"] = np.empty(layer.y_shape(x.shape[0], layout), x.dtype)
    fns["numpy"] = NumpyIm2col(layer, x, w, layout, outs["numpy"])
    if torch is None:
        return lambda: None
    kw = layer.conv_kwargs
    # Converted once, outside the timed region.
    xt = torch.from_numpy(x if layout == "NCHW" else x.transpose(0, 3, 1, 2))
    wt = torch.from_numpy(w)
    xs = {"torch": xt.contiguous(), "torch_cl": xt.contiguous(memory_format=torch.channels_last)}
    ws = {"torch": wt.contiguous(), "torch_cl": wt.contiguous(memory_format=torch.channels_last)}
    for name in TORCH:
        fns[name] = lambda xi=xs[name], wi=ws[name]: F.conv2d(xi, wi, None, **kw)

    def fetch() -> None:
        for name in TORCH:
            y = fns[name]().numpy()  # logical NCHW whatever the memory format
            outs[name] = y if layout == "NCHW" else y.transpose(0, 2, 3, 1)

    return fetch


def records(suite: str, layer: ConvLayer, dtype: str, layout: str, batch: int, threads: int, seconds: Dict[str, float],
            correct: Dict[str, bool], names: Dict[str, str], spread: Optional[Dict[str, float]] = None) -> List[dict]:
    """The unified records of one conv layer; `names` maps the suite's row keys to impl names (unmapped keys are left out)."""
    itemsize = np.dtype(dtype).itemsize if dtype != "bfloat16" else 2
    elems = (np.prod(layer.x_shape(batch, layout)) + np.prod(layer.w_shape) + np.prod(layer.y_shape(batch, layout)))
    shape = {f: getattr(layer, f) for f in ("c", "k", "h", "w", "r", "s", "stride", "padding", "dilation", "groups")}
    t = {names[k]: s for k, s in seconds.items() if k in names}
    ok = {names[k]: v for k, v in correct.items() if k in names}
    sp = {names[k]: v for k, v in (spread or {}).items() if k in names}
    return record.expand(suite, "conv2d", layer.name, t, ok, batch * layer.flops, sp, dtype=dtype, threads=threads,
                         nbytes=float(itemsize * elems), shape=shape, net=layer.net, layout=layout, batch=batch,
                         count=layer.count)


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
            kernels.conv2d(x, w, **kw, layout=layout, algorithm=alg, out=out, backend="cpu")
        except ValueError:
            if alg == "auto":
                raise
            skipped.append(alg)
            continue
        outs[alg] = out
        fns[alg] = lambda alg=alg, out=out: kernels.conv2d(x, w, **kw, layout=layout, algorithm=alg, out=out, backend="cpu")
    fetch = add_references(fns, outs, layer, x, w, layout, torch, F)
    with kernels.num_threads(nt), numpy_threads(nt), torchref.threads(torch, nt):
        t = interleaved_medians(fns, rounds=rounds, settle_s=0.2 if nt > 1 else 0.0)
        fetch()
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

def nets_of(args: argparse.Namespace) -> List[str]:
    return list(NETS) if args.net == "all" else [args.net]


def layers_of(args: argparse.Namespace, per_net_quick: Optional[int] = None) -> Dict[str, List[ConvLayer]]:
    """The layers a run times, per network: all of them, or with --quick the ones that carry most
    of each network's flops (QUICK_LAYERS split over the networks unless `per_net_quick` says)."""
    nets = nets_of(args)
    todo = {net: load(net) for net in nets}
    if args.quick:
        n = per_net_quick or max(2, QUICK_LAYERS // len(nets))
        todo = {net: largest(v, n) for net, v in todo.items()}
    return todo


def planned(args: argparse.Namespace, threads: List[int]) -> int:
    return sum(len(v) for v in layers_of(args).values()) * len(args.dtype or ["float32"]) * len(threads)


def collect(args: argparse.Namespace, threads: List[int], rounds: int):
    """(records, rows, totals) of the cpu suite's conv2d; prints a table and the network totals per thread count and dtype."""
    import kernels

    dtypes = args.dtype or ["float32"]
    algorithms = list(dict.fromkeys(["auto"] + list(args.algorithms)))  # auto always: the ratios use it
    args = argparse.Namespace(**{**vars(args), "algorithms": algorithms})
    torch, F = torchref.load(not args.no_torch)
    with_torch = torch is not None
    todo = layers_of(args)
    cols = _columns(algorithms, with_torch)
    names = {**{a: f"cpu {a}" for a in algorithms}, **NAMES}
    engine = kernels.info()["cpu_engine"]
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
                    recs += records("cpu", layer, dt, args.layout, args.batch, nt, row["seconds"], row["correct"], names,
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
