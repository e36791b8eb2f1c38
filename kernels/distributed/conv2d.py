"""Batched conv2d over Dask: the batch is split into chunks, each convolved by hpc_kernels.conv2d on a
worker; the weights are shipped to the cluster once and shared by every chunk."""
from __future__ import annotations

import math
from typing import Any, Optional

import numpy as np

from ..workflow.arrays import aligned as _aligned
from ._graph import array_from, is_dask_array, on_cluster
from .cluster import client_for, current_client, require_distributed, worker_threads


def _chunk(x: np.ndarray, w: np.ndarray, bias: Optional[np.ndarray], options: dict) -> np.ndarray:
    """One batch chunk on a worker, with the threads the task owns there."""
    import hpc_kernels
    from ..workflow.resources import bound_threads

    x, w = _aligned(x), _aligned(w)
    with bound_threads():
        return hpc_kernels.conv2d(x, w, None if bias is None else _aligned(bias), **options)


def conv2d_graph(x: Any, w: Any, bias: Any, batch: int, **options: Any) -> Any:
    """The lazy dask array ``conv2d(x, w, bias, **options)`` for a dask array x split into chunks of
    `batch` images and single-block dask arrays w, bias (bias may be None)."""
    require_distributed()
    from dask.base import tokenize

    import hpc_kernels

    # kernels' own checks and output geometry, on an empty batch of the same shape (no compute).
    meta = hpc_kernels.conv2d(np.empty((0,) + tuple(x.shape[1:]), x.dtype), np.empty(w.shape, w.dtype),
                          None if bias is None else np.empty(bias.shape, bias.dtype), **options)
    x = x.rechunk((batch,) + tuple(-1 for _ in x.shape[1:]))
    name = "kernels-conv2d-" + tokenize(x.name, w.name, None if bias is None else bias.name, options)
    w_key = (w.name,) + (0,) * w.ndim
    b_key = None if bias is None else (bias.name, 0)
    dsk = {(name, i, 0, 0, 0): (_chunk, (x.name, i, 0, 0, 0), w_key, b_key, options) for i in range(len(x.chunks[0]))}
    deps = [x, w] + ([] if bias is None else [bias])
    chunks = (x.chunks[0],) + tuple((d,) for d in meta.shape[1:])
    return array_from(name, dsk, deps, chunks, meta.dtype)


def conv2d(
    x: Any,
    w: Any,
    bias: Any = None,
    *,
    batch: Optional[int] = None,
    client: Any = None,
    gather: bool = True,
    **options: Any,
) -> Any:
    """hpc_kernels.conv2d of a batch split over a Dask cluster (same arguments and results as
    hpc_kernels.conv2d: stride, padding, dilation, groups, layout, activation, scale, shift, algorithm,
    backend). batch: images per task (default: the batch spread evenly over the workers'
    threads). client, gather: as for hpc_kernels.distributed.gemm."""
    require_distributed()
    if "out" in options:
        raise TypeError("distributed conv2d: out= is not supported (the result is gathered or kept on the cluster)")
    if not gather and client is None and current_client() is None:
        raise ValueError("conv2d: gather=False keeps the result on the cluster; pass the client it should live on")
    x_arr = x if is_dask_array(x) else np.asarray(x)
    if x_arr.ndim != 4:
        raise ValueError(f"conv2d: x must be 4-D (a batch of images), got shape {tuple(x_arr.shape)}")
    with client_for(client) as cl:
        n = max(1, x_arr.shape[0])
        per = batch if batch is not None else math.ceil(n / worker_threads(cl))
        if per < 1:
            raise ValueError(f"conv2d: batch must be >= 1, got {per}")
        w_arr = w if is_dask_array(w) else np.asarray(w)
        b_arr = None if bias is None else bias if is_dask_array(bias) else np.asarray(bias)
        x_d = on_cluster(cl, x_arr, (per,) + tuple(-1 for _ in x_arr.shape[1:]))
        w_d = on_cluster(cl, w_arr, w_arr.shape)
        b_d = None if b_arr is None else on_cluster(cl, b_arr, b_arr.shape)
        y = conv2d_graph(x_d, w_d, b_d, per, **options)
        return cl.compute(y).result() if gather else cl.persist(y)
