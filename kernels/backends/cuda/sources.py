"""CUDA kernels of the cuda backend as data: the backends/cuda sources, tile configurations, template instantiations by name, shared-memory sizes and NVRTC options (no CuPy or GPU needed)."""
from __future__ import annotations

import re
from typing import Dict, Iterator, List, NamedTuple, Tuple

from .._sources import read

# C++ element type of each dtype name (16-bit types are raw bits, see common.cuh).
CTYPE = {"float32": "float", "float64": "double", "float16": "half_t", "bfloat16": "bf16_t"}
ITEMSIZE = {"float32": 4, "float64": 8, "float16": 2, "bfloat16": 2}
TENSOR_CORE_DTYPES = ("float16", "bfloat16")
MIN_TC_ARCH = 80  # cp.async, bf16 and tf32 mma.sync
ARCHS = (80, 90)  # what the compile check covers: A100 and H100/H200
FILES = ("gemm.cu", "conv.cu")
HEADERS = ("common.cuh", "loaders.cuh", "mainloop.cuh")

_INCLUDE = re.compile(r'^[ \t]*#include[ \t]+"([^"]+)"[ \t]*$', re.M)


_sources: Dict[str, str] = {}


def source(name: str) -> str:
    """The complete text of a .cu file with its quoted includes inlined once each (#pragma once):
    one self-contained string for NVRTC, no include path needed."""
    text = _sources.get(name)
    if text is None:
        seen: set = set()

        def expand(fname: str) -> str:
            if fname in seen:
                return ""
            seen.add(fname)
            body = read("cuda", fname).replace("#pragma once", "")
            return _INCLUDE.sub(lambda m: expand(m.group(1)), body)

        text = _sources[name] = expand(name)
    return text


# C++17 for `if constexpr`; no --use_fast_math (IEEE division/rounding in the epilogue, results
# are compared against the CPU with a tight bound). CuPy adds the architecture itself at run time.
RUNTIME_OPTIONS = ("--std=c++17",)


def options(arch: int) -> Tuple[str, ...]:
    """NVRTC options of the ahead-of-time compile check for sm_<arch>."""
    return (f"--gpu-architecture=sm_{arch}",) + RUNTIME_OPTIONS


# ---------------------------------------------------------------------------------------------
# Tile configurations
# ---------------------------------------------------------------------------------------------

class Simt(NamedTuple):
    """CUDA-core block tile BM x BN x BK, TM x TN accumulators per thread, STAGES pipeline depth."""

    bm: int
    bn: int
    bk: int
    tm: int
    tn: int
    stages: int

    @property
    def threads(self) -> int:
        return (self.bm // self.tm) * (self.bn // self.tn)

    def targs(self) -> str:
        return ", ".join(map(str, self))


class Tc(NamedTuple):
    """Tensor-core block tile BM x BN x BK of warps WM x WN, STAGES pipeline depth."""

    bm: int
    bn: int
    bk: int
    wm: int
    wn: int
    stages: int

    @property
    def threads(self) -> int:
        return (self.bm // self.wm) * (self.bn // self.wn) * 32

    def targs(self) -> str:
        return ", ".join(map(str, self))


# Defaults, designed for sm_80/sm_90 (H100/H200: 228 KiB shared memory and 64K registers per SM):
# fp32 128x128x8 with 8x8 per thread (64 FFMA per 4 shared vector loads, 256 threads, about
# 128 registers: two blocks per SM), three stages; fp64 halves the per-thread tile (registers
# are 64-bit pairs). Tensor cores: 128x128x32, four warps of 64x64 (128 fp32 accumulators per
# thread), four stages (80 KiB). `python -m hpc_kernels tune gemm --backend cuda` picks among the
# candidates below per GPU architecture.
SIMT_DEFAULT = {"float32": Simt(128, 128, 8, 8, 8, 3), "float64": Simt(64, 64, 8, 4, 4, 3)}
TC_DEFAULT = {"float16": Tc(128, 128, 32, 64, 64, 4), "bfloat16": Tc(128, 128, 32, 64, 64, 4), "tf32": Tc(128, 128, 16, 64, 64, 4)}
# NCHW tensor-core convolution gathers scalars through registers: eight warps halve the
# elements each thread stages per tile (16 instead of 32).
TC_CONV_NCHW_DEFAULT = {"float16": Tc(128, 128, 32, 64, 32, 3), "bfloat16": Tc(128, 128, 32, 64, 32, 3), "tf32": Tc(128, 128, 16, 64, 32, 3)}

SIMT_CANDIDATES = {
    "float32": [Simt(128, 128, 8, 8, 8, 3), Simt(128, 128, 8, 8, 8, 2), Simt(128, 128, 16, 8, 8, 2),
                Simt(128, 64, 8, 8, 4, 3), Simt(64, 128, 8, 4, 8, 3), Simt(64, 64, 8, 4, 4, 3)],
    "float64": [Simt(64, 64, 8, 4, 4, 3), Simt(64, 64, 8, 4, 4, 2), Simt(128, 64, 8, 8, 4, 2), Simt(64, 64, 16, 4, 4, 2)],
}
# (BK = 64 was left out: 64x64 warp tiles then spill in the register-gather conv kernels.)
_TC16 = [Tc(128, 128, 32, 64, 64, 4), Tc(128, 128, 32, 64, 64, 3), Tc(128, 256, 32, 64, 64, 3), Tc(256, 128, 32, 64, 64, 3),
         Tc(128, 128, 32, 64, 32, 3), Tc(128, 64, 32, 64, 32, 4)]
TC_CANDIDATES = {
    "float16": _TC16,
    "bfloat16": _TC16,
    # (BK = 32 with 64x64 warps spills in the implicit conv kernels: scalar tf32 fragment loads.)
    "tf32": [Tc(128, 128, 16, 64, 64, 4), Tc(128, 128, 16, 64, 64, 3), Tc(128, 128, 16, 64, 32, 3), Tc(128, 256, 16, 64, 64, 3)],
}


def compute_kind(dtype: str, precision: str) -> str:
    """'simt' (CUDA cores: fp32 exact, fp64) or the tensor-core key ('float16', 'bfloat16', 'tf32')."""
    if dtype in TENSOR_CORE_DTYPES:
        return dtype
    if dtype == "float32" and precision == "tf32":
        return "tf32"
    return "simt"


def default_config(dtype: str, precision: str):
    kind = compute_kind(dtype, precision)
    return SIMT_DEFAULT[dtype] if kind == "simt" else TC_DEFAULT[kind]


def candidates(dtype: str, precision: str) -> list:
    kind = compute_kind(dtype, precision)
    return SIMT_CANDIDATES[dtype] if kind == "simt" else TC_CANDIDATES[kind]


# ---------------------------------------------------------------------------------------------
# Shared memory (mirrors TileShape / Pad in common.cuh)
# ---------------------------------------------------------------------------------------------

def _pad(itemsize: int, kcontig: bool) -> int:
    return 8 if (not kcontig and itemsize == 4) else 16 // itemsize


def tile_elems(itemsize: int, br: int, bk: int, kcontig: bool) -> int:
    ld = bk + _pad(itemsize, kcontig) if kcontig else br + _pad(itemsize, kcontig)
    return br * ld if kcontig else bk * ld


def smem_bytes(cfg, dtype: str, a_kc: bool, b_kc: bool) -> int:
    """Dynamic shared memory of a launch: STAGES tiles of A and B in their shared layouts
    (CUDA-core kernels always keep [k][r] tiles: a_kc, b_kc are then ignored)."""
    size = ITEMSIZE[dtype]
    if isinstance(cfg, Simt):
        a_kc = b_kc = False
    return cfg.stages * (tile_elems(size, cfg.bm, cfg.bk, a_kc) + tile_elems(size, cfg.bn, cfg.bk, b_kc)) * size


# ---------------------------------------------------------------------------------------------
# Kernel names (template instantiations, compiled by NVRTC name expression)
# ---------------------------------------------------------------------------------------------

def _b(x: bool) -> str:
    return "true" if x else "false"


def gemm_name(cfg, dtype: str, a_kc: bool, b_kc: bool) -> str:
    kind = "simt" if isinstance(cfg, Simt) else "tc"
    return f"gemm_{kind}<{CTYPE[dtype]}, {cfg.targs()}, {_b(a_kc)}, {_b(b_kc)}>"


def conv_implicit_name(cfg, dtype: str, pix_rows: bool, gather_async: bool = False) -> str:
    if isinstance(cfg, Simt):
        return f"conv_implicit_simt<{CTYPE[dtype]}, {cfg.targs()}, {_b(pix_rows)}>"
    return f"conv_implicit_tc<{CTYPE[dtype]}, {cfg.targs()}, {_b(pix_rows)}, {_b(gather_async)}>"


def conv_gemm_name(cfg, dtype: str, a_kc: bool, b_kc: bool, pix_rows: bool) -> str:
    kind = "simt" if isinstance(cfg, Simt) else "tc"
    return f"conv_gemm_{kind}<{CTYPE[dtype]}, {cfg.targs()}, {_b(a_kc)}, {_b(b_kc)}, {_b(pix_rows)}>"


def im2col_name(dtype: str, nhwc: bool) -> str:
    return f"im2col<{CTYPE[dtype]}, {_b(nhwc)}>"


def implicit_smem_layout(cfg, pix_rows: bool, gather_async: bool) -> Tuple[bool, bool]:
    """(A k-contiguous, B k-contiguous) shared tiles of the implicit conv kernels (conv.cu)."""
    if pix_rows:
        return gather_async, True
    return True, False


# The dense layouts the conv kernels run: NCHW im2col (weights x [kd][npix] columns) and
# NHWC im2col or 1x1 (pixels x weights, both k-contiguous).
CONV_GEMM_LAYOUTS = ((True, False, False), (True, True, True))
_BOOLS = (False, True)


def catalogue() -> List[Tuple[str, str]]:
    """(file, name expression) of every kernel the backend can launch: each candidate tile
    configuration in every operand layout, each dtype, once. What the compile check builds."""
    return list(dict.fromkeys(_every_kernel()))


def _every_kernel() -> Iterator[Tuple[str, str]]:
    for dt in ("float32", "float64"):
        for cfg in SIMT_CANDIDATES[dt]:
            for a_kc in _BOOLS:
                for b_kc in _BOOLS:
                    yield "gemm.cu", gemm_name(cfg, dt, a_kc, b_kc)
            for pix in _BOOLS:
                yield "conv.cu", conv_implicit_name(cfg, dt, pix)
            for a_kc, b_kc, pix in CONV_GEMM_LAYOUTS:
                yield "conv.cu", conv_gemm_name(cfg, dt, a_kc, b_kc, pix)
    for kind, cfgs in TC_CANDIDATES.items():
        dt = "float32" if kind == "tf32" else kind
        for cfg in cfgs:
            for a_kc in _BOOLS:
                for b_kc in _BOOLS:
                    yield "gemm.cu", gemm_name(cfg, dt, a_kc, b_kc)
            for pix, gasync in ((True, True), (True, False), (False, False)):
                yield "conv.cu", conv_implicit_name(cfg, dt, pix, gasync)
            for a_kc, b_kc, pix in CONV_GEMM_LAYOUTS:
                yield "conv.cu", conv_gemm_name(cfg, dt, a_kc, b_kc, pix)
    for cfgs in (TC_CONV_NCHW_DEFAULT,):
        for kind, cfg in cfgs.items():
            dt = "float32" if kind == "tf32" else kind
            yield "conv.cu", conv_implicit_name(cfg, dt, False, False)
    for dt in CTYPE:
        for nhwc in _BOOLS:
            yield "conv.cu", im2col_name(dt, nhwc)


def by_file(names=None) -> Dict[str, List[str]]:
    """The catalogue (or `names`, (file, name) pairs) grouped by source file, duplicates removed."""
    out: Dict[str, List[str]] = {}
    for f, n in (names if names is not None else catalogue()):
        lst = out.setdefault(f, [])
        if n not in lst:
            lst.append(n)
    return out
