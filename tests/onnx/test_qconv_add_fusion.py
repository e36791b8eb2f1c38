"""The QDQ pass's QConv + QAdd fusion (the skip addition in the conv's epilogue) against
onnxruntime on hand-built QDQ graphs: Conv -> Q -> DQ, DQ(skip) -> Add -> Q. Fused when the conv
is the Add's first operand (QLinearAdd's rounding is not symmetric), left as a QAdd when it is the
second; a skip tensor that broadcasts runs the fused node's unfused fallback. uint8 and int8,
both layouts, cpu and reference backends: outputs equal to onnxruntime's, bit for bit."""
from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from _passes_helpers import flat_nodes  # noqa: E402
from hpc_kernels.onnx import InferenceSession  # noqa: E402

_ELEM = {np.dtype(np.uint8): TensorProto.UINT8, np.dtype(np.int8): TensorProto.INT8}


def _model(dtype, conv_first=True, skip_shape=(1, 16, 6, 6), seed=0):
    """x (float, 1x8x6x6) -> Q -> DQ -> Conv 3x3 (16 ch, pad 1) -> Q -> DQ -> Add(DQ(Q(skip))) -> Q -> DQ."""
    rng = np.random.default_rng(seed)
    dt = np.dtype(dtype)
    info = np.iinfo(dt)
    zp = lambda v: np.array(v, dt)  # noqa: E731
    w = rng.integers(-127, 128, (16, 8, 3, 3), dtype=np.int8)
    inits = [
        numpy_helper.from_array(np.array(0.05, np.float32), "xs"), numpy_helper.from_array(zp(info.min + 120), "xz"),
        numpy_helper.from_array(w, "w"),
        numpy_helper.from_array((rng.random(16) * 0.01 + 0.005).astype(np.float32), "ws"),
        numpy_helper.from_array(np.zeros(16, np.int8), "wz"),
        numpy_helper.from_array(np.array(0.4, np.float32), "ys"), numpy_helper.from_array(zp(info.min + 110), "yz"),
        numpy_helper.from_array(np.array(0.3, np.float32), "ss"), numpy_helper.from_array(zp(info.min + 130), "sz"),
        numpy_helper.from_array(np.array(0.2, np.float32), "cs"), numpy_helper.from_array(zp(info.min + 100), "cz"),
    ]
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "xs", "xz"], ["xq"]),
        helper.make_node("DequantizeLinear", ["xq", "xs", "xz"], ["xd"]),
        helper.make_node("DequantizeLinear", ["w", "ws", "wz"], ["wd"], axis=0),
        helper.make_node("Conv", ["xd", "wd"], ["y"], pads=[1, 1, 1, 1]),
        helper.make_node("QuantizeLinear", ["y", "ys", "yz"], ["yq"]),
        helper.make_node("DequantizeLinear", ["yq", "ys", "yz"], ["yd"]),
        helper.make_node("QuantizeLinear", ["skip", "ss", "sz"], ["sq"]),
        helper.make_node("DequantizeLinear", ["sq", "ss", "sz"], ["sd"]),
        helper.make_node("Add", ["yd", "sd"] if conv_first else ["sd", "yd"], ["a"]),
        helper.make_node("QuantizeLinear", ["a", "cs", "cz"], ["aq"]),
        helper.make_node("DequantizeLinear", ["aq", "cs", "cz"], ["out"]),
    ]
    g = helper.make_graph(nodes, "qconv_add", [
        helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8, 6, 6]),
        helper.make_tensor_value_info("skip", TensorProto.FLOAT, list(skip_shape))],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, None)], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    feed = {"x": rng.standard_normal((1, 8, 6, 6)).astype(np.float32) * 3,
            "skip": rng.standard_normal(skip_shape).astype(np.float32) * 30}
    return m, feed


def _ort(m, feed):
    return ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, feed)[0]


@pytest.mark.parametrize("backend", ["cpu", "reference"])
@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize("dtype", [np.uint8, np.int8])
def test_conv_then_add_is_one_node_equal_to_onnxruntime(dtype, layout, backend):
    m, feed = _model(dtype)
    s = InferenceSession(m.SerializeToString(), backend=backend, layout=layout)
    nodes = flat_nodes(s.graph)
    assert "QAdd" not in [n.op_type for n in nodes] and [len(n.inputs) for n in nodes if n.op_type == "QConv"] == [15]
    want = _ort(m, feed)
    got = s.run(None, feed)[0]
    np.testing.assert_array_equal(got, want)
    # The sum saturates at both ends here: the clamp of the fused epilogue is exercised.
    lo, hi = np.iinfo(dtype).min, np.iinfo(dtype).max
    q = np.rint(want / np.float32(0.2)).astype(np.int64) + (lo + 100)
    assert (q == lo).any() and (q == hi).any()


@pytest.mark.parametrize("dtype", [np.uint8, np.int8])
def test_conv_as_second_operand_stays_a_qadd(dtype):
    m, feed = _model(dtype, conv_first=False)
    s = InferenceSession(m.SerializeToString())
    assert "QAdd" in [n.op_type for n in s.graph.nodes]
    np.testing.assert_array_equal(s.run(None, feed)[0], _ort(m, feed))


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_broadcast_skip_runs_the_unfused_fallback(layout):
    m, feed = _model(np.uint8, skip_shape=(1, 16, 1, 1))
    s = InferenceSession(m.SerializeToString(), layout=layout)
    np.testing.assert_array_equal(s.run(None, feed)[0], _ort(m, feed))
