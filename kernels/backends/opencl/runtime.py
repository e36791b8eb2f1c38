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

logger = logging.getLogger("kernels")

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


_device: Optional[Device] = None
_lock = threading.Lock()


def default_device() -> Device:
    """KERNELS_OPENCL_DEVICE, else PYOPENCL_CTX, else the first GPU or accelerator, else a CPU."""
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
                    devs = [d for p in cl.get_platforms() for d in p.get_devices()]
                    if not devs:
                        raise RuntimeError("no OpenCL device found")
                    accel = cl.device_type.GPU | cl.device_type.ACCELERATOR
                    dev = next((d for d in devs if d.type & accel), devs[0])
                    ctx = cl.Context([dev])
                _device = Device(ctx, dev)
                logger.debug("opencl: device %s", _device.describe())
    return _device


def platforms_available() -> Tuple[bool, str]:
    """(any OpenCL device here, reason) without creating a context."""
    if cl is None:
        return False, IMPORT_ERROR or "pyopencl is not installed"
    try:
        n = sum(len(p.get_devices()) for p in cl.get_platforms())
    except cl.Error as exc:  # e.g. PLATFORM_NOT_FOUND_KHR from the ICD loader
        return False, f"no OpenCL platform: {exc}"
    return (True, f"pyopencl {cl.VERSION_TEXT}, {n} device(s)") if n else (False, "no OpenCL device found")


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
