"""`python -m hpc_kernels bench gemm|conv2d --backend opencl`: the opencl kernels against CLBlast on the same device and queue, and the cpu backend, in one run.

PoCL fixes its thread count when the platform is created (POCL_MAX_PTHREAD_COUNT), so on a PoCL
device each thread count runs in a child process with that variable set; inside it, the cpu backend
runs with the same number of threads. Device calls are timed to completion (queue.finish()), on
device arrays allocated once per case, interleaved with the competitors (kernels/bench/timing.py).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from typing import Callable, Dict, List, Tuple

import numpy as np

from .. import progress
from ..cases import square_sizes
from ..timing import interleaved_medians



def _device():
    from ...backends.opencl import runtime as rt

    return rt.default_device()


def _finish(q, fn: Callable[[], object]) -> Callable[[], None]:
    def call() -> None:
        fn()
        q.finish()

    return call


def _clblast(q):
    try:
        from ..clblast import CLBlast

        return CLBlast(q)
    except ImportError as exc:
        print(f"CLBlast left out: {exc} (pip install pyclblast; apt-get install libclblast-dev)", file=sys.stderr)
        return None


def gemm_rows(sizes, dtype: np.dtype, rounds: int, threads: int, fpga_max: int) -> List[dict]:
    import pyopencl.array as cla

    import hpc_kernels
    from ...backends.opencl import use_form
    from ..references import check

    q = _device().queue
    cb = _clblast(q)
    rows = []
    rng = np.random.default_rng(0)
    for n in sizes:
        a, b = (rng.standard_normal((n, n)).astype(dtype) for _ in range(2))
        ad, bd = cla.to_device(q, a), cla.to_device(q, b)
        outs = {name: cla.empty(q, (n, n), dtype) for name in ("opencl", "fpga", "clblast")}
        ch = np.empty((n, n), dtype)
        fns: Dict[str, Callable[[], None]] = {"opencl": _finish(q, lambda: hpc_kernels.gemm(ad, bd, out=outs["opencl"]))}
        if n <= fpga_max:
            def fpga() -> None:
                with use_form("fpga"):
                    hpc_kernels.gemm(ad, bd, out=outs["fpga"])
            fns["fpga"] = _finish(q, fpga)
        if cb is not None and dtype == np.float32 or cb is not None and dtype == np.float64 and _device().fp64:
            fns["clblast"] = _finish(q, lambda: cb.gemm(ad, bd, outs["clblast"]))
        with hpc_kernels.num_threads(threads):
            fns["cpu"] = lambda: hpc_kernels.gemm(a, b, out=ch)
            t = interleaved_medians(fns, rounds=rounds, sample_s=0.2)
        row = {"case": f"square {n}", "n": n, "dtype": np.dtype(dtype).name, "threads": threads}
        _fill(row, t, 2.0 * n ** 3, lambda name: check(ch if name == "cpu" else outs[name].get(), a, b))
        rows.append(row)
        progress.emit(_line(f"{row['case']:<12} {row['dtype']:<8} {threads}t", row, ("opencl", "fpga", "clblast", "cpu")))
    return rows


def _fill(row: dict, t: Dict[str, float], flops: float, ok: Callable[[str], bool]) -> None:
    """Seconds, GFLOP/s and the correctness check of every implementation timed."""
    for name, s in t.items():
        row[f"{name}_s"] = s
        row[f"{name}_spread"] = t.spread[name]
        row[f"{name}_gflops"] = flops / s / 1e9
        row[f"{name}_ok"] = ok(name)


def _line(head: str, r: dict, names) -> str:
    cols = [head] + [f"{n} {r[n + '_gflops']:7.1f}{'' if r[n + '_ok'] else ' WRONG'}" for n in names if f"{n}_gflops" in r]
    ours = "opencl" if "opencl_gflops" in r else "im2col"
    if "clblast_gflops" in r:
        cols.append(f"{ours}/clblast {r[ours + '_gflops'] / r['clblast_gflops']:5.2f}x")
    return "  ".join(cols)


def conv_rows(net: str, quick: bool, rounds: int, threads: int, dtype: np.dtype, layout: str) -> List[dict]:
    import pyopencl.array as cla

    import hpc_kernels
    from ..references import reference, within

    q = _device().queue
    cb = _clblast(q) if layout == "NCHW" else None
    layers = _layers(net, quick)
    rows = []
    rng = np.random.default_rng(0)
    for layer in layers:
        x = rng.standard_normal(layer.x_shape(1, layout)).astype(dtype)
        w = rng.standard_normal(layer.w_shape).astype(dtype)
        xd, wd = cla.to_device(q, x), cla.to_device(q, w)
        ys = layer.y_shape(1, layout)
        outs = {name: cla.empty(q, ys, dtype) for name in ("im2col", "convgemm", "clblast")}
        yc = np.empty(ys, dtype)
        opts = dict(layer.conv_kwargs, layout=layout)
        fns: Dict[str, Callable[[], None]] = {
            a: _finish(q, lambda a=a: hpc_kernels.conv2d(xd, wd, algorithm=a, out=outs[a], **opts)) for a in ("im2col", "convgemm")
        }
        if cb is not None:
            if layer.groups == 1:
                fns["clblast"] = _finish(q, lambda: cb.convgemm(layer, xd, wd, outs["clblast"], 1))
            else:  # CLBlast's convgemm has no groups: im2col + GEMM per group
                cols = cla.empty(q, ((layer.c // layer.groups) * layer.r * layer.s * layer.out_h * layer.out_w,), dtype)
                fns["clblast"] = _finish(q, lambda: cb.im2col_gemm(layer, xd, wd, outs["clblast"], cols, 1))
        with hpc_kernels.num_threads(threads):
            fns["cpu"] = lambda: hpc_kernels.conv2d(x, w, out=yc, **opts)
            t = interleaved_medians(fns, rounds=rounds, sample_s=0.1)
        row = {"layer": layer.name, "count": layer.count, "flops": layer.flops, "threads": threads, "layout": layout}
        ref, bound = reference(layer, x, w, layout)
        _fill(row, t, layer.flops, lambda name: within(yc if name == "cpu" else outs[name].get(), ref, bound))
        rows.append(row)
        progress.emit(_line(f"{layer.name:<22} {threads}t", row, ("im2col", "convgemm", "clblast", "cpu")))
    return rows


def conv_totals(rows: List[dict]) -> List[str]:
    lines = []
    for nt in sorted({r["threads"] for r in rows}):
        rs = [r for r in rows if r["threads"] == nt]
        tot = {name: sum(r["count"] * r[f"{name}_s"] for r in rs) for name in ("im2col", "convgemm", "clblast", "cpu") if f"{name}_s" in rs[0]}
        best = sum(r["count"] * min(r["im2col_s"], r["convgemm_s"]) for r in rs)
        line = f"total {nt}t over {sum(r['count'] for r in rs)} layers: " + ", ".join(f"{k} {v * 1e3:.1f} ms" for k, v in tot.items())
        line += f", opencl best-of-two {best * 1e3:.1f} ms"
        if "clblast" in tot:
            line += f"; clblast / opencl im2col {tot['clblast'] / tot['im2col']:.2f}x, / convgemm {tot['clblast'] / tot['convgemm']:.2f}x"
        lines.append(line)
    return lines


def _child(payload: str) -> None:
    """Runs inside the per-thread-count process: prints the rows as one JSON line at the end."""
    p = json.loads(payload)
    if p["what"] == "gemm":
        rows = []
        for dt in p["dtypes"]:
            rows += gemm_rows(p["sizes"], np.dtype(dt), p["rounds"], p["threads"], p["fpga_max"])
    else:
        rows = conv_rows(p["net"], p["quick"], p["rounds"], p["threads"], np.dtype(p["dtypes"][0]), p["layout"])
    print("ROWS " + json.dumps(rows), flush=True)


GEMM_NAMES = {"opencl": "opencl", "fpga": "opencl fpga", "clblast": "clblast", "cpu": "cpu"}
CONV_NAMES = {"im2col": "opencl im2col", "convgemm": "opencl convgemm", "clblast": "clblast", "cpu": "cpu auto"}


def _layers(net: str, quick: bool):
    from ..layers import largest, load

    return largest(load(net), 8) if quick else load(net)


def _payload(args: argparse.Namespace, rounds: int) -> dict:
    return {
        "what": args.what, "rounds": rounds, "quick": args.quick, "dtypes": args.dtype or ["float32"],
        "sizes": list(square_sizes("opencl", args.quick)), "fpga_max": 512 if args.quick else 1024,
        "net": args.net if args.net != "all" else "resnet50", "layout": args.layout,
    }


def _threads_run(threads: List[int]) -> List[int]:
    """PoCL runs once per thread count; a GPU's parallelism is not ours to set: one run."""
    dev = _device()
    pocl = "portable computing language" in dev.device.platform.name.lower()
    return threads if pocl else threads[:1]


def planned(args: argparse.Namespace, threads: List[int]) -> int:
    p = _payload(args, 1)
    per = len(p["sizes"]) * len(p["dtypes"]) if args.what == "gemm" else len(_layers(p["net"], args.quick))
    return per * len(_threads_run(threads))


def _records(rows: List[dict], p: dict) -> List[dict]:
    """The child rows (name_s / name_ok columns) as unified records."""
    from ..cases import GemmCase
    from ..record import conv_records, gemm_records

    out = []
    layers = {layer.name: layer for layer in _layers(p["net"], p["quick"])} if p["what"] == "conv2d" else {}
    for r in rows:
        names = GEMM_NAMES if p["what"] == "gemm" else CONV_NAMES
        t = {k: r[f"{k}_s"] for k in names if f"{k}_s" in r}
        ok = {k: r[f"{k}_ok"] for k in t}
        sp = {k: r.get(f"{k}_spread") for k in t}
        if p["what"] == "gemm":
            n = r["n"]
            out += gemm_records("opencl", GemmCase(r["case"], n, n, n), r["dtype"], r["threads"],
                                {names[k]: s for k, s in t.items()}, {names[k]: v for k, v in ok.items()},
                                {names[k]: v for k, v in sp.items()})
        else:
            out += conv_records("opencl", layers[r["layer"]], p["dtypes"][0], r["layout"], 1, r["threads"], t, ok, names, sp)
    return out


def collect(args: argparse.Namespace, threads: List[int], rounds: int) -> Tuple[List[dict], List[dict], None]:
    """(records, rows, no totals) of the opencl suite: one child process per thread count (PoCL's count is fixed per process)."""
    dev = _device()
    payload = _payload(args, rounds)
    progress.emit(f"== {args.what} on {dev.describe()}: opencl (tiles {_tiles_text(dev)}) vs CLBlast on the same queue vs the cpu backend")
    rows: List[dict] = []
    for nt in _threads_run(threads):
        env = dict(os.environ, POCL_MAX_PTHREAD_COUNT=str(nt), KERNELS_NUM_THREADS=str(nt))
        code = f"from hpc_kernels.bench.suites.opencl import _child; _child({json.dumps(json.dumps({**payload, 'threads': nt}))})"
        with subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, text=True) as proc:
            for line in proc.stdout:  # streamed: the progress bar moves with the child's cases
                line = line.rstrip("\n")
                if line.startswith("ROWS "):
                    rows += json.loads(line[5:])
                else:
                    progress.emit(line)
                    progress.tick(f"opencl {args.what} {nt}t")
        if proc.returncode:
            raise RuntimeError(f"opencl benchmark child with {nt} thread(s) failed (exit {proc.returncode})")
    if args.what == "conv2d":
        progress.emit("\n".join(conv_totals(rows)))
    return _records(rows, payload), rows, None


def _tiles_text(dev) -> str:
    from ...backends.opencl import tiles

    t = tiles.ndrange(dev, "float32")
    return f"{t['MWI']}x{t['VW'] * t['NVEC']} per item, {'tuned' if tiles.tuned(dev, 'float32') else 'defaults'}"
