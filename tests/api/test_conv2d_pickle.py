"""Conv2d plans survive pickle, copy.deepcopy and a trip to a Dask worker process: the plan carries
its constructor arguments and packs the weights again where it is loaded (the packed weights, a C++
object on the cpu backend, cannot be pickled)."""
from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest

import hpc_kernels

from _helpers import EPS


def _layer(rng, dtype=np.float32):
    x = rng.standard_normal((2, 6, 9, 9)).astype(dtype)
    w = rng.standard_normal((4, 3, 3, 3)).astype(dtype)
    bias, scale, shift = (rng.standard_normal(4).astype(dtype) for _ in range(3))
    opts = dict(stride=(1, 2), padding=1, groups=2, activation="relu", scale=scale, shift=shift, algorithm="direct")
    return x, w, bias, opts


def _backends():
    return [n for n in ("cpu", "numba", "reference") if hpc_kernels._dispatch._load(n).available]


@pytest.mark.parametrize("backend", _backends())
def test_pickle_and_deepcopy_give_the_same_plan(rng, backend):
    x, w, bias, opts = _layer(rng)
    plan = hpc_kernels.Conv2d(w, bias, backend=backend, **opts)
    want = plan(x)
    for other in (pickle.loads(pickle.dumps(plan)), copy.deepcopy(plan), copy.copy(plan)):
        assert type(other) is hpc_kernels.Conv2d and other is not plan
        assert other.spec == plan.spec and other.algorithm == plan.algorithm and other.dtype == plan.dtype
        assert other.weight_shape == plan.weight_shape and repr(other) == repr(plan)
        np.testing.assert_array_equal(other(x), want)  # same backend, same weights, same kernel: same bits


def test_pickle_holds_the_weights_the_plan_was_built_with(rng):
    """Changing the caller's arrays after building changes neither the plan nor its pickle."""
    x, w, bias, opts = _layer(rng)
    plan = hpc_kernels.Conv2d(w, bias, **opts)
    want = plan(x)
    w[...] = 0
    bias[...] = 0
    opts["scale"][...] = 0
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(plan))(x), want)
    np.testing.assert_array_equal(plan(x), want)


def test_plan_computes_on_a_dask_worker_process(rng):
    distributed = pytest.importorskip("distributed", reason="dask[distributed] (test extra) not installed")
    import hpc_kernels.distributed as kd

    x, w, bias, opts = _layer(rng, np.float64)
    plan = hpc_kernels.Conv2d(w, bias, **opts)
    want = plan(x)
    with kd.local_cluster(workers=1, threads_per_worker=1, processes=True) as cluster, distributed.Client(cluster) as c:
        assert all(a.startswith("tcp://127.0.0.1:") for a in c.scheduler_info()["workers"])  # loopback only
        [remote_plan] = c.scatter([plan], broadcast=True)  # the plan itself travels (pickled), not a closure over it
        got = c.submit(lambda p, xs: p(xs), remote_plan, x).result()
        pid = c.submit(lambda: __import__("os").getpid()).result()
    assert pid != __import__("os").getpid()
    # The worker packs again with the same backend choice and kernels: equal within rounding.
    np.testing.assert_allclose(got, want, rtol=0, atol=64 * EPS[np.dtype(np.float64)] * np.abs(want).max())


def test_pickle_of_a_plan_built_from_lists():
    """bias given as a Python list (converted to w's dtype when the plan is built) reloads too."""
    w = np.ones((4, 2, 3, 3), np.float32)
    x = np.ones((1, 2, 5, 5), np.float32)
    plan = hpc_kernels.Conv2d(w, [1, 2, 3, 4], shift=[0.5, 0, 0, 0])
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(plan))(x), plan(x))
