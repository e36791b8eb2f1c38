"""One runtime's measurement for `bench onnx`, in a process of its own (`python -m hpc_kernels.bench.onnx_child`):
load the model, warm up, time the runs (or profile them), report peak RSS; one JSON line on stdout.

Each runtime runs alone in its process so that its thread pool never competes with the other's (two
pools spinning on the same cores slow both) and so that the peak RSS is its own. The child imports
only its own runtime: the onnxruntime child never imports hpc_kernels.onnx (nor the C++ engine)."""
from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Dict, List, Optional

import numpy as np

RUNTIMES = ("ours", "ort")


def _status_mib(field: str) -> float:
    """A memory figure of /proc/self/status in MiB: VmRSS (resident now) or VmHWM (its peak). Not
    getrusage's ru_maxrss: Linux carries that over exec from the forking parent (the bench driver,
    torch loaded), so every child would report at least the parent's size."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def ort_profile(path: str, skip: int) -> Dict[str, float]:
    """Seconds per run by op type from an onnxruntime profile file (Chrome trace JSON), leaving out
    the first `skip` runs (the warm-up: its allocations would count): each `model_run` event (category
    Session) spans one run; the `*_kernel_time` events (category Node) inside the kept runs carry the op
    type in args.op_name and the time in µs."""
    with open(path) as f:
        events = json.load(f)
    spans = sorted((e["ts"], e["ts"] + e["dur"]) for e in events if e.get("cat") == "Session" and e.get("name") == "model_run")
    kept = spans[skip:]
    by_op: Dict[str, float] = {}
    for e in events:
        if e.get("cat") == "Node" and str(e.get("name", "")).endswith("_kernel_time"):
            if any(a <= e["ts"] <= b for a, b in kept):
                op = (e.get("args") or {}).get("op_name", "?")
                by_op[op] = by_op.get(op, 0.0) + float(e.get("dur", 0)) * 1e-6
    return {op: t / max(1, len(kept)) for op, t in by_op.items()}


def _session(runtime: str, model: str, threads: int, profile_dir: Optional[str]):
    if runtime == "ours":
        from hpc_kernels.onnx import InferenceSession

        s = InferenceSession(model, threads=threads)
        return s, s.get_inputs()[0].name
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads  # the same thread count as ours; no inter-op parallelism (a CNN is a chain)
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    if profile_dir:
        opts.enable_profiling = True
        opts.profile_file_prefix = f"{profile_dir}/ort"
    s = ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])
    return s, s.get_inputs()[0].name


def measure(runtime: str, model: str, x: np.ndarray, threads: int, runs: int, warmup: int = 1,
            profile_dir: Optional[str] = None, out: Optional[str] = None) -> Dict:
    """Load, `warmup` untimed runs, `runs` timed runs: seconds per run, load seconds, RSS before the
    load and peak RSS (MiB), and with profile_dir the per-op-type seconds per run of the timed runs."""
    rss0 = _status_mib("VmRSS")
    t0 = time.perf_counter()
    s, name = _session(runtime, model, threads, profile_dir)
    load_s = time.perf_counter() - t0
    feed = {name: x}
    y = None
    for _ in range(warmup):
        y = s.run(None, feed)[0]
    before = s.profile() if runtime == "ours" and profile_dir else None
    seconds: List[float] = []
    for _ in range(runs):
        t0 = time.perf_counter()
        y = s.run(None, feed)[0]
        seconds.append(time.perf_counter() - t0)
    profile = None
    if profile_dir:
        if runtime == "ours":
            after = s.profile()
            profile = {op: (t - before.by_op.get(op, 0.0)) / runs for op, t in after.by_op.items()}
        else:
            profile = ort_profile(s.end_profiling(), warmup)
    if out:
        np.save(out, np.asarray(y))
    return {"runtime": runtime, "seconds": seconds, "load_s": load_s, "rss_start_mib": rss0,
            "peak_rss_mib": _status_mib("VmHWM"), "profile": profile}


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="python -m hpc_kernels.bench.onnx_child")
    p.add_argument("runtime", choices=RUNTIMES)
    p.add_argument("model")
    p.add_argument("input", help=".npy input")
    p.add_argument("--threads", type=int, required=True)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--profile-dir", default=None)
    p.add_argument("--out", default=None, help="save the last output here (.npy)")
    a = p.parse_args(argv)
    x = np.load(a.input)
    print(json.dumps(measure(a.runtime, a.model, x, a.threads, a.runs, a.warmup, a.profile_dir, a.out)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
