"""cuda backend without a GPU: availability and its error, precision rules, operand layouts, batch collapsing, tuning keys, and a NumPy emulation of the conv kernels' index arithmetic (tap tables, pixel decomposition, packed weights) against the reference convolution."""
from __future__ import annotations

import numpy as np
import pytest

import hpc_kernels
from hpc_kernels._api import conv_args as A
from hpc_kernels.backends.cuda import plan
from hpc_kernels.backends.cuda import sources as S

from _conv_reference import conv2d_ref


def _cuda():
    from hpc_kernels.backends import cuda

    return cuda.backend


# ---------------------------------------------------------------------------------------------
# Availability
# ---------------------------------------------------------------------------------------------

def test_unavailable_backend_says_why():
    be = _cuda()
    if be.available:
        pytest.skip("a CUDA GPU is usable here")
    assert be.reason and ("cupy" in be.reason or "GPU" in be.reason)
    d = hpc_kernels.info()["backends"]["cuda"]
    assert d["available"] is False and d["reason"] == be.reason and d["extra"] == "cuda12"
    a = np.ones((4, 4), np.float32)
    for call in (lambda: hpc_kernels.gemm(a, a, backend="cuda"), lambda: hpc_kernels.matmul(a, a, backend="cuda"),
                 lambda: hpc_kernels.conv2d(np.ones((1, 1, 3, 3)), np.ones((1, 1, 1, 1)), backend="cuda")):
        with pytest.raises(hpc_kernels.BackendNotAvailable, match="backend 'cuda' is not available") as ei:
            call()
        assert "hpc-kernels[cuda12]" in str(ei.value) and be.reason in str(ei.value)
        # pip install is the fix only when CuPy itself is missing (else: the driver or GPU is)
        assert ("pip install 'hpc-kernels[cuda12]'" in str(ei.value)) is (not be.installed)
    with pytest.raises(hpc_kernels.BackendNotAvailable):
        with hpc_kernels.use_backend("cuda"):
            pass
    # NumPy arrays still go to the CPU by default
    np.testing.assert_array_equal(hpc_kernels.gemm(a, a), a @ a)


def test_backend_declares_its_dtypes_and_ops():
    d = _cuda().describe()
    assert d["dtypes"] == ["bfloat16", "float16", "float32", "float64"]
    assert set(d["ops"]) == {"gemm", "matmul", "conv2d", "pack_conv2d", "conv2d_packed"}


def test_dtype_names():
    assert plan.dtype_name("gemm", "a", np.float16) == "float16"
    with pytest.raises(TypeError, match="float32, float64, float16 and bfloat16"):
        plan.dtype_name("gemm", "a", np.int32)
    with pytest.raises(TypeError):
        plan.dtype_name("gemm", "a", np.dtype(">f4"))


# ---------------------------------------------------------------------------------------------
# Precision: fp32 stays exact unless asked
# ---------------------------------------------------------------------------------------------

def test_compute_kind_rules():
    assert S.compute_kind("float32", "exact") == "simt"
    assert S.compute_kind("float32", "tf32") == "tf32"
    assert S.compute_kind("float64", "tf32") == "simt"  # tf32 is a permission for fp32 only
    assert S.compute_kind("float16", "exact") == "float16"
    assert S.compute_kind("bfloat16", "exact") == "bfloat16"
    assert isinstance(S.default_config("float32", "exact"), S.Simt)
    assert isinstance(S.default_config("float32", "tf32"), S.Tc)


def test_precision_option():
    from hpc_kernels import _precision

    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.testing.assert_array_equal(hpc_kernels.gemm(a, a.T, precision="tf32"), a @ a.T)  # cpu: exact regardless
    np.testing.assert_array_equal(hpc_kernels.matmul(a, a.T, precision="exact"), a @ a.T)
    for call in (lambda: hpc_kernels.gemm(a, a.T, precision="fp16"), lambda: hpc_kernels.matmul(a, a.T, precision="TF32"),
                 lambda: hpc_kernels.conv2d(np.ones((1, 1, 3, 3)), np.ones((1, 1, 1, 1)), precision="bf16")):
        with pytest.raises(ValueError, match="precision must be 'exact' or 'tf32'"):
            call()
    assert _precision.current() == "exact"
    with _precision.use("gemm", "tf32"):
        assert _precision.current() == "tf32"
    assert _precision.current() == "exact"


# ---------------------------------------------------------------------------------------------
# Operand layouts, batches, grids
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("rows,k,s_rows,s_k,want", [
    (5, 7, 7, 1, plan.Dense(True, 7)),        # row-major A: k contiguous
    (5, 7, 1, 5, plan.Dense(False, 5)),       # column-major: rows contiguous
    (5, 7, 9, 1, plan.Dense(True, 9)),        # padded leading dimension
    (5, 7, 0, 1, plan.Dense(True, 0)),        # broadcast rows: read as they are
    (1, 7, 123, 1, plan.Dense(True, 8)),      # one row: its stride is free (chosen aligned)
    (5, 1, 1, 40, plan.Dense(True, 1)),       # one column of a column-major array
    (5, 7, 14, 2, None),                      # two non-unit strides: copied
    (5, 7, -7, 1, None),                      # negative strides: copied
])
def test_dense_layout_unaligned(rows, k, s_rows, s_k, want):
    assert plan.dense_layout(rows, k, s_rows, s_k, 4, 0, aligned=False) == want


def test_dense_layout_alignment():
    """cp.async operands need a 16-byte start and leading dimension, else a copy."""
    assert plan.dense_layout(8, 8, 8, 1, 4, 256, aligned=True) == plan.Dense(True, 8)
    assert plan.dense_layout(8, 7, 7, 1, 4, 256, aligned=True) is None
    assert plan.dense_layout(8, 8, 8, 1, 4, 260, aligned=True) is None
    assert plan.dense_layout(8, 8, 8, 1, 2, 256, aligned=True) == plan.Dense(True, 8)  # 16 bytes of fp16
    assert plan.dense_layout(1, 5, 5, 1, 2, 0, aligned=True) == plan.Dense(True, 8)  # free ld rounded up
    assert plan.needs_alignment("simt", True) is False and plan.needs_alignment("simt", False) is True
    assert plan.needs_alignment("float16", True) is True


def test_collapse_batch():
    # C-contiguous (2, 3, 4) batch of 5x6 matrices and a broadcast operand
    a = [3 * 4 * 30, 4 * 30, 30]
    b = [0, 0, 0]
    dims, st = plan.collapse_batch((2, 3, 4), [a, b])
    assert dims == [24] and st == [[30], [0]]
    # a transposed batch cannot merge
    dims, st = plan.collapse_batch((2, 3), [[30, 60], [0, 0]])
    assert dims == [2, 3] and st == [[30], [0]] or (dims == [2, 3] and st == [[30, 60], [0, 0]])
    # size-1 dimensions vanish
    dims, st = plan.collapse_batch((1, 5, 1), [[7, 3, 1]])
    assert dims == [5] and st == [[3]]


def test_batch_chunks_fit_the_grid():
    for b1, b2 in ((1, 1), (70000, 1), (65535, 1), (40000, 3)):
        chunks = plan.batch_chunks(b1, b2)
        assert sum(c for _, c in chunks) == b1 and all(c * b2 <= plan.MAX_GRID_Y for _, c in chunks)
        assert [z for z, _ in chunks] == sorted(z for z, _ in chunks)


def _tile_of(bid, tiles_m, tiles_n):
    """mainloop.cuh tile_of, transcribed."""
    g = 8
    group = bid // (g * tiles_n)
    first = group * g
    gm = min(tiles_m - first, g)
    inn = bid - group * g * tiles_n
    return first + inn % gm, inn // gm


@pytest.mark.parametrize("tm,tn", [(1, 1), (3, 5), (8, 8), (17, 3), (64, 64), (9, 1)])
def test_tile_order_covers_every_tile_once(tm, tn):
    seen = {_tile_of(b, tm, tn) for b in range(tm * tn)}
    assert seen == {(i, j) for i in range(tm) for j in range(tn)}
    assert plan.tiles(tm * 128 - 5, tn * 128, S.Simt(128, 128, 8, 8, 8, 3)) == tm * tn


def test_shared_memory_sizes():
    """smem_bytes mirrors TileShape/Pad of common.cuh (worked by hand here)."""
    # fp32 SIMT 128x128x8, 3 stages: [k][r] tiles of 8 x (128 + 8) floats each
    assert S.smem_bytes(S.Simt(128, 128, 8, 8, 8, 3), "float32", True, True) == 3 * 2 * 8 * 136 * 4
    # fp16 128x128x32, 4 stages, [r][k] tiles of 128 x (32 + 8) halves
    assert S.smem_bytes(S.Tc(128, 128, 32, 64, 64, 4), "float16", True, True) == 4 * 2 * 128 * 40 * 2
    # [k][r] fp16 tiles: 32 x (128 + 8)
    assert S.smem_bytes(S.Tc(128, 128, 32, 64, 64, 4), "float16", False, False) == 4 * 2 * 32 * 136 * 2
    # tf32 [k][r]: 32-byte padding
    assert S.smem_bytes(S.Tc(128, 128, 16, 64, 64, 4), "float32", True, False) == 4 * (128 * 20 + 16 * 136) * 4
    for kind, cfgs in S.TC_CANDIDATES.items():  # every candidate fits an H100/H200 (227 KiB)
        dt = "float32" if kind == "tf32" else kind
        for cfg in cfgs:
            assert max(S.smem_bytes(cfg, dt, a, b) for a in (0, 1) for b in (0, 1)) <= 227 * 1024


def test_catalogue_names_are_unique_and_well_formed():
    names = list(S.catalogue())
    assert len(names) == len(set(names))
    assert all(f in S.FILES for f, _ in names)
    assert S.gemm_name(S.Simt(128, 128, 8, 8, 8, 3), "float32", True, False) == "gemm_simt<float, 128, 128, 8, 8, 8, 3, true, false>"
    assert S.conv_implicit_name(S.Tc(128, 128, 32, 64, 64, 4), "float16", True, True) == \
        "conv_implicit_tc<half_t, 128, 128, 32, 64, 64, 4, true, true>"


def test_sources_inline_their_includes_once():
    text = S.source("conv.cu")
    assert '#include "' not in text
    assert text.count("struct Tap {") + text.count("struct __align__(16) Tap {") == 1


# ---------------------------------------------------------------------------------------------
# Tuning keys
# ---------------------------------------------------------------------------------------------

def test_tuning_keys_and_configs():
    k1 = plan.gemm_key("float32", "exact", 4000, 4096, 3000)
    assert k1 == plan.gemm_key("float32", "exact", 4096, 3500, 4096)  # same power-of-two class
    assert k1 != plan.gemm_key("float32", "tf32", 4000, 4096, 3000)
    assert plan.tiles_key("float32", "tf32") == "tf32 float32" and plan.tiles_key("float64", "exact") == "simt float64"
    assert plan.device(90, "NVIDIA H200") == ("NVIDIA H200", "sm_90", "nvidia")  # the store's device, arch, vendor
    cand = S.SIMT_CANDIDATES["float32"][3]
    assert plan.config_from(list(cand), "float32", "exact") == cand
    assert plan.config_from([1, 2, 3, 4, 5, 6], "float32", "exact") == S.SIMT_DEFAULT["float32"]
    assert plan.config_from(list(S.SIMT_CANDIDATES["float64"][2]), "float32", "exact") == S.SIMT_DEFAULT["float32"]
    assert plan.config_from(None, "float16", "exact") == S.TC_DEFAULT["float16"]
    assert plan.bucket(1) == 1 and plan.bucket(4096) == 4096 and plan.bucket(4097) == 8192


# ---------------------------------------------------------------------------------------------
# Convolution index arithmetic, emulated in NumPy exactly as the kernels do it
# ---------------------------------------------------------------------------------------------

def _emulate_conv(x, w, spec, shape):
    """The implicit-GEMM kernels' arithmetic: pixel_at + Tap table gathers of x (flat, with its
    element strides), packed weights in the layout's reduction order, one GEMM per group over
    all images, results written through the output strides (loaders.cuh, mainloop.cuh)."""
    g = spec.groups
    cg, kg = shape.c // g, shape.k // g
    xs = plan.nchw_strides(tuple(s // x.itemsize for s in x.strides), spec.layout)
    taps = plan.taps(shape, spec, xs)
    off, rh, sw = taps[:, 0], taps[:, 1] & 0xFFFFFFFF, taps[:, 1] >> 32
    P = shape.ho * shape.wo
    npix = shape.n * P
    j = np.arange(npix)
    img, p = j // P, j % P
    ho, wo = p // shape.wo, p % shape.wo
    ih0 = ho * spec.stride[0] - shape.padding[0]
    iw0 = wo * spec.stride[1] - shape.padding[2]
    base = img * xs[0] + ih0 * xs[2] + iw0 * xs[3]
    flat = np.lib.stride_tricks.as_strided(x, (x.size,), (x.itemsize,))  # x is C-contiguous here
    wpk = plan.pack_weights(np, w, g, spec.layout)
    kd = cg * shape.r * shape.s
    assert wpk.shape == (g, kg, plan.ldw(kd)) and not wpk[:, :, kd:].any()
    y = np.empty(shape.out_shape(spec.layout))
    ys = plan.out_strides(tuple(s // y.itemsize for s in y.strides), spec.layout, shape.wo)
    yflat = np.lib.stride_tricks.as_strided(y, (y.size,), (y.itemsize,))
    for gi in range(g):
        ih, iw = ih0[:, None] + rh[None, :], iw0[:, None] + sw[None, :]
        ok = (ih >= 0) & (ih < shape.h) & (iw >= 0) & (iw < shape.w)
        idx = gi * cg * xs[1] + base[:, None] + off[None, :]
        cols = np.where(ok, flat[np.where(ok, idx, 0)], 0.0)  # (npix, kd)
        acc = cols @ wpk[gi, :, :kd].T  # (npix, kg)
        ch = gi * kg + np.arange(kg)
        addr = img[:, None] * ys.yn + p[:, None] * ys.yp + ch[None, :] * ys.yk
        yflat[addr] = acc
    return y


CONV_CASES = [
    dict(n=2, c=3, h=9, w=7, k=4, r=3, s=3, stride=1, padding=1, dilation=1, groups=1),
    dict(n=1, c=4, h=8, w=8, k=6, r=3, s=2, stride=(2, 1), padding=(0, 1, 2, 0), dilation=(1, 2), groups=2),
    dict(n=3, c=6, h=5, w=6, k=6, r=3, s=3, stride=2, padding=1, dilation=1, groups=6),  # depthwise
    dict(n=1, c=5, h=11, w=10, k=3, r=7, s=7, stride=2, padding=3, dilation=1, groups=1),  # stem-like
    dict(n=2, c=8, h=4, w=4, k=5, r=1, s=1, stride=1, padding=0, dilation=1, groups=1),
]


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize("case", range(len(CONV_CASES)))
def test_emulated_kernel_arithmetic_matches_reference(layout, case, rng):
    c = CONV_CASES[case]
    xs = (c["n"], c["c"], c["h"], c["w"]) if layout == "NCHW" else (c["n"], c["h"], c["w"], c["c"])
    x = rng.integers(-3, 4, xs).astype(np.float64)
    w = rng.integers(-3, 4, (c["k"], c["c"] // c["groups"], c["r"], c["s"])).astype(np.float64)
    spec = A.make_spec("t", c["stride"], c["padding"], c["dilation"], c["groups"], layout, None)
    shape = A.shape_of("t", x.shape, w.shape, spec)
    got = _emulate_conv(x, w, spec, shape)
    ref = conv2d_ref(x, w, stride=c["stride"], padding=c["padding"], dilation=c["dilation"], groups=c["groups"], layout=layout)
    np.testing.assert_array_equal(got, ref)


def test_tap_table_packs_two_int32():
    spec = A.make_spec("t", 1, 2, (3, 2), 1, "NHWC", None)
    shape = A.shape_of("t", (1, 9, 9, 2), (1, 2, 2, 2), spec)
    t = plan.taps(shape, spec, (162, 1, 18, 2))
    pairs = t.view(np.int32).reshape(-1, 4)  # (off lo, off hi, rh, sw): the Tap struct
    assert pairs[:, 2].tolist() == [0, 0, 0, 0, 3, 3, 3, 3] and pairs[:, 3].tolist() == [0, 0, 2, 2, 0, 0, 2, 2]
    assert t[:, 0].tolist() == [0, 1, 4, 5, 54, 55, 58, 59]


def test_channel_padding_and_async_gather_rules():
    assert plan.pad_channels(3, 1, "NHWC", "float16") == 8
    assert plan.pad_channels(3, 1, "NCHW", "float16") == 3
    assert plan.pad_channels(3, 1, "NHWC", "simt") == 3
    assert plan.pad_channels(16, 1, "NHWC", "float16") == 16
    assert plan.pad_channels(3, 3, "NHWC", "float16") == 3  # grouped: padding would mix groups
    assert plan.gather_async_ok("NHWC", "float16", 64, (64 * 56 * 56, 1, 56 * 64, 64), 2, 256)
    assert not plan.gather_async_ok("NHWC", "float16", 60, (60 * 56 * 56, 1, 56 * 60, 60), 2, 256)
    assert not plan.gather_async_ok("NCHW", "float16", 64, (64 * 56 * 56, 56 * 56, 56, 1), 2, 256)
    assert not plan.gather_async_ok("NHWC", "simt", 64, (64 * 56 * 56, 1, 56 * 64, 64), 4, 256)
    assert plan.gather_async_ok("NHWC", "tf32", 4, (4 * 9, 1, 12, 4), 4, 0)


def test_conv_tiles_narrow_for_short_channel_sides_and_small_grids():
    f32, f16 = S.SIMT_DEFAULT["float32"], S.TC_DEFAULT["float16"]
    assert plan.conv_tiles(f16, False, "float16", "float16", 32 * 3136, 64, 132, True) == S.Tc(128, 64, 32, 64, 32, 4)
    assert plan.conv_tiles(f16, False, "float16", "float16", 32 * 3136, 256, 132, True) == f16
    assert plan.conv_tiles(f16, False, "float16", "float16", 32 * 49, 512, 132, True) == S.Tc(128, 64, 32, 64, 32, 4)
    assert plan.conv_tiles(f16, True, "float16", "float16", 32 * 3136, 64, 132, True) == f16  # tuned: kept
    assert plan.conv_tiles(f32, False, "simt", "float32", 64, 100000, 132, False) == S.Simt(64, 128, 8, 4, 8, 3)
    f64 = S.SIMT_DEFAULT["float64"]
    assert plan.conv_tiles(f64, False, "simt", "float64", 64, 64, 132, True) == f64
    names = {n for _, n in S.catalogue()}
    for kind, d in plan._NARROW.items():  # every narrow tile is compile-checked
        for pix, cfg in d.items():
            dt = "float32" if kind == "simt" else kind
            assert S.conv_implicit_name(cfg, dt, pix, kind != "simt") in names
