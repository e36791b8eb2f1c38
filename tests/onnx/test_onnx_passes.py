"""The compile passes (kernels/onnx/_passes): the graph each pass leaves, and the compiled graph
run against onnxruntime on the original model.

Float32 bound of the end-to-end checks: |ours - onnxruntime| <= 1e-4 * (1 + |onnxruntime|).
The two runtimes sum the convolutions in different orders and we fold BN into the weights
(in float64, rounded once); over these few layers of unit-scale activations float32's rounding
stays around 1e-6 relative, so 1e-4 leaves room without hiding a wrong tap, axis or epilogue."""
from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from _passes_helpers import ModelBuilder, ops_of, run_graph, run_onnxruntime, to_graph  # noqa: E402

from hpc_kernels.onnx import HPC_DOMAIN  # noqa: E402
from hpc_kernels.onnx._passes import compile_graph, fold_batchnorm, fuse_conv, fuse_gemm, layout_nhwc  # noqa: E402

RTOL = ATOL = 1e-4


def _check(model, feeds, layouts=("NCHW", "NHWC"), backend="cpu"):
    want = run_onnxruntime(model, feeds)
    for layout in layouts:
        g = compile_graph(to_graph(model), backend=backend, layout=layout)
        got = run_graph(g, feeds, backend=backend)
        for a, b in zip(got, want):
            assert a.shape == b.shape and a.dtype == b.dtype
            np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL, err_msg=layout)
    return g


def _x(shape, seed=1):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


# -- fold_batchnorm ----------------------------------------------------------------------------
def test_fold_batchnorm_folds_conv_bn_into_weights():
    b = ModelBuilder()
    y = b.bn(b.conv("x", 3, 4), 4)
    m = b.model([("x", [1, 3, 8, 8])], [(y, [1, 4, 8, 8])])
    g = fold_batchnorm(to_graph(m))
    assert ops_of(g) == ["Conv"] and g.nodes[0].outputs == [y]
    x = _x((1, 3, 8, 8))
    np.testing.assert_allclose(run_graph(g, {"x": x})[0], run_onnxruntime(m, {"x": x})[0], rtol=RTOL, atol=ATOL)


def test_fold_batchnorm_without_conv_bias_and_keeps_shared_weights():
    b = ModelBuilder()
    c1 = b.conv("x", 3, 4, bias=False)
    w = b.nodes[-1].input[1]
    c2 = b.node("Conv", ["x", w], kernel_shape=[3, 3], pads=[1, 1, 1, 1])  # the same weights, no BN
    y = b.node("Add", [b.bn(c1, 4), c2])
    m = b.model([("x", [1, 3, 6, 6])], [(y, [1, 4, 6, 6])])
    g = fold_batchnorm(to_graph(m))
    assert ops_of(g) == ["Conv", "Conv", "Add"]
    assert w in g.initializers and g.nodes[1].inputs[1] == w  # the unfolded conv keeps the original
    x = _x((1, 3, 6, 6))
    np.testing.assert_allclose(run_graph(g, {"x": x})[0], run_onnxruntime(m, {"x": x})[0], rtol=RTOL, atol=ATOL)


def test_fold_batchnorm_leaves_bn_whose_conv_output_is_read_elsewhere():
    b = ModelBuilder()
    c = b.conv("x", 3, 4)
    y = b.bn(c, 4)
    m = b.model([("x", [1, 3, 5, 5])], [(y, [1, 4, 5, 5]), (c, [1, 4, 5, 5])])  # conv output is a graph output
    assert ops_of(fold_batchnorm(to_graph(m))) == ["Conv", "BatchNormalization"]


def test_fold_batchnorm_leaves_bn_not_after_a_conv():
    b = ModelBuilder()
    y = b.bn(b.node("Relu", ["x"]), 3)
    m = b.model([("x", [1, 3, 5, 5])], [(y, [1, 3, 5, 5])])
    assert ops_of(fold_batchnorm(to_graph(m))) == ["Relu", "BatchNormalization"]


# -- fuse_conv ---------------------------------------------------------------------------------
def test_fuse_conv_absorbs_relu():
    b = ModelBuilder()
    y = b.node("Relu", [b.conv("x", 3, 8)])
    m = b.model([("x", [1, 3, 8, 8])], [(y, [1, 8, 8, 8])])
    g = fuse_conv(to_graph(m))
    assert ops_of(g) == ["FusedConv"]
    n = g.nodes[0]
    assert n.domain == HPC_DOMAIN and n.attrs["activation"] == "relu" and n.outputs == [y] and len(n.inputs) == 3
    _check(m, {"x": _x((1, 3, 8, 8))})


@pytest.mark.parametrize("opset", [6, 13])
def test_fuse_conv_clip_0_6_is_relu6(opset):
    b = ModelBuilder(opset=opset)
    c = b.conv("x", 3, 8)
    y = b.node("Clip", [c], min=0.0, max=6.0) if opset < 11 else b.clip6(c)
    m = b.model([("x", [1, 3, 8, 8])], [(y, [1, 8, 8, 8])])
    g = fuse_conv(to_graph(m))
    assert ops_of(g) == ["FusedConv"] and g.nodes[0].attrs["activation"] == "relu6"
    feeds = {"x": _x((1, 3, 8, 8)) * 10}  # values beyond 6 too
    _check(m, feeds)


def test_fuse_conv_leaves_other_clips():
    b = ModelBuilder()
    y = b.node("Clip", [b.conv("x", 3, 4), b.const(np.float32(-1)), b.const(np.float32(5))])
    m = b.model([("x", [1, 3, 6, 6])], [(y, [1, 4, 6, 6])])
    g = fuse_conv(to_graph(m))
    assert ops_of(g) == ["FusedConv", "Clip"] and g.nodes[0].attrs["activation"] == ""
    _check(m, {"x": _x((1, 3, 6, 6))})


@pytest.mark.parametrize("epilogue", [True, False])
@pytest.mark.parametrize("conv_first", [True, False])
def test_fuse_conv_residual_add_relu(conv_first, epilogue, monkeypatch):
    """ResNet's tail: Conv -> BN -> Add(shortcut) -> Relu, either Add operand order; the residual
    added in Conv2d's epilogue, and by the NumPy path a tree without it takes."""
    from hpc_kernels.onnx.ops import fused

    if epilogue and not fused._EPILOGUE_RESIDUAL:
        pytest.skip("Conv2d has no residual= here")
    monkeypatch.setattr(fused, "_EPILOGUE_RESIDUAL", epilogue)
    b = ModelBuilder()
    s = b.node("Relu", ["x"])
    c = b.bn(b.conv(s, 8, 8), 8)
    a = b.node("Add", [c, s] if conv_first else [s, c])
    y = b.node("Relu", [a])
    m = b.model([("x", [1, 8, 7, 7])], [(y, [1, 8, 7, 7])])
    g = fuse_conv(fold_batchnorm(to_graph(m)))
    assert ops_of(g) == ["Relu", "FusedConv"]
    n = g.nodes[1]
    assert n.inputs[3] == s and n.attrs["activation"] == "relu" and n.outputs == [y]
    _check(m, {"x": _x((1, 8, 7, 7))})


def test_fuse_conv_keeps_values_read_elsewhere():
    b = ModelBuilder()
    c = b.conv("x", 3, 4)
    r = b.node("Relu", [c])
    y = b.node("Add", [r, c])  # c read twice: no fusion may drop it
    m = b.model([("x", [1, 3, 6, 6])], [(y, [1, 4, 6, 6])])
    g = fuse_conv(to_graph(m))
    assert ops_of(g) == ["FusedConv", "Relu", "Add"] and g.nodes[0].attrs["activation"] == ""
    _check(m, {"x": _x((1, 3, 6, 6))})


def test_fuse_conv_activation_before_add_is_not_a_residual():
    b = ModelBuilder()
    r = b.node("Relu", [b.conv("x", 4, 4)])
    y = b.node("Add", [r, "x"])
    m = b.model([("x", [1, 4, 6, 6])], [(y, [1, 4, 6, 6])])
    g = fuse_conv(to_graph(m))
    assert ops_of(g) == ["FusedConv", "Add"] and g.nodes[0].attrs["activation"] == "relu"
    _check(m, {"x": _x((1, 4, 6, 6))})


def test_fuse_conv_broadcasting_residual():
    """Add(conv, per-channel constant): Add broadcasts, the kernel adds it with NumPy."""
    b = ModelBuilder()
    y = b.node("Relu", [b.node("Add", [b.conv("x", 3, 4), b.const(np.linspace(-1, 1, 4, dtype=np.float32).reshape(4, 1, 1))])])
    m = b.model([("x", [1, 3, 6, 6])], [(y, [1, 4, 6, 6])])
    g = fuse_conv(to_graph(m))
    assert ops_of(g) == ["FusedConv"] and len(g.nodes[0].inputs) == 4
    _check(m, {"x": _x((1, 3, 6, 6))})


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize("attrs", [
    dict(auto_pad="SAME_UPPER", strides=[2, 2]),  # padding from the input size: plans by size
    dict(auto_pad="SAME_LOWER", strides=[1, 1]),
    dict(auto_pad="VALID", strides=[2, 1]),
    dict(pads=[2, 0, 1, 1], dilations=[2, 2]),
    dict(pads=[1, 1, 1, 1], group=2),
])
def test_fused_conv_attributes_match_onnxruntime(attrs, layout):
    b = ModelBuilder()
    g = attrs.get("group", 1)
    w = b.const((b.rng.standard_normal((6, 4 // g, 3, 3)) * 0.3).astype(np.float32))
    y = b.node("Relu", [b.node("Conv", ["x", w, b.const(np.ones(6, np.float32) * 0.1)], kernel_shape=[3, 3], **attrs)])
    m = b.model([("x", [1, 4, 9, 8])], [(y, None)])
    x = _x((1, 4, 9, 8))
    want = run_onnxruntime(m, {"x": x})[0]
    cg = compile_graph(to_graph(m), backend="cpu", layout=layout)
    assert "FusedConv" in ops_of(cg)
    got = run_graph(cg, {"x": x}, backend="cpu")[0]
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL)
    got2 = run_graph(cg, {"x": _x((1, 4, 11, 13), seed=3)}, backend="cpu")[0]  # another size: another plan
    m2 = b.model([("x", [1, 4, 11, 13])], [(y, None)])
    np.testing.assert_allclose(got2, run_onnxruntime(m2, {"x": _x((1, 4, 11, 13), seed=3)})[0], rtol=RTOL, atol=ATOL)


# -- fuse_gemm ---------------------------------------------------------------------------------
@pytest.mark.parametrize("attrs,c_shape,relu", [
    (dict(transB=1), (10,), True),  # a classifier: B stored (N, K) in the model
    (dict(alpha=0.5, beta=2.0), (1, 10), False),
    (dict(transA=1, transB=1, beta=0.0), (10,), True),
    ({}, None, False),
    (dict(beta=0.5), (), True),  # a scalar C
])
def test_fuse_gemm_matches_onnxruntime(attrs, c_shape, relu):
    b = ModelBuilder()
    bw = (b.rng.standard_normal((10, 16) if attrs.get("transB") else (16, 10)) * 0.3).astype(np.float32)
    ins = ["x", b.const(bw)] + ([b.const(b.rng.standard_normal(c_shape).astype(np.float32))] if c_shape is not None else [])
    y = b.node("Gemm", ins, **attrs)
    if relu:
        y = b.node("Relu", [y])
    xs = [16, 3] if attrs.get("transA") else [3, 16]
    m = b.model([("x", xs)], [(y, [3, 10])])
    g = fuse_gemm(to_graph(m))
    assert ops_of(g) == ["FusedGemm"] and g.nodes[0].attrs["activation"] == ("relu" if relu else "")
    _check(m, {"x": _x(tuple(xs))})


def test_fuse_gemm_leaves_gemm_with_run_time_b():
    b = ModelBuilder()
    y = b.node("Gemm", ["x", "w"])
    m = b.model([("x", [2, 3]), ("w", [3, 4])], [(y, [2, 4])])
    assert ops_of(fuse_gemm(to_graph(m))) == ["Gemm"]


# -- layout_nhwc -------------------------------------------------------------------------------
def _resnet_block(b: ModelBuilder):
    """Stem conv-BN-relu, maxpool, a bottleneck with a projection shortcut, GAP, flatten, gemm."""
    s = b.node("Relu", [b.bn(b.conv("x", 3, 8, ksize=7, stride=2, pad=3), 8)])
    p = b.node("MaxPool", [s], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    h = b.node("Relu", [b.bn(b.conv(p, 8, 4, ksize=1, pad=0), 4)])
    h = b.node("Relu", [b.bn(b.conv(h, 4, 4, ksize=3), 4)])
    h = b.bn(b.conv(h, 4, 16, ksize=1, pad=0), 16)
    sc = b.bn(b.conv(p, 8, 16, ksize=1, pad=0), 16)
    r = b.node("Relu", [b.node("Add", [h, sc])])
    g = b.node("GlobalAveragePool", [r])
    f = b.node("Flatten", [g], axis=1)
    wg = b.const((b.rng.standard_normal((16, 10)) * 0.3).astype(np.float32))
    return b.node("Gemm", [f, wg, b.const(np.zeros(10, np.float32))])


def test_resnet_block_nhwc_graph_and_result():
    b = ModelBuilder()
    y = _resnet_block(b)
    m = b.model([("x", [1, 3, 32, 32])], [(y, [1, 10])])
    g = compile_graph(to_graph(m), backend="cpu", layout="NHWC")
    assert ops_of(g) == ["ToNHWC", "FusedConv", "MaxPool", "FusedConv", "FusedConv", "FusedConv", "FusedConv",
                         "GlobalAveragePool", "ToNCHW", "Flatten", "FusedGemm"]
    for n in g.nodes:
        if n.op_type in ("FusedConv", "MaxPool", "GlobalAveragePool"):
            assert n.domain == HPC_DOMAIN and n.layout == "NHWC", n.describe()
    assert sum(len(n.inputs) > 3 and bool(n.inputs[3]) for n in g.nodes if n.op_type == "FusedConv") == 1
    _check(m, {"x": _x((1, 3, 32, 32))})


def test_resnet_block_on_another_backend():
    """The reference backend: FusedConv through Conv2d's checked call, pools through NumPy."""
    b = ModelBuilder()
    y = _resnet_block(b)
    m = b.model([("x", [1, 3, 16, 16])], [(y, [1, 10])])
    _check(m, {"x": _x((1, 3, 16, 16))}, backend="reference")


def test_nchw_layout_moves_only_pools_to_the_cpu_kernels():
    b = ModelBuilder()
    y = _resnet_block(b)
    m = b.model([("x", [1, 3, 16, 16])], [(y, [1, 10])])
    g = compile_graph(to_graph(m), backend="cpu", layout="NCHW")
    assert "ToNHWC" not in ops_of(g) and "ToNCHW" not in ops_of(g)
    assert all(n.layout == "NCHW" for n in g.nodes if n.domain == HPC_DOMAIN and n.op_type != "FusedGemm")
    assert [n.op_type for n in g.nodes if n.domain == HPC_DOMAIN and n.op_type.endswith("Pool")] == ["MaxPool", "GlobalAveragePool"]
    g2 = compile_graph(to_graph(m), backend="reference", layout="auto")  # not cpu: no layout pass
    assert all(n.layout is None for n in g2.nodes) and "MaxPool" in ops_of(g2)


def test_mobilenet_style_depthwise_relu6_and_linear_residual():
    """Inverted residual: 1x1 expand + relu6, 3x3 depthwise + relu6, 1x1 project, Add (no relu)."""
    b = ModelBuilder()
    x0 = b.clip6(b.bn(b.conv("x", 3, 8, stride=2), 8))
    h = b.clip6(b.bn(b.conv(x0, 8, 24, ksize=1, pad=0), 24))
    h = b.clip6(b.bn(b.conv(h, 24, 24, group=24), 24))
    h = b.bn(b.conv(h, 24, 8, ksize=1, pad=0), 8)
    y = b.node("Add", [x0, h])
    m = b.model([("x", [1, 3, 16, 16])], [(y, [1, 8, 8, 8])])
    g = _check(m, {"x": _x((1, 3, 16, 16))})
    assert ops_of(g) == ["ToNHWC", "FusedConv", "FusedConv", "FusedConv", "FusedConv", "ToNCHW"]
    assert [n.attrs["activation"] for n in g.nodes[1:5]] == ["relu6", "relu6", "relu6", ""]
    assert g.nodes[4].inputs[3] == g.nodes[1].outputs[0]  # the residual is read in NHWC
    assert g.nodes[-1].outputs == [y]  # the graph output keeps its name and NCHW


def test_concat_of_branches_remaps_axis():
    """Inception/DenseNet: branches concatenated on channels run as one NHWC concat on axis 3."""
    b = ModelBuilder()
    s = b.node("Relu", [b.conv("x", 4, 8)])
    b1 = b.node("Relu", [b.conv(s, 8, 4, ksize=1, pad=0)])
    b2 = b.node("Relu", [b.conv(s, 8, 6, ksize=3)])
    b3 = b.conv(b.node("AveragePool", [s], kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[1, 1]), 8, 2, ksize=1, pad=0)
    y = b.node("Concat", [b1, b2, b3, s], axis=1)
    y = b.node("Relu", [b.conv(y, 20, 4, ksize=1, pad=0)])
    m = b.model([("x", [1, 4, 9, 9])], [(y, [1, 4, 9, 9])])
    g = _check(m, {"x": _x((1, 4, 9, 9))})
    cat = next(n for n in g.nodes if n.op_type == "Concat")
    assert cat.attrs["axis"] == 3
    assert ops_of(g).count("ToNHWC") == 1 and ops_of(g).count("ToNCHW") == 1


def test_transpose_pairs_cancel_at_a_nhwc_input():
    """A TF-exported model: NHWC input -> Transpose(0,3,1,2) -> conv ... -> Transpose(0,2,3,1)."""
    b = ModelBuilder()
    t = b.node("Transpose", ["x"], perm=[0, 3, 1, 2])
    c = b.node("Relu", [b.conv(t, 3, 5)])
    y = b.node("Transpose", [c], perm=[0, 2, 3, 1])
    m = b.model([("x", [1, 6, 6, 3])], [(y, [1, 6, 6, 5])])
    g = _check(m, {"x": _x((1, 6, 6, 3))})
    assert ops_of(g) == ["FusedConv", "Identity"]  # no transpose left; the output keeps its name
    assert g.nodes[0].inputs[0] == "x"


def test_channel_affine_elementwise_and_reduce_in_nhwc():
    """BN not after a conv becomes ChannelAffine; Mul by a (C,1,1) constant, Sigmoid, and an
    SE-style ReduceMean over H, W with keepdims stay in NHWC."""
    b = ModelBuilder()
    c = b.node("Relu", [b.conv("x", 3, 6)])
    h = b.bn(b.node("Relu", [c]), 6)
    h = b.node("Mul", [h, b.const(np.linspace(0.5, 2, 6, dtype=np.float32).reshape(6, 1, 1))])
    se = b.node("Sigmoid", [b.node("ReduceMean", [h], axes=[2, 3], keepdims=1)])
    y = b.node("Mul", [h, se])
    y = b.conv(y, 6, 4)
    m = b.model([("x", [1, 3, 7, 7])], [(y, [1, 4, 7, 7])])
    g = _check(m, {"x": _x((1, 3, 7, 7))})
    assert ops_of(g).count("ToNHWC") == 1 and ops_of(g).count("ToNCHW") == 1
    assert "ChannelAffine" in ops_of(g) and "BatchNormalization" not in ops_of(g)
    red = next(n for n in g.nodes if n.op_type == "ReduceMean")
    assert red.attrs["axes"] == [1, 2]


def test_graph_output_in_the_middle_and_unknown_ops_read_nchw():
    b = ModelBuilder()
    c = b.node("Relu", [b.conv("x", 3, 4)])
    r = b.node("Reshape", [c, b.const(np.array([1, -1], np.int64))])
    y = b.conv(c, 4, 4)
    m = b.model([("x", [1, 3, 5, 5])], [(r, [1, 100]), (y, [1, 4, 5, 5]), (c, [1, 4, 5, 5])])
    g = _check(m, {"x": _x((1, 3, 5, 5))})
    assert ops_of(g).count("ToNCHW") == 2  # c once (Reshape and the output share it), y once


def test_compile_graph_rejects_unknown_layout():
    b = ModelBuilder()
    y = b.node("Relu", ["x"])
    with pytest.raises(ValueError, match="layout"):
        compile_graph(to_graph(b.model([("x", [1])], [(y, [1])])), layout="NCWH")


def test_layout_pass_direct_call_keeps_ai_onnx_pool_with_indices():
    b = ModelBuilder()
    c = b.conv("x", 3, 4)
    p, idx = b.node("MaxPool", [c], n_out=2, kernel_shape=[2, 2])
    m = b.model([("x", [1, 3, 6, 6])], [(p, [1, 4, 5, 5]), (idx, [1, 4, 5, 5])])
    m.graph.output[1].type.tensor_type.elem_type = onnx.TensorProto.INT64
    g = layout_nhwc(fuse_conv(to_graph(m)))
    pool = next(n for n in g.nodes if n.op_type == "MaxPool")
    assert pool.domain == "" and pool.layout is None


def test_split_pad_resize_softmax_in_nhwc():
    """Axis/parameter remapping of Split, Pad, Resize and Softmax: all stay in NHWC (no
    transposes besides the two edges) and match onnxruntime."""
    b = ModelBuilder()
    c = b.node("Relu", [b.conv("x", 3, 8)])
    s1, s2 = b.node("Split", [c, b.const(np.array([3, 5], np.int64))], n_out=2, axis=1)
    p = b.node("Pad", [s1, b.const(np.array([0, 0, 1, 2, 0, 0, 2, 2], np.int64)), b.const(np.float32(0.5))], mode="constant")
    p = b.conv(p, 3, 4, pad=0)  # (1, 4, 7, 8): 6x6 padded to 9x10, then a 3x3 valid conv
    r = b.node("Resize", [s2, "", b.const(np.array([1, 1, 2, 2], np.float32))], mode="nearest")
    r = b.conv(r, 5, 4, ksize=1, pad=0, stride=2)  # back to 6x6
    sm = b.node("Softmax", [r], axis=1)
    y = b.node("Concat", [b.node("Relu", [b.node("Pad", [p, b.const(np.array([0, 0, 0, 0, 0, 0, 0, 0], np.int64))], mode="reflect")]),
                          b.node("Pad", [sm, b.const(np.array([0, 0, 1, 0, 0, 0, 0, 2], np.int64))], mode="edge")], axis=1)
    m = b.model([("x", [1, 3, 6, 6])], [(y, [1, 8, 7, 8])])
    g = _check(m, {"x": _x((1, 3, 6, 6))}, layouts=("NHWC",))
    assert ops_of(g).count("ToNHWC") == 1 and ops_of(g).count("ToNCHW") == 1, ops_of(g)
    assert next(n for n in g.nodes if n.op_type == "Softmax").attrs["axis"] == 3
    assert next(n for n in g.nodes if n.op_type == "Split").attrs["axis"] == 3


@pytest.mark.parametrize("axes,keep,stays_nhwc", [([1], 0, True), ([2, 3], 0, True), ([3], 0, False),
                                                    ([1, 2], 1, True), ([-1], 1, True)])
def test_reduce_mean_axes_in_nhwc(axes, keep, stays_nhwc):
    """keepdims=0 stays NHWC only where the remaining axes keep their order (C reduced, or H and W)."""
    b = ModelBuilder()
    c = b.node("Relu", [b.conv("x", 3, 4)])
    y = b.node("ReduceMean", [c], axes=axes, keepdims=keep)
    m = b.model([("x", [1, 3, 5, 6])], [(y, None)])
    g = _check(m, {"x": _x((1, 3, 5, 6))}, layouts=("NHWC",))
    red = next(n for n in g.nodes if n.op_type == "ReduceMean")
    assert (red.inputs[0].endswith("_nhwc")) == stays_nhwc


def test_transpose_after_nhwc_region_composes_the_perm():
    b = ModelBuilder()
    c = b.node("Relu", [b.conv("x", 3, 4)])
    y = b.node("Transpose", [c], perm=[0, 2, 1, 3])  # not a layout change: composed, one transpose
    m = b.model([("x", [1, 3, 5, 6])], [(y, [1, 5, 4, 6])])
    g = _check(m, {"x": _x((1, 3, 5, 6))}, layouts=("NHWC",))
    assert ops_of(g) == ["ToNHWC", "FusedConv", "Transpose"]
    assert g.nodes[-1].attrs["perm"] == [0, 1, 3, 2]


def test_nodes_with_unknown_attributes_are_not_fused():
    """A fused op would drop the attribute silently: such nodes stay for their own builders,
    which reject them at load."""
    b = ModelBuilder()
    c = b.conv("x", 3, 4)
    b.nodes[-1].attribute.append(onnx.helper.make_attribute("foo", 1))
    y = b.node("Relu", [b.bn(c, 4)])
    b.nodes[-2].attribute.append(onnx.helper.make_attribute("bar", 1))  # on the BN
    g = compile_graph(to_graph(b.model([("x", [1, 3, 5, 5])], [(y, [1, 4, 5, 5])])), backend="cpu", layout="NHWC")
    assert [n.op_type for n in g.nodes if n.domain == ""] == ["Conv", "BatchNormalization", "Relu"]


@pytest.mark.parametrize("c", [3, 8, 9, 64])
def test_layout_transposes(c):
    """ToNHWC/ToNCHW by plane copies (few channels) and by NumPy's transposed copy: the same."""
    from hpc_kernels.onnx import Node
    from hpc_kernels.onnx._registry import BuildContext, lookup

    from _passes_helpers import _Workspace

    ctx, ws = BuildContext("cpu", None, {}, 17), _Workspace()
    x = _x((2, c, 5, 6))
    to_nhwc, to_nchw = (Node(op, ["a"], ["b"], domain=HPC_DOMAIN) for op in ("ToNHWC", "ToNCHW"))
    y = lookup(to_nhwc, 17)(to_nhwc, 17, ctx)([x], ws)[0]
    np.testing.assert_array_equal(y, x.transpose(0, 2, 3, 1))
    assert y.flags.c_contiguous
    np.testing.assert_array_equal(lookup(to_nchw, 17)(to_nchw, 17, ctx)([y], ws)[0], x)
    with pytest.raises(ValueError, match="4-D"):
        lookup(to_nhwc, 17)(to_nhwc, 17, ctx)([x[0]], ws)
