"""Every load-time error of the ONNX runtime (unknown op or domain, unsupported attribute or dtype,
old opset, bad bytes, missing external data) and the model forms that must load (external data,
IR < 4 initializers listed as inputs, nodes out of order)."""
from __future__ import annotations

import os

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")

from _onnx_models import one_node, small_cnn  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from hpc_kernels.onnx import InferenceSession, InvalidModelError, UnsupportedModelError  # noqa: E402

F = TensorProto.FLOAT


def test_unknown_op_names_node_op_opset_and_the_supported_ops():
    model = one_node("Einsum", [("a", F, [2, 2]), ("b", F, [2, 2])], [("y", F, [2, 2])], equation="ij,jk->ik")
    with pytest.raises(UnsupportedModelError) as e:
        InferenceSession(model)
    msg = str(e.value)
    assert "node 'einsum0' (Einsum, domain ai.onnx) at opset 17" in msg
    assert "not implemented" in msg and "Conv" in msg and "MatMul" in msg


def test_another_domains_op_fails_at_load():
    node = helper.make_node("FusedConv", ["x"], ["y"], domain="com.microsoft", name="fc")
    g = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", F, [1])], [helper.make_tensor_value_info("y", F, [1])])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)])
    with pytest.raises(UnsupportedModelError, match=r"node 'fc' \(FusedConv, domain com.microsoft\).*not implemented"):
        InferenceSession(model)


@pytest.mark.parametrize("rank", [1, 3])
def test_conv_other_than_2d_fails_at_load(rank):
    w = numpy_helper.from_array(np.ones((2, 1) + (3,) * rank, np.float32), "w")
    model = one_node("Conv", [("x", F, [1, 1] + [8] * rank)], [("y", F, None)], initializers=[w])
    with pytest.raises(UnsupportedModelError, match=rf"\(Conv, domain ai.onnx\) at opset 17: a {rank}-D convolution.*supported: 2-D"):
        InferenceSession(model)


def test_conv_input_of_another_dtype_fails_at_load_even_with_weights_fed_at_run_time():
    model = one_node("Conv", [("x", TensorProto.FLOAT16, [1, 1, 8, 8]), ("w", TensorProto.FLOAT16, [2, 1, 3, 3])],
                     [("y", TensorProto.FLOAT16, None)])
    with pytest.raises(UnsupportedModelError, match="input of dtype float16; supported: float32, float64"):
        InferenceSession(model)


def test_conv_weights_of_another_dtype_fail_at_load():
    w = numpy_helper.from_array(np.ones((2, 1, 3, 3), np.float16), "w")
    model = one_node("Conv", [("x", TensorProto.FLOAT16, [1, 1, 8, 8])], [("y", TensorProto.FLOAT16, None)], initializers=[w])
    with pytest.raises(UnsupportedModelError, match="weights of dtype float16; supported: float32, float64"):
        InferenceSession(model)


@pytest.mark.parametrize("op, attrs, match", [
    ("Resize", {"mode": "area"}, "mode='area'; supported: nearest, linear, cubic"),
    ("Resize", {"antialias": 1, "mode": "nearest"}, "antialias=1 with mode='nearest'"),
    ("Resize", {"coordinate_transformation_mode": "diagonal"}, "coordinate_transformation_mode='diagonal'"),
    ("Pad", {"mode": "mirror"}, "mode='mirror'"),
    ("AveragePool", {"kernel_shape": [2, 2], "auto_pad": "SAME"}, "auto_pad='SAME'"),
    ("MaxPool", {"kernel_shape": [2, 2], "pool_mode": 1}, "attribute\\(s\\) pool_mode"),
    ("Cast", {"to": TensorProto.BFLOAT16}, "cast to tensor element type BFLOAT16"),
    ("Cast", {"to": TensorProto.STRING}, "STRING"),
    ("Softmax", {"axis": 1, "foo": 2}, "attribute\\(s\\) foo; supported: axis"),
])
def test_unsupported_attributes_fail_at_load(op, attrs, match):
    model = one_node(op, [("x", F, [1, 1, 4, 4])], [("y", F, None)], **attrs)
    with pytest.raises(UnsupportedModelError, match=match):
        InferenceSession(model)


def test_string_values_fail_at_load_naming_the_value():
    model = one_node("Identity", [("s", TensorProto.STRING, [2])], [("y", TensorProto.STRING, [2])])
    with pytest.raises(UnsupportedModelError, match="value 's': tensor element type STRING is not supported"):
        InferenceSession(model)


def test_training_mode_nodes_fail_at_load():
    inits = [numpy_helper.from_array(np.ones(2, np.float32), n) for n in ("s", "b", "m", "v")]
    model = one_node("BatchNormalization", [("x", F, [1, 2, 3, 3])], [("y", F, None), ("rm", F, None), ("rv", F, None)],
                     initializers=inits, training_mode=1)
    with pytest.raises(UnsupportedModelError, match="training mode"):
        InferenceSession(model)
    model = one_node("Dropout", [("x", F, [4]), ("r", F, []), ("t", TensorProto.BOOL, [])], [("y", F, None)])
    with pytest.raises(UnsupportedModelError, match="training_mode true or computed at run time"):
        InferenceSession(model)


def test_opset_too_old():
    with pytest.raises(UnsupportedModelError, match="opset 7; this runtime supports opset 9 and newer"):
        InferenceSession(small_cnn(opset=7))


@pytest.mark.parametrize("data", [b"", b"not an onnx model \x00\xff", b"\x08\x07\x12"])
def test_bad_model_bytes(data):
    with pytest.raises((InvalidModelError, UnsupportedModelError)):
        InferenceSession(data)


def test_bad_model_types_and_paths(tmp_path):
    with pytest.raises(TypeError, match="model must be a path, bytes or an onnx.ModelProto"):
        InferenceSession(42)
    with pytest.raises(InvalidModelError, match="no ONNX model file"):
        InferenceSession(str(tmp_path / "absent.onnx"))


def _save_external(model, tmp_path):
    path = tmp_path / "big.onnx"
    onnx.save_model(model, str(path), save_as_external_data=True, all_tensors_to_one_file=True, location="big.data",
                    size_threshold=0)
    return path


def test_model_with_external_data_loads(tmp_path):
    model = small_cnn()
    path = _save_external(small_cnn(), tmp_path)
    assert (tmp_path / "big.data").exists()
    x = np.random.default_rng(0).standard_normal((1, 3, 8, 8)).astype(np.float32)
    np.testing.assert_array_equal(InferenceSession(str(path)).run(None, {"x": x})[0], InferenceSession(model).run(None, {"x": x})[0])


def test_missing_external_data_file(tmp_path):
    path = _save_external(small_cnn(), tmp_path)
    os.remove(tmp_path / "big.data")
    with pytest.raises(InvalidModelError, match="external data is missing.*big.data"):
        InferenceSession(str(path))


def test_a_proto_whose_external_data_is_not_loaded(tmp_path):
    path = _save_external(small_cnn(), tmp_path)
    proto = onnx.load(str(path), load_external_data=False)
    with pytest.raises(InvalidModelError, match="initializer 'w1' has external data that is not loaded"):
        InferenceSession(proto)


def test_a_graph_that_cannot_run_in_any_order():
    nodes = [helper.make_node("Relu", ["b"], ["a"]), helper.make_node("Relu", ["a"], ["b"])]
    g = helper.make_graph(nodes, "cycle", [helper.make_tensor_value_info("x", F, [1])], [helper.make_tensor_value_info("b", F, [1])])
    with pytest.raises(InvalidModelError, match="cannot run in any order"):
        InferenceSession(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]))


def test_nodes_out_of_order_are_sorted():
    nodes = [helper.make_node("Relu", ["t"], ["y"]), helper.make_node("Sigmoid", ["x"], ["t"])]
    g = helper.make_graph(nodes, "rev", [helper.make_tensor_value_info("x", F, [3])], [helper.make_tensor_value_info("y", F, [3])])
    sess = InferenceSession(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]))
    x = np.array([-1.0, 0.0, 2.0], np.float32)
    np.testing.assert_allclose(sess.run(None, {"x": x})[0], 1 / (1 + np.exp(-x)), rtol=1e-6)


def test_ir3_initializers_listed_as_inputs_are_not_feeds():
    model = small_cnn(opset=9)
    model.ir_version = 3
    model.graph.input.extend(helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)) for t in model.graph.initializer)
    sess = InferenceSession(model)
    assert [i.name for i in sess.get_inputs()] == ["x"]
    x = np.ones((1, 3, 6, 6), np.float32)
    np.testing.assert_allclose(sess.run(None, {"x": x})[0], InferenceSession(small_cnn(opset=9)).run(None, {"x": x})[0], rtol=1e-6)
