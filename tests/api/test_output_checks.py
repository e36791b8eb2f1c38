"""One output check and one argument validation for every backend: regression tests of the
silent wrong results and disagreements found by adversarial testing (issue 15, items 1, 7, 8)."""
from __future__ import annotations

import numpy as np
import pytest
from numpy.lib.stride_tricks import as_strided

import hpc_kernels
from hpc_kernels import _validation as v

# Every available backend that takes NumPy arrays (opencl and cuda with backend=...: host arrays
# are copied to the device and the result written back into the caller's output).
BACKENDS = [name for name, d in hpc_kernels.info()["backends"].items() if d["available"]]


def _offsets_unique(x: np.ndarray) -> bool:
    """The definition: no two indices of x address the same byte."""
    idx = np.indices(x.shape).reshape(x.ndim, -1)
    offs = (np.array(x.strides)[:, None] * idx).sum(0)
    return np.unique(offs).size == offs.size


# --- item 1: gemm(a, b, c, beta=1, out=c) checks c as an output on every backend ---------------

def _zero_stride_c():
    return as_strided(np.zeros(5, np.float32), (4, 5), (0, 4))


OUT_IS_C = {
    "float16": (lambda: np.zeros((4, 5), np.float16), TypeError, "c has dtype float16"),
    "float64-c-float32-ab": (lambda: np.zeros((4, 5), np.float64), TypeError, "c has dtype float64"),
    "zero-stride": (_zero_stride_c, ValueError, "c has overlapping elements"),
    "read-only": (lambda: np.broadcast_to(np.zeros(5, np.float32), (4, 5)), ValueError, "read-only|overlapping"),
    "misaligned": (lambda: np.frombuffer(bytearray(4 * 20 + 1), np.float32, 20, 1).reshape(4, 5), ValueError, "not aligned"),
}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", OUT_IS_C)
def test_out_is_c_is_checked_as_an_output(backend, case):
    make, exc, match = OUT_IS_C[case]
    a, b = np.ones((4, 3), np.float32), np.ones((3, 5), np.float32)
    c = make()
    before = np.array(c, copy=True)
    with pytest.raises(exc, match=match):
        hpc_kernels.gemm(a, b, c, beta=1.0, out=c, backend=backend)
    if c.flags.writeable:
        np.testing.assert_array_equal(c, before)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_out_is_c_updates_in_place(backend, dtype):
    a, b = np.full((4, 3), 2, dtype), np.ones((3, 5), dtype)
    c = np.full((4, 5), 4, dtype)
    r = hpc_kernels.gemm(a, b, c, beta=1.0, out=c, backend=backend)
    assert r is c
    np.testing.assert_array_equal(c, np.full((4, 5), 10, dtype))  # 2*3 + 4, exact


@pytest.mark.parametrize("backend", BACKENDS)
def test_distinct_c_read_and_out_written(backend):
    a, b = np.full((2, 3), 2.0), np.ones((3, 2))
    c, out = np.full((2, 2), 1.0), np.zeros((2, 2))
    r = hpc_kernels.gemm(a, b, c, alpha=0.5, beta=3.0, out=out, backend=backend)
    assert r is out
    np.testing.assert_array_equal(out, np.full((2, 2), 6.0))  # 0.5*6 + 3*1
    np.testing.assert_array_equal(c, np.full((2, 2), 1.0))


# --- item 7: strided outputs are rejected only when two elements share memory -----------------

def _strided_outputs():
    yield "every-other-column", lambda: np.zeros((13, 129))[:, ::2]
    yield "reversed", lambda: np.zeros((13, 65))[::-1, ::-1]
    yield "transposed-step", lambda: np.zeros((130, 13))[::2].T.T
    # interleaved dimensions: element strides (2, 3) on (3, 2) -> offsets 0,3,2,5,4,7: all distinct
    yield "interleaved-2x3", lambda: as_strided(np.zeros(16), (3, 2), (16, 24))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name,make", list(_strided_outputs()), ids=[n for n, _ in _strided_outputs()])
def test_valid_strided_output_accepted(backend, name, make):
    out = make()
    assert _offsets_unique(out)
    m, n = out.shape
    rng = np.random.default_rng(0)
    a, b = rng.integers(-3, 4, (m, 4)).astype(np.float64), rng.integers(-3, 4, (4, n)).astype(np.float64)
    r = hpc_kernels.gemm(a, b, out=out, backend=backend)
    assert r is out
    np.testing.assert_array_equal(out, a @ b)


@pytest.mark.parametrize("backend", BACKENDS)
def test_interleaved_overlapping_output_rejected(backend):
    out = as_strided(np.zeros(16), (3, 3), (16, 24))  # offsets 0,3,6 / 2,5,8 / 4,7,10: distinct
    assert _offsets_unique(out)
    hpc_kernels.gemm(np.ones((3, 2)), np.ones((2, 3)), out=out, backend=backend)
    bad = as_strided(np.zeros(16), (4, 3), (16, 24))  # (3, 0) and (0, 2) both at element 6
    assert not _offsets_unique(bad)
    with pytest.raises(ValueError, match="out has overlapping elements"):
        hpc_kernels.gemm(np.ones((4, 2)), np.ones((2, 3)), out=bad, backend=backend)


def test_self_overlapping_matches_the_definition():
    """The shared rule equals 'two indices at one address' on random as_strided layouts."""
    rng = np.random.default_rng(1)
    base = np.zeros(4096)
    for _ in range(3000):
        nd = int(rng.integers(1, 4))
        shape = tuple(int(s) for s in rng.integers(1, 6, nd))
        strides = tuple(int(s) * 8 for s in rng.integers(-6, 7, nd))
        x = as_strided(base[2048:], shape, strides)
        assert v.self_overlapping(x) == (not _offsets_unique(x)), (shape, strides)


# --- item 8: one argument validation, one error per bad input ----------------------------------

BAD_SCALARS = {
    "bool": (True, TypeError),
    "numpy-bool": (np.bool_(True), TypeError),
    "str": ("1", TypeError),
    "complex": (1j, TypeError),
    "huge-int": (10**400, OverflowError),
}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", BAD_SCALARS)
@pytest.mark.parametrize("which", ["alpha", "beta"])
def test_bad_scalars_same_error_everywhere(backend, name, which):
    value, exc = BAD_SCALARS[name]
    a = np.ones((2, 2))
    c = np.ones((2, 2))
    with pytest.raises(exc, match=f"gemm: {which} "):
        hpc_kernels.gemm(a, a, c, backend=backend, **{which: value})
    np.testing.assert_array_equal(c, np.ones((2, 2)))


@pytest.mark.parametrize("backend", BACKENDS)
def test_numpy_scalars_accepted(backend):
    a = np.ones((2, 2), np.float32)
    r = hpc_kernels.gemm(a, a, alpha=np.float32(2), beta=np.int64(0), backend=backend)
    np.testing.assert_array_equal(r, np.full((2, 2), 4, np.float32))


CONV_INTS = {
    "stride-2**63": (dict(stride=2**63), ValueError, "stride must be at most 2147483647"),
    "stride-2**31": (dict(stride=(1, 2**31)), ValueError, "stride must be at most"),
    "padding-2**31": (dict(padding=2**31), ValueError, "padding must be at most"),
    "dilation-huge": (dict(dilation=10**30), ValueError, "dilation must be at most"),
    "groups-huge": (dict(groups=2**40), ValueError, "groups must be at most"),
    "stride-bool": (dict(stride=True), TypeError, "stride must be an integer"),
    "stride-0": (dict(stride=0), ValueError, "stride must be >= 1"),
    "groups-0": (dict(groups=0), ValueError, "groups must be >= 1"),
}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", CONV_INTS)
def test_conv2d_integer_options_bounded(backend, case):
    kw, exc, match = CONV_INTS[case]
    x, w = np.ones((1, 2, 5, 5)), np.ones((2, 2, 3, 3))
    with pytest.raises(exc, match=match) as info:
        hpc_kernels.conv2d(x, w, backend=backend, **kw)
    assert len(str(info.value).splitlines()) == 1


@pytest.mark.parametrize("case", CONV_INTS)
def test_im2col_and_workspace_integer_options_bounded(case):
    kw, exc, match = CONV_INTS[case]
    x = np.ones((1, 2, 5, 5))
    kw_im2col = {k: val for k, val in kw.items() if k != "groups"}
    if kw_im2col:
        with pytest.raises(exc, match=match):
            hpc_kernels.im2col(x, 3, backend="reference", **kw_im2col)
    if "cpu" in BACKENDS:
        with pytest.raises(exc, match=match):
            hpc_kernels.conv2d_workspace(x.shape, (2, 2, 3, 3), **kw)


@pytest.mark.parametrize("bad,exc", [((1, 2, 5), ValueError), ((1, 2, -5, 5), ValueError), ((1, 2, 2**40, 5), ValueError),
                                     ((1, 2, 5.0, 5), TypeError), ("1255", ValueError)])
def test_workspace_shapes_checked(bad, exc):
    if "cpu" not in BACKENDS:
        pytest.skip("conv2d_workspace reports the cpu backend's workspace")
    with pytest.raises(exc, match="x_shape"):
        hpc_kernels.conv2d_workspace(bad, (2, 2, 3, 3))


# --- conv2d's out: the same output check as gemm's, on every backend --------------------------

CONV_OUT = {
    "zero-stride": (lambda: as_strided(np.zeros(9), (1, 2, 3, 3), (0, 0, 24, 8)), ValueError, "overlapping"),
    "misaligned": (lambda: np.frombuffer(bytearray(8 * 18 + 1), np.float64, 18, 1).reshape(1, 2, 3, 3), ValueError,
                   "not aligned"),
    "overlaps-x": (None, ValueError, "shares memory with x"),
    "float32": (lambda: np.zeros((1, 2, 3, 3), np.float32), TypeError, "out has dtype float32"),
}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", CONV_OUT)
def test_conv2d_out_checked_the_same_way(backend, case):
    make, exc, match = CONV_OUT[case]
    x, w = np.ones((1, 2, 5, 5)), np.ones((2, 2, 3, 3))
    out = x[:, :, :3, :3] if make is None else make()
    with pytest.raises(exc, match=match):
        hpc_kernels.conv2d(x, w, out=out, backend=backend)
    plan = hpc_kernels.Conv2d(w, backend=backend)
    with pytest.raises(exc, match=match):
        plan(x, out=out)
