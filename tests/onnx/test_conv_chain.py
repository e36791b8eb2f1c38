"""Chains of FusedConv nodes (kernels/onnx/_passes/chain_convs.py, ops/chain.py): where the pass cuts
them, and that a chained session gives the unchained session's outputs bit for bit (same kernels),
onnxruntime's within the bound, and the profile under the sub-nodes' names."""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from hpc_kernels.onnx import InferenceSession
from hpc_kernels.onnx._passes import chain_convs

from _helpers import run_in_threads
from _passes_helpers import run_onnxruntime

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _conv(name, x, y, rng, c, k, inits, r=3, stride=1, group=1):
    w = (rng.standard_normal((k, c // group, r, r)) / np.sqrt(c * r * r / group)).astype(np.float32)
    b = rng.standard_normal(k).astype(np.float32) * 0.1
    inits += [numpy_helper.from_array(w, f"{name}.w"), numpy_helper.from_array(b, f"{name}.b")]
    return helper.make_node("Conv", [x, f"{name}.w", f"{name}.b"], [y], name=name, pads=[r // 2] * 4,
                            strides=[stride, stride], group=group)


def _model(kind: str, seed: int = 0) -> onnx.ModelProto:
    """kind: "block" (MobileNet-like: expand, depthwise, project + skip, then a strided conv),
    "escape" (an intermediate also read by a Relu and a graph output), "broadcast" (a residual
    that broadcasts: the chain's Python path)."""
    rng = np.random.default_rng(seed)
    inits, nodes = [], []
    outputs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)]
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 8, "H", "W"])]
    nodes.append(_conv("stem", "x", "s", rng, 8, 8, inits))
    nodes.append(helper.make_node("Relu", ["s"], ["s_r"], name="stem_relu"))
    if kind == "block":
        nodes.append(_conv("expand", "s_r", "e", rng, 8, 24, inits, r=1))
        nodes.append(helper.make_node("Clip", ["e", "lo", "hi"], ["e_r"], name="expand_clip"))
        inits += [numpy_helper.from_array(np.float32(0), "lo"), numpy_helper.from_array(np.float32(6), "hi")]
        nodes.append(_conv("dw", "e_r", "d", rng, 24, 24, inits, group=24))
        nodes.append(_conv("project", "d", "p", rng, 24, 8, inits, r=1))
        nodes.append(helper.make_node("Add", ["p", "s_r"], ["sum"], name="skip"))
        nodes.append(_conv("down", "sum", "y", rng, 8, 16, inits, stride=2))
    elif kind == "escape":
        nodes.append(_conv("a", "s_r", "a_out", rng, 8, 8, inits))
        nodes.append(_conv("b", "a_out", "b_out", rng, 8, 8, inits))
        nodes.append(helper.make_node("Sigmoid", ["a_out"], ["side"], name="side"))
        nodes.append(_conv("c", "b_out", "c_out", rng, 8, 8, inits))
        nodes.append(helper.make_node("Add", ["c_out", "side"], ["y"], name="join"))
        outputs.append(helper.make_tensor_value_info("b_out", TensorProto.FLOAT, None))
    else:
        inputs.append(helper.make_tensor_value_info("bias", TensorProto.FLOAT, [1, 8, 1, 1]))
        nodes.append(_conv("a", "s_r", "a_out", rng, 8, 8, inits))
        nodes.append(_conv("b", "a_out", "b_out", rng, 8, 8, inits))
        nodes.append(helper.make_node("Add", ["b_out", "bias"], ["bb"], name="badd"))
        nodes.append(_conv("c", "bb", "y", rng, 8, 8, inits))
    graph = helper.make_graph(nodes, kind, inputs, outputs, inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _feeds(kind, n=1, h=9, w=7, seed=1):
    rng = np.random.default_rng(seed)
    f = {"x": rng.standard_normal((n, 8, h, w)).astype(np.float32)}
    if kind == "broadcast":
        f["bias"] = rng.standard_normal((1, 8, 1, 1)).astype(np.float32)
    return f


def _chains(sess):
    return [[s.name for s in n.attrs["nodes"]] for n in sess.graph.nodes if n.op_type == "FusedConvChain"]


def test_chain_cuts_where_values_escape():
    # block: the stem (its Relu fused) and the whole block are one chain, the skip read inside it;
    # in NHWC the input's and the output's relayouts are steps of it too.
    assert _chains(InferenceSession(_model("block"), backend="cpu")) == [
        ["x_to_nhwc", "stem", "expand", "dw", "project", "down", "y_to_nchw"]]
    assert _chains(InferenceSession(_model("block"), backend="cpu", layout="NCHW")) == [
        ["stem", "expand", "dw", "project", "down"]]
    # escape: a_out is read by a Sigmoid and b_out is a graph output: chains end at a and at b
    # (b alone, then c with the output's relayout).
    assert _chains(InferenceSession(_model("escape"), backend="cpu")) == [["x_to_nhwc", "stem", "a"], ["c", "y_to_nchw"]]
    assert _chains(InferenceSession(_model("escape"), backend="cpu", layout="NCHW")) == [["stem", "a"]]
    # broadcast: the residual Add fused into b; in NHWC the bias's ToNHWC, placed between a and b,
    # joins the chain (its input, the graph's bias, becomes a chain input; b + c then run the
    # chain's Python path: b's residual broadcasts); in NCHW one chain of the convolutions.
    assert _chains(InferenceSession(_model("broadcast"), backend="cpu")) == [
        ["x_to_nhwc", "stem", "a", "bias_to_nhwc", "b", "c", "y_to_nchw"]]
    assert _chains(InferenceSession(_model("broadcast"), backend="cpu", layout="NCHW")) == [["stem", "a", "b", "c"]]


def test_chain_pass_splits_a_run_at_an_escaping_intermediate():
    sess = InferenceSession(_model("escape"), backend="cpu", layout="NCHW")
    g = sess.graph
    assert chain_convs(g).nodes == g.nodes  # already split: applying the pass again changes nothing


@pytest.mark.parametrize("kind", ["block", "escape", "broadcast"])
@pytest.mark.parametrize("layout", ["NHWC", "NCHW"])
def test_chained_session_matches_unchained_and_onnxruntime(kind, layout, monkeypatch):
    model = _model(kind)
    chained = InferenceSession(model, backend="cpu", layout=layout)
    monkeypatch.setenv("KERNELS_ONNX_CHAIN", "0")
    plain = InferenceSession(model, backend="cpu", layout=layout)
    assert not _chains(plain)
    for n, h, w in ((1, 9, 7), (2, 12, 10), (1, 9, 7)):  # a new shape prepares again; the first again
        feeds = _feeds(kind, n, h, w, seed=h)
        got = chained.run(None, feeds)
        for a, b in zip(got, plain.run(None, feeds)):
            np.testing.assert_array_equal(a, b)
        ref = run_onnxruntime(model, feeds)
        for a, r in zip(got, ref):
            assert np.abs(a - r).max() <= 1e-5 * max(1.0, np.abs(r).max())


def test_chain_profile_names_each_sub_node():
    sess = InferenceSession(_model("block"), backend="cpu")
    for _ in range(2):
        sess.run(None, _feeds("block"))
    p = sess.profile()
    assert {"stem", "expand", "dw", "project", "down"} <= set(p.by_node)
    assert "FusedConv" in p.by_op and "FusedConvChain" in p.by_op
    assert p.total_s == pytest.approx(sum(p.by_op.values()))


def test_chain_runs_concurrently_from_threads():
    sess = InferenceSession(_model("block"), backend="cpu")
    feeds = [_feeds("block", 1, 9 + i, 7, seed=i) for i in range(4)]
    expect = [sess.run(None, f)[0] for f in feeds]
    got = [None] * 4

    def work(i):
        for _ in range(5):
            got[i] = sess.run(None, feeds[i])[0]

    run_in_threads(work, 4)
    for a, b in zip(got, expect):
        np.testing.assert_array_equal(a, b)


def test_direct_run_gives_the_workspace_runs_outputs():
    """A graph that is one chain runs on the chain's own buffers (InferenceSession.run's direct
    path): the outputs are the general path's bit for bit, and each run's output is a new array."""
    sess = InferenceSession(_model("block"), backend="cpu")
    assert sess._direct is not None
    outs = []
    for seed in (1, 2, 1):
        outs.append(sess.run(None, _feeds("block", seed=seed))[0])
    direct, name = sess._direct, sess._feed_name
    sess._direct = sess._feed_name = None
    try:
        expect = [sess.run(None, _feeds("block", seed=seed))[0] for seed in (1, 2)]
    finally:
        sess._direct, sess._feed_name = direct, name
    np.testing.assert_array_equal(outs[0], expect[0])
    np.testing.assert_array_equal(outs[1], expect[1])
    np.testing.assert_array_equal(outs[2], expect[0])
    assert not any(np.may_share_memory(a, b) for i, a in enumerate(outs) for b in outs[i + 1:])


def test_feed_goes_to_the_chain_program_only_when_it_is_the_steady_state():
    """After a direct run, a feed of the one input goes to the chain's C++ program (run_feed),
    which declines anything but a C-contiguous float32 ndarray of the prepared shape alone in a
    dict: those take the general path, which raises what it raises for bad feeds. The profile
    counts every run, and each output is a new array."""
    sess = InferenceSession(_model("block"), backend="cpu")
    f = _feeds("block")
    first = sess.run(None, f)[0]
    program = sess._direct[0].bound
    assert program is not None
    x = f["x"]
    assert program.run_feed({"x": x}, "x") is not None
    for feed in ({"x": x, "y": x}, {"y": x}, {"x": x.astype(np.float64)}, {"x": x[:, :, :8]},
                 {"x": np.asfortranarray(x)}, {"x": x.view(np.recarray)}, [("x", x)], {"x": x.astype(">f4")}):
        assert program.run_feed(feed, "x") is None
    with pytest.raises(TypeError, match="dtype float64"):
        sess.run(None, {"x": x.astype(np.float64)})
    with pytest.raises(ValueError, match="unknown input"):
        sess.run(None, {"x": x, "y": x})
    np.testing.assert_array_equal(sess.run(None, {"x": np.asfortranarray(x)})[0], first)
    np.testing.assert_array_equal(sess.run(None, {"x": x[:, :, :8]})[0],
                                  InferenceSession(_model("block"), backend="cpu").run(None, {"x": x[:, :, :8].copy()})[0])
    outs = [sess.run(None, f)[0] for _ in range(3)]
    for o in outs:
        np.testing.assert_array_equal(o, first)
    assert not any(np.may_share_memory(a, b) for i, a in enumerate(outs) for b in outs[i + 1:])
    before = sess.profile().runs
    sess.run(None, f)
    p = sess.profile()
    assert p.runs == before + 1 and p.by_node["project"] > 0
    assert p.total_s == pytest.approx(sum(p.by_op.values()))


def test_direct_runs_of_one_shape_from_threads():
    """Threads running one input shape at once: one runs on the chain's buffers, the others take
    the Workspace path; every output is right."""
    sess = InferenceSession(_model("block"), backend="cpu")
    feeds = [_feeds("block", seed=i) for i in range(4)]
    expect = [sess.run(None, f)[0] for f in feeds]
    bad = []

    def work(i):
        for _ in range(10):
            if not np.array_equal(sess.run(None, feeds[i])[0], expect[i]):
                bad.append(i)

    run_in_threads(work, 4)
    assert not bad


def _opencl_or_skip():
    from hpc_kernels import _dispatch

    be = _dispatch.get_backend("opencl")
    if not getattr(be, "available", False):
        pytest.skip(f"no OpenCL device: {getattr(be, 'reason', '')}")
    return be


@pytest.mark.parametrize("layout", ["NHWC", "NCHW"])
def test_device_chain_keeps_values_on_the_device(layout, monkeypatch):
    """On opencl a chain uploads its inputs once and downloads only its result: one round trip per
    chain, not one per convolution; the outputs match the cpu session's within the bound."""
    be = _opencl_or_skip()
    model = _model("block")
    sess = InferenceSession(model, backend="opencl", layout=layout)
    assert _chains(sess) == [["stem", "expand", "dw", "project", "down"]]
    arrays = be.device_arrays
    counts = {"upload": 0, "download": 0}
    for name in counts:
        real = getattr(arrays, name)

        def counted(*a, _real=real, _name=name):
            counts[_name] += 1
            return _real(*a)

        monkeypatch.setattr(arrays, name, counted)
    feeds = _feeds("block", 2, 12, 10)
    (got,) = sess.run(None, feeds)
    assert counts == {"upload": 1, "download": 1}
    (ref,) = InferenceSession(model, backend="cpu", layout=layout).run(None, feeds)
    assert np.abs(got - ref).max() <= 1e-5 * max(1.0, np.abs(ref).max())


def test_device_chain_with_a_broadcasting_residual_goes_through_the_host():
    _opencl_or_skip()
    model = _model("broadcast")
    feeds = _feeds("broadcast")
    (got,) = InferenceSession(model, backend="opencl", layout="NCHW").run(None, feeds)
    (ref,) = run_onnxruntime(model, feeds)
    assert np.abs(got - ref).max() <= 1e-5 * max(1.0, np.abs(ref).max())


def test_device_chain_on_the_emulated_cuda_backend(monkeypatch):
    """The cuda backend's chain (tests/_fake_cupy.py: CuPy and the kernel launches emulated with
    NumPy): one upload and one download per chain, the result as on the cpu backend."""
    import _fake_cupy as fc

    model = _model("block")
    feeds = _feeds("block", 1, 10, 9)
    (ref,) = InferenceSession(model, backend="cpu", layout="NCHW").run(None, feeds)
    with fc.installed(monkeypatch):
        from hpc_kernels import _dispatch

        arrays = _dispatch.get_backend("cuda").device_arrays
        counts = {"upload": 0, "download": 0}
        for name in counts:
            real = getattr(arrays, name)

            def counted(*a, _real=real, _name=name):
                counts[_name] += 1
                return _real(*a)

            monkeypatch.setattr(arrays, name, counted)
        sess = InferenceSession(model, backend="cuda", layout="NCHW")
        assert _chains(sess) == [["stem", "expand", "dw", "project", "down"]]
        (got,) = sess.run(None, feeds)
    assert counts == {"upload": 1, "download": 1}
    assert np.abs(np.asarray(got) - ref).max() <= 1e-5 * max(1.0, np.abs(ref).max())
