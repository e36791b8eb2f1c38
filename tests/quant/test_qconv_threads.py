"""The int8 convolution on several threads (csrc/conv/qconv.cpp): lowered layers whose weights
fit the L2 run in units of pixels, each lowered and multiplied by the thread that takes it; the
others share each chunk's lowering and GEMM. Either way the result is the one-thread result bit
for bit and the int64 reference's: int32, float32 and requantized outputs, the skip addition,
both layouts, batches, groups, strides, pixel counts that leave a short last unit."""
from __future__ import annotations

import numpy as np
import pytest

import hpc_kernels

from _qcpu import CPU_INT8
from _qref import conv_acc, epilogue, qlinear_add
from hpc_kernels._api.conv_args import make_spec, shape_of

pytestmark = pytest.mark.skipif(not CPU_INT8, reason="no int8 engine in this build's cpu backend")

# (N, C, H, W, K, R, S, stride, padding, groups): lowered layers with many pixels (units of
# pixels), one with a reduction too long for the units' L2 rule (chunks), a pointwise one (read in
# place: chunks) and a small image (fewer pixels than four units per thread: chunks).
LAYERS = [
    (1, 64, 30, 29, 64, 3, 3, 1, 1, 1),
    (2, 19, 25, 23, 33, 3, 3, 1, 1, 1),
    (1, 32, 41, 40, 24, 3, 3, 2, 1, 1),
    (1, 16, 24, 24, 16, 3, 3, 1, 1, 2),
    (1, 3, 64, 63, 32, 7, 7, 2, 3, 1),
    (1, 256, 14, 14, 300, 3, 3, 1, 1, 1),
    (1, 64, 28, 28, 96, 1, 1, 1, 0, 1),
    (1, 40, 6, 5, 24, 3, 3, 1, 1, 1),
]


def _rand(rng, shape, dtype):
    info = np.iinfo(dtype)
    return rng.integers(info.min, int(info.max) + 1, size=shape, dtype=dtype)


def _geo(case, layout):
    n, c, h, w, k, r, s, st, pad, g = case
    spec = make_spec("t", st, pad, 1, g, layout, None)
    xshape = (n, c, h, w) if layout == "NCHW" else (n, h, w, c)
    return xshape, (k, c // g, r, s), spec, shape_of("t", xshape, (k, c // g, r, s), spec)


@pytest.mark.parametrize("threads", [2, 3])
@pytest.mark.parametrize("layout", ["NHWC", "NCHW"])
@pytest.mark.parametrize("case", LAYERS, ids=lambda c: "x".join(map(str, c[:7])) + f"-s{c[7]}-g{c[9]}")
def test_threads_agree_with_one_and_reference(case, layout, threads):
    rng = np.random.default_rng(sum(case) + threads)
    xshape, wshape, spec, sh = _geo(case, layout)
    x, w = _rand(rng, xshape, np.uint8), _rand(rng, wshape, np.int8)
    k = wshape[0]
    opts = dict(stride=spec.stride, padding=sh.padding, groups=spec.groups, layout=layout, backend="cpu")
    bias = rng.integers(-3000, 3000, k, dtype=np.int32)
    w_scale = (rng.random(k) * 0.01 + 0.002).astype(np.float32)
    acc = conv_acc(x, w, 7, 0, spec.stride, sh.padding, spec.dilation, spec.groups, layout)
    nchw = (lambda y: y) if layout == "NHWC" else (lambda y: y.transpose(0, 3, 1, 2))
    # Requantized with the skip addition, float32 with bias and ReLU, and the int32 accumulator.
    skip = _rand(rng, sh.out_shape(layout), np.uint8)
    quant = dict(x_zero_point=7, x_scale=0.02, w_scale=w_scale, bias=bias, out_scale=0.35, out_zero_point=100,
                 out_dtype=np.uint8)
    add = dict(skip_scale=0.27, skip_zero_point=128, sum_scale=0.15, sum_zero_point=120)
    y8 = epilogue(acc, bias=bias, a_scale=0.02, b_scale=w_scale, out_scale=0.35, out_zp=100, out_dtype=np.uint8)
    cases = [
        (dict(quant, skip=skip, **add),
         qlinear_add(nchw(y8), skip, 0.35, 100, 0.27, 128, 0.15, 120, np.uint8)),
        (dict(x_zero_point=7, x_scale=0.02, w_scale=w_scale, bias=bias, activation="relu"),
         nchw(epilogue(acc, bias=bias, a_scale=0.02, b_scale=w_scale, activation="relu"))),
        (dict(x_zero_point=7), nchw(epilogue(acc))),
    ]
    for kw, want in cases:
        with hpc_kernels.num_threads(1):
            one = hpc_kernels.qconv2d(x, w, **opts, **kw)
        with hpc_kernels.num_threads(threads):
            many = hpc_kernels.qconv2d(x, w, **opts, **kw)
            plan = hpc_kernels.QConv2d(w, **{o: v for o, v in opts.items() if o != "padding"}, padding=sh.padding,
                                       **{o: v for o, v in kw.items() if o != "skip"})
            planned = plan(x, skip=kw["skip"]) if "skip" in kw else plan(x)
        np.testing.assert_array_equal(many, one)
        np.testing.assert_array_equal(planned, one)
        if want.dtype == np.float32:
            np.testing.assert_allclose(many, want, rtol=2e-6, atol=1e-6)
        else:
            np.testing.assert_array_equal(many, want)
