"""pytest-benchmark suite for gemm: the cases of `python -m hpc_kernels bench gemm` for every installed
backend's suite (kernels/bench/cases.py: square sizes per suite, the ResNet-50 im2col rectangles on
cpu), each backend next to the reference libraries of its suite (NumPy, torch, CLBlast, cuBLAS);
GFLOP/s in extra_info. Run: pytest benchmarks/ --benchmark-only"""
from __future__ import annotations

import numpy as np
import pytest

import hpc_kernels
from hpc_kernels.bench.record import kind_of

from .impls import gemm_fn, gemm_params

PARAMS = gemm_params()


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("suite,case,impl", PARAMS, ids=[f"{s}-{c.name.replace(' ', '_')}-{i}" for s, c, i in PARAMS])
def test_gemm(benchmark, suite, case, impl, dtype):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((case.m, case.k)).astype(dtype)
    b = rng.standard_normal((case.k, case.n)).astype(dtype)
    fn = gemm_fn(impl, a, b)
    benchmark.group = f"gemm {suite} {np.dtype(dtype).name} {case.name} ({case.m}x{case.n}x{case.k})"
    benchmark(fn)
    if benchmark.stats is not None:  # None under --benchmark-disable
        benchmark.extra_info["gflops"] = case.flops / benchmark.stats.stats.median / 1e9
    benchmark.extra_info.update(threads=hpc_kernels.get_num_threads(), suite=suite, kind=kind_of(impl), count=case.count)
