"""The tuning store: every backend's tuned parameters in one versioned JSON file, looked up beside the defaults each backend registers.

The file is tuning.json in KERNELS_CACHE_DIR, else the platform's user cache directory:

    {"schema": 2,
     "entries": {backend: {level: {op: {key: {"value": v, "kernels": version, "measured": {...}}}}}}}

backend is a namespace ("cpu", "numba", "opencl", "cuda"): a lookup for one backend never sees
another's entries. level is "device:<name>", "arch:<name>" or "vendor:<name>" of a Device, whose
three names each backend derives from its own hardware (cpu and numba: CPU model and ISA -> ISA ->
CPU vendor; opencl: device, platform and driver -> device type -> vendor; cuda: GPU name -> sm
arch -> nvidia). op names a family of parameters ("conv2d", "gemm", "gemm.tiles", ...), key one
case of it (a dtype, a layer); value is any JSON value the backend reads.

Lookup, as CLBlast's database does it (src/database/database.cpp): the value tuned for the device,
else for its architecture, else for its vendor, else the backend's registered default (a default
may itself be given per architecture or vendor, e.g. the OpenCL tiles per device type); at each
level a tuned value before a default. A tuned value that fails the backend's check is skipped, never
misread. Defaults live beside each backend's code and are registered here with `register`.

The file is read once per process. `put` re-reads it under an exclusive lock file, merges, writes
a temporary file and renames it over the old one: concurrent tuners (threads or processes) never
leave a torn file and never drop each other's keys.

The cpu engine's own GEMM entries (op "gemm", key the dtype: `tune gemm --backend cpu`) are applied
when the extension loads (apply_cpu_gemm, the hook kernels/__init__.py registers with
_extension.on_load), unless KERNELS_CPU_MC/KC/NC are set. A file of another schema, an unreadable file,
and the schema-1 conv2d_tuning.json of earlier versions are never read: one logged note says so.
"""
from __future__ import annotations

import contextlib
import datetime
import functools
import json
import logging
import os
import platform
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Iterator, List, NamedTuple, Optional, Tuple

from ._config import config
from ._version import __version__

try:  # POSIX: an advisory lock serialises the read-merge-write of concurrent processes
    import fcntl
except ImportError:  # pragma: no cover - Windows: writers in one process are still serialised
    fcntl = None  # type: ignore[assignment]

SCHEMA = 2
FILE_NAME = "tuning.json"
LEGACY_FILE_NAMES = ("conv2d_tuning.json",)  # schema 1: cpu-keyed, read by every backend; never read now
LEVELS = ("device", "arch", "vendor")
DEFAULT = "default"

logger = logging.getLogger("hpc_kernels")
_MISSING = object()


class Device(NamedTuple):
    """Where a tuned value applies, most specific first: one device, its architecture, its vendor."""

    name: str
    arch: str
    vendor: str

    def level_keys(self) -> Tuple[str, str, str]:
        return _level_keys(self)

    def level_key(self, level: str) -> str:
        if level not in LEVELS:
            raise ValueError(f"tuning level must be one of {', '.join(LEVELS)}, got {level!r}")
        return self.level_keys()[LEVELS.index(level)]


@functools.lru_cache(maxsize=256)
def _level_keys(d: Device) -> Tuple[str, str, str]:
    """Built once per device: lookups run on every call of some backends."""
    return (f"device:{d.name}", f"arch:{d.arch}", f"vendor:{d.vendor}")


class Hit(NamedTuple):
    """A lookup's answer: the value, the level that gave it ("device", "arch", "vendor" or
    "default") and whether it was tuned (from the file) or a registered default."""

    value: Any
    level: str
    tuned: bool


class _Registered(NamedTuple):
    defaults: Dict[str, Dict[str, Any]]  # "default" or a level key -> {key: value}
    check: Optional[Callable[[Any], bool]]


_registry: Dict[Tuple[str, str], _Registered] = {}


def register(backend: str, op: str, defaults: Optional[Dict[str, Dict[str, Any]]] = None,
             check: Optional[Callable[[Any], bool]] = None) -> None:
    """A backend's defaults for one op, {"default": {key: value}} plus optional per-level tables
    ({"arch:GPU": {...}, "vendor:nvidia": {...}}), and the check a tuned value must pass to be used.
    Called by the backend's own module at import, beside the values it registers."""
    for level in defaults or {}:
        if level != DEFAULT and level.partition(":")[0] not in LEVELS:
            raise ValueError(f"tuning defaults of {backend} {op}: level {level!r} is not 'default' or '<level>:<name>'")
    _registry[(backend, op)] = _Registered({k: dict(v) for k, v in (defaults or {}).items()}, check)


def registered(backend: str, op: str) -> Optional[_Registered]:
    return _registry.get((backend, op))


# ------------------------------------------------------------------------------------ devices

_VENDORS = (("nvidia", "nvidia"), ("advanced micro devices", "amd"), ("authenticamd", "amd"), ("amd", "amd"),
            ("genuineintel", "intel"), ("intel", "intel"), ("arm", "arm"), ("apple", "apple"), ("qualcomm", "qualcomm"))


def vendor_name(text: str) -> str:
    """One short lower-case vendor name for the spellings drivers and CPUs use ("AuthenticAMD",
    "Advanced Micro Devices, Inc." -> "amd"; "NVIDIA Corporation" -> "nvidia")."""
    low = (text or "").strip().lower()
    for needle, name in _VENDORS:
        if needle in low:
            return name
    return low.split()[0].strip(",.") if low else "unknown"


@functools.lru_cache(maxsize=None)
def _host_cpu() -> Tuple[str, str]:
    """(model name, vendor) of this machine's CPU."""
    model, vendor = "", ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name") and not model:
                    model = line.split(":", 1)[1].strip()
                elif line.startswith("vendor_id") and not vendor:
                    vendor = line.split(":", 1)[1].strip()
                if model and vendor:
                    break
    except OSError:
        pass
    model = model or platform.processor() or platform.machine() or "unknown"
    return model, vendor_name(vendor or model)


def host_device(isa: str) -> Device:
    """A CPU backend's device: the CPU model with the ISA its kernels run (a KERNELS_CPU_ISA cap
    is another device: avx2 choices must not answer an avx512 run), the ISA, the CPU vendor."""
    model, vendor = _host_cpu()
    return Device(f"{model} | {isa}", isa, vendor)


@functools.lru_cache(maxsize=None)
def cpu_device() -> Device:
    """The cpu backend's device (the ISA of its float32 micro-kernels, "none" without the extension)."""
    from ._extension import cpu_extension  # the engine itself, not the cpu backend (no backend import here)

    _cpu, _ = cpu_extension()
    return host_device(_cpu.info()["float32"]["isa"] if _cpu is not None else "none")


# ------------------------------------------------------------------------------------ the file

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


class Store:
    """One tuning file: read once (lazily), looked up in memory, written atomically under a lock."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._entries: Optional[Dict[str, dict]] = None
        self.notes: List[str] = []  # why a file was not read (also logged, once)
        self._forced: Dict[Tuple[str, str, str], Any] = {}

    # -- reading ------------------------------------------------------------------------------
    def _read(self, note: bool) -> Dict[str, dict]:
        """The entries of the file; {} (with a note when `note`) when it is missing, unreadable or
        of another schema."""
        why, level = "", logging.WARNING
        try:
            with open(self.path) as f:
                data = json.load(f)
        except FileNotFoundError:
            data = None
        except (OSError, ValueError) as exc:
            data, why = None, f"unreadable ({type(exc).__name__}: {exc})"
        if data is not None:
            schema = data.get("schema") if isinstance(data, dict) else None
            if schema == SCHEMA and isinstance(data.get("entries"), dict):
                return data["entries"]
            why = f"schema {schema!r}, this version reads schema {SCHEMA}"
        if note:
            if why:
                self._note(level, f"tuning store {self.path} ignored: {why}; `python -m hpc_kernels tune` rewrites it")
            for old in LEGACY_FILE_NAMES:
                if (self.path.parent / old).exists():
                    self._note(logging.INFO, f"old tuning cache {self.path.parent / old} ignored (schema 1, one cpu-keyed "
                                             f"table for every backend); retune with `python -m hpc_kernels tune --backend ...`")
        return {}

    def _note(self, level: int, text: str) -> None:
        self.notes.append(text)
        logger.log(level, "%s", text)

    def entries(self) -> Dict[str, dict]:
        """{backend: {level key: {op: {key: record}}}} as read from the file (do not modify)."""
        e = self._entries
        if e is None:
            with self._lock:
                if self._entries is None:
                    self._entries = self._read(note=True)
                e = self._entries
        return e

    def has(self, backend: str, op: str) -> bool:
        """Whether anything is tuned for this backend and op on any device: lets a hot path skip
        the lookup (and the device's description) when nothing was tuned."""
        if self._forced and any(b == backend and o == op for b, o, _ in self._forced):
            return True
        return any(op in ops for ops in self.entries().get(backend, {}).values())

    def lookup(self, backend: str, op: str, key: str, device: Optional[Device] = None) -> Optional[Hit]:
        """The value of (backend, op, key) for `device`: tuned for the device, its arch, its vendor,
        else the registered default (per level first); None when there is neither."""
        forced = self._forced.get((backend, op, key), _MISSING) if self._forced else _MISSING
        if forced is not _MISSING:
            return Hit(forced, "forced", False)
        reg = _registry.get((backend, op))
        mine = self.entries().get(backend)
        levels = device.level_keys() if device is not None else ()
        for lk in levels:
            if mine:
                rec = mine.get(lk, {}).get(op, {}).get(key)
                if isinstance(rec, dict) and "value" in rec:
                    if reg is None or reg.check is None or _passes(reg.check, rec["value"]):
                        return Hit(rec["value"], lk.partition(":")[0], True)
                    logger.debug("tuning: %s %s %r at %s fails the backend's check, skipped: %r", backend, op, key, lk, rec["value"])
            if reg is not None:
                table = reg.defaults.get(lk)
                if table is not None and key in table:
                    return Hit(table[key], lk.partition(":")[0], False)
        if reg is not None and key in reg.defaults.get(DEFAULT, {}):
            return Hit(reg.defaults[DEFAULT][key], DEFAULT, False)
        return None

    def get(self, backend: str, op: str, key: str, device: Optional[Device] = None, default: Any = None) -> Any:
        hit = self.lookup(backend, op, key, device)
        return default if hit is None else hit.value

    @contextlib.contextmanager
    def forced(self, backend: str, op: str, key: str, value: Any) -> Iterator[None]:
        """Inside the block, (backend, op, key) answers `value` on every device, never written:
        how a tuner times one candidate through the normal call path."""
        k = (backend, op, key)
        old = self._forced.get(k, _MISSING)
        self._forced[k] = value
        try:
            yield
        finally:
            if old is _MISSING:
                self._forced.pop(k, None)
            else:
                self._forced[k] = old

    # -- writing ------------------------------------------------------------------------------
    def put(self, backend: str, op: str, key: str, value: Any, device: Device, *, level: str = "device",
            measured: Optional[dict] = None) -> Path:
        """Record one tuned value for the device (or its arch or vendor, `level`); returns the path."""
        return self.put_many(backend, device, [(op, key, value, measured)], level=level)

    def put_many(self, backend: str, device: Device, items: Iterable[Tuple[str, str, Any, Optional[dict]]], *,
                 level: str = "device") -> Path:
        """Record (op, key, value, measured details or None) items under one level of `device`, in
        one locked read-merge-write of the file."""
        lk = device.level_key(level)
        now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()
        new: Dict[str, Dict[str, dict]] = {}
        for op, key, value, measured in items:
            rec = {"value": value, "kernels": __version__, "date": now}
            if measured:
                rec["measured"] = measured
            json.dumps(rec)  # not JSON: fail here, before the file is touched
            new.setdefault(op, {})[key] = rec
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock, self._file_lock():
            self._refuse_newer_schema()
            entries = self._read(note=False)
            ops = entries.setdefault(backend, {}).setdefault(lk, {})
            for op, recs in new.items():
                ops.setdefault(op, {}).update(recs)
            fd, tmp = tempfile.mkstemp(prefix=".tuning.", suffix=".tmp", dir=self.path.parent)
            try:
                with os.fdopen(fd, "w") as f:
                    json.dump({"schema": SCHEMA, "entries": entries}, f, indent=1, sort_keys=True)
                os.replace(tmp, self.path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
            self._entries = entries
        return self.path

    def _refuse_newer_schema(self) -> None:
        """A file written by a newer version is not ours to overwrite."""
        try:
            with open(self.path) as f:
                schema = json.load(f).get("schema")
        except (OSError, ValueError, AttributeError):
            return
        if isinstance(schema, int) and schema > SCHEMA:
            raise RuntimeError(f"{self.path} has tuning schema {schema}, written by a newer hpc-kernels (this one writes "
                               f"schema {SCHEMA}); not overwritten: set KERNELS_CACHE_DIR to tune into another directory")

    @contextlib.contextmanager
    def _file_lock(self) -> Iterator[None]:
        if fcntl is None:  # pragma: no cover
            yield
            return
        with open(self.path.parent / (self.path.name + ".lock"), "a") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    def forget(self) -> None:
        """Drop the in-memory copy: the next lookup reads the file again."""
        with self._lock:
            self._entries = None
            self.notes = []

    def summary(self) -> Dict[str, Dict[str, int]]:
        """{backend: {op: tuned values}} over every device, for info()."""
        out: Dict[str, Dict[str, int]] = {}
        for backend, levels in sorted(self.entries().items()):
            for ops in levels.values():
                for op, recs in ops.items():
                    out.setdefault(backend, {}).setdefault(op, 0)
                    out[backend][op] += len(recs)
        return out


def _passes(check: Callable[[Any], bool], value: Any) -> bool:
    try:
        return bool(check(value))
    except Exception:  # a malformed value (wrong type, missing field) fails its check
        return False


# ------------------------------------------------------------------------------------ the process's store

_store: Optional[Store] = None
_store_lock = threading.Lock()


def store() -> Store:
    """The store of this process, at cache_path() when first used (forget() lets it move)."""
    global _store
    s = _store
    if s is None:
        with _store_lock:
            if _store is None:
                _store = Store(cache_path())
            s = _store
    return s


def lookup(backend: str, op: str, key: str, device: Optional[Device] = None) -> Optional[Hit]:
    return store().lookup(backend, op, key, device)


def get(backend: str, op: str, key: str, device: Optional[Device] = None, default: Any = None) -> Any:
    return store().get(backend, op, key, device, default)


def put(backend: str, op: str, key: str, value: Any, device: Device, *, level: str = "device",
        measured: Optional[dict] = None) -> Path:
    return store().put(backend, op, key, value, device, level=level, measured=measured)


def forget() -> None:
    """Drop the process's store and the cached device descriptions (tests; after another
    process rewrote the file; after KERNELS_CACHE_DIR changed)."""
    global _store
    with _store_lock:
        _store = None
    cpu_device.cache_clear()


# ------------------------------------------------------------------------------------ the cpu engine's GEMM

CPU_GEMM_FIELDS = ("ukernel", "mc", "kc", "nc")  # a cpu/gemm value: _cpu.configure_gemm's arguments


def cpu_gemm_problem(value: object) -> str:
    """What is wrong with a stored cpu/gemm value, or "" ({"ukernel": str, "mc", "kc", "nc": int >= 0};
    whether the kernel exists and the sizes fit is configure_gemm's to say)."""
    if not isinstance(value, dict):
        return f"not an object: {value!r}"
    extra = sorted(set(value) - set(CPU_GEMM_FIELDS))
    if extra:
        return f"unknown field(s) {', '.join(map(repr, extra))} (allowed: {', '.join(CPU_GEMM_FIELDS)})"
    if not isinstance(value.get("ukernel", ""), str):
        return f"ukernel must be a string, got {value['ukernel']!r}"
    for f in CPU_GEMM_FIELDS[1:]:
        v = value.get(f, 0)
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            return f"{f} must be an integer >= 0 (0 = derived), got {v!r}"
    return ""


def apply_cpu_gemm(module: Any) -> None:
    """Configure each dtype's GEMM from the tuning store (backend "cpu", op "gemm", key the dtype),
    unless KERNELS_CPU_MC/KC/NC override the blocks. A bad or unusable entry (a kernel this build or
    CPU lacks, sizes configure_gemm refuses) is skipped with a warning: the engine keeps its
    derived configuration for that dtype and loading never fails. Costs one failed open() when no
    store exists, one read of the JSON file (kept for the process's later lookups) when one does."""
    try:
        st = store()
        if not st.has("cpu", "gemm"):
            return
        if config.cpu_mc or config.cpu_kc or config.cpu_nc:
            logger.info("cpu gemm: KERNELS_CPU_MC/KC/NC are set, the tuned entries in %s are ignored", st.path)
            return
        # not cpu_device(): it loads the extension, whose load is running now
        device = host_device(module.info()["float32"]["isa"])
        for dt in ("float32", "float64"):
            hit = st.lookup("cpu", "gemm", dt, device)
            if hit is None or not hit.tuned:
                continue
            v = hit.value
            why = cpu_gemm_problem(v)
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


def layer_key(shape, spec, dtype: str, threads: int) -> str:
    """One convolution layer: input and filter shape, options, dtype, layout and thread count."""
    return (
        f"x={shape.n}x{shape.c}x{shape.h}x{shape.w} w={shape.k}x{shape.c // spec.groups}x{shape.r}x{shape.s} "
        f"stride={spec.stride[0]},{spec.stride[1]} pad={','.join(map(str, shape.padding))} "
        f"dil={spec.dilation[0]},{spec.dilation[1]} groups={spec.groups} {spec.layout} {dtype} threads={threads}"
    )
