"""`python -m hpc_kernels demo`: the three-stage workflow on an embedded loopback LocalCluster, with a
progress line per finished task, a table of what ran where, timings and reference checks."""
from __future__ import annotations

import argparse
import math
import sys
import time
from typing import Any, Dict, List

import numpy as np

GRAM_BLOCK = 512  # block of the distributed Gram matrix (the smallest choose_block gives)
SIZES = {"quick": dict(batch=8, size=32, steps=40, every=10), "default": dict(batch=32, size=64, steps=200, every=25)}


def add_arguments(p: argparse.ArgumentParser) -> None:
    from .._cli_format import positive

    # Counts are checked at parse time: `--workers 0` would start a cluster no task can ever run on
    # (the first stage then waits forever), so 0 and negative values are usage errors (exit 2).
    p.add_argument("--quick", action="store_true", help="small problem (8 fields of 32x32, 40 steps): a few seconds")
    p.add_argument("--batch", type=positive, default=None, help="fields simulated (default 32; quick 8)")
    p.add_argument("--size", type=positive, default=None, help="field side in cells (default 64; quick 32)")
    p.add_argument("--steps", type=positive, default=None, help="heat steps (default 200; quick 40)")
    p.add_argument("--workers", type=positive, default=2, help="LocalCluster worker processes")
    p.add_argument("--threads-per-worker", type=positive, default=1, help="threads of each worker")


def _stage(label: str, futures: List[Any], t0: float) -> List[Any]:
    """Results of `futures` in order, printing a progress line as each one finishes."""
    from distributed import as_completed

    for done, fut in enumerate(as_completed(futures), 1):
        info = fut.result()[1]
        print(f"  [{label}] {done}/{len(futures)} done on {info['where']} ({time.perf_counter() - t0:.2f} s)", flush=True)
    return [f.result() for f in futures]


def _task(stage: str, first: np.ndarray, fn, *args: Any):
    """A stage function run as a workflow task on a worker: threads bound to what the task owns,
    backend and place recorded (hpc_kernels.workflow's task runner)."""
    from hpc_kernels.workflow.arrays import aligned
    from hpc_kernels.workflow.tasks import run_kernel

    # Arguments arrive from the network, possibly unaligned: aligned copies where needed.
    args = tuple({k: aligned(v) for k, v in a.items()} if isinstance(a, dict) else aligned(a) for a in args)
    value, info = run_kernel("conv2d", aligned(first), lambda be: fn(*args, backend=be), None, None, None, True)
    info["kernel"] = stage
    return value, info


def _onnx_task(stage: str, model: bytes, fields: np.ndarray):
    """The inference stage as hpc_kernels.workflow.onnx_task: the CNN's ONNX model through
    hpc_kernels.onnx.InferenceSession on a worker, threads bound as for the other stages."""
    from hpc_kernels.workflow.arrays import aligned
    from hpc_kernels.workflow.inference import onnx_task

    value, info = onnx_task(model, aligned(fields), info=True)
    info["kernel"] = stage
    return value, info


def _onnx_model(params: Dict[str, np.ndarray]):
    """The CNN as ONNX bytes, or (None, why) where onnx is not installed (the stage then calls the
    kernels directly, as before the ONNX runtime existed)."""
    try:
        import onnx  # noqa: F401
    except ImportError:
        return None, "onnx is not installed (pip install 'hpc-kernels[onnx]'): the CNN runs as direct conv2d/gemm calls"
    from . import stages

    return stages.cnn_onnx(params), ""


def _check(name: str, got: np.ndarray, ref: np.ndarray, bound: Any) -> Dict[str, Any]:
    err = np.abs(got.astype(np.float64) - ref)
    ok = bool(np.all(err <= bound))
    return {"check": name, "max_error": float(err.max()), "bound": float(np.max(bound)), "ok": ok}


def run(args: argparse.Namespace) -> int:
    try:
        import distributed
    except ImportError:
        print(f"{getattr(args, 'prog', 'python -m hpc_kernels')} demo needs Dask: pip install 'hpc-kernels[demo]'", file=sys.stderr)
        return 2
    import hpc_kernels
    import hpc_kernels.distributed as kd

    from . import stages

    size = dict(SIZES["quick" if args.quick else "default"])
    for key in ("batch", "size", "steps"):
        if getattr(args, key) is not None:  # (>= 1: checked by the parser)
            size[key] = getattr(args, key)
    size["every"] = max(1, min(size["every"], size["steps"]))
    b, n, steps, every = size["batch"], size["size"], size["steps"], size["every"]
    eps = float(np.finfo(np.float32).eps)
    print(f"demo workflow: {b} heat fields of {n}x{n}, {steps} steps (snapshot every {every}); "
          f"LocalCluster of {args.workers} workers x {args.threads_per_worker} thread(s) on 127.0.0.1")
    t_all = time.perf_counter()
    with kd.local_cluster(workers=args.workers, threads_per_worker=args.threads_per_worker) as cluster, \
            distributed.Client(cluster) as client:
        print(f"  cluster up in {time.perf_counter() - t_all:.1f} s, dashboard {client.dashboard_link}")
        fields = stages.initial_fields(b, n)
        chunk = math.ceil(b / kd.worker_threads(client))
        parts = [fields[i:i + chunk] for i in range(0, b, chunk)]
        rows, checks, timings = [], [], {}

        # (1) simulation: each task advances its share of the batch with conv2d stencils.
        t0 = time.perf_counter()
        futs = [client.submit(_task, "simulation", p, stages.simulate, p, steps, every, pure=False) for p in parts]
        sims = _stage("simulation", futs, t0)
        timings["simulation"] = time.perf_counter() - t0
        snaps = np.concatenate([s for s, _ in sims], axis=1)  # (snapshots, B, n, n)
        rows += [i for _, i in sims]
        ref = stages.simulate(fields.astype(np.float64), steps, every, backend="reference")
        # Each step adds at most 9 roundings of |u| <= max|u0| (positive weights summing to 1).
        checks.append(_check("simulation vs reference", snaps, ref, 2 * 9 * steps * eps * float(np.abs(fields).max())))

        # (2) analytics: PCA of every snapshot through the Gram matrix, a blocked GEMM on the cluster.
        t0 = time.perf_counter()
        x = snaps.reshape(-1, n * n)
        x = np.ascontiguousarray(x - x.mean(axis=0), dtype=np.float32)
        with distributed.get_task_stream(client) as stream:
            gram = kd.gemm(x, np.ascontiguousarray(x.T), client=client, block=GRAM_BLOCK)
        blocks = [t for t in stream.data if "kernels-gemm" in str(t["key"])]
        per_worker = {w: sum(t["worker"] == w for t in blocks) for w in sorted({t["worker"] for t in blocks})}
        # Each output block is one chain of products over k, run where its row panel of x lives: with
        # fewer output blocks than workers some workers get none (the default size: one block, one worker).
        chains = math.ceil(x.shape[0] / GRAM_BLOCK) ** 2
        print(f"  [analytics] Gram matrix {x.shape[0]}x{x.shape[0]} (k = {x.shape[1]}): {len(blocks)} block products "
              f"in {chains} chain(s) over k, " + ", ".join(f"{c} on {w}" for w, c in per_worker.items())
              + (f" ({args.workers - len(per_worker)} of {args.workers} workers idle)" if len(per_worker) < args.workers else ""),
              flush=True)
        fut = client.submit(_task, "analytics", x, stages.pca_from_gram, x, gram, 4, pure=False)
        (axes, explained), info = _stage("analytics", [fut], t0)[0]
        timings["analytics"] = time.perf_counter() - t0
        rows.append(info)
        x64 = x.astype(np.float64)
        gram_ref = hpc_kernels.gemm(x64, x64.T, backend="reference")
        checks.append(_check("Gram matrix (distributed gemm) vs reference", gram, gram_ref,
                             2 * x.shape[1] * eps * (np.abs(x64) @ np.abs(x64).T)))
        axes_ref, explained_ref = stages.pca_from_gram(x64, gram_ref, 4, backend="reference")
        checks.append(_check("explained variance vs reference", explained, explained_ref, 1e-4))

        # (3) inference: a small CNN on the final fields, split over the batch, run as an ONNX model
        # through hpc_kernels.onnx (the direct kernels where onnx is not installed).
        t0 = time.perf_counter()
        params = stages.cnn_params(np.float32)
        model, why = _onnx_model(params)
        print(f"  [inference] {'the CNN as an ONNX model (' + str(len(model)) + ' bytes) through hpc_kernels.onnx.InferenceSession' if model else why}",
              flush=True)
        final = [np.ascontiguousarray(snaps[-1, i:i + chunk, None]) for i in range(0, b, chunk)]
        if model is not None:
            futs = [client.submit(_onnx_task, "inference", model, f, pure=False) for f in final]
        else:
            futs = [client.submit(_task, "inference", f, stages.cnn, f, params, pure=False) for f in final]
        inf = _stage("inference", futs, t0)
        timings["inference"] = time.perf_counter() - t0
        scores = np.concatenate([s for s, _ in inf])
        rows += [i for _, i in inf]
        p64 = {k: v.astype(np.float64) for k, v in params.items()}
        ref = stages.cnn(snaps[-1][:, None].astype(np.float64), p64, backend="reference")
        checks.append(_check(f"CNN scores{' (ONNX model)' if model else ''} vs reference", scores, ref,
                             1e-4 * max(1.0, float(np.abs(ref).max()))))

    total = time.perf_counter() - t_all
    print("\nwhat ran where:")
    print(f"  {'task':<11} {'where':<34} {'backend':<8} {'threads':>7} {'seconds':>8}")
    for r in rows:
        print(f"  {r['kernel']:<11} {r['where']:<34} {r['backend']:<8} {r['threads']:>7} {r['seconds']:>8.3f}")
    print(f"  gemm blocks {len(blocks)} x hpc_kernels.distributed.gemm (block {GRAM_BLOCK}) on " + ", ".join(per_worker))
    print("\ntimings: " + ", ".join(f"{k} {v:.2f} s" for k, v in timings.items()) + f", total {total:.1f} s")
    print(f"results: PCA explained variance of the first 4 axes {np.round(explained, 4).tolist()}; "
          f"CNN (fixed random weights, untrained) class counts {np.bincount(np.argmax(scores, axis=1), minlength=4).tolist()}")
    print("\nchecks against the reference backend (float64):")
    for c in checks:
        print(f"  {'ok  ' if c['ok'] else 'FAIL'} {c['check']}: max error {c['max_error']:.3g} (bound {c['bound']:.3g})")
    return 0 if all(c["ok"] for c in checks) else 1
