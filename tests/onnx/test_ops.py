"""Op forms the ONNX node tests do not cover, against onnxruntime: the attribute forms of old opsets
(Clip min/max, Squeeze/Unsqueeze axes, Split split, ReduceMean axes, Pad pads, Slice starts/ends, ...),
every opset from 9 for a small CNN, float64 convolutions, weights fed at run time, Upsample."""
from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from _onnx_models import small_cnn  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from hpc_kernels.onnx import InferenceSession  # noqa: E402

F, D, I64 = TensorProto.FLOAT, TensorProto.DOUBLE, TensorProto.INT64


def _model(nodes, inputs, outputs, opset, inits=()):
    g = helper.make_graph(nodes, "t", [helper.make_tensor_value_info(*i) for i in inputs],
                          [helper.make_tensor_value_info(*o) for o in outputs], list(inits))
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)], ir_version=7 if opset < 15 else 8)


def _compare(model, feed, rtol=1e-5, atol=1e-6):
    want = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, feed)
    got = InferenceSession(model).run(None, feed)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.dtype == w.dtype and g.shape == w.shape
        np.testing.assert_allclose(g, w, rtol=rtol, atol=atol)


def _x(*shape, dtype=np.float32, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


@pytest.mark.parametrize("opset", range(9, onnx.defs.onnx_opset_version() + 1))
def test_small_cnn_at_every_opset(opset):
    model = small_cnn(opset=opset)
    if opset < 11:  # Clip's min/max were attributes before opset 11
        clip = next(n for n in model.graph.node if n.op_type == "Clip")
        del clip.input[1:]
        clip.attribute.extend([helper.make_attribute("min", 0.0), helper.make_attribute("max", 6.0)])
    try:
        ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime may lag onnx's newest opset: then ours runs alone
        if "opset" not in str(exc).lower():
            raise
        InferenceSession(model).run(None, {"x": _x(2, 3, 9, 7)})
        pytest.skip(f"onnxruntime {ort.__version__} does not run opset {opset}")
    _compare(model, {"x": _x(2, 3, 9, 7)}, rtol=1e-4, atol=1e-5)


OLD_FORMS = [
    ("Clip attrs", 9, [helper.make_node("Clip", ["x"], ["y"], min=-0.5, max=0.5)], []),
    ("Squeeze axes attr", 11, [helper.make_node("Squeeze", ["x"], ["y"], axes=[1])], [], (2, 1, 3)),
    ("Unsqueeze axes attr", 11, [helper.make_node("Unsqueeze", ["x"], ["y"], axes=[0, 3])], []),
    ("Split split attr", 11, [helper.make_node("Split", ["x"], ["y", "z"], axis=1, split=[1, 3])], [], (2, 4, 3), 2),
    ("ReduceMean axes attr", 13, [helper.make_node("ReduceMean", ["x"], ["y"], axes=[1, -1], keepdims=0)], []),
    ("ReduceMean axes input", 18, [helper.make_node("ReduceMean", ["x", "ax"], ["y"], keepdims=1)],
     [numpy_helper.from_array(np.array([2], np.int64), "ax")]),
    ("Pad attrs", 10, [helper.make_node("Pad", ["x"], ["y"], pads=[0, 1, 2, 0, 2, 1], value=1.5)], []),
    ("Pad reflect", 10, [helper.make_node("Pad", ["x"], ["y"], mode="reflect", pads=[0, 1, 1, 0, 1, 2])], []),
    ("Pad negative", 13, [helper.make_node("Pad", ["x", "p"], ["y"], mode="edge")],
     [numpy_helper.from_array(np.array([0, -1, 2, 0, 1, -1], np.int64), "p")]),
    ("Slice attrs", 9, [helper.make_node("Slice", ["x"], ["y"], starts=[1, 0], ends=[100, -1], axes=[1, 2])], []),
    ("Softmax 2-D coercion", 11, [helper.make_node("Softmax", ["x"], ["y"], axis=1)], []),
    ("Softmax axis", 13, [helper.make_node("Softmax", ["x"], ["y"], axis=1)], []),
    ("Dropout ratio attr", 9, [helper.make_node("Dropout", ["x"], ["y"], ratio=0.3)], []),
    ("BatchNormalization 9", 9, [helper.make_node("BatchNormalization", ["x", "s", "b", "m", "v"], ["y"], epsilon=1e-3)],
     [numpy_helper.from_array(np.linspace(0.5, 1.5, 4).astype(np.float32), n) for n in ("s", "b", "m", "v")], (2, 4, 3)),
    ("Upsample 9", 9, [helper.make_node("Upsample", ["x", "sc"], ["y"], mode="nearest")],
     [numpy_helper.from_array(np.array([1, 1, 2, 3], np.float32), "sc")], (1, 2, 3, 4)),
    ("Resize 10 linear", 10, [helper.make_node("Resize", ["x", "sc"], ["y"], mode="linear")],
     [numpy_helper.from_array(np.array([1, 1, 2, 1.5], np.float32), "sc")], (1, 2, 3, 4)),
    ("Resize 11 sizes", 11, [helper.make_node("Resize", ["x", "roi", "sc", "sz"], ["y"], mode="linear",
                                              coordinate_transformation_mode="pytorch_half_pixel")],
     [numpy_helper.from_array(np.array([], np.float32), "roi"), numpy_helper.from_array(np.array([], np.float32), "sc"),
      numpy_helper.from_array(np.array([1, 2, 5, 7], np.int64), "sz")], (1, 2, 3, 4)),
    ("Gemm opset 9", 9, [helper.make_node("Gemm", ["x", "w", "c"], ["y"], alpha=0.5, beta=2.0, transB=1)],
     [numpy_helper.from_array(_x(5, 4, seed=3), "w"), numpy_helper.from_array(_x(5, seed=4), "c")], (3, 4)),
    ("Flatten axis 0", 9, [helper.make_node("Flatten", ["x"], ["y"], axis=0)], []),
    ("Shape start", 15, [helper.make_node("Shape", ["x"], ["y"], start=1)], []),
    ("Cast 9", 9, [helper.make_node("Cast", ["x"], ["y"], to=TensorProto.INT32)], []),
    ("HardSigmoid", 9, [helper.make_node("HardSigmoid", ["x"], ["y"], alpha=0.3, beta=0.4)], []),
    ("LRN", 9, [helper.make_node("LRN", ["x"], ["y"], size=3, alpha=1e-3, beta=0.7, bias=1.5)], [], (1, 5, 3, 3)),
    ("MaxPool ceil", 10, [helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1)], [], (1, 2, 8, 8)),
    ("AveragePool pads ceil include", 11, [helper.make_node("AveragePool", ["x"], ["y"], kernel_shape=[3, 3], strides=[2, 2],
                                                             pads=[1, 1, 1, 1], ceil_mode=1, count_include_pad=1)], [], (1, 2, 8, 8)),
    ("ConvTranspose stride pads", 11, [helper.make_node("ConvTranspose", ["x", "w"], ["y"], strides=[2, 2], pads=[1, 0, 1, 1],
                                                         output_padding=[1, 1])],
     [numpy_helper.from_array(_x(2, 3, 3, 3, seed=5), "w")], (1, 2, 4, 5)),
]


@pytest.mark.parametrize("case", OLD_FORMS, ids=[c[0] for c in OLD_FORMS])
def test_attribute_and_input_forms_across_opsets(case):
    name, opset, nodes, inits = case[:4]
    shape = case[4] if len(case) > 4 else (2, 3, 4)
    n_out = case[5] if len(case) > 5 else 1
    outs = [(o, TensorProto.UNDEFINED, None) for o in nodes[0].output[:n_out]]
    model = _model(nodes, [("x", F, list(shape))], [], opset, inits)
    model.graph.output.extend(helper.make_empty_tensor_value_info(o[0]) for o in outs)
    _compare(model, {"x": _x(*shape)})


@pytest.mark.parametrize("auto_pad", ["SAME_UPPER", "SAME_LOWER", "VALID", "NOTSET"])
@pytest.mark.parametrize("stride", [1, 2])
def test_conv_float64_auto_pad_strides_groups(auto_pad, stride):
    attrs = dict(auto_pad=auto_pad, strides=[stride, stride], group=2)
    if auto_pad == "NOTSET":
        attrs.update(pads=[1, 0, 2, 1], dilations=[2, 1])

    def model(dt, elem):
        w = numpy_helper.from_array(_x(6, 2, 3, 3, dtype=dt, seed=1), "w")
        b = numpy_helper.from_array(_x(6, dtype=dt, seed=2), "b")
        return _model([helper.make_node("Conv", ["x", "w", "b"], ["y"], **attrs)], [("x", elem, [1, 4, 9, 8])], [("y", elem, None)], 17, [w, b])

    x = _x(1, 4, 9, 8, dtype=np.float64)
    _compare(model(np.float32, F), {"x": x.astype(np.float32)}, rtol=1e-5, atol=1e-5)
    # onnxruntime has no float64 Conv: the float64 result against its float32 one
    (got,) = InferenceSession(model(np.float64, D)).run(None, {"x": x})
    want = ort.InferenceSession(model(np.float32, F).SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x.astype(np.float32)})[0]
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_conv_and_matmul_with_weights_fed_at_run_time():
    model = _model([helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
                    helper.make_node("Flatten", ["c"], ["f"]),
                    helper.make_node("MatMul", ["f", "m"], ["y"])],
                   [("x", F, [2, 3, 5, 5]), ("w", F, [4, 3, 3, 3]), ("m", F, [100, 7])], [("y", F, None)], 17)
    _compare(model, {"x": _x(2, 3, 5, 5), "w": _x(4, 3, 3, 3, seed=1), "m": _x(100, 7, seed=2)}, rtol=1e-4, atol=1e-5)


def test_integer_matmul_runs_in_numpy():
    a = np.arange(12, dtype=np.int32).reshape(3, 4)
    b = np.arange(8, dtype=np.int32).reshape(4, 2)
    model = _model([helper.make_node("MatMul", ["a", "b"], ["y"])], [("a", TensorProto.INT32, [3, 4]), ("b", TensorProto.INT32, [4, 2])],
                   [("y", TensorProto.INT32, None)], 17)
    _compare(model, {"a": a, "b": b})


@pytest.mark.parametrize("storage_order", [0, 1])
def test_maxpool_indices_with_pads_strides_and_storage_order(storage_order):
    model = _model([helper.make_node("MaxPool", ["x"], ["y", "i"], kernel_shape=[3, 2], strides=[2, 1], pads=[1, 0, 1, 1],
                                     storage_order=storage_order)],
                   [("x", F, [2, 3, 7, 6])], [("y", F, None), ("i", I64, None)], 12)
    _compare(model, {"x": _x(2, 3, 7, 6)})
