"""The driver of `python -m hpc_kernels bench gemm|conv2d|all`: runs the suite of every selected backend
(each backend interleaved with its reference libraries), collects their records into one results
document (bench all: with the ONNX models of kernels/bench/onnx.py), writes --json and --report, and
exits 1 if any result was wrong or a suite failed.

Suites, one module each in kernels/bench/suites/: cpu (vs NumPy/OpenBLAS and PyTorch), numba (vs
NumPy and PyTorch, cpu alongside), opencl (vs CLBlast on the same queue, cpu alongside), cuda (vs
cuBLAS and cuDNN, CUDA events). Each has planned(args, threads) (cases, for the progress bar) and
collect(args, threads, rounds) -> (records, rows or None, network totals or None).
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
import traceback
from typing import Any, Dict, List, Tuple

from . import progress, record

SUITES = ("cpu", "numba", "opencl", "cuda")
HOST_DTYPES = {"float32", "float64"}  # the cpu, numba and opencl suites; cuda also runs float16 and bfloat16


def select(args: argparse.Namespace, available: Dict[str, Dict[str, Any]]) -> Tuple[List[str], str]:
    """(suites to run, error message or ""). Without --backend: every available backend for `all`
    or a --report, else cpu (the backend NumPy arrays get), or every available one without it."""
    if args.backend:
        missing = [b for b in args.backend if not available.get(b, {}).get("available")]
        if missing:
            return [], "; ".join(f"backend {b} is not available: {available.get(b, {}).get('reason')}" for b in missing)
        return list(dict.fromkeys(args.backend)), ""
    usable = [b for b in SUITES if available.get(b, {}).get("available")]
    if args.what != "all" and not args.report and "cpu" in usable:
        return ["cpu"], ""
    return usable, "" if usable else "no backend is available (python -m hpc_kernels info says why)"


def _suite(name: str):
    """The module of one suite (imported only when it runs: each pulls in its backend's libraries)."""
    return importlib.import_module(f"{__package__}.suites.{name}")


def _planned(suite: str, args: argparse.Namespace, threads: List[int]) -> int:
    return _suite(suite).planned(args, threads)


def _collect(suite: str, args: argparse.Namespace, threads: List[int], rounds: int, doc: Dict[str, Any]) -> List[dict]:
    """Records of one suite on one op (args.what); its detailed rows and totals go into doc."""
    name = f"{suite} {args.what}" + (f" {args.layout}" if args.what == "conv2d" else "")
    recs, rows, totals = _suite(suite).collect(args, threads, rounds)
    if rows is not None:
        doc["rows"][name] = rows
    if totals is not None:
        doc["totals"][name] = totals
    return recs


def _loadavg():
    """1-minute load average: above the core count, other processes shared the cores (multi-thread figures suffer first)."""
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):  # not on every platform
        return None


def check_dtypes(args: argparse.Namespace, suites: List[str]) -> str:
    wide = set(args.dtype or []) - HOST_DTYPES
    host = [s for s in suites if s != "cuda"]
    if wide and host:
        return f"{' and '.join(sorted(wide))} run on the cuda backend only, not on {', '.join(host)} (pick --backend cuda)"
    return ""


def _onnx_models(args: argparse.Namespace, threads: List[int], rounds: int, doc: Dict[str, Any]) -> None:
    """bench all: the zoo's ONNX models (kernels/bench/onnx.py ALL_MODELS) at the largest thread count
    into doc["onnx"], or why not into doc["onnx_skipped"] (onnx, onnxruntime or torch missing)."""
    from . import onnx as bench_onnx

    why = bench_onnx.available()
    if not why and getattr(args, "no_torch", False) and not all(os.path.isfile(m) for m in bench_onnx.ALL_MODELS):
        why = "--no-torch: the zoo models are built with torch"
    if why:
        doc["onnx_skipped"] = why
        return
    try:
        doc["onnx"] = bench_onnx.bench_models(bench_onnx.ALL_MODELS, [max(threads)], args.batch, args.size, rounds,
                                              args.repeat or (3 if args.quick else 10), profile=False, log=progress.emit)
    except Exception as exc:  # the kernel suites' results stay
        doc["failed"]["onnx"] = f"{type(exc).__name__}: {exc}"
        print(f"bench: the onnx models failed:\n{traceback.format_exc()}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    import hpc_kernels

    from .._threads import cores
    from .meta import backends, run_meta

    available = backends()
    suites, err = select(args, available)
    err = err or check_dtypes(args, suites)
    if err:
        print(f"bench: {err}", file=sys.stderr)
        return 2
    ops = ["gemm", "conv2d"] if args.what == "all" else [args.what]
    threads = args.threads or sorted({1, cores()})  # one thread and every core
    rounds = args.rounds or (3 if args.quick else 5)
    layouts = list(dict.fromkeys(args.layout or (["NCHW", "NHWC"] if args.what == "all" else ["NCHW"])))
    per_op = [(op, s, argparse.Namespace(**{**vars(args), "what": op, "layout": lay}))
              for op in ops for s in suites for lay in (layouts if op == "conv2d" else layouts[:1])]
    t0 = time.perf_counter()
    load_before = _loadavg()
    peak = None
    if args.json or args.report:  # the roofline's ceilings, measured before the load of the benchmarks
        from .peak import measure

        progress.emit("measuring the FMA peak and the memory bandwidth (bench peak) ...")
        peak = measure(threads, sorted({d for d in (args.dtype or ["float32", "float64"]) if d in HOST_DTYPES}) or ["float32"],
                       0.1 if args.quick else 0.2)
    doc: Dict[str, Any] = {"rows": {}, "totals": {}, "failed": {}}
    recs: List[dict] = []
    total = sum(_planned(s, a, threads) for _, s, a in per_op)
    with progress.bar(total, "bench"):
        for op, suite, a in per_op:
            try:
                recs += _collect(suite, a, threads, rounds, doc)
            except Exception as exc:  # one broken suite must not lose the others' results
                doc["failed"][f"{suite} {op}"] = f"{type(exc).__name__}: {exc}"
                print(f"bench: the {suite} {op} suite failed:\n{traceback.format_exc()}", file=sys.stderr)
    if args.what == "all" and "cpu" in suites and not getattr(args, "no_onnx", False):
        _onnx_models(args, threads, rounds, doc)
    meta = run_meta(hpc_kernels.info()["cpu_engine"], rounds, threads=threads, quick=args.quick, suites=suites, ops=ops, peak=peak,
                    wall_s=round(time.perf_counter() - t0, 1), loadavg={"before": load_before, "after": _loadavg()})
    out = record.document(meta, recs, **doc)
    status = 0
    if args.json:
        try:
            record.dump(args.json, out)
        except OSError as exc:
            print(f"bench --json: cannot write {args.json}: {exc}", file=sys.stderr)
            return 2
    if args.report:
        from .report import write

        try:
            paths = write(out, args.report)
        except OSError as exc:
            print(f"bench --report: cannot write the report into {args.report}: {exc}", file=sys.stderr)
            return 2
        print(f"\nreport: {paths['md']}, {paths['html']} (figures and results.json beside them)")
    bad_models = [r["model"] for r in doc.get("onnx", []) if not r["correct"]]
    if bad_models:
        print(f"\nonnx model(s) whose outputs differ from onnxruntime's: {', '.join(bad_models)}", file=sys.stderr)
        status = 1
    bad = [r for r in recs if not r["correct"]]
    if bad:
        print(f"\n{len(bad)} result(s) failed the correctness check: "
              + ", ".join(f"{r['suite']} {r['impl']} {r['case']} {r['dtype']} {r['threads']}t" for r in bad[:20]), file=sys.stderr)
        status = 1
    if doc["failed"]:
        print(f"bench: suite(s) failed: {', '.join(doc['failed'])}", file=sys.stderr)
        status = 1
    return status
