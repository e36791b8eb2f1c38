"""Small calls under CPU oversubscription: kernels (libgomp) against NumPy/OpenBLAS, per OpenMP wait policy.

    python benchmarks/oversubscription.py --repeats 5          # the table of docs/environment.md, Threads (~2 minutes on an idle machine)
    python benchmarks/oversubscription.py --impl kernels --op gemm128 conv2d --setting passive spin=500 spin=1000
    python benchmarks/oversubscription.py --scenario unloaded --json out.json

A busy workflow node runs more threads than it has cores. Each measurement starts `--procs` worker
processes of `--threads` threads each (default 2 x 2, on a 2-core machine: oversubscribed) and one
alone (unloaded), each doing `--calls` small calls after a warm-up; the figure is the makespan (the
slowest worker's loop). Implementations: kernels (cpu backend, OpenMP through libgomp) and NumPy
(np.matmul on OpenBLAS's own pthreads, threads set through threadpoolctl; conv2d as the im2col +
matmul baseline of `python -m hpc_kernels bench conv2d`).

libgomp reads its wait policy once, when it is loaded, so each setting is a fresh process
environment: libgomp = libgomp's own default (GOMP_SPINCOUNT=300000, what it uses when neither
variable is set), passive = OMP_WAIT_POLICY=PASSIVE (sleep at once), spin=N = GOMP_SPINCOUNT=N,
kernels = neither variable set (what `import hpc_kernels` then chooses). Settings, workloads and the
two scenarios are interleaved round by round and repeated: medians and min..max are reported, with
the load average, since the machine may be shared. The "quiet" column times the unloaded calls in
chunks of 20 too: their 10th percentile is the speed in the machine's quieter moments.

Note: gemm64 (64x64x64) runs on one thread (the engine's useful_threads needs ~2e5 FMAs per
thread), so no OpenMP barrier is involved; gemm128 and conv2d use both threads.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from typing import Callable, Dict, List, Tuple

SETTINGS = ("libgomp", "passive", "kernels")
OPS = ("gemm64", "gemm128", "conv2d")
IMPLS = ("kernels", "numpy")
_OMP_VARS = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")


def setting_env(setting: str) -> Dict[str, str]:
    if setting == "libgomp":
        return {"GOMP_SPINCOUNT": "300000"}  # libgomp's default spin when OMP_WAIT_POLICY is unset
    if setting == "passive":
        return {"OMP_WAIT_POLICY": "PASSIVE"}
    if setting == "active":
        return {"OMP_WAIT_POLICY": "ACTIVE"}
    if setting == "kernels":
        return {}
    if setting.startswith("spin="):
        return {"GOMP_SPINCOUNT": str(int(setting[5:]))}
    raise ValueError(f"unknown setting {setting!r}: libgomp, passive, active, kernels or spin=N")


# ---------------------------------------------------------------------------------------------
# Worker process
# ---------------------------------------------------------------------------------------------

def _call(impl: str, op: str, threads: int) -> Callable[[], object]:
    import numpy as np

    rng = np.random.default_rng(0)
    if op.startswith("gemm"):
        n = int(op[4:])
        a, b = (rng.standard_normal((n, n)).astype(np.float32) for _ in range(2))
        out = np.empty((n, n), np.float32)
        if impl == "numpy":
            return lambda: np.matmul(a, b, out=out)
        import hpc_kernels

        return lambda: hpc_kernels.gemm(a, b)
    # conv2d: a small 3x3 layer (16 -> 16 channels, 16x16 pixels, padding 1): 0.6 M multiply-adds
    from hpc_kernels.bench.references import NumpyIm2col
    from hpc_kernels.bench.layers import ConvLayer

    layer = ConvLayer("small", "conv3x3", 16, 16, 16, 16, 3, 3, 1, 1, 1, 1, 1)
    x = rng.standard_normal(layer.x_shape(1, "NCHW")).astype(np.float32)
    w = rng.standard_normal((layer.k, layer.c, layer.r, layer.s)).astype(np.float32)
    y = np.empty((1, layer.k, layer.out_h, layer.out_w), np.float32)
    if impl == "numpy":
        return NumpyIm2col(layer, x, w, "NCHW", y)
    import hpc_kernels

    return lambda: hpc_kernels.conv2d(x, w, padding=1, out=y)


# The calls are also timed in chunks of CHUNK: on a shared machine the fastest chunks show the speed
# in its quiet moments (a chunk lasts well under a millisecond, shorter than a time slice).
CHUNK = 20


def worker(impl: str, op: str, calls: int, threads: int) -> None:
    """Warm up, say ready, wait for 'go' on stdin, run the calls, print the seconds they took and
    the 10th percentile of the chunks' seconds per call."""
    from threadpoolctl import threadpool_limits

    fn = _call(impl, op, threads)
    if impl == "kernels":
        import hpc_kernels

        hpc_kernels.set_num_threads(threads)
    with threadpool_limits(threads, user_api="blas"):
        for _ in range(50):
            fn()
        print("ready", flush=True)
        sys.stdin.readline()
        ticks = [time.perf_counter()]
        for _ in range(max(1, calls // CHUNK)):
            for _ in range(CHUNK):
                fn()
            ticks.append(time.perf_counter())
    chunks = sorted(b - a for a, b in zip(ticks, ticks[1:]))
    print(f"{ticks[-1] - ticks[0]!r} {chunks[len(chunks) // 10] / CHUNK!r}", flush=True)


# ---------------------------------------------------------------------------------------------
# Driver
# ---------------------------------------------------------------------------------------------

def measure(impl: str, op: str, setting: str, procs: int, calls: int, threads: int) -> Tuple[float, float]:
    """(makespan in seconds of `procs` workers started together, the largest of the workers' 10th
    percentile chunk seconds per call)."""
    env = {k: v for k, v in os.environ.items() if k not in _OMP_VARS and not k.startswith("KERNELS_")}
    env.update(setting_env(setting))
    env["SKBUILD_EDITABLE_VERBOSE"] = "0"  # an editable dev install prints its rebuild check on stdout
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", impl, op, str(calls), str(threads)]
    ps = [subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env) for _ in range(procs)]
    try:
        for p in ps:
            line = "-"
            while line and line.strip() != "ready":
                line = p.stdout.readline()
            if not line:
                raise RuntimeError(f"worker {impl} {op} ({setting}) exited before it was ready")
        for p in ps:
            p.stdin.write("go\n")
            p.stdin.flush()
        times = [tuple(map(float, p.stdout.readline().split())) for p in ps]
    finally:
        for p in ps:
            p.stdin.close()
            p.wait()
    return max(t for t, _ in times), max(b for _, b in times)


def run(args: argparse.Namespace) -> dict:
    scenarios = {s: (1 if s == "unloaded" else args.procs) for s in args.scenario}
    cases = [(impl, op, s) for impl in args.impl for op in args.op for s in (args.setting if impl == "kernels" else ["-"])]
    samples: Dict[str, List[float]] = {}
    best: Dict[str, List[float]] = {}
    loads: List[float] = []
    print(f"{args.procs} processes x {args.threads} threads on {len(os.sched_getaffinity(0))} CPUs (oversubscribed), "
          f"1 process (unloaded); {args.calls} calls each; {args.repeats} rounds", flush=True)
    for r in range(args.repeats):
        for impl, op, setting in cases:
            for scen, procs in scenarios.items():
                loads.append(os.getloadavg()[0])
                t, b = measure(impl, op, setting if setting != "-" else "libgomp", procs, args.calls, args.threads)
                samples.setdefault(f"{impl}|{op}|{setting}|{scen}", []).append(t)
                best.setdefault(f"{impl}|{op}|{setting}|{scen}", []).append(b)
        print(f"  round {r + 1}/{args.repeats} done (load average {os.getloadavg()[0]:.2f})", flush=True)
    rows = []
    for key, ts in samples.items():
        impl, op, setting, scen = key.split("|")
        rows.append({"impl": impl, "op": op, "setting": setting, "scenario": scen, "calls": args.calls,
                     "median_s": statistics.median(ts), "min_s": min(ts), "max_s": max(ts), "samples_s": ts,
                     "quiet_per_call_s": statistics.median(best[key])})
    return {"rows": rows, "procs": args.procs, "threads": args.threads, "cpus": len(os.sched_getaffinity(0)),
            "load_average": {"min": min(loads), "median": statistics.median(loads), "max": max(loads)}}


def format_rows(result: dict) -> str:
    lines = [f"{'impl':<8} {'op':<8} {'setting':<12} {'unloaded s (min..max)':>26} {'quiet us':>8} "
             f"{'oversubscribed s (min..max)':>30} {'ratio':>6}"]
    by = {(r["impl"], r["op"], r["setting"], r["scenario"]): r for r in result["rows"]}
    for impl, op, setting in dict.fromkeys(k[:3] for k in by):
        u, o = by.get((impl, op, setting, "unloaded")), by.get((impl, op, setting, "oversubscribed"))
        u_s = f"{u['median_s']:.3f} ({u['min_s']:.3f}..{u['max_s']:.3f})" if u else "-"
        o_s = f"{o['median_s']:.3f} ({o['min_s']:.3f}..{o['max_s']:.3f})" if o else "-"
        ratio = f"{o['median_s'] / u['median_s']:>6.1f}" if u and o else "-"
        quiet = f"{u['quiet_per_call_s'] * 1e6:.1f}" if u else "-"
        lines.append(f"{impl:<8} {op:<8} {setting:<12} {u_s:>26} {quiet:>8} {o_s:>30} {ratio:>6}")
    lines.append(f"(quiet us: microseconds per unloaded call in the 10th percentile chunk of {CHUNK} calls, median over rounds; "
                 "ratio: oversubscribed / unloaded medians)")
    la = result["load_average"]
    lines.append(f"load average during the runs: median {la['median']:.2f} (min {la['min']:.2f}, max {la['max']:.2f})")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python benchmarks/oversubscription.py", description=__doc__.split("\n")[0])
    p.add_argument("--worker", nargs=4, metavar=("IMPL", "OP", "CALLS", "THREADS"), help=argparse.SUPPRESS)
    p.add_argument("--impl", nargs="+", choices=IMPLS, default=list(IMPLS))
    p.add_argument("--op", nargs="+", choices=OPS, default=list(OPS))
    p.add_argument("--setting", nargs="+", default=list(SETTINGS),
                   help="kernels' OpenMP settings: libgomp, passive, active, kernels, spin=N (default: libgomp passive kernels)")
    p.add_argument("--calls", type=int, default=1600, help="calls per worker (default 1600)")
    p.add_argument("--procs", type=int, default=2, help="processes in the oversubscribed scenario (default 2)")
    p.add_argument("--threads", type=int, default=2, help="threads per process (default 2)")
    p.add_argument("--repeats", type=int, default=3, help="rounds (default 3)")
    p.add_argument("--scenario", nargs="+", choices=["unloaded", "oversubscribed"], default=["unloaded", "oversubscribed"])
    p.add_argument("--json", metavar="PATH", help="also write the samples as JSON")
    args = p.parse_args(argv)
    if args.worker:
        impl, op, calls, threads = args.worker
        worker(impl, op, int(calls), int(threads))
        return 0
    for s in args.setting:
        setting_env(s)  # unknown names fail before any measuring
    result = run(args)
    print(format_rows(result))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
