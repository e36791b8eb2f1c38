"""Tile sizes of the OpenCL kernels per device and dtype: their defaults by device type, registered in the tuning store (op "gemm" of backend "opencl"), which answers the tuned choice first."""
from __future__ import annotations

from typing import Dict, List

from ... import _tuning

# NDRange GEMM / conv (block.cl, gemm_ndrange.cl): VW-wide vectors, NVEC of them per row of an
# MWI-row register block, WGM x WGN work items per group, KWG-deep local tiles when SB=1.
# CPUs (PoCL): one item per group, no local staging, a 6 x 64 block (float32: 24 zmm
# accumulators, the shape of the cpu backend's 64x6 micro-kernel) - measured 139 GFLOP/s at
# n = 1024 on one thread against 70-95 for 12x32 / 8x48 / 24x16 blocks.
CPU = {
    "float32": dict(VW=16, NVEC=4, MWI=6, WGM=1, WGN=1, KWG=32, SB=0, M_FIRST=1),
    "float64": dict(VW=8, NVEC=4, MWI=6, WGM=1, WGN=1, KWG=32, SB=0, M_FIRST=1),
}
# GPUs and accelerators run many items per group sharing a local B tile.
GPU = {
    "float32": dict(VW=4, NVEC=1, MWI=4, WGM=8, WGN=16, KWG=16, SB=1, M_FIRST=0),
    "float64": dict(VW=2, NVEC=2, MWI=4, WGM=8, WGN=16, KWG=16, SB=1, M_FIRST=0),
}
# FPGA form (fpga.cl): TM x TN multiply-add array, TK-deep on-chip chunks.
FPGA = {"float32": dict(TM=8, TN=16, TK=64), "float64": dict(TM=8, TN=8, TK=64)}

# The search of `python -m hpc_kernels tune gemm --backend opencl` on CPU devices (register blocks
# of 16-32 vectors) and on GPUs (group shapes, local staging).
CPU_CANDIDATES: List[dict] = [
    dict(VW=vw, NVEC=nv, MWI=mwi, WGM=1, WGN=1, KWG=32, SB=0, M_FIRST=mf)
    for vw, nv, mwi in ((16, 4, 6), (16, 2, 12), (16, 3, 8), (16, 2, 8), (16, 4, 4), (16, 1, 24), (8, 4, 6), (16, 5, 4), (16, 4, 7))
    for mf in (1, 0)
]
GPU_CANDIDATES: List[dict] = [
    dict(VW=vw, NVEC=nv, MWI=mwi, WGM=wgm, WGN=wgn, KWG=kwg, SB=1, M_FIRST=0)
    for vw, nv, mwi in ((4, 1, 4), (4, 2, 4), (2, 2, 8), (4, 1, 8))
    for wgm, wgn in ((8, 16), (16, 16), (8, 8))
    for kwg in (16, 32)
]


def _tiles_ok(t) -> bool:
    """A tuned value is used only as a full set of the NDRange defines: sizes >= 1, flags 0 or 1."""
    return (set(t) == set(CPU["float32"]) and all(type(v) is int for v in t.values())
            and all(t[k] >= 1 for k in ("VW", "NVEC", "MWI", "WGM", "WGN", "KWG")) and t["SB"] in (0, 1) and t["M_FIRST"] in (0, 1))


# The tuning store's defaults (level "arch" is the device type; GPUs' tiles for any other type).
_tuning.register("opencl", "gemm", {"arch:CPU": CPU, "arch:GPU": GPU, "default": GPU}, check=_tiles_ok)
_devices: Dict[int, "_tuning.Device"] = {}


def device(dev) -> "_tuning.Device":
    """The tuning store's device: name, platform and driver (a driver update retunes), its device
    type as the architecture, its vendor."""
    d = dev.device
    out = _devices.get(d.int_ptr)
    if out is None:
        from .runtime import kind

        name = f"{dev.name} | {d.platform.name.strip()} | driver {d.driver_version.strip()}"
        out = _devices[d.int_ptr] = _tuning.Device(name, kind(d), _tuning.vendor_name(d.vendor))
    return out


def is_cpu(dev) -> bool:
    import pyopencl as cl

    return bool(dev.device.type & cl.device_type.CPU)


def ndrange(dev, dtype: str) -> Dict[str, int]:
    """The tuned tiles of this device and dtype, else the defaults of its device type."""
    return dict(_tuning.get("opencl", "gemm", dtype, device(dev)))


def tuned(dev, dtype: str) -> bool:
    hit = _tuning.lookup("opencl", "gemm", dtype, device(dev))
    return bool(hit and hit.tuned)


def candidates(dev) -> List[dict]:
    return CPU_CANDIDATES if is_cpu(dev) else GPU_CANDIDATES
