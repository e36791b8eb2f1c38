"""bf16 GEMM speed in one run: hpc_kernels (cpu, bgemm) vs torch.matmul on bfloat16 tensors (oneDNN),
with the bf16 peak of the kernel in use as the ceiling: the AMX tile unit's (TDPBF16PS throughput,
_cpu.amx_peak) where the AMX kernel runs, else vdpbf16ps throughput (_cpu.bf16_peak).

    python benchmarks/bf16_gemm_vs_torch.py                       # n = 1024 2048 4096, 1 and 2 threads
    python benchmarks/bf16_gemm_vs_torch.py --sizes 1024 --threads 1 --rounds 7

Both libraries are timed interleaved, round by round (a noisy neighbour slows both alike), with
CPU time of the process (time.process_time: all threads' time, so on a shared machine it does not
count time our threads spent descheduled) and wall time; the figures are medians over rounds with
the spread (max/min over rounds). GFLOP/s = 2 n^3 / time; for CPU time with t threads the rate per
thread is 2 n^3 / cpu_time, compared with the single-thread peak. Ratio > 1: we are faster.
Not a unit test: run by hand (the machine is shared; use nice).
"""
from __future__ import annotations

import argparse
import statistics
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


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[1024, 2048, 4096])
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--rounds", type=int, default=5)
    args = p.parse_args()
    import torch

    info = _cpu.binfo()
    peak = _cpu.amx_peak("bfloat16", 0.5) if info["amx"] else _cpu.bf16_peak(0.5)
    unit = "TDPBF16PS (AMX)" if info["amx"] else "vdpbf16ps"
    print(f"bf16 kernel: {info['ukernel']}; single-thread {unit} peak {peak:.1f} GFLOP/s; torch {torch.__version__}")
    rng = np.random.default_rng(0)
    print(f"{'n':>5} {'thr':>3} | {'ours wall':>10} {'torch wall':>10} {'ratio':>6} | {'ours cpu':>9} {'torch cpu':>9} "
          f"{'ratio':>6} | {'ours GF/s/thr':>13} {'% peak':>6} | spread ours/torch (max/min wall)")
    for n in args.sizes:
        a = rng.standard_normal((n, n)).astype(ml_dtypes.bfloat16)
        b = rng.standard_normal((n, n)).astype(ml_dtypes.bfloat16)
        out = np.empty((n, n), ml_dtypes.bfloat16)
        ta = torch.from_numpy(a.view(np.uint16).astype(np.int32) << 16).view(torch.float32).to(torch.bfloat16)
        tb = torch.from_numpy(b.view(np.uint16).astype(np.int32) << 16).view(torch.float32).to(torch.bfloat16)
        tout = torch.empty((n, n), dtype=torch.bfloat16)
        for t in args.threads:
            torch.set_num_threads(t)
            with hk.num_threads(t):
                ours = lambda: hk.matmul(a, b, out=out)  # noqa: E731
                theirs = lambda: torch.matmul(ta, tb, out=tout)  # noqa: E731
                ours(), theirs()  # warm: packing buffers, thread teams, oneDNN's kernel choice
                ow, oc, tw, tc = [], [], [], []
                for _ in range(args.rounds):  # interleaved rounds
                    w, c = _time(ours, 1)
                    ow += w
                    oc += c
                    w, c = _time(theirs, 1)
                    tw += w
                    tc += c
            mow, moc, mtw, mtc = (statistics.median(x) for x in (ow, oc, tw, tc))
            gf = 2.0 * n ** 3 / moc * 1e-9  # per thread: CPU time sums the threads
            print(f"{n:5d} {t:3d} | {mow * 1e3:8.1f}ms {mtw * 1e3:8.1f}ms {mtw / mow:6.2f} | {moc * 1e3:7.1f}ms "
                  f"{mtc * 1e3:7.1f}ms {mtc / moc:6.2f} | {gf:13.1f} {100 * gf / peak:5.0f}% | "
                  f"{max(ow) / min(ow):.2f} / {max(tw) / min(tw):.2f}")


if __name__ == "__main__":
    main()
