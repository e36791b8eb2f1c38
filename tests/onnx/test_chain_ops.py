"""The ops a cpu chain runs as C++ steps besides its convolutions (kernels/onnx/_passes/chain_convs.py
CHAINABLE_OPS, csrc/bindings/chain_ops.hpp): the input's relayout, MaxPool, AveragePool,
GlobalAveragePool (flattened) and the classifier's FusedGemm. A chained session gives the unchained
session's outputs bit for bit and onnxruntime's within the bound; the C++ steps check their
arguments as the ops' own entries do."""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from hpc_kernels.onnx import InferenceSession

from _passes_helpers import run_onnxruntime

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

_cpu = pytest.importorskip("hpc_kernels._cpu")


def _model(c_kind: str = "row", relu: bool = True, batch=None) -> onnx.ModelProto:
    """conv -> MaxPool 3x3/2 -> conv -> AveragePool 2x2/2 -> 1x1 conv -> GlobalAveragePool ->
    Flatten -> Gemm (transB, C: "row" (N,), "full" (batch, N) or "none") [-> Relu]."""
    rng = np.random.default_rng(3)
    inits, nodes = [], []

    def conv(name, x, y, c, k, r):
        w = (rng.standard_normal((k, c, r, r)) / np.sqrt(c * r * r)).astype(np.float32)
        b = (rng.standard_normal(k) * 0.1).astype(np.float32)
        inits.extend([numpy_helper.from_array(w, f"{name}.w"), numpy_helper.from_array(b, f"{name}.b")])
        nodes.append(helper.make_node("Conv", [x, f"{name}.w", f"{name}.b"], [y], name=name, pads=[r // 2] * 4))

    conv("stem", "x", "s", 3, 8, 3)
    nodes.append(helper.make_node("Relu", ["s"], ["s_r"], name="stem_relu"))
    nodes.append(helper.make_node("MaxPool", ["s_r"], ["p1"], name="pool1", kernel_shape=[3, 3], strides=[2, 2], pads=[1] * 4))
    conv("conv2", "p1", "c2", 8, 12, 3)
    nodes.append(helper.make_node("AveragePool", ["c2"], ["p2"], name="pool2", kernel_shape=[2, 2], strides=[2, 2],
                                  ceil_mode=1))
    conv("conv3", "p2", "c3", 12, 16, 1)
    nodes.append(helper.make_node("GlobalAveragePool", ["c3"], ["g"], name="gap"))
    nodes.append(helper.make_node("Flatten", ["g"], ["f"], name="flat", axis=1))
    inits.append(numpy_helper.from_array(rng.standard_normal((10, 16)).astype(np.float32), "fc.w"))
    gemm_in = ["f", "fc.w"]
    if c_kind != "none":
        c = rng.standard_normal((10,) if c_kind == "row" else (batch, 10)).astype(np.float32)
        inits.append(numpy_helper.from_array(c, "fc.c"))
        gemm_in.append("fc.c")
    nodes.append(helper.make_node("Gemm", gemm_in, ["l" if relu else "y"], name="fc", transB=1, alpha=0.5, beta=2.0))
    if relu:
        nodes.append(helper.make_node("Relu", ["l"], ["y"], name="fc_relu"))
    graph = helper.make_graph(nodes, "pooled", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch or "N", 3, "H", "W"])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _steps(sess):
    return [[s.op_type for s in n.attrs["nodes"]] for n in sess.graph.nodes if n.op_type == "FusedConvChain"]


def _x(n, h, w, seed=0):
    return np.random.default_rng(seed).standard_normal((n, 3, h, w)).astype(np.float32)


@pytest.mark.parametrize("c_kind, relu", [("row", True), ("none", False), ("row", False)])
def test_whole_network_is_one_chain_and_matches_unchained_and_onnxruntime(c_kind, relu, monkeypatch):
    model = _model(c_kind, relu)
    chained = InferenceSession(model, backend="cpu", threads=2)
    assert [n.op_type for n in chained.graph.nodes] == ["FusedConvChain"]
    assert _steps(chained) == [["ToNHWC", "FusedConv", "MaxPool", "FusedConv", "AveragePool", "FusedConv",
                                "GlobalAveragePool", "FusedGemm"]]
    monkeypatch.setenv("KERNELS_ONNX_CHAIN", "0")
    plain = InferenceSession(model, backend="cpu", threads=2)
    for n, h, w in ((1, 17, 13), (3, 24, 31), (1, 17, 13)):  # a new shape prepares again; the first again
        feeds = {"x": _x(n, h, w, seed=h)}
        (got,) = chained.run(None, feeds)
        np.testing.assert_array_equal(got, plain.run(None, feeds)[0])
        (ref,) = run_onnxruntime(model, feeds)
        assert got.shape == ref.shape == (n, 10)
        assert np.abs(got - ref).max() <= 1e-5 * max(1.0, np.abs(ref).max())
        if relu:
            assert (got >= 0).all() and (got == 0).any() and (got > 0).any()
    p = chained.profile()
    assert {"ToNHWC", "MaxPool", "AveragePool", "GlobalAveragePool", "FusedGemm"} <= set(p.by_op)
    assert {"pool1", "pool2", "gap", "fc"} <= set(p.by_node)
    assert p.total_s == pytest.approx(sum(p.by_op.values()))


def test_a_full_gemm_c_takes_the_python_steps_with_the_same_result(monkeypatch):
    """C of shape (M, N) is not one row: the chain then runs every step through its Python kernel."""
    model = _model("full", True, batch=2)
    feeds = {"x": _x(2, 15, 15)}
    chained = InferenceSession(model, backend="cpu")
    assert _steps(chained)[0][-1] == "FusedGemm"
    (got,) = chained.run(None, feeds)
    assert "MaxPool" not in chained.profile().by_op  # no C++ steps: the chain's time is its own
    monkeypatch.setenv("KERNELS_ONNX_CHAIN", "0")
    np.testing.assert_array_equal(got, InferenceSession(model, backend="cpu").run(None, feeds)[0])
    (ref,) = run_onnxruntime(model, feeds)
    assert np.abs(got - ref).max() <= 1e-5 * max(1.0, np.abs(ref).max())


def test_layout_nchw_keeps_the_pools_and_gemm_in_the_chain():
    model = _model()
    sess = InferenceSession(model, backend="cpu", layout="NCHW")
    assert _steps(sess) == [["FusedConv", "MaxPool", "FusedConv", "AveragePool", "FusedConv", "GlobalAveragePool",
                             "FusedGemm"]]
    feeds = {"x": _x(2, 20, 18)}
    (ref,) = run_onnxruntime(model, feeds)
    (got,) = sess.run(None, feeds)
    assert np.abs(got - ref).max() <= 1e-5 * max(1.0, np.abs(ref).max())


# -- the C++ op steps called directly: arguments checked, nothing written outside out -------------

def test_op_step_global_avg_pool_into_a_flattened_strided_out():
    x = np.random.default_rng(0).standard_normal((3, 5, 4, 16)).astype(np.float32)  # NHWC
    frame = np.full((3, 40), np.nan, np.float32)
    out = frame[:, 5:21]  # (N, C), rows 40 apart
    assert _cpu.conv2d_chain([("global_avg_pool", 0, 1, "NHWC")], [x, out]) == [pytest.approx(0, abs=1)]
    np.testing.assert_allclose(out, x.mean(axis=(1, 2)), rtol=1e-6)
    assert np.isnan(frame[:, :5]).all() and np.isnan(frame[:, 21:]).all()


def test_op_step_gemm_adds_the_bias_row_then_relu():
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((4, 7)).astype(np.float32), rng.standard_normal((7, 5)).astype(np.float32)
    bias = rng.standard_normal(5).astype(np.float32)
    out = np.full((4, 5), np.nan, np.float32)
    _cpu.conv2d_chain([("gemm", 0, 1, b, bias, 0.5, False, True)], [a, out])
    want = (np.float32(0.5) * (a.astype(np.float64) @ b)).astype(np.float32) + bias
    np.testing.assert_allclose(out, np.maximum(want, 0), rtol=1e-5, atol=1e-6)
    out_t = np.full((4, 5), np.nan, np.float32)  # trans_a: x holds A transposed
    _cpu.conv2d_chain([("gemm", 0, 1, b, None, 0.5, True, False)], [np.ascontiguousarray(a.T), out_t])
    np.testing.assert_allclose(out_t, (0.5 * (a.astype(np.float64) @ b)), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("step, arrays, match", [
    (("nope", 0, 1), lambda: [np.zeros((1, 2, 2, 2), np.float32), np.zeros((1, 1, 1, 2), np.float32)], "unknown step kind"),
    (("relayout", 0, 1), lambda: [np.zeros((1, 2, 2, 2), np.float32), np.zeros((1, 2, 2, 2), np.float32)], "items"),
    (("gemm", 0, 1, np.ones((3, 4), np.float32), np.ones(5, np.float32), 1.0, False, False),
     lambda: [np.ones((2, 3), np.float32), np.zeros((2, 4), np.float32)], "bias"),
    (("gemm", 0, 1, np.ones((3, 4), np.float32), np.ones(4, np.float64), 1.0, False, False),
     lambda: [np.ones((2, 3), np.float32), np.zeros((2, 4), np.float32)], "bias"),
    (("global_avg_pool", 0, 1, "NHWC"), lambda: [np.zeros((1, 2, 2, 3), np.float32), np.zeros((1, 1, 1, 4), np.float32)],
     "global_avg_pool"),
    (("max_pool2d", 0, 1, (2, 2), (1, 1), (0, 0, 0, 0), (1, 1), "NCHW"),
     lambda: [np.zeros((1, 2, 4, 4), np.float32), np.zeros((1, 2, 3, 3), np.float64)], "dtype"),
])
def test_op_step_errors_name_what_is_wrong(step, arrays, match):
    with pytest.raises((ValueError, TypeError), match=match):
        _cpu.conv2d_chain([step], arrays())


def test_op_step_gemm_refuses_a_bias_inside_out():
    frame = np.zeros((2, 8), np.float32)
    with pytest.raises(ValueError, match="overlap"):
        _cpu.conv2d_chain([("gemm", 0, 1, np.ones((3, 8), np.float32), frame[1], 1.0, False, False)],
                          [np.ones((2, 3), np.float32), frame])


def test_op_step_refuses_an_out_overlapping_x():
    x = np.zeros((1, 2, 3, 3), np.float32)
    with pytest.raises(ValueError, match="overlap"):
        _cpu.conv2d_chain([("relayout", 0, 1, "NHWC")], [x, x.reshape(1, 3, 3, 2)])


# -- fuzzed: random shapes, strides, flags; values against NumPy, nothing outside out written ------

hypothesis = pytest.importorskip("hypothesis")
st = hypothesis.strategies


def _framed(shape, dtype, pad_rows: int, pad: int = 7):
    """A NaN-filled frame around an out of `shape` (rows `pad_rows` elements apart when 2-D, else
    C-contiguous), and the out view."""
    if len(shape) == 2 and pad_rows:
        frame = np.full((shape[0] + 2, shape[1] + pad_rows + 2 * pad), np.nan, dtype)
        return frame, frame[1:-1, pad: pad + shape[1]]
    size = int(np.prod(shape))
    frame = np.full(size + 2 * pad, np.nan, dtype)
    return frame, frame[pad: pad + size].reshape(shape)


def _outside_untouched(frame, out):
    """Whether the frame around out still holds only NaN (out itself is overwritten here)."""
    out[...] = np.nan
    return np.isnan(frame).all()


@hypothesis.given(n=st.integers(1, 3), c=st.integers(1, 40), h=st.integers(1, 9), w=st.integers(1, 9),
                  layout=st.sampled_from(["NCHW", "NHWC"]), dtype=st.sampled_from([np.float32, np.float64]),
                  pad_rows=st.integers(0, 5), seed=st.integers(0, 2**31 - 1))
def test_fuzz_pool_and_relayout_steps(n, c, h, w, layout, dtype, pad_rows, seed):
    rng = np.random.default_rng(seed)
    xn = rng.standard_normal((n, c, h, w)).astype(dtype)
    x = np.ascontiguousarray(xn.transpose(0, 2, 3, 1)) if layout == "NHWC" else xn
    frame, out = _framed((n, c), dtype, pad_rows)
    _cpu.conv2d_chain([("global_avg_pool", 0, 1, layout)], [x, out])
    np.testing.assert_allclose(out, xn.mean(axis=(2, 3)), rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-6)
    assert _outside_untouched(frame, out)
    to = "NCHW" if layout == "NHWC" else "NHWC"
    want = xn if to == "NCHW" else xn.transpose(0, 2, 3, 1)
    frame, out = _framed(want.shape, dtype, 0)
    _cpu.conv2d_chain([("relayout", 0, 1, to)], [x, out])
    np.testing.assert_array_equal(out, want)
    assert _outside_untouched(frame, out)


@hypothesis.given(m=st.integers(1, 5), k=st.integers(1, 300), n=st.integers(1, 300), bias=st.booleans(),
                  relu=st.booleans(), trans_a=st.booleans(), dtype=st.sampled_from([np.float32, np.float64]),
                  pad_rows=st.integers(0, 5), seed=st.integers(0, 2**31 - 1))
def test_fuzz_gemm_step(m, k, n, bias, relu, trans_a, dtype, pad_rows, seed):
    rng = np.random.default_rng(seed)
    a = np.round(rng.standard_normal((m, k)) * 4).astype(dtype)  # integers: every sum exact
    b = np.round(rng.standard_normal((k, n)) * 4).astype(dtype)
    vec = np.round(rng.standard_normal(n) * 4).astype(dtype) if bias else None
    frame, out = _framed((m, n), dtype, pad_rows)
    x = np.ascontiguousarray(a.T) if trans_a else a
    _cpu.conv2d_chain([("gemm", 0, 1, b, vec, 0.5, trans_a, relu)], [x, out])
    want = 0.5 * (a.astype(np.float64) @ b.astype(np.float64)) + (vec if bias else 0)
    np.testing.assert_array_equal(out, np.maximum(want, 0) if relu else want)
    assert _outside_untouched(frame, out)


def test_strided_and_fortran_inputs_give_the_contiguous_result():
    """The chain's first step reads the caller's array as it is (the relayout step takes any
    strides): a sliced, a Fortran-ordered and a reversed input give the contiguous input's outputs."""
    model = _model()
    sess = InferenceSession(model, backend="cpu")
    base = _x(2, 26, 22, seed=5)
    want = sess.run(None, {"x": np.ascontiguousarray(base[:, :, ::2, ::2])})[0]
    for x in (base[:, :, ::2, ::2], np.asfortranarray(base[:, :, ::2, ::2])):
        np.testing.assert_array_equal(sess.run(None, {"x": x})[0], want)
    rev = np.ascontiguousarray(base[:, :, ::-1])[:, :, ::-1]  # negative strides, same values as base
    np.testing.assert_array_equal(sess.run(None, {"x": rev})[0], sess.run(None, {"x": base})[0])
