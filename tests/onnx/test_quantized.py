"""Quantized ONNX models on hpc_kernels.onnx against onnxruntime: a small ResNet-like model quantized
by onnxruntime.quantization (quantize_static in QDQ format, per tensor and per channel;
quantize_dynamic), the QDQ pass's patterns and preconditions, and Q/DQ rounding and saturation.

Bounds. QDQ models: the output is DequantizeLinear of an int8/uint8 tensor, so the difference is
counted in output quantization steps (|ours - onnxruntime| / logits_scale). Both runtimes compute
every fused conv/GEMM in integers with the same requantization (float32(acc) * float32(x_s * w_s /
y_s), round half to even), the residual Add and the global pooling with onnxruntime's QLinearAdd
and QLinearGlobalAveragePool arithmetic (ops/qadd_pool.py), and the ops left in float round the same
float32 values;
measured: 0 steps (bit-identical) over 3 seeds x 4 inputs at batch 2, both quantizations. The bound
allows 1 step, for a float op summing in another order that lands one intermediate on the other
side of a rounding tie. (onnxruntime chooses per layer whether it fuses: on this machine it leaves
11 of ResNet-18's 20 convs and its Adds in float for int8 activations with per-channel weights; the
zoo's ResNet-18 at 64x64 then differs by up to 2 steps (in 12-22% of the outputs of 2 inputs of 3),
and is bit-identical with uint8 activations: test_zoo_resnet18_qdq, with KERNELS_ONNX_ZOO=full.) Dynamic quantization (float
output): measured max |ours - ort| = 2.3e-7 * max |ort| (onnxruntime fuses ConvInteger/MatMulInteger
with the Cast/Mul that follow, so the scales multiply in another order); the operator format with
QLinearConv and a float tail: 1.0e-7 * max |ort|; bound 1e-4 * max |ort|, still 40x smaller than
one step of the last DynamicQuantizeLinear (range / 255)."""
from __future__ import annotations

import os

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnxruntime.quantization")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402

import _quant_models as M  # noqa: E402
from _passes_helpers import flat_nodes  # noqa: E402
from hpc_kernels.onnx import InferenceSession, UnsupportedModelError  # noqa: E402

QDQ_STEPS = 1
DYNAMIC_RTOL = 1e-4


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return str(tmp_path_factory.mktemp("quant"))


def _both(path_or_model, feed):
    data = path_or_model if isinstance(path_or_model, str) else path_or_model.SerializeToString()
    ours = InferenceSession(data)
    ref = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    return ours, ours.run(None, feed), ref.run(None, feed)


def _initializer(path, name):
    return next(numpy_helper.to_array(t) for t in onnx.load(path).graph.initializer if t.name == name)


@pytest.mark.parametrize("kind", ["qdq_u8", "qdq_s8_pc"])
def test_qdq_model_matches_onnxruntime(folder, kind):
    path = M.quantized(folder, kind)
    step = float(_initializer(path, "logits_scale"))
    ours = InferenceSession(path)
    ref = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    for x in M.inputs(2, seed=7, batch=2):
        (got,), (want,) = ours.run(None, {"x": x}), ref.run(None, {"x": x})
        assert got.shape == want.shape == (2, 10)
        assert np.abs(got - want).max() / step <= QDQ_STEPS


@pytest.mark.parametrize("per_channel", [False, True])
def test_qdq_matmul_on_3d_activations_matches_onnxruntime(folder, per_channel):
    """MatMul -> Add(bias) -> Relu -> MatMul quantized QDQ: QGemm on (N, 5, K) activations, the bias
    Add a QAdd of a constant; bit-identical."""
    path = M.quantized_mlp(folder, per_channel)
    x = np.random.default_rng(2).standard_normal((3, 5, 16)).astype(np.float32)
    ours, (got,), (want,) = _both(path, {"x": x})
    assert [n.op_type for n in flat_nodes(ours.graph)] == ["QuantizeLinear", "QGemm", "QAdd", "QGemm", "DequantizeLinear"]
    assert np.abs(got - want).max() / float(_initializer(path, "y_scale")) <= QDQ_STEPS


@pytest.mark.parametrize("backend", ["cpu", "numba", "reference"])
def test_qdq_model_runs_on_every_host_backend(folder, backend):
    """The integer nodes run on the session's backend where it has integer kernels, else on the
    usual choice: the same integers whichever runs them."""
    path = M.quantized(folder, "qdq_u8")
    x = M.inputs(1, seed=3)[0]
    (want,) = InferenceSession(path).run(None, {"x": x})
    (got,) = InferenceSession(path, backend=backend).run(None, {"x": x})
    np.testing.assert_array_equal(got, want)


def test_qdq_model_in_both_layouts(folder):
    """layout="NHWC": the integer convs, Q/DQ and QAdd run in NHWC between one ToNHWC (of the
    quantized input) and one ToNCHW (before Flatten); the same integers as in NCHW."""
    path = M.quantized(folder, "qdq_s8_pc")
    x = M.inputs(1, seed=5, batch=2)[0]
    nchw, nhwc = InferenceSession(path, layout="NCHW"), InferenceSession(path, layout="NHWC")
    assert {n.layout for n in flat_nodes(nhwc.graph) if n.op_type == "QConv"} == {"NHWC"}
    assert [n.op_type for n in flat_nodes(nhwc.graph)].count("ToNHWC") == 1
    np.testing.assert_array_equal(nhwc.run(None, {"x": x})[0], nchw.run(None, {"x": x})[0])


def test_qdq_pass_makes_every_conv_and_gemm_integer(folder):
    graph = InferenceSession(M.quantized(folder, "qdq_s8_pc")).graph
    nodes = flat_nodes(graph)
    ops = [n.op_type for n in nodes]
    assert ops.count("QConv") == 6 and ops.count("QGemm") == 1
    # Both residual Adds (DQ + DQ -> Add -> Q) went into the conv before them: its skip addition.
    assert ops.count("QAdd") == 0 and sum(len(n.inputs) == 15 for n in nodes if n.op_type == "QConv") == 2
    assert not {"Conv", "FusedConv", "Gemm", "FusedGemm", "Add"} & set(ops)
    # The weights stay int8 (no DequantizeLinear of a weight survives as a float copy).
    conv = next(n for n in nodes if n.op_type == "QConv")
    assert graph.initializers.get(conv.inputs[3], np.zeros(0, np.int8)).dtype == np.int8


@pytest.mark.parametrize("kind, op, gone", [("dynamic", "QConv", "ConvInteger"), ("qop_conv_pc", "QLinearConv", "Conv")])
def test_float_output_models_match_onnxruntime(folder, kind, op, gone):
    """quantize_dynamic (its ConvInteger -> Cast -> Mul -> Add -> Relu chains become float-output
    QConvs), and the operator format with QLinearConv (its weights packed in a QConv2d plan at load)
    followed by float ops: float outputs, compared relative to their size."""
    path = M.quantized(folder, kind)
    ours, (got,), (want,) = _both(path, {"x": M.inputs(1, seed=9, batch=2)[0]})
    ops = [n.op_type for n in ours.graph.nodes]
    assert op in ops and gone not in ops and "Cast" not in ops
    assert np.abs(got - want).max() <= DYNAMIC_RTOL * np.abs(want).max()


def _block_feed(seed=1):
    rng = np.random.default_rng(seed)
    return {"x": rng.integers(0, 256, (2, 4, 6, 7)).astype(np.uint8),
            "skip": rng.integers(0, 256, (2, 4, 6, 7)).astype(np.uint8)}


@pytest.mark.parametrize("act", ["Relu", ""])
def test_residual_block_becomes_one_integer_conv(act):
    """DQ -> Conv -> Add(DQ(skip)) [-> Relu] -> Q: one QConv with the float residual and the activation."""
    ours, (got,), (want,) = _both(M.qdq_residual_block(act=act), _block_feed())
    fused = [n for n in ours.graph.nodes if n.op_type == "QConv"]
    assert len(fused) == 1 and fused[0].attrs["activation"] == ("relu" if act else "")
    assert fused[0].inputs[9] in ("sf", "sf_nhwc")  # the residual: DQ(skip)'s float32 output (maybe in NHWC)
    assert got.dtype == np.uint8
    assert np.abs(got.astype(int) - want.astype(int)).max() <= QDQ_STEPS


def test_residual_block_without_q_has_a_float_output():
    """No Q after the pattern: the integer conv's "float" mode (acc * x_scale * w_scale + residual,
    relu), against onnxruntime's float conv of the dequantized values: float rounding apart."""
    ours, (got,), (want,) = _both(M.qdq_residual_block(q=False), _block_feed())
    assert [n.op_type for n in ours.graph.nodes].count("QConv") == 1
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * np.abs(want).max())


@pytest.mark.parametrize("kw", [{"bias_scale_factor": 1.01}, {"w_axis": 1}, {"x_per_axis": True}])
def test_pass_leaves_unmatched_patterns_and_they_still_run(kw):
    """A bias whose scale is not x_scale * w_scale, weight scales on the input-channel axis, a
    per-channel activation scale: no integer conv (it would not be exact, or the kernels take a
    scalar); the Q/DQ and float ops give onnxruntime's answer."""
    ours, (got,), (want,) = _both(M.qdq_residual_block(**kw), _block_feed())
    assert "QConv" not in [n.op_type for n in ours.graph.nodes]
    assert np.abs(got.astype(int) - want.astype(int)).max() <= QDQ_STEPS


def test_q_with_a_run_time_scale_stays_an_op():
    """The Q's scale fed at run time: the conv still runs on the integer kernels, with a float32
    output (acc * x_scale * w_scale + residual, relu), and the Q runs as an op after it."""
    feed = dict(_block_feed(), ys=np.array(0.05, np.float32))
    ours, (got,), (want,) = _both(M.qdq_residual_block(y_scale_fed=True), feed)
    ops = [n.op_type for n in ours.graph.nodes if n.op_type not in ("DequantizeLinear", "ToNHWC", "ToNCHW")]
    assert ops == ["QConv", "QuantizeLinear"]
    assert np.abs(got.astype(int) - want.astype(int)).max() <= QDQ_STEPS


def _q_model(op, x_type, shape, inits, out_type, opset=21, **attrs):
    names = ["x"] + [t.name for t in inits]
    node = helper.make_node(op, names, ["y"], name="q0", **attrs)
    y = helper.make_tensor_value_info("y", out_type, shape) if out_type else helper.make_empty_tensor_value_info("y")
    g = helper.make_graph([node], "q", [helper.make_tensor_value_info("x", x_type, shape)], [y], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])


@pytest.mark.parametrize("zp_dtype", [np.uint8, np.int8])
def test_quantize_rounds_half_to_even_and_saturates(zp_dtype):
    x = np.array([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 1000.0, -1000.0, 3.49], np.float32)
    zp = np.array(0, zp_dtype)
    m = _q_model("QuantizeLinear", TensorProto.FLOAT, [9], [numpy_helper.from_array(np.float32(1.0), "s"),
                                                           numpy_helper.from_array(zp, "zp")],
                 helper.np_dtype_to_tensor_dtype(zp.dtype))
    (y,) = InferenceSession(m).run(None, {"x": x})
    info = np.iinfo(zp_dtype)
    want = np.clip([0, 2, 2, 0, -2, -2, 1000, -1000, 3], info.min, info.max).astype(zp_dtype)
    np.testing.assert_array_equal(y, want)


def test_per_axis_quantize_dequantize_match_the_onnx_reference():
    from onnx.reference import ReferenceEvaluator

    rng = np.random.default_rng(3)
    x = (rng.standard_normal((2, 5, 3, 4)) * 4).astype(np.float32)
    s = (rng.random(5) * 0.1 + 0.01).astype(np.float32)
    zp = rng.integers(-20, 20, 5).astype(np.int8)
    inits = [numpy_helper.from_array(s, "s"), numpy_helper.from_array(zp, "zp")]
    qm = _q_model("QuantizeLinear", TensorProto.FLOAT, [2, 5, 3, 4], inits, TensorProto.INT8, axis=1)
    (q,) = InferenceSession(qm).run(None, {"x": x})
    np.testing.assert_array_equal(q, ReferenceEvaluator(qm).run(None, {"x": x})[0])
    dm = _q_model("DequantizeLinear", TensorProto.INT8, [2, 5, 3, 4], inits, TensorProto.FLOAT, axis=1)
    (d,) = InferenceSession(dm).run(None, {"x": q})
    np.testing.assert_array_equal(d, ReferenceEvaluator(dm).run(None, {"x": q})[0])


def test_unsupported_quantization_fails_at_load_naming_node_op_and_attribute():
    m = _q_model("QuantizeLinear", TensorProto.FLOAT, [4], [numpy_helper.from_array(np.float32(0.1), "s")],
                 None, output_dtype=TensorProto.INT4)  # the output's type left to inference
    with pytest.raises(UnsupportedModelError, match=r"node 'q0' \(QuantizeLinear.*output_dtype"):
        InferenceSession(m)
    w = numpy_helper.from_array(np.ones((2, 1, 3, 3, 3), np.int8), "w")
    g = helper.make_graph([helper.make_node("ConvInteger", ["x", "w"], ["y"], name="ci")], "c",
                          [helper.make_tensor_value_info("x", TensorProto.UINT8, [1, 1, 5, 5, 5])],
                          [helper.make_tensor_value_info("y", TensorProto.INT32, None)], [w])
    with pytest.raises(UnsupportedModelError, match=r"node 'ci' \(ConvInteger.*3-D convolution"):
        InferenceSession(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]))


def test_qlinearconv_plan_takes_the_activation_scale_of_each_run():
    """Constant weights with x_scale/x_zero_point fed at run time: one QConv2d plan, packed at load,
    called with each run's activation parameters (what a dynamically quantized model needs)."""
    rng = np.random.default_rng(4)
    t = numpy_helper.from_array
    inits = [t(rng.integers(-127, 128, (6, 3, 3, 3)).astype(np.int8), "w"), t((rng.random(6) * 0.01 + 0.002).astype(np.float32), "ws"),
             t(np.zeros(6, np.int8), "wz"), t(np.float32(0.05), "ys"), t(np.uint8(128), "yz"),
             t(rng.integers(-300, 300, 6).astype(np.int32), "b")]
    node = helper.make_node("QLinearConv", ["x", "xs", "xz", "w", "ws", "wz", "ys", "yz", "b"], ["y"], name="qc",
                            pads=[1, 1, 1, 1], strides=[2, 2])
    g = helper.make_graph([node], "qc", [helper.make_tensor_value_info("x", TensorProto.UINT8, [1, 3, 9, 8]),
                                         helper.make_tensor_value_info("xs", TensorProto.FLOAT, []),
                                         helper.make_tensor_value_info("xz", TensorProto.UINT8, [])],
                          [helper.make_tensor_value_info("y", TensorProto.UINT8, [1, 6, 5, 4])], inits)
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    ours = InferenceSession(model)
    assert "w" not in ours.graph.initializers  # packed into the plan at load; the session dropped its copy
    ref = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    for scale, zp in ((0.02, 100), (0.007, 3)):
        feed = {"x": rng.integers(0, 256, (1, 3, 9, 8)).astype(np.uint8), "xs": np.array(scale, np.float32),
                "xz": np.array(zp, np.uint8)}
        np.testing.assert_array_equal(ours.run(None, feed)[0], ref.run(None, feed)[0])


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_qlinearconv_same_padding_plans_per_input_size(layout):
    """Constant parameters and auto_pad SAME_UPPER: the plan of each input size's padding is made at
    its first run and bound to that shape (QConv2d.bind); sizes alternate, each run equal to
    onnxruntime's, and a thread of its own gets the same."""
    rng = np.random.default_rng(6)
    t = numpy_helper.from_array
    inits = [t(rng.integers(-127, 128, (5, 4, 3, 3)).astype(np.int8), "w"), t(np.float32(0.01), "ws"),
             t(np.int8(0), "wz"), t(np.float32(0.05), "ys"), t(np.uint8(7), "yz"), t(np.float32(0.02), "xs"),
             t(np.uint8(100), "xz")]
    node = helper.make_node("QLinearConv", ["x", "xs", "xz", "w", "ws", "wz", "ys", "yz"], ["y"], name="qc",
                            auto_pad="SAME_UPPER", strides=[2, 2])
    g = helper.make_graph([node], "qc", [helper.make_tensor_value_info("x", TensorProto.UINT8, [1, 4, "h", "w"])],
                          [helper.make_tensor_value_info("y", TensorProto.UINT8, None)], inits)
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    ours = InferenceSession(model, layout=layout)
    ref = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    feeds = [{"x": rng.integers(0, 256, (1, 4, h, w)).astype(np.uint8)} for h, w in ((9, 8), (10, 7), (9, 8), (6, 6))]
    for feed in feeds:
        np.testing.assert_array_equal(ours.run(None, feed)[0], ref.run(None, feed)[0])
    import threading
    got = []
    th = threading.Thread(target=lambda: got.append(ours.run(None, feeds[1])[0]))
    th.start()
    th.join(timeout=60)
    assert got, "the run in another thread did not finish"
    np.testing.assert_array_equal(got[0], ref.run(None, feeds[1])[0])


@pytest.mark.skipif(__import__("platform").machine().lower() not in ("x86_64", "amd64"),
                    reason="QAdd reproduces onnxruntime's x86 QLinearAdd kernel (ARM's is fixed-point)")
@pytest.mark.parametrize("dtype", [np.uint8, np.int8])
def test_qadd_is_onnxruntimes_qlinearadd(dtype):
    """DQ(a) + DQ(b) -> Q becomes one QAdd; onnxruntime fuses the same into QLinearAdd: bit-identical
    on 2 x 65536 random elements per type (the float graph's own rounding differs in about 1 in 2*10^5)."""
    rng = np.random.default_rng(6)
    info = np.iinfo(dtype)
    t = numpy_helper.from_array
    elem = helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
    for trial in range(2):
        sa, sb, sc = (rng.random(3) * 0.1 + 0.001).astype(np.float32)
        za, zb, zc = (dtype(v) for v in rng.integers(info.min, info.max + 1, 3))
        nodes = [helper.make_node("DequantizeLinear", ["a", "sa", "za"], ["af"]),
                 helper.make_node("DequantizeLinear", ["b", "sb", "zb"], ["bf"]),
                 helper.make_node("Add", ["af", "bf"], ["cf"]), helper.make_node("QuantizeLinear", ["cf", "sc", "zc"], ["c"])]
        g = helper.make_graph(nodes, "qadd", [helper.make_tensor_value_info(n, elem, [256, 256]) for n in "ab"],
                              [helper.make_tensor_value_info("c", elem, [256, 256])],
                              [t(sa, "sa"), t(za, "za"), t(sb, "sb"), t(zb, "zb"), t(sc, "sc"), t(zc, "zc")])
        feed = {n: rng.integers(info.min, info.max + 1, (256, 256)).astype(dtype) for n in "ab"}
        ours, (got,), (want,) = _both(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), feed)
        assert [n.op_type for n in ours.graph.nodes] == ["QAdd"]
        np.testing.assert_array_equal(got, want)


@pytest.mark.skipif(os.environ.get("KERNELS_ONNX_ZOO") != "full", reason="KERNELS_ONNX_ZOO=full: exports and calibrates a zoo model")
def test_zoo_resnet18_qdq(tmp_path):
    """The zoo's ResNet-18 (torch export, onnxruntime's pre-processing, quantize_static QDQ with uint8
    activations and int8 weights) at 64x64, batch 2: bit-identical to onnxruntime."""
    pytest.importorskip("torch")
    import onnxruntime.quantization as oq
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from hpc_kernels.onnx import zoo

    fp, pre, qp = (str(tmp_path / n) for n in ("r18.onnx", "r18_pre.onnx", "r18_qdq.onnx"))
    zoo.export("resnet18", fp, batch=1, height=64, width=64)
    quant_pre_process(fp, pre)
    rng = np.random.default_rng(0)
    samples = [{"input": rng.standard_normal((1, 3, 64, 64)).astype(np.float32)} for _ in range(4)]

    class Reader(oq.CalibrationDataReader):
        def __init__(self):
            self.it = iter(samples)

        def get_next(self):
            return next(self.it, None)

    oq.quantize_static(pre, qp, Reader(), quant_format=oq.QuantFormat.QDQ, activation_type=oq.QuantType.QUInt8,
                       weight_type=oq.QuantType.QInt8)
    ours = InferenceSession(qp)
    ops = [n.op_type for n in ours.graph.nodes]
    assert ops.count("QConv") == 20 and ops.count("QAdd") == 8 and ops.count("QGemm") == 1
    ref = ort.InferenceSession(qp, providers=["CPUExecutionProvider"])
    for i in range(3):
        x = np.random.default_rng(10 + i).standard_normal((2, 3, 64, 64)).astype(np.float32)
        np.testing.assert_array_equal(ours.run(None, {"input": x})[0], ref.run(None, {"input": x})[0])


def test_dq_of_a_constant_is_folded_with_what_follows_it():
    """DQ(W) -> Transpose -> MatMul (no quantized activation: no pattern): the DQ and then the
    Transpose fold into one float constant at load. (onnxruntime turns this graph into
    MatMulNBits, which rounds differently: compared with NumPy here.)"""
    rng = np.random.default_rng(0)
    w = rng.integers(-127, 128, (4, 16)).astype(np.int8)
    nodes = [helper.make_node("DequantizeLinear", ["wq", "ws", "wz"], ["wf"]),
             helper.make_node("Transpose", ["wf"], ["wt"], perm=[1, 0]), helper.make_node("MatMul", ["x", "wt"], ["y"])]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3, 16])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3, 4])],
                          [numpy_helper.from_array(w, "wq"), numpy_helper.from_array(np.float32(0.01), "ws"),
                           numpy_helper.from_array(np.int8(0), "wz")])
    sess = InferenceSession(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]))
    assert [n.op_type for n in sess.graph.nodes] == ["MatMul"]
    x = rng.standard_normal((3, 16)).astype(np.float32)
    np.testing.assert_allclose(sess.run(None, {"x": x})[0], x @ (w.astype(np.float32) * np.float32(0.01)).T, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_qglobal_average_pool_is_onnxruntimes(layout):
    """DQ -> GlobalAveragePool -> Q becomes one QGlobalAveragePool (integer sum, onnxruntime's
    requantization); onnxruntime fuses the same into QLinearGlobalAveragePool: bit-identical. (The
    float pooling's rounding differed in 22-28 of MobileNetV2's 2560 pooled values.)"""
    rng = np.random.default_rng(8)
    t = numpy_helper.from_array
    shape = [2, 1280, 3, 5]
    for trial in range(3):
        sx = np.float32(rng.random() * 0.1 + 0.01)
        sy = np.float32(sx * (rng.random() * 0.4 + 0.1))
        nodes = [helper.make_node("DequantizeLinear", ["x", "sx", "zx"], ["xf"]),
                 helper.make_node("GlobalAveragePool", ["xf"], ["gf"]), helper.make_node("QuantizeLinear", ["gf", "sy", "zy"], ["y"])]
        g = helper.make_graph(nodes, "gap", [helper.make_tensor_value_info("x", TensorProto.UINT8, shape)],
                              [helper.make_tensor_value_info("y", TensorProto.UINT8, shape[:2] + [1, 1])],
                              [t(sx, "sx"), t(np.uint8(rng.integers(0, 256)), "zx"), t(sy, "sy"), t(np.uint8(rng.integers(0, 40)), "zy")])
        model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
        x = rng.integers(0, 256, shape).astype(np.uint8)
        ours = InferenceSession(model, layout=layout)
        assert "QGlobalAveragePool" in [n.op_type for n in ours.graph.nodes]
        want = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
        np.testing.assert_array_equal(ours.run(None, {"x": x})[0], want)


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_int8_maxpool_with_padding(layout):
    """An int8 MaxPool (the operator format pools quantized tensors directly) with padding: the pad
    is the type's lowest value, never 0 (a window of negative values used to pool to 0)."""
    g = helper.make_graph([helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])],
                          "mp", [helper.make_tensor_value_info("x", TensorProto.INT8, [1, 4, 8, 8])],
                          [helper.make_tensor_value_info("y", TensorProto.INT8, [1, 4, 4, 4])])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    x = np.random.default_rng(0).integers(-128, -100, (1, 4, 8, 8)).astype(np.int8)
    want = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    np.testing.assert_array_equal(InferenceSession(model, layout=layout).run(None, {"x": x})[0], want)


def _chained_qconvs(sess) -> int:
    """How many QConv nodes the session runs as steps of conv chains."""
    return sum(sub.op_type == "QConv" for n in sess._graph.nodes if n.op_type == "FusedConvChain"
               for sub in n.attrs["nodes"])


@pytest.mark.parametrize("kind", ["qdq_u8", "qdq_s8_pc"])
@pytest.mark.parametrize("layout", ["NHWC", "NCHW"])
def test_qconv_chain_equals_unchained_nodes(folder, kind, layout, monkeypatch):
    """Static quantization's QConv nodes run as "qconv" steps of one C++ chain call (ops/chain.py):
    the outputs are the node-by-node session's bit for bit, at two batch sizes (each prepared once),
    and the profile keeps every QConv under its own name."""
    path = M.quantized(folder, kind)
    chained = InferenceSession(path, backend="cpu", layout=layout)
    monkeypatch.setenv("KERNELS_ONNX_CHAIN", "0")
    plain = InferenceSession(path, backend="cpu", layout=layout)
    assert _chained_qconvs(chained) >= 3 and _chained_qconvs(plain) == 0
    # The tail too: the 8-bit pool (writing the classifier's matrix) and the classifier.
    subs = [sub.op_type for n in chained._graph.nodes if n.op_type == "FusedConvChain" for sub in n.attrs["nodes"]]
    assert {"QGlobalAveragePool", "QGemm"} <= set(subs)
    for batch in (2, 1, 2):
        for x in M.inputs(2, seed=batch, batch=batch):
            for a, b in zip(chained.run(None, {"x": x}), plain.run(None, {"x": x})):
                np.testing.assert_array_equal(a, b)
    qconvs = [n.name or n.outputs[0] for n in plain._graph.nodes if n.op_type == "QConv"]
    assert set(qconvs) <= set(chained.profile().by_node)


def test_dynamic_quantization_qconv_is_no_chain_step(folder):
    """A QConv whose activation scale is computed at run time (quantize_dynamic) keeps its own node:
    a chain step gets only its X and skip tensor."""
    sess = InferenceSession(M.quantized(folder, "dynamic"), backend="cpu")
    assert any(n.op_type == "QConv" for n in sess._graph.nodes)
    assert _chained_qconvs(sess) == 0
