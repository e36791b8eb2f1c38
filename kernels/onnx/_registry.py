"""The op registry: which (domain, op_type) this runtime implements from which opset, and the
builder that turns a node into a kernel at load time.

A builder checks every attribute and what it can know of the inputs at load time, and raises
`UnsupportedModelError` (naming the node, the op, the opset and what is supported) for anything it
does not implement: a model fails at load, never at run time, never with a wrong answer.

    @register("Relu", since=6)
    def relu(node: Node, opset: int, ctx: BuildContext) -> Kernel:
        def run(inputs, ws):
            x = inputs[0]
            return [np.maximum(x, 0, out=ws.output(0, x.shape, x.dtype))]
        return run

A kernel is called as `kernel(inputs, ws)`: `inputs` are the node's input arrays in order (None for
an omitted optional input); it returns the list of its output arrays. `ws.output(i, shape, dtype)`
gives a buffer for output i that the session's memory plan reuses across runs and between nodes
whose values are not live at the same time; it never aliases a live input. Kernels that can write
into a given buffer use it (that is what makes a steady-state run allocation-free); a kernel may
also return a new array or, where ONNX allows (Identity, Reshape of a contiguous array), a view of
an input.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Protocol, Sequence, Set, Tuple

import numpy as np

from ._ir import Node, ValueInfo


class UnsupportedModelError(ValueError):
    """A node this runtime cannot run: raised at load time with what would be supported."""


class Workspace(Protocol):
    def output(self, index: int, shape: Tuple[int, ...], dtype: Any) -> np.ndarray: ...

    # A temporary buffer valid until the kernel returns (padded copies and the like); the
    # session's memory plan reuses it across runs.
    def scratch(self, shape: Tuple[int, ...], dtype: Any) -> np.ndarray: ...


Kernel = Callable[[Sequence[Optional[np.ndarray]], Workspace], List[np.ndarray]]


@dataclass
class BuildContext:
    """What a builder may use: the session's backend name and thread count, constant inputs
    (initializers and folded constants, by value name), and the graph's opset."""

    backend: Optional[str]
    threads: Optional[int]
    constants: Dict[str, np.ndarray]
    opset: int
    # Declared or inferred types of values (graph inputs, shape inference's value_info), by name.
    value_info: Dict[str, ValueInfo] = field(default_factory=dict)
    # Constant inputs the node being built has taken into forms of its own (packed weights): its
    # kernel gets None for them, and the session frees a constant no kernel reads at run time.
    consumed: Set[str] = field(default_factory=set)
    # The session's precision option: "fp32", or "bf16" (FusedConv/FusedGemm with float32 weights
    # run on the bf16 kernels: weights rounded once here, activations at each call; fp32 outputs).
    precision: str = "fp32"

    def consume(self, *names: str) -> None:
        """Declares that the kernel being built never reads these constant inputs at run time."""
        self.consumed.update(n for n in names if n and n in self.constants)

    def constant(self, name: str) -> Optional[np.ndarray]:
        """The value of input `name` when it is known at load time, else None."""
        return self.constants.get(name) if name else None

    def dtype(self, name: str) -> Optional[np.dtype]:
        """The element type of value `name` when it is known at load time, else None."""
        if not name:
            return None
        if name in self.constants:
            return self.constants[name].dtype
        vi = self.value_info.get(name)
        return None if vi is None else vi.dtype


Builder = Callable[[Node, int, BuildContext], Kernel]

# (domain, op_type) -> list of (since_version, builder), ascending.
_BUILDERS: Dict[Tuple[str, str], List[Tuple[int, Builder]]] = {}


def register(op_type: str, since: int = 1, domain: str = "") -> Callable[[Builder], Builder]:
    """Registers a builder for op_type from opset `since` on (a later registration of the same
    op with a higher `since` takes over from that version)."""

    def deco(fn: Builder) -> Builder:
        entries = _BUILDERS.setdefault((domain, op_type), [])
        entries.append((since, fn))
        entries.sort(key=lambda e: e[0])
        return fn

    return deco


def supported_ops(domain: str = "") -> Dict[str, int]:
    """op_type -> the lowest opset it is implemented from, for one domain."""
    return {op: entries[0][0] for (d, op), entries in _BUILDERS.items() if d == domain}


def lookup(node: Node, opset: int) -> Builder:
    """The builder for this node at this opset, or UnsupportedModelError saying what is supported."""
    entries = _BUILDERS.get((node.domain, node.op_type))
    if not entries:
        raise UnsupportedModelError(
            f"{node.describe()} at opset {opset}: op {node.op_type!r} is not implemented; "
            f"supported ops of domain {node.domain or 'ai.onnx'}: {', '.join(sorted(supported_ops(node.domain)))}"
        )
    chosen = [fn for since, fn in entries if since <= opset]
    if not chosen:
        raise UnsupportedModelError(
            f"{node.describe()}: implemented from opset {entries[0][0]}, the model uses opset {opset}"
        )
    return chosen[-1]


def unsupported(node: Node, opset: int, what: str, allowed: str) -> UnsupportedModelError:
    """The error a builder raises for an attribute or input it does not implement."""
    return UnsupportedModelError(f"{node.describe()} at opset {opset}: {what}; supported: {allowed}")
