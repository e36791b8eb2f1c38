"""The numba backend against the float64 oracle and the reference backend: gemm/matmul (every
transpose, order and view, BLAS beta/alpha/k=0 semantics, NaN), conv2d (the conv2d sweep's layers
with every algorithm, both layouts and every epilogue, exact on integer data and bounded on random
data), im2col, plans, threads, errors, and the on-disk kernel cache of a second process."""
from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

pytest.importorskip("numba", reason="the numba backend needs numba: pip install 'hpc-kernels[numba]'")

import hpc_kernels  # noqa: E402

from _conv_reference import conv2d_ref, conv2d_ref_and_bound, im2col_ref, int_operands, normal_operands  # noqa: E402
from _helpers import DTYPES, assert_within_bound, check_gemm, dt_id, in_layout, layout_of, python_code, rand, small_ints  # noqa: E402
from _conv_cases import BOUND_CASES, EPILOGUES, EXACT_CASES, LAYOUTS, describe, run_conv  # noqa: E402

NB = "numba"
TRANS = list(itertools.product((False, True), (False, True)))


def operands(rng, m, n, k, dtype, ta, tb, la="C", lb="C", ints=False):
    a, _ = layout_of(rng, (k, m) if ta else (m, k), dtype, la, ints)
    b, _ = layout_of(rng, (n, k) if tb else (k, n), dtype, lb, ints)
    return a, b


# ------------------------------------------------------------------------------------ gemm

# Shapes across the tile (6/3 x 64), KC = 256 and the float64 NC = 512 block edges.
SHAPES = [(1, 1, 1), (7, 13, 17), (6, 64, 256), (13, 130, 257), (97, 600, 31), (200, 65, 520)]


@pytest.mark.parametrize("dtype", DTYPES, ids=dt_id)
@pytest.mark.parametrize("ta,tb", TRANS)
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("mnk", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_gemm_sweep(dtype, ta, tb, order, mnk, rng):
    m, n, k = mnk
    a, b = operands(rng, m, n, k, dtype, ta, tb, order, order)
    c0, _ = layout_of(rng, (m, n), dtype, order)
    c = c0.copy(order="K")
    got = hpc_kernels.gemm(a, b, c, alpha=0.7, beta=-1.0, trans_a=ta, trans_b=tb, backend=NB)
    assert got is c
    check_gemm(got, a, b, c0, 0.7, -1.0, ta, tb, what=f"{mnk}")
    new = hpc_kernels.gemm(a, b, trans_a=ta, trans_b=tb, backend=NB)
    check_gemm(new, a, b, None, 1.0, 0.0, ta, tb, what=f"{mnk} new")


@pytest.mark.parametrize("dtype", DTYPES, ids=dt_id)
@pytest.mark.parametrize("layouts", [("strided", "C", "neg"), ("neg", "negF", "sub"), ("rows2", "sub", "negF"),
                                     ("negF", "strided", "strided")], ids="-".join)
def test_gemm_views_exact(dtype, layouts, rng):
    """Strided, negative-stride, sliced, read-only views in place; integer data: exact; nothing
    of C's owner outside the view written."""
    la, lb, lc = layouts
    for (m, n, k), (ta, tb) in zip(((37, 70, 23), (9, 129, 300), (64, 5, 41)), TRANS):
        a, b = operands(rng, m, n, k, dtype, ta, tb, la, lb, ints=True)
        a.flags.writeable = b.flags.writeable = False
        c0 = small_ints(rng, (m, n), dtype)
        c, base = in_layout(c0, lc, fill=np.nan)
        got = hpc_kernels.gemm(a, b, c, alpha=-1.0, beta=2.0, trans_a=ta, trans_b=tb, backend=NB)
        opa, opb = (a.T if ta else a).astype(np.int64), (b.T if tb else b).astype(np.int64)
        np.testing.assert_array_equal(got, (-(opa @ opb) + 2 * c0.astype(np.int64)).astype(dtype))
        _, mask = in_layout(np.ones((m, n), bool), lc, fill=False)
        assert np.isnan(base[~mask]).all()


@pytest.mark.parametrize("dtype", DTYPES, ids=dt_id)
def test_gemm_blas_semantics(dtype, rng):
    """beta == 0 never reads C; alpha == 0 or k == 0 never reads A, B; NaN in A propagates."""
    for m, n, k in ((13, 70, 5), (6, 64, 0)):
        a, b = operands(rng, m, n, k, dtype, False, False, ints=True)
        c = np.full((m, n), np.nan, dtype)
        got = hpc_kernels.gemm(a, b, c, beta=0.0, backend=NB)
        assert np.isfinite(got).all()
        check_gemm(got, a, b, None, 1.0, 0.0)
    a, b = np.full((4, 3), np.nan, dtype), np.full((3, 5), np.inf, dtype)
    c0 = small_ints(rng, (4, 5), dtype)
    np.testing.assert_array_equal(hpc_kernels.gemm(a, b, c0.copy(), alpha=0.0, beta=-1.0, backend=NB), -c0)
    a, b = operands(rng, 20, 70, 9, dtype, False, False, ints=True)
    a[3, 2] = np.nan
    got = hpc_kernels.gemm(a, b, backend=NB)
    assert np.isnan(got[3]).all() and np.isfinite(np.delete(got, 3, axis=0)).all()


def test_gemm_c_and_out(rng):
    a, b = rand(rng, (30, 20), np.float32), rand(rng, (20, 70), np.float32)
    c = rand(rng, (30, 70), np.float32)
    out = np.full((30, 70), np.nan, np.float32)
    got = hpc_kernels.gemm(a, b, c, beta=0.5, out=out, backend=NB)
    assert got is out
    check_gemm(out, a, b, c, 1.0, 0.5)


# ------------------------------------------------------------------------------------ matmul

@pytest.mark.parametrize("dtype", DTYPES, ids=dt_id)
@pytest.mark.parametrize("sa,sb", [((5, 7), (7, 3)), ((2, 3, 9, 4), (4, 70)), ((4, 1, 6, 5), (3, 5, 8)),
                                   ((7,), (7, 2)), ((3, 7), (7,)), ((7,), (7,))])
def test_matmul(dtype, sa, sb, rng):
    a, b = rand(rng, sa, dtype), rand(rng, sb, dtype)
    got = hpc_kernels.matmul(a, b, backend=NB)
    ref = np.matmul(a.astype(np.float64), b.astype(np.float64))
    assert np.shape(got) == ref.shape
    np.testing.assert_allclose(got, ref, rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-5)
    out = np.empty(ref.shape, dtype)
    if out.ndim:
        assert hpc_kernels.matmul(a, b, out=out, backend=NB) is out
        np.testing.assert_array_equal(out, got)


# ------------------------------------------------------------------------------------ conv2d

def _sweep_case(case, rng, make_operands):
    """Operands of a sweep case from make_operands (integer or normal), and numba's result."""
    layer, epi = case.layer, EPILOGUES[case.epilogue]
    ops = make_operands(rng, layer.x_shape(case.layout), layer.w_shape, case.dtype, bias=epi.get("bias", False),
                        scale=epi.get("scale", False), shift=epi.get("shift", False))
    act = epi.get("activation")
    got = run_conv(layer, ops, case.algorithm, case.layout, act, backend=NB)
    ref_kw = dict(scale=ops["scale"], shift=ops["shift"], activation=act, **layer.geo(case.layout))
    return got, ops, ref_kw


# The shared sweep holds every algorithm some backend implements; numba runs its own (and "auto").
_NUMBA_ALGORITHMS = set(hpc_kernels._dispatch._load("numba").algorithms) | {"auto"}
_EXACT = [c for c in EXACT_CASES if c.algorithm in _NUMBA_ALGORITHMS]
_BOUND = [c for c in BOUND_CASES[::3] if c.algorithm in _NUMBA_ALGORITHMS]


@pytest.mark.parametrize("case", _EXACT, ids=lambda c: c.id)
def test_conv2d_exact(case, rng):
    """The conv2d sweep (every layer, algorithm, both layouts, epilogues) on integer data: exact."""
    got, ops, ref_kw = _sweep_case(case, rng, int_operands)
    ref = conv2d_ref(ops["x"], ops["w"], ops["bias"], **ref_kw)
    assert got.dtype == np.dtype(case.dtype) and got.shape == ref.shape, describe(case)
    np.testing.assert_array_equal(got, ref, err_msg=describe(case))


@pytest.mark.parametrize("case", _BOUND, ids=lambda c: c.id)
def test_conv2d_within_bound(case, rng):
    got, ops, ref_kw = _sweep_case(case, rng, normal_operands)
    ref, bound = conv2d_ref_and_bound(ops["x"], ops["w"], ops["bias"], **ref_kw)
    assert_within_bound(got, ref, bound, describe(case))


@pytest.mark.parametrize("algorithm", ["im2col", "convgemm", "direct"])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_conv2d_large_layer_agrees_with_cpu(algorithm, layout, rng):
    """A layer over several KC and NC blocks: numba, cpu and the oracle within the bound; the
    output a channel slice of a NaN-filled buffer (only the slice written)."""
    groups = 96 if algorithm == "direct" else 2
    if algorithm == "direct" and layout == "NCHW":
        groups = 96
    c = k = 96
    x_shape = (2, c, 30, 28) if layout == "NCHW" else (2, 30, 28, c)
    ops = normal_operands(rng, x_shape, (k, c // groups, 3, 3), np.float32, bias=True, scale=True, shift=True)
    kw = dict(padding=1, groups=groups, layout=layout, activation="relu", scale=ops["scale"], shift=ops["shift"])
    ref, bound = conv2d_ref_and_bound(ops["x"], ops["w"], ops["bias"], **kw)
    big = np.full((2, 2 * k, 30, 28) if layout == "NCHW" else (2, 30, 28, 2 * k), np.nan, np.float32)
    out = big[:, k:] if layout == "NCHW" else None
    got = hpc_kernels.conv2d(ops["x"], ops["w"], ops["bias"], algorithm=algorithm, out=out, backend=NB, **kw)
    assert_within_bound(got, ref, bound, "numba")
    assert_within_bound(hpc_kernels.conv2d(ops["x"], ops["w"], ops["bias"], algorithm=algorithm, backend="cpu", **kw), ref, bound, "cpu")
    if out is not None:
        assert got is out and np.isnan(big[:, :k]).all()


# Layers for the direct kernel's own paths: output channels over several NR panels with a tail
# (130 = 2 x 64 + 2), pixels over several MR tiles with a tail, kernel rows clipped by the
# padding on the left and right (row runs and per-tap segments in one tile), strides, dilation
# (no row runs), groups (channels not contiguous runs of x), a 1x1 layer, and the C = 3 stem.
DIRECT_LAYERS = [
    dict(c=16, k=130, hw=(9, 11), rs=(3, 3), stride=1, padding=1, dilation=1, groups=1),
    dict(c=8, k=70, hw=(13, 7), rs=(5, 3), stride=(2, 1), padding=(2, 1), dilation=1, groups=1),
    dict(c=12, k=66, hw=(10, 10), rs=(3, 3), stride=1, padding=2, dilation=2, groups=1),
    dict(c=12, k=20, hw=(8, 9), rs=(3, 3), stride=2, padding=1, dilation=1, groups=2),
    dict(c=40, k=65, hw=(5, 5), rs=(1, 1), stride=1, padding=0, dilation=1, groups=1),
    dict(c=3, k=64, hw=(17, 17), rs=(7, 7), stride=2, padding=3, dilation=1, groups=1),
]


@pytest.mark.parametrize("dtype", DTYPES, ids=dt_id)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("geo", DIRECT_LAYERS, ids=lambda g: f"c{g['c']}k{g['k']}r{g['rs'][0]}g{g['groups']}")
def test_direct_kernel_exact(geo, layout, dtype, rng):
    """The direct kernel, one-shot (each thread packs its weight panels) and from a plan (packed
    once), on 1 and 2 threads, batch 3, with the epilogue: exact on integer data, and bitwise
    equal to each other."""
    g = dict(geo)
    c, k, (h, w_), rs = g.pop("c"), g.pop("k"), g.pop("hw"), g.pop("rs")
    x_shape = (3, c, h, w_) if layout == "NCHW" else (3, h, w_, c)
    ops = int_operands(rng, x_shape, (k, c // g["groups"]) + rs, dtype, bias=True, scale=True)
    kw = dict(g, layout=layout, activation="relu", scale=ops["scale"])
    ref = conv2d_ref(ops["x"], ops["w"], ops["bias"], **kw)
    plan = hpc_kernels.Conv2d(ops["w"], ops["bias"], algorithm="direct", backend=NB, **kw)
    for threads in (1, 2):
        with hpc_kernels.num_threads(threads):
            one_shot = hpc_kernels.conv2d(ops["x"], ops["w"], ops["bias"], algorithm="direct", backend=NB, **kw)
            np.testing.assert_array_equal(one_shot, ref, err_msg=f"one-shot, {threads} thread(s)")
            np.testing.assert_array_equal(plan(ops["x"]), ref, err_msg=f"plan, {threads} thread(s)")


def test_direct_plan_keeps_its_weights(rng):
    """A plan owns its weights: writing to w afterwards does not change its results."""
    ops = int_operands(rng, (1, 5, 6, 8), (7, 8, 3, 3), np.float32)
    kw = dict(padding=1, layout="NHWC")
    ref = conv2d_ref(ops["x"], ops["w"], **kw)
    plan = hpc_kernels.Conv2d(ops["w"], algorithm="direct", backend=NB, **kw)
    ops["w"][...] = 0
    np.testing.assert_array_equal(plan(ops["x"]), ref)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_im2col(layout, rng):
    x = rand(rng, (2, 5, 9, 8), np.float64)
    x = x if layout == "NCHW" else x.transpose(0, 2, 3, 1)  # NHWC: a transposed view, read in place
    got = hpc_kernels.im2col(x, (3, 2), stride=(2, 1), padding=1, dilation=(1, 2), layout=layout, backend=NB)
    ref = im2col_ref(x, (3, 2), stride=(2, 1), padding=1, dilation=(1, 2), layout=layout)
    np.testing.assert_array_equal(got, ref)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("algorithm", ["auto", "im2col", "convgemm", "direct"])
def test_plan_matches_one_shot(layout, algorithm, rng):
    groups = 6 if algorithm == "direct" else 2
    x_shape = (2, 6, 9, 8) if layout == "NCHW" else (2, 9, 8, 6)
    ops = int_operands(rng, x_shape, (6, 6 // groups, 3, 3), np.float32, bias=True, shift=True)
    kw = dict(padding=1, stride=(1, 2), groups=groups, layout=layout, activation="relu", shift=ops["shift"], algorithm=algorithm)
    plan = hpc_kernels.Conv2d(ops["w"], ops["bias"], backend=NB, **kw)
    ref = conv2d_ref(ops["x"], ops["w"], ops["bias"], **{k: v for k, v in kw.items() if k != "algorithm"})
    np.testing.assert_array_equal(plan(ops["x"]), ref)
    np.testing.assert_array_equal(hpc_kernels.conv2d(ops["x"], ops["w"], ops["bias"], backend=NB, **kw), ref)


# ------------------------------------------------------------------------------------ threads, errors

def test_thread_counts_agree(rng):
    a, b = small_ints(rng, (130, 300), np.float32), small_ints(rng, (300, 200), np.float32)
    results = []
    for n in (1, 2):
        with hpc_kernels.num_threads(n):
            results.append(hpc_kernels.gemm(a, b, backend=NB))
            assert hpc_kernels.get_num_threads() == n
    np.testing.assert_array_equal(results[0], results[1])
    np.testing.assert_array_equal(results[0], (a.astype(np.int64) @ b.astype(np.int64)).astype(np.float32))


def test_errors(rng):
    a32, a64 = np.ones((3, 4), np.float32), np.ones((4, 3))
    with pytest.raises(TypeError, match="same dtype"):
        hpc_kernels.gemm(a32, a64, backend=NB)
    with pytest.raises(ValueError, match="do not agree"):
        hpc_kernels.gemm(a32, a32, backend=NB)
    with pytest.raises(TypeError, match="never cast"):
        hpc_kernels.gemm(a32, a32.T.copy(), out=np.empty((3, 3)), backend=NB)
    with pytest.raises(ValueError, match="read-only"):
        ro = np.empty((3, 3), np.float32)
        ro.flags.writeable = False
        hpc_kernels.gemm(a32, a32.T.copy(), out=ro, backend=NB)
    with pytest.raises(ValueError, match="shares memory"):
        x = np.ones((4, 4), np.float32)
        hpc_kernels.gemm(x, x, out=x, backend=NB)
    with pytest.raises(TypeError, match="int32"):
        hpc_kernels.gemm(np.ones((2, 2), np.int32), np.ones((2, 2), np.int32), backend=NB)
    x, w = np.ones((1, 4, 5, 5), np.float32), np.ones((3, 4, 3, 3), np.float32)
    with pytest.raises(ValueError, match="overlap"):
        big = np.ones((1, 4, 5, 5), np.float32)
        hpc_kernels.conv2d(big, w[:, :, :1, :1][:, :4], out=big[:, :3], backend=NB)
    with pytest.raises(ValueError, match="expected"):
        hpc_kernels.conv2d(x, w, out=np.empty((1, 3, 4, 4), np.float32), backend=NB)
    with pytest.raises(ValueError, match="algorithm must be one of"):
        hpc_kernels.conv2d(x, w, algorithm="fft", backend=NB)
    with pytest.raises(ValueError, match="does not implement algorithm 'winograd'"):
        hpc_kernels.conv2d(x, w, algorithm="winograd", backend=NB)


# ------------------------------------------------------------------------------------ cache, info

def test_second_process_loads_kernels_from_the_cache(tmp_path):
    """A fresh process with a warm cache: every kernel loads from disk, first calls well under 1 s
    (the first process compiles them into the same cache directory, saying so on stderr); describe()
    reports the kernels' state without compiling them (not compiled, on disk, in memory)."""
    code = ("import json, hpc_kernels; be = hpc_kernels.get_backend('numba'); k0 = be.describe()['kernels']; "
            "t = be.first_call_seconds(); print(json.dumps([k0, t, be.describe()['kernels']]))")
    env = {"NUMBA_CACHE_DIR": str(tmp_path)}
    first = python_code(code, env, timeout=600)
    assert first.returncode == 0, first.stderr
    cold, _, after = json.loads(first.stdout.strip().splitlines()[-1])
    assert cold["not_compiled"] > 0 and cold["on_disk"] == 0 and cold["in_memory"] == 0, cold
    assert 0 < after["in_memory"] and after["in_memory"] + after["not_compiled"] == cold["not_compiled"], after
    assert "numba backend: compiling gemm.gemm for float32" in first.stderr  # the cold compile said what it does
    second = python_code(code, env, timeout=120)
    assert second.returncode == 0, second.stderr
    warm, times, _ = json.loads(second.stdout.strip().splitlines()[-1])
    assert warm["on_disk"] == after["in_memory"] and warm["in_memory"] == 0, warm  # what the first compiled, on disk
    assert all(t < 1.0 for t in times.values()), times
    assert "compiling" not in second.stderr
    assert any(tmp_path.rglob("*.nbi")), "no numba index files in the cache directory"
