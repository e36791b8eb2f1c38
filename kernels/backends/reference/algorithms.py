"""The reference backend's conv2d algorithms: one NumPy convolution (conv.py, a contraction per
kernel tap) computes every algorithm's result, so each name is accepted and any call can be
checked against it; "auto" and every name run that direct convolution."""
from __future__ import annotations

from typing import Dict

_NUMPY = "conv.py: the NumPy direct convolution (one matmul per kernel tap), the oracle"
IMPLEMENTED: Dict[str, str] = {name: _NUMPY for name in ("im2col", "convgemm", "gemm", "direct")}
AUTO = "direct (the NumPy convolution)"


def auto() -> str:
    return "direct"
