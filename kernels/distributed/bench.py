"""`python -m hpc_kernels.distributed.bench`: the blocked GEMM on a loopback LocalCluster against one
process running hpc_kernels.gemm with the same total threads, and the task overhead per block.

The operands are shipped to the workers once before any timing (hpc_kernels.distributed.scatter_operands:
A's row panels spread over the workers, B on each), as a workflow's data would live in the
cluster; the single process multiplies the same matrices. Each round times both,
interleaved, and the medians are compared. The distributed time is to the result persisted on the
workers (and, separately, gathered to the client). The task stream gives every block product's
compute time: overhead per block = (wall x worker threads - sum of block compute times) / blocks,
i.e. the scheduling, transfer and idle time each block adds; the bare Dask cost of a task is
measured on empty tasks too.
"""
from __future__ import annotations

import argparse
import collections
import json
import statistics
import sys
import time


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m hpc_kernels.distributed.bench", description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=8192, help="square size (default 8192)")
    p.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--block", type=int, default=None, help="block size (default: hpc_kernels.distributed.choose_block)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    args = p.parse_args(argv)

    import distributed
    import numpy as np

    import hpc_kernels
    import hpc_kernels.distributed as kd

    n, workers = args.n, args.workers
    with kd.local_cluster(workers=workers, threads_per_worker=1) as cluster, distributed.Client(cluster) as client:
        block = args.block or kd.choose_block(n, n, n, kd.worker_threads(client))
        rng = np.random.default_rng(0)
        a = rng.standard_normal((n, n), dtype=np.float32).astype(args.dtype)
        b = rng.standard_normal((n, n), dtype=np.float32).astype(args.dtype)
        a_d, b_d = kd.scatter_operands(client, a, b, block)  # shipped once, before any timing
        local_s, dist_s, gather_s, overhead_s, compute_s = [], [], [], [], []
        blocks = 0
        for r in range(args.rounds + 1):  # round 0 warms up both (pools, pages, imports)
            with hpc_kernels.num_threads(workers):
                t0 = time.perf_counter()
                c_local = hpc_kernels.gemm(a, b)
                t_local = time.perf_counter() - t0
            time.sleep(0.5)
            with distributed.get_task_stream(client) as ts:
                wall0, t0 = time.time(), time.perf_counter()  # time.time(): the task stream's clock
                c_d = client.persist(kd.gemm_graph(a_d, b_d, block))
                distributed.wait(c_d)
                t_dist = time.perf_counter() - t0
            t0 = time.perf_counter()
            c_got = c_d.compute()
            t_gather = time.perf_counter() - t0
            products = [t for t in ts.data if "kernels-gemm" in str(t["key"])]
            busy = sum(s["stop"] - s["start"] for t in products for s in t["startstops"] if s["action"] == "compute")
            blocks = len(products)
            spans = sorted((s["start"], s["stop"]) for t in products for s in t["startstops"] if s["action"] == "compute")
            # Where the time outside the products goes: before the first starts (graph submission,
            # scheduling), after the last ends (result registration, wait), and between them.
            split = (spans[0][0] - wall0, wall0 + t_dist - max(e for _, e in spans))
            per_worker = sorted(collections.Counter(t["worker"] for t in products).values())
            if r == 0:
                err = float(np.max(np.abs(c_got - c_local)) / np.max(np.abs(c_local)))
                print(f"n={n} {args.dtype}, {workers} workers x 1 thread, block {block}: {blocks} block products; "
                      f"max |distributed - local| / max |local| = {err:.2e}", flush=True)
            else:
                local_s.append(t_local)
                dist_s.append(t_dist)
                gather_s.append(t_gather)
                compute_s.append(busy / blocks)
                overhead_s.append((t_dist * workers - busy) / blocks)
                print(f"round {r}: single process {t_local:.3f} s, distributed {t_dist:.3f} s "
                      f"(ratio {t_dist / t_local:.3f}), gather {t_gather:.3f} s, block compute {busy / blocks:.3f} s, "
                      f"overhead per block {(t_dist * workers - busy) / blocks * 1e3:.1f} ms "
                      f"(first product starts after {split[0] * 1e3:.0f} ms, wait returns {split[1] * 1e3:.0f} ms after the last; "
                      f"products per worker {per_worker})", flush=True)
            del c_d, c_got
            time.sleep(0.5)
        # The bare cost of a Dask task on this cluster: 2000 empty tasks, wall x threads / tasks.
        t0 = time.perf_counter()
        client.gather(client.map(lambda i: i, range(2000), pure=False))
        empty = (time.perf_counter() - t0) * workers / 2000

    med = {k: statistics.median(v) for k, v in
           dict(local=local_s, distributed=dist_s, gather=gather_s, overhead=overhead_s, compute=compute_s).items()}
    flops = 2.0 * n ** 3
    print(f"\nmedians of {args.rounds}: single-process {workers}-thread hpc_kernels.gemm {med['local']:.3f} s "
          f"({flops / med['local'] / 1e9:.0f} GFLOP/s); distributed {med['distributed']:.3f} s "
          f"({flops / med['distributed'] / 1e9:.0f} GFLOP/s), ratio {med['distributed'] / med['local']:.3f}; "
          f"+ gather {med['gather']:.3f} s (ratio with gather {(med['distributed'] + med['gather']) / med['local']:.3f})")
    print(f"block {block}: {blocks} products of {med['compute']:.3f} s each; task overhead per block "
          f"{med['overhead'] * 1e3:.1f} ms; empty Dask task {empty * 1e3:.2f} ms")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(n=n, dtype=args.dtype, workers=workers, block=block, blocks=blocks, rounds=args.rounds,
                           medians_s=med, empty_task_s=empty, local_s=local_s, distributed_s=dist_s), f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
