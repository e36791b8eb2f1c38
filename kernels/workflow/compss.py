"""PyCOMPSs task versions of the kernels (@task, @constraint, CPU and GPU alternatives with
@implement), defined only where pycompss is importable; elsewhere this module says why.

In a PyCOMPSs application:

    from hpc_kernels.workflow.compss import gemm, conv2d      # FILE_IN .npy operands, FILE_OUT result
    gemm("a.npy", "b.npy", "c.npy")                      # a task; the runtime picks CPU or GPU version
    conv2d("x.npy", "w.npy", "y.npy", stride=1, padding=1)
    compss_wait_on_file("y.npy")

The CPU versions ask for KERNELS_TASK_CUS computing units (default 1; PyCOMPSs then sets
COMPSS_NUM_THREADS in the task's process, and hpc_kernels.workflow binds its threads to it); the GPU
alternatives ask for one GPU (the runtime sets CUDA_VISIBLE_DEVICES, which selects the cuda backend).
"""
from __future__ import annotations

from typing import Any

try:
    from pycompss.api.constraint import constraint
    from pycompss.api.implement import implement
    from pycompss.api.parameter import FILE_IN, FILE_OUT
    from pycompss.api.task import task
except ImportError as exc:  # not installed (it needs a Java runtime and the COMPSs installation)
    AVAILABLE = False
    REASON = f"pycompss is not importable here ({exc}); install COMPSs and PyCOMPSs to get the @task versions"
else:
    AVAILABLE = True
    REASON = ""

if AVAILABLE:
    from .._config import config
    from .inference import onnx_task
    from .tasks import conv2d_task, gemm_task

    # PyCOMPSs reads the constraint when the module is imported: the units come from the
    # environment of the application (KERNELS_TASK_CUS), so one installed package serves any node.
    _CUS = str(config.task_cus)

    @constraint(computing_units=_CUS)
    @task(a=FILE_IN, b=FILE_IN, c=FILE_OUT)
    def gemm(a: str, b: str, c: str, alpha: float = 1.0, beta: float = 0.0) -> None:
        gemm_task(a, b, out=c, alpha=alpha, beta=beta)

    @implement(source_class="hpc_kernels.workflow.compss", method="gemm")
    @constraint(processors=[{"processorType": "CPU", "computingUnits": "1"}, {"processorType": "GPU", "computingUnits": "1"}])
    @task(a=FILE_IN, b=FILE_IN, c=FILE_OUT)
    def gemm_gpu(a: str, b: str, c: str, alpha: float = 1.0, beta: float = 0.0) -> None:
        gemm_task(a, b, out=c, alpha=alpha, beta=beta, backend="cuda")

    @constraint(computing_units=_CUS)
    @task(x=FILE_IN, w=FILE_IN, y=FILE_OUT)
    def conv2d(x: str, w: str, y: str, **options: Any) -> None:
        conv2d_task(x, w, out=y, **options)

    @implement(source_class="hpc_kernels.workflow.compss", method="conv2d")
    @constraint(processors=[{"processorType": "CPU", "computingUnits": "1"}, {"processorType": "GPU", "computingUnits": "1"}])
    @task(x=FILE_IN, w=FILE_IN, y=FILE_OUT)
    def conv2d_gpu(x: str, w: str, y: str, **options: Any) -> None:
        conv2d_task(x, w, out=y, backend="cuda", **options)

    @constraint(computing_units=_CUS)
    @task(model=FILE_IN, x=FILE_IN, y=FILE_OUT)
    def onnx(model: str, x: str, y: str) -> None:
        onnx_task(model, x, out=y)

    @implement(source_class="hpc_kernels.workflow.compss", method="onnx")
    @constraint(processors=[{"processorType": "CPU", "computingUnits": "1"}, {"processorType": "GPU", "computingUnits": "1"}])
    @task(model=FILE_IN, x=FILE_IN, y=FILE_OUT)
    def onnx_gpu(model: str, x: str, y: str) -> None:
        onnx_task(model, x, out=y, backend="cuda")

else:

    def __getattr__(name: str) -> Any:
        if name in ("gemm", "gemm_gpu", "conv2d", "conv2d_gpu", "onnx", "onnx_gpu"):
            raise ImportError(f"hpc_kernels.workflow.compss.{name} is not defined: {REASON}")
        raise AttributeError(f"module 'hpc_kernels.workflow.compss' has no attribute {name!r}")
