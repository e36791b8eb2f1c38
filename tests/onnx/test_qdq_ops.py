"""The QDQ model's non-convolution int8 nodes: the vector QAdd (_cpu.qadd) bit-identical to the
byte-pair table on every ISA cap and every tail length, its argument checks; the QDQ pass's
DQ -> MaxPool/Flatten/Reshape -> Q fusion exact against the unfused graph (onnxruntime with its
graph optimizations off runs it literally) and against onnxruntime, int8 and uint8, with padding,
ceil_mode, strides and dilations, on the cpu and reference backends; the cases it must leave
alone; the integer MaxPool and byte relayout entries; QGemm's plan for a constant B."""
from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from _helpers import ISAS  # noqa: E402
from _passes_helpers import flat_nodes  # noqa: E402
from hpc_kernels import _cpu  # noqa: E402
from hpc_kernels.onnx import InferenceSession  # noqa: E402
from hpc_kernels.onnx.ops.qadd_pool import qadd_params, qadd_table  # noqa: E402

_ELEM = {np.dtype(np.uint8): TensorProto.UINT8, np.dtype(np.int8): TensorProto.INT8}


def _ort(model, feed, literal=False):
    opts = ort.SessionOptions()
    if literal:  # no QDQ fusion: DQ, the float op and Q run as written
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"]).run(None, feed)[0]


# -- the vector QAdd -------------------------------------------------------------------------------

def _params(rng, dtype):
    info = np.iinfo(dtype)
    sa, sb, sc = (rng.random(3) * 0.2 + 1e-3).astype(np.float32)
    za, zb, zc = (dtype(v) for v in rng.integers(info.min, info.max + 1, 3))
    return sa, za, sb, zb, sc, zc


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("dtype", [np.uint8, np.int8])
def test_qadd_is_the_table_on_every_isa(isa, dtype, cpu_config):
    """Every one of the 65536 byte pairs for 8 parameter sets (2 of them with ratios far from 1), then
    every length 0..200 (all vector tails) at offsets into a larger buffer: equal to the table, and
    nothing written outside out."""
    cpu_config(isa)
    assert _cpu.qadd_isa() == isa
    rng = np.random.default_rng(11)
    a = np.repeat(np.arange(256, dtype=np.uint8), 256).view(dtype)
    b = np.tile(np.arange(256, dtype=np.uint8), 256).view(dtype)
    for trial in range(8):
        p = list(_params(rng, dtype))
        if trial >= 6:  # a wide dynamic range: ratios near 2**-10 and 2**6
            p[0], p[4] = np.float32(p[0] * 1e-3), np.float32(p[4] * 1e-2)
        table = qadd_table(*p, dtype)
        ra, rb, k = qadd_params(*p)
        out = np.empty_like(a)
        _cpu.qadd(a, b, out, float(ra), float(rb), float(k))
        np.testing.assert_array_equal(out.view(np.uint8), table.view(np.uint8))
    info = np.iinfo(dtype)
    p = _params(rng, dtype)
    table, (ra, rb, k) = qadd_table(*p, dtype), qadd_params(*p)
    for n in range(201):
        x = rng.integers(info.min, info.max + 1, (2, n + 3)).astype(dtype)
        buf = np.full(n + 7, 99, dtype)
        _cpu.qadd(x[0, 1:n + 1], x[1, 2:n + 2], buf[3:n + 3], float(ra), float(rb), float(k))
        idx = (x[0, 1:n + 1].view(np.uint8).astype(np.int64) << 8) | x[1, 2:n + 2].view(np.uint8)
        np.testing.assert_array_equal(buf[3:n + 3].view(np.uint8), table.view(np.uint8)[idx])
        assert (buf[:3] == 99).all() and (buf[n + 3:] == 99).all()


def test_qadd_threads_split_a_long_array_exactly():
    import hpc_kernels

    rng = np.random.default_rng(3)
    p = _params(rng, np.uint8)
    table, (ra, rb, k) = qadd_table(*p, np.uint8), qadd_params(*p)
    a, b = (rng.integers(0, 256, 300_001).astype(np.uint8) for _ in range(2))
    old = hpc_kernels.get_num_threads()
    try:
        hpc_kernels.set_num_threads(2)
        out = np.empty_like(a)
        _cpu.qadd(a, b, out, float(ra), float(rb), float(k))
    finally:
        hpc_kernels.set_num_threads(old)
    np.testing.assert_array_equal(out, table[(a.astype(np.int64) << 8) | b])


def test_qadd_checks_its_arguments():
    a = np.zeros((4, 4), np.uint8)
    with pytest.raises(TypeError, match="one dtype"):
        _cpu.qadd(a, a, np.zeros((4, 4), np.int8), 1.0, 1.0, 0.0)
    with pytest.raises(TypeError, match="uint8 or int8"):
        _cpu.qadd(a.astype(np.float32), a, a.copy(), 1.0, 1.0, 0.0)
    with pytest.raises(ValueError, match="one shape"):
        _cpu.qadd(a, np.zeros((4, 5), np.uint8), a.copy(), 1.0, 1.0, 0.0)
    with pytest.raises(ValueError, match="C-contiguous"):
        _cpu.qadd(np.zeros((4, 8), np.uint8)[:, ::2], a, a.copy(), 1.0, 1.0, 0.0)
    with pytest.raises(ValueError, match="overlap|share"):
        _cpu.qadd(a, a.copy(), a, 1.0, 1.0, 0.0)
    for bad in (float("inf"), float("nan"), 2.0 ** 100):
        with pytest.raises(ValueError, match="finite"):
            _cpu.qadd(a, a, a.copy(), bad, 1.0, 0.0)
    ro = a.copy()
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="writ"):
        _cpu.qadd(a, a, ro, 1.0, 1.0, 0.0)


def test_qadd_with_a_zero_output_scale_fails_at_load():
    t = numpy_helper.from_array
    nodes = [helper.make_node("DequantizeLinear", ["a", "s", "z"], ["af"]), helper.make_node("DequantizeLinear", ["b", "s", "z"], ["bf"]),
             helper.make_node("Add", ["af", "bf"], ["cf"]), helper.make_node("QuantizeLinear", ["cf", "s0", "z"], ["c"])]
    g = helper.make_graph(nodes, "qadd", [helper.make_tensor_value_info(n, TensorProto.UINT8, [4]) for n in "ab"],
                          [helper.make_tensor_value_info("c", TensorProto.UINT8, [4])],
                          [t(np.float32(0.1), "s"), t(np.float32(0.0), "s0"), t(np.uint8(3), "z")])
    with pytest.raises(ValueError, match="finite"):
        InferenceSession(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]))


# -- DQ -> MaxPool -> Q --------------------------------------------------------------------------------

def _pool_model(dtype, shape, attrs, scale=0.05, zp=3, q_scale=None, q_zp=None, op="MaxPool"):
    elem = _ELEM[np.dtype(dtype)]
    t = numpy_helper.from_array
    inits = [t(np.float32(scale), "s"), t(np.array(zp, dtype), "z"),
             t(np.float32(scale if q_scale is None else q_scale), "qs"), t(np.array(zp if q_zp is None else q_zp, dtype), "qz")]
    ins = ["xf"]
    if op == "Reshape":
        inits.append(t(np.array([shape[0], -1], np.int64), "shape"))
        ins.append("shape")
    nodes = [helper.make_node("DequantizeLinear", ["x", "s", "z"], ["xf"]), helper.make_node(op, ins, ["pf"], **attrs),
             helper.make_node("QuantizeLinear", ["pf", "qs", "qz"], ["y"])]
    g = helper.make_graph(nodes, "qpool", [helper.make_tensor_value_info("x", elem, shape)],
                          [helper.make_tensor_value_info("y", elem, None)], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


POOLS = [
    dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),  # ResNet's stem pool
    dict(kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1),  # SqueezeNet's: the last window overhangs
    dict(kernel_shape=[2, 3], strides=[1, 2], pads=[0, 1, 1, 2], ceil_mode=1),
    dict(kernel_shape=[3, 2], strides=[3, 1], dilations=[2, 1], pads=[2, 0, 1, 1]),
    dict(kernel_shape=[2, 2], auto_pad="SAME_UPPER"),
]


@pytest.mark.parametrize("dtype", [np.uint8, np.int8])
@pytest.mark.parametrize("attrs", POOLS, ids=range(len(POOLS)))
@pytest.mark.parametrize("backend,layout", [("cpu", "NHWC"), ("cpu", "NCHW"), ("reference", "auto")])
def test_qdq_maxpool_is_an_integer_maxpool(dtype, attrs, backend, layout):
    """Fused into one MaxPool on the 8-bit tensor; equal to the literal float graph and to
    onnxruntime. Inputs crowd the type's lowest values, so a padding of 0 or the zero point would
    show (it would win windows of values below it)."""
    info = np.iinfo(dtype)
    shape = [2, 19, 11, 13]
    model = _pool_model(dtype, shape, attrs, zp=info.min + 40)
    rng = np.random.default_rng(5)
    x = rng.integers(info.min, info.min + 60, shape).astype(dtype)
    s = InferenceSession(model, backend=backend, layout=layout)
    ops = [n.op_type for n in s.graph.nodes]
    assert "DequantizeLinear" not in ops and "QuantizeLinear" not in ops and "MaxPool" in ops
    got = s.run(None, {"x": x})[0]
    assert got.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(got, _ort(model, {"x": x}, literal=True))
    np.testing.assert_array_equal(got, _ort(model, {"x": x}))


@pytest.mark.parametrize("kw", [dict(q_scale=0.06), dict(q_zp=5), dict(scale=-0.05)], ids=["scale", "zero_point", "negative"])
def test_qdq_maxpool_with_other_parameters_stays_float(kw):
    """A Q with another scale or zero point, or a negative scale (DQ then reverses the order: max
    would become min), is not fused; the float graph still runs and matches onnxruntime's literal run."""
    model = _pool_model(np.uint8, [1, 4, 8, 8], POOLS[0], **kw)
    x = np.random.default_rng(1).integers(0, 256, (1, 4, 8, 8)).astype(np.uint8)
    s = InferenceSession(model)
    assert "DequantizeLinear" in [n.op_type for n in flat_nodes(s.graph)]
    np.testing.assert_array_equal(s.run(None, {"x": x})[0], _ort(model, {"x": x}, literal=True))


@pytest.mark.parametrize("op,attrs", [("Flatten", {"axis": 1}), ("Reshape", {}), ("Transpose", {"perm": [0, 2, 3, 1]})])
def test_qdq_data_movement_runs_on_the_8bit_tensor(op, attrs):
    model = _pool_model(np.int8, [2, 3, 4, 5], attrs, zp=-7, op=op)
    x = np.random.default_rng(2).integers(-128, 128, (2, 3, 4, 5)).astype(np.int8)
    s = InferenceSession(model)
    assert [n.op_type for n in s.graph.nodes if n.domain == ""] == [op]
    np.testing.assert_array_equal(s.run(None, {"x": x})[0], _ort(model, {"x": x}, literal=True))


# -- the integer MaxPool and byte relayout entries ----------------------------------------------------

@pytest.mark.parametrize("dtype", [np.uint8, np.int8])
@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_cpu_integer_max_pool_equals_the_numpy_pool(dtype, layout):
    from hpc_kernels.onnx.ops import _pool

    info = np.iinfo(dtype)
    rng = np.random.default_rng(4)
    x = rng.integers(info.min, info.max + 1, (2, 13, 9, 11)).astype(dtype)
    if layout == "NHWC":
        x = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    for k, st, pads, dil in [((3, 3), (2, 2), (1, 1, 1, 1), (1, 1)), ((2, 3), (1, 2), (0, 1, 2, 0), (2, 1))]:
        ho = _pool.output_size(9, k[0], st[0], dil[0], pads[0], pads[1], True)
        wo = _pool.output_size(11, k[1], st[1], dil[1], pads[2], pads[3], True)
        oshape = (2, 13, ho, wo) if layout == "NCHW" else (2, ho, wo, 13)
        got, want = np.empty(oshape, dtype), np.empty(oshape, dtype)
        _cpu.max_pool2d(x, got, k, st, pads, dil, layout)
        _pool.max_pool2d(x, want, k, st, pads, dil, layout, backend="reference")  # the NumPy fallback
        np.testing.assert_array_equal(got, want)
    with pytest.raises(TypeError, match="dtype"):
        _cpu.avg_pool2d(x, np.empty(oshape, dtype), (2, 2), (1, 1), (0, 0, 0, 0), False, layout)


def test_relayout_copies_bytes():
    x = np.random.default_rng(0).integers(-128, 128, (2, 3, 5, 7)).astype(np.int8)
    out = np.empty((2, 5, 7, 3), np.int8)
    _cpu.relayout(x, out, "NHWC")
    np.testing.assert_array_equal(out, x.transpose(0, 2, 3, 1))
    back = np.empty_like(x)
    _cpu.relayout(out, back, "NCHW")
    np.testing.assert_array_equal(back, x)
    with pytest.raises(TypeError, match="never cast"):
        _cpu.relayout(x, out.view(np.uint8), "NHWC")


# -- QGemm with a constant B ----------------------------------------------------------------------------

@pytest.mark.parametrize("m", [1, 5])
def test_qdq_gemm_with_constant_weights_matches_onnxruntime(m):
    """DQ(x) -> Gemm(DQ(W), DQ(bias), transB) -> Q (a classifier's fc): QGemm with B packed once at
    load (a 1x1 QConv2d plan); bit-identical to onnxruntime's QGemm."""
    rng = np.random.default_rng(9)
    k, n = 37, 23
    t = numpy_helper.from_array
    ws = (rng.random(n) * 0.01 + 0.001).astype(np.float32)
    xs = np.float32(0.05)
    inits = [t(rng.integers(-127, 128, (n, k)).astype(np.int8), "w"), t(ws, "ws"), t(np.zeros(n, np.int8), "wz"),
             t(xs, "xs"), t(np.uint8(7), "xz"), t(rng.integers(-500, 500, n).astype(np.int32), "b"), t(xs * ws, "bs"),
             t(np.zeros(n, np.int32), "bz"), t(np.float32(0.1), "ys"), t(np.uint8(120), "yz")]
    nodes = [helper.make_node("DequantizeLinear", ["x", "xs", "xz"], ["xf"]),
             helper.make_node("DequantizeLinear", ["w", "ws", "wz"], ["wf"], axis=0),
             helper.make_node("DequantizeLinear", ["b", "bs", "bz"], ["bf"], axis=0),
             helper.make_node("Gemm", ["xf", "wf", "bf"], ["yf"], transB=1),
             helper.make_node("QuantizeLinear", ["yf", "ys", "yz"], ["y"])]
    g = helper.make_graph(nodes, "fc", [helper.make_tensor_value_info("x", TensorProto.UINT8, [m, k])],
                          [helper.make_tensor_value_info("y", TensorProto.UINT8, [m, n])], inits)
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    x = rng.integers(0, 256, (m, k)).astype(np.uint8)
    s = InferenceSession(model)
    assert [nd.op_type for nd in s.graph.nodes] == ["QGemm"]
    np.testing.assert_array_equal(s.run(None, {"x": x})[0], _ort(model, {"x": x}))
