"""The report's figures (matplotlib, Agg: no display needed): GEMM GFLOP/s against size, per-layer
bars of a network, and a roofline with the machine's measured FMA peak and bandwidth.

Every implementation keeps one colour, marker and line style in every figure (ours solid, the
reference libraries dashed and hatched), so a reader matches them across figures and in grey print.
"""
from __future__ import annotations

import zlib
from typing import Any, Dict, List, Mapping, Optional, Sequence

# Colour per implementation: a hue family per backend (cpu blues, numba green, opencl browns, cuda
# yellow-greens), warm colours and greys for the reference libraries; markers by position in KNOWN.
COLORS = {
    "cpu": "#1f77b4", "cpu auto": "#1f77b4", "cpu im2col": "#17becf", "cpu convgemm": "#393b79", "cpu gemm": "#6baed6",
    "cpu direct": "#9467bd", "numba": "#2ca02c", "numba auto": "#2ca02c", "opencl": "#8c564b", "opencl fpga": "#e377c2",
    "opencl im2col": "#8c564b", "opencl convgemm": "#c49c94", "cuda": "#76b900", "cuda auto": "#76b900",
    "cuda im2col": "#4d7c0f", "cuda convgemm": "#bcbd22",
    "numpy": "#ff7f0e", "numpy im2col": "#ff7f0e", "torch": "#d62728", "torch channels_last": "#ff9896",
    "clblast": "#7f7f7f", "cublas": "#000000", "cudnn": "#525252",
}
KNOWN = tuple(COLORS)
EXTRA = ("#e7ba52", "#ad494a", "#a55194", "#6b6ecf", "#5254a3", "#8ca252")
MARKERS = ("o", "o", "s", "^", "v", "D", "P", "P", "X", "*", "X", "*", "h", "h", "<", ">", "d", "d", "p", "8", "H", "v", "^")


def style(impl: str) -> Dict[str, Any]:
    from .record import kind_of

    if impl in COLORS:
        color, marker = COLORS[impl], MARKERS[KNOWN.index(impl) % len(MARKERS)]
    else:  # stable across runs: not Python's salted hash
        h = zlib.crc32(impl.encode())
        color, marker = EXTRA[h % len(EXTRA)], MARKERS[h % len(MARKERS)]
    ref = kind_of(impl) == "reference"
    return {"color": color, "marker": marker, "linestyle": "--" if ref else "-", "hatch": "//" if ref else None}


def order(impl: str, suite: str = "") -> tuple:
    """Legend order: the suite's own implementations, then the other backends, then the references."""
    from .record import kind_of

    rank = 0 if impl.split()[0] == suite else (1 if kind_of(impl) == "backend" else 2)
    return (rank, KNOWN.index(impl) if impl in KNOWN else len(KNOWN), impl)


def _plt():
    import matplotlib

    matplotlib.use("Agg")  # files only, whatever the environment's backend
    import matplotlib.pyplot as plt

    return plt


def _label(impl: str) -> str:
    from .record import kind_of

    return impl if kind_of(impl) == "backend" else f"{impl} (reference)"


def _machine(meta: Mapping[str, Any]) -> str:
    return f"{meta.get('processor') or meta.get('machine', '')}, {meta.get('cores', '?')} cores"


def _peak(meta: Mapping[str, Any], dtype: str, threads: int) -> Optional[float]:
    return ((meta.get("peak") or {}).get("fma_gflops", {}).get(dtype) or {}).get(str(threads))


def gemm_scaling(records: Sequence[Mapping[str, Any]], meta: Mapping[str, Any], suite: str, path: str) -> Optional[str]:
    """GFLOP/s against n of the square GEMMs of one suite: a panel per dtype (rows) and thread count (columns)."""
    recs = [r for r in records if r["suite"] == suite and r["op"] == "gemm" and r["case"].startswith("square ")]
    if not recs:
        return None
    plt = _plt()
    dtypes = sorted({r["dtype"] for r in recs})
    threads = sorted({r["threads"] for r in recs})
    fig, axes = plt.subplots(len(dtypes), len(threads), figsize=(5.2 * len(threads), 3.9 * len(dtypes)), squeeze=False)
    for i, dt in enumerate(dtypes):
        for j, nt in enumerate(threads):
            ax = axes[i][j]
            mine = [r for r in recs if r["dtype"] == dt and r["threads"] == nt]
            # a precision variant (cuda "square 1024 tf32") is its own line
            series: Dict[str, List] = {}
            for r in mine:
                extra = r["case"].split()[2:]
                name = r["impl"] + (f" ({' '.join(extra)})" if extra else "")
                series.setdefault((r["impl"], name), []).append((r["shape"]["n"], r["gflops"]))
            for (impl, name), pts in sorted(series.items(), key=lambda kv: order(kv[0][0], suite) + (kv[0][1],)):
                pts.sort()
                st = style(impl)
                ax.plot([p[0] for p in pts], [p[1] for p in pts], label=_label(name), color=st["color"], marker=st["marker"],
                        linestyle=st["linestyle"], linewidth=1.6, markersize=6)
            peak = _peak(meta, dt, nt) if suite != "cuda" else None
            if peak:
                ax.axhline(peak, color="black", linestyle=":", linewidth=1, label=f"FMA peak, {nt} core(s)")
            ax.set_xscale("log", base=2)
            sizes = sorted({r["shape"]["n"] for r in mine})
            ax.set_xticks(sizes)
            ax.set_xticklabels([str(n) for n in sizes])
            ax.minorticks_off()
            ax.set_xlabel("matrix size n (m = n = k)")
            ax.set_ylabel("GFLOP/s (2n³ / median time)")
            ax.set_title(f"{dt}, {nt} thread(s)" if suite != "cuda" else f"{dt}, GPU")
            ax.set_ylim(bottom=0)
            ax.grid(True, alpha=0.3)
            ax.legend(fontsize=7, loc="best")
    fig.suptitle(f"{suite} suite: square GEMM C = A·B, row-major\n{_machine(meta)}", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def layer_bars(records: Sequence[Mapping[str, Any]], meta: Mapping[str, Any], suite: str, net: str, layout: str,
               path: str) -> Optional[str]:
    """GFLOP/s of every implementation on each conv layer of `net` in one layout measured by one
    suite: a panel per dtype and thread count."""
    recs = [r for r in records if r["suite"] == suite and r["op"] == "conv2d" and r["net"] == net and r["layout"] == layout]
    if not recs:
        return None
    plt = _plt()
    panels = sorted({(r["dtype"], r["threads"]) for r in recs})
    layers = list(dict.fromkeys(r["case"] for r in recs))
    impls = sorted({r["impl"] for r in recs}, key=lambda x: order(x, suite))
    height = max(3.5, 0.22 * len(layers) * len(impls) + 1.5)
    fig, axes = plt.subplots(1, len(panels), figsize=(max(8.5, 6.4 * len(panels)), height), squeeze=False)
    bar = 0.8 / len(impls)
    for ax, (dt, nt) in zip(axes[0], panels):
        by = {(r["case"], r["impl"]): r for r in recs if r["dtype"] == dt and r["threads"] == nt}
        for k, impl in enumerate(impls):
            ys, xs = [], []
            for i, layer in enumerate(layers):
                if (layer, impl) in by:
                    ys.append(i + (k - (len(impls) - 1) / 2) * bar)
                    xs.append(by[(layer, impl)]["gflops"])
            st = style(impl)
            ax.barh(ys, xs, height=bar, color=st["color"], hatch=st["hatch"], edgecolor="white" if not st["hatch"] else "black",
                    linewidth=0.3, label=_label(impl))
        counts = {r["case"]: r["count"] for r in recs}
        ax.set_yticks(range(len(layers)))
        ax.set_yticklabels([f"{name} ×{counts[name]}" for name in layers], fontsize=8)
        ax.invert_yaxis()  # network order, top to bottom
        ax.set_xlabel("GFLOP/s (2·K·C/g·R·S·Ho·Wo·batch / median time)")
        ax.set_title(f"{dt}, {nt} thread(s)" if suite != "cuda" else f"{dt}, GPU", fontsize=10)
        ax.grid(True, axis="x", alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    ncol = min(3 * len(panels), len(labels))
    fig.legend(handles, labels, loc="lower center", ncol=ncol, fontsize=8, frameon=False)
    fig.suptitle(f"{suite} suite: {net} conv layers ({layout}, batch {recs[0]['batch']})\n{_machine(meta)}", fontsize=11)
    fig.tight_layout(rect=(0, (0.35 * ((len(labels) + ncol - 1) // ncol) + 0.1) / height, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def roofline(records: Sequence[Mapping[str, Any]], meta: Mapping[str, Any], path: str) -> Optional[str]:
    """Attained GFLOP/s against arithmetic intensity (flops / minimum bytes moved) of the CPU-side
    results at the largest thread count, under min(FMA peak, intensity × bandwidth); a panel per dtype."""
    peak = meta.get("peak") or {}
    bw = peak.get("bandwidth") or {}
    recs = [r for r in records if r["suite"] != "cuda"]
    if not recs or not bw:
        return None
    nt = max(r["threads"] for r in recs)
    recs = [r for r in recs if r["threads"] == nt]
    dtypes = sorted({r["dtype"] for r in recs})
    plt = _plt()
    fig, axes = plt.subplots(1, len(dtypes), figsize=(9.0 * len(dtypes), 5.6), squeeze=False)
    for ax, dt in zip(axes[0], dtypes):
        mine = [r for r in recs if r["dtype"] == dt]
        ai = [r["flops"] / r["bytes"] for r in mine]
        lo, hi = min(ai) / 2, max(ai) * 2
        for n_ceiling, style_ in ((nt, "-"), (1, ":")) if nt > 1 else ((1, "-"),):
            p = _peak(meta, dt, n_ceiling)
            b = (bw.get(str(n_ceiling)) or {}).get("gbs")
            if not p or not b:
                continue
            xs = [lo * (hi / lo) ** (i / 200) for i in range(201)]
            ax.plot(xs, [min(p, x * b) for x in xs], color="black", linestyle=style_, linewidth=1.4,
                    label=f"roof, {n_ceiling} core(s): {p:.0f} GFLOP/s, {b:.1f} GB/s")
        for impl in sorted({r["impl"] for r in mine}, key=order):
            st = style(impl)
            for op, fill in (("gemm", st["color"]), ("conv2d", "none")):
                pts = [(r["flops"] / r["bytes"], r["gflops"]) for r in mine if r["impl"] == impl and r["op"] == op]
                if pts:
                    ax.scatter([p[0] for p in pts], [p[1] for p in pts], marker=st["marker"], facecolors=fill,
                               edgecolors=st["color"], s=30, linewidths=1.1, label=f"{_label(impl)}: {op}")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("arithmetic intensity (FLOP / byte: 2mnk / bytes of A, B, C; conv: of x, w, y)")
        ax.set_ylabel("GFLOP/s")
        ax.set_title(f"{dt}, {nt} thread(s)")
        ax.grid(True, which="both", alpha=0.25)
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    b = bw.get(str(nt)) or {}
    fig.suptitle(f"Roofline: measured FMA peak and streaming bandwidth ({b.get('kernel', '')})\n{_machine(meta)}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def onnx_models(results: Sequence[Mapping[str, Any]], meta: Mapping[str, Any], path: str) -> Optional[str]:
    """`bench all`'s per-model figure: median time per inference of hpc_kernels.onnx and onnxruntime on
    each whole model (bars; whiskers: the fastest and slowest round), the ratio written beside."""
    if not results:
        return None
    plt = _plt()
    labels = [f"{r['model'].split(' ')[0]}\n{'x'.join(map(str, r['input_shape']))}, {r['threads']}t" for r in results]
    height = max(3.0, 0.9 * len(results) + 1.5)
    fig, ax = plt.subplots(figsize=(8.5, height))
    bar = 0.38
    for k, (rt, impl) in enumerate((("ours", "cpu"), ("ort", "onnxruntime"))):
        st = style(impl)
        ys = [i + (k - 0.5) * bar for i in range(len(results))]
        med = [r[rt]["median_s"] * 1e3 for r in results]
        err = [[m - r[rt]["min_s"] * 1e3 for m, r in zip(med, results)], [r[rt]["max_s"] * 1e3 - m for m, r in zip(med, results)]]
        ax.barh(ys, med, height=bar, xerr=err, color=st["color"], hatch="//" if rt == "ort" else None,
                edgecolor="black" if rt == "ort" else "white", linewidth=0.3, capsize=2,
                label="hpc_kernels.onnx (cpu)" if rt == "ours" else "onnxruntime (reference)")
    for i, r in enumerate(results):
        ax.text(max(r["ours"]["max_s"], r["ort"]["max_s"]) * 1e3 * 1.02, i, f"×{r['ratio']:.2f}", va="center", fontsize=8)
    ax.set_yticks(range(len(results)))
    ax.set_yticklabels(labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("ms per inference (median of rounds; whiskers: fastest and slowest round); ×: ours / onnxruntime")
    ax.grid(True, axis="x", alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title(f"ONNX models, whole-model inference, each runtime in its own process\n{_machine(meta)}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
