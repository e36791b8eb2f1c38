"""hpc_kernels.distributed and workflow tasks on a real Dask LocalCluster (loopback only, one cluster
per module): results equal the direct calls and the reference for shapes that do not divide the
block size; a task on a 1-thread worker runs 1 thread."""
from __future__ import annotations

import numpy as np
import pytest

import hpc_kernels

distributed = pytest.importorskip("distributed", reason="dask[distributed] (test extra) not installed")
pytest.importorskip("threadpoolctl", reason="threadpoolctl (test extra) not installed")
import hpc_kernels.distributed as kd  # noqa: E402
from hpc_kernels.workflow import conv2d_task, gemm_task  # noqa: E402

from _helpers import EPS  # noqa: E402


@pytest.fixture(scope="module")
def client():
    """Two worker processes of one thread each, everything on 127.0.0.1; closed after the module."""
    with kd.local_cluster(workers=2, threads_per_worker=1) as cluster, distributed.Client(cluster) as c:
        assert all(addr.startswith("tcp://127.0.0.1:") for addr in c.scheduler_info()["workers"])
        assert c.scheduler.address.startswith("tcp://127.0.0.1:")
        yield c


def _gemm_bound(a, b):
    a64, b64 = np.abs(a.astype(np.float64)), np.abs(b.astype(np.float64))
    return 2 * a.shape[1] * EPS[a.dtype] * (a64 @ b64)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("m, n, k, block", [(300, 200, 250, 128), (129, 257, 511, 64), (64, 64, 64, 64), (10, 700, 3, 256)])
def test_gemm_matches_reference(client, rng, dtype, m, n, k, block):
    a = rng.standard_normal((m, k)).astype(dtype)
    b = rng.standard_normal((k, n)).astype(dtype)
    c = kd.gemm(a, b, block=block, client=client)
    ref = hpc_kernels.gemm(a.astype(np.float64), b.astype(np.float64), backend="reference")
    assert c.dtype == dtype and c.shape == (m, n)
    assert np.all(np.abs(c - ref) <= _gemm_bound(a, b))


def test_gemm_of_dask_arrays_stays_on_the_cluster(client, rng):
    import dask.array as da

    a = rng.standard_normal((333, 190)).astype(np.float32)
    b = rng.standard_normal((190, 77)).astype(np.float32)
    c = kd.gemm(da.from_array(a, chunks=50), da.from_array(b, chunks=70), alpha=0.5, block=100, client=client, gather=False)
    assert type(c).__module__.startswith("dask.array") and c.chunks == ((100, 100, 100, 33), (77,))
    np.testing.assert_allclose(c.compute(), 0.5 * (a.astype(np.float64) @ b), rtol=1e-4, atol=1e-4)


def test_gemm_errors_before_any_work(client):
    with pytest.raises(ValueError, match=r"gemm: shapes \(3, 4\) and \(5, 6\) do not agree"):
        kd.gemm(np.ones((3, 4), np.float32), np.ones((5, 6), np.float32), client=client)
    with pytest.raises(TypeError, match="gemm: a and b must have the same dtype"):
        kd.gemm(np.ones((3, 4), np.float32), np.ones((4, 6)), client=client)
    with pytest.raises(ValueError, match="block must be >= 1"):
        kd.gemm(np.ones((3, 4)), np.ones((4, 6)), block=0, client=client)


def test_empty_inner_dimension(client):
    c = kd.gemm(np.ones((3, 0)), np.ones((0, 5)), client=client)
    np.testing.assert_array_equal(c, np.zeros((3, 5)))


def test_numpy_operands_are_laid_out_by_row_panels(client, rng):
    a = rng.standard_normal((300, 130)).astype(np.float32)
    b = rng.standard_normal((130, 90)).astype(np.float32)
    a_d, b_d = kd.scatter_operands(client, a, b, 64)
    assert a_d.chunks == ((64,) * 4 + (44,), (64, 64, 2)) and b_d.chunks == ((64, 64, 2), (64, 26))
    workers = sorted(client.scheduler_info()["workers"])
    who = client.who_has()
    held = [sorted(who[key]) for key in b_d.__dask_graph__().keys() if who.get(key)]
    assert len(held) == 6 and all(h == workers for h in held)  # every block of b on every worker
    c = kd.gemm_graph(a_d, b_d, 64).compute()
    assert np.all(np.abs(c - a.astype(np.float64) @ b) <= _gemm_bound(a, b))


def test_choose_block_gives_each_thread_a_large_block():
    assert kd.choose_block(8192, 8192, 8192, 2) == 4096
    assert kd.choose_block(8192, 8192, 8192, 4) == 2048
    assert kd.choose_block(1000, 300, 50, 2) == 512
    assert kd.choose_block(5000, 5000, 5000, 1) == 5120


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_conv2d_matches_direct_and_reference(client, rng, layout):
    x = rng.standard_normal((7, 6, 13, 11) if layout == "NCHW" else (7, 13, 11, 6)).astype(np.float32)
    w = rng.standard_normal((8, 3, 3, 3)).astype(np.float32)
    bias = rng.standard_normal(8).astype(np.float32)
    opts = dict(stride=2, padding=1, groups=2, layout=layout, activation="relu")
    y = kd.conv2d(x, w, bias, batch=3, client=client, **opts)  # 3 + 3 + 1 images
    np.testing.assert_array_equal(y, hpc_kernels.conv2d(x, w, bias, **opts))
    ref = hpc_kernels.conv2d(x.astype(np.float64), w.astype(np.float64), bias.astype(np.float64), backend="reference", **opts)
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5)


def test_conv2d_errors_use_the_shared_checks(client):
    with pytest.raises(ValueError, match="groups=4 must divide the input channels"):
        kd.conv2d(np.ones((2, 6, 5, 5), np.float32), np.ones((8, 1, 3, 3), np.float32), groups=4, client=client)
    with pytest.raises(TypeError, match="x is float32 but w is float64"):
        kd.conv2d(np.ones((2, 3, 5, 5), np.float32), np.ones((4, 3, 3, 3)), client=client)
    with pytest.raises(ValueError, match="x must be 4-D"):
        kd.conv2d(np.ones((3, 5, 5)), np.ones((4, 3, 3, 3)), client=client)


def test_tasks_on_workers_equal_direct_calls(client, rng):
    a = rng.standard_normal((90, 70)).astype(np.float32)
    b = rng.standard_normal((70, 50)).astype(np.float32)
    x = rng.standard_normal((2, 3, 9, 9)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    c, info = client.submit(gemm_task, a, b, info=True, pure=False).result()
    np.testing.assert_array_equal(c, hpc_kernels.gemm(a, b))
    y, _ = client.submit(conv2d_task, x, w, padding=1, info=True, pure=False).result()
    np.testing.assert_array_equal(y, hpc_kernels.conv2d(x, w, padding=1))
    assert info["where"].startswith("dask worker tcp://127.0.0.1:") and info["backend"] == "cpu"


def test_task_on_one_thread_worker_runs_one_thread(client, rng):
    a = rng.standard_normal((200, 200))
    # threads=4 asks for more than the task owns: it still gets the worker's one thread.
    infos = client.gather([client.submit(gemm_task, a, a, threads=4, info=True, pure=False) for _ in range(4)])
    for _, info in infos:
        assert info["threads"] == 1 and info["threads_from"].startswith("dask worker")


def test_task_gets_the_threads_of_its_worker(rng):
    """A worker with 2 threads running one task gives it both (or the cores there are); the
    caller's own thread count is untouched (the limit is per worker thread)."""
    from hpc_kernels._threads import cores

    a = rng.standard_normal((300, 300))
    before = hpc_kernels.get_num_threads()
    with kd.local_cluster(workers=1, threads_per_worker=2, processes=False) as cluster, distributed.Client(cluster) as c:
        _, info = c.submit(gemm_task, a, a, info=True, pure=False).result()
        assert kd.conv2d(np.ones((2, 1, 5, 5)), np.ones((1, 1, 3, 3)), client=c).shape == (2, 1, 3, 3)
    assert info["threads"] == min(2, cores()) and "2 threads, 1 running" in info["threads_from"]
    assert hpc_kernels.get_num_threads() == before
