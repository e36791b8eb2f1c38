"""libkernels_blas.so through its C ABI (ctypes): the Fortran and CBLAS GEMMs, both layouts, every
transpose, the batches, argument errors, beta == 0 over NaN, threads; and its Python helpers."""
from __future__ import annotations

import ctypes
import json
import os

import numpy as np
import pytest

import hpc_kernels
from hpc_kernels import blas

from _helpers import run_python

ROW, COL = 101, 102
NOTRANS, TRANS, CONJTRANS = 111, 112, 113
c_int_p = ctypes.POINTER(ctypes.c_int)


@pytest.fixture(scope="module")
def lib():
    try:
        path = hpc_kernels.blas_library()
    except FileNotFoundError as exc:
        pytest.fail(f"the default build must ship libkernels_blas.so: {exc}")
    lib = ctypes.CDLL(path)
    for dt, ct in (("d", ctypes.c_double), ("s", ctypes.c_float)):
        f = getattr(lib, f"cblas_{dt}gemm")
        f.argtypes = [ctypes.c_int] * 6 + [ct, ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_int, ct,
                                           ctypes.c_void_p, ctypes.c_int]
        f.restype = None
        g = getattr(lib, f"cblas_{dt}gemm_batch_strided")
        g.argtypes = ([ctypes.c_int] * 6 + [ct, ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_void_p,
                                            ctypes.c_int, ctypes.c_int, ct, ctypes.c_void_p, ctypes.c_int,
                                            ctypes.c_int, ctypes.c_int])
        g.restype = None
    return lib


def ptr(x):
    return x.ctypes.data_as(ctypes.c_void_p)


def ints(*v):
    return [ctypes.byref(ctypes.c_int(x)) for x in v]


def bound(a, b, c0, alpha, beta, k, dtype):
    """netlib's bound: c * eps * (|alpha| |A||B| + |beta| |C|), growing with k."""
    eps = np.finfo(dtype).eps
    return 4 * (k + 2) * eps * (abs(alpha) * (np.abs(a) @ np.abs(b)) + abs(beta) * np.abs(c0)) + np.finfo(dtype).tiny


SHAPES = [(1, 1, 1), (7, 5, 3), (33, 17, 65), (64, 64, 64), (130, 97, 259)]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("layout", [COL, ROW])
@pytest.mark.parametrize("ta,tb", [(NOTRANS, NOTRANS), (TRANS, NOTRANS), (NOTRANS, CONJTRANS), (TRANS, TRANS)])
@pytest.mark.parametrize("m,n,k", SHAPES)
def test_cblas_gemm_matches_float64(lib, dtype, layout, ta, tb, m, n, k):
    rng = np.random.default_rng(m * 1000 + n * 10 + k)
    order = "F" if layout == COL else "C"
    a = rng.standard_normal((m, k) if ta == NOTRANS else (k, m)).astype(dtype, order=order)
    b = rng.standard_normal((k, n) if tb == NOTRANS else (n, k)).astype(dtype, order=order)
    # Leading dimensions larger than the rows (or columns) they hold: padding the library must skip.
    pad = 3
    ldpad = lambda x: np.zeros((x.shape[0] + pad, x.shape[1]) if order == "F" else (x.shape[0], x.shape[1] + pad), dtype, order=order)  # noqa: E731
    ap, bp = ldpad(a), ldpad(b)
    ap[: a.shape[0], : a.shape[1]] = a
    bp[: b.shape[0], : b.shape[1]] = b
    c0 = rng.standard_normal((m, n)).astype(dtype)
    cp = ldpad(c0)
    cp[:m, :n] = c0
    ld = lambda x: x.shape[0] if order == "F" else x.shape[1]  # noqa: E731
    alpha, beta = 0.75, -1.25
    getattr(lib, "cblas_dgemm" if dtype == np.float64 else "cblas_sgemm")(
        layout, ta, tb, m, n, k, alpha, ptr(ap), ld(ap), ptr(bp), ld(bp), beta, ptr(cp), ld(cp))
    oa = a.astype(np.float64) if ta == NOTRANS else a.T.astype(np.float64)
    ob = b.astype(np.float64) if tb == NOTRANS else b.T.astype(np.float64)
    ref = alpha * (oa @ ob) + beta * c0.astype(np.float64)
    assert np.all(np.abs(cp[:m, :n] - ref) <= bound(oa, ob, c0, alpha, beta, k, dtype))
    assert not cp[m:, :].any() and not cp[:, n:].any(), "the padding beyond C was written"


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("trans", [b"N", b"T", b"c"])
def test_fortran_gemm_exact_on_integers(lib, dtype, trans):
    rng = np.random.default_rng(7)
    m, n, k = 45, 38, 71
    a = rng.integers(-4, 5, (m, k)).astype(dtype)
    b = rng.integers(-4, 5, (k, n)).astype(dtype)
    af = np.asfortranarray(a if trans == b"N" else a.T)
    bf = np.asfortranarray(b)
    c = np.asfortranarray(rng.integers(-4, 5, (m, n)).astype(dtype))
    ref = 2 * (a.astype(np.float64) @ b) + 3 * c.astype(np.float64)
    ct = ctypes.c_double if dtype == np.float64 else ctypes.c_float
    fn = lib.dgemm_ if dtype == np.float64 else lib.sgemm_
    fn(ctypes.c_char_p(trans), ctypes.c_char_p(b"n"), *ints(m, n, k), ctypes.byref(ct(2)), ptr(af),
       ctypes.byref(ctypes.c_int(af.shape[0])), ptr(bf), ctypes.byref(ctypes.c_int(k)), ctypes.byref(ct(3)), ptr(c),
       ctypes.byref(ctypes.c_int(m)), ctypes.c_size_t(1), ctypes.c_size_t(1))
    assert np.array_equal(c, ref)


@pytest.mark.parametrize("layout", [COL, ROW])
def test_beta_zero_never_reads_c_and_quick_returns(lib, layout):
    rng = np.random.default_rng(3)
    m, n, k = 20, 30, 40
    order = "F" if layout == COL else "C"
    a, b = (np.asarray(rng.standard_normal(s), order=order) for s in ((m, k), (k, n)))
    ld = lambda x: x.shape[0] if order == "F" else x.shape[1]  # noqa: E731
    c = np.full((m, n), np.nan, order=order)
    lib.cblas_dgemm(layout, NOTRANS, NOTRANS, m, n, k, 1.0, ptr(a), ld(a), ptr(b), ld(b), 0.0, ptr(c), ld(c))
    assert np.allclose(c, a @ b)
    # alpha == 0 and beta == 0: C := 0 without reading A, B or C (NaN everywhere)
    c[:] = np.nan
    nan_a = np.full_like(a, np.nan)
    lib.cblas_dgemm(layout, NOTRANS, NOTRANS, m, n, k, 0.0, ptr(nan_a), ld(a), ptr(b), ld(b), 0.0, ptr(c), ld(c))
    assert not c.any()
    # alpha == 0, beta == 1, or k == 0 with beta == 1: C unchanged (NaN A is never read)
    c[:] = 5.0
    lib.cblas_dgemm(layout, NOTRANS, NOTRANS, m, n, k, 0.0, ptr(nan_a), ld(a), ptr(b), ld(b), 1.0, ptr(c), ld(c))
    lib.cblas_dgemm(layout, NOTRANS, NOTRANS, m, n, 0, 2.0, ptr(nan_a), ld(a), ptr(b), ld(b), 1.0, ptr(c), ld(c))
    assert np.all(c == 5.0)
    # k == 0, beta == 3: C := 3 C
    lib.cblas_dgemm(layout, NOTRANS, NOTRANS, m, n, 0, 2.0, ptr(nan_a), ld(a), ptr(b), ld(b), 3.0, ptr(c), ld(c))
    assert np.all(c == 15.0)


# (layout, transa, transb, m, n, k, lda, ldb, ldc) -> the reference CBLAS's argument number:
# column-major in signature order; row-major as the reference numbers its swapped call (m 5, n 4, lda 11, ldb 9).
ERRORS = [
    ((7, NOTRANS, NOTRANS, 2, 2, 2, 2, 2, 2), 1),
    ((COL, 0, NOTRANS, 2, 2, 2, 2, 2, 2), 2),
    ((COL, NOTRANS, 114, 2, 2, 2, 2, 2, 2), 3),
    ((COL, NOTRANS, NOTRANS, -1, 2, 2, 2, 2, 2), 4),
    ((COL, NOTRANS, NOTRANS, 2, -1, 2, 2, 2, 2), 5),
    ((COL, NOTRANS, NOTRANS, 2, 2, -1, 2, 2, 2), 6),
    ((COL, NOTRANS, NOTRANS, 3, 2, 2, 2, 2, 3), 9),
    ((COL, NOTRANS, NOTRANS, 2, 2, 3, 2, 2, 2), 11),
    ((COL, NOTRANS, NOTRANS, 3, 2, 2, 3, 2, 2), 14),
    ((ROW, NOTRANS, NOTRANS, -1, 2, 2, 2, 2, 2), 5),
    ((ROW, NOTRANS, NOTRANS, 2, -1, 2, 2, 2, 2), 4),
    ((ROW, NOTRANS, NOTRANS, 2, 2, 3, 2, 3, 2), 11),
    ((ROW, NOTRANS, NOTRANS, 2, 3, 2, 2, 2, 3), 9),
    ((ROW, NOTRANS, NOTRANS, 2, 3, 2, 2, 3, 2), 14),
]


@pytest.mark.parametrize("args,number", ERRORS)
def test_cblas_argument_errors_are_reported_and_change_nothing(lib, capfd, args, number):
    layout, ta, tb, m, n, k, lda, ldb, ldc = args
    a, b, c = np.ones(64), np.ones(64), np.full(64, 7.0)
    lib.cblas_dgemm(layout, ta, tb, m, n, k, 1.0, ptr(a), lda, ptr(b), ldb, 0.0, ptr(c), ldc)
    err = capfd.readouterr().err
    assert f"Parameter {number} to routine cblas_dgemm was incorrect" in err
    assert np.all(c == 7.0)


def test_fortran_argument_error_goes_to_xerbla(lib, capfd):
    c = np.full(4, 7.0)
    one = ctypes.byref(ctypes.c_double(1.0))
    lib.dgemm_(ctypes.c_char_p(b"X"), ctypes.c_char_p(b"N"), *ints(2, 2, 2), one, ptr(c), ctypes.byref(ctypes.c_int(2)),
               ptr(c), ctypes.byref(ctypes.c_int(2)), one, ptr(c), ctypes.byref(ctypes.c_int(2)), ctypes.c_size_t(1),
               ctypes.c_size_t(1))
    lib.dgemm_(ctypes.c_char_p(b"N"), ctypes.c_char_p(b"N"), *ints(3, 2, 2), one, ptr(c), ctypes.byref(ctypes.c_int(2)),
               ptr(c), ctypes.byref(ctypes.c_int(2)), one, ptr(c), ctypes.byref(ctypes.c_int(3)), ctypes.c_size_t(1),
               ctypes.c_size_t(1))
    err = capfd.readouterr().err
    assert "On entry to DGEMM  parameter number 1 had an illegal value" in err
    assert "On entry to DGEMM  parameter number 8 had an illegal value" in err
    assert np.all(c == 7.0)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("layout", [COL, ROW])
def test_strided_batch(lib, dtype, layout):
    rng = np.random.default_rng(11)
    batch, m, n, k = 6, 9, 13, 17
    a = rng.standard_normal((batch, m, k)).astype(dtype)
    b = rng.standard_normal((k, n)).astype(dtype)  # stride 0: one B for every product
    c = rng.standard_normal((batch, m, n)).astype(dtype)
    ref = a.astype(np.float64) @ b.astype(np.float64) + 0.5 * c
    if layout == COL:  # each item column-major: store the transposes row-major
        at, ct = np.ascontiguousarray(a.transpose(0, 2, 1)), np.ascontiguousarray(c.transpose(0, 2, 1))
        bt = np.ascontiguousarray(b.T)
        args = (ptr(at), m, m * k, ptr(bt), k, 0, 0.5, ptr(ct), m, m * n)
    else:
        ct = c.copy()
        args = (ptr(a), k, m * k, ptr(b), n, 0, 0.5, ptr(ct), n, m * n)
    fn = lib.cblas_dgemm_batch_strided if dtype == np.float64 else lib.cblas_sgemm_batch_strided
    fn(layout, NOTRANS, NOTRANS, m, n, k, 1.0, args[0], args[1], args[2], args[3], args[4], args[5], args[6],
       args[7], args[8], args[9], batch)
    got = ct.transpose(0, 2, 1) if layout == COL else ct
    tol = 1e-12 if dtype == np.float64 else 2e-5
    np.testing.assert_allclose(got, ref, rtol=tol, atol=tol * 10)


def test_strided_batch_rejects_overlapping_outputs(lib, capfd):
    c = np.full(100, 7.0)
    a = np.ones(100)
    lib.cblas_dgemm_batch_strided(COL, NOTRANS, NOTRANS, 4, 4, 4, 1.0, ptr(a), 4, 16, ptr(a), 4, 16, 0.0, ptr(c), 4, 8, 3)
    assert "Parameter 17 to routine cblas_dgemm_batch_strided was incorrect" in capfd.readouterr().err
    assert np.all(c == 7.0)


def test_grouped_batch(lib):
    rng = np.random.default_rng(5)
    groups = [(2, 5, 7, 3, NOTRANS, 1.0, 0.0), (3, 4, 6, 8, TRANS, 2.0, 1.0)]  # (count, m, n, k, transa, alpha, beta)
    a_list, b_list, c_list, refs = [], [], [], []
    for count, m, n, k, ta, alpha, beta in groups:
        for _ in range(count):
            a = rng.standard_normal((m, k) if ta == NOTRANS else (k, m))
            b, c = rng.standard_normal((k, n)), rng.standard_normal((m, n))
            refs.append(alpha * ((a if ta == NOTRANS else a.T) @ b) + beta * c)
            a_list.append(a), b_list.append(b), c_list.append(c)
    P = ctypes.c_void_p * len(a_list)
    arr = lambda t, v: (t * len(v))(*v)  # noqa: E731
    lib.cblas_dgemm_batch(
        ROW, arr(ctypes.c_int, [g[4] for g in groups]), arr(ctypes.c_int, [NOTRANS] * 2),
        arr(ctypes.c_int, [g[1] for g in groups]), arr(ctypes.c_int, [g[2] for g in groups]),
        arr(ctypes.c_int, [g[3] for g in groups]), arr(ctypes.c_double, [g[5] for g in groups]),
        P(*[x.ctypes.data for x in a_list]), arr(ctypes.c_int, [g[3] if g[4] == NOTRANS else g[1] for g in groups]),
        P(*[x.ctypes.data for x in b_list]), arr(ctypes.c_int, [g[2] for g in groups]),
        arr(ctypes.c_double, [g[6] for g in groups]), P(*[x.ctypes.data for x in c_list]),
        arr(ctypes.c_int, [g[2] for g in groups]), 2, arr(ctypes.c_int, [g[0] for g in groups]))
    for c, ref in zip(c_list, refs):
        np.testing.assert_allclose(c, ref, rtol=1e-12, atol=1e-12)


def test_threads_follow_kernels_num_threads_then_the_setter():
    # ctypes alone in the child (a C program's view): `import hpc_kernels` rejects a bad value itself.
    code = ("import ctypes, sys; lib = ctypes.CDLL(sys.argv[1]); "
            "n0 = lib.kernels_blas_get_num_threads(); lib.kernels_blas_set_num_threads(1); "
            "print(n0, lib.kernels_blas_get_num_threads())")
    p = run_python(["-c", code, hpc_kernels.blas_library()], {"KERNELS_NUM_THREADS": "2"})
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == ["2", "1"]
    p = run_python(["-c", code, hpc_kernels.blas_library()], {"KERNELS_NUM_THREADS": "zero", "OMP_NUM_THREADS": "1"})
    assert p.returncode == 0 and "ignoring KERNELS_NUM_THREADS=zero" in p.stderr, p.stderr
    assert p.stdout.split() == ["1", "1"]  # OMP_NUM_THREADS then


def test_large_gemm_with_two_threads_matches(lib):
    lib.kernels_blas_set_num_threads(2)
    rng = np.random.default_rng(1)
    m, n, k = 300, 257, 513
    a, b = np.asfortranarray(rng.standard_normal((m, k))), np.asfortranarray(rng.standard_normal((k, n)))
    c = np.asfortranarray(np.full((m, n), np.nan))
    lib.cblas_dgemm(COL, NOTRANS, NOTRANS, m, n, k, 1.0, ptr(a), m, ptr(b), k, 0.0, ptr(c), m)
    assert np.all(np.abs(c - a @ b) <= bound(a, b, c * 0, 1, 0, k, np.float64))


def test_python_helpers_and_cli():
    r = blas.recipes()
    assert r["library"] == hpc_kernels.blas_library() and r["library"].endswith("libkernels_blas.so")
    assert "LD_PRELOAD=" in r["run an existing binary"] and "-lkernels_blas" in r["libs"]
    assert os.path.isfile(os.path.join(blas.include_dir(), "kernels_blas.h"))
    p = run_python(["-m", "hpc_kernels", "blas", "--json"])
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout[p.stdout.index("{"):])["library"] == r["library"]  # (after an editable rebuild's lines)
    p = run_python(["-m", "hpc_kernels", "blas"])
    assert p.returncode == 0 and "-lkernels_blas" in p.stdout and "LD_PRELOAD=" in p.stdout


def test_missing_library_says_why(monkeypatch, tmp_path):
    monkeypatch.setattr(blas, "_HERE", tmp_path)
    with pytest.raises(FileNotFoundError, match="KERNELS_BUILD_BLAS=OFF"):
        hpc_kernels.blas_library()
