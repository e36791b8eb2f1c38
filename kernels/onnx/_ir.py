"""The graph the ONNX runtime executes: nodes with decoded attributes and NumPy initializers.

The loader (`_load.py`) turns an onnx.ModelProto into a `Graph`; the compile passes (`_passes/`)
rewrite a `Graph` into another (constant folding, batch-norm folding, fusions, layout); the
session (`_session.py`) builds one kernel per node through the op registry (`_registry.py`) and
runs them in order. Nothing here imports onnx: passes and kernels see plain Python and NumPy.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple, Union

import numpy as np

# The domain of the ops this runtime adds (fused convolution, layout changes); ONNX's own ops
# have domain "" (ai.onnx).
HPC_DOMAIN = "ai.hpc_kernels"

# One dimension of a declared shape: an int, a symbolic name ("batch"), or None (unknown).
Dim = Union[int, str, None]


@dataclass
class ValueInfo:
    """A graph input or output as the model declares it (what get_inputs()/get_outputs() show)."""

    name: str
    dtype: np.dtype
    shape: Optional[Tuple[Dim, ...]]  # None: rank unknown


@dataclass
class Node:
    """One operator application. `inputs` may hold "" for an omitted optional input; `attrs`
    holds decoded values: int, float, str, bytes, lists of those, np.ndarray for TENSOR
    attributes. `layout` is set by the layout pass on layout-sensitive nodes ("NCHW" or
    "NHWC": the memory order of their 4-D activations), None elsewhere."""

    op_type: str
    inputs: List[str]
    outputs: List[str]
    attrs: Dict[str, Any] = field(default_factory=dict)
    name: str = ""
    domain: str = ""
    layout: Optional[str] = None

    def attr(self, key: str, default: Any = None) -> Any:
        return self.attrs.get(key, default)

    def describe(self) -> str:
        """How errors name this node: `node 'conv1' (Conv, domain ai.onnx)`."""
        return f"node {self.name or self.outputs[0]!r} ({self.op_type}, domain {self.domain or 'ai.onnx'})"


@dataclass
class Graph:
    """Nodes in an order that runs (every input produced before use), the graph's interface,
    and constant tensors by name. `opset` is the model's ai.onnx opset version."""

    nodes: List[Node]
    inputs: List[ValueInfo]  # the feeds (initializers excluded)
    outputs: List[ValueInfo]
    initializers: Dict[str, np.ndarray]
    opset: int
    name: str = ""
    # Declared or inferred types of intermediate values (ONNX shape inference at load), by name:
    # what constant folding knows of shapes; passes may leave it empty.
    value_info: Dict[str, ValueInfo] = field(default_factory=dict)

    def producers(self) -> Dict[str, Node]:
        return {out: n for n in self.nodes for out in n.outputs if out}

    def consumers(self) -> Dict[str, List[Node]]:
        users: Dict[str, List[Node]] = {}
        for n in self.nodes:
            for i in n.inputs:
                if i:
                    users.setdefault(i, []).append(n)
        return users

    def output_names(self) -> List[str]:
        return [v.name for v in self.outputs]
