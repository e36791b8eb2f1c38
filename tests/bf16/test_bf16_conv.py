"""bfloat16 conv2d and Conv2d plans on every engine: exact on small integers (products, sums and the
fp32 epilogue exact, one final rounding) against the float64 reference of the tests' own NumPy
convolution, both layouts, groups, depthwise, stride/padding/dilation, bias/scale/shift,
activations, residual (in place too), out_dtype fp32, a random layer within a K-scaled bound."""
from __future__ import annotations

import pickle

import numpy as np
import pytest

import hpc_kernels as hk
from _bref import BF16, F32, F64, ints, rand
from hpc_kernels._api import conv_args as A
from hpc_kernels.backends.reference import conv as npconv

LAYERS = [  # n, c, h, w, k, r, s, stride, padding, dilation, groups
    (2, 3, 7, 6, 4, 3, 3, 1, 1, 1, 1),
    (2, 5, 9, 8, 5, 3, 3, 2, (2, 1, 0, 3), (1, 2), 5),  # depthwise, stride 2, uneven padding, dilation
    (1, 8, 9, 9, 6, 3, 2, 2, (1, 0, 2, 1), 1, 2),
    (2, 6, 8, 7, 6, 3, 3, 1, 2, 2, 6),  # depthwise
    (1, 4, 5, 5, 8, 1, 1, 1, 0, 1, 4),  # depthwise, channel multiplier 2
    (1, 5, 6, 6, 7, 1, 1, 1, 0, 1, 1),  # pointwise
]


def _ref(x, w, bias, scale, shift, layout, stride, padding, dilation, groups, act, residual, odt):
    """float64 of the bf16 inputs and fp32 vectors, rounded once to odt."""
    spec = A.make_spec("ref", stride, padding, dilation, groups, layout, act)
    shape = A.shape_of("ref", x.shape, w.shape, spec)
    res = None if residual is None else residual.astype(F64)
    y = npconv.conv2d(x.astype(F64), w.astype(F64), bias, scale, shift, spec, shape, F64, res)
    return y.astype(odt)


def _nhwc(x):
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1))


@pytest.mark.parametrize("algorithm", ["auto", "im2col"])  # depthwise: the direct kernel, then im2col
@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize("layer", LAYERS, ids=lambda l: "x".join(map(str, l[:7])) + f"-g{l[-1]}")
def test_conv2d_exact_small_integers(bengine, rng, layer, layout, algorithm):
    n, c, h, w_, k, r, s, stride, padding, dilation, groups = layer
    x = ints(rng, (n, c, h, w_), -3, 3)
    x = _nhwc(x) if layout == "NHWC" else x
    w = ints(rng, (k, c // groups, r, s), -3, 3)
    bias = rng.integers(-5, 6, k).astype(F32)
    scale = rng.choice([0.5, 1.0, 2.0], k).astype(F32)
    shift = rng.integers(-3, 4, k).astype(F32)
    for odt, act in ((BF16, "relu"), (F32, None)):
        got = hk.conv2d(x, w, bias, stride=stride, padding=padding, dilation=dilation, groups=groups, layout=layout,
                        activation=act, scale=scale, shift=shift, backend=bengine, algorithm=algorithm,
                        out_dtype=None if odt == BF16 else np.float32)
        want = _ref(x, w, bias, scale, shift, layout, stride, padding, dilation, groups, act, None, odt)
        assert got.dtype == odt
        np.testing.assert_array_equal(got.astype(F64), want.astype(F64))


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_conv2d_residual_in_place_and_out_view(bengine, rng, layout):
    x = ints(rng, (2, 4, 6, 6), -2, 2)
    x = _nhwc(x) if layout == "NHWC" else x
    w = ints(rng, (6, 2, 3, 3), -2, 2)
    shape = (2, 6, 6, 6) if layout == "NCHW" else (2, 6, 6, 6)
    y = ints(rng, shape, -8, 8)
    y0 = y.copy()
    r = hk.conv2d(x, w, padding=1, groups=2, layout=layout, activation="relu6", residual=y, out=y, backend=bengine)
    assert r is y
    want = _ref(x, w, None, None, None, layout, 1, 1, 1, 2, "relu6", y0, BF16)
    np.testing.assert_array_equal(y.astype(F64), want.astype(F64))


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_conv2d_random_within_bound(bengine, rng, layout):
    x, w = rand(rng, (1, 16, 9, 9)), rand(rng, (24, 16, 3, 3))
    x = _nhwc(x) if layout == "NHWC" else x
    got = hk.conv2d(x, w, padding=1, layout=layout, backend=bengine, out_dtype=np.float32)
    ref = _ref(x, w, None, None, None, layout, 1, 1, 1, 1, None, None, F64)
    mag = _ref(np.abs(x.astype(F32)).astype(BF16), np.abs(w.astype(F32)).astype(BF16), None, None, None, layout, 1, 1,
               1, 1, None, None, F64)
    kk = 16 * 9
    assert (np.abs(got - ref) <= 2.0 ** -24 * np.abs(ref) + (kk + 2) * 2.0 ** -24 * mag).all()


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_depthwise_residual_views(bengine, rng, layout):
    """The direct depthwise kernel through strided x and out views and a residual (read in place)."""
    xb = ints(rng, (2, 8, 9, 11), -3, 3)
    xb = _nhwc(xb) if layout == "NHWC" else xb
    x = xb[:, :, :, ::2] if layout == "NCHW" else xb[:, :, ::2, :]  # W 11 -> 6, strided
    w = ints(rng, (8, 1, 3, 3), -2, 2)
    oshape = (2, 8, 9, 6) if layout == "NCHW" else (2, 9, 6, 8)
    res = ints(rng, oshape, -4, 4)
    big = np.zeros((3,) + oshape[1:], BF16)
    out = big[1:]
    hk.conv2d(x, w, padding=1, groups=8, layout=layout, residual=res, out=out, activation="relu", backend=bengine)
    want = _ref(x, w, None, None, None, layout, 1, 1, 1, 8, "relu", res, BF16)
    np.testing.assert_array_equal(out.astype(F64), want.astype(F64))
    assert (big[0].astype(F64) == 0).all()


def test_conv2d_plan_bf16_and_pickle(bengine, rng):
    x, w = ints(rng, (2, 6, 7, 7), -3, 3), ints(rng, (6, 1, 3, 3), -3, 3)
    bias = rng.integers(-4, 5, 6).astype(F32)
    plan = hk.Conv2d(w, bias, padding=1, groups=6, activation="relu", backend=bengine)
    want = _ref(x, w, bias, None, None, "NCHW", 1, 1, 1, 6, "relu", None, BF16)
    np.testing.assert_array_equal(plan(x).astype(F64), want.astype(F64))
    out = np.empty((2, 6, 7, 7), F32)
    assert plan(x, out=out, out_dtype=np.float32) is out
    np.testing.assert_array_equal(out, _ref(x, w, bias, None, None, "NCHW", 1, 1, 1, 6, "relu", None, F32))
    again = pickle.loads(pickle.dumps(plan))
    np.testing.assert_array_equal(again(x).astype(F64), want.astype(F64))
    assert plan.weights.dtype == BF16
