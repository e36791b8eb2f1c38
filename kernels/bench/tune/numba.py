"""`python -m hpc_kernels tune [gemm] --backend numba`: search the numba GEMM's block sizes (KC, the depth of the packed panels; NC, the width of the packed B block) and keep the fastest per dtype in the tuning store.

Every candidate runs hpc_kernels.gemm(backend="numba") at the given square sizes through the normal
call path, the store answering the candidate (Store.forced, nothing written); the result is
checked exactly (small-integer operands) before it is timed, interleaved with the others. The
fastest pair is recorded in the numba namespace of the tuning store (op "gemm", key the dtype)
under this CPU (model and the ISA numba compiles for); the defaults are in
kernels/backends/numba/gemm.py. Both are run-time arguments of the compiled kernel: no recompile.
"""
from __future__ import annotations

import argparse
import sys
from typing import List

import numpy as np

from ..timing import interleaved_medians
from .results import Item, save

KC = (128, 256, 384, 512)
NC = (512, 1024, 2048, 4096)


def candidates(itemsize: int) -> List[dict]:
    """KC x NC pairs whose packed B block (KC x NC elements) fits 4 MiB, the L2 of a large core and more."""
    return [{"KC": kc, "NC": nc} for kc in KC for nc in NC if kc * nc * itemsize <= 4 << 20]


def run(args: argparse.Namespace) -> int:
    import hpc_kernels

    from ... import _tuning
    from ...backends.numba import gemm as G

    st = _tuning.store()
    results: List[Item] = []
    for dt in map(np.dtype, args.dtype):
        rng = np.random.default_rng(0)
        ops = {n: (rng.integers(-3, 4, (n, n)).astype(dt), rng.integers(-3, 4, (n, n)).astype(dt), np.empty((n, n), dt))
               for n in args.sizes}
        fns, cands = {}, {}
        for i, c in enumerate(candidates(dt.itemsize)):
            with st.forced("numba", "gemm", dt.name, c):
                a, b, out = ops[args.sizes[0]]
                hpc_kernels.gemm(a, b, out=out, backend="numba")
                if not np.array_equal(out, a.astype(np.float64) @ b):
                    print(f"  {dt.name} KC={c['KC']} NC={c['NC']}: skipped (wrong result)")
                    continue

            def call(c=c) -> None:
                with st.forced("numba", "gemm", dt.name, c):
                    for a, b, out in ops.values():
                        hpc_kernels.gemm(a, b, out=out, backend="numba")

            fns[f"c{i}"], cands[f"c{i}"] = call, c
        if not fns:
            print(f"{dt.name}: no candidate ran", file=sys.stderr)
            return 1
        t = interleaved_medians(fns, rounds=args.rounds)
        flops = sum(2.0 * n ** 3 for n in args.sizes)
        for name in sorted(t, key=t.get)[:5]:
            print(f"  {dt.name} KC={cands[name]['KC']:<4} NC={cands[name]['NC']:<5}: {flops / t[name] / 1e9:7.1f} GFLOP/s over n = {args.sizes}")
        best = cands[min(t, key=t.get)]
        results.append(("gemm", dt.name, best, {"gflops": flops / t[min(t, key=t.get)] / 1e9, "sizes": list(args.sizes)}))
        print(f"numba {dt.name} on {G.DEVICE.name}: chose KC={best['KC']} NC={best['NC']} (default KC={G.KC} NC={G.NC[dt.itemsize]})")
    return save("numba", G.DEVICE, results, "block choices", args.dry_run)
