"""OpenCL runtime of the opencl backend: device choice, kernel sources, the program build cache and program binaries."""
from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from pathlib import Path
from typing import Dict, Optional, Tuple

from ..._config import config
from .._sources import read

logger = logging.getLogger("hpc_kernels")

try:
    import pyopencl as cl
    import pyopencl.array as cla
    import pyopencl.tools  # noqa: F401  (cl.tools: memory pools)

    IMPORT_ERROR: Optional[str] = None
except ImportError as exc:  # the backend reports itself unavailable with this reason
    cl = cla = None  # type: ignore[assignment]
    IMPORT_ERROR = f"pyopencl is not installed ({exc})"

# Programs as the sources they concatenate (a shared prelude and macro files first: no -I paths,
# so a program binary or an offline FPGA compile needs one self-contained file, see `source`).
PROGRAMS: Dict[str, Tuple[str, ...]] = {
    "pack": ("prelude.cl", "pack.cl"),
    "scatter": ("prelude.cl", "scatter.cl"),
    "gemm": ("prelude.cl", "block.cl", "gemm_ndrange.cl"),
    "conv": ("prelude.cl", "block.cl", "conv_gather.cl", "conv_ndrange.cl"),
    "fpga": ("prelude.cl", "conv_gather.cl", "fpga.cl"),
}

_sources: Dict[str, str] = {}


def source(program: str) -> str:
    """The complete OpenCL C text of a program (what `clCreateProgramWithSource` gets)."""
    text = _sources.get(program)
    if text is None:
        text = _sources[program] = "\n".join(read("opencl", f) for f in PROGRAMS[program])
    return text


class Device:
    """A device with its context, a queue (the default device's own, or the queue of the caller's
    arrays) and a memory pool for the kernels' temporary buffers (packed panels, im2col panels):
    a buffer freed while its kernels are still queued is reused only by commands enqueued later
    on the same queue, so in-order queues make the reuse safe, and calls pay no allocation."""

    def __init__(self, context, device, queue=None) -> None:
        self.context, self.device = context, device
        self.queue = queue if queue is not None else cl.CommandQueue(context, device)
        if self.queue.properties & cl.command_queue_properties.OUT_OF_ORDER_EXEC_MODE_ENABLE:
            raise ValueError("opencl: the arrays' queue is out-of-order; the backend needs an in-order queue")
        self.name = device.name.strip()
        self.fp64 = bool(device.double_fp_config)
        self.pool = cl.tools.MemoryPool(cl.tools.ImmediateAllocator(self.queue))

    def describe(self) -> str:
        return f"{self.name} ({self.device.platform.name.strip()}, {kind(self.device)})"


def kind(device) -> str:
    """CPU, GPU, ACCELERATOR (FPGAs) or CUSTOM (drivers OR the DEFAULT bit into the type)."""
    names = [n for n in ("GPU", "ACCELERATOR", "CPU", "CUSTOM") if device.type & getattr(cl.device_type, n)]
    return names[0] if names else cl.device_type.to_string(device.type)


def _by_selector(selector: str):
    """KERNELS_OPENCL_DEVICE: 'p:d' (platform and device indices) or a case-insensitive
    substring of 'platform device'."""
    platforms = cl.get_platforms()
    if ":" in selector and all(p.strip().isdigit() for p in selector.split(":", 1)):
        pi, di = (int(p) for p in selector.split(":", 1))
        try:
            return platforms[pi].get_devices()[di]
        except IndexError:
            raise ValueError(f"KERNELS_OPENCL_DEVICE={selector!r}: no device {di} on platform {pi}; {list_devices_text()}") from None
    for p in platforms:
        for d in p.get_devices():
            if selector.lower() in f"{p.name} {d.name}".lower():
                return d
    raise ValueError(f"KERNELS_OPENCL_DEVICE={selector!r} matches no OpenCL device; {list_devices_text()}")


def list_devices_text() -> str:
    return "devices: " + "; ".join(
        f"{pi}:{di} {p.name.strip()} / {d.name.strip()}" for pi, p in enumerate(cl.get_platforms()) for di, d in enumerate(p.get_devices())
    )


# A program any OpenCL C compiler builds. The default device choice and the availability check
# build it once per device, so a device whose compiler builds nothing is passed over, or reported
# with its build log, instead of failing at the first gemm. The case that needs it: PoCL 3.0 from
# pip (pyopencl[pocl], LLVM 14) on a CPU newer than its LLVM, such as Zen 5 (CPU family 0x1A):
# LLVM names the host CPU "generic", which its clang rejects ("unknown target CPU 'generic'",
# pocl/pocl#1049), and that PoCL has no setting to name another CPU (POCL_LLVM_CPU_NAME came in
# PoCL 5.0). Debian's pocl-opencl-icd (3.1, LLVM 15) builds there, and pyopencl's ICD loader lists
# it too (/etc/OpenCL/vendors), so the choice falls on it.
PROBE_SOURCE = "__kernel void kernels_probe(__global float *x) { x[get_global_id(0)] = 1.0f; }"

_probes: Dict[int, Optional[str]] = {}  # device int_ptr -> None (it builds) or why not


def build_problem(device, context=None) -> Optional[str]:
    """None when `device` builds the probe program, else why not: the first error line of its
    build log (or the error creating a context). Built once per device."""
    key = device.int_ptr
    if key in _probes:
        return _probes[key]
    problem: Optional[str] = None
    try:
        ctx = context if context is not None else cl.Context([device])
        prg = cl.Program(ctx, PROBE_SOURCE)
        try:
            prg.build(devices=[device])
        except cl.Error as exc:
            try:
                log = prg.get_build_info(device, cl.program_build_info.LOG) or ""
            except cl.Error:
                log = ""
            lines = [ln.strip() for ln in log.splitlines() if ln.strip()] or [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
            problem = next((ln for ln in lines if "error" in ln.lower()), lines[0] if lines else type(exc).__name__)
    except cl.Error as exc:
        problem = f"no context ({exc})"
    _probes[key] = problem
    return problem


def cannot_build_text(device, problem: str) -> str:
    p = device.platform
    return f"the OpenCL device {device.name.strip()!r} ({p.name.strip()}, {p.version.strip()}) cannot build programs: {problem}"


_device: Optional[Device] = None
_lock = threading.Lock()


def _first_that_builds():
    """(context, device): the first GPU or accelerator, else the first device, that builds the
    probe program; the ones passed over are logged with their build error."""
    devs = [d for p in cl.get_platforms() for d in p.get_devices()]
    if not devs:
        raise RuntimeError("no OpenCL device found")
    accel = cl.device_type.GPU | cl.device_type.ACCELERATOR
    passed_over = []
    for dev in [d for d in devs if d.type & accel] + [d for d in devs if not d.type & accel]:
        try:
            ctx = cl.Context([dev])
        except cl.Error as exc:
            passed_over.append(cannot_build_text(dev, f"no context ({exc})"))
            continue
        problem = build_problem(dev, ctx)
        if problem is None:
            for text in passed_over:
                logger.warning("opencl: passed over %s; using %r (%s)", text, dev.name.strip(), dev.platform.version.strip())
            return ctx, dev
        passed_over.append(cannot_build_text(dev, problem))
    raise RuntimeError("; ".join(passed_over))


def default_device() -> Device:
    """KERNELS_OPENCL_DEVICE, else PYOPENCL_CTX, else the first GPU or accelerator, else a CPU,
    of those that build a program (see PROBE_SOURCE)."""
    global _device
    if _device is None:
        with _lock:
            if _device is None:
                if config.opencl_device:
                    dev = _by_selector(config.opencl_device)
                    ctx = cl.Context([dev])
                elif os.environ.get("PYOPENCL_CTX"):
                    ctx = cl.create_some_context(interactive=False)
                    dev = ctx.devices[0]
                else:
                    ctx, dev = _first_that_builds()
                _device = Device(ctx, dev)
                logger.debug("opencl: device %s", _device.describe())
    return _device


# What provides OpenCL platforms: an ICD driver registered with the loader (/etc/OpenCL/vendors).
NO_DRIVER = ("no OpenCL driver (ICD) is registered; install one: a GPU vendor's OpenCL runtime, "
             "or PoCL for the CPU (apt install pocl-opencl-icd, or pip install pocl-binary-distribution)")


def _names(platforms) -> str:
    return ", ".join(repr(p.name.strip()) for p in platforms)


def platforms_available() -> Tuple[bool, str]:
    """(the opencl backend can run here, reason): a device is found and builds the probe
    program (the default device, or the one KERNELS_OPENCL_DEVICE / PYOPENCL_CTX names)."""
    if cl is None:
        return False, IMPORT_ERROR or "pyopencl is not installed"
    # pyopencl imports: what is missing now is outside pip's reach (a driver, a device), so say that.
    try:
        platforms = cl.get_platforms()
    except cl.Error as exc:  # e.g. PLATFORM_NOT_FOUND_KHR from the ICD loader
        return False, f"pyopencl is installed but finds no OpenCL platform: {NO_DRIVER} ({exc})"
    if not platforms:
        return False, f"pyopencl is installed but finds no OpenCL platform: {NO_DRIVER}"
    try:
        n = sum(len(p.get_devices()) for p in platforms)
    except cl.Error as exc:  # DEVICE_NOT_FOUND from a platform without devices
        return False, f"pyopencl is installed but its OpenCL platform(s) {_names(platforms)} list no device ({exc})"
    if not n:
        return False, f"pyopencl is installed but its OpenCL platform(s) {_names(platforms)} list no device"
    try:
        dev = default_device()
    except (cl.Error, RuntimeError, ValueError) as exc:
        return False, str(exc)
    problem = build_problem(dev.device, dev.context)
    if problem is not None:  # a device named by KERNELS_OPENCL_DEVICE or PYOPENCL_CTX
        return False, cannot_build_text(dev.device, problem)
    return True, f"pyopencl {cl.VERSION_TEXT}, {n} device(s), using {dev.describe()}"


# ---------------------------------------------------------------------------------------------
# Program build cache: one cl.Program per (context, device, source, defines)
# ---------------------------------------------------------------------------------------------

_programs: Dict[tuple, object] = {}
_binary: Dict[str, object] = {}  # the KERNELS_OPENCL_BINARY program, once loaded: {"program", "defines"}


def options(defines: Dict[str, object]) -> list:
    return [f"-D{k}={v}" for k, v in sorted(defines.items())]


def program(dev: Device, name: str, defines: Dict[str, object]):
    """The built program `name` with these -D defines, built once per device and reused."""
    text = source(name)
    key = (dev.context.int_ptr, dev.device.int_ptr, name, hashlib.sha1(text.encode()).hexdigest(), tuple(sorted(defines.items())))
    prg = _programs.get(key)
    if prg is None:
        loaded = binary_program(dev) if name == "fpga" else None
        if loaded is not None and loaded["defines"].get("REAL") == defines.get("REAL"):
            return loaded["program"]
        with _lock:
            prg = _programs.get(key)
            if prg is None:
                opts = options(defines)
                logger.debug("opencl: building %s %s on %s", name, " ".join(opts), dev.name)
                prg = _programs[key] = cl.Program(dev.context, text).build(options=opts, devices=[dev.device])
    return prg


_kernels: Dict[tuple, object] = {}


def kernel(dev: Device, name: str, defines: Dict[str, object], kernel_name: str):
    """A cl.Kernel of a built program, created once per thread (setting a kernel's arguments
    and enqueueing it is not atomic, so threads do not share one)."""
    key = (threading.get_ident(), dev.context.int_ptr, dev.device.int_ptr, name, tuple(sorted(defines.items())), kernel_name)
    k = _kernels.get(key)
    if k is None:
        k = _kernels[key] = cl.Kernel(program(dev, name, defines), kernel_name)
    return k


def save_binary(dev: Device, name: str, defines: Dict[str, object], path: str) -> Path:
    """Write the device binary of a built program to `path`, and its defines to `path`.json
    (what KERNELS_OPENCL_BINARY then loads)."""
    prg = program(dev, name, defines)
    (blob,) = prg.get_info(cl.program_info.BINARIES)
    out = Path(path)
    out.write_bytes(bytes(blob))
    Path(str(out) + ".json").write_text(json.dumps({"program": name, "defines": defines}, indent=1))
    return out


def load_binary(dev: Device, path: str) -> dict:
    """Create and build a program from a precompiled binary (clCreateProgramWithBinary): an
    FPGA bitstream (.aocx, .xclbin) or a binary written by save_binary. Its defines come from
    `path`.json when present, else the FPGA program's float32 defaults are assumed."""
    try:
        blob = Path(path).read_bytes()
    except OSError as exc:
        raise FileNotFoundError(f"KERNELS_OPENCL_BINARY={path}: cannot read the program binary ({exc.strerror})") from None
    meta_path = Path(str(path) + ".json")
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {"program": "fpga", "defines": {"REAL": "float"}}
    if meta.get("program") != "fpga":
        raise ValueError(f"KERNELS_OPENCL_BINARY={path}: holds program {meta.get('program')!r}; only the FPGA-form program (fpga.cl) is loaded from a binary")
    try:
        prg = cl.Program(dev.context, [dev.device], [blob]).build()
    except cl.Error as exc:
        raise RuntimeError(f"KERNELS_OPENCL_BINARY={path}: the device rejected the program binary ({exc})") from None
    logger.debug("opencl: FPGA program loaded from binary %s (%s)", path, meta["defines"])
    return {"program": prg, "defines": meta["defines"], "path": str(path)}


def binary_program(dev: Device) -> Optional[dict]:
    """The KERNELS_OPENCL_BINARY program (None when the variable is unset), loaded once."""
    if not config.opencl_binary:
        return None
    if "default" not in _binary:
        with _lock:
            if "default" not in _binary:
                _binary["default"] = load_binary(dev, config.opencl_binary)
    return _binary["default"]  # type: ignore[return-value]
