"""The ONNX backend test suite against hpc_kernels.onnx.backend: the node tests of every implemented
op, and the light real models (ResNet-50, VGG-19, ...; a reduced set unless KERNELS_ONNX_ALL_MODELS=1
or `-m onnx_models`), with an explicit exclusion list that says why each test is left out."""
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
]

# Test-name patterns left out, each with the reason.
EXCLUDED = {
    # other ops whose names start like ours
    r"test_(gather_elements|split_to_sequence|max_pool|softmax_cross_entropy|sum_of)": "another op (GatherElements, SplitToSequence, ...), not implemented",
    r"test_convtranspose_(1d|3d)": "1-D/3-D convolution: a load-time error (2-D only)",
    r"test_conv_.*_3d|test_conv_1d": "1-D/3-D convolution: a load-time error (2-D only)",
    # function-expanded forms: the expansion uses ops this runtime does not implement
    r"_expanded": "the function expansion uses ops outside the implemented set (Where, ReduceMax, Exp, ...)",
    # training
    r"test_batchnorm_.*training_mode": "training mode BatchNormalization (running statistics outputs)",
    r"test_training_dropout|test_dropout_random_old": "training-mode Dropout (random masks)",
    # dtypes without a NumPy kernel
    r"test_cast_.*(BFLOAT16|FLOAT8|FLOAT4|INT4|UINT4|INT2|UINT2|STRING|e8m0)": "bfloat16/float8/float4/int4/int2/string element types have no NumPy dtype",
    r"test_cast_no_saturate": "float8 element types have no NumPy dtype",
    # sequences and optionals
    r"test_identity_(opt|sequence)": "optional and sequence types (tensors only)",
    # Resize modes not implemented
    r"test_resize_.*cubic": "Resize mode cubic (nearest and linear only)",
    r"test_resize_.*antialias": "Resize antialias=1",
    r"test_maxpool_with_argmax": "MaxPool's Indices output",
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
for pattern in EXCLUDED:
    _suite.exclude(pattern)

globals().update(_suite.test_cases)
