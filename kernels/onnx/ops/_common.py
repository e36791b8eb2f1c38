"""Helpers the op builders share: the attribute check, axis normalisation, the dtypes the GEMM/conv
kernels run, the kernel call's backend argument and the cpu extension's private entries."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from .._ir import Node
from .._registry import BuildContext, unsupported

KERNEL_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def check_attrs(node: Node, opset: int, allowed: Sequence[str]) -> None:
    """An attribute this builder does not know fails the load (it might change the result)."""
    extra = sorted(set(node.attrs) - set(allowed))
    if extra:
        raise unsupported(node, opset, f"attribute(s) {', '.join(extra)}", ", ".join(sorted(allowed)) or "none")


def axis(a: int, rank: int) -> int:
    return a + rank if a < 0 else a


def kernel_kwargs(ctx: BuildContext) -> dict:
    """backend= for hpc_kernels calls: the session's backend, or none (the usual dispatch)."""
    return {"backend": ctx.backend} if ctx.backend else {}


__all__ = ["KERNEL_FLOATS", "axis", "check_attrs", "kernel_kwargs", "unsupported"]


def cpu_op(backend, name: str):
    """hpc_kernels._cpu.<name> when the cpu extension runs this session (backend None or "cpu"),
    else None (the op's NumPy form)."""
    if backend not in (None, "cpu"):
        return None
    from ..._extension import cpu_extension

    ext = cpu_extension()[0]
    return getattr(ext, name, None) if ext is not None else None
