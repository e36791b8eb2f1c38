"""Constant folding at load: nodes whose inputs are all known (initializers, Constant outputs, Shape
of a value whose shape is static) run once with the same kernels and become initializers."""
from __future__ import annotations

from typing import Dict, List, Optional

import numpy as np

from ._ir import Graph, Node
from ._registry import BuildContext, lookup

# Ops never folded: their output is not a function of the input values alone.
_NEVER = {"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial", "Bernoulli"}
# Ops left to a compile pass: DequantizeLinear of a constant is a quantized weight, which the QDQ
# pass (_passes/fuse_qdq.py) reads as it is (integers, scales) and then folds what it did not take.
_LEFT_TO_PASSES = {"DequantizeLinear"}


class _FreshWorkspace:
    """Every output a new array: folded values become initializers that nothing overwrites."""

    def output(self, index, shape, dtype):
        return np.empty(tuple(int(d) for d in shape), dtype)

    def scratch(self, shape, dtype):
        return np.empty(tuple(int(d) for d in shape), dtype)


def _own(r, args) -> np.ndarray:
    """r as an array of its own: a view of another constant (Identity, Reshape) is copied, so that
    no two initializers share memory; a fresh result is kept as it is (weights built by
    ConstantOfShape can be large)."""
    r = np.asarray(r)
    if r.base is None and not any(r is a for a in args):
        return r
    return np.array(r, copy=True)


def _static_shape(graph: Graph, name: str, known_inputs: Dict[str, tuple]) -> Optional[tuple]:
    shape = known_inputs.get(name)
    if shape is None and name in graph.value_info:
        shape = graph.value_info[name].shape
    if shape is None or not all(isinstance(d, int) for d in shape):
        return None
    return tuple(shape)


def _shape_of(node: Node, shape: tuple, opset: int) -> np.ndarray:
    """Shape's output from a static input shape (start/end of opset 15)."""
    r = len(shape)
    start, end = node.attr("start", 0), node.attr("end", None)
    start = max(0, min(r, start + r if start < 0 else start))
    end = r if end is None else max(0, min(r, end + r if end < 0 else end))
    return np.array(shape[start:end], dtype=np.int64)


def fold_constants(graph: Graph, *, backend: Optional[str] = None, threads: Optional[int] = None) -> Graph:
    """A graph without the nodes that compute constants; their outputs are initializers."""
    consts: Dict[str, np.ndarray] = dict(graph.initializers)
    inputs = {v.name: v.shape for v in graph.inputs if v.shape is not None}
    keep: List[Node] = []
    ws = _FreshWorkspace()
    outputs = set(graph.output_names())
    for node in graph.nodes:
        foldable = node.op_type not in _NEVER and node.op_type not in _LEFT_TO_PASSES and node.domain == ""
        if foldable and node.op_type == "Shape" and node.inputs[0] not in consts:
            shape = _static_shape(graph, node.inputs[0], inputs)
            if shape is not None:
                consts[node.outputs[0]] = _shape_of(node, shape, graph.opset)
                continue
        if foldable and all(not i or i in consts for i in node.inputs):
            ctx = BuildContext(backend, threads, consts, graph.opset)
            kernel = lookup(node, graph.opset)(node, graph.opset, ctx)  # a load-time error surfaces here too
            args = [consts[i] if i else None for i in node.inputs]
            results = kernel(args, ws)
            for name, r in zip(node.outputs, results):
                if name and r is not None:
                    consts[name] = _own(r, args)
            continue
        keep.append(node)
    used = {i for n in keep for i in n.inputs if i} | outputs
    inits = {k: v for k, v in consts.items() if k in used}
    return Graph(keep, graph.inputs, graph.outputs, inits, graph.opset, graph.name, graph.value_info)
