"""The Dask client a distributed kernel runs on: the caller's, or an embedded loopback LocalCluster."""
from __future__ import annotations

import contextlib
from typing import Any, Iterator, Optional

_MISSING = "hpc_kernels.distributed needs Dask; install it with: pip install 'hpc-kernels[dask]'"


def require_distributed():
    """The distributed module, or an ImportError naming the extra."""
    try:
        import dask.array  # noqa: F401
        import distributed
    except ImportError as exc:
        raise ImportError(f"{_MISSING} ({exc})") from None
    return distributed


def local_cluster(workers: int = 2, threads_per_worker: int = 1, processes: bool = True, **kwargs: Any):
    """An embedded LocalCluster on loopback only: scheduler and workers bound to 127.0.0.1 (worker
    processes) or in process (processes=False), the dashboard on a free loopback port; nothing
    listens on other interfaces."""
    distributed = require_distributed()
    if processes:  # worker processes re-import an unguarded script's __main__: say so, do not hang
        from .guard import check_main_guard

        check_main_guard()
    options = dict(n_workers=workers, threads_per_worker=threads_per_worker, processes=processes,
                   dashboard_address="127.0.0.1:0")
    if processes:  # TCP on loopback; threads-only clusters talk in process (inproc://), no socket at all
        options["host"] = "127.0.0.1"
    options.update(kwargs)
    return distributed.LocalCluster(**options)


@contextlib.contextmanager
def client_for(client: Optional[Any] = None, **cluster_options: Any) -> Iterator[Any]:
    """`client` itself, or the current default client, or else a client of a new embedded
    LocalCluster that is closed when the block ends."""
    distributed = require_distributed()
    client = client if client is not None else current_client()
    if client is not None:
        yield client
        return
    with local_cluster(**cluster_options) as cluster, distributed.Client(cluster) as own:
        yield own


def current_client() -> Optional[Any]:
    """The process's default Dask client, or None."""
    distributed = require_distributed()
    try:
        return distributed.get_client()
    except ValueError:  # no client in this process
        return None


def worker_threads(client: Any) -> int:
    """Threads of all the client's workers together (the parallelism a graph can use)."""
    return sum(w["nthreads"] for w in client.scheduler_info()["workers"].values()) or 1
