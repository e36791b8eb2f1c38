"""Every runnable micro-kernel, run directly on packed panels, against the generic kernel and NumPy."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from hpc_kernels import _cpu

from _helpers import EPS, RUNNABLE_UKERNELS, UKERNELS, gamma, generic_ukernel

ALPHAS = (0.0, 1.0, -1.0, 0.7)
BETAS = (0.0, 1.0, -1.0, 0.7)
KS = (0, 1, 7, 64)
SENTINEL = -12345.5  # marks elements of C the kernel must not touch

# C layouts: (shape of the owning array from (MR, NR), order, view of it that is passed as c).
C_LAYOUTS = {
    "colmajor": (lambda mr, nr: (mr + 3, nr + 2), "F", lambda x: x),  # rs_c == 1: the vector path
    "rowmajor": (lambda mr, nr: (mr + 3, nr + 2), "C", lambda x: x),  # cs_c == 1
    "strided": (lambda mr, nr: (2 * mr + 3, 3 * nr + 4), "C", lambda x: x[1::2, 2::3]),
    "neg": (lambda mr, nr: (mr + 1, nr + 1), "F", lambda x: x[::-1, ::-1]),
    "colmajor-negcols": (lambda mr, nr: (mr + 2, nr + 1), "F", lambda x: x[:, ::-1]),
}


def ids(u):
    return u["name"]


def pack_a(a_panel: np.ndarray) -> np.ndarray:
    """(MR, k) A panel -> k*MR packed values: for each p, the MR values of column p."""
    return np.ascontiguousarray(a_panel.T).ravel()


def pack_b(b_panel: np.ndarray) -> np.ndarray:
    """(k, NR) B panel -> k*NR packed values: for each p, the NR values of row p."""
    return np.ascontiguousarray(b_panel).ravel()


def run_generic(dtype, k, alpha, a_panel, b_panel, beta, c, m, n):
    """The tile computed by the generic micro-kernel of `dtype`, split into its smaller tiles."""
    g = generic_ukernel(dtype)
    gmr, gnr = g["mr"], g["nr"]
    for i0 in range(0, m, gmr):
        for j0 in range(0, n, gnr):
            mm, nn = min(gmr, m - i0), min(gnr, n - j0)
            ap = np.zeros((gmr, k), dtype)
            ap[:mm] = a_panel[i0 : i0 + mm]
            bp = np.zeros((k, gnr), dtype)
            bp[:, :nn] = b_panel[:, j0 : j0 + nn]
            _cpu.run_ukernel(g["name"], k, alpha, pack_a(ap), pack_b(bp), beta, c[i0:, j0:], mm, nn)


def make_c(u, layout, values=None, fill=SENTINEL):
    """(base, view, mask) where mask marks the elements of base that the view's [0:m,0:n] covers."""
    shape_fn, order, view_fn = C_LAYOUTS[layout]
    shape = shape_fn(u["mr"], u["nr"])
    base = np.full(shape, fill, dtype=u["dtype"], order=order)
    view = view_fn(base)
    assert view.shape[0] >= u["mr"] and view.shape[1] >= u["nr"]
    return base, view


def target_mask(base, layout, m, n):
    mask = np.zeros(base.shape, dtype=bool, order="F" if base.flags.f_contiguous else "C")
    C_LAYOUTS[layout][2](mask)[:m, :n] = True
    return mask


def expected_tile(a_panel, b_panel, c0, alpha, beta, m, n):
    """(ref, bound) in float64 for beta*C0[:m,:n] + alpha*A[:m]@B[:, :n] (beta == 0: C0 unread)."""
    a64 = a_panel[:m].astype(np.float64)
    b64 = b_panel[:, :n].astype(np.float64)
    k = a64.shape[1]
    ref = alpha * (a64 @ b64)
    mag = abs(alpha) * (np.abs(a64) @ np.abs(b64))
    if beta != 0:
        ref = ref + beta * c0[:m, :n].astype(np.float64)
        mag = mag + abs(beta) * np.abs(c0[:m, :n].astype(np.float64))
    return ref, gamma(k) * EPS[a_panel.dtype] * mag


def test_ukernel_list_is_complete():
    names = {u["name"] for u in UKERNELS}
    assert {"ukr_f32_generic_8x4", "ukr_f64_generic_4x4"} <= names
    for u in UKERNELS:
        assert set(u) == {"name", "isa", "dtype", "mr", "nr", "runnable"}
        assert u["isa"] in ("generic", "rvv", "avx2", "avx512")
        assert u["dtype"] in ("float32", "float64")
        assert u["mr"] > 0 and u["nr"] > 0
        if u["name"].endswith("_half"):  # half-height edge variant of a listed kernel
            full = u["name"][: -len("_half")]
            assert full in names and f"{2 * u['mr']}x{u['nr']}" in full
        elif u["name"].endswith("_narrow"):  # narrow edge variant: fewer columns, the same height
            full = u["name"][: -len("_narrow")]
            wide = next(v for v in UKERNELS if v["name"] == full)
            assert f"{u['mr']}x{wide['nr']}" in full and 1 <= u["nr"] < wide["nr"]
        else:
            assert u["isa"] in u["name"] and f"{u['mr']}x{u['nr']}" in u["name"]
        if u["isa"] == "generic":
            assert u["runnable"]
    info = _cpu.info()
    for isa in info["isas_built"]:
        assert any(u["isa"] == isa for u in UKERNELS)
    # the engine uses one of the listed kernels for each dtype
    for dt in ("float32", "float64"):
        assert info[dt]["ukernel"] in names


@pytest.mark.parametrize("u", RUNNABLE_UKERNELS, ids=ids)
@pytest.mark.parametrize("layout", list(C_LAYOUTS))
@pytest.mark.parametrize("k", KS)
def test_ukernel_exact_integer_data(u, layout, k):
    """Integer-valued data and alpha, beta in {0, 1, -1}: every result is exact, compare exactly,
    on edge tiles m in {1, MR-1, MR}, n in {1, NR-1, NR}; nothing outside [0:m, 0:n] is written."""
    dt = np.dtype(u["dtype"])
    mr, nr = u["mr"], u["nr"]
    rng = np.random.default_rng(1000 * k + mr * 7 + nr)
    for m, n in itertools.product((1, mr - 1, mr), (1, nr - 1, nr)):
        if m == 0 or n == 0:
            continue
        a_panel = rng.integers(-3, 4, size=(mr, k)).astype(dt)
        b_panel = rng.integers(-3, 4, size=(k, nr)).astype(dt)
        c_vals = rng.integers(-5, 6, size=(mr, nr)).astype(dt)
        for alpha, beta in itertools.product((0.0, 1.0, -1.0), (0.0, 1.0, -1.0)):
            what = f"{u['name']} m={m} n={n} k={k} alpha={alpha} beta={beta} {layout}"
            base, c = make_c(u, layout)
            c[:mr, :nr] = c_vals
            before = base.copy()
            _cpu.run_ukernel(u["name"], k, alpha, pack_a(a_panel), pack_b(b_panel), beta, c, m, n)
            # exact against NumPy (float64, exact on these integers)
            ref = alpha * (a_panel[:m].astype(np.float64) @ b_panel[:, :n].astype(np.float64))
            if beta != 0:
                ref += beta * c_vals[:m, :n]
            np.testing.assert_array_equal(c[:m, :n], ref.astype(dt), err_msg=what)
            # exact against the generic kernel
            gbase, gc = make_c(u, layout)
            gc[:mr, :nr] = c_vals
            run_generic(dt, k, alpha, a_panel, b_panel, beta, gc, m, n)
            np.testing.assert_array_equal(base, gbase, err_msg=what + " (vs generic)")
            # untouched outside [0:m, 0:n]
            mask = target_mask(base, layout, m, n)
            np.testing.assert_array_equal(base[~mask], before[~mask], err_msg=what + " (outside)")


@pytest.mark.parametrize("u", RUNNABLE_UKERNELS, ids=ids)
@pytest.mark.parametrize("layout", ["colmajor", "rowmajor", "strided"])
@pytest.mark.parametrize("k", KS)
def test_ukernel_random_data_all_alpha_beta(u, layout, k):
    """Random data, alpha/beta in {0, 1, -1, 0.7}: within the netlib bound of NumPy float64 and of
    the generic kernel; padding rows/columns of the panels (past m / n) do not matter."""
    dt = np.dtype(u["dtype"])
    mr, nr = u["mr"], u["nr"]
    rng = np.random.default_rng(77 + 1000 * k + mr * 7 + nr)
    for m, n in itertools.product((1, mr - 1, mr), (1, nr - 1, nr)):
        a_panel = rng.uniform(-1, 1, size=(mr, k)).astype(dt)
        b_panel = rng.uniform(-1, 1, size=(k, nr)).astype(dt)
        c_vals = rng.uniform(-1, 1, size=(mr, nr)).astype(dt)
        for alpha, beta in itertools.product(ALPHAS, BETAS):
            what = f"{u['name']} m={m} n={n} k={k} alpha={alpha} beta={beta} {layout}"
            base, c = make_c(u, layout)
            c[:mr, :nr] = c_vals
            before = base.copy()
            _cpu.run_ukernel(u["name"], k, alpha, pack_a(a_panel), pack_b(b_panel), beta, c, m, n)
            ref, bound = expected_tile(a_panel, b_panel, c_vals, alpha, beta, m, n)
            got = c[:m, :n].astype(np.float64)
            assert np.all(np.abs(got - ref) <= bound), what + f": max err {np.max(np.abs(got - ref))}"
            gbase, gc = make_c(u, layout)
            gc[:mr, :nr] = c_vals
            run_generic(dt, k, alpha, a_panel, b_panel, beta, gc, m, n)
            gen = gc[:m, :n].astype(np.float64)
            assert np.all(np.abs(got - gen) <= 2 * bound), what + " (vs generic)"
            mask = target_mask(base, layout, m, n)
            np.testing.assert_array_equal(base[~mask], before[~mask], err_msg=what + " (outside)")


@pytest.mark.parametrize("u", RUNNABLE_UKERNELS, ids=ids)
@pytest.mark.parametrize("layout", list(C_LAYOUTS))
def test_ukernel_beta_zero_does_not_read_c(u, layout):
    """beta == 0: NaN and Inf already in C must not leak into the result (C is not read)."""
    dt = np.dtype(u["dtype"])
    mr, nr = u["mr"], u["nr"]
    rng = np.random.default_rng(5)
    for k in KS:
        for m, n in itertools.product((1, mr - 1, mr), (1, nr - 1, nr)):
            for alpha, poison in itertools.product((1.0, 0.0, -0.7), (np.nan, np.inf, -np.inf)):
                a_panel = rng.integers(-3, 4, size=(mr, k)).astype(dt)
                b_panel = rng.integers(-3, 4, size=(k, nr)).astype(dt)
                base, c = make_c(u, layout, fill=poison)
                before = base.copy()
                _cpu.run_ukernel(u["name"], k, alpha, pack_a(a_panel), pack_b(b_panel), 0.0, c, m, n)
                what = f"{u['name']} m={m} n={n} k={k} alpha={alpha} C={poison} {layout}"
                assert np.all(np.isfinite(c[:m, :n])), what
                ref, bound = expected_tile(a_panel, b_panel, None, alpha, 0.0, m, n)
                assert np.all(np.abs(c[:m, :n] - ref) <= bound), what
                mask = target_mask(base, layout, m, n)
                np.testing.assert_array_equal(base[~mask], before[~mask], err_msg=what + " (outside)")


@pytest.mark.parametrize("u", RUNNABLE_UKERNELS, ids=ids)
def test_ukernel_nan_propagates_and_padding_lanes_are_ignored(u):
    """NaN in A row i / B column j gives NaN in exactly row i / column j of the tile; NaN in the
    panel lanes past m / n (outside A[:m] and B[:, :n]) changes nothing."""
    dt = np.dtype(u["dtype"])
    mr, nr = u["mr"], u["nr"]
    k = 9
    rng = np.random.default_rng(11)
    for m, n in ((mr, nr), (mr - 1, nr - 1), (1, 1)):
        a_panel = rng.integers(-3, 4, size=(mr, k)).astype(dt)
        b_panel = rng.integers(-3, 4, size=(k, nr)).astype(dt)
        i, j = m - 1, n - 1
        a_nan = a_panel.copy()
        a_nan[i, 3] = np.nan
        a_nan[m:, :] = np.nan  # padding lanes
        b_nan = b_panel.copy()
        b_nan[5, j] = np.nan
        b_nan[:, n:] = np.nan  # padding lanes
        _, c = make_c(u, "colmajor", fill=0.0)
        _cpu.run_ukernel(u["name"], k, 1.0, pack_a(a_nan), pack_b(b_nan), 0.0, c, m, n)
        expect = np.zeros((m, n), bool)
        expect[i, :] = True
        expect[:, j] = True
        np.testing.assert_array_equal(np.isnan(c[:m, :n]), expect, err_msg=f"{u['name']} m={m} n={n}")
        ref = a_panel[:m].astype(np.float64) @ b_panel[:, :n].astype(np.float64)
        np.testing.assert_array_equal(c[:m, :n][~expect], ref[~expect])


@pytest.mark.parametrize("u", RUNNABLE_UKERNELS, ids=ids)
def test_ukernel_empty_tile_writes_nothing(u):
    """m == 0 or n == 0: no element of C is touched."""
    mr, nr = u["mr"], u["nr"]
    k = 4
    a = np.ones(k * mr, u["dtype"])
    b = np.ones(k * nr, u["dtype"])
    for m, n in ((0, nr), (mr, 0), (0, 0)):
        base, c = make_c(u, "colmajor")
        before = base.copy()
        _cpu.run_ukernel(u["name"], k, 1.0, a, b, 0.0, c, m, n)
        np.testing.assert_array_equal(base, before)


def test_run_ukernel_rejects_bad_arguments():
    u = generic_ukernel(np.float64)
    mr, nr, k = u["mr"], u["nr"], 3
    a, b = np.ones(k * mr), np.ones(k * nr)
    c = np.zeros((mr, nr))
    with pytest.raises(ValueError, match="0 <= m <= MR"):
        _cpu.run_ukernel(u["name"], k, 1.0, a, b, 0.0, c, mr + 1, nr)
    with pytest.raises(ValueError, match="packed panels"):
        _cpu.run_ukernel(u["name"], k, 1.0, a[:-1], b, 0.0, c, mr, nr)
    with pytest.raises(ValueError, match="at least m rows"):
        _cpu.run_ukernel(u["name"], k, 1.0, a, b, 0.0, c[:-1], mr, nr)
    with pytest.raises(ValueError, match="no float64 micro-kernel named"):
        _cpu.run_ukernel("nope", k, 1.0, a, b, 0.0, c, mr, nr)
    with pytest.raises(TypeError, match="share one dtype"):
        _cpu.run_ukernel(u["name"], k, 1.0, a.astype(np.float32), b, 0.0, c, mr, nr)
    ro = c.copy()
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        _cpu.run_ukernel(u["name"], k, 1.0, a, b, 0.0, ro, mr, nr)
