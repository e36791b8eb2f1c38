"""What every benchmark's JSON records about the run: machine, library versions, engine, rounds."""
from __future__ import annotations

import platform
from typing import Any, Dict

import numpy as np


def run_meta(engine: Any, rounds: int, **extra: Any) -> Dict[str, Any]:
    import kernels

    meta = {
        "machine": platform.machine(),
        "processor": kernels.info()["processor"],
        "python": platform.python_version(),
        "numpy": np.__version__,
        "kernels": kernels.__version__,
        "cpu_engine": engine,
        "rounds": rounds,
    }
    meta.update(extra)
    return meta
