"""Import of the compiled extension hpc_kernels._cpu, and why it is missing when it is.

(The repository's package folder is kernels/, installed as hpc_kernels: a source checkout on
sys.path, as `python -m pytest` from its root puts it there, no longer shadows the installed package.)

An install without the extension ships hpc_kernels/_cpu_not_built.txt, whose first line says why
(KERNELS_BUILD_CPU=OFF, or a failed build that KERNELS_CPU_FALLBACK=ON installed around): that
becomes the cpu backend's reason.

`import hpc_kernels` does not load the extension: cpu_extension() does, on the first call that needs
it (the cpu backend's first call, hpc_kernels.info(), the numba backend asking for the CPU's ISAs),
and sets the engine up once as it loads: KERNELS_CPU_UARCH, KERNELS_CPU_ISA and the
KERNELS_CPU_MC/KC/NC block sizes, then the GEMM configuration per dtype that `python -m hpc_kernels
tune gemm --backend cpu` stored (hpc_kernels._tuning.apply_cpu_gemm, through on_load), and the
thread count hpc_kernels._threads kept until then.

Precedence of the GEMM micro-kernel and block sizes: KERNELS_CPU_MC/KC/NC (any of them set: the
stored entries are ignored, a KERNELS_VERBOSE line says so) > the tuning store (looked up under the
device of the ISA cap: entries tuned under KERNELS_CPU_ISA=avx2 answer only avx2-capped runs) >
the sizes derived from the caches by the microarchitecture's rule (KERNELS_CPU_UARCH picks the row)
and every kernel of the ISA cap.
"""
from __future__ import annotations

import importlib
import threading
from pathlib import Path
from types import ModuleType
from typing import Callable, List, Optional, Tuple

from . import _threads
from ._config import config

_NOT_BUILT = "_cpu_not_built.txt"  # written by CMakeLists.txt / cmake/try_build_cpu.cmake

# Run with the module once it has loaded and is configured, before it gets the thread count:
# kernels/__init__.py registers the tuning store's cpu GEMM entries (_tuning.apply_cpu_gemm), which
# this module may not import (it sits below _tuning in the layers of .importlinter).
_load_hooks: List[Callable[[ModuleType], None]] = []


def on_load(hook: Callable[[ModuleType], None]) -> None:
    """Call hook(module) when the extension loads (never when it cannot be loaded). The package
    registers its hooks on import, before anything can load the extension."""
    if hook not in _load_hooks:
        _load_hooks.append(hook)


def _not_built_file() -> Optional[Path]:
    """hpc_kernels/_cpu_not_built.txt of this install, or None."""
    here = Path(__file__).with_name(_NOT_BUILT)
    return here if here.is_file() else None


def not_built_reason() -> Optional[str]:
    """Why this install has no extension, as its build recorded it, or None when it recorded nothing."""
    path = _not_built_file()
    if path is None:
        return None
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    first = lines[0].strip() if lines else ""
    if not first:
        return None
    more = any(line.strip() for line in lines[1:])
    return f"{first} (details: {path})" if more else first


def load_cpu_extension() -> Tuple[Optional[ModuleType], str]:
    """(module, reason): the module is None when the extension cannot be loaded; reason says why."""
    try:
        # By name: the extension module is no Python source, so import-linter (.importlinter)
        # would read `from . import _cpu` as an import of the kernels package itself.
        _cpu = importlib.import_module("hpc_kernels._cpu")
        return _cpu, "C++ extension hpc_kernels._cpu loaded"
    except ImportError as exc:
        error = exc
    why = not_built_reason()
    if why is not None:
        return None, f"the C++ extension hpc_kernels._cpu could not be imported, it was not built: {why}"
    return None, f"the C++ extension hpc_kernels._cpu could not be imported ({error})"


_lock = threading.Lock()
_loaded: Optional[Tuple[Optional[ModuleType], str]] = None


def cpu_extension() -> Tuple[Optional[ModuleType], str]:
    """load_cpu_extension() once per process, the engine configured from the environment and
    given the thread count; raises ValueError (and loads again next time) when KERNELS_CPU_ISA
    or KERNELS_CPU_MC/KC/NC name what the engine cannot do."""
    global _loaded
    loaded = _loaded
    if loaded is None:
        with _lock:
            if _loaded is None:
                module, reason = load_cpu_extension()
                if module is not None:
                    try:
                        if config.cpu_uarch:  # before configure: the engine reads the row as it builds
                            module.select_uarch(config.cpu_uarch)
                    except ValueError as exc:
                        raise ValueError(f"KERNELS_CPU_UARCH: {exc}") from None
                    try:
                        module.configure(config.cpu_isa or "avx512", config.cpu_mc, config.cpu_kc, config.cpu_nc, source="env")
                    except ValueError as exc:
                        raise ValueError(f"KERNELS_CPU_ISA / KERNELS_CPU_MC,KC,NC: {exc}") from None
                    try:
                        if config.cpu_schedule:
                            module.set_schedule(config.cpu_schedule)
                    except ValueError as exc:
                        raise ValueError(f"KERNELS_CPU_SCHEDULE: {exc}") from None
                    for hook in _load_hooks:
                        hook(module)
                    _threads.attach(module)
                _loaded = module, reason
            loaded = _loaded
    return loaded

