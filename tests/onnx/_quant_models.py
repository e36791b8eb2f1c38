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
    weights per tensor), "qdq_s8_pc" (int8 activations, int8 weights per channel), "qop_conv_pc"
    (operator format, the convolutions only, as ai.onnx QLinearConv with per-channel weights; the
    other ops stay float: quantizing them too writes com.microsoft contrib ops) or "dynamic"."""
    import onnxruntime.quantization as oq

    fp = os.path.join(folder, f"float_{seed}.onnx")
    if not os.path.exists(fp):
        onnx.save(resnet_like(seed), fp)
    out = os.path.join(folder, f"{kind}_{seed}.onnx")
    if os.path.exists(out):
        return out
    if kind == "dynamic":
        oq.quantize_dynamic(fp, out, weight_type=oq.QuantType.QUInt8)
    elif kind == "qop_conv_pc":
        oq.quantize_static(fp, out, _reader(inputs(8, seed + 100)), quant_format=oq.QuantFormat.QOperator,
                           op_types_to_quantize=["Conv"], per_channel=True)
    else:
        act = oq.QuantType.QUInt8 if kind == "qdq_u8" else oq.QuantType.QInt8
        oq.quantize_static(fp, out, _reader(inputs(8, seed + 100)), quant_format=oq.QuantFormat.QDQ, activation_type=act,
                           weight_type=oq.QuantType.QInt8, per_channel=kind.endswith("_pc"))
    return out


def qdq_residual_block(seed: int = 0, act: str = "Relu", bias_scale_factor: float = 1.0, w_axis: int = 0,
                       q: bool = True, x_per_axis: bool = False, y_scale_fed: bool = False) -> onnx.ModelProto:
    """A hand-written QDQ residual block (the Q/DQ placement of tools that quantize only the conv
    inputs and the block output): x (uint8) and skip (uint8) feeds;
    DQ(x), DQ(W per channel), DQ(B) -> Conv 3x3 -> Add(DQ(skip)) -> act -> Q (uint8) = "y".
    bias_scale_factor != 1 gives B a scale other than x_scale * w_scale (the pass must refuse it);
    w_axis 1 puts the weight scales on the input-channel axis (likewise refused); q=False ends the
    block without the Q (a float32 output "y"); x_per_axis gives DQ(x) a per-channel scale (not a
    scalar: refused); y_scale_fed makes the Q's scale a graph input "ys" (not a constant)."""
    rng = np.random.default_rng(seed)
    c, k = 4, 4
    xs, ys, ss = np.float32(0.02), np.float32(0.05), np.float32(0.03)
    wsc = (rng.random(k if w_axis == 0 else c) * 0.01 + 0.005).astype(np.float32)
    per_k = wsc if w_axis == 0 else np.full(k, wsc[0], np.float32)
    t = numpy_helper.from_array
    xs_init = np.full(c, xs, np.float32) * np.float32(1.5) ** np.arange(c, dtype=np.float32) if x_per_axis else xs
    inits = [t(xs_init, "xs"), t(np.full(c, 100, np.uint8) if x_per_axis else np.uint8(100), "xz"), t(ss, "ss"), t(np.uint8(90), "sz"), t(ys, "ys"), t(np.uint8(3), "yz"),
             t(rng.integers(-127, 128, (k, c, 3, 3)).astype(np.int8), "wq"), t(wsc, "ws"),
             t(np.zeros(wsc.shape, np.int8), "wz"), t(rng.integers(-500, 500, k).astype(np.int32), "bq"),
             t((xs * per_k * np.float32(bias_scale_factor)).astype(np.float32), "bs"), t(np.zeros(k, np.int32), "bz")]
    if y_scale_fed:
        inits = [i for i in inits if i.name != "ys"]
    nodes = [helper.make_node("DequantizeLinear", ["x", "xs", "xz"], ["xf"], name="dq_x", axis=1),
             helper.make_node("DequantizeLinear", ["wq", "ws", "wz"], ["wf"], name="dq_w", axis=w_axis),
             helper.make_node("DequantizeLinear", ["bq", "bs", "bz"], ["bf"], name="dq_b", axis=0),
             helper.make_node("DequantizeLinear", ["skip", "ss", "sz"], ["sf"], name="dq_skip"),
             helper.make_node("Conv", ["xf", "wf", "bf"], ["cf"], name="conv", pads=[1, 1, 1, 1]),
             helper.make_node("Add", ["cf", "sf"], ["af"], name="add")]
    last = "af"
    if act:
        nodes.append(helper.make_node(act, ["af"], ["rf"], name="act"))
        last = "rf"
    if q:
        nodes.append(helper.make_node("QuantizeLinear", [last, "ys", "yz"], ["y"], name="q_y"))
    else:
        nodes[-1].output[0] = "y"
    feeds = [helper.make_tensor_value_info("x", TensorProto.UINT8, ["N", c, 6, 7]),
             helper.make_tensor_value_info("skip", TensorProto.UINT8, ["N", k, 6, 7])]
    if y_scale_fed:
        feeds.append(helper.make_tensor_value_info("ys", TensorProto.FLOAT, []))
    graph = helper.make_graph(nodes, "qdq_block", feeds,
                              [helper.make_tensor_value_info("y", TensorProto.UINT8 if q else TensorProto.FLOAT, ["N", k, 6, 7])],
                              inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def mlp(seed: int = 0) -> onnx.ModelProto:
    """x [N, 5, 16] -> MatMul (16x8) -> Add bias -> Relu -> MatMul (8x4) = "y": MatMul on 3-D
    activations, as in a transformer's projections."""
    rng = np.random.default_rng(seed)

    def t(name, *shape, std=0.3):
        return numpy_helper.from_array((rng.standard_normal(shape) * std).astype(np.float32), name)

    nodes = [helper.make_node("MatMul", ["x", "w1"], ["h"], name="mm1"), helper.make_node("Add", ["h", "b1"], ["hb"], name="bias"),
             helper.make_node("Relu", ["hb"], ["r"], name="relu"), helper.make_node("MatMul", ["r", "w2"], ["y"], name="mm2")]
    graph = helper.make_graph(nodes, "mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 5, 16])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 5, 4])],
                              [t("w1", 16, 8), t("b1", 8, std=0.1), t("w2", 8, 4)])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def quantized_mlp(folder: str, per_channel: bool) -> str:
    """mlp() through quantize_static (QDQ) with random calibration inputs."""
    import onnxruntime.quantization as oq
    from onnxruntime.quantization import CalibrationDataReader

    fp, out = os.path.join(folder, "mlp.onnx"), os.path.join(folder, f"mlp_qdq_{int(per_channel)}.onnx")
    onnx.save(mlp(), fp)
    rng = np.random.default_rng(1)
    samples = [{"x": rng.standard_normal((2, 5, 16)).astype(np.float32)} for _ in range(4)]

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.it = iter(samples)

        def get_next(self):
            return next(self.it, None)

    oq.quantize_static(fp, out, Reader(), quant_format=oq.QuantFormat.QDQ, per_channel=per_channel)
    return out
