"""The cpu backend's conv2d algorithms and what "auto" picks among them (thresholds measured on
this engine; see the comments).

"auto" picks, in order (heuristic_choice): the direct kernel for depthwise layers, Winograd
F(2x2, 3x3) for 3x3 stride-1 undilated single-group layers with >= 64 input and output channels and
>= 16 output pixels (either layout), a plain GEMM for NHWC 1x1 stride-1 unpadded layers with
<= 32 input channels per group, the direct kernel for every other NHWC layer (the batch-reduce kernel reads the image in place: no im2col block and no packed image;
measured faster than every other algorithm on each ResNet-50 layer), a plain GEMM for 1x1
stride-1 unpadded layers, the direct kernel for NCHW layers with taps and >= 16 channels per group
(planes above 64x64 through NHWC copies, csrc/conv/nchw_reorder.hpp); then a measured choice from the tuning store (kernels/_tuning.py, filled
by `python -m hpc_kernels tune --backend cpu`), explicit im2col for NCHW layers of <= 64 output pixels, else
convGemm (no workspace beyond the packing buffers, and as fast as explicit im2col on larger layers).
"""
from __future__ import annotations

import logging
from typing import Dict, List, Optional

import numpy as np

from ... import _tuning
from ..._api.conv_args import ConvShape, ConvSpec, pointwise, winograd_layer
from ..._threads import get_num_threads

logger = logging.getLogger("hpc_kernels")

# Each algorithm of csrc/conv (the C++ entry conv2d takes these names) and the kernel it runs.
IMPLEMENTED: Dict[str, str] = {
    "im2col": "explicit lowering of x into a column block, then the packed GEMM",
    "convgemm": "implicit im2col: the gather done while packing the GEMM's B panels (no workspace)",
    "gemm": "1x1 stride-1 unpadded layers: the GEMM on x as it lies",
    "direct": "batch-reduce over the kernel taps on x in place (depthwise layers: the depthwise kernel)",
    "winograd": "Winograd F(2x2, 3x3): 16 batch-reduce products per 2x2 tile instead of 36 (3x3, stride 1, "
                "dilation 1, groups=1; NCHW through NHWC copies)",
}
AUTO = ("depthwise -> direct, 3x3 s1 d1 g1 with >= 64 channels in and out and >= 16 output pixels -> winograd, "
        "NHWC 1x1 s1 p0 with <= 32 channels per group -> gemm, NHWC -> direct, 1x1 s1 p0 -> gemm, NCHW with taps and >= 16 channels per group -> direct "
        "(planes above 64x64 through NHWC copies); then the tuning store, NCHW with <= 64 output pixels -> im2col, "
        "else convgemm")

# NCHW layers with at most this many output pixels (the 7x7 stage of ImageNet CNNs) run explicit
# im2col: its lowered matrix is small, and the GEMM's unpacked path then reads the weights in
# place instead of repacking every weight for only <= 64 uses (measured 1.17x convGemm there).
_FEW_PIXELS = 64
# NCHW layers with taps run the direct kernel from this many channels per group: it broadcasts each
# channel at the plane stride, which beats convGemm's gather by 1.2-1.5x on ResNet-50's 3x3 layers
# (planes of 7x7 to 56x56); with 3 channels (RGB stems) each tap is too short a reduction (0.5x
# convGemm). On planes above 64x64 (VGG-16's first layers) every channel step would land on another
# page, so the C++ side runs those through NHWC copies of x and y (csrc/conv/nchw_reorder.hpp):
# VGG-16 conv1_2 20 ms against convGemm's 29 ms (Zen 5, 1 thread).
_DIRECT_MIN_CHANNELS = 16
# Winograd F(2x2, 3x3) (csrc/conv/winograd.cpp) from 64 channels in and out: its GEMMs do 16 products
# per 2x2 tile where direct does 36, but its transforms cost per channel and tile, and its
# transformed weights (16/9 of the weights) stream once per block of tiles. Measured against
# direct (Zen 5, 1 thread, NHWC, plans): 0.54-0.83x the time on VGG-16's and ResNet-50's 3x3 layers
# (64-512 channels, planes 7x7 to 224x224); 1.0x with 32 channels, 1.2-1.6x with 16-24; a
# 2x2 output (one tile) 1.9x, where both are bound by streaming the weights.
_WINOGRAD_MIN_CHANNELS = 64
# NHWC 1x1 stride-1 layers with at most this many input channels per group run as a plain GEMM on x
# as it lies: with k this short, the direct kernel's per-tile tap table (one pointer per pixel) is
# a large part of each tile, which the GEMM's unpacked path does not build. Measured (Zen 5, 1
# thread, plans, relu6 epilogue): MobileNetV2's 32->16 @112 0.87x direct's time, 16->96 @112 0.88x,
# 24->144 @56 0.98x, 32->192 @28 0.97x; from 64 channels even (0.97-1.03x), and 1.13-1.20x behind
# with many channels in and few out (144->24, 192->32, 256->64), where direct stays.
_POINTWISE_GEMM_MAX_CHANNELS = 32
_WINOGRAD_MIN_PIXELS = 16


def winograd_pays(shape: ConvShape, spec: ConvSpec) -> bool:
    return (winograd_layer(shape, spec) and min(shape.c, shape.k) >= _WINOGRAD_MIN_CHANNELS
            and shape.n * shape.ho * shape.wo >= _WINOGRAD_MIN_PIXELS)


def applicable(shape: ConvShape, spec: ConvSpec) -> List[str]:
    """The algorithms that can run this layer (conv2d_workspace reports each)."""
    algos = ["im2col", "convgemm", "direct"]
    if pointwise(shape, spec):
        algos.append("gemm")
    if winograd_layer(shape, spec):
        algos.append("winograd")
    return algos


def heuristic_choice(shape: ConvShape, spec: ConvSpec) -> Optional[str]:
    """The choice "auto" makes without consulting the tuning store, or None where it consults it."""
    if spec.groups == shape.c == shape.k and shape.r * shape.s <= 1024:
        return "direct"  # depthwise
    if winograd_pays(shape, spec):
        return "winograd"
    if spec.layout == "NHWC":
        if pointwise(shape, spec) and shape.c // spec.groups <= _POINTWISE_GEMM_MAX_CHANNELS:
            return "gemm"
        return "direct"
    if pointwise(shape, spec):
        return "gemm"
    wide = shape.c // spec.groups >= _DIRECT_MIN_CHANNELS
    if shape.r * shape.s > 1 and wide:
        return "direct"
    return None


# The measured choices: op "conv2d" of the cpu namespace in the tuning store, one algorithm per
# layer key (kernels/_tuning.layer_key), written by `python -m hpc_kernels tune --backend cpu`.
_MEASURED = ("im2col", "convgemm", "direct", "winograd")
_tuning.register("cpu", "conv2d", check=lambda v: v in _MEASURED)


def measured_choice(shape: ConvShape, spec: ConvSpec, dtype: np.dtype) -> Optional[str]:
    """The algorithm `tune --backend cpu` measured fastest for this layer on this CPU, or None."""
    st = _tuning.store()
    if not st.has("cpu", "conv2d"):  # nothing tuned: no key to build, no device to describe
        return None
    return st.get("cpu", "conv2d", _tuning.layer_key(shape, spec, dtype.name, get_num_threads()), _tuning.cpu_device())


def auto(shape: ConvShape, spec: ConvSpec, dtype: np.dtype) -> str:
    """What algorithm="auto" runs for this layer on the cpu backend."""
    choice = heuristic_choice(shape, spec)
    if choice is not None:
        return choice
    choice = measured_choice(shape, spec, dtype)
    if choice == "winograd" and not winograd_layer(shape, spec):
        choice = None  # a store edited by hand: keys do not say whether a layer is 3x3/s1/d1/g1
    if choice is not None:
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("conv2d: algorithm %r from the tuning store (cpu)", choice)
        return choice
    if spec.layout == "NCHW" and shape.ho * shape.wo <= _FEW_PIXELS:
        return "im2col"
    return "convgemm"
