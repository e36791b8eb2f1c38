"""Host-side planning of the cuda backend, pure Python and NumPy (testable without a GPU): operand layouts, batch collapsing, grids, conv tap tables and weight packing, its tuning-store device, keys and defaults."""
from __future__ import annotations

from typing import List, NamedTuple, Optional, Sequence, Tuple

import numpy as np

from ... import _tuning
from ..._api.conv_args import pixel_stride
from . import sources as S

MAX_GRID_Y = 65535  # blockIdx.y: the batch (GEMM) or the group (conv)
PRECISIONS = ("exact", "tf32")


def dtype_name(fn: str, name: str, dt) -> str:
    """The cuda backend's dtypes: float32, float64 (CUDA cores), float16 and bfloat16 (tensor
    cores, fp32 accumulation); TypeError naming them otherwise."""
    dt = np.dtype(dt)
    if dt.name not in S.CTYPE or not dt.isnative:
        raise TypeError(f"{fn}: {name} has dtype {dt}; the cuda backend takes float32, float64, float16 and bfloat16")
    return dt.name


class Dense(NamedTuple):
    """A 2-D operand as the kernels read it: rows x k, element (r, k) at ld * r + k when kc,
    else at r + ld * k (element units)."""

    kc: bool
    ld: int


def dense_layout(rows: int, k: int, s_rows: int, s_k: int, itemsize: int, ptr: int, aligned: bool) -> Optional[Dense]:
    """How the kernels can read a rows x k view with element strides (s_rows, s_k) as it lies,
    or None when it must be copied first: negative or two non-unit strides, or (aligned: the
    operand goes through 16-byte cp.async chunks) a start or leading dimension not on 16 bytes.
    A size-1 dimension has no meaningful stride, so either layout serves it (its ld is then
    free and chosen aligned); stride 0 (a broadcast row) is read as it is."""
    vec = 16 // itemsize
    cands = []
    if (s_k == 1 or k <= 1) and s_rows >= 0:
        cands.append(Dense(True, s_rows if rows > 1 else -(-max(k, 1) // vec) * vec))
    if (s_rows == 1 or rows <= 1) and s_k >= 0:
        cands.append(Dense(False, s_k if k > 1 else -(-max(rows, 1) // vec) * vec))
    for d in cands:
        if not aligned or (ptr % 16 == 0 and (d.ld * itemsize) % 16 == 0):
            return d
    return None


def needs_alignment(kind: str, kc: bool) -> bool:
    """Whether an operand goes through 16-byte cp.async (tensor cores: always; CUDA cores: the
    r-contiguous ones, k-contiguous ones are staged through registers with a scalar fallback)."""
    return kind != "simt" or not kc


def collapse_batch(shape: Sequence[int], strides: Sequence[Sequence[int]]) -> Tuple[List[int], List[List[int]]]:
    """Merge adjacent batch dimensions where every operand's strides allow (stride[i] ==
    stride[i+1] * shape[i+1]); size-1 dimensions vanish. The kernels take two batch levels."""
    dims = [(n, [s[i] for s in strides]) for i, n in enumerate(shape) if n != 1]
    out: List[Tuple[int, List[int]]] = []
    for n, st in dims:
        if out:
            pn, pst = out[-1]
            if all(p == q * n for p, q in zip(pst, st)):
                out[-1] = (pn * n, st)
                continue
        out.append((n, st))
    return [n for n, _ in out], [[st[j] for _, st in out] for j in range(len(strides))]


def batch_chunks(b1: int, b2: int) -> List[Tuple[int, int]]:
    """(first z1, count of z1) per launch so that count * b2 blocks fit blockIdx.y."""
    per = max(1, MAX_GRID_Y // max(b2, 1))
    return [(z, min(per, b1 - z)) for z in range(0, b1, per)]


def tiles(m: int, n: int, cfg) -> int:
    """Blocks along grid x: one per BM x BN tile of C (the kernel orders them, see tile_of)."""
    return (-(-m // cfg.bm)) * (-(-n // cfg.bn))


# ---------------------------------------------------------------------------------------------
# Convolution
# ---------------------------------------------------------------------------------------------

def taps(shape, spec, x_strides: Sequence[int]) -> np.ndarray:
    """The Tap table of loaders.cuh: per reduction index kk, in the layout's order ((c, r, s)
    NCHW, (r, s, c) NHWC), int64 pairs (offset of the element in x relative to the pixel's
    (ih0, iw0), (r * dh) | (s * dw) << 32). x_strides: (n, c, h, w) element strides."""
    cg = shape.c // spec.groups
    _, xc, xh, xw = x_strides
    dh, dw = spec.dilation
    c = np.arange(cg, dtype=np.int64)
    r = np.arange(shape.r, dtype=np.int64) * dh
    s = np.arange(shape.s, dtype=np.int64) * dw
    if spec.layout == "NCHW":
        cc, rr, ss = np.meshgrid(c, r, s, indexing="ij")
    else:
        rr, ss, cc = np.meshgrid(r, s, c, indexing="ij")
    cc, rr, ss = cc.ravel(), rr.ravel(), ss.ravel()
    if rr.max(initial=0) >= 2 ** 31 or ss.max(initial=0) >= 2 ** 31:
        raise ValueError("conv2d: the dilated kernel extent exceeds 2^31 pixels")
    out = np.empty((cc.size, 2), np.int64)
    out[:, 0] = cc * xc + rr * xh + ss * xw
    out[:, 1] = rr | (ss << 32)  # two int32 (rh, sw), little-endian
    return out


def ldw(kd: int) -> int:
    """Row length of the packed weights: kd rounded up to 16 bytes of the smallest type (8)."""
    return -(-kd // 8) * 8


def pack_weights(xp, w, groups: int, layout: str):
    """w (K, C/g, R, S) -> [G][K/g][ldw] in the layout's reduction order, zero-padded rows
    (xp: numpy or cupy). Channels-last weights read each tap's channels as one run."""
    k, cg, r, s = w.shape
    kg, kd = k // groups, cg * r * s
    src = w.reshape(groups, kg, cg, r, s)
    if layout == "NHWC":
        src = src.transpose(0, 1, 3, 4, 2)
    out = xp.zeros((groups, kg, ldw(kd)), w.dtype)
    out[:, :, :kd] = src.reshape(groups, kg, kd)
    return out


# Narrower tiles for layers whose channel side is short or whose grid would not fill the GPU
# (ResNet-50's 64-channel layers would leave half of a 128-wide tile idle; its 7x7 stage at batch
# 32 makes 52 blocks of 128 x 128 for 132 SMs). Keyed by compute kind ("simt" = float32 here:
# float64 keeps its 64 x 64 default) and orientation (pixel rows = NHWC).
_NARROW = {"simt": {True: S.Simt(128, 64, 8, 8, 4, 3), False: S.Simt(64, 128, 8, 4, 8, 3)},
           "float16": {True: S.Tc(128, 64, 32, 64, 32, 4)}, "bfloat16": {True: S.Tc(128, 64, 32, 64, 32, 4)}}


def conv_tiles(cfg, tuned: bool, kind: str, dtype: str, m: int, n: int, sms: int, pix_rows: bool):
    """The tile configuration of one convolution: a tuned one as it is; else the default, or a
    narrower tile when the channel side (n for NHWC, m for NCHW) is <= 64 or the default grid has
    fewer blocks than the GPU has SMs."""
    if tuned or dtype == "float64":
        return cfg
    narrow = _NARROW.get(kind, {}).get(pix_rows)
    if narrow is not None and ((n if pix_rows else m) <= 64 or tiles(m, n, cfg) < sms):
        return narrow
    return cfg


class Pixels(NamedTuple):
    """The output's image, channel and pixel strides (elements), H and W as one pixel stride."""

    yn: int
    yk: int
    yp: int


def out_strides(y_strides: Sequence[int], layout: str, wo: int) -> Pixels:
    if layout == "NCHW":
        yn, yk, yh, yw = y_strides
    else:
        yn, yh, yw, yk = y_strides
    return Pixels(yn, yk, pixel_stride(yh, yw, wo))


def nchw_strides(x_strides: Sequence[int], layout: str) -> Tuple[int, int, int, int]:
    """(n, c, h, w) element strides of x in either layout."""
    if layout == "NCHW":
        return tuple(x_strides)  # type: ignore[return-value]
    n, h, w, c = x_strides
    return n, c, h, w


def gather_async_ok(layout: str, kind: str, cg: int, x_strides_nchw: Sequence[int], itemsize: int, ptr: int) -> bool:
    """The 16-byte cp.async gather (tensor cores, NHWC) needs whole 16-byte channel runs:
    C/g, the pixel and image strides and the start of x in units of 16 bytes, channels unit-strided."""
    if kind == "simt" or layout != "NHWC":
        return False
    vec = 16 // itemsize
    xn, xc, xh, xw = x_strides_nchw
    return xc == 1 and cg % vec == 0 and all(s % vec == 0 for s in (xn, xh, xw)) and ptr % 16 == 0


def pad_channels(cg: int, groups: int, layout: str, kind: str) -> int:
    """Channels to pad x and w to for the cp.async gather: a first layer with 3 (or any count
    that is not a multiple of 8) channels in NHWC on tensor cores is padded with zero channels
    to the next multiple of 8 (as cuDNN does): one copy of x against a scalar gather."""
    if kind == "simt" or layout != "NHWC" or groups != 1 or cg % 8 == 0:
        return cg
    return -(-cg // 8) * 8


# ---------------------------------------------------------------------------------------------
# Tuning store (kernels/_tuning.py): backend "cuda", op "gemm.tiles" (the tile configuration per
# compute kind and dtype; defaults: kernels/backends/cuda/sources.py) and op "gemm.cublas" (the
# measured own-kernel-or-cuBLAS choice per GEMM shape class; default: our kernels)
# ---------------------------------------------------------------------------------------------

def bucket(v: int) -> int:
    """Shapes tuned at one size serve their power-of-two neighbourhood."""
    return 1 << max(0, (max(v, 1) - 1).bit_length())


def device(arch: int, device_name: str) -> "_tuning.Device":
    """The tuning store's device: the GPU's name, its sm architecture, nvidia."""
    return _tuning.Device(device_name, f"sm_{arch}", "nvidia")


def tiles_key(dtype: str, precision: str) -> str:
    """Key of the tile configuration chosen by `tune --backend cuda` for a compute kind and dtype."""
    return f"{S.compute_kind(dtype, precision)} {dtype}"


def gemm_key(dtype: str, precision: str, m: int, n: int, k: int) -> str:
    """Key of the measured own-kernel-or-cuBLAS choice for a GEMM shape class."""
    return f"{S.compute_kind(dtype, precision)} {dtype} m={bucket(m)} n={bucket(n)} k={bucket(k)}"


_KINDS = [(dt, "exact") for dt in ("float32", "float64", "float16", "bfloat16")] + [("float32", "tf32")]
_CANDIDATES = {tuple(c) for cs in (*S.SIMT_CANDIDATES.values(), *S.TC_CANDIDATES.values()) for c in cs}
_tuning.register("cuda", "gemm.tiles", {"default": {tiles_key(dt, p): list(S.default_config(dt, p)) for dt, p in _KINDS}},
                 check=lambda v: tuple(v) in _CANDIDATES)
_tuning.register("cuda", "gemm.cublas", check=lambda v: v in ("cublas", "kernels"))


def config_from(value, dtype: str, precision: str):
    """The tile configuration a tuning-store value names, else the default (a value that names a
    configuration outside this dtype's candidates is ignored)."""
    if value is not None:
        cfg = tuple(value)
        for c in S.candidates(dtype, precision):
            if tuple(c) == cfg:
                return c
    return S.default_config(dtype, precision)


def tiles_for(arch: int, device_name: str, dtype: str, precision: str):
    """The tile configuration of this GPU, dtype and precision: tuned, else the default."""
    return config_from(_tuning.get("cuda", "gemm.tiles", tiles_key(dtype, precision), device(arch, device_name)), dtype, precision)


def cublas_measured_faster(arch: int, device_name: str, dtype: str, precision: str, m: int, n: int, k: int) -> bool:
    st = _tuning.store()
    if not st.has("cuda", "gemm.cublas"):
        return False
    return st.get("cuda", "gemm.cublas", gemm_key(dtype, precision, m, n, k), device(arch, device_name)) == "cublas"
