"""Kernels on a Dask cluster: a blocked GEMM over dask.array and a batched conv2d split over the
batch, both running kernels' own kernels on the workers::

    import hpc_kernels.distributed as kd
    c = kd.gemm(a, b)                         # embedded loopback LocalCluster, 2 x 1-thread workers
    with kd.local_cluster(workers=2) as cluster, distributed.Client(cluster) as client:
        c = kd.gemm(a, b, client=client, block=4096)
        y = kd.conv2d(x, w, padding=1, client=client)
"""
from __future__ import annotations

from .cluster import client_for, local_cluster, worker_threads
from .conv2d import conv2d, conv2d_graph
from .gemm import choose_block, gemm, gemm_graph
from .layout import scatter_operands

__all__ = ["choose_block", "client_for", "conv2d", "conv2d_graph", "gemm", "gemm_graph", "local_cluster", "scatter_operands", "worker_threads"]
