"""GEMM speed against the reference libraries in one run: hpc_kernels (cpu) vs NumPy's OpenBLAS and torch.matmul (MKL).

    python benchmarks/gemm_vs_refs.py                                 # n = 1024 2048 4096, f32 and f64, 1 and 2 threads
    python benchmarks/gemm_vs_refs.py --sizes 1024 --dtype float32 --threads 2 --gap 0 0.05
    python benchmarks/gemm_vs_refs.py --shapes resnet50               # ResNet-50's im2col GEMM shapes instead of squares
    python benchmarks/gemm_vs_refs.py --json out.json
    python benchmarks/gemm_vs_refs.py --isolate --threads 2 --gap 0.05   # each library in its own processes

Each case times the libraries interleaved, round by round (kernels/bench/timing.py), so a noisy
neighbour slows all of them alike; the figure is the median over rounds, the spread max/min over
rounds is printed beside it. Ratios are time(reference) / time(ours): above 1 we are faster.

--gap: seconds slept between samples. 0 is back-to-back calls (thread teams stay hot); 0.05 is a
workflow task calling a kernel between other work, where a team that went to sleep must be woken
(libgomp spins GOMP_SPINCOUNT iterations, then sleeps on a futex; OpenBLAS and MKL have their own
policies). Every library is measured under the same gap. NumPy's threads are set through
threadpoolctl, torch's with torch.set_num_threads, ours with hpc_kernels.num_threads.

--isolate: in one process the libraries' idle threads disturb each other: OpenBLAS's workers spin
for ~2^28 cycles (~70 ms) after a call, libgomp's for GOMP_SPINCOUNT, MKL's for its own time, so
with 2 threads on 2 cores whoever runs next shares its cores with the last one's spinners (we
measured our n = 1024 sgemm at 1-thread speed right after NumPy's). --isolate runs each library in
a process of its own, the processes alternating round by round (a round: one process per library,
each timing every case once): the ratios then compare the libraries, not their interplay.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from typing import Callable, Dict, List

import numpy as np


def cpu_model() -> str:
    from hpc_kernels._cpu_features import cpu_model as model  # /proc/cpuinfo's model name

    return model()


def timed(fns: Dict[str, Callable[[], object]], rounds: int, gap: float, sample_s: float) -> Dict[str, List[float]]:
    """Seconds per call of each fn, one sample per round per fn, interleaved. With gap > 0 each
    sample is one call after `gap` seconds of sleep (the wake-up is part of what is measured);
    with gap == 0 a sample is the mean of back-to-back calls lasting about sample_s."""
    for fn in fns.values():
        fn(), fn()
    reps = {}
    for name, fn in fns.items():
        t0 = time.perf_counter()
        fn()
        dt = time.perf_counter() - t0
        reps[name] = 1 if gap > 0 else max(1, int(sample_s / max(dt, 1e-7)))
    out: Dict[str, List[float]] = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            if gap > 0:
                time.sleep(gap)
            t0 = time.perf_counter()
            for _ in range(reps[name]):
                fn()
            out[name].append((time.perf_counter() - t0) / reps[name])
    return out


def square_cases(sizes, dtypes):
    return [(f"{dt} n={n}", dt, n, n, n) for dt in dtypes for n in sizes]


def resnet_cases(dtypes):
    from hpc_kernels.bench.cases import resnet50_layers  # im2col GEMMs: M channels, N pixels, K = C*R*S

    return [(f"{dt} {d['name']}", dt, d["M"], d["N"], d["K"]) for dt in dtypes for d in resnet50_layers()]


def calls(a, b, out, torch) -> Dict[str, Callable[[], object]]:
    """out = a @ b by each library: ours, NumPy (OpenBLAS), and torch (MKL) when given."""
    import hpc_kernels

    fns = {"ours": lambda: hpc_kernels.gemm(a, b, out=out), "numpy": lambda: np.matmul(a, b, out=out)}
    if torch is not None:
        ta, tb, to = torch.from_numpy(a), torch.from_numpy(b), torch.from_numpy(out)
        fns["torch"] = lambda: torch.matmul(ta, tb, out=to)
    return fns


def worker(args, lib: str) -> Dict[str, float]:
    """--isolate's child: seconds per call of `lib` on every case (median of --calls calls)."""
    import hpc_kernels
    from threadpoolctl import threadpool_limits

    torch = None
    if lib == "torch":
        import torch
    cases = square_cases(args.sizes, args.dtype) if args.shapes == "square" else resnet_cases(args.dtype)
    rng = np.random.default_rng(0)
    res = {}
    for nt in args.threads:
        for gap in args.gap:
            for label, dt, m, n, k in cases:
                a = rng.standard_normal((m, k)).astype(dt)
                b = rng.standard_normal((k, n)).astype(dt)
                out = np.empty((m, n), dt)
                fn = calls(a, b, out, torch)[lib]
                with hpc_kernels.num_threads(nt), threadpool_limits(limits=nt):
                    if torch:
                        torch.set_num_threads(nt)
                    t = timed({lib: fn}, args.calls, gap, args.sample)[lib]
                res[f"{label}|{nt}|{gap}"] = statistics.median(t)
    return res


def isolated(args, libs) -> Dict[str, Dict[str, List[float]]]:
    """{lib: {case key: [seconds per round]}}: one child process per library per round, alternating."""
    import subprocess

    out: Dict[str, Dict[str, List[float]]] = {lib: {} for lib in libs}
    argv = [a for a in sys.argv[1:] if a != "--isolate"]
    for r in range(args.rounds):
        for lib in libs:
            p = subprocess.run([sys.executable, os.path.abspath(__file__), "--worker", lib, *argv],
                               capture_output=True, text=True, check=True)
            for key, sec in json.loads(p.stdout.strip().splitlines()[-1]).items():
                out[lib].setdefault(key, []).append(sec)
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[1024, 2048, 4096])
    p.add_argument("--shapes", choices=["square", "resnet50"], default="square")
    p.add_argument("--dtype", nargs="+", default=["float32", "float64"], choices=["float32", "float64"])
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--gap", type=float, nargs="+", default=[0.0, 0.05], help="seconds between samples (0: back to back)")
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--sample", type=float, default=0.2, help="seconds per back-to-back sample")
    p.add_argument("--no-torch", action="store_true")
    p.add_argument("--json", default=None)
    p.add_argument("--isolate", action="store_true", help="each library in processes of its own (see above)")
    p.add_argument("--calls", type=int, default=5, help="--isolate: timed calls per case in each process (median)")
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args, args.worker)))
        return 0

    import hpc_kernels
    from threadpoolctl import threadpool_limits

    torch = None
    if not args.no_torch:
        try:
            import torch
        except ImportError:
            print("torch not installed: NumPy only", file=sys.stderr)
    cases = square_cases(args.sizes, args.dtype) if args.shapes == "square" else resnet_cases(args.dtype)
    print(f"CPU: {cpu_model()}, {os.cpu_count()} logical CPUs; numpy {np.__version__}"
          + (f", torch {torch.__version__}" if torch else "") + f", hpc_kernels {hpc_kernels.__version__}")
    print(f"rounds {args.rounds}; ratio = reference time / our time (> 1: ours faster); spread = max/min of our samples")
    head = f"{'case':<34}{'thr':>4}{'gap':>6}{'ours ms':>10}{'GFLOP/s':>9}{'spread':>8}{'/numpy':>8}" + (f"{'/torch':>8}" if torch else "")
    print(head)
    records = []
    if args.isolate:
        libs = ["ours", "numpy"] + (["torch"] if torch else [])
        iso = isolated(args, libs)
        print(f"isolated: {args.rounds} rounds x one process per library, {args.calls} calls per case in each")
        for key in iso["ours"]:
            label, nt, gap = key.split("|")
            med = {lib: statistics.median(iso[lib][key]) for lib in libs}
            m, n, k = next((c[2], c[3], c[4]) for c in cases if c[0] == label)
            spread = max(iso["ours"][key]) / min(iso["ours"][key])
            line = (f"{label:<34}{int(nt):>4}{float(gap):>6.2f}{med['ours'] * 1e3:>10.3f}{2.0 * m * n * k / med['ours'] / 1e9:>9.1f}"
                    f"{spread:>8.2f}{med['numpy'] / med['ours']:>8.3f}" + (f"{med['torch'] / med['ours']:>8.3f}" if torch else ""))
            print(line, flush=True)
            records.append({"case": label, "threads": int(nt), "gap_s": float(gap), "isolated": True,
                            "samples_s": {lib: iso[lib][key] for lib in libs}, "median_s": med})
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"cpu": cpu_model(), "records": records}, f, indent=1)
        return 0
    rng = np.random.default_rng(0)
    for nt in args.threads:
        for gap in args.gap:
            for label, dt, m, n, k in cases:
                a = rng.standard_normal((m, k)).astype(dt)
                b = rng.standard_normal((k, n)).astype(dt)
                out = np.empty((m, n), dt)
                fns = calls(a, b, out, torch)
                with hpc_kernels.num_threads(nt), threadpool_limits(limits=nt):
                    if torch:
                        torch.set_num_threads(nt)
                    t = timed(fns, args.rounds, gap, args.sample)
                med = {k_: statistics.median(v) for k_, v in t.items()}
                spread = max(t["ours"]) / min(t["ours"])
                gf = 2.0 * m * n * k / med["ours"] / 1e9
                line = f"{label:<34}{nt:>4}{gap:>6.2f}{med['ours'] * 1e3:>10.3f}{gf:>9.1f}{spread:>8.2f}{med['numpy'] / med['ours']:>8.3f}"
                if torch:
                    line += f"{med['torch'] / med['ours']:>8.3f}"
                print(line, flush=True)
                records.append({"case": label, "dtype": dt, "m": m, "n": n, "k": k, "threads": nt, "gap_s": gap,
                                "samples_s": t, "median_s": med})
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"cpu": cpu_model(), "records": records}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
