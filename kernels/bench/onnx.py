"""`python -m hpc_kernels bench onnx [--model resnet50|mobilenetv2|...|PATH]`: a whole model through
hpc_kernels.onnx.InferenceSession against onnxruntime at the same thread count.

Each round starts one process per runtime (kernels/bench/onnx_child.py; the order alternates between
rounds), which loads the model, warms up and times --repeat runs: the runtimes never share the cores'
thread pools and each one's peak RSS is its own. Reported: the median over rounds of each round's
median run time, the spread (slowest / fastest round), the ratio ours / onnxruntime, peak RSS, the
outputs' agreement, and a per-op-type profile of each (ours: session.profile(); onnxruntime: its
profiler's JSON) from one more process each. Zoo models (hpc_kernels.onnx.zoo) are exported first,
which needs torch; a PATH model needs only onnx and onnxruntime."""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

DEFAULT_MODEL = "resnet50"
ALL_MODELS = ("resnet50", "mobilenetv2")  # bench all's models: a dense and a depthwise-separable CNN
RTOL = 1e-4  # outputs agree to this fraction of the output's magnitude (tests/onnx/test_networks.py says why)
LABELS = {"ours": "hpc_kernels", "ort": "onnxruntime"}


class BenchError(Exception):
    """A problem with the model or the environment: one line, exit 2."""


def _require(module: str, why: str):
    try:
        return __import__(module)
    except ImportError:
        raise BenchError(f"{why} needs {module}: pip install {module}") from None


def resolve(model: str, batch: int, size: int, folder: str) -> Tuple[str, str]:
    """(path of the ONNX file, how the report names it): a file as given, or a zoo model exported
    into `folder` (dynamic batch and size)."""
    if os.path.isfile(model):
        return model, os.path.basename(model)
    from ..onnx import zoo

    if model not in zoo.SPECS:
        raise BenchError(f"--model {model!r} is neither an ONNX file nor a zoo model ({', '.join(zoo.NAMES)})")
    _require("torch", f"building the zoo model {model}")
    h, w = zoo.SPECS[model].fixed_hw or (size, size)
    return zoo.export(model, os.path.join(folder, f"{model}.onnx"), batch=batch, height=h, width=w), f"{model} (zoo, random weights)"


def make_input(path: str, batch: int, size: int, seed: int = 0) -> np.ndarray:
    """A random input for the model's only input: a symbolic first dimension is the batch, other
    symbolic dimensions are `size` (a zoo model's fixed size is declared, so it is kept)."""
    onnx = _require("onnx", "reading the model")
    from onnx import helper

    m = onnx.load(path, load_external_data=False)
    inits = {t.name for t in m.graph.initializer}
    feeds = [i for i in m.graph.input if i.name not in inits]
    if len(feeds) != 1:
        raise BenchError(f"bench onnx times models with one input; {path} has {len(feeds)}: {', '.join(i.name for i in feeds)}")
    t = feeds[0].type.tensor_type
    dims = [d.dim_value if d.HasField("dim_value") else (batch if i == 0 else size) for i, d in enumerate(t.shape.dim)]
    dtype = np.dtype(helper.tensor_dtype_to_np_dtype(t.elem_type))
    rng = np.random.default_rng(seed)
    if dtype.kind == "f":
        return rng.standard_normal(dims).astype(dtype)
    return rng.integers(0, 2, dims).astype(dtype)


def child(runtime: str, model: str, x_path: str, threads: int, runs: int, *, profile_dir: Optional[str] = None,
          out: Optional[str] = None, timeout: float = 1800) -> Dict[str, Any]:
    """One measurement in a fresh process (onnx_child.py); its JSON line."""
    cmd = [sys.executable, "-m", "hpc_kernels.bench.onnx_child", runtime, model, x_path, "--threads", str(threads), "--runs", str(runs)]
    if profile_dir:
        cmd += ["--profile-dir", profile_dir]
    if out:
        cmd += ["--out", out]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if p.returncode != 0:
        tail = (p.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise BenchError(f"the {LABELS[runtime]} process failed (exit {p.returncode}): {tail}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def compare(model: str, label: str, x: np.ndarray, threads: int, rounds: int, repeat: int, folder: str,
            profile: bool = True, log=None) -> Dict[str, Any]:
    """Interleaved rounds of both runtimes on `model` with input x at `threads` threads: the result dict."""
    x_path = os.path.join(folder, "input.npy")
    np.save(x_path, x)
    per_round: Dict[str, List[float]] = {"ours": [], "ort": []}
    runs: Dict[str, List[Dict[str, Any]]] = {"ours": [], "ort": []}
    outs = {rt: os.path.join(folder, f"out_{rt}.npy") for rt in per_round}
    for r in range(rounds):
        for rt in (("ours", "ort") if r % 2 == 0 else ("ort", "ours")):  # alternating: neither always goes first
            res = child(rt, model, x_path, threads, repeat, out=outs[rt] if r == 0 else None)
            per_round[rt].append(statistics.median(res["seconds"]))
            runs[rt].append(res)
            if log:
                log(f"  round {r + 1}/{rounds} {LABELS[rt]}: {per_round[rt][-1] * 1e3:.2f} ms")
    ref = np.load(outs["ort"])
    got = np.load(outs["ours"])
    scale = float(np.abs(ref).max()) or 1.0
    err = float(np.abs(got.astype(np.float64) - ref).max()) / scale if got.shape == ref.shape else float("inf")
    result: Dict[str, Any] = {"model": label, "path": model, "input_shape": list(x.shape), "dtype": str(x.dtype),
                              "threads": threads, "rounds": rounds, "repeat": repeat, "max_rel_error": err, "correct": err <= RTOL}
    for rt, samples in per_round.items():
        result[rt] = {"median_s": statistics.median(samples), "min_s": min(samples), "max_s": max(samples),
                      "spread": max(samples) / min(samples), "rounds_s": samples,
                      "peak_rss_mib": max(x["peak_rss_mib"] for x in runs[rt]),
                      "rss_start_mib": min(x["rss_start_mib"] for x in runs[rt]),
                      "load_s": statistics.median(x["load_s"] for x in runs[rt])}
    result["ratio"] = result["ours"]["median_s"] / result["ort"]["median_s"]
    if profile:
        pdir = os.path.join(folder, "profile")
        os.makedirs(pdir, exist_ok=True)
        result["profile"] = {rt: child(rt, model, x_path, threads, repeat, profile_dir=pdir)["profile"] for rt in ("ours", "ort")}
    return result


def format_result(r: Dict[str, Any]) -> str:
    lines = [f"{r['model']}: input {'x'.join(map(str, r['input_shape']))} {r['dtype']}, {r['threads']} thread(s), "
             f"{r['rounds']} rounds x {r['repeat']} runs, each runtime in its own process per round",
             f"  {'runtime':<12} {'median ms':>10} {'min ms':>9} {'max ms':>9} {'spread':>7} {'load s':>7} {'peak RSS MiB':>13} {'at start':>9}"]
    for rt in ("ours", "ort"):
        m = r[rt]
        lines.append(f"  {LABELS[rt]:<12} {m['median_s'] * 1e3:>10.2f} {m['min_s'] * 1e3:>9.2f} {m['max_s'] * 1e3:>9.2f} "
                     f"{m['spread']:>7.2f} {m['load_s']:>7.2f} {m['peak_rss_mib']:>13.0f} {m['rss_start_mib']:>9.0f}")
    lines.append(f"  ratio hpc_kernels / onnxruntime: {r['ratio']:.2f} ({'slower' if r['ratio'] > 1 else 'faster'}); outputs: "
                 f"max |ours - onnxruntime| = {r['max_rel_error']:.2g} of the output's magnitude "
                 f"({'ok' if r['correct'] else 'WRONG'}, bound {RTOL:g})")
    prof = r.get("profile")
    if prof:
        ops = sorted(set(prof["ours"]) | set(prof["ort"]), key=lambda o: -max(prof["ours"].get(o, 0), prof["ort"].get(o, 0)))
        lines.append("  per op type, ms per run (profiled runs; fused ops appear under their own names on each side):")
        lines.append(f"    {'op type':<26} {'hpc_kernels':>12} {'onnxruntime':>12}")
        for op in ops:
            cells = [f"{prof[rt][op] * 1e3:>12.3f}" if op in prof[rt] else f"{'-':>12}" for rt in ("ours", "ort")]
            lines.append(f"    {op:<26} {cells[0]} {cells[1]}")
        lines.append(f"    {'total':<26} {sum(prof['ours'].values()) * 1e3:>12.3f} {sum(prof['ort'].values()) * 1e3:>12.3f}")
    return "\n".join(lines)


def available() -> str:
    """Why `bench onnx` cannot run its zoo models here, "" when it can (bench all's check)."""
    for module in ("onnx", "onnxruntime", "torch"):
        try:
            __import__(module)
        except ImportError:
            return f"{module} is not installed"
    return ""


def bench_models(models: Sequence[str], threads: Sequence[int], batch: int, size: int, rounds: int, repeat: int,
                 profile: bool = True, log=None) -> List[Dict[str, Any]]:
    """compare() for every model and thread count (each model exported or read once)."""
    _require("onnxruntime", "bench onnx (the comparison)")
    results = []
    with tempfile.TemporaryDirectory(prefix="kernels-bench-onnx-") as tmp:
        for model in models:
            path, label = resolve(model, batch, size, tmp)
            x = make_input(path, batch, size)
            for t in threads:
                if log:
                    log(f"bench onnx: {label}, {t} thread(s)")
                results.append(compare(path, label, x, t, rounds, repeat, tmp, profile, log))
    return results


def run(args: argparse.Namespace) -> int:
    from .._threads import cores

    threads = args.threads or sorted({1, cores()})  # one thread and every core, as the help says
    rounds = args.rounds or (3 if args.quick else 5)
    repeat = args.repeat or (3 if args.quick else 10)
    log = (lambda line: print(line, file=sys.stderr, flush=True))
    try:
        results = bench_models([args.model or DEFAULT_MODEL], threads, args.batch, args.size, rounds, repeat, log=log)
    except BenchError as exc:
        print(f"bench onnx: {exc}", file=sys.stderr)
        return 2
    for r in results:
        print(format_result(r))
    if args.json:
        try:
            with open(args.json, "w") as f:
                json.dump({"onnx": results}, f, indent=1)
        except OSError as exc:
            print(f"bench --json: cannot write {args.json}: {exc}", file=sys.stderr)
            return 2
    return 0 if all(r["correct"] for r in results) else 1
