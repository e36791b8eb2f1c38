"""The conv2d tuning cache: measured algorithm choices per (layer, dtype, layout, threads, machine).

A JSON file in KERNELS_CACHE_DIR, else the platform's user cache directory. `python -m kernels
tune conv2d` fills it; conv2d(algorithm="auto") consults it before its heuristic. Loaded once per
process (and after every write); writes go through a temporary file and an atomic rename, so
concurrent tuners never leave a torn file (the last writer wins for a key).
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
import threading
from pathlib import Path
from typing import Dict, Optional

from ._config import config
from ._version import __version__

FILE_NAME = "conv2d_tuning.json"
_lock = threading.Lock()
_entries: Optional[Dict[str, dict]] = None  # this machine's entries, loaded lazily


def cache_dir() -> Path:
    if config.cache_dir:
        return Path(config.cache_dir).expanduser()
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
        return base / "hpc-kernels" / "Cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "hpc-kernels"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "hpc-kernels"


def cache_path() -> Path:
    return cache_dir() / FILE_NAME


def machine_id() -> str:
    """Choices are only valid for the CPU, ISA and library version that measured them."""
    from ._cpu_features import cpu_model
    from ._extension import cpu_extension

    _cpu, _ = cpu_extension()
    isa = _cpu.info()["float32"]["isa"] if _cpu is not None else "none"
    return f"{cpu_model()} | {isa} | kernels {__version__}"


def layer_key(shape, spec, dtype: str, threads: int) -> str:
    """One layer: input and filter shape, options, dtype, layout and thread count."""
    return (
        f"x={shape.n}x{shape.c}x{shape.h}x{shape.w} w={shape.k}x{shape.c // spec.groups}x{shape.r}x{shape.s} "
        f"stride={spec.stride[0]},{spec.stride[1]} pad={','.join(map(str, shape.padding))} "
        f"dil={spec.dilation[0]},{spec.dilation[1]} groups={spec.groups} {spec.layout} {dtype} threads={threads}"
    )


def _read_all() -> dict:
    try:
        with open(cache_path()) as f:
            data = json.load(f)
        return data if isinstance(data, dict) and data.get("version") == 1 else {"version": 1, "machines": {}}
    except (OSError, ValueError):
        return {"version": 1, "machines": {}}


def entries() -> Dict[str, dict]:
    global _entries
    if _entries is None:
        with _lock:
            if _entries is None:
                _entries = _read_all().get("machines", {}).get(machine_id(), {})
    return _entries


def lookup(key: str) -> Optional[str]:
    e = entries().get(key)
    return e.get("algorithm") if e else None


def record(results: Dict[str, dict]) -> Path:
    """Merge {key: {"algorithm": name, "seconds": {algo: s}}} into the file; returns its path."""
    global _entries
    path = cache_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with _lock:
        data = _read_all()
        mine = data.setdefault("machines", {}).setdefault(machine_id(), {})
        mine.update(results)
        fd, tmp = tempfile.mkstemp(prefix=".conv2d_tuning.", dir=path.parent)
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=1, sort_keys=True)
        os.replace(tmp, path)
        _entries = mine
    return path


def forget() -> None:
    """Drop the in-memory copy (tests; after another process rewrote the file)."""
    global _entries
    with _lock:
        _entries = None
