"""A small ResNet-like float model built with onnx.helper, and its quantized forms written by
onnxruntime.quantization (quantize_static in QDQ format with a calibration reader of random inputs,
quantize_dynamic), for the quantized-model tests."""
from __future__ import annotations

import os
from typing import Dict, Iterator, Optional

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HW = 16


def resnet_like(seed: int = 0, c: int = 8, classes: int = 10) -> onnx.ModelProto:
    """x [N, 3, 16, 16] -> stem Conv3x3+Relu -> basic block (identity skip) -> basic block (stride 2,
    1x1 projection skip) -> GlobalAveragePool -> Flatten -> Gemm = "logits". He-initialised weights."""
    rng = np.random.default_rng(seed)
    inits, nodes = [], []

    def w(name, *shape, std=None):
        fan = int(np.prod(shape[1:])) if len(shape) > 1 else 1
        a = rng.standard_normal(shape) * (std if std is not None else (2.0 / fan) ** 0.5)
        inits.append(numpy_helper.from_array(a.astype(np.float32), name))
        return name

    def conv(x, y, cin, cout, k, stride=1, relu=True):
        out = y + "_pre" if relu else y
        nodes.append(helper.make_node("Conv", [x, w(y + "_w", cout, cin, k, k), w(y + "_b", cout, std=0.1)], [out], name=y,
                                      pads=[k // 2] * 4, strides=[stride] * 2))
        if relu:
            nodes.append(helper.make_node("Relu", [out], [y], name=y + "_relu"))
        return y

    def block(x, name, cin, cout, stride):
        a = conv(x, name + "a", cin, cout, 3, stride)
        b = conv(a, name + "b", cout, cout, 3, 1, relu=False)
        skip = conv(x, name + "sk", cin, cout, 1, stride, relu=False) if stride != 1 or cin != cout else x
        nodes.append(helper.make_node("Add", [b, skip], [name + "_sum"], name=name + "_add"))
        nodes.append(helper.make_node("Relu", [name + "_sum"], [name + "_out"], name=name + "_relu"))
        return name + "_out"

    x = conv("x", "stem", 3, c, 3)
    x = block(x, "b1", c, c, 1)
    x = block(x, "b2", c, 2 * c, 2)
    nodes += [helper.make_node("GlobalAveragePool", [x], ["gap"], name="gap"),
              helper.make_node("Flatten", ["gap"], ["flat"], name="flatten"),
              helper.make_node("Gemm", ["flat", w("fc_w", classes, 2 * c), w("fc_b", classes, std=0.1)], ["logits"],
                               name="fc", transB=1)]
    graph = helper.make_graph(nodes, "resnet_like", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, HW, HW])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", classes])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def inputs(n: int, seed: int, batch: int = 1) -> list:
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((batch, 3, HW, HW)).astype(np.float32) for _ in range(n)]


def _reader(samples):
    from onnxruntime.quantization import CalibrationDataReader

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.it: Iterator[Dict[str, np.ndarray]] = iter([{"x": s} for s in samples])

        def get_next(self) -> Optional[Dict[str, np.ndarray]]:
            return next(self.it, None)

    return Reader()


def quantized(folder: str, kind: str, seed: int = 0) -> str:
    """The path of resnet_like(seed) quantized as `kind`: "qdq_u8" (uint8 activations, int8
    weights per tensor), "qdq_s8_pc" (int8 activations, int8 weights per channel) or "dynamic"."""
    import onnxruntime.quantization as oq

    fp = os.path.join(folder, f"float_{seed}.onnx")
    if not os.path.exists(fp):
        onnx.save(resnet_like(seed), fp)
    out = os.path.join(folder, f"{kind}_{seed}.onnx")
    if os.path.exists(out):
        return out
    if kind == "dynamic":
        oq.quantize_dynamic(fp, out, weight_type=oq.QuantType.QUInt8)
    else:
        act = oq.QuantType.QUInt8 if kind == "qdq_u8" else oq.QuantType.QInt8
        oq.quantize_static(fp, out, _reader(inputs(8, seed + 100)), quant_format=oq.QuantFormat.QDQ, activation_type=act,
                           weight_type=oq.QuantType.QInt8, per_channel=kind.endswith("_pc"))
    return out
