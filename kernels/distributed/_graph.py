"""Helpers shared by the distributed kernels: inputs onto the cluster, arrays from hand-built graphs."""
from __future__ import annotations

from typing import Any, Dict, Tuple

from .cluster import require_distributed


def is_dask_array(x: Any) -> bool:
    return type(x).__module__.startswith("dask.array")


def on_cluster(client: Any, x: Any, chunks: Any) -> Any:
    """`x` as a dask array with `chunks` whose blocks live on the workers: a dask array is
    rechunked (lazily, the graph carries it), a NumPy array is cut into blocks and shipped once."""
    require_distributed()
    import dask.array as da

    if is_dask_array(x):
        return x.rechunk(chunks)
    return client.persist(da.from_array(x, chunks=chunks, asarray=True))


def array_from(name: str, dsk: Dict[Tuple, Any], dependencies: list, chunks: tuple, dtype: Any) -> Any:
    """The dask array whose blocks are the keys (name, i, j, ...) of `dsk` (a graph built by hand
    on top of the inputs' graphs)."""
    import dask.array as da
    from dask.highlevelgraph import HighLevelGraph

    graph = HighLevelGraph.from_collections(name, dsk, dependencies=dependencies)
    return da.Array(graph, name, chunks=chunks, dtype=dtype)
