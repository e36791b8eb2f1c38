"""GEMM benchmark cases: square sizes and the ResNet-50 im2col rectangles."""
from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from typing import List

SQUARE_FULL = (16, 32, 64, 128, 256, 512, 1024, 2048, 4096)
SQUARE_QUICK = (16, 64, 256, 1024)


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
    text = resources.files("kernels.bench").joinpath("shapes/resnet50.json").read_text()
    return json.loads(text)["layers"]


def square_cases(quick: bool) -> List[GemmCase]:
    return [GemmCase(f"square {n}", n, n, n) for n in (SQUARE_QUICK if quick else SQUARE_FULL)]


def resnet50_cases(quick: bool) -> List[GemmCase]:
    layers = resnet50_layers()
    if quick:  # one layer per stage: the shapes that differ most
        layers = [layer for layer in layers if layer["name"] in ("conv1 7x7/2", "l2 3x3 128", "l3 3x3 256", "l4 3x3 512")]
    return [GemmCase(f"resnet50 {d['name']}", d["M"], d["N"], d["K"], d["count"]) for d in layers]
