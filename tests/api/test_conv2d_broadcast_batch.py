"""hpc_kernels.conv2d, hpc_kernels.Conv2d and hpc_kernels.im2col on inputs x with unusual strides (a zero
batch stride from np.broadcast_to, negative strides, slices, overlapping images, zero H / W / C
strides) on every cpu engine configuration, every algorithm, both layouts and both dtypes,
against the reference backend.

The layers are chosen around the NHWC convGemm packer's "full panel on one output row" shortcut
(conv_pack.cpp, pixel_cols): it once decided "one row" from the pixels' addresses, so with a zero
batch stride a panel that wrapped from one image into the same output row of the next (Ho == 1,
or NR > Ho*Wo pixels) read NR taps straight along the input row instead of restarting at wo = 0
(max error 3.6 on the AVX2 engine for the reported layer). Which panels wrap depends on NR
(4: generic, 6: AVX2 and AVX-512's 64x6 / 32x6, 12: AVX-512's 32x12 / 16x12), hence the engines
of conftest.cpu_engine: each ISA the CPU runs, with default and with tiny blocks, and each
AVX-512 micro-kernel forced.
"""
from __future__ import annotations

import functools
import zlib

import numpy as np
import pytest

import hpc_kernels
from _conv_reference import applicable_algorithms, conv2d_ref_and_bound
from _helpers import DTYPES, ISAS, assert_within_bound, dt_id
from _conv_cases import Layer  # the sweep's layer description (shared with test_conv2d)

LAYOUTS = ("NCHW", "NHWC")


LAYERS = [
    # The reported layer: H == R, so Ho == 1 (Wo = 5).
    Layer("report-Ho1-s23", 2, 8, 2, 17, 3, (2, 5), stride=(2, 3)),
    Layer("Ho1-3x3", 3, 8, 3, 17, 5, (3, 3)),
    Layer("H1-1x3", 3, 6, 1, 11, 13, (1, 3)),
    Layer("Ho1-pad-dil", 3, 5, 1, 15, 4, (3, 3), padding=1, dilation=(1, 2)),
    Layer("dw-H1-1x3", 3, 16, 1, 13, 16, (1, 3), groups=16),
    # Ho > 1 but fewer pixels per image than NR, kernels wide enough that NR taps fit in a row:
    # panels wrap into the same output row of a later image.
    Layer("Ho2-Wo4-1x9", 3, 4, 2, 12, 5, (1, 9)),   # NR = 12: pixels 0..11 = rows 0, 1 | 0
    Layer("Ho2-Wo2-1x5", 4, 5, 2, 6, 7, (1, 5)),    # NR = 6: pixels 6..11 = row 1 | 0, 1
    Layer("Ho3-Wo1-1x4", 3, 3, 3, 4, 6, (1, 4)),    # NR = 4: pixels 0..3 = rows 0, 1, 2 | 0
    # 1x1 layers (algorithm "gemm"; its merged-batch path tests the batch stride itself).
    Layer("1x1-H1", 3, 7, 1, 9, 5, (1, 1)),
    Layer("1x1-H3", 2, 6, 3, 5, 9, (1, 1)),
    # Ordinary layers: padding, stride, groups, the depthwise kernel.
    Layer("3x3-s2-p1-g2", 2, 6, 5, 9, 8, (3, 3), stride=2, padding=1, groups=2),
    Layer("dw-3x3-p1", 2, 8, 4, 7, 8, (3, 3), padding=1, groups=8),
]

# x views: (name, how the (N, A, B, C) view in the layer's layout is made from random values).
VIEWS = (
    "contiguous",
    "broadcast-batch",          # stride 0 along N (np.broadcast_to of one image)
    "broadcast-batch-reversed",  # stride 0 along N, negative strides elsewhere
    "broadcast-batch-other-layout",  # stride 0 along N, one image stored in the other layout
    "reversed",                 # every stride negative
    "reversed-batch",           # x[::-1]
    "sliced",                   # strided slices in every dimension
    "overlapping-batch",        # images one input row apart, sharing memory
    "broadcast-dim1",           # stride 0 along C (NCHW) or H (NHWC)
    "broadcast-dim2",           # stride 0 along H (NCHW) or W (NHWC)
    "broadcast-dim3",           # stride 0 along W (NCHW) or C (NHWC)
)


def make_view(view: str, shape, dtype, rng: np.random.Generator) -> np.ndarray:
    N, A, B, C = shape

    def normal(s):
        return rng.standard_normal(s).astype(dtype)

    if view == "contiguous":
        return normal(shape)
    if view == "broadcast-batch":
        return np.broadcast_to(normal((1, A, B, C)), shape)
    if view == "broadcast-batch-reversed":
        return np.broadcast_to(normal((1, A, B, C))[:, ::-1, ::-1, ::-1], shape)
    if view == "broadcast-batch-other-layout":
        return np.broadcast_to(np.ascontiguousarray(normal((1, C, A, B))).transpose(0, 2, 3, 1), shape)
    if view == "reversed":
        return normal(shape)[::-1, ::-1, ::-1, ::-1]
    if view == "reversed-batch":
        return normal(shape)[::-1]
    if view == "sliced":
        return normal((2 * N + 1, A + 2, B + 3, 2 * C + 1))[1::2, 1 : A + 1, 2 : B + 2, 1::2][:N]
    if view == "overlapping-batch":
        base = normal((N + A, B, C))
        return np.lib.stride_tricks.as_strided(base, shape, (base.strides[0],) + base.strides, writeable=False)
    if view.startswith("broadcast-dim"):
        d = int(view[-1])
        one = list(shape)
        one[d] = 1
        return np.broadcast_to(normal(tuple(one)), shape)
    raise ValueError(view)


def _seed(*parts) -> int:
    return zlib.crc32(" ".join(map(str, parts)).encode())


@functools.lru_cache(maxsize=None)
def case(layer: Layer, layout: str, dtype_name: str, view: str):
    """(x, w, reference-backend y, bound on |cpu y - reference y|), shared by every engine.

    Both backends lie within conv2d_ref_and_bound's (2*Kd + 8) * eps * magnitude of the exact
    result (checked here for the reference backend), so they differ by at most twice that."""
    dtype = np.dtype(dtype_name)
    rng = np.random.default_rng(_seed(layer.name, layout, dtype_name, view))
    x = make_view(view, layer.x_shape(layout), dtype, rng)
    w = rng.standard_normal(layer.w_shape).astype(dtype)
    exact, bound = conv2d_ref_and_bound(np.asarray(x), w, **layer.geo(layout))
    ref = hpc_kernels.conv2d(x, w, **layer.geo(layout), backend="reference")
    assert_within_bound(ref, exact, bound, f"{layer.name} {layout} {dtype_name} {view}: reference backend")
    return x, w, ref, 2 * bound


def _failures(got, ref, bound, what: str):
    err = np.abs(got.astype(np.float64) - ref)
    bad = ~(err <= bound)  # NaN counts as bad
    if not bad.any():
        return []
    images = sorted({int(i) for i in np.argwhere(bad)[:, 0]})
    return [f"{what}: {int(bad.sum())} bad element(s) in image(s) {images}, max |err| {float(np.nanmax(err)):.3g}"]


@pytest.mark.parametrize("dtype", DTYPES, ids=dt_id)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("layer", LAYERS, ids=lambda l: l.name)
def test_unusual_x_strides_every_algorithm(cpu_engine, layer, layout, dtype):
    """Every view x VIEWS, every applicable algorithm, one-shot and through a Conv2d plan (its
    prepacked weights take other packing paths): within the bound of the reference backend."""
    geo = layer.geo(layout)
    algorithms = applicable_algorithms(layer.x_shape(layout), layer.w_shape, layer.stride, layer.padding,
                                       layer.dilation, layer.groups, layout)
    failures = []
    for view in VIEWS:
        x, w, ref, bound = case(layer, layout, np.dtype(dtype).name, view)
        for algorithm in algorithms:
            got = hpc_kernels.conv2d(x, w, **geo, algorithm=algorithm, backend=cpu_engine)
            failures += _failures(got, ref, bound, f"{view} {algorithm}")
            plan = hpc_kernels.Conv2d(w, **geo, algorithm=algorithm, backend=cpu_engine)
            failures += _failures(plan(x), ref, bound, f"{view} {algorithm} Conv2d plan")
    assert not failures, f"{layer.name} {layout}:\n" + "\n".join(failures)


@pytest.mark.parametrize("isa", ISAS)
def test_reported_broadcast_batch_case(isa, cpu_config):
    """The reported failure, verbatim: NHWC convGemm, x = np.broadcast_to of one image, H == R
    (Ho == 1); the last image was wrong on the AVX2 engine (max error 3.62)."""
    cpu_config(isa)
    rng = np.random.default_rng(0)
    x = np.broadcast_to(rng.standard_normal((1, 2, 17, 8)), (2, 2, 17, 8))
    w = rng.standard_normal((3, 8, 2, 5))
    got = hpc_kernels.conv2d(x, w, stride=(2, 3), layout="NHWC", algorithm="convgemm", backend="cpu")
    exact, bound = conv2d_ref_and_bound(np.asarray(x), w, stride=(2, 3), layout="NHWC")
    assert_within_bound(got, exact, bound, f"{isa}")
    # Both images are the same image: so are their outputs, bit for bit.
    assert np.array_equal(got[0], got[1])


@pytest.mark.parametrize("dtype", DTYPES, ids=dt_id)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("layer", LAYERS, ids=lambda l: l.name)
def test_im2col_unusual_x_strides(layer, layout, dtype):
    """hpc_kernels.im2col on every view equals the reference backend's lowering exactly (a gather)."""
    failures = []
    for view in VIEWS:
        x = case(layer, layout, np.dtype(dtype).name, view)[0]
        opts = dict(stride=layer.stride, padding=layer.padding, dilation=layer.dilation, layout=layout)
        got = hpc_kernels.im2col(x, layer.RS, **opts, backend="cpu")
        ref = hpc_kernels.im2col(x, layer.RS, **opts, backend="reference")
        if not np.array_equal(got, ref):
            failures.append(f"{view}: {int((got != ref).sum())} element(s) differ")
    assert not failures, f"{layer.name} {layout}:\n" + "\n".join(failures)
