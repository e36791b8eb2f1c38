"""pytest-benchmark fixtures: installed backends and the thread count of a benchmark run."""
from __future__ import annotations

import pytest

import hpc_kernels


def installed_backends():
    out = []
    for name in hpc_kernels.backend_names():
        try:
            hpc_kernels.get_backend(name)
            out.append(name)
        except ImportError:
            pass
    return out


def pytest_addoption(parser):
    parser.addoption("--kernels-threads", type=int, default=None, help="threads for every backend (default: all)")


@pytest.fixture(autouse=True)
def _threads(request):
    n = request.config.getoption("--kernels-threads")
    if n is None:
        yield
        return
    from threadpoolctl import threadpool_limits

    with hpc_kernels.num_threads(n), threadpool_limits(n):
        yield
