"""qconv2d's skip addition (QLinearAdd of an 8-bit skip tensor in the requantize epilogue, the
residual connection of a QDQ model) bit-exact against the conv's 8-bit output followed by
QLinearAdd on every engine: both layouts, u8 and s8, pointwise / lowered / grouped / depthwise
layers, edge tiles and several k blocks (the engines' tiny blocks), saturating sums, QConv2d and
its bound form; with the cpu backend also against _cpu.qadd (the vectorised QAdd) on the unfused
output. And the argument errors."""
from __future__ import annotations

import numpy as np
import pytest

import hpc_kernels

from _qcpu import CPU_INT8
from _qref import conv_acc, epilogue, qlinear_add
from hpc_kernels._api.conv_args import make_spec, shape_of

# (N, C, H, W, K, R, S, stride, padding, groups)
LAYERS = [
    (1, 64, 7, 9, 40, 1, 1, 1, 0, 1),    # pointwise: activations read in place; 40 = 32 + an edge tile
    (2, 19, 9, 8, 33, 3, 3, 1, 1, 1),    # lowered, k = 171 (not a multiple of 4), edge tiles
    (1, 12, 10, 10, 12, 3, 3, 2, 1, 12),  # depthwise, stride 2
    (1, 8, 6, 7, 16, 3, 3, 1, 1, 2),     # grouped
]


def _rand(rng, shape, dtype):
    info = np.iinfo(dtype)
    return rng.integers(info.min, int(info.max) + 1, size=shape, dtype=dtype)


def _case(rng, case, layout, odt):
    n, c, h, w, k, r, s, st, pad, g = case
    x = _rand(rng, (n, c, h, w) if layout == "NCHW" else (n, h, w, c), np.uint8)
    wt = _rand(rng, (k, c // g, r, s), np.int8)
    spec = make_spec("t", st, pad, 1, g, layout, None)
    sh = shape_of("t", x.shape, wt.shape, spec)
    oshape = sh.out_shape(layout)
    info = np.iinfo(odt)
    q = dict(x_zero_point=3, w_zero_point=0, x_scale=0.02, w_scale=(rng.random(k) * 0.01 + 0.002).astype(np.float32),
             out_scale=0.35, out_zero_point=int(info.min) + 100, out_dtype=odt,
             bias=rng.integers(-3000, 3000, k, dtype=np.int32))
    add = dict(skip_scale=0.27, skip_zero_point=int(info.min) + 128, sum_scale=0.15, sum_zero_point=int(info.min) + 120)
    opts = dict(stride=st, padding=pad, groups=g, layout=layout)
    skip = _rand(rng, oshape, odt)
    return x, wt, opts, q, add, skip, (spec, sh)


def _expect(x, w, opts, q, add, skip, geo):
    spec, sh = geo
    acc = conv_acc(x, w, q["x_zero_point"], 0, spec.stride, sh.padding, spec.dilation, spec.groups, spec.layout)
    y = epilogue(acc, bias=q["bias"], a_scale=q["x_scale"], b_scale=q["w_scale"], out_scale=q["out_scale"],
                 out_zp=q["out_zero_point"], out_dtype=q["out_dtype"])
    y = y if spec.layout == "NHWC" else y.transpose(0, 3, 1, 2)
    return qlinear_add(y, skip, q["out_scale"], q["out_zero_point"], add["skip_scale"], add["skip_zero_point"],
                       add["sum_scale"], add["sum_zero_point"], q["out_dtype"])


@pytest.mark.parametrize("odt", [np.uint8, np.int8])
@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize("case", LAYERS, ids=lambda c: "x".join(map(str, c[:7])) + f"-g{c[9]}")
def test_skip_addition(qengine, case, layout, odt, rng):
    x, w, opts, q, add, skip, geo = _case(rng, case, layout, odt)
    want = _expect(x, w, opts, q, add, skip, geo)
    got = hpc_kernels.qconv2d(x, w, skip=skip, backend=qengine, **opts, **q, **add)
    np.testing.assert_array_equal(got, want)
    plan = hpc_kernels.QConv2d(w, backend=qengine, **opts, **q, **add)
    np.testing.assert_array_equal(plan(x, skip=skip), want)
    bound = plan.bind(x.shape, x.dtype)
    out = np.empty(bound.out_shape, bound.out_dtype)
    np.testing.assert_array_equal(bound(x, out, None, skip), want)
    # A strided skip view (every other channel of a wider tensor) is read in place.
    if layout == "NHWC":
        wide = np.zeros(skip.shape[:3] + (2 * skip.shape[3],), skip.dtype)
        wide[..., ::2] = skip
        np.testing.assert_array_equal(hpc_kernels.qconv2d(x, w, skip=wide[..., ::2], backend=qengine, **opts, **q, **add),
                                      want)
    # Both saturation ends reached by the sum.
    assert (want == np.iinfo(odt).min).any() and (want == np.iinfo(odt).max).any()


@pytest.mark.skipif(not CPU_INT8, reason="the cpu backend has no int8 engine in this build")
@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_skip_equals_vector_qadd(layout, rng):
    """The fused epilogue equals the unfused conv followed by _cpu.qadd (the QAdd node's kernel)."""
    from hpc_kernels import _cpu
    from hpc_kernels._api.quant_args import qadd_params

    x, w, opts, q, add, skip, _ = _case(rng, LAYERS[0], layout, np.uint8)
    plain = hpc_kernels.qconv2d(x, w, backend="cpu", **opts, **q)
    ra, rb, k = qadd_params(q["out_scale"], q["out_zero_point"], add["skip_scale"], add["skip_zero_point"],
                            add["sum_scale"], add["sum_zero_point"])
    want = np.empty_like(plain)
    _cpu.qadd(np.ascontiguousarray(plain), np.ascontiguousarray(skip), want, float(ra), float(rb), float(k))
    np.testing.assert_array_equal(hpc_kernels.qconv2d(x, w, skip=skip, backend="cpu", **opts, **q, **add), want)


@pytest.mark.parametrize("backend", ["reference"] + (["cpu"] if CPU_INT8 else []))
def test_skip_errors(backend, rng):
    x, w, opts, q, add, skip, _ = _case(rng, LAYERS[0], "NHWC", np.uint8)
    with pytest.raises(ValueError, match="pass the skip tensor"):
        hpc_kernels.qconv2d(x, w, backend=backend, **opts, **q, **add)
    with pytest.raises(ValueError, match="skip needs skip_scale"):
        hpc_kernels.qconv2d(x, w, skip=skip, backend=backend, **opts, **q)
    with pytest.raises(TypeError, match="skip must have the output's dtype"):
        hpc_kernels.qconv2d(x, w, skip=skip.view(np.int8), backend=backend, **opts, **q, **add)
    with pytest.raises(ValueError, match="skip must have the output's shape"):
        hpc_kernels.qconv2d(x, w, skip=skip[:, :1], backend=backend, **opts, **q, **add)
    with pytest.raises(ValueError, match="share memory"):
        hpc_kernels.qconv2d(x, w, skip=skip, out=skip, backend=backend, **opts, **q, **add)
    with pytest.raises(ValueError, match="need a requantized output"):
        hpc_kernels.qconv2d(x, w, skip=skip, backend=backend, x_scale=0.1, w_scale=0.1, **opts, **add)
    with pytest.raises(ValueError, match="both skip_scale and sum_scale"):
        hpc_kernels.qconv2d(x, w, skip=skip, backend=backend, skip_scale=0.1, **opts, **q)
    with pytest.raises(ValueError, match="sum_scale must be finite"):
        hpc_kernels.qconv2d(x, w, skip=skip, backend=backend, **opts, **q, **dict(add, sum_scale=0.0))
    with pytest.raises(ValueError, match="skip_zero_point must lie"):
        hpc_kernels.qconv2d(x, w, skip=skip, backend=backend, **opts, **q, **dict(add, skip_zero_point=300))


@pytest.mark.parametrize("backend", ["reference"] + (["cpu"] if CPU_INT8 else []))
def test_skip_options_per_call_and_per_binding(backend, rng):
    """A plan made without the skip addition takes its options per call or per binding (what an
    ONNX QConv fused with its QAdd does); without them the same plan gives the plain output."""
    x, w, opts, q, add, skip, geo = _case(rng, LAYERS[1], "NHWC", np.uint8)
    want = _expect(x, w, opts, q, add, skip, geo)
    plan = hpc_kernels.QConv2d(w, backend=backend, **opts, **q)
    np.testing.assert_array_equal(plan(x, skip=skip, **add), want)
    bound = plan.bind(x.shape, x.dtype, skip_add=add)
    np.testing.assert_array_equal(bound(x, np.empty(bound.out_shape, bound.out_dtype), None, skip), want)
    plain = hpc_kernels.qconv2d(x, w, backend=backend, **opts, **q)
    np.testing.assert_array_equal(plan(x), plain)
    with pytest.raises(TypeError, match="unexpected keyword"):
        plan(x, skip=skip, sum_scal=0.1)


@pytest.mark.skipif(not CPU_INT8, reason="the cpu backend has no int8 engine in this build")
def test_entry_refuses_a_skip_without_its_parameters(rng):
    """A direct call of the C++ entry with a skip tensor and no (ra, rb, k) would add nothing: refused."""
    from hpc_kernels import _cpu

    x = rng.integers(0, 256, (1, 8, 4, 4), dtype=np.uint8)
    w = rng.integers(-128, 128, (16, 8, 1, 1), dtype=np.int8)
    out = np.empty((1, 16, 4, 4), np.uint8)
    skip = np.zeros_like(out)
    args = (x, w, out, (1, 1), (0, 0, 0, 0), (1, 1), 1, 0, np.zeros(16, np.int32), None, "quant",
            np.full(16, 0.01, np.float32), 1.0, 6.0, "", 0, None)
    with pytest.raises(ValueError, match="skip needs add"):
        _cpu.qconv2d(*args, skip=skip)
    _cpu.qconv2d(*args, skip=skip, add=(1.0, 1.0, 0.0))
