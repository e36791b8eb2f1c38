"""bf16 GEMM speed in one run: hpc_kernels (cpu, bgemm) vs torch.matmul on bfloat16 tensors (oneDNN),
with the bf16 peak of the kernel in use as the ceiling: the AMX tile unit's (TDPBF16PS throughput,
_cpu.amx_peak) where the AMX kernel runs, else vdpbf16ps throughput (_cpu.bf16_peak).

    python benchmarks/bf16_gemm_vs_torch.py                       # n = 1024 2048 4096, 1 and 2 threads
    python benchmarks/bf16_gemm_vs_torch.py --sizes 1024 --threads 1 --rounds 7

Both libraries are timed interleaved, round by round (a noisy neighbour slows both alike; the
order rotates each round, so that each call follows each of the others equally often: a call
finds the caches as the one before it left them), with
CPU time of the process (time.process_time: all threads' time, so on a shared machine it does not
count time our threads spent descheduled) and wall time; the figures are medians over rounds with
the spread (max/min over rounds). GFLOP/s = 2 n^3 / time; for CPU time with t threads the rate per
thread is 2 n^3 / cpu_time, compared with the single-thread peak. Ratio > 1: we are faster.
Ours runs twice per round: on NumPy's arrays (np.empty starts large arrays 16 bytes into a cache
line) and on hpc_kernels.empty_aligned copies (64-byte aligned, as torch allocates its tensors),
where the AMX kernel reads the left operand in place instead of packing it.
--isolate: each library in processes of its own, one per library per round, alternating (in one
process the other library's idle OpenMP threads spin beside ours: at 2 threads that makes the
in-process ratio a measure of both pools); each process times --calls calls per case after a warm
one and reports their median, the figures are medians over rounds with the spread of the rounds.
Not a unit test: run by hand (the machine is shared; use nice).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import ml_dtypes
import numpy as np

import hpc_kernels as hk
from hpc_kernels import _cpu


def _time(fn, rounds):
    wall, cpu = [], []
    for _ in range(rounds):
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - w0)
        cpu.append(time.process_time() - c0)
    return wall, cpu


def _operands(n: int):
    rng = np.random.default_rng(0)
    return (rng.standard_normal((n, n), dtype=np.float32).astype(ml_dtypes.bfloat16) for _ in range(2))


def _torch_bf16(torch, x):
    return torch.from_numpy(x.view(np.uint16).astype(np.int32) << 16).view(torch.float32).to(torch.bfloat16)


def worker(args) -> None:
    """--isolate's child: {"n|threads": median seconds per call} of args.worker on one line."""
    torch = None
    if args.worker == "torch":
        import torch
    res = {}
    for n in args.sizes:
        a, b = _operands(n)
        if torch:
            ta, tb, tout = _torch_bf16(torch, a), _torch_bf16(torch, b), torch.empty((n, n), dtype=torch.bfloat16)
            fn = lambda: torch.matmul(ta, tb, out=tout)  # noqa: E731
        else:
            out = np.empty((n, n), ml_dtypes.bfloat16)
            fn = lambda: hk.matmul(a, b, out=out)  # noqa: E731
        for t in args.threads:
            if torch:
                torch.set_num_threads(t)
            with hk.num_threads(t):
                fn()
                res[f"{n}|{t}"] = statistics.median(_time(fn, args.calls)[0])
    print(json.dumps(res))


def isolated(args) -> None:
    argv = [x for x in sys.argv[1:] if x != "--isolate"]
    times = {"ours": {}, "torch": {}}
    for r in range(args.rounds):
        for lib in (["ours", "torch"] if r % 2 == 0 else ["torch", "ours"]):
            p = subprocess.run([sys.executable, os.path.abspath(__file__), "--worker", lib, *argv],
                               capture_output=True, text=True, check=True)
            for key, sec in json.loads(p.stdout.strip().splitlines()[-1]).items():
                times[lib].setdefault(key, []).append(sec)
    print(f"isolated: {args.rounds} rounds x one process per library, {args.calls} calls per case in each; "
          "ratio = torch's time / ours (> 1: ours faster)")
    print(f"{'n':>5} {'thr':>3} | {'ours':>9} {'torch':>9} {'ratio':>6} | {'GF/s/thr':>8} | spread ours / torch")
    for key, ours in times["ours"].items():
        n, t = (int(x) for x in key.split("|"))
        theirs = times["torch"][key]
        mo, mt = statistics.median(ours), statistics.median(theirs)
        print(f"{n:5d} {t:3d} | {mo * 1e3:7.2f}ms {mt * 1e3:7.2f}ms {mt / mo:6.3f} | {2.0 * n ** 3 / mo / t * 1e-9:8.1f} | "
              f"{max(ours) / min(ours):.2f} / {max(theirs) / min(theirs):.2f}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[1024, 2048, 4096])
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--isolate", action="store_true", help="each library in processes of its own (see above)")
    p.add_argument("--calls", type=int, default=9, help="--isolate: timed calls per case in each process (median)")
    p.add_argument("--worker", choices=["ours", "torch"], help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        return worker(args)
    if args.isolate:
        return isolated(args)
    import torch

    info = _cpu.binfo()
    peak = _cpu.amx_peak("bfloat16", 0.5) if info["amx"] else _cpu.bf16_peak(0.5)
    unit = "TDPBF16PS (AMX)" if info["amx"] else "vdpbf16ps"
    print(f"bf16 kernel: {info['ukernel']}; single-thread {unit} peak {peak:.1f} GFLOP/s; torch {torch.__version__}")
    print(f"{'n':>5} {'thr':>3} | {'ours wall':>10} {'torch wall':>10} {'ratio':>6} | {'ours cpu':>9} {'torch cpu':>9} "
          f"{'ratio':>6} | {'ours GF/s/thr':>13} {'% peak':>6} | {'aligned wall':>12} {'ratio':>6} {'% peak':>6} | "
          "spread ours/aligned/torch (max/min wall)")
    for n in args.sizes:
        a, b = _operands(n)
        out = np.empty((n, n), ml_dtypes.bfloat16)
        a64, b64, out64 = (hk.empty_aligned((n, n), ml_dtypes.bfloat16) for _ in range(3))
        a64[...], b64[...] = a, b
        ta, tb = _torch_bf16(torch, a), _torch_bf16(torch, b)
        tout = torch.empty((n, n), dtype=torch.bfloat16)
        for t in args.threads:
            torch.set_num_threads(t)
            with hk.num_threads(t):
                ours = lambda: hk.matmul(a, b, out=out)  # noqa: E731
                ours64 = lambda: hk.matmul(a64, b64, out=out64)  # noqa: E731
                theirs = lambda: torch.matmul(ta, tb, out=tout)  # noqa: E731
                ours(), ours64(), theirs()  # warm: packing buffers, thread teams, oneDNN's kernel choice
                ow, oc, aw, ac, tw, tc = [], [], [], [], [], []
                runs = [(ours, ow, oc), (ours64, aw, ac), (theirs, tw, tc)]
                for r in range(args.rounds):  # interleaved rounds, the order rotated: each runs after each
                    for fn, wall, cpu in runs[r % 3:] + runs[: r % 3]:
                        w, c = _time(fn, 1)
                        wall += w
                        cpu += c
            mow, moc, maw, mac, mtw, mtc = (statistics.median(x) for x in (ow, oc, aw, ac, tw, tc))
            gf, gfa = (2.0 * n ** 3 / x * 1e-9 for x in (moc, mac))  # per thread: CPU time sums the threads
            print(f"{n:5d} {t:3d} | {mow * 1e3:8.1f}ms {mtw * 1e3:8.1f}ms {mtw / mow:6.2f} | {moc * 1e3:7.1f}ms "
                  f"{mtc * 1e3:7.1f}ms {mtc / moc:6.2f} | {gf:13.1f} {100 * gf / peak:5.0f}% | "
                  f"{maw * 1e3:10.1f}ms {mtw / maw:6.2f} {100 * gfa / peak:5.0f}% | "
                  f"{max(ow) / min(ow):.2f} / {max(aw) / min(aw):.2f} / {max(tw) / min(tw):.2f}")


if __name__ == "__main__":
    main()
