"""The InferenceSession's `precision` option: which values it takes, and where "bf16" can run.

"bf16" runs the FusedConv/FusedGemm nodes of a float32 model (every Conv and Gemm with constant
weights, after the compile passes) on the backend's bfloat16 kernels: the weights are rounded to
bf16 once at load, each node's input activation is rounded to bf16 at every call, products
accumulate in fp32 and the outputs (and everything between those nodes) stay fp32. Only backends
with bf16 kernels take it (cpu and reference), and it needs ml_dtypes (the [bf16] extra)."""
from __future__ import annotations

from typing import Optional

PRECISIONS = ("fp32", "bf16")


def check_precision(precision: str, backend: Optional[str]) -> str:
    """`precision` when this session can run it, else ValueError (an unknown value, or bf16 on a
    backend without bf16 kernels) or ImportError (bf16 without ml_dtypes)."""
    if not isinstance(precision, str) or precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(map(repr, PRECISIONS))}, got {precision!r}")
    if precision == "fp32":
        return precision
    import numpy as np

    from .._api.bf16 import bf16_dtype
    from .._dispatch import backend_of

    bf16_dtype()  # ImportError naming the [bf16] extra when ml_dtypes is missing
    be = backend_of("conv2d", backend, np.empty(0, np.float32))  # the backend this session's convs use
    if not (hasattr(be, "conv2d_bf16") and hasattr(be, "gemm_bf16")):
        raise ValueError(f"precision='bf16' needs a backend with bfloat16 kernels (cpu, reference); "
                         f"this session runs on the {be.name} backend")
    return precision
