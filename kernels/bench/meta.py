"""What every benchmark's JSON records about the run: machine, ISA, threads, library versions, backends, rounds."""
from __future__ import annotations

import datetime
import platform
import sys
from importlib import metadata
from typing import Any, Dict, Optional

import numpy as np

# Distributions whose versions decide the figures (the references and the backends' runtimes).
LIBRARIES = ("numpy", "torch", "numba", "llvmlite", "pyopencl", "pyclblast", "cupy-cuda12x", "cupy-cuda13x",
             "threadpoolctl", "matplotlib", "pocl-binary-distribution")


def library_versions() -> Dict[str, Optional[str]]:
    out: Dict[str, Optional[str]] = {}
    for name in LIBRARIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    try:  # the BLAS behind NumPy: the reference of every CPU GEMM
        from threadpoolctl import threadpool_info

        out["numpy_blas"] = ", ".join(f"{i['internal_api']} {i['version']} ({i.get('threading_layer', '?')})"
                                      for i in threadpool_info() if i.get("user_api") == "blas") or None
    except ImportError:
        pass
    return out


def backends() -> Dict[str, Dict[str, Any]]:
    """Each backend's availability and, when unavailable, the reason (hpc_kernels.info()['backends'])."""
    import hpc_kernels

    return {name: {"available": bool(d.get("available")), "reason": d.get("reason")}
            for name, d in hpc_kernels.info()["backends"].items()}


def _command() -> Optional[str]:
    """The command line that ran, as typed: `python -m hpc_kernels ...` or the `hpc-kernels` console
    script; None when the benchmark was called from other Python code."""
    argv0 = sys.argv[0] if sys.argv else ""
    if argv0.endswith("__main__.py"):
        return " ".join(["python -m hpc_kernels"] + sys.argv[1:])
    if argv0.rsplit("/", 1)[-1] == "hpc-kernels":
        return " ".join(["hpc-kernels"] + sys.argv[1:])
    return None


def run_meta(engine: Any = None, rounds: Optional[int] = None, **extra: Any) -> Dict[str, Any]:
    import hpc_kernels

    from .._threads import cores

    info = hpc_kernels.info()
    engine = engine if engine is not None else info.get("cpu_engine")
    meta = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": _command(),
        "machine": platform.machine(),
        "processor": info["processor"],
        "system": f"{platform.system()} {platform.release()}",
        "cores": cores(),
        "isa": {dt: e.get("isa") for dt, e in engine.items() if isinstance(e, dict) and "isa" in e} if engine else None,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "kernels": hpc_kernels.__version__,
        "libraries": library_versions(),
        "backends": backends(),
        "cpu_engine": engine,
        "rounds": rounds,
    }
    meta.update(extra)
    return meta
