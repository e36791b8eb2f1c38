"""opencl conv2d against the float64 reference of tests/_conv_reference.py: the layer sweep of
tests/api/test_conv2d.py (tests/_conv_cases.py) through explicit im2col, implicit convGemm and the FPGA form, both layouts, every
epilogue, both dtypes (exact integer data, and random data within the bound); device arrays in and
out (channel slices, device epilogue vectors), Conv2d plans, GPU-style tiles and NaN propagation."""
from __future__ import annotations

import numpy as np
import pytest

import hpc_kernels
from _conv_reference import conv2d_ref, conv2d_ref_and_bound, int_operands, normal_operands, output_shape
from _helpers import assert_within_bound, dt_id
from _opencl import TILES, device, dtypes, form, requires_opencl, to_dev
from _conv_cases import EPILOGUES, LAYERS

pytestmark = requires_opencl

LAYOUTS = ("NCHW", "NHWC")
EPI_NAMES = list(EPILOGUES)
# (form, algorithm): the NDRange form lowers explicitly for "im2col" and gathers implicitly for
# every other algorithm; the FPGA form always gathers implicitly.
PATHS = [("ndrange", "im2col"), ("ndrange", "convgemm"), ("fpga", "auto")]


def _cases(offset: int):
    out = []
    for li, layer in enumerate(LAYERS):
        for pi, (kform, alg) in enumerate(PATHS):
            for di, dt in enumerate(dtypes()):
                layout = LAYOUTS[(li + pi + di + offset) % 2]
                epi = EPI_NAMES[(3 * li + pi + 2 * di + offset) % len(EPI_NAMES)]
                out.append(pytest.param(layer, kform, alg, dt, layout, epi, id=f"{layer.name}-{kform}-{alg}-{layout}-{epi}-{dt_id(dt)}"))
    return out


def _run(layer, ops, kform, alg, layout, act, **extra):
    with form(kform):
        return hpc_kernels.conv2d(ops["x"], ops["w"], ops["bias"], scale=ops["scale"], shift=ops["shift"], activation=act,
                              algorithm=alg, backend="opencl", **layer.geo(layout), **extra)


@pytest.mark.parametrize("layer,kform,alg,dtype,layout,epi", _cases(0))
def test_sweep_exact(layer, kform, alg, dtype, layout, epi, rng):
    e = EPILOGUES[epi]
    ops = int_operands(rng, layer.x_shape(layout), layer.w_shape, dtype, bias=e.get("bias", False), scale=e.get("scale", False),
                       shift=e.get("shift", False))
    got = _run(layer, ops, kform, alg, layout, e.get("activation"))
    assert isinstance(got, np.ndarray) and got.dtype == np.dtype(dtype)
    assert got.shape == output_shape(layer.x_shape(layout), layer.w_shape, layer.stride, layer.padding, layer.dilation, layout)
    ref = conv2d_ref(ops["x"], ops["w"], ops["bias"], scale=ops["scale"], shift=ops["shift"], activation=e.get("activation"),
                     **layer.geo(layout))
    np.testing.assert_array_equal(got, ref)


@pytest.mark.parametrize("layer,kform,alg,dtype,layout,epi", _cases(1)[::3])
def test_sweep_random_within_bound(layer, kform, alg, dtype, layout, epi, rng):
    e = EPILOGUES[epi]
    ops = normal_operands(rng, layer.x_shape(layout), layer.w_shape, dtype, bias=e.get("bias", False), scale=e.get("scale", False),
                          shift=e.get("shift", False))
    got = _run(layer, ops, kform, alg, layout, e.get("activation"))
    ref, bound = conv2d_ref_and_bound(ops["x"], ops["w"], ops["bias"], scale=ops["scale"], shift=ops["shift"],
                                      activation=e.get("activation"), **layer.geo(layout))
    assert_within_bound(got, ref, bound, f"{layer.name} {kform} {alg} {layout} {epi}")


@pytest.mark.parametrize("kform,alg", PATHS)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_device_arrays_and_channel_slice_out(kform, alg, layout, rng):
    """pyopencl x, w, bias, scale -> pyopencl y on the same queue; out= a channel slice of a
    bigger device array (nothing outside it written)."""
    import pyopencl.array as cla

    layer = LAYERS[2]  # 3x3, stride 2, padding 1, C=17, K=33
    ops = int_operands(rng, layer.x_shape(layout), layer.w_shape, np.float32, bias=True, scale=True)
    ref = conv2d_ref(ops["x"], ops["w"], ops["bias"], scale=ops["scale"], activation="relu", **layer.geo(layout))
    xd, wd, bd, sd = (to_dev(ops[k]) for k in ("x", "w", "bias", "scale"))
    with form(kform):
        y = hpc_kernels.conv2d(xd, wd, bd, scale=sd, activation="relu", algorithm=alg, **layer.geo(layout))
        assert isinstance(y, cla.Array) and y.queue is xd.queue
        np.testing.assert_array_equal(y.get(), ref)
        shape = list(ref.shape)
        cax = 1 if layout == "NCHW" else 3
        shape[cax] += 7
        big = to_dev(np.full(shape, -5.0, np.float32))
        sl = [slice(None)] * 4
        sl[cax] = slice(3, 3 + layer.K)
        view = big[tuple(sl)]
        assert hpc_kernels.conv2d(xd, wd, bd, scale=sd, activation="relu", algorithm=alg, out=view, **layer.geo(layout)) is view
        host = big.get()
        np.testing.assert_array_equal(host[tuple(sl)], ref)
        rest = np.ones(host.shape, bool)
        rest[tuple(sl)] = False
        assert np.all(host[rest] == -5.0)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_no_input_channels_into_a_channel_slice(layout):
    """C == 0: the output is the epilogue of a zero sum (relu(scale * bias + shift)), stored into a
    strided device view element by element (scatter.cl) with nothing around it written; a 1x1
    output of a broadcast value too (pyopencl's assignment refused both)."""
    n, k, h, w = 2, 5, 3, 4
    x_shape = (n, 0, h, w) if layout == "NCHW" else (n, h, w, 0)
    x, wt = to_dev(np.zeros(x_shape, np.float32)), to_dev(np.zeros((k, 0, 1, 1), np.float32))
    bias, scale = np.arange(-2, 3, dtype=np.float32), np.full(k, 2.0, np.float32)
    per_k = np.maximum(2.0 * bias + 1.0, 0.0)
    ref = np.broadcast_to(per_k[:, None, None] if layout == "NCHW" else per_k, (n, k, h, w) if layout == "NCHW" else (n, h, w, k))
    cax = 1 if layout == "NCHW" else 3
    shape = list(ref.shape)
    shape[cax] += 4
    big = to_dev(np.full(shape, -5.0, np.float32))
    sl = [slice(None)] * 4
    sl[cax] = slice(2, 2 + k)
    view = big[tuple(sl)]
    got = hpc_kernels.conv2d(x, wt, bias, scale=scale, shift=np.ones(k, np.float32), activation="relu", layout=layout, out=view)
    assert got is view
    host = big.get()
    np.testing.assert_array_equal(host[tuple(sl)], ref)
    rest = np.ones(host.shape, bool)
    rest[tuple(sl)] = False
    assert np.all(host[rest] == -5.0)
    one = hpc_kernels.conv2d(to_dev(np.zeros((1, 0, 1, 1), np.float32)), to_dev(np.zeros((1, 0, 1, 1), np.float32)))
    np.testing.assert_array_equal(one.get(), np.zeros((1, 1, 1, 1), np.float32))


@pytest.mark.parametrize("tiles", list(TILES), ids=list(TILES))
@pytest.mark.parametrize("implicit", [False, True], ids=["im2col", "convgemm"])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_conv_tiles(tiles, implicit, layout, rng):
    """The NDRange conv kernels with GPU-style tiles (local-memory gather tiles) and odd tiles."""
    from hpc_kernels._api.conv_args import make_spec, shape_of
    from hpc_kernels.backends.opencl import launch as L

    dev = device()
    for layer in (LAYERS[1], LAYERS[4], LAYERS[13]):
        ops = int_operands(rng, layer.x_shape(layout), layer.w_shape, np.float32, bias=True, shift=True)
        ref = conv2d_ref(ops["x"], ops["w"], ops["bias"], shift=ops["shift"], activation="relu6", **layer.geo(layout))
        spec = make_spec("t", layer.stride, layer.padding, layer.dilation, layer.groups, layout, "relu6")
        shape = shape_of("t", ops["x"].shape, ops["w"].shape, spec)
        xd, wd, bd, sd = (to_dev(ops[k]) for k in ("x", "w", "bias", "shift"))
        y = to_dev(np.zeros(ref.shape, np.float32))
        op = L.Operand.of
        geo = L.ConvGeometry.of(shape, spec, op(xd), op(y))
        L.conv_ndrange(dev, np.dtype(np.float32), geo, op(wd), op(xd), op(y), bd.base_data, None, sd.base_data, "relu6", implicit,
                       t=TILES[tiles])
        np.testing.assert_array_equal(y.get(), ref, err_msg=layer.name)


@pytest.mark.parametrize("kform", ["ndrange", "fpga"])
def test_plan_and_nan(kform, rng):
    """Conv2d plans on the opencl backend (weights uploaded once) give the one-shot result, host
    and device; NaN in x reaches exactly the outputs whose window holds it (relu keeps NaN)."""
    layer = LAYERS[1]
    ops = int_operands(rng, layer.x_shape("NCHW"), layer.w_shape, np.float32, bias=True)
    with form(kform):
        plan = hpc_kernels.Conv2d(ops["w"], ops["bias"], activation="relu", backend="opencl", **layer.geo("NCHW"))
        one = hpc_kernels.conv2d(ops["x"], ops["w"], ops["bias"], activation="relu", backend="opencl", **layer.geo("NCHW"))
        np.testing.assert_array_equal(plan(ops["x"]), one)
        np.testing.assert_array_equal(plan(to_dev(ops["x"])).get(), one)
        x = ops["x"].copy()
        x[1, 2, 3, 4] = np.nan
        y = hpc_kernels.conv2d(x, ops["w"], ops["bias"], activation="relu", backend="opencl", **layer.geo("NCHW"))
    assert np.isnan(y[1, :, 2:5, 3:6]).all() and np.isnan(y).sum() == y.shape[1] * 9
