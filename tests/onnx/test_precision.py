"""InferenceSession(precision="bf16"): FusedConv/FusedGemm on the bf16 kernels (weights rounded once,
activations at each node's input, fp32 outputs). A one-conv and a one-Gemm model equal the bf16
API calls on the same rounded operands exactly; the zoo's ResNet-18 (64x64, batch 2) stays within
BF16_RTOL of its fp32 session on the cpu and reference backends; bad options fail at load.

Bound: bf16 keeps 8 significant bits (relative rounding 2^-9 per operand); through ResNet-18's 21
layers the logits measured max |bf16 - fp32| = 4.7e-3 * max |fp32| (cpu), 5.0e-3 (reference;
ResNet-50 at 224: 4.6e-3); BF16_RTOL = 2e-2 leaves 4x."""
from __future__ import annotations

import numpy as np
import pytest

ml_dtypes = pytest.importorskip("ml_dtypes")
onnx = pytest.importorskip("onnx")

from onnx import TensorProto, numpy_helper  # noqa: E402

import hpc_kernels  # noqa: E402
from _onnx_models import one_node, small_cnn  # noqa: E402
from hpc_kernels.onnx import InferenceSession, zoo  # noqa: E402

BF16 = ml_dtypes.bfloat16
BF16_RTOL = 2e-2


@pytest.mark.parametrize("backend", ["cpu", "reference"])
def test_bf16_conv_is_the_bf16_conv2d_of_rounded_operands(backend):
    rng = np.random.default_rng(0)
    w = rng.standard_normal((6, 4, 3, 3)).astype(np.float32)
    b = rng.standard_normal(6).astype(np.float32)
    model = one_node("Conv", [("x", TensorProto.FLOAT, [2, 4, 9, 11])], [("y", TensorProto.FLOAT, None)],
                     initializers=[numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")], pads=[1, 1, 1, 1],
                     strides=[2, 1])
    x = rng.standard_normal((2, 4, 9, 11)).astype(np.float32)
    s = InferenceSession(model, backend=backend, precision="bf16", layout="NCHW")
    got = s.run(None, {"x": x})[0]
    want = hpc_kernels.conv2d(x.astype(BF16), w.astype(BF16), bias=b, stride=(2, 1), padding=1, out_dtype=np.float32,
                              backend=backend)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, want)
    fp32 = InferenceSession(model, backend=backend).run(None, {"x": x})[0]
    assert not np.array_equal(got, fp32)  # the bf16 kernels ran
    assert np.abs(got - fp32).max() <= BF16_RTOL * np.abs(fp32).max()


def test_bf16_gemm_is_the_bf16_gemm_of_rounded_operands():
    rng = np.random.default_rng(1)
    w = rng.standard_normal((7, 13)).astype(np.float32)
    c = rng.standard_normal(7).astype(np.float32)
    model = one_node("Gemm", [("a", TensorProto.FLOAT, [5, 13])], [("y", TensorProto.FLOAT, [5, 7])],
                     initializers=[numpy_helper.from_array(w, "w"), numpy_helper.from_array(c, "c")], transB=1)
    a = rng.standard_normal((5, 13)).astype(np.float32)
    s = InferenceSession(model, precision="bf16")
    assert [n.op_type for n in s.graph.nodes] == ["FusedGemm"]
    want = hpc_kernels.gemm(a.astype(BF16), np.ascontiguousarray(w.T).astype(BF16), out_dtype=np.float32) + c
    np.testing.assert_array_equal(s.run(None, {"a": a})[0], want)


def test_small_cnn_in_both_precisions_and_layouts():
    model = small_cnn()
    x = np.random.default_rng(2).standard_normal((2, 3, 12, 10)).astype(np.float32)
    ref = InferenceSession(model).run(None, {"x": x})
    for layout in ("NCHW", "NHWC"):
        got = InferenceSession(model, precision="bf16", layout=layout).run(None, {"x": x})
        for g, r in zip(got, ref):
            assert g.dtype == np.float32 and g.shape == r.shape
            assert np.abs(g - r).max() <= BF16_RTOL * np.abs(r).max()


@pytest.mark.parametrize("backend", ["cpu", "reference"])
def test_zoo_resnet18_bf16_within_the_bound(backend, tmp_path):
    pytest.importorskip("torch")
    path = zoo.export("resnet18", tmp_path / "resnet18.onnx", batch=1, height=64, width=64)
    x = np.random.default_rng(3).standard_normal((2, 3, 64, 64)).astype(np.float32)
    s32 = InferenceSession(path, backend=backend)
    s16 = InferenceSession(path, backend=backend, precision="bf16")
    name = s32.get_inputs()[0].name
    assert "FusedConvChain" not in [n.op_type for n in s16.graph.nodes]  # each conv its own bf16 plan
    want, got = s32.run(None, {name: x})[0], s16.run(None, {name: x})[0]
    assert got.dtype == np.float32 and got.shape == want.shape == (2, 1000)
    err = np.abs(got - want).max() / np.abs(want).max()
    assert 0 < err <= BF16_RTOL


def test_precision_option_errors():
    model = small_cnn()
    with pytest.raises(ValueError, match="precision must be one of 'fp32', 'bf16'"):
        InferenceSession(model, precision="fp16")
    with pytest.raises(ValueError, match="precision must be"):
        InferenceSession(model, precision=None)
    try:
        from hpc_kernels._dispatch import get_backend

        get_backend("numba")
    except Exception:
        pytest.skip("no numba backend here (the backend without bf16 kernels this test uses)")
    with pytest.raises(ValueError, match="bfloat16 kernels .* numba backend"):
        InferenceSession(model, backend="numba", precision="bf16")
