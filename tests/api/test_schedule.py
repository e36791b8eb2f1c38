"""The cpu engine's work schedule (core/schedule.hpp): the dynamic one (units of rows or columns
taken at run time: column chunks from a shared counter, row chunks from ranges each thread owns
and the others steal from; the default) gives bit for bit what the static split gives, on the
grids of every driver path (M split with a shared B block, N split with B per thread, several k
and jc blocks, prepacked weights, int8), and within the K-scaled bound of a float64 reference."""
from __future__ import annotations

import numpy as np
import pytest

import hpc_kernels
from hpc_kernels import _cpu

from _helpers import check_gemm, python_code, rand


@pytest.fixture
def both_schedules():
    """Runs fn() under the static and the dynamic schedule, returns both results."""
    before = _cpu.get_schedule()

    def run(fn):
        out = {}
        for mode in ("static", "dynamic"):
            _cpu.set_schedule(mode)
            out[mode] = fn()
        return out["static"], out["dynamic"]

    yield run
    _cpu.set_schedule(before)


# (m, n, k): square (M split, shared B between barriers), short and wide (N split, column
# chunks), k beyond KC and n beyond NC (several pc and jc blocks: chunks run through all of K
# in order), fewer rows than three MC blocks per thread (rows in smaller units), tails everywhere.
GEMM_SHAPES = [(300, 200, 500), (40, 2000, 300), (257, 3001, 1500), (130, 70, 2100), (1, 900, 50), (77, 5, 3)]


@pytest.mark.parametrize("threads", [2, 3])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("m,n,k", GEMM_SHAPES)
def test_gemm_schedules_agree(both_schedules, threads, dtype, m, n, k):
    rng = np.random.default_rng(m * 7 + n + k)
    a, b, c0 = rand(rng, (m, k), dtype), rand(rng, (k, n), dtype), rand(rng, (m, n), dtype)

    def run():
        c = c0.copy()
        with hpc_kernels.num_threads(threads):
            hpc_kernels.gemm(a, b, c, alpha=1.5, beta=-0.5)
        return c

    static, dynamic = both_schedules(run)
    np.testing.assert_array_equal(dynamic, static)
    check_gemm(dynamic, a, b, c0, 1.5, -0.5, what=f"dynamic schedule {m}x{n}x{k}, {threads} threads")


@pytest.mark.parametrize("threads", [2, 3])
@pytest.mark.parametrize("layout", ["NHWC", "NCHW"])
@pytest.mark.parametrize("ksize,cin,cout,hw", [(1, 64, 96, 56), (3, 32, 48, 30), (3, 130, 40, 9)])
def test_conv_plan_schedules_agree(both_schedules, threads, layout, ksize, cin, cout, hw):
    rng = np.random.default_rng(ksize + cin + hw)
    # Integer-valued data: every partial sum is exact, so the result is the exact convolution.
    shape = (1, hw, hw, cin) if layout == "NHWC" else (1, cin, hw, hw)
    x = rng.integers(-3, 4, shape).astype(np.float32)
    w = rng.integers(-3, 4, (cout, cin, ksize, ksize)).astype(np.float32)
    plan = hpc_kernels.Conv2d(w, padding=ksize // 2, layout=layout)

    def run():
        with hpc_kernels.num_threads(threads):
            return plan(x)

    static, dynamic = both_schedules(run)
    np.testing.assert_array_equal(dynamic, static)
    ref = hpc_kernels.conv2d(x, w, padding=ksize // 2, layout=layout, backend="reference")
    np.testing.assert_array_equal(dynamic, ref)


@pytest.mark.parametrize("threads", [2, 3])
@pytest.mark.parametrize("m,n,k", [(64, 3000, 300), (300, 200, 64), (33, 700, 1030)])
def test_qgemm_schedules_agree(both_schedules, threads, m, n, k):
    rng = np.random.default_rng(m + n + k)
    a = rng.integers(0, 256, (m, k)).astype(np.uint8)
    b = rng.integers(-128, 128, (k, n)).astype(np.int8)

    def run():
        with hpc_kernels.num_threads(threads):
            return hpc_kernels.qgemm(a, b, a_zero_point=3, b_zero_point=-2)

    static, dynamic = both_schedules(run)
    np.testing.assert_array_equal(dynamic, static)
    ref = (a.astype(np.int64) - 3) @ (b.astype(np.int64) + 2)
    np.testing.assert_array_equal(dynamic, ref.astype(np.int32))


def test_set_schedule_rejects_unknown_names():
    before = _cpu.get_schedule()
    with pytest.raises(ValueError, match="dynamic, static"):
        _cpu.set_schedule("guided")
    assert _cpu.get_schedule() == before


def test_schedule_from_the_environment():
    code = ("import numpy as np, hpc_kernels; hpc_kernels.gemm(np.ones((2, 2), np.float32), np.ones((2, 2), np.float32)); "
            "from hpc_kernels import _cpu; print(_cpu.get_schedule())")
    assert python_code(code, {"KERNELS_CPU_SCHEDULE": "static"}).stdout.strip().endswith("static")
    bad = python_code(code, {"KERNELS_CPU_SCHEDULE": "guided"})
    assert bad.returncode != 0 and "KERNELS_CPU_SCHEDULE" in bad.stderr and "dynamic, static" in bad.stderr
