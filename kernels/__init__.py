"""hpc_kernels: optimized GEMM and convolution kernels for HPC and AI workflows.

    import hpc_kernels
    c = hpc_kernels.gemm(a, b)             # BLAS semantics, C++ engine for NumPy arrays
    d = hpc_kernels.matmul(x, y)           # NumPy matmul semantics, batched
    y = hpc_kernels.conv2d(x, w, b, padding=1, activation="relu")   # NCHW or NHWC, fused epilogue
    with hpc_kernels.use_backend("reference"): ...
    hpc_kernels.set_num_threads(2)
"""
from __future__ import annotations

from ._config import openmp_defaults

openmp_defaults()  # before anything loads libgomp (the extension, numba, on their first use): it reads the env once

from ._aligned import empty_aligned  # noqa: E402
from ._api.conv import Conv2d, conv2d, conv2d_workspace, im2col  # noqa: E402
from ._api.linalg import gemm, matmul  # noqa: E402
from ._api.quantized import QConv2d, qconv2d, qgemm  # noqa: E402
from ._dispatch import backend_names, configure_logging, get_backend, use_backend  # noqa: E402
from ._errors import BackendNotAvailable, UnsupportedOperation  # noqa: E402
from ._threads import get_num_threads, num_threads, set_num_threads  # noqa: E402
from ._version import __version__  # noqa: E402
from .blas import blas_library  # noqa: E402
from .info import info, show_config  # noqa: E402

__all__ = [
    "BackendNotAvailable",
    "Conv2d",
    "QConv2d",
    "UnsupportedOperation",
    "__version__",
    "backend_names",
    "blas_library",
    "conv2d",
    "conv2d_workspace",
    "empty_aligned",
    "gemm",
    "get_backend",
    "im2col",
    "get_num_threads",
    "info",
    "matmul",
    "num_threads",
    "qconv2d",
    "qgemm",
    "set_num_threads",
    "show_config",
    "use_backend",
]


def _apply_tuned_cpu_gemm(module) -> None:
    """When the extension loads: the cpu GEMM configuration stored by `tune gemm --backend cpu`."""
    from ._tuning import apply_cpu_gemm  # at load only: `import hpc_kernels` does not read the store

    apply_cpu_gemm(module)


def _init() -> None:
    """Logging and the thread count from the environment. The C++ extension is not loaded here:
    kernels/_extension.py loads and configures it on the first call that needs it (then the tuned
    cpu GEMM configuration is applied, a hook registered here: _extension sits below _tuning)."""
    from . import _extension, _threads

    configure_logging()
    _threads.init_from_env()
    _extension.on_load(_apply_tuned_cpu_gemm)


_init()
