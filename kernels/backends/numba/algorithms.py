"""The numba backend's conv2d algorithms and what "auto" picks among them.

The direct kernel (direct.py: pixels broadcast from x in place, weights in NR-wide panels) runs
every layer in both layouts, the depthwise kernel the depthwise ones; "gemm" is that same direct
kernel on a 1x1 layer (its taps are plain rows of x), so it is reported as "direct". "auto" keeps
the cpu engine's rules where they fit this backend (its kernels have the same shape): direct for
depthwise, NHWC, 1x1 stride-1 unpadded and NCHW layers with taps, >= 16 channels per group and
planes up to 64x64; else explicit im2col for NCHW layers of <= 64 output pixels, else convGemm.
It never reads the tuning cache: those choices were measured on the cpu backend's kernels.
"""
from __future__ import annotations

from typing import Dict

import numpy as np

from ..._api.conv_args import ConvShape, ConvSpec, pointwise

IMPLEMENTED: Dict[str, str] = {
    "im2col": "explicit lowering into a scratch matrix, then the packed GEMM (gemm.py)",
    "convgemm": "the packed GEMM gathering x while it packs (gemm.py)",
    "gemm": "1x1 stride-1 unpadded layers: runs the direct kernel (the taps are rows of x)",
    "direct": "direct.py: pixels broadcast from x in place (depthwise layers: depthwise.py)",
}
AUTO = ("depthwise, NHWC, 1x1 s1 p0 and NCHW with taps, >= 16 channels per group and planes up to 64x64 -> direct; "
        "NCHW with <= 64 output pixels -> im2col, else convgemm")

_FEW_PIXELS = 64  # as the cpu backend: a small lowered matrix, weights read in place
_DIRECT_MIN_CHANNELS = 16  # shorter reductions per tap keep the direct kernel's tile idle
_DIRECT_MAX_PLANE = 64 * 64  # larger planes: every channel step of the broadcast lands on another page


def auto(shape: ConvShape, spec: ConvSpec, dtype: np.dtype) -> str:
    """What algorithm="auto" runs for this layer on the numba backend."""
    if spec.groups == shape.c == shape.k and shape.r * shape.s <= 1024:
        return "direct"  # depthwise
    if spec.layout == "NHWC" or pointwise(shape, spec):
        return "direct"
    wide = shape.c // spec.groups >= _DIRECT_MIN_CHANNELS
    if shape.r * shape.s > 1 and wide and shape.h * shape.w <= _DIRECT_MAX_PLANE:
        return "direct"
    if shape.ho * shape.wo <= _FEW_PIXELS:
        return "im2col"
    return "convgemm"


def runs(requested: str) -> str:
    """The algorithm whose kernel runs for an explicit request: "gemm" is the direct kernel."""
    return "direct" if requested == "gemm" else requested
