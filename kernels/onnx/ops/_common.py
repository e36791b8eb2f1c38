"""Helpers the op builders share: attribute-or-input reading across opsets, dtype checks, unidirectional
broadcasting, the dtypes the GEMM/conv kernels run."""
from __future__ import annotations

from typing import Any, Optional, Sequence

import numpy as np

from .._ir import Node
from .._registry import BuildContext, UnsupportedModelError, unsupported

KERNEL_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def const_input(node: Node, ctx: BuildContext, index: int, what: str, opset: int) -> Optional[np.ndarray]:
    """Input `index` when it is a load-time constant, None when it is omitted; a load-time error
    when it is given but only known at run time (shapes, axes and pads must be constants here)."""
    name = node.inputs[index] if index < len(node.inputs) else ""
    if not name:
        return None
    v = ctx.constant(name)
    if v is None:
        raise unsupported(node, opset, f"input {index} ({what}) {name!r} is computed at run time",
                          f"{what} as an initializer or a constant expression")
    return v


def input_or_attr(node: Node, ctx: BuildContext, opset: int, since: int, index: int, attr: str, what: str) -> Optional[list]:
    """A value that was attribute `attr` before opset `since` and input `index` from it on."""
    if opset < since:
        v = node.attr(attr)
        return None if v is None else list(v)
    v = const_input(node, ctx, index, what, opset)
    return None if v is None else [int(i) for i in np.asarray(v).reshape(-1)]


def check_attrs(node: Node, opset: int, allowed: Sequence[str]) -> None:
    extra = sorted(set(node.attrs) - set(allowed))
    if extra:
        raise unsupported(node, opset, f"attribute(s) {', '.join(extra)}", ", ".join(sorted(allowed)) or "none")


def check_float(node: Node, opset: int, ctx: BuildContext, index: int, allowed=KERNEL_FLOATS) -> None:
    """A constant input's dtype must be one the kernels run (checked at load when known)."""
    v = ctx.constant(node.inputs[index]) if index < len(node.inputs) else None
    if v is not None and v.dtype not in allowed:
        raise unsupported(node, opset, f"input {index} has dtype {v.dtype}", ", ".join(d.name for d in allowed))


def axis(a: int, rank: int) -> int:
    return a + rank if a < 0 else a


def kernel_kwargs(ctx: BuildContext) -> dict:
    return {"backend": ctx.backend} if ctx.backend else {}


__all__ = ["KERNEL_FLOATS", "UnsupportedModelError", "axis", "check_attrs", "check_float", "const_input",
           "input_or_attr", "kernel_kwargs", "unsupported", "Any"]
