"""Import of the compiled extension kernels._cpu, also from a source checkout that shadows the wheel.

Running `python -m kernels ...` or `python -m pytest` from the repository root puts the source
tree's kernels/ first on sys.path; it has no compiled _cpu (the build put that in site-packages).
Then the extension of the installed hpc-kernels distribution is loaded under the same name.
"""
from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
from types import ModuleType
from typing import Optional, Tuple


def _from_installed_distribution() -> Optional[ModuleType]:
    try:
        from importlib.metadata import PackageNotFoundError, distribution

        files = distribution("hpc-kernels").files or []
    except (ImportError, PackageNotFoundError):
        return None
    suffixes = tuple(importlib.machinery.EXTENSION_SUFFIXES)
    for f in files:
        if f.parts[:1] == ("kernels",) and f.name.startswith("_cpu.") and f.name.endswith(suffixes):
            path = f.locate()
            spec = importlib.util.spec_from_file_location("kernels._cpu", str(path))
            if spec is None or spec.loader is None:
                return None
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            sys.modules["kernels._cpu"] = module
            setattr(sys.modules["kernels"], "_cpu", module)
            return module
    return None


def load_cpu_extension() -> Tuple[Optional[ModuleType], str]:
    """(module, reason): the module is None when the extension cannot be loaded; reason says why."""
    try:
        from . import _cpu

        return _cpu, "C++ extension kernels._cpu loaded"
    except ImportError as exc:
        error = exc
    module = _from_installed_distribution()
    if module is not None:
        return module, f"C++ extension loaded from the installed wheel ({module.__file__})"
    return None, f"the C++ extension kernels._cpu could not be imported ({error})"
