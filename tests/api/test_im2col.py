"""hpc_kernels.im2col against a NumPy lowering (torch.nn.functional.unfold order for NCHW), the
identity conv2d == reshape(w) @ im2col(x) per group, and hpc_kernels.conv2d_workspace: the extra
bytes each applicable algorithm allocates (im2col at least one lowered matrix, convgemm only
packing buffers)."""
from __future__ import annotations

import numpy as np
import pytest

import hpc_kernels
from _conv_reference import (
    applicable_algorithms,
    conv2d_ref_and_bound,
    im2col_ref,
    int_operands,
    kernel_hw,
    output_hw,
)
from _helpers import DTYPES, assert_within_bound, dt_id

LAYOUTS = ("NCHW", "NHWC")



def x_shape(N, C, H, W, layout):
    return (N, C, H, W) if layout == "NCHW" else (N, H, W, C)


# (N, C, H, W, kernel_size, options)
GEOMETRIES = [
    (2, 3, 7, 9, 3, dict()),
    (1, 5, 8, 6, (3, 3), dict(padding=1)),
    (2, 4, 11, 13, (3, 3), dict(stride=2, padding=1)),
    (1, 3, 9, 9, (3, 3), dict(padding=4)),
    (1, 2, 12, 10, (5, 5), dict(dilation=2, padding=(2, 1))),
    (3, 4, 10, 11, (2, 5), dict(stride=(2, 3), padding=(1, 2, 0, 3))),
    (1, 7, 9, 8, (1, 3), dict(padding=(0, 1))),
    (1, 6, 5, 6, (7, 7), dict(padding=3)),
    (1, 17, 6, 7, 1, dict()),
    (1, 3, 13, 12, (3, 3), dict(stride=3, dilation=3, padding=2)),
    (2, 5, 8, 8, (3, 3), dict(padding="same", dilation=2)),
    (1, 4, 6, 7, (2, 2), dict(padding="same")),
    (1, 4, 9, 9, (3, 3), dict(padding="valid")),
    (0, 3, 6, 6, (3, 3), dict(padding=1)),
]


def _geo_id(g):
    N, C, H, W, ks, opts = g
    return f"N{N}C{C}-{H}x{W}-k{ks}-" + "-".join(f"{k}{v}" for k, v in opts.items()).replace(" ", "")


@pytest.mark.parametrize("dtype", DTYPES, ids=dt_id)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("geo", GEOMETRIES, ids=_geo_id)
def test_im2col_matches_reference(geo, layout, dtype, rng):
    """Shape, dtype and every element (a copy: exact) of the lowered matrix, zeros where padded."""
    N, C, H, W, ks, opts = geo
    x = rng.standard_normal(x_shape(N, C, H, W, layout)).astype(dtype)
    got = hpc_kernels.im2col(x, ks, layout=layout, **opts)
    ref = im2col_ref(x, ks, layout=layout, **opts)
    R, S = kernel_hw(ks)
    Ho, Wo = output_hw(H, W, R, S, opts.get("stride", 1), opts.get("padding", 0), opts.get("dilation", 1))
    expected_shape = (N, C * R * S, Ho * Wo) if layout == "NCHW" else (N, Ho * Wo, R * S * C)
    assert got.shape == expected_shape == ref.shape
    assert got.dtype == np.dtype(dtype)
    assert np.array_equal(got, ref)


def test_im2col_index_convention():
    """NCHW row (c*R + r)*S + s, column ho*Wo + wo; NHWC column (r*S + s)*C + c: checked on an
    input whose values encode their own coordinates."""
    C, H, W, R, S = 3, 5, 6, 2, 3
    c, h, w = np.meshgrid(np.arange(C), np.arange(H), np.arange(W), indexing="ij")
    x = (1000 * c + 10 * h + w + 1).astype(np.float64)[None]  # > 0 everywhere: 0 means padding
    cols = hpc_kernels.im2col(x, (R, S), padding=(1, 0, 0, 1))
    Ho, Wo = H + 1 - R + 1, W + 1 - S + 1
    for ci in range(C):
        for r in range(R):
            for s in range(S):
                for ho in range(Ho):
                    for wo in range(Wo):
                        hi, wi = ho + r - 1, wo + s
                        want = x[0, ci, hi, wi] if 0 <= hi < H and 0 <= wi < W else 0.0
                        assert cols[0, (ci * R + r) * S + s, ho * Wo + wo] == want
    colsh = hpc_kernels.im2col(np.ascontiguousarray(x.transpose(0, 2, 3, 1)), (R, S), padding=(1, 0, 0, 1), layout="NHWC")
    for ci in range(C):
        for r in range(R):
            for s in range(S):
                assert np.array_equal(colsh[0, :, (r * S + s) * C + ci], cols[0, (ci * R + r) * S + s, :])


@pytest.mark.parametrize("layout", LAYOUTS)
def test_im2col_noncontiguous_x(layout, rng):
    base = rng.standard_normal((2, 8, 20, 18))
    x = base[:, 1:6, ::2, ::-2]
    if layout == "NHWC":
        x = x.transpose(0, 2, 3, 1)
    got = hpc_kernels.im2col(x, (3, 2), stride=(1, 2), padding=1, layout=layout)
    assert np.array_equal(got, im2col_ref(x, (3, 2), stride=(1, 2), padding=1, layout=layout))


# --------------------------------------------------------------------------------------------
# conv2d == reshape(w) @ im2col(x), group by group
# --------------------------------------------------------------------------------------------

def conv_from_im2col(cols, w, groups, layout, N, Ho, Wo):
    """The convolution rebuilt from a lowered x with float64 matmuls, one per group."""
    K, Cg, R, S = w.shape
    Kg = K // groups
    cols = np.asarray(cols, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    P = Ho * Wo
    parts = []
    for g in range(groups):
        wg = w[g * Kg : (g + 1) * Kg]
        if layout == "NCHW":  # rows of group g are contiguous: channels g*Cg .. (g+1)*Cg
            cg = cols[:, g * Cg * R * S : (g + 1) * Cg * R * S, :]
            parts.append(wg.reshape(Kg, Cg * R * S) @ cg)  # (N, Kg, P)
        else:  # columns (r*S + s)*C + c: take group g's channels out of every tap
            cg = cols.reshape(N, P, R * S, groups * Cg)[..., g * Cg : (g + 1) * Cg].reshape(N, P, R * S * Cg)
            parts.append(cg @ wg.transpose(0, 2, 3, 1).reshape(Kg, R * S * Cg).T)  # (N, P, Kg)
    if layout == "NCHW":
        return np.concatenate(parts, axis=1).reshape(N, K, Ho, Wo)
    return np.concatenate(parts, axis=2).reshape(N, Ho, Wo, K)


# (N, C, H, W, K, (R, S), groups, options)
LOWERED = [
    (2, 5, 9, 8, 7, (3, 3), 1, dict(padding=1)),
    (1, 6, 10, 9, 4, (3, 3), 2, dict(stride=2, padding=(1, 0, 2, 1))),
    (2, 8, 9, 9, 8, (5, 5), 8, dict(padding="same", dilation=2)),
    (1, 9, 7, 11, 6, (2, 5), 3, dict(stride=(1, 2), padding=(0, 2))),
    (3, 17, 6, 6, 19, (1, 1), 1, dict()),
]


@pytest.mark.parametrize("dtype", DTYPES, ids=dt_id)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("case", LOWERED, ids=lambda c: f"C{c[1]}K{c[4]}-{c[5][0]}x{c[5][1]}-g{c[6]}")
def test_conv2d_equals_w_times_im2col_per_group(case, layout, dtype, rng):
    """Integer data: conv2d and the per-group product reshape(w_g) @ im2col(x)_g agree exactly;
    random data: within the convolution bound."""
    N, C, H, W, K, RS, groups, opts = case
    Ho, Wo = output_hw(H, W, *RS, opts.get("stride", 1), opts.get("padding", 0), opts.get("dilation", 1))
    ops = int_operands(rng, x_shape(N, C, H, W, layout), (K, C // groups, *RS), dtype)
    y = hpc_kernels.conv2d(ops["x"], ops["w"], groups=groups, layout=layout, **opts)
    cols = hpc_kernels.im2col(ops["x"], RS, layout=layout, **opts)
    assert np.array_equal(y, conv_from_im2col(cols, ops["w"], groups, layout, N, Ho, Wo))

    x = rng.standard_normal(ops["x"].shape).astype(dtype)
    w = rng.standard_normal(ops["w"].shape).astype(dtype)
    y = hpc_kernels.conv2d(x, w, groups=groups, layout=layout, **opts)
    lowered = conv_from_im2col(hpc_kernels.im2col(x, RS, layout=layout, **opts), w, groups, layout, N, Ho, Wo)
    _, bound = conv2d_ref_and_bound(x, w, groups=groups, layout=layout, **opts)
    assert_within_bound(y, lowered, bound, "conv2d vs w @ im2col")


@pytest.mark.parametrize(
    "kwargs,exc,match",
    [
        (dict(x=np.ones((3, 8, 8))), ValueError, r"\bx\b"),
        (dict(padding=-1), ValueError, "padding"),
        (dict(stride=0), ValueError, "stride"),
        (dict(dilation=0), ValueError, "dilation"),
        (dict(kernel_size=(9, 3)), ValueError, r"kernel|input|output|size"),
        (dict(layout="HWCN"), ValueError, "layout"),
        (dict(padding="full"), ValueError, "padding"),
    ],
    ids=["x-3d", "padding", "stride", "dilation", "kernel-too-large", "layout", "padding-string"],
)
def test_im2col_errors(kwargs, exc, match):
    args = dict(x=np.ones((1, 2, 8, 8)), kernel_size=3)
    args.update(kwargs)
    x, ks = args.pop("x"), args.pop("kernel_size")
    with pytest.raises(exc, match=match):
        hpc_kernels.im2col(x, ks, **args)


# --------------------------------------------------------------------------------------------
# conv2d_workspace
# --------------------------------------------------------------------------------------------

MiB = 1 << 20

# (x_shape NCHW, w_shape, options)
WS_LAYERS = [
    ((1, 64, 224, 224), (64, 64, 3, 3), dict(padding=1)),
    ((1, 512, 14, 14), (512, 512, 3, 3), dict(padding=1)),
    ((1, 3, 224, 224), (64, 3, 7, 7), dict(stride=2, padding=3)),
    ((8, 256, 56, 56), (64, 256, 1, 1), dict()),
    ((1, 1024, 14, 14), (2048, 1024, 1, 1), dict(stride=2)),
    ((1, 32, 112, 112), (32, 1, 3, 3), dict(padding=1, groups=32)),
    ((2, 64, 28, 28), (128, 32, 3, 3), dict(padding="same", groups=2, dilation=2)),
    ((1, 5, 9, 7), (7, 5, 2, 5), dict(stride=(2, 1), padding=(1, 2, 0, 3))),
]


def _ws_id(c):
    xs, ws, opts = c
    return f"x{'x'.join(map(str, xs))}-w{'x'.join(map(str, ws))}" + ("-g" + str(opts["groups"]) if "groups" in opts else "")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("case", WS_LAYERS, ids=_ws_id)
def test_workspace_keys_and_sizes(case, layout, dtype):
    """One int >= 0 per applicable algorithm, exactly those; im2col holds at least the lowered
    matrix of one image and one group."""
    xs, ws, opts = case
    N, C, H, W = xs
    K, Cg, R, S = ws
    shape = xs if layout == "NCHW" else (N, H, W, C)
    got = hpc_kernels.conv2d_workspace(shape, ws, layout=layout, dtype=dtype, **opts)
    assert isinstance(got, dict)
    expected = set(applicable_algorithms(shape, ws, opts.get("stride", 1), opts.get("padding", 0),
                                         opts.get("dilation", 1), opts.get("groups", 1), layout)) - {"auto"}
    assert set(got) == expected
    for alg, nbytes in got.items():
        assert isinstance(nbytes, int) and not isinstance(nbytes, bool), (alg, nbytes)
        assert nbytes >= 0, (alg, nbytes)
    Ho, Wo = output_hw(H, W, R, S, opts.get("stride", 1), opts.get("padding", 0), opts.get("dilation", 1))
    lowered = Cg * R * S * Ho * Wo * np.dtype(dtype).itemsize
    assert got["im2col"] >= lowered, f"im2col workspace {got['im2col']} < one lowered matrix {lowered}"


@pytest.mark.parametrize("case", WS_LAYERS[:2], ids=_ws_id)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_workspace_convgemm_is_only_packing_buffers(case, layout):
    """Implicit convGemm lowers nothing: <= 4 MiB on typical CNN layers (where one lowered
    image takes 115.6 MB / 3.6 MB)."""
    xs, ws, opts = case
    N, C, H, W = xs
    shape = xs if layout == "NCHW" else (N, H, W, C)
    got = hpc_kernels.conv2d_workspace(shape, ws, layout=layout, **opts)
    assert got["convgemm"] <= 4 * MiB, got


def test_workspace_direct_nchw_large_planes_counts_the_nhwc_copies():
    """NCHW planes above 64x64 run "direct" on NHWC copies of x and y (csrc/conv/nchw_reorder.hpp):
    the workspace reports both; 64x64 planes run in place (their zero column, ~C*H*W elements, is
    the largest part)."""
    big = hpc_kernels.conv2d_workspace((1, 64, 224, 224), (64, 64, 3, 3), padding=1)["direct"]
    assert big >= 2 * 64 * 224 * 224 * 4
    small = hpc_kernels.conv2d_workspace((1, 64, 64, 64), (64, 64, 3, 3), padding=1)["direct"]
    assert small < 2 * 64 * 64 * 64 * 4 < big // 10


def test_workspace_defaults_and_dtypes():
    """Defaults: stride 1, no padding, one group, NCHW, float32; float64 doubles the lowered size."""
    xs, ws = (1, 8, 10, 10), (4, 8, 3, 3)
    d = hpc_kernels.conv2d_workspace(xs, ws)
    assert set(d) == {"im2col", "convgemm", "direct", "winograd"}  # a 3x3 stride-1 layer: Winograd applies
    assert d["im2col"] >= 8 * 9 * 8 * 8 * 4
    d64 = hpc_kernels.conv2d_workspace(xs, ws, dtype="float64")
    assert d64["im2col"] >= 8 * 9 * 8 * 8 * 8


@pytest.mark.parametrize(
    "ws,opts,present,absent",
    [
        ((16, 8, 1, 1), dict(), {"gemm"}, set()),
        ((16, 4, 1, 1), dict(groups=2), {"gemm"}, set()),
        ((16, 8, 1, 1), dict(stride=2), set(), {"gemm"}),
        ((16, 8, 1, 1), dict(padding=1), set(), {"gemm"}),
        ((16, 8, 3, 3), dict(padding=1), set(), {"gemm"}),
        ((8, 1, 3, 3), dict(padding=1, groups=8), set(), {"gemm"}),
        ((8, 1, 5, 5), dict(stride=2, groups=8), set(), {"gemm"}),
        ((16, 1, 3, 3), dict(groups=8), set(), {"gemm"}),  # depth multiplier 2: not depthwise
        ((8, 1, 1, 1), dict(groups=8), {"gemm"}, set()),
        ((16, 8, 3, 3), dict(padding=1, layout="NHWC"), set(), {"gemm"}),
        ((16, 4, 5, 5), dict(stride=2, groups=2, layout="NHWC"), set(), {"gemm"}),
        ((16, 1, 3, 3), dict(groups=8, layout="NHWC"), set(), {"gemm"}),
        ((16, 8, 1, 1), dict(layout="NHWC"), {"gemm"}, set()),
    ],
    ids=["1x1", "1x1-g2", "1x1-s2", "1x1-pad1", "3x3", "dw", "dw-5x5-s2", "dw-multiplier", "dw-1x1",
         "nhwc-3x3", "nhwc-5x5-s2-g2", "nhwc-dw-multiplier", "nhwc-1x1"],
)
def test_workspace_restricted_algorithms(ws, opts, present, absent):
    xs = (2, 12, 12, 8) if opts.get("layout") == "NHWC" else (2, 8, 12, 12)
    got = hpc_kernels.conv2d_workspace(xs, ws, **opts)
    assert {"im2col", "convgemm", "direct"} <= set(got)  # every layer has a direct form
    assert present <= set(got), got
    assert not (absent & set(got)), got


def test_workspace_errors():
    with pytest.raises(ValueError, match="groups"):
        hpc_kernels.conv2d_workspace((1, 6, 8, 8), (8, 2, 3, 3), groups=4)
    with pytest.raises(ValueError, match=r"kernel|input|output|size"):
        hpc_kernels.conv2d_workspace((1, 4, 2, 2), (8, 4, 3, 3))
    with pytest.raises(ValueError, match="stride"):
        hpc_kernels.conv2d_workspace((1, 4, 8, 8), (8, 4, 3, 3), stride=0)
