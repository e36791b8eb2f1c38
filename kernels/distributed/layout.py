"""Where the GEMM operands live on the cluster: A's row panels spread over the workers, B on every
worker, so that every block product finds its operands (and the partial sum it adds to) where it
runs and no block travels during the product."""
from __future__ import annotations

from typing import Any, List, Tuple

import numpy as np


def _blocks(x: np.ndarray, row: int, block: int) -> List[np.ndarray]:
    return [np.ascontiguousarray(x[row:row + block, c:c + block]) for c in range(0, x.shape[1], block)]


def scatter_operands(client: Any, a: np.ndarray, b: np.ndarray, block: int) -> Tuple[Any, Any]:
    """(a, b) as dask arrays in square blocks of `block`, shipped once: the row panel p of `a` (its
    blocks A_p0 ... A_pK) on worker p mod W, every block of `b` on every worker. The scheduler places
    a task where most of its input bytes are, so the chain C_pj = sum_k A_pk B_kj runs on panel p's
    worker: the row distribution of a 1-D parallel GEMM, at the cost of one copy of b per worker."""
    import dask.array as da

    workers = sorted(client.scheduler_info()["workers"])
    a_rows = []
    for p, row in enumerate(range(0, a.shape[0], block)):
        blocks = _blocks(a, row, block)
        futures = client.scatter(blocks, workers=[workers[p % len(workers)]], hash=False)
        a_rows.append([da.from_delayed(f, x.shape, x.dtype) for f, x in zip(futures, blocks)])
    b_blocks = [_blocks(b, row, block) for row in range(0, b.shape[0], block)]
    futures = iter(client.scatter([x for r in b_blocks for x in r], broadcast=True, hash=False))
    b_rows = [[da.from_delayed(next(futures), x.shape, x.dtype) for x in r] for r in b_blocks]
    return da.block(a_rows), da.block(b_rows)
