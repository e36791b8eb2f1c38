"""The cuda backend's conv2d algorithms: what its kernels really run, and what "auto" picks.

conv.cu has three paths: the implicit GEMM (conv_implicit_*: tiles of x gathered straight into
shared memory through a tap table, no workspace), explicit im2col (the im2col kernel, then
conv_gemm_* on the lowered columns) and, for 1x1 stride-1 unpadded NHWC layers, conv_gemm_* on x
as it lies. An NCHW "gemm" request runs the implicit GEMM (x's pixels are not a GEMM operand there).
"auto" is the implicit GEMM: no workspace, every layout and dtype; choices measured on the cpu
backend (its thresholds, its tuning cache) say nothing about a GPU.
"""
from __future__ import annotations

from typing import Dict

from ..._api.conv_args import ConvShape, ConvSpec

IMPLEMENTED: Dict[str, str] = {
    "im2col": "the im2col kernel, then conv_gemm on the lowered columns",
    "convgemm": "conv_implicit: the implicit GEMM, x gathered into shared memory through a tap table",
    "gemm": "1x1 stride-1 unpadded NHWC layers: conv_gemm on x as it lies (NCHW: the implicit GEMM)",
}
AUTO = "convgemm (the implicit GEMM)"


def auto() -> str:
    return "convgemm"


def runs(shape: ConvShape, spec: ConvSpec, requested: str) -> str:
    """The algorithm whose kernel runs for an explicit request: NCHW "gemm" is the implicit GEMM."""
    if requested == "gemm" and spec.layout != "NHWC":
        return "convgemm"
    return requested
