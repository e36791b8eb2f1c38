"""QGlobalAveragePool's cpu fast path (_cpu.qglobal_avg_pool, also the conv chain's step): bit-identical
to the NumPy definition (onnxruntime's QLinearGlobalAveragePool arithmetic, kernels/onnx/ops/
qadd_pool.py) for both layouts, uint8 and int8, the (N, C) and pooled outputs, strided inputs,
saturation; nothing written outside out; clear errors for bad arguments."""
from __future__ import annotations

import numpy as np
import pytest

_cpu = pytest.importorskip("hpc_kernels._cpu")
_F32 = np.float32


def _numpy(x, layout, zx, zy, s):
    axes = (2, 3) if layout == "NCHW" else (1, 2)
    n = x.shape[axes[0]] * x.shape[axes[1]]
    acc = x.sum(axis=axes, dtype=np.int64) - int(zx) * n
    u = np.rint(acc.astype(_F32) * _F32(s)) + _F32(int(zy))
    info = np.iinfo(x.dtype)
    return np.clip(u, info.min, info.max).astype(x.dtype)


@pytest.mark.parametrize("layout", ["NHWC", "NCHW"])
@pytest.mark.parametrize("dtype", [np.uint8, np.int8])
@pytest.mark.parametrize("hw", [(7, 7), (1, 1), (3, 5), (14, 13)])
@pytest.mark.parametrize("flat", [False, True])
def test_equals_the_numpy_definition(layout, dtype, hw, flat):
    rng = np.random.default_rng(hw[0] * 31 + hw[1])
    info = np.iinfo(dtype)
    c = 67
    shape = (2, c) + hw if layout == "NCHW" else (2,) + hw + (c,)
    x = rng.integers(info.min, int(info.max) + 1, shape).astype(dtype)
    for trial, (s, zx, zy) in enumerate(((0.9 / (hw[0] * hw[1]), 3, 5), (7.0 / (hw[0] * hw[1]), int(info.min) + 9,
                                                                         int(info.max) - 4), (0.013, 0, 0))):
        want = _numpy(x, layout, zx, zy, s)
        pooled = (2, c, 1, 1) if layout == "NCHW" else (2, 1, 1, c)
        out = np.full((2, c) if flat else pooled, 77, dtype)
        _cpu.qglobal_avg_pool(x, out, layout, zx, zy, s)
        np.testing.assert_array_equal(out.reshape(2, c), want.reshape(2, c))
        if trial == 1:  # a large scale and a low x zero point: sums saturate at the type's top
            assert (want == info.max).any()


def test_strided_input_and_nothing_written_outside():
    rng = np.random.default_rng(1)
    wide = rng.integers(0, 256, (1, 6, 5, 40)).astype(np.uint8)
    x = wide[:, :, :, ::2]  # every other channel: channel stride 2
    buf = np.full((1, 30), 201, np.uint8)
    out = buf[:, 5:25]
    _cpu.qglobal_avg_pool(x, out, "NHWC", 4, 2, 0.02)
    np.testing.assert_array_equal(out, _numpy(x, "NHWC", 4, 2, 0.02).reshape(1, 20))
    assert (buf[:, :5] == 201).all() and (buf[:, 25:] == 201).all()


def test_errors_name_what_was_wrong():
    x = np.zeros((1, 4, 4, 8), np.uint8)
    with pytest.raises(TypeError, match="outputs are never cast"):
        _cpu.qglobal_avg_pool(x, np.zeros((1, 8), np.int8), "NHWC", 0, 0, 0.1)
    with pytest.raises(TypeError, match="uint8 or int8"):
        _cpu.qglobal_avg_pool(x.astype(np.float32), np.zeros((1, 8), np.float32), "NHWC", 0, 0, 0.1)
    with pytest.raises(ValueError, match="out must have shape"):
        _cpu.qglobal_avg_pool(x, np.zeros((1, 4), np.uint8), "NHWC", 0, 0, 0.1)
    with pytest.raises(ValueError, match="layout"):
        _cpu.qglobal_avg_pool(x, np.zeros((1, 8), np.uint8), "NWHC", 0, 0, 0.1)
    with pytest.raises(ValueError, match=r"y_zero_point must be in \[0, 255\]"):
        _cpu.qglobal_avg_pool(x, np.zeros((1, 8), np.uint8), "NHWC", 0, 256, 0.1)
    with pytest.raises(ValueError, match="scale must be finite and positive"):
        _cpu.qglobal_avg_pool(x, np.zeros((1, 8), np.uint8), "NHWC", 0, 0, float("nan"))
    with pytest.raises(ValueError, match="at least one pixel"):
        _cpu.qglobal_avg_pool(np.zeros((1, 0, 4, 8), np.uint8), np.zeros((1, 8), np.uint8), "NHWC", 0, 0, 0.1)
    ro = np.zeros((1, 8), np.uint8)
    ro.flags.writeable = False
    with pytest.raises(ValueError):
        _cpu.qglobal_avg_pool(x, ro, "NHWC", 0, 0, 0.1)
    both = np.zeros(200, np.uint8)
    with pytest.raises(ValueError):
        _cpu.qglobal_avg_pool(both[:128].reshape(1, 4, 4, 8), both[120:128].reshape(1, 8), "NHWC", 0, 0, 0.1)
