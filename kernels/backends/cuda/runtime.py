"""CuPy runtime of the cuda backend: availability with its reason, device properties, kernels compiled by NVRTC through cupy.RawModule and cached per device."""
from __future__ import annotations

import logging
import threading
from typing import Dict, Optional, Tuple

from . import sources as S

logger = logging.getLogger("hpc_kernels")

try:
    import cupy as cp

    IMPORT_ERROR: Optional[str] = None
    INSTALLED = True
except Exception as exc:  # ImportError, or a CuPy that fails to load its CUDA libraries
    cp = None  # type: ignore[assignment]
    # Not installed (pip install helps) or installed but unable to load its CUDA libraries (it does not).
    INSTALLED = not (isinstance(exc, ModuleNotFoundError) and (exc.name or "").split(".")[0] == "cupy")
    IMPORT_ERROR = (f"cupy is installed but cannot load its CUDA libraries ({type(exc).__name__}: {exc})" if INSTALLED
                    else f"cupy is not installed ({exc})")

_lock = threading.Lock()
_modules: Dict[Tuple[int, str, str], object] = {}
_props: Dict[int, dict] = {}


def _missing(exc: Exception) -> str:
    """What the CUDA runtime's error says is missing, in words (its names are cudaError*)."""
    text = str(exc)
    if "InsufficientDriver" in text:
        return "the NVIDIA driver is missing or older than CuPy's CUDA runtime needs"
    if "NoDevice" in text:
        return "the NVIDIA driver sees no GPU (none installed, or hidden by CUDA_VISIBLE_DEVICES)"
    return "the NVIDIA driver or GPU is missing"


def available() -> Tuple[bool, str]:
    """(a CUDA GPU is usable, why or why not), without compiling anything."""
    if cp is None:
        return False, IMPORT_ERROR or "cupy is not installed"
    try:
        n = cp.cuda.runtime.getDeviceCount()
    except Exception as exc:  # CUDARuntimeError: no driver, no device, driver too old
        return False, f"cupy {cp.__version__} is installed but there is no usable CUDA GPU: {_missing(exc)} ({type(exc).__name__}: {exc})"
    if n == 0:
        return False, f"cupy {cp.__version__} is installed but finds no CUDA GPU"
    p = props(cp.cuda.Device().id)
    return True, f"cupy {cp.__version__}, {n} GPU(s), current {p['name']} (sm_{p['arch']})"


def props(dev_id: int) -> dict:
    """Name, compute capability as one number (90 for 9.0) and shared-memory limits of a GPU."""
    p = _props.get(dev_id)
    if p is None:
        raw = cp.cuda.runtime.getDeviceProperties(dev_id)
        p = _props[dev_id] = {
            "name": raw["name"].decode() if isinstance(raw["name"], bytes) else str(raw["name"]),
            "arch": raw["major"] * 10 + raw["minor"],
            "smem_optin": int(raw.get("sharedMemPerBlockOptin", raw.get("sharedMemPerBlock", 49152))),
            "sms": int(raw["multiProcessorCount"]),
        }
    return p


def function(dev_id: int, file: str, name: str, smem: int):
    """The kernel `name` (a template instantiation) of backends/cuda/`file`, compiled for the
    GPU dev_id on first use (CuPy also keeps the cubin in its on-disk cache) and allowed `smem`
    bytes of dynamic shared memory (above 48 KiB needs the opt-in attribute)."""
    key = (dev_id, file, name)
    fn = _modules.get(key)
    if fn is None:
        with _lock:
            fn = _modules.get(key)
            if fn is None:
                with cp.cuda.Device(dev_id):
                    logger.debug("cuda: compiling %s from %s for sm_%d", name, file, props(dev_id)["arch"])
                    mod = cp.RawModule(code=S.source(file), options=S.RUNTIME_OPTIONS, name_expressions=[name])
                    fn = mod.get_function(name)
                _modules[key] = fn
    if smem > 48 * 1024 and fn.max_dynamic_shared_size_bytes < smem:
        limit = props(dev_id)["smem_optin"]
        if smem > limit:
            raise RuntimeError(f"cuda: {name} needs {smem} bytes of shared memory; this GPU allows {limit}")
        with cp.cuda.Device(dev_id):
            fn.max_dynamic_shared_size_bytes = smem
    return fn


def launch(dev_id: int, file: str, name: str, grid, block: int, smem: int, args) -> None:
    """Run a kernel on the current stream of the current device."""
    function(dev_id, file, name, smem)(tuple(grid), (block,), args, shared_mem=smem)
