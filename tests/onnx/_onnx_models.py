"""Small ONNX models built with onnx.helper for the session, load-error and op tests."""
from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def small_cnn(opset: int = 17, batch="N", height="H", width="W", seed: int = 0) -> onnx.ModelProto:
    """x [N, 3, H, W] -> Conv 3x3 (8) -> Relu -> MaxPool 2 -> Conv 1x1 (16) + BatchNorm -> Clip ->
    GlobalAveragePool -> Flatten -> Gemm (10) = "logits", and the first Relu's output "features"."""
    rng = np.random.default_rng(seed)

    def init(name, *shape):
        return numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32) * 0.3, name)

    inits = [init("w1", 8, 3, 3, 3), init("b1", 8), init("w2", 16, 8, 1, 1), init("fc_w", 10, 16), init("fc_b", 10),
             init("bn_s", 16), init("bn_b", 16), init("bn_m", 16),
             numpy_helper.from_array(np.abs(rng.standard_normal(16)).astype(np.float32) + 0.5, "bn_v"),
             numpy_helper.from_array(np.array(0.0, np.float32), "lo"), numpy_helper.from_array(np.array(6.0, np.float32), "hi")]
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], name="conv1", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["features"], name="relu1"),
        helper.make_node("MaxPool", ["features"], ["p1"], name="pool1", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Conv", ["p1", "w2"], ["c2"], name="conv2"),
        helper.make_node("BatchNormalization", ["c2", "bn_s", "bn_b", "bn_m", "bn_v"], ["n2"], name="bn2"),
        helper.make_node("Clip", ["n2", "lo", "hi"], ["r2"], name="clip2"),
        helper.make_node("GlobalAveragePool", ["r2"], ["g"], name="gap"),
        helper.make_node("Flatten", ["g"], ["f"], name="flatten"),
        helper.make_node("Gemm", ["f", "fc_w", "fc_b"], ["logits"], name="fc", transB=1),
    ]
    graph = helper.make_graph(
        nodes, "small_cnn",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, 3, height, width])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [batch, 10]),
         helper.make_tensor_value_info("features", TensorProto.FLOAT, [batch, 8, height, width])],
        inits,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def one_node(op_type: str, inputs, outputs, opset: int = 17, initializers=(), **attrs) -> onnx.ModelProto:
    """A one-node model; `inputs` are (name, elem_type, shape) feeds, initializers numpy_helper tensors."""
    node = helper.make_node(op_type, [i[0] if isinstance(i, tuple) else i for i in inputs] +
                            [t.name for t in initializers], [o[0] for o in outputs], name=f"{op_type.lower()}0", **attrs)
    graph = helper.make_graph(
        [node], op_type,
        [helper.make_tensor_value_info(*i) for i in inputs if isinstance(i, tuple)],
        [helper.make_tensor_value_info(*o) for o in outputs], list(initializers))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
