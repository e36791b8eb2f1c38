"""GEMM benchmark cases of every suite (square sizes, the ResNet-50 im2col rectangles): the one
definition that `python -m hpc_kernels bench` and the pytest-benchmark suites in benchmarks/ share."""
from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from typing import List, Tuple

SQUARE_FULL = (16, 32, 64, 128, 256, 512, 1024, 2048, 4096)
SQUARE_QUICK = (16, 64, 256, 1024)
# Square sizes per suite (full, quick): the device suites start where their launch overhead is paid
# off, and stop where the slowest competitor (CLBlast on PoCL: ~5 GFLOP/s) still takes seconds.
SQUARE = {
    "cpu": (SQUARE_FULL, SQUARE_QUICK),
    "numba": ((256, 512, 1024, 2048), (512, 1024)),
    "opencl": ((256, 512, 1024, 2048), (512, 1024)),
    "cuda": ((1024, 2048, 4096, 8192), (1024, 4096)),
}


@dataclass(frozen=True)
class GemmCase:
    name: str
    m: int
    n: int
    k: int
    count: int = 1  # occurrences in its network (ResNet-50 layers)

    @property
    def flops(self) -> float:
        return 2.0 * self.m * self.n * self.k


def resnet50_layers() -> List[dict]:
    text = resources.files("hpc_kernels.bench").joinpath("shapes/resnet50.json").read_text()
    return json.loads(text)["layers"]


def square_sizes(suite: str, quick: bool) -> Tuple[int, ...]:
    return SQUARE[suite][1 if quick else 0]


def square_cases(quick: bool, suite: str = "cpu") -> List[GemmCase]:
    return [GemmCase(f"square {n}", n, n, n) for n in square_sizes(suite, quick)]


def resnet50_cases(quick: bool) -> List[GemmCase]:
    layers = resnet50_layers()
    if quick:  # one layer per stage: the shapes that differ most
        layers = [layer for layer in layers if layer["name"] in ("conv1 7x7/2", "l2 3x3 128", "l3 3x3 256", "l4 3x3 512")]
    return [GemmCase(f"resnet50 {d['name']}", d["M"], d["N"], d["K"], d["count"]) for d in layers]
