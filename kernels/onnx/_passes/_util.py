"""Small graph-editing helpers the compile passes share (fresh names, constants, use counts).

Passes only rewrite `Graph` objects (kernels/onnx/_ir.py); nothing here imports onnx."""
from __future__ import annotations

from typing import Dict, Iterable, List, Optional, Set

import numpy as np

from .._ir import Graph, Node


class Names:
    """Hands out value/initializer names no one in the graph uses yet: a pass that adds a folded
    weight or a transposed value must never shadow a name the model already has (initializers may
    be shared between nodes, so a folded copy always gets a new name)."""

    def __init__(self, graph: Graph) -> None:
        used: Set[str] = set(graph.initializers) | {v.name for v in graph.inputs} | {v.name for v in graph.outputs}
        for n in graph.nodes:
            used.update(n.inputs)
            used.update(n.outputs)
            if n.name:
                used.add(n.name)
        self._used = used

    def fresh(self, base: str) -> str:
        name, i = base, 0
        while name in self._used:
            i += 1
            name = f"{base}_{i}"
        self._used.add(name)
        return name


def use_counts(graph: Graph) -> Dict[str, int]:
    """How many node inputs read each value, graph outputs counted as one more use each (a value the
    caller sees can never be fused away)."""
    counts: Dict[str, int] = {}
    for n in graph.nodes:
        for i in n.inputs:
            if i:
                counts[i] = counts.get(i, 0) + 1
    for v in graph.outputs:
        counts[v.name] = counts.get(v.name, 0) + 1
    return counts


def constant(graph: Graph, name: str) -> Optional[np.ndarray]:
    """The value of `name` when it is an initializer (after the loader's constant folding every
    load-time constant is one), else None; "" (an omitted optional input) is None."""
    return graph.initializers.get(name) if name else None


def single_consumer(graph: Graph, value: str, counts: Dict[str, int], consumers: Dict[str, List[Node]]) -> Optional[Node]:
    """The one node reading `value` when nothing else (no other node, no graph output) reads it."""
    users = consumers.get(value, [])
    if counts.get(value, 0) != 1 or len(users) != 1:
        return None
    return users[0]


def drop_unused_initializers(graph: Graph, keep: Iterable[str] = ()) -> None:
    """Initializers no node reads any more (a folded conv's old weights) are released: they would
    otherwise stay alive in the session for nothing."""
    read = {i for n in graph.nodes for i in n.inputs if i} | {v.name for v in graph.outputs} | set(keep)
    for name in [k for k in graph.initializers if k not in read]:
        del graph.initializers[name]
