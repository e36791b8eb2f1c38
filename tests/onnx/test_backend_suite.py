"""The ONNX backend test suite against hpc_kernels.onnx.backend: the node tests of every implemented
op, and the light real models (ResNet-50, VGG-19, ...; two of the nine unless KERNELS_ONNX_ALL_MODELS=1),
with an explicit exclusion list that says why each test is left out."""
from __future__ import annotations

import os
import tempfile

import pytest

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnx.backend.test")

import onnx.backend.test  # noqa: E402

import hpc_kernels.onnx.backend as backend  # noqa: E402

# The ONNX ops this runtime implements, as the node tests name them (test_<name>_...).
OPS = [
    "conv", "basic_conv", "convtranspose", "gemm", "matmul", "batchnorm", "relu", "leakyrelu", "prelu", "clip",
    "sigmoid", "hardsigmoid", "hardswish", "tanh", "add", "sub", "mul", "div", "pow", "sqrt", "max", "min", "sum",
    "maxpool", "averagepool", "globalaveragepool", "globalmaxpool", "lrn", "flatten", "reshape", "transpose",
    "squeeze", "unsqueeze", "concat", "split", "slice", "gather", "shape", "cast", "constant", "constantofshape",
    "identity", "dropout", "softmax", "reduce_mean", "resize", "pad", "constant_pad", "edge_pad", "reflect_pad",
    "wrap_pad",
    # quantized models (kernels/onnx/ops/quantize.py, qlinear.py)
    "quantizelinear", "dequantizelinear", "dynamicquantizelinear", "matmulinteger", "convinteger", "qlinearmatmul",
    "qlinearconv",
]

# Test-name patterns left out, each with the reason.
EXCLUDED = {
    # other ops whose names start like ours
    r"test_(gather_elements|split_to_sequence)_": "another op (GatherElements, SplitToSequence): not implemented",
    r"test_convtranspose_(1d|3d)": "1-D/3-D convolution: a load-time error (2-D only)",
    # function-expanded forms: the expansion uses ops this runtime does not implement
    r"_expanded": "the function expansion uses ops outside the implemented set (Where, Less, ReduceMax, Exp, ...)",
    r"test_batchnorm_.*training_mode": "training-mode BatchNormalization (batch statistics, running mean/var outputs)",
    # dtypes without a NumPy dtype
    r"test_cast_.*(BFLOAT16|FLOAT8|FLOAT4|INT4|UINT4|INT2|UINT2|STRING|e8m0)": "bfloat16/float8/float4/int4/int2/string element types have no NumPy dtype",
    r"test_identity_(opt|sequence)": "optional and sequence types (tensors only)",
    r"test_(de)?quantizelinear_(e4m3fn|e5m2)": "float8 quantization: float8 types have no NumPy dtype",
    r"test_(de)?quantizelinear_(uint4|int4|uint2|int2|float4e2m1)": "4-bit/2-bit/float4 quantization: no NumPy dtype",
}

# Light real models that run in CI: two (SqueezeNet, ResNet-50: ~0.7 s together); all nine (~7 s) with
# KERNELS_ONNX_ALL_MODELS=1.
CI_MODELS = ["test_squeezenet", "test_resnet50"]
ALL_MODELS = ["test_bvlc_alexnet", "test_densenet121", "test_inception_v1", "test_inception_v2", "test_resnet50",
              "test_shufflenet", "test_squeezenet", "test_vgg19", "test_zfnet512"]
MODELS = ALL_MODELS if os.environ.get("KERNELS_ONNX_ALL_MODELS") == "1" else CI_MODELS

os.environ.setdefault("ONNX_HOME", os.path.join(tempfile.gettempdir(), "hpc_kernels_onnx_home"))  # the suite writes dummy inputs there

_suite = onnx.backend.test.BackendTest(backend, __name__)
for op in OPS:
    _suite.include(rf"^test_{op}(_.*)?_cpu$")
for model in MODELS:
    _suite.include(rf"^{model}_cpu$")
# The simple and PyTorch-exported models of opset >= 9 whose ops are all implemented (the others are
# opset 6 exports, or use Tile, Expand, Sign, Shrink, sequences, strings, Gradient).
_suite.include(r"^test_(MaxPool[12]d_stride_padding_dilation|PixelShuffle|single_relu_model)_cpu$")
for pattern in EXCLUDED:
    _suite.exclude(pattern)

globals().update(_suite.test_cases)


@pytest.mark.parametrize("model", MODELS)
def test_light_model_matches_onnxruntime(model):
    """The same light model on random inputs: our outputs against onnxruntime's."""
    import numpy as np

    from hpc_kernels.onnx import InferenceSession

    ort = pytest.importorskip("onnxruntime")
    path = os.path.join(os.path.dirname(onnx.backend.test.__file__), "data", "light", f"light_{model[len('test_'):]}.onnx")
    ours = InferenceSession(path)
    ref = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    feed = {i.name: rng.random([d if isinstance(d, int) else 1 for d in i.shape]).astype(np.float32) for i in ours.get_inputs()}
    for got, want in zip(ours.run(None, feed), ref.run(None, feed)):
        np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-5)
