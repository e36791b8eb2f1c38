"""Kernels as workflow tasks: task functions with resource-bound threads, @software invocation
descriptions, and PyCOMPSs task versions where pycompss is importable::

    from hpc_kernels.workflow import gemm_task, conv2d_task, onnx_task, description
    c = gemm_task("a.npy", "b.npy")                       # arrays or .npy paths in
    conv2d_task(x, w, out="y.npy", padding=1)             # .npy written atomically
    onnx_task("model.onnx", "x.npy", out="y.npy")         # an ONNX model (hpc_kernels.onnx)
    c, info = gemm_task(a, b, info=True)                  # where it ran, backend, threads, seconds
    description("conv2d")                                 # the @software JSON, schema-checked

Threads: a task runs with the threads it owns (PyCOMPSs computing_units through
COMPSS_NUM_THREADS/OMP_NUM_THREADS, a Dask worker's threads shared by its running tasks), never
more; CUDA_VISIBLE_DEVICES naming a GPU selects the cuda backend when it is available.
"""
from __future__ import annotations

from . import compss
from .arrays import save_atomic
from .descriptions import DescriptionError, description, names, schema, validate
from .inference import onnx_task
from .resources import bound_threads, owned_threads
from .tasks import TASKS as _KERNEL_TASKS
from .tasks import conv2d_task, gemm_task

# Every task function by name (onnx_task lives in inference.py, which builds on tasks.py's runner).
TASKS = {**_KERNEL_TASKS, "onnx": onnx_task}

PYCOMPSS_AVAILABLE = compss.AVAILABLE
# Why the PyCOMPSs task versions (hpc_kernels.workflow.compss) are absent, "" when they are present.
PYCOMPSS_REASON = compss.REASON

__all__ = [
    "DescriptionError",
    "PYCOMPSS_AVAILABLE",
    "PYCOMPSS_REASON",
    "TASKS",
    "bound_threads",
    "conv2d_task",
    "description",
    "gemm_task",
    "names",
    "onnx_task",
    "owned_threads",
    "save_atomic",
    "schema",
    "validate",
]
