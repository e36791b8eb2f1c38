"""pytest-benchmark suite for gemm: square sizes and ResNet-50 im2col rectangles, every installed
backend plus NumPy, GFLOP/s in extra_info. Run: pytest benchmarks/ --benchmark-only"""
from __future__ import annotations

import numpy as np
import pytest

import kernels
from kernels.bench.cases import SQUARE_FULL, resnet50_layers

from .conftest import installed_backends

SQUARES = [n for n in SQUARE_FULL if n >= 64]
LAYERS = resnet50_layers()
IMPLS = installed_backends() + ["numpy"]


def _run(benchmark, impl, dtype, m, n, k):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((m, k)).astype(dtype)
    b = rng.standard_normal((k, n)).astype(dtype)
    out = np.empty((m, n), dtype)
    if impl == "numpy":
        fn = lambda: np.matmul(a, b, out=out)  # noqa: E731
    else:
        fn = lambda: kernels.gemm(a, b, out=out, backend=impl)  # noqa: E731
    benchmark.group = f"gemm {np.dtype(dtype).name} {m}x{n}x{k}"
    benchmark(fn)
    if benchmark.stats is not None:  # None under --benchmark-disable
        benchmark.extra_info["gflops"] = 2.0 * m * n * k / benchmark.stats.stats.median / 1e9
    benchmark.extra_info["threads"] = kernels.get_num_threads()


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("n", SQUARES)
def test_gemm_square(benchmark, impl, dtype, n):
    _run(benchmark, impl, dtype, n, n, n)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("layer", LAYERS, ids=[d["name"].replace(" ", "_") for d in LAYERS])
def test_gemm_resnet50(benchmark, impl, dtype, layer):
    _run(benchmark, impl, dtype, layer["M"], layer["N"], layer["K"])
