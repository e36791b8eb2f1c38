"""The ai.onnx op kernels, one module per family; importing this package registers them all."""
from . import activation, conv, elementwise, gemm, norm, pad, pool, reduce, resize, shape  # noqa: F401
