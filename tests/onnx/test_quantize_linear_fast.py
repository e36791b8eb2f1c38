"""QuantizeLinear's cpu fast path (_cpu.quantize_linear: float32, one scale, 8-bit output):
bit-identical to the NumPy definition (kernels/onnx/ops/quantize.py) over ties, saturation at both
ends, infinities, signed and unsigned types, negative scales and every length of a vector tail,
with nothing written outside out; NaN gives the type's minimum (onnxruntime's MLAS); long arrays
split over threads exactly; clear errors for bad arguments; and a QuantizeLinear node equal to
onnxruntime's on the cpu backend."""
from __future__ import annotations

import numpy as np
import pytest

import hpc_kernels
from hpc_kernels.onnx.ops.quantize import dequantize, quantize

_cpu = pytest.importorskip("hpc_kernels._cpu")


def _numpy(x, scale, zp, dtype):
    return quantize(x, np.asarray(np.float32(scale)), np.asarray(zp, dtype), np.dtype(dtype))


@pytest.mark.parametrize("dtype,zp", [(np.uint8, 0), (np.uint8, 128), (np.uint8, 255), (np.int8, -128), (np.int8, 0),
                                      (np.int8, 127)])
@pytest.mark.parametrize("scale", [0.37, 1.0, -0.5, 3e-3, 1e6])
def test_equals_the_numpy_definition(dtype, zp, scale):
    rng = np.random.default_rng(5)
    x = (rng.standard_normal(4099) * 300).astype(np.float32)
    x[:12] = [np.inf, -np.inf, 0.5, 1.5, -0.5, -1.5, 2.5, 254.5, 255.5, -127.5, -128.5, 1e30]
    x[12:40] = (np.arange(28, dtype=np.float32) - 14.0) * np.float32(scale) / 2  # exact ties after the division
    out = np.empty(x.shape, dtype)
    _cpu.quantize_linear(x, out, scale, zp)
    np.testing.assert_array_equal(out, _numpy(x, scale, zp, dtype))


def test_every_tail_length_and_nothing_outside_out():
    rng = np.random.default_rng(6)
    for n in range(70):
        x = (rng.standard_normal(n) * 100).astype(np.float32)
        buf = np.full(n + 6, 77, np.uint8)
        _cpu.quantize_linear(x, buf[3:n + 3], 0.7, 9)
        np.testing.assert_array_equal(buf[3:n + 3], _numpy(x, 0.7, 9, np.uint8))
        assert (buf[:3] == 77).all() and (buf[n + 3:] == 77).all()


def test_nan_gives_the_types_minimum():
    x = np.array([np.nan, -np.nan, 1.0], np.float32)
    for dtype, zp, lo in ((np.uint8, 100, 0), (np.int8, 5, -128)):
        out = np.empty(3, dtype)
        _cpu.quantize_linear(x, out, 0.5, zp)
        assert out[0] == lo and out[1] == lo and out[2] == 2 + zp


def test_threads_split_a_long_array_exactly():
    x = (np.random.default_rng(7).standard_normal((3, 300001)) * 40).astype(np.float32)
    want = _numpy(x, 0.21, 17, np.uint8)
    for t in (1, 2, 3):
        out = np.empty(x.shape, np.uint8)
        with hpc_kernels.num_threads(t):
            _cpu.quantize_linear(x, out, 0.21, 17)
        np.testing.assert_array_equal(out, want)


def test_checks_its_arguments():
    x, out = np.zeros((4, 4), np.float32), np.zeros((4, 4), np.uint8)
    with pytest.raises(TypeError, match="x must be float32"):
        _cpu.quantize_linear(x.astype(np.float64), out, 1.0, 0)
    with pytest.raises(TypeError, match="out must be uint8 or int8"):
        _cpu.quantize_linear(x, out.astype(np.int16), 1.0, 0)
    with pytest.raises(ValueError, match="one shape"):
        _cpu.quantize_linear(x, np.zeros((4, 5), np.uint8), 1.0, 0)
    with pytest.raises(ValueError, match="C-contiguous"):
        _cpu.quantize_linear(np.zeros((4, 8), np.float32)[:, ::2], out, 1.0, 0)
    for bad in (0.0, np.inf, np.nan, 1e-45):
        with pytest.raises(ValueError, match="scale must be finite and nonzero"):
            _cpu.quantize_linear(x, out, bad, 0)
    with pytest.raises(ValueError, match=r"zero_point must be in \[0, 255\]"):
        _cpu.quantize_linear(x, out, 1.0, 256)
    with pytest.raises(ValueError, match=r"zero_point must be in \[-128, 127\]"):
        _cpu.quantize_linear(x, out.view(np.int8), 1.0, -129)
    ro = out.copy()
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="writable"):
        _cpu.quantize_linear(x, ro, 1.0, 0)
    both = np.zeros(32, np.uint8)
    with pytest.raises(ValueError, match="overlap"):
        _cpu.quantize_linear(both[:16].view(np.float32), both[4:8], 1.0, 0)


@pytest.mark.parametrize("dtype", [np.uint8, np.int8])
def test_node_equals_onnxruntime(dtype):
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    from onnx import TensorProto, helper

    elem = TensorProto.UINT8 if dtype == np.uint8 else TensorProto.INT8
    zp = 131 if dtype == np.uint8 else -7
    g = helper.make_graph([helper.make_node("QuantizeLinear", ["x", "s", "z"], ["y"])], "q",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 17, 19])],
                          [helper.make_tensor_value_info("y", elem, [1, 3, 17, 19])],
                          [helper.make_tensor("s", TensorProto.FLOAT, [], [0.043]),
                           helper.make_tensor("z", elem, [], [zp])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    x = (np.random.default_rng(8).standard_normal((1, 3, 17, 19)) * 8).astype(np.float32)
    want = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    got = hpc_kernels.onnx.InferenceSession(m, backend="cpu").run(None, {"x": x})[0]
    np.testing.assert_array_equal(got, want)


# -- DequantizeLinear's cpu path (_cpu.dequantize_linear, also the conv chain's step) -------------

@pytest.mark.parametrize("dtype,zp", [(np.uint8, 0), (np.uint8, 131), (np.uint8, 255), (np.int8, -128), (np.int8, 5),
                                      (np.int8, 127)])
@pytest.mark.parametrize("scale", [0.37, 1.0, -0.5, 3e-3, 1e30])
def test_dequantize_equals_the_numpy_definition(dtype, zp, scale):
    info = np.iinfo(dtype)
    x = np.arange(info.min, int(info.max) + 1, dtype=np.int64).astype(dtype)
    x = np.concatenate([x, x[::-1], x[:71]]).reshape(1, 11, 53)  # every byte, twice; an odd length (a vector tail)
    out = np.full(x.shape, np.nan, np.float32)
    _cpu.dequantize_linear(x, out, scale, zp)
    want = dequantize(x, np.asarray(np.float32(scale)), np.asarray(zp, dtype))
    np.testing.assert_array_equal(out, want)


def test_dequantize_errors_name_what_was_wrong():
    x = np.zeros((4, 8), np.uint8)
    with pytest.raises(TypeError, match="x must be uint8 or int8"):
        _cpu.dequantize_linear(x.astype(np.int16), np.zeros((4, 8), np.float32), 0.1, 0)
    with pytest.raises(TypeError, match="out must be float32"):
        _cpu.dequantize_linear(x, np.zeros((4, 8), np.float64), 0.1, 0)
    with pytest.raises(ValueError, match="one shape"):
        _cpu.dequantize_linear(x, np.zeros((8, 4), np.float32), 0.1, 0)
    with pytest.raises(ValueError, match="C-contiguous"):
        _cpu.dequantize_linear(x, np.zeros((8, 8), np.float32)[::2], 0.1, 0)
    with pytest.raises(ValueError, match="finite"):
        _cpu.dequantize_linear(x, np.zeros((4, 8), np.float32), float("inf"), 0)
    with pytest.raises(ValueError, match=r"zero_point must be in \[-128, 127\]"):
        _cpu.dequantize_linear(x.view(np.int8), np.zeros((4, 8), np.float32), 0.1, 200)
    ro = np.zeros((4, 8), np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError):
        _cpu.dequantize_linear(x, ro, 0.1, 0)
