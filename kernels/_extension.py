"""Import of the compiled extension hpc_kernels._cpu, and why it is missing when it is.

(The repository's package folder is kernels/, installed as hpc_kernels: a source checkout on
sys.path, as `python -m pytest` from its root puts it there, no longer shadows the installed package.)

An install without the extension ships hpc_kernels/_cpu_not_built.txt, whose first line says why
(KERNELS_BUILD_CPU=OFF, or a failed build that KERNELS_CPU_FALLBACK=ON installed around): that
becomes the cpu backend's reason.

`import hpc_kernels` does not load the extension: cpu_extension() does, on the first call that needs
it (the cpu backend's first call, hpc_kernels.info(), the numba backend asking for the CPU's ISAs),
and sets the engine up once as it loads: KERNELS_CPU_ISA and the KERNELS_CPU_MC/KC/NC block
sizes, then the GEMM configuration per dtype that `python -m hpc_kernels tune gemm --backend cpu`
stored (apply_tuned_gemm), and the thread count hpc_kernels._threads kept until then.

Precedence of the GEMM micro-kernel and block sizes: KERNELS_CPU_MC/KC/NC (any of them set: the
stored entries are ignored, a KERNELS_VERBOSE line says so) > the tuning store (looked up under the
device of the ISA cap: entries tuned under KERNELS_CPU_ISA=avx2 answer only avx2-capped runs) >
the sizes derived from the caches and every kernel of the ISA cap.
"""
from __future__ import annotations

import importlib
import logging
import threading
from pathlib import Path
from types import ModuleType
from typing import Optional, Tuple

from . import _threads
from ._config import config

_NOT_BUILT = "_cpu_not_built.txt"  # written by CMakeLists.txt / cmake/try_build_cpu.cmake
GEMM_FIELDS = ("ukernel", "mc", "kc", "nc")  # a cpu/gemm entry of the tuning store: configure_gemm's arguments

logger = logging.getLogger("hpc_kernels")


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
                        module.configure(config.cpu_isa or "avx512", config.cpu_mc, config.cpu_kc, config.cpu_nc, source="env")
                    except ValueError as exc:
                        raise ValueError(f"KERNELS_CPU_ISA / KERNELS_CPU_MC,KC,NC: {exc}") from None
                    apply_tuned_gemm(module)
                    _threads.attach(module)
                _loaded = module, reason
            loaded = _loaded
    return loaded


def gemm_entry_problem(value: object) -> str:
    """What is wrong with a stored cpu/gemm value, or "" ({"ukernel": str, "mc", "kc", "nc": int >= 0};
    whether the kernel exists and the sizes fit is configure_gemm's to say)."""
    if not isinstance(value, dict):
        return f"not an object: {value!r}"
    extra = sorted(set(value) - set(GEMM_FIELDS))
    if extra:
        return f"unknown field(s) {', '.join(map(repr, extra))} (allowed: {', '.join(GEMM_FIELDS)})"
    if not isinstance(value.get("ukernel", ""), str):
        return f"ukernel must be a string, got {value['ukernel']!r}"
    for f in GEMM_FIELDS[1:]:
        v = value.get(f, 0)
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            return f"{f} must be an integer >= 0 (0 = derived), got {v!r}"
    return ""


def apply_tuned_gemm(module: ModuleType) -> None:
    """Configure each dtype's GEMM from the tuning store (backend "cpu", op "gemm", key the dtype),
    unless KERNELS_CPU_MC/KC/NC override the blocks. A bad or unusable entry (a kernel this build or
    CPU lacks, sizes configure_gemm refuses) is skipped with a warning: the engine keeps its
    derived configuration for that dtype and loading never fails. Costs one failed open() when no
    store exists, one read of the JSON file (kept for the process's later lookups) when one does."""
    from . import _tuning  # only here: `import hpc_kernels` stays light (tests/api/test_lazy_import.py)

    try:
        st = _tuning.store()
        if not st.has("cpu", "gemm"):
            return
        if config.cpu_mc or config.cpu_kc or config.cpu_nc:
            logger.info("cpu gemm: KERNELS_CPU_MC/KC/NC are set, the tuned entries in %s are ignored", st.path)
            return
        # not _tuning.cpu_device(): it loads the extension, whose load is running now
        device = _tuning.host_device(module.info()["float32"]["isa"])
        for dt in ("float32", "float64"):
            hit = st.lookup("cpu", "gemm", dt, device)
            if hit is None or not hit.tuned:
                continue
            v = hit.value
            why = gemm_entry_problem(v)
            if not why:
                try:
                    module.configure_gemm(dt, v.get("ukernel", ""), v.get("mc", 0), v.get("kc", 0), v.get("nc", 0),
                                          source="tuned")
                except (ValueError, TypeError) as exc:  # TypeError: a size beyond a C++ integer
                    why = str(exc)
            if why:
                logger.warning("tuning store %s: cpu gemm %s entry (%s level) ignored, %s; the derived configuration is "
                               "used (retune: python -m hpc_kernels tune gemm --backend cpu)", st.path, dt, hit.level, why)
            else:
                logger.info("cpu gemm %s: tuned configuration from %s (%s level): %s", dt, st.path, hit.level, v)
    except Exception as exc:  # pragma: no cover - the store's own errors are caught above; never fail the load
        logger.warning("cpu gemm: the tuning store could not be read (%s: %s); derived configuration used",
                       type(exc).__name__, exc)
