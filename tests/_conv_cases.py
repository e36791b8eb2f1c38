"""The layer sweep shared by the conv2d tests of several backends (tests/api/test_conv2d.py for
cpu and reference, tests/backends/numba, tests/backends/opencl): curated layers, epilogues, and
the (layer, algorithm, dtype, layout, epilogue) cases that cover every pair of values."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

import hpc_kernels
from _conv_reference import applicable_algorithms
from _helpers import DTYPES, dt_id

LAYOUTS = ("NCHW", "NHWC")



# --------------------------------------------------------------------------------------------
# The sweep
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Layer:
    name: str
    N: int
    C: int
    H: int
    W: int
    K: int
    RS: Tuple[int, int]
    stride: object = 1
    padding: object = 0
    dilation: object = 1
    groups: int = 1

    def x_shape(self, layout: str):
        return (self.N, self.C, self.H, self.W) if layout == "NCHW" else (self.N, self.H, self.W, self.C)

    @property
    def w_shape(self):
        return (self.K, self.C // self.groups, *self.RS)

    def geo(self, layout: str) -> dict:
        return dict(stride=self.stride, padding=self.padding, dilation=self.dilation, groups=self.groups, layout=layout)


LAYERS = [
    Layer("3x3-c3-k7", 1, 3, 7, 9, 7, (3, 3)),
    Layer("3x3-pad1-b3", 3, 5, 8, 6, 19, (3, 3), padding=1),
    Layer("3x3-s2-c17-k33", 1, 17, 11, 13, 33, (3, 3), stride=2, padding=1),
    Layer("3x3-pad4-gt-kernel", 2, 4, 9, 9, 6, (3, 3), padding=4),
    Layer("3x3-same-g2", 1, 6, 10, 7, 4, (3, 3), padding="same", groups=2),
    Layer("3x3-same-d2-dw", 1, 8, 9, 11, 8, (3, 3), padding="same", dilation=2, groups=8),
    Layer("5x5-valid-b3", 3, 5, 12, 10, 7, (5, 5), padding="valid"),
    Layer("7x7-s2-p3-stem", 1, 3, 13, 12, 5, (7, 7), stride=2, padding=3),
    Layer("7x7-larger-than-input", 1, 4, 5, 6, 5, (7, 7), padding=3),
    Layer("1x3-pad01", 1, 7, 9, 8, 9, (1, 3), padding=(0, 1)),
    Layer("3x1-pad10-b2", 2, 7, 8, 9, 9, (3, 1), padding=(1, 0)),
    Layer("2x5-s2-asym", 1, 5, 10, 11, 6, (2, 5), stride=2, padding=(1, 2, 0, 3)),
    Layer("1x1-c17-k19", 1, 17, 7, 7, 19, (1, 1)),
    Layer("1x1-g2-b3", 3, 16, 6, 5, 32, (1, 1), groups=2),
    Layer("1x1-valid", 2, 5, 4, 9, 7, (1, 1), padding="valid"),
    Layer("1x1-s2", 1, 12, 9, 9, 12, (1, 1), stride=2),
    Layer("1x1-pad1", 1, 6, 8, 8, 6, (1, 1), padding=1),
    Layer("batch0", 0, 5, 7, 7, 7, (3, 3), padding=1),
    Layer("batch0-dw", 0, 4, 5, 5, 4, (3, 3), padding=1, groups=4),
    Layer("dw-c33-s2", 1, 33, 10, 9, 33, (3, 3), stride=2, padding=1, groups=33),
    Layer("dw-5x5-same-b2", 2, 12, 11, 10, 12, (5, 5), padding="same", groups=12),
    Layer("dw-7x7-same-narrow", 1, 6, 13, 5, 6, (7, 7), padding="same", groups=6),
    Layer("dw-3x3-wide-c20", 2, 20, 5, 29, 20, (3, 3), padding=1, groups=20),  # 8-pixel blocks, tails
    Layer("dw-3x3-s2-wide-c35", 1, 35, 6, 41, 35, (3, 3), stride=2, padding=(0, 1, 1, 2), groups=35),
    Layer("dw-multiplier2", 1, 5, 9, 9, 10, (3, 3), padding=1, groups=5),
    # Strided depthwise NCHW reads st x st phase planes (csrc/conv/depthwise.cpp): taps landing in
    # every phase (dilation 2 with stride 2 and 3), strides beyond the kernel, asymmetric padding,
    # planes of many 64-output blocks.
    Layer("dw-s3-d2-5x5", 1, 7, 17, 15, 7, (5, 5), stride=3, padding=2, dilation=2, groups=7),
    Layer("dw-s2-d2-pad-asym", 2, 9, 12, 13, 9, (3, 3), stride=2, padding=(2, 1, 0, 3), dilation=2, groups=9),
    Layer("dw-s4-2x3", 1, 5, 19, 22, 5, (2, 3), stride=4, padding=(1, 0, 2, 1), groups=5),
    Layer("dw-s2-plane-70", 1, 3, 64, 70, 3, (3, 3), stride=2, padding=1, groups=3),
    # NCHW planes above 64x64 run "direct" through NHWC copies of x and y (csrc/conv/nchw_reorder.hpp).
    Layer("3x3-plane-66x70-c16", 2, 16, 66, 70, 10, (3, 3), padding=1),
    Layer("5x3-s2-d2-plane-80x61-g2", 1, 34, 80, 61, 6, (5, 3), stride=2, padding=(2, 1, 3, 0), dilation=2, groups=2),
    Layer("dw-c1-k1", 1, 1, 9, 9, 1, (3, 3)),
    Layer("g3-s3-d3", 1, 6, 13, 13, 12, (3, 3), stride=3, padding=2, dilation=3, groups=3),
    Layer("g4-kg1-s3-d2", 2, 8, 10, 10, 4, (3, 3), stride=3, dilation=2, groups=4),
    Layer("3x3-d2-asym", 1, 5, 11, 12, 7, (3, 3), padding=(2, 0, 1, 3), dilation=2),
    Layer("2x2-same-odd-total", 1, 4, 6, 8, 10, (2, 2), padding="same", groups=2),
    Layer("4x4-same-d3", 1, 3, 9, 10, 5, (4, 4), padding="same", dilation=3),
    Layer("5x5-input3-pad2", 1, 2, 3, 3, 3, (5, 5), padding=2),
    Layer("3x3-input1x1-pad1", 1, 3, 1, 1, 4, (3, 3), padding=1),
    Layer("3x3-c19-k17-b3", 3, 19, 7, 11, 17, (3, 3), padding=1),
    Layer("3x5-s21-d12-g3", 1, 9, 12, 8, 6, (3, 5), stride=(2, 1), padding=(1, 2), dilation=(1, 2), groups=3),
    Layer("5x5-s3-pad-pair", 3, 7, 13, 11, 9, (5, 5), stride=3, padding=(2, 1)),
    # Winograd F(2x2, 3x3) (csrc/conv/winograd.cpp), which "auto" runs from 64 channels in and out:
    # odd output sizes (half-empty edge tiles), tiles numbered across images, channel counts off
    # the 16-lane transform step and the micro-kernel's MR, asymmetric padding.
    Layer("3x3-winograd-c64-k70-b2", 2, 64, 13, 11, 70, (3, 3), padding=1),
    Layer("3x3-winograd-c67-k64-asym", 1, 67, 9, 10, 64, (3, 3), padding=(0, 2, 1, 0)),
]

EPILOGUES = {
    "none": dict(),
    "bias": dict(bias=True),
    "scale-shift": dict(scale=True, shift=True),
    "relu": dict(activation="relu"),
    "relu6": dict(activation="relu6"),
    "bias-relu": dict(bias=True, activation="relu"),
    "all": dict(bias=True, scale=True, shift=True, activation="relu6"),
}
EPI_NAMES = list(EPILOGUES)


@dataclass(frozen=True)
class Case:
    layer: Layer
    algorithm: str
    dtype: type
    layout: str
    epilogue: str

    @property
    def id(self) -> str:
        return f"{self.layer.name}-{self.algorithm}-{self.layout}-{self.epilogue}-{dt_id(self.dtype)}"


def layer_algorithms(layer: Layer, layout: str) -> list:
    return applicable_algorithms(layer.x_shape(layout), layer.w_shape, layer.stride, layer.padding, layer.dilation,
                                 layer.groups, layout)


def sweep_cases(offset: int):
    """Every (layer, applicable algorithm, dtype); layout and epilogue cycled with `offset`."""
    cases = []
    for li, layer in enumerate(LAYERS):
        usable = {lay: layer_algorithms(layer, lay) for lay in LAYOUTS}
        algs = list(dict.fromkeys(a for lay in LAYOUTS for a in usable[lay]))
        for ai, alg in enumerate(algs):
            layouts = [lay for lay in LAYOUTS if alg in usable[lay]]  # direct: NHWC only, unless depthwise
            for di, dt in enumerate(DTYPES):
                layout = layouts[(li + ai + di + offset) % len(layouts)]
                epi = EPI_NAMES[(3 * li + ai + 2 * di + offset) % len(EPI_NAMES)]
                cases.append(Case(layer, alg, dt, layout, epi))
    return cases


EXACT_CASES = sweep_cases(0)
BOUND_CASES = sweep_cases(1)


def run_conv(layer: Layer, ops: dict, algorithm: str, layout: str, activation: Optional[str], **extra):
    return hpc_kernels.conv2d(ops["x"], ops["w"], ops["bias"], scale=ops["scale"], shift=ops["shift"],
                          activation=activation, algorithm=algorithm, **layer.geo(layout), **extra)


def describe(case: Case) -> str:
    return f"{case.layer} algorithm={case.algorithm} layout={case.layout} epilogue={case.epilogue} dtype={dt_id(case.dtype)}"
