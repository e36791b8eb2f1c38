"""kernels: optimized GEMM and convolution kernels for HPC and AI workflows.

    import kernels
    c = kernels.gemm(a, b)             # BLAS semantics, C++ engine for NumPy arrays
    d = kernels.matmul(x, y)           # NumPy matmul semantics, batched
    y = kernels.conv2d(x, w, b, padding=1, activation="relu")   # NCHW or NHWC, fused epilogue
    with kernels.use_backend("reference"): ...
    kernels.set_num_threads(2)
"""
from __future__ import annotations

from ._api.conv import Conv2d, conv2d, conv2d_workspace, im2col
from ._dispatch import backend_names, configure_logging, get_backend, use_backend
from ._errors import BackendNotAvailable, UnsupportedOperation
from ._api.linalg import gemm, matmul
from ._threads import get_num_threads, num_threads, set_num_threads
from ._version import __version__
from .info import info

__all__ = [
    "BackendNotAvailable",
    "Conv2d",
    "UnsupportedOperation",
    "__version__",
    "backend_names",
    "conv2d",
    "conv2d_workspace",
    "gemm",
    "get_backend",
    "im2col",
    "get_num_threads",
    "info",
    "matmul",
    "num_threads",
    "set_num_threads",
    "use_backend",
]


def _init() -> None:
    """Logging and the thread count from the environment. The C++ extension is not loaded here:
    kernels/_extension.py loads and configures it on the first call that needs it."""
    from . import _threads

    configure_logging()
    _threads.init_from_env()


_init()
