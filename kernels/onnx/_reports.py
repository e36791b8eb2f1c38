"""What an InferenceSession reports: its inputs and outputs as onnxruntime's NodeArg, the model's
metadata, and the profile of its runs (time per op type and per node)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List

import numpy as np


def type_string(dtype: np.dtype) -> str:
    """onnxruntime's name of a tensor type: 'tensor(float)', 'tensor(int64)', ..."""
    if dtype is None:
        return "tensor(undefined)"
    names = {"float32": "float", "float64": "double", "float16": "float16", "bool": "bool"}
    n = np.dtype(dtype).name
    return f"tensor({names.get(n, n)})"


@dataclass(frozen=True)
class NodeArg:
    """A graph input or output as onnxruntime's NodeArg shows it."""

    name: str
    shape: List[Any]  # ints, symbolic names (str) or None
    type: str


@dataclass(frozen=True)
class ModelMetadata:
    producer_name: str
    graph_name: str
    domain: str
    description: str
    graph_description: str
    version: int
    custom_metadata_map: Dict[str, str]


@dataclass
class Profile:
    """Seconds spent per op type and per node over the runs so far."""

    runs: int = 0
    total_s: float = 0.0
    by_op: Dict[str, float] = field(default_factory=dict)
    by_node: Dict[str, float] = field(default_factory=dict)

    def __str__(self) -> str:
        lines = [f"{self.runs} run(s), {self.total_s * 1e3:.3f} ms in nodes"]
        lines.append("per op type:")
        for op, t in sorted(self.by_op.items(), key=lambda e: -e[1]):
            lines.append(f"  {op:<24} {t * 1e3:10.3f} ms  {100 * t / (self.total_s or 1):5.1f}%")
        lines.append("per node:")
        for n, t in sorted(self.by_node.items(), key=lambda e: -e[1]):
            lines.append(f"  {n:<40} {t * 1e3:10.3f} ms")
        return "\n".join(lines)
