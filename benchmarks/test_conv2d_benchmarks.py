"""pytest-benchmark suite for conv2d: every distinct conv layer of ResNet-50, VGG-16, AlexNet and
MobileNetV2 (kernels/bench/layers/, 224x224, batch 1, float32; the opencl suite on ResNet-50 as
`bench conv2d --backend opencl`), NCHW and NHWC: hpc_kernels.conv2d per backend and algorithm, next to
the im2col + NumPy baseline, torch (when installed) in the matching memory format and CLBlast's
convgemm for opencl; GFLOP/s in extra_info.
Run: pytest benchmarks/ --benchmark-only (a smoke run: --benchmark-disable, one call per test)."""
from __future__ import annotations

import numpy as np
import pytest

import hpc_kernels
from hpc_kernels.bench.record import kind_of

from .impls import conv_fn, conv_params

PARAMS = conv_params()


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize("suite,layer,impl", PARAMS,
                         ids=[f"{s}-{x.net}-{x.name.replace(' ', '_')}-{i.replace(' ', '_')}" for s, x, i in PARAMS])
def test_conv2d_layer(benchmark, suite, layer, impl, layout):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(layer.x_shape(1, layout), dtype=np.float32)
    w = rng.standard_normal(layer.w_shape, dtype=np.float32)
    fn = conv_fn(impl, layer, x, w, layout)
    threads = hpc_kernels.get_num_threads()
    torch = None
    if impl == "torch":
        import torch  # conv_fn skipped the test without it

        old = torch.get_num_threads()
        torch.set_num_threads(threads)  # the count of the run (--kernels-threads), as for kernels
    try:
        benchmark.group = f"conv2d {suite} {layer.net} {layer.name} {layout} f32"
        benchmark(fn)
    finally:
        if torch is not None:
            torch.set_num_threads(old)
    if benchmark.stats is not None:  # None under --benchmark-disable
        benchmark.extra_info["gflops"] = layer.flops / benchmark.stats.stats.median / 1e9
    benchmark.extra_info.update(threads=threads, count=layer.count, suite=suite, kind=kind_of(impl))
