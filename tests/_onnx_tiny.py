"""A tiny ONNX model built with onnx.helper (no torch) for the CLI and workflow tests of the ONNX runtime."""
from __future__ import annotations

import numpy as np


def tiny_model(path, inputs: int = 1, outputs: int = 1) -> str:
    """Conv 3->4 3x3 (pad 1) + Relu + GlobalAveragePool + Flatten: input "x" (batch, 3, 8, 8) float32, output
    "y" (batch, 4); inputs=2 adds an input "x2" (1,) added to y; outputs=2 adds the output "r" (the Relu)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.standard_normal((4, 3, 3, 3)).astype(np.float32), "w")
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]), helper.make_node("Relu", ["c"], ["r"]),
             helper.make_node("GlobalAveragePool", ["r"], ["p"])]
    ins = [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3, 8, 8])]
    if inputs == 2:
        ins.append(helper.make_tensor_value_info("x2", TensorProto.FLOAT, [1]))
        nodes += [helper.make_node("Flatten", ["p"], ["f"]), helper.make_node("Add", ["f", "x2"], ["y"])]
    else:
        nodes.append(helper.make_node("Flatten", ["p"], ["y"]))
    outs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])]
    if outputs == 2:
        outs.append(helper.make_tensor_value_info("r", TensorProto.FLOAT, ["batch", 4, 8, 8]))
    g = helper.make_graph(nodes, "tiny", ins, outs, [w])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return str(path)
