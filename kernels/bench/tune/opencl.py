"""`python -m hpc_kernels tune [gemm] --backend opencl`: search the NDRange tile sizes of the OpenCL device and keep the fastest in the tuning store.

Every candidate of kernels/backends/opencl/tiles.py (register blocks on CPU devices, group shapes
and local tiles on GPUs) runs the GEMM on device arrays at a few square sizes; the candidate with
the least total time is recorded per device (name, platform, driver) and dtype in the opencl
namespace of the tuning store (op "gemm", kernels/_tuning.py), where the opencl backend reads it
for GEMM and conv2d. A candidate that fails to build or gives a wrong result is skipped and said so.
"""
from __future__ import annotations

import argparse
import sys
from typing import List

import numpy as np

from ..timing import interleaved_medians
from .results import Item, save


def run(args: argparse.Namespace) -> int:
    import pyopencl as cl
    import pyopencl.array as cla

    from ...backends.opencl import launch as L
    from ...backends.opencl import runtime as rt
    from ...backends.opencl import tiles

    dev = rt.default_device()  # the front end (cli.py) has checked that a device builds programs
    sizes = args.sizes
    results: List[Item] = []
    for dt in map(np.dtype, args.dtype):
        if dt == np.float64 and not dev.fp64:
            print(f"{dev.name}: no float64 support, float64 not tuned")
            continue
        rng = np.random.default_rng(0)
        ops = {}
        for n in sizes:
            a, b = rng.integers(-3, 4, (n, n)).astype(dt), rng.integers(-3, 4, (n, n)).astype(dt)
            ops[n] = (a, b, cla.to_device(dev.queue, a), cla.to_device(dev.queue, b), cla.empty(dev.queue, (n, n), dt))
        fns, cands = {}, {}
        for i, t in enumerate(tiles.candidates(dev)):
            name = f"c{i}"
            try:
                _gemm(L, dev, dt, ops[sizes[0]], t)  # builds, and checks the result exactly
            except (cl.Error, AssertionError) as exc:
                print(f"  skipped {t}: {type(exc).__name__}: {str(exc).splitlines()[0][:120]}")
                continue
            fns[name] = lambda t=t: [_gemm(L, dev, dt, ops[n], t, check=False) for n in sizes] and dev.queue.finish()
            cands[name] = t
        if not fns:
            print(f"no candidate ran on {dev.name}", file=sys.stderr)
            return 1
        times = interleaved_medians(fns, rounds=args.rounds, sample_s=0.05)
        flops = sum(2.0 * n ** 3 for n in sizes)
        for name in sorted(times, key=times.get)[:5]:
            print(f"  {dt.name} {_text(cands[name])}: {flops / times[name] / 1e9:7.1f} GFLOP/s over n = {sizes}")
        best = min(times, key=times.get)
        results.append(("gemm", dt.name, cands[best], {"gflops": flops / times[best] / 1e9, "sizes": sizes}))
        print(f"{dev.name} {dt.name}: chose {_text(cands[best])}")
    return save("opencl", tiles.device(dev), results, "tile choices", args.dry_run)


def _gemm(L, dev, dt, op, t, check: bool = True) -> None:
    a, b, ad, bd, cd = op
    n = a.shape[0]
    o = L.Operand.of
    L.gemm_ndrange(dev, dt, L.Gemm(n, n, n, 1.0, 0.0, o(ad), o(bd), o(cd), o(cd)), t=t)
    if check:
        assert np.array_equal(cd.get(), a.astype(np.float64) @ b), "wrong result"


def _text(t: dict) -> str:
    return (f"{t['MWI']}x{t['VW'] * t['NVEC']} per item (VW={t['VW']}), group {t['WGM']}x{t['WGN']}, "
            f"KWG={t['KWG']}, SB={t['SB']}, M_FIRST={t['M_FIRST']}")
