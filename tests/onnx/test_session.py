"""InferenceSession: onnxruntime's interface (feeds checked, dynamic shapes, output_names, NodeArgs),
profile, concurrent runs, the memory plan's steady state, and every backend against onnxruntime."""
from __future__ import annotations

import threading
import tracemalloc

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")

from _helpers import run_in_threads  # noqa: E402
from _onnx_models import one_node, small_cnn  # noqa: E402
from onnx import TensorProto, helper  # noqa: E402

import hpc_kernels  # noqa: E402
from hpc_kernels.onnx import InferenceSession  # noqa: E402


def _ort(model):
    ort = pytest.importorskip("onnxruntime")
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])


def _x(n=2, h=12, w=10, seed=1):
    return np.random.default_rng(seed).standard_normal((n, 3, h, w)).astype(np.float32)


def _available(name):
    try:
        hpc_kernels.get_backend(name)
    except Exception as exc:  # BackendNotAvailable and the like: what is missing on this machine
        pytest.skip(f"backend {name!r} not available: {exc}")


@pytest.mark.parametrize("backend", [None, "cpu", "numba", "reference", "opencl", "cuda"])
def test_matches_onnxruntime_on_each_backend(backend):
    if backend:
        _available(backend)
    model = small_cnn()
    sess = InferenceSession(model, backend=backend)
    x = _x()
    got = sess.run(None, {"x": x})
    want = _ort(model).run(None, {"x": x})
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-5)


def test_model_as_path_bytes_and_proto(tmp_path):
    model = small_cnn()
    path = tmp_path / "m.onnx"
    onnx.save(model, str(path))
    x = _x()
    results = [InferenceSession(m).run(["logits"], {"x": x})[0] for m in (model, model.SerializeToString(), str(path), path)]
    for r in results[1:]:
        np.testing.assert_array_equal(r, results[0])


def test_inputs_and_outputs_as_onnxruntime_shows_them():
    sess = InferenceSession(small_cnn())
    (i,) = sess.get_inputs()
    assert (i.name, i.shape, i.type) == ("x", ["N", 3, "H", "W"], "tensor(float)")
    assert [(o.name, o.shape, o.type) for o in sess.get_outputs()] == [
        ("logits", ["N", 10], "tensor(float)"), ("features", ["N", 8, "H", "W"], "tensor(float)")]
    ort = _ort(small_cnn())
    assert [(a.name, a.type) for a in ort.get_inputs()] == [(a.name, a.type) for a in sess.get_inputs()]
    assert sess.get_modelmeta().graph_name == "small_cnn"


def test_dynamic_batch_height_width():
    sess = InferenceSession(small_cnn())
    for n, h, w in [(1, 8, 8), (3, 16, 6), (2, 5, 7)]:
        logits, features = sess.run(None, {"x": _x(n, h, w)})
        assert logits.shape == (n, 10) and features.shape == (n, 8, h, w)


def test_output_names_select_and_order():
    sess = InferenceSession(small_cnn())
    x = _x()
    logits, features = sess.run(None, {"x": x})
    f2, l2 = sess.run(["features", "logits"], {"x": x})
    np.testing.assert_array_equal(f2, features)
    np.testing.assert_array_equal(l2, logits)
    with pytest.raises(ValueError, match="unknown output 'nope'"):
        sess.run(["nope"], {"x": x})


@pytest.mark.parametrize("feed, error, match", [
    ({}, ValueError, r"missing input\(s\) 'x'.*x tensor\(float\) \[N, 3, H, W\]"),
    ({"x": _x(), "y": _x()}, ValueError, r"unknown input\(s\) 'y'"),
    ({"x": _x().astype(np.float64)}, TypeError, r"input 'x' has dtype float64; the model declares tensor\(float\)"),
    ({"x": _x()[0]}, ValueError, r"input 'x' has shape \(3, 12, 10\); the model declares x tensor\(float\) \[N, 3, H, W\]"),
    ({"x": np.zeros((1, 4, 8, 8), np.float32)}, ValueError, r"input 'x' has shape \(1, 4, 8, 8\)"),
])
def test_feeds_are_checked(feed, error, match):
    with pytest.raises(error, match=match):
        InferenceSession(small_cnn()).run(None, feed)


def test_static_dims_are_enforced_dynamic_ones_are_not():
    sess = InferenceSession(small_cnn(batch=2, height=8, width=8))
    sess.run(None, {"x": _x(2, 8, 8)})
    with pytest.raises(ValueError, match=r"declares x tensor\(float\) \[2, 3, 8, 8\]"):
        sess.run(None, {"x": _x(1, 8, 8)})


def _nodes_run(sess):
    """The session's nodes with each chain replaced by its steps (kernels/onnx/_passes/chain_convs.py)."""
    return [m for n in sess.graph.nodes for m in (n.attrs["nodes"] if n.op_type == "FusedConvChain" else [n])]


def test_profile_times_op_types_and_nodes():
    sess = InferenceSession(small_cnn())
    for _ in range(3):
        sess.run(None, {"x": _x()})
    p = sess.profile()
    assert p.runs == 3
    # The profile names the nodes the session runs: the compiled graph's (Conv + Relu fused into
    # FusedConv, Gemm into FusedGemm, layout changes at the edges; a chain's steps under their own
    # op types and names), keeping the model's node names.
    assert set(p.by_op) == {n.op_type for n in _nodes_run(sess) + sess.graph.nodes}
    assert {"FusedConv", "MaxPool", "FusedGemm", "GlobalAveragePool"} <= set(p.by_op)
    assert {"conv1", "conv2", "fc"} <= set(p.by_node)
    assert all(t >= 0 for t in p.by_node.values()) and p.total_s == pytest.approx(sum(p.by_op.values()))
    text = str(p)
    assert "3 run(s)" in text and "FusedConv" in text and "conv1" in text


def test_concurrent_runs_from_four_threads_give_each_its_own_result():
    sess = InferenceSession(small_cnn())
    xs = [_x(2, 10 + i, 9, seed=i) for i in range(4)]
    want = [sess.run(None, {"x": x}) for x in xs]
    got = [[] for _ in xs]

    def work(i):
        for _ in range(10):
            got[i].append(sess.run(None, {"x": xs[i]}))

    run_in_threads(work, 4)
    for i in range(4):
        for outs in got[i]:
            for g, w in zip(outs, want[i]):
                np.testing.assert_array_equal(g, w)


def test_steady_state_run_allocates_no_large_arrays():
    sess = InferenceSession(small_cnn())
    x = _x(4, 32, 32)
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        sess.run(["logits"], {"x": x})
        first = tracemalloc.get_traced_memory()[1] - base
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        sess.run(["logits"], {"x": x})
        second = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    # the first run allocates the activations (4x8x32x32 float32 = 128 KiB each); the second reuses them
    assert first > 256 * 1024
    assert second < first / 4, (first, second)


def test_arena_buffers_start_on_cache_lines():
    # (the int8 AMX tiles read activation rows in place only from 64-byte-aligned rows)
    from hpc_kernels.onnx._memory import Arena

    arena = Arena()
    for shape, dt in [((1, 56, 56, 64), np.uint8), ((3, 5), np.float32), ((7,), np.int8)]:
        buf = arena.take(shape, np.dtype(dt))
        assert buf.ctypes.data % 64 == 0 and buf.shape == shape and buf.dtype == dt and buf.flags.c_contiguous
        arena.give(buf)
        assert arena.take(shape, np.dtype(dt)) is buf


def test_outputs_are_fresh_arrays_the_next_run_does_not_overwrite():
    sess = InferenceSession(small_cnn())
    a = sess.run(None, {"x": _x(seed=1)})
    keep = [v.copy() for v in a]
    sess.run(None, {"x": _x(seed=2)})
    for v, k in zip(a, keep):
        np.testing.assert_array_equal(v, k)


def test_an_output_that_is_a_feed_or_an_initializer_is_copied():
    x = np.ones((2, 3), np.float32)
    sess = InferenceSession(one_node("Identity", [("x", TensorProto.FLOAT, [2, 3])], [("y", TensorProto.FLOAT, [2, 3])]))
    (y,) = sess.run(None, {"x": x})
    assert not np.shares_memory(x, y)
    w = onnx.numpy_helper.from_array(np.arange(6, dtype=np.float32).reshape(2, 3), "w")
    sess = InferenceSession(one_node("Identity", [], [("y", TensorProto.FLOAT, [2, 3])], initializers=[w]))
    (y,) = sess.run(None, {})
    y[...] = -1
    np.testing.assert_array_equal(sess.run(None, {})[0], np.arange(6).reshape(2, 3))


def test_outputs_that_are_views_of_one_array_are_separate_arrays():
    """A graph output and its Reshape (one buffer in the session), and one name asked twice, come
    back as separate arrays, as onnxruntime returns them: writing one leaves the other alone."""
    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["r"]), helper.make_node("Reshape", ["r", "shape"], ["flat"])],
        "views", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
        [helper.make_tensor_value_info("r", TensorProto.FLOAT, [2, 3]), helper.make_tensor_value_info("flat", TensorProto.FLOAT, [6])],
        [onnx.numpy_helper.from_array(np.array([6], np.int64), "shape")])
    sess = InferenceSession(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))
    x = np.arange(6, dtype=np.float32).reshape(2, 3) - 2
    r, flat = sess.run(None, {"x": x})
    assert not np.shares_memory(r, flat)
    r[...] = 7
    np.testing.assert_array_equal(flat, np.maximum(x, 0).reshape(6))
    a, b = sess.run(["r", "r"], {"x": x})
    assert not np.shares_memory(a, b)


def test_threads_and_options_are_checked():
    sess = InferenceSession(small_cnn(), threads=1)
    np.testing.assert_allclose(sess.run(None, {"x": _x()})[0], InferenceSession(small_cnn()).run(None, {"x": _x()})[0],
                               rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="backend must be"):
        InferenceSession(small_cnn(), backend="tpu")
    with pytest.raises(ValueError, match="threads must be"):
        InferenceSession(small_cnn(), threads=0)
    with pytest.raises(ValueError, match="layout must be"):
        InferenceSession(small_cnn(), layout="NCWH")


def test_constant_shape_chains_are_folded_at_load():
    # the exporter's Flatten: Shape -> Gather(0) -> Unsqueeze -> Concat(-1) -> Reshape
    from onnx import helper, numpy_helper

    nodes = [
        helper.make_node("Shape", ["x"], ["s"]),
        helper.make_node("Gather", ["s", "zero"], ["n"], axis=0),
        helper.make_node("Unsqueeze", ["n", "axes"], ["n1"]),
        helper.make_node("Concat", ["n1", "minus1"], ["shape"], axis=0),
        helper.make_node("Reshape", ["x", "shape"], ["y"]),
    ]
    inits = [numpy_helper.from_array(np.array(0, np.int64), "zero"), numpy_helper.from_array(np.array([0], np.int64), "axes"),
             numpy_helper.from_array(np.array([-1], np.int64), "minus1")]
    g = helper.make_graph(nodes, "flat", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, 4])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 12])], inits)
    sess = InferenceSession(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]))
    assert [n.op_type for n in sess.graph.nodes] == ["Reshape"]
    np.testing.assert_array_equal(sess.graph.initializers["shape"], [2, -1])
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    np.testing.assert_array_equal(sess.run(None, {"x": x})[0], x.reshape(2, 12))


def test_threads_count_is_restored_after_concurrent_runs():
    before = hpc_kernels.get_num_threads()
    sess = InferenceSession(small_cnn(), threads=1)
    threads = [threading.Thread(target=lambda: [sess.run(None, {"x": _x()}) for _ in range(5)]) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert hpc_kernels.get_num_threads() == before


def test_backend_module_run_node_is_compatible_and_devices():
    import hpc_kernels.onnx.backend as backend
    from onnx import helper

    x = np.array([[-1.0, 2.0], [3.0, -4.0]], np.float32)
    (y,) = backend.run_node(helper.make_node("Relu", ["x"], ["y"]), [x])
    np.testing.assert_array_equal(y, np.maximum(x, 0))
    (y,) = backend.run_node(helper.make_node("Transpose", ["x"], ["y"]), {"x": x}, outputs_info=[(np.float32, (2, 2))])
    np.testing.assert_array_equal(y, x.T)
    einsum = one_node("Einsum", [("a", TensorProto.FLOAT, [2, 2]), ("b", TensorProto.FLOAT, [2, 2])],
                      [("y", TensorProto.FLOAT, [2, 2])], equation="ij,jk->ik")
    assert backend.is_compatible(small_cnn()) and not backend.is_compatible(einsum)
    assert backend.supports_device("CPU") and not backend.supports_device("CUDA")
    rep = backend.prepare(small_cnn(), "CPU", backend="reference")
    np.testing.assert_allclose(rep.run([_x()])[0], InferenceSession(small_cnn()).run(["logits"], {"x": _x()})[0], rtol=1e-4, atol=1e-5)


def test_constants_the_kernels_took_are_not_kept():
    """Weights a kernel holds in its own form (a conv's plan, a Gemm's B) leave the session's
    constants: the model's weights are not kept twice. Results are unchanged."""
    model = small_cnn()
    sess = InferenceSession(model)
    weights = {t.name for t in model.graph.initializer}
    assert not weights & set(sess.graph.initializers), sorted(weights & set(sess.graph.initializers))
    ref = InferenceSession(model, backend="reference", layout="NCHW").run(None, {"x": _x()})[0]
    np.testing.assert_allclose(sess.run(None, {"x": _x()})[0], ref, rtol=1e-4, atol=1e-5)


def test_thread_counts_of_concurrent_runs_are_their_own():
    """The session's count is the running thread's own (its OpenMP ICV): two threads inside runs of
    counts 1 and 2 at the same moment each see theirs, and the process-wide count is untouched."""
    from hpc_kernels.backends.cpu import _cpu
    from hpc_kernels.onnx import _thread_count

    before = hpc_kernels.get_num_threads()
    both_in = threading.Barrier(2)
    seen = {}

    def work(n):
        token = _thread_count.enter(n)
        try:
            both_in.wait()
            seen[n] = _cpu.get_num_threads()
            both_in.wait()
        finally:
            _thread_count.leave(token)
        seen[-n] = _cpu.get_num_threads()

    ts = [threading.Thread(target=work, args=(n,)) for n in (1, 2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert seen[1] == 1 and seen[2] == 2
    assert seen[-1] == seen[-2] == before and hpc_kernels.get_num_threads() == before
    # A session with threads=1 leaves the caller's count as it was.
    sess = InferenceSession(small_cnn(), threads=1)
    sess.run(None, {"x": _x()})
    assert hpc_kernels.get_num_threads() == before


@pytest.mark.parametrize("layout", ["NHWC", "NCHW"])
def test_pool_writes_the_classifier_matrix_directly(layout):
    """On the cpu backend GlobalAveragePool [-> ToNCHW] -> Flatten is one node writing (N, C)
    (kernels/onnx/_passes/fuse_pool_flatten.py); the logits are onnxruntime's; a Flatten whose
    input is also a graph output is left alone."""
    import onnxruntime as ort

    model = small_cnn()
    sess = InferenceSession(model, backend="cpu", layout=layout)
    nodes = _nodes_run(sess)
    ops = [n.op_type for n in nodes]
    gap = next(n for n in nodes if n.op_type == "GlobalAveragePool")
    assert "Flatten" not in ops and not any(gap.outputs[0] in n.inputs for n in nodes if n.op_type == "ToNCHW")
    assert [n.attrs.get("flatten") for n in nodes if n.op_type == "GlobalAveragePool"] == [1]
    x = _x(2, 11, 9)
    ref = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})
    for a, r in zip(sess.run(None, {"x": x}), ref):
        np.testing.assert_allclose(a, r, rtol=1e-4, atol=1e-5)
    model.graph.output.append(helper.make_tensor_value_info("g", TensorProto.FLOAT, None))
    sess = InferenceSession(model, backend="cpu", layout=layout)
    assert "Flatten" in [n.op_type for n in sess.graph.nodes]
    got = sess.run(None, {"x": x})
    np.testing.assert_allclose(got[0], ref[0], rtol=1e-4, atol=1e-5)
    assert got[2].shape == (2, 16, 1, 1)
