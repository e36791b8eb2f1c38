"""Blocked GEMM over dask.array: each block product runs hpc_kernels.gemm on a worker, and the sum
over k is a chain of accumulating products in the graph (C_ij += A_ik B_kj, one task per k)."""
from __future__ import annotations

import math
from typing import Any, Optional

import numpy as np

from .._validation import gemm_shapes, same_dtype
from ..workflow.arrays import aligned as _aligned
from ._graph import array_from, is_dask_array, on_cluster
from .layout import scatter_operands
from .cluster import client_for, current_client, require_distributed, worker_threads

_ALIGN = 256  # block sizes are multiples of this: whole micro-tiles and cache blocks per task
_MIN_BLOCK = 512  # below this a block product (~0.3 ms at 512) is of the order of a task's overhead


def _product(a: np.ndarray, b: np.ndarray, c: Optional[np.ndarray], alpha: float, backend: Optional[str]) -> np.ndarray:
    """One block product on a worker, with the threads the task owns there. The partial sum `c`
    is read, never written: it belongs to the worker's store (a retried task must see it intact)."""
    import hpc_kernels
    from ..workflow.resources import bound_threads

    a, b = _aligned(a), _aligned(b)
    with bound_threads():
        if c is None:
            return hpc_kernels.gemm(a, b, alpha=alpha, backend=backend)
        return hpc_kernels.gemm(a, b, _aligned(c), alpha=alpha, beta=1.0, out=np.empty_like(c), backend=backend)


def choose_block(m: int, n: int, k: int, threads: int) -> int:
    """The largest block (a multiple of 256, at least 512) that still gives every worker thread a
    row panel of the output: each product is then as large as the parallelism allows, and the
    number of tasks, so the total task overhead, is smallest."""
    block = math.ceil(max(m, n) / max(1, threads) / _ALIGN) * _ALIGN
    return max(_MIN_BLOCK, block)


def gemm_graph(a: Any, b: Any, block: int, alpha: float = 1.0, backend: Optional[str] = None) -> Any:
    """The lazy dask array alpha * a @ b for dask arrays a (m, k), b (k, n) in square blocks of `block`."""
    require_distributed()
    import dask.array as da
    from dask.base import tokenize

    dtype = same_dtype("gemm", a, b)
    m, n, k = gemm_shapes(a, b, False, False)
    if min(m, n, k) == 0:
        return da.zeros((m, n), dtype=dtype)  # BLAS: an empty inner dimension gives beta * C = 0
    a, b = a.rechunk(block), b.rechunk(block)
    name = "kernels-gemm-" + tokenize(a.name, b.name, block, alpha, backend)
    partial = name + "-partial"
    gm, gn, gk = len(a.chunks[0]), len(b.chunks[1]), len(a.chunks[1])
    dsk = {}
    for i in range(gm):
        for j in range(gn):
            prev = None
            for kk in range(gk):
                key = (name, i, j) if kk == gk - 1 else (partial, i, j, kk)
                dsk[key] = (_product, (a.name, i, kk), (b.name, kk, j), prev, alpha, backend)
                prev = key
    return array_from(name, dsk, [a, b], (a.chunks[0], b.chunks[1]), dtype)


def gemm(
    a: Any,
    b: Any,
    *,
    alpha: float = 1.0,
    block: Optional[int] = None,
    client: Any = None,
    gather: bool = True,
    backend: Optional[str] = None,
) -> Any:
    """``alpha * a @ b`` on a Dask cluster, block products by hpc_kernels.gemm on the workers.

    a, b: NumPy arrays (shipped once: a's row panels spread over the workers, b to every worker,
    see scatter_operands) or dask arrays (used where they are).
    block: block size (default: choose_block for the cluster's threads). client: a
    distributed.Client (default: the current one, else an embedded loopback LocalCluster with 2
    single-thread workers, closed afterwards). gather=True returns a NumPy array; gather=False
    returns the result as a dask array persisted on the workers (needs a client that outlives it).
    """
    require_distributed()
    same_dtype("gemm", a, b)  # checked before any data moves
    m, n, k = gemm_shapes(a, b, False, False)
    if not gather and client is None and current_client() is None:
        raise ValueError("gemm: gather=False keeps the result on the cluster; pass the client it should live on")
    with client_for(client) as cl:
        bs = block if block is not None else choose_block(m, n, k, worker_threads(cl))
        if bs < 1:
            raise ValueError(f"gemm: block must be >= 1, got {bs}")
        # Empty operands (gemm_graph gives zeros) and dask arrays stay where they are.
        if min(m, n, k) == 0 or is_dask_array(a) or is_dask_array(b):
            c = gemm_graph(on_cluster(cl, a, bs), on_cluster(cl, b, bs), bs, alpha, backend)
        else:
            c = gemm_graph(*scatter_operands(cl, np.asarray(a), np.asarray(b), bs), bs, alpha, backend)
        return cl.compute(c).result() if gather else cl.persist(c)


