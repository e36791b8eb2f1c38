"""hpc_kernels.gemm against float64 NumPy with the netlib elementwise bound, on every ISA and backend."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

import hpc_kernels

from _helpers import DTYPES, block_info, check_gemm, dt_id, in_layout, layout_of, rand, small_ints

TRANS = list(itertools.product((False, True), (False, True)))
ALPHA_BETA = list(itertools.product((0.0, 1.0, -1.0, 0.7), (0.0, 1.0, -1.0, 0.7)))


def operands(rng, m, n, k, dtype, trans_a=False, trans_b=False, layout_a="C", layout_b="C", ints=False):
    """a, b with op(a) m x k and op(b) k x n, in the given layouts."""
    a, _ = layout_of(rng, (k, m) if trans_a else (m, k), dtype, layout_a, ints)
    b, _ = layout_of(rng, (n, k) if trans_b else (k, n), dtype, layout_b, ints)
    return a, b



# ---------------------------------------------------------------------------------------------
# Core sweep: every engine (each ISA, default and tiny blocks, and backend="reference")
# ---------------------------------------------------------------------------------------------

SWEEP_SHAPES = [
    (1, 1, 1),
    (3, 5, 2),
    (7, 13, 17),
    (33, 25, 40),
    (64, 64, 64),
    (97, 130, 31),
    (200, 37, 150),
    (129, 300, 65),
]


@pytest.mark.parametrize("dtype", DTYPES, ids=dt_id)
@pytest.mark.parametrize("trans_a,trans_b", TRANS)
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("mnk", SWEEP_SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_gemm_sweep(engine, dtype, trans_a, trans_b, order, mnk, rng):
    """Every transpose combination, C and F order for A, B and C, sizes 1..300."""
    m, n, k = mnk
    a, b = operands(rng, m, n, k, dtype, trans_a, trans_b, order, order)
    c0, _ = layout_of(rng, (m, n), dtype, order)
    c = c0.copy(order="K")
    got = hpc_kernels.gemm(a, b, c, alpha=0.7, beta=-1.0, trans_a=trans_a, trans_b=trans_b, backend=engine)
    assert got is c
    check_gemm(got, a, b, c0, 0.7, -1.0, trans_a, trans_b, what=f"{engine} {mnk}")
    # no c: a new array, beta == 0
    new = hpc_kernels.gemm(a, b, alpha=1.0, trans_a=trans_a, trans_b=trans_b, backend=engine)
    assert isinstance(new, np.ndarray) and new.shape == (m, n)
    check_gemm(new, a, b, None, 1.0, 0.0, trans_a, trans_b, what=f"{engine} {mnk} new")


@pytest.mark.parametrize("dtype", DTYPES, ids=dt_id)
@pytest.mark.parametrize("alpha,beta", ALPHA_BETA)
def test_gemm_alpha_beta(engine, dtype, alpha, beta, rng):
    """alpha, beta in {0, 1, -1, 0.7}, on an edge-tile shape and a multi-block shape."""
    for m, n, k in ((5, 3, 9), (70, 45, 37)):
        a, b = operands(rng, m, n, k, dtype, trans_a=True)
        c0 = rand(rng, (m, n), dtype)
        c = c0.copy()
        got = hpc_kernels.gemm(a, b, c, alpha=alpha, beta=beta, trans_a=True, backend=engine)
        assert got is c
        check_gemm(got, a, b, c0, alpha, beta, True, False, what=f"{engine} alpha={alpha} beta={beta}")


# (layout of A, layout of B, layout of C): strided, negative-stride and sliced views everywhere.
LAYOUT_TRIPLES = [
    ("strided", "C", "C"),
    ("C", "strided", "F"),
    ("neg", "neg", "neg"),
    ("sub", "F", "strided"),
    ("rows2", "rows2", "sub"),
    ("negF", "sub", "negF"),
    ("F", "negF", "rows2"),
    ("strided", "strided", "strided"),
]


@pytest.mark.parametrize("dtype", DTYPES, ids=dt_id)
@pytest.mark.parametrize("layouts", LAYOUT_TRIPLES, ids="-".join)
@pytest.mark.parametrize("trans_a,trans_b", [(False, False), (True, True), (False, True)])
def test_gemm_views(engine, dtype, layouts, trans_a, trans_b, rng):
    """Strided, negative-stride and sliced views for A, B and C; elements of the array owning C
    outside the view are untouched."""
    la, lb, lc = layouts
    for m, n, k in ((37, 29, 23), (9, 70, 41)):
        a, b = operands(rng, m, n, k, dtype, trans_a, trans_b, la, lb)
        a0, b0 = a.copy(), b.copy()
        a.flags.writeable = b.flags.writeable = False  # read-only inputs are fine
        c0 = rand(rng, (m, n), dtype)
        c, base = in_layout(c0, lc, fill=np.nan)
        before = base.copy()
        got = hpc_kernels.gemm(a, b, c, alpha=-0.7, beta=0.7, trans_a=trans_a, trans_b=trans_b, backend=engine)
        np.testing.assert_array_equal(a, a0)
        np.testing.assert_array_equal(b, b0)
        assert got is c
        check_gemm(got, a, b, c0, -0.7, 0.7, trans_a, trans_b, what=f"{engine} {layouts}")
        _, mask = in_layout(np.ones((m, n), bool), lc, fill=False)  # True where the view is
        outside = ~mask
        np.testing.assert_array_equal(base[outside], before[outside])


def test_gemm_views_of_the_same_array(engine, rng):
    """A and B may be views of one array (only outputs must not overlap inputs)."""
    x = rand(rng, (60, 80), np.float64)
    a = x[:, :50]  # 60 x 50
    b = x[10:, 30:][::-1]  # 50 x 50, overlaps a
    got = hpc_kernels.gemm(a, b, backend=engine)
    check_gemm(got, a, b, None, 1.0, 0.0)
    got = hpc_kernels.gemm(x, x, trans_a=True, backend=engine)  # x.T @ x
    check_gemm(got, x, x, None, 1.0, 0.0, True, False)


# ---------------------------------------------------------------------------------------------
# Tile and block boundaries read from the configured engine
# ---------------------------------------------------------------------------------------------

BOUNDARY_SHAPES = {
    "MR-1,NR-1,1": lambda i: (i["mr"] - 1, i["nr"] - 1, 1),
    "MR,NR,7": lambda i: (i["mr"], i["nr"], 7),
    "MR+1,NR+1,8": lambda i: (i["mr"] + 1, i["nr"] + 1, 8),
    "2MR+1,2NR-1,KC": lambda i: (2 * i["mr"] + 1, 2 * i["nr"] - 1, i["kc"]),
    "MR,NR,KC+1": lambda i: (i["mr"], i["nr"], i["kc"] + 1),
    "3,5,KC-1": lambda i: (3, 5, i["kc"] - 1),
    "3,5,2KC+1": lambda i: (3, 5, 2 * i["kc"] + 1),
    "MC-1,5,9": lambda i: (i["mc"] - 1, 5, 9),
    "MC,NR,KC": lambda i: (i["mc"], i["nr"], i["kc"]),
    "MC+1,NR+1,KC+1": lambda i: (i["mc"] + 1, i["nr"] + 1, i["kc"] + 1),
    "5,NC-1,4": lambda i: (5, i["nc"] - 1, 4),
    "MR+1,NC,3": lambda i: (i["mr"] + 1, i["nc"], 3),
    "7,NC+1,KC+1": lambda i: (7, i["nc"] + 1, i["kc"] + 1),
}


@pytest.mark.parametrize("dtype", DTYPES, ids=dt_id)
@pytest.mark.parametrize("shape", list(BOUNDARY_SHAPES))
def test_gemm_tile_and_block_boundaries(cpu_engine, dtype, shape, rng):
    """m, n, k at MR/NR/MC/KC/NC +- 1 of the configured engine (all transposes, row/col-major C)."""
    m, n, k = BOUNDARY_SHAPES[shape](block_info(dtype))
    assert min(m, n, k) >= 0
    for (ta, tb), order in zip(TRANS, ("C", "F", "F", "C")):
        a, b = operands(rng, m, n, k, dtype, ta, tb, order, "F" if order == "C" else "C")
        c0, _ = layout_of(rng, (m, n), dtype, order)
        got = hpc_kernels.gemm(a, b, c0.copy(order="K"), alpha=0.7, beta=0.7, trans_a=ta, trans_b=tb, backend=cpu_engine)
        check_gemm(got, a, b, c0, 0.7, 0.7, ta, tb, what=f"{shape}={m},{n},{k} ta={ta} tb={tb}")


@pytest.mark.parametrize("dtype", DTYPES, ids=dt_id)
@pytest.mark.parametrize("threads", [1, 2])
def test_gemm_small_problems_edge_tiles(cpu_engine, dtype, threads, rng):
    """Small products (the paths without packing or threading) on every edge-tile combination:
    m in {1, MR-1, MR, MR+1, 2MR+1}, n in {1, NR-1, NR, NR+1}, k in {1, 7, 64}; integer data and
    alpha, beta in {-1, 2}, so results are exact; column-major, row-major and strided C."""
    i = block_info(dtype)
    mr, nr = i["mr"], i["nr"]
    with hpc_kernels.num_threads(threads):
        for m, n, k in itertools.product((1, mr - 1, mr, mr + 1, 2 * mr + 1), (1, nr - 1, nr, nr + 1), (1, 7, 64)):
            for lay, (ta, tb) in (("F", (False, False)), ("C", (True, True)), ("strided", (True, False))):
                a, b = operands(rng, m, n, k, dtype, ta, tb, "F" if not ta else "C", lay, ints=True)
                c0 = small_ints(rng, (m, n), dtype)
                c, base = in_layout(c0, lay, fill=np.nan)
                got = hpc_kernels.gemm(a, b, c, alpha=-1.0, beta=2.0, trans_a=ta, trans_b=tb, backend=cpu_engine)
                opa = (a.T if ta else a).astype(np.float64)
                opb = (b.T if tb else b).astype(np.float64)
                np.testing.assert_array_equal(got, -(opa @ opb) + 2.0 * c0, err_msg=f"{(m, n, k)} {lay} ta={ta} tb={tb}")
                _, mask = in_layout(np.ones((m, n), bool), lay, fill=False)
                assert np.isnan(base[~mask]).all()


# Row-major products m x n x k that take the unpacked paths (gemm.cpp direct_order) where they fit.
# Few columns and a long k, the late CNN layers as im2col GEMMs: the unpacked operand (k x n, up to
# 1 MiB) where it fits L2, packed where it does not (float64, or a smaller L2). Few rows m, the 64-
# and 128-channel layers: C^T = X^T W^T has few columns in kernel orientation and runs unpacked row
# block by row block, the last block partial.
LATE_LAYERS = [(512, 49, 4608), (96, 60, 2600), (200, 7, 9000)]
FEW_CHANNELS = [(64, 1571, 147), (128, 333, 576), (100, 2000, 40)]


@pytest.mark.parametrize("dtype", DTYPES, ids=dt_id)
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("mnk", LATE_LAYERS + FEW_CHANNELS, ids=lambda s: "x".join(map(str, s)))
def test_gemm_cnn_layer_rectangles(cpu_engine, dtype, threads, mnk, rng):
    """The CNN layer shapes above. Integer data: exact results; the elements of C's base outside
    the view stay untouched; beta == 0 reads no C; B a column slice of a wider array (row stride
    != n) is read as it lies."""
    m, n, k = mnk
    a, b = small_ints(rng, (m, k), dtype, -2, 2), small_ints(rng, (k, n), dtype, -2, 2)
    ref = a.astype(np.float64) @ b.astype(np.float64)
    with hpc_kernels.num_threads(threads):
        c0 = small_ints(rng, (m, n), dtype)
        c, base = in_layout(c0, "sub", fill=np.nan)
        got = hpc_kernels.gemm(a, b, c, alpha=-1.0, beta=2.0, backend=cpu_engine)
        np.testing.assert_array_equal(got, -ref + 2.0 * c0)
        _, mask = in_layout(np.ones((m, n), bool), "sub", fill=False)
        assert np.isnan(base[~mask]).all()
        out = np.full((m, n), np.nan, dtype)
        np.testing.assert_array_equal(hpc_kernels.gemm(a, b, out=out, backend=cpu_engine), ref)
        wide = small_ints(rng, (k, n + 7), dtype, -2, 2)
        np.testing.assert_array_equal(hpc_kernels.gemm(a, wide[:, 3:3 + n], backend=cpu_engine),
                                      a.astype(np.float64) @ wide[:, 3:3 + n].astype(np.float64))


@pytest.mark.parametrize("dtype", DTYPES, ids=dt_id)
def test_gemm_exact_integer_data(engine, dtype, rng):
    """Integer-valued data with alpha, beta in {1, -1, 2, 0.5, 0}: every operation is exact, so
    the result must equal NumPy's exactly (K up to 300, all transposes, views)."""
    shapes = [(1, 1, 1), (17, 9, 300), (64, 65, 63), (150, 130, 77), (3, 250, 129)]
    coeffs = [(1.0, 0.0), (-1.0, 1.0), (2.0, -1.0), (0.5, 2.0), (0.0, -1.0)]
    for (m, n, k), (alpha, beta), (ta, tb) in zip(shapes, coeffs, TRANS + [(True, False)]):
        a, b = operands(rng, m, n, k, dtype, ta, tb, "C", "neg", ints=True)
        c0 = small_ints(rng, (m, n), dtype, -20, 20)
        c, _ = in_layout(c0, "F")
        got = hpc_kernels.gemm(a, b, c, alpha=alpha, beta=beta, trans_a=ta, trans_b=tb, backend=engine)
        opa = (a.T if ta else a).astype(np.int64)
        opb = (b.T if tb else b).astype(np.int64)
        ref = alpha * (opa @ opb) + beta * c0.astype(np.int64)
        np.testing.assert_array_equal(got, ref.astype(dtype), err_msg=f"{engine} {(m, n, k)} alpha={alpha} beta={beta}")


# ---------------------------------------------------------------------------------------------
# Special values, BLAS quick returns, empty dimensions
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES, ids=dt_id)
@pytest.mark.parametrize("poison", [np.nan, np.inf, -np.inf], ids=["nan", "inf", "-inf"])
def test_gemm_beta_zero_never_reads_c(engine, dtype, poison, rng):
    """beta == 0: NaN/Inf in C must not leak, for every code path (edge tiles, k == 0, alpha == 0,
    row- and column-major C, strided C, the out= path)."""
    for (m, n, k), alpha, order in itertools.product(
        ((1, 1, 1), (13, 7, 5), (70, 50, 30), (6, 4, 0)), (1.0, 0.0, -0.7), ("C", "F", "strided")
    ):
        a, b = operands(rng, m, n, k, dtype, ints=True)
        c, _ = in_layout(np.full((m, n), poison, dtype), order, fill=poison)
        got = hpc_kernels.gemm(a, b, c, alpha=alpha, beta=0.0, backend=engine)
        assert np.all(np.isfinite(got)), f"{engine} {(m, n, k)} alpha={alpha} {order}: C leaked"
        check_gemm(got, a, b, None, alpha, 0.0)
        # c given with out=: c is not read either
        out = np.full((m, n), poison, dtype)
        got = hpc_kernels.gemm(a, b, np.full((m, n), poison, dtype), alpha=alpha, beta=0.0, out=out, backend=engine)
        assert got is out and np.all(np.isfinite(out))


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
@pytest.mark.parametrize("dtype", DTYPES, ids=dt_id)
def test_gemm_nan_in_inputs_propagates(engine, dtype, rng):
    """NaN in A (row i) / B (column j) gives NaN in row i / column j of C when alpha != 0;
    Inf gives Inf or NaN there; the other elements stay exact."""
    m, n, k = 40, 30, 20
    for ta, tb in TRANS:
        a, b = operands(rng, m, n, k, dtype, ta, tb, ints=True)
        opa, opb = (a.T if ta else a), (b.T if tb else b)
        opa[7, 3] = np.nan  # views: writes through to a / b
        opb[11, 21] = np.nan
        got = hpc_kernels.gemm(a, b, alpha=-0.5, trans_a=ta, trans_b=tb, backend=engine)
        expect = np.zeros((m, n), bool)
        expect[7, :] = True
        expect[:, 21] = True
        np.testing.assert_array_equal(np.isnan(got), expect)
        ref = -0.5 * (np.nan_to_num(opa).astype(np.float64) @ np.nan_to_num(opb).astype(np.float64))
        np.testing.assert_array_equal(got[~expect], ref[~expect].astype(dtype))
    a, b = operands(rng, m, n, k, dtype, ints=True)
    a[2, 5] = np.inf
    b[5, :] = 1.0
    got = hpc_kernels.gemm(a, b, backend=engine)
    assert np.all(~np.isfinite(got[2])) and np.all(np.isfinite(np.delete(got, 2, axis=0)))


@pytest.mark.parametrize("dtype", DTYPES, ids=dt_id)
def test_gemm_alpha_zero_or_k_zero_does_not_read_a_b(engine, dtype, rng):
    """alpha == 0 or k == 0: C = beta*C and A, B are not referenced (NaN in them does not leak)."""
    m, n, k = 20, 30, 10
    a = np.full((m, k), np.nan, dtype)
    b = np.full((k, n), np.inf, dtype)
    c0 = small_ints(rng, (m, n), dtype)
    for beta in (0.0, 1.0, -1.0, 0.5):
        got = hpc_kernels.gemm(a, b, c0.copy(), alpha=0.0, beta=beta, backend=engine)
        np.testing.assert_array_equal(got, (beta * c0).astype(dtype) if beta else np.zeros((m, n), dtype))
        got = hpc_kernels.gemm(
            np.empty((m, 0), dtype), np.empty((0, n), dtype), c0.copy(), alpha=0.7, beta=beta, backend=engine
        )
        np.testing.assert_array_equal(got, (beta * c0).astype(dtype) if beta else np.zeros((m, n), dtype))
    # no c, alpha == 0: zeros
    got = hpc_kernels.gemm(a, b, alpha=0.0, backend=engine)
    np.testing.assert_array_equal(got, np.zeros((m, n), dtype))


@pytest.mark.parametrize("dtype", DTYPES, ids=dt_id)
@pytest.mark.parametrize("mnk", [(0, 5, 7), (5, 0, 7), (5, 7, 0), (0, 0, 0), (0, 4, 0), (1, 0, 0)])
def test_gemm_zero_size(engine, dtype, mnk, rng):
    """Empty m, n or k: shape (m, n), k == 0 gives beta*C (zeros without c). The c/out arrays here
    are slices of bigger arrays (NumPy gives fresh empty arrays zero strides: see the xfail below)."""
    m, n, k = mnk
    for ta, tb in TRANS:
        a, b = operands(rng, m, n, k, dtype, ta, tb)
        got = hpc_kernels.gemm(a, b, trans_a=ta, trans_b=tb, backend=engine)
        assert got.shape == (m, n) and got.dtype == dtype
        np.testing.assert_array_equal(got, np.zeros((m, n), dtype))
        c0 = small_ints(rng, (m + 1, n + 1), dtype)[:m, :n]
        c = small_ints(rng, (m + 1, n + 1), dtype)[:m, :n]  # (a slice: non-zero strides even if empty)
        c[...] = c0
        assert hpc_kernels.gemm(a, b, c, beta=-1.0, trans_a=ta, trans_b=tb, backend=engine) is c
        np.testing.assert_array_equal(c, -c0)
        out = np.full((m + 2, n + 2), np.nan, dtype)[1 : m + 1, 1 : n + 1]
        assert hpc_kernels.gemm(a, b, c0, beta=2.0, trans_a=ta, trans_b=tb, out=out, backend=engine) is out
        np.testing.assert_array_equal(out, 2 * c0)


@pytest.mark.parametrize("mn", [(0, 5), (5, 0), (0, 4)])
@pytest.mark.parametrize("how", ["c", "out", "c-beta"])
@pytest.mark.parametrize("backend", ["cpu", "reference"])
def test_gemm_fresh_empty_output_is_accepted(backend, how, mn):
    m, n = mn
    k = 3
    a, b = np.ones((m, k)), np.ones((k, n))
    target = np.zeros((m, n))
    kw = {"c": dict(c=target), "out": dict(out=target), "c-beta": dict(c=target, beta=1.0)}[how]
    assert hpc_kernels.gemm(a, b, backend=backend, **kw) is target


# ---------------------------------------------------------------------------------------------
# Where the result goes: new array, c in place, out, both
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES, ids=dt_id)
def test_gemm_result_destination(engine, dtype, rng):
    m, n, k = 23, 31, 17
    a, b = operands(rng, m, n, k, dtype, ints=True)
    c0 = small_ints(rng, (m, n), dtype)
    ref = lambda alpha, beta: (alpha * (a.astype(np.float64) @ b) + beta * c0).astype(dtype)  # noqa: E731

    new = hpc_kernels.gemm(a, b, backend=engine)  # new array
    assert not np.shares_memory(new, a) and not np.shares_memory(new, b)
    np.testing.assert_array_equal(new, ref(1, 0))

    c = c0.copy()  # in place into c
    assert hpc_kernels.gemm(a, b, c, alpha=2.0, beta=-1.0, backend=engine) is c
    np.testing.assert_array_equal(c, ref(2, -1))

    c = c0.copy()  # out given: c is read, not written
    out = np.full((m, n), np.nan, dtype)
    assert hpc_kernels.gemm(a, b, c, alpha=-1.0, beta=1.0, out=out, backend=engine) is out
    np.testing.assert_array_equal(out, ref(-1, 1))
    np.testing.assert_array_equal(c, c0)

    out = np.full((m, n), np.nan, dtype)  # out without c, beta == 0
    assert hpc_kernels.gemm(a, b, out=out, backend=engine) is out
    np.testing.assert_array_equal(out, ref(1, 0))

    c = c0.copy()  # out is c: in place
    assert hpc_kernels.gemm(a, b, c, beta=1.0, out=c, backend=engine) is c
    np.testing.assert_array_equal(c, ref(1, 1))

    c = c0.copy()  # out given, read-only c is fine (c is only read)
    c.flags.writeable = False
    out = np.empty((m, n), dtype, order="F")
    assert hpc_kernels.gemm(a, b, c, beta=0.5, out=out, backend=engine) is out
    np.testing.assert_array_equal(out, ref(1, 0.5))

    c, base = in_layout(c0, "strided", fill=7.0)  # out strided view, c strided view
    out, obase = in_layout(np.zeros((m, n), dtype), "neg")
    assert hpc_kernels.gemm(a, b, c, beta=-1.0, out=out, backend=engine) is out
    np.testing.assert_array_equal(out, ref(1, -1))
    np.testing.assert_array_equal(c, c0)


def test_gemm_array_like_inputs():
    """Inputs may be array-likes (lists), by default dispatch or a named backend: float64 result."""
    for be in (None, "cpu", "reference"):
        got = hpc_kernels.gemm([[1.0, 2.0]], [[3.0], [4.0]], backend=be)
        assert got.dtype == np.float64
        np.testing.assert_array_equal(got, [[11.0]])


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_gemm_thread_counts(threads, rng):
    """Any thread count gives a result within the bound (exact on integer data)."""
    with hpc_kernels.num_threads(threads):
        for dtype in DTYPES:
            a, b = operands(rng, 257, 190, 300, dtype, ints=True)
            got = hpc_kernels.gemm(a, b)
            np.testing.assert_array_equal(got, (a.astype(np.float64) @ b).astype(dtype))
            a, b = operands(rng, 130, 301, 100, dtype, True, False)
            check_gemm(hpc_kernels.gemm(a, b, trans_a=True), a, b, None, 1.0, 0.0, True, False)


# ---------------------------------------------------------------------------------------------
# GEMV: one row or one column of C (csrc/gemm/gemv.cpp streams A once, unpacked)
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES, ids=dt_id)
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("trans_b", [False, True], ids=["B(K,N)", "B(N,K).T"])
def test_gemv_forms(dtype, threads, trans_b, rng):
    """x @ W and W.T @ x: both storage orders of W (axpy and dot forms), lengths around the
    vector/block sizes (tails of 1..127 rows and k not a multiple of 32), the streamed axpy form
    (>= 256 rows: k split across threads up to 2048 rows, passes of 2048 rows beyond, k < 8 per
    thread), alpha and beta, x and C strided, beta == 0 with NaN in C (not read); within the
    K-scaled bound."""
    old = hpc_kernels.get_num_threads()
    hpc_kernels.set_num_threads(threads)
    try:
        for length, k in ((1, 1), (15, 3), (16, 33), (129, 64), (257, 2), (300, 95), (1000, 1280), (2049, 7),
                          (4111, 9)):
            w, _ = layout_of(rng, (length, k) if trans_b else (k, length), dtype, "C")
            x, _ = in_layout(rng.standard_normal((1, k)).astype(dtype), "strided")
            for alpha, beta in ((1.0, 0.0), (-0.7, 1.0), (0.5, -2.0)):
                c0, _ = in_layout(rng.standard_normal((1, length)).astype(dtype), "C")
                c = c0.copy() if beta else np.full((1, length), np.nan, dtype)
                got = hpc_kernels.gemm(x, w, c, alpha=alpha, beta=beta, trans_b=trans_b)
                assert got is c
                check_gemm(got, x, w, c0 if beta else None, alpha, beta, False, trans_b, what=f"row {length}x{k}")
                # the column form: C (length, 1) = op(W)^T-side product with x as a column
                col = hpc_kernels.gemm(w, x, alpha=alpha, trans_a=not trans_b, trans_b=True)
                check_gemm(col, w, x, None, alpha, 0.0, not trans_b, True, what=f"column {length}x{k}")
    finally:
        hpc_kernels.set_num_threads(old)


@pytest.mark.parametrize("dtype", DTYPES, ids=dt_id)
def test_gemv_exact_integers(dtype, rng):
    """Integer-valued data: every GEMV form is exact (sums far below 2^24), the streamed axpy form
    (1000 and 2500 rows) at 1 and 2 threads included."""
    for k, length in ((517, 203), (450, 1000), (200, 2500)):
        w = small_ints(rng, (k, length), dtype)
        x = small_ints(rng, (1, k), dtype)
        ref = (x.astype(np.int64) @ w.astype(np.int64)).astype(dtype)
        for threads in (1, 2):
            with hpc_kernels.num_threads(threads):
                np.testing.assert_array_equal(hpc_kernels.gemm(x, w), ref)
                np.testing.assert_array_equal(hpc_kernels.gemm(x, np.ascontiguousarray(w.T), trans_b=True), ref)
                np.testing.assert_array_equal(hpc_kernels.gemm(w, x, trans_a=True, trans_b=True), ref.T)


@pytest.mark.parametrize("dtype", DTYPES, ids=dt_id)
@pytest.mark.parametrize("threads", [1, 2])
def test_gemv_equal_columns_give_equal_outputs(dtype, threads, rng):
    """W with equal columns: every output of x @ W is the same number, bit for bit (each one is
    computed by the same operations in the same order, the partial last vector included). The ONNX
    suite's light ResNet-50 has constant weights and a Softmax over outputs near 1e19, where one ulp
    between two outputs turns its uniform 0.001 into a one-hot vector."""
    for k, length in ((2047, 1000), (1030, 300), (9, 4111)):
        w = np.repeat(rng.standard_normal((k, 1)).astype(dtype), length, axis=1)
        x = rng.standard_normal((1, k)).astype(dtype)
        with hpc_kernels.num_threads(threads):
            y = hpc_kernels.gemm(x, w)
        assert np.all(y == y[0, 0]), f"{k}x{length}: {np.unique(y).size} distinct outputs"


def test_gemv_infinite_weight_in_the_k_tail_is_not_nan():
    """The last k % 8 rows of W (x @ W) are added one at a time: an infinite weight there gives an
    infinite output, not the NaN of a zero-padded term (0 * inf)."""
    k, length = 1030, 600
    w = np.ones((k, length), np.float32)
    w[k - 1, :] = np.inf
    x = np.ones((1, k), np.float32)
    y = hpc_kernels.gemm(x, w)
    assert np.all(np.isposinf(y))
