"""pytest-benchmark suite for conv2d: every distinct conv layer of ResNet-50, VGG-16, AlexNet and
MobileNetV2 (224x224, batch 1, float32), NCHW and NHWC; kernels.conv2d per algorithm, the im2col +
NumPy baseline and torch (when installed) in the matching memory format; GFLOP/s in extra_info.
Run: pytest benchmarks/ --benchmark-only (a smoke run: --benchmark-disable, one call per test)."""
from __future__ import annotations

import numpy as np
import pytest

import kernels
from kernels.bench.conv2d import NumpyIm2col
from kernels.bench.layers import NETS, load

try:
    import torch
    import torch.nn.functional as F  # noqa: N812
except ImportError:
    torch = None

LAYERS = [layer for net in NETS for layer in load(net)]
IMPLS = ["auto", "im2col", "convgemm", "numpy"] + (["torch"] if torch is not None else [])


def _torch_fn(x, w, layer, layout):
    """torch.nn.functional.conv2d in the memory format of `layout` (channels_last for NHWC)."""
    xt = torch.from_numpy(x if layout == "NCHW" else x.transpose(0, 3, 1, 2))  # NHWC: already channels_last
    fmt = torch.contiguous_format if layout == "NCHW" else torch.channels_last
    xt, wt = xt.contiguous(memory_format=fmt), torch.from_numpy(w).contiguous(memory_format=fmt)

    def fn():
        with torch.inference_mode():
            return F.conv2d(xt, wt, None, **layer.conv_kwargs)

    return fn


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize("layer", LAYERS, ids=[f"{x.net}-{x.name.replace(' ', '_')}" for x in LAYERS])
def test_conv2d_layer(benchmark, impl, layout, layer):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(layer.x_shape(1, layout), dtype=np.float32)
    w = rng.standard_normal(layer.w_shape, dtype=np.float32)
    out = np.empty(layer.y_shape(1, layout), np.float32)
    if impl == "numpy":
        fn = NumpyIm2col(layer, x, w, layout, out)
    elif impl == "torch":
        fn = _torch_fn(x, w, layer, layout)
    else:
        try:  # an algorithm that does not take this layer is not a failure of the suite
            kernels.conv2d(x, w, **layer.conv_kwargs, layout=layout, algorithm=impl, out=out)
        except ValueError as exc:
            pytest.skip(f"{impl}: {exc}")
        fn = lambda: kernels.conv2d(x, w, **layer.conv_kwargs, layout=layout, algorithm=impl, out=out)  # noqa: E731
    threads = kernels.get_num_threads()
    old = torch.get_num_threads() if impl == "torch" else None
    if old is not None:
        torch.set_num_threads(threads)  # the count of the run (--kernels-threads), as for kernels
    try:
        benchmark.group = f"conv2d {layer.net} {layer.name} {layout} f32"
        benchmark(fn)
    finally:
        if old is not None:
            torch.set_num_threads(old)
    if benchmark.stats is not None:  # None under --benchmark-disable
        benchmark.extra_info["gflops"] = layer.flops / benchmark.stats.stats.median / 1e9
    benchmark.extra_info["threads"] = threads
    benchmark.extra_info["count"] = layer.count
