"""hpc_kernels.matmul against numpy.matmul: 1-D promotion, batch broadcasting, out=, threads, backends."""
from __future__ import annotations

import numpy as np
import pytest

import hpc_kernels

from _helpers import DTYPES, EPS, gamma, rand

BACKENDS = ["cpu", "reference"]

SHAPES = [
    ((5, 6), (6, 3)),  # 2-D
    ((1, 1), (1, 1)),
    ((70, 33), (33, 90)),
    ((6,), (6, 3)),  # 1-D x 2-D
    ((3, 6), (6,)),  # 2-D x 1-D
    ((6,), (6,)),  # 1-D x 1-D
    ((3, 1, 5, 6), (4, 6, 2)),  # batch broadcasting
    ((2, 5, 6), (6, 3)),
    ((7,), (2, 7, 3)),
    ((2, 5, 6), (6,)),
    ((1, 5, 6), (3, 6, 4)),
    ((4, 1, 2, 3), (1, 5, 3, 2)),
    ((2, 3, 40, 17), (3, 17, 33)),
]


def shape_id(s):
    return "@".join("x".join(map(str, p)) or "()" for p in s)


def check(got, a, b, what=""):
    """Within the netlib bound of float64 numpy.matmul, same shape and dtype as numpy.matmul."""
    ref = np.matmul(a.astype(np.float64), b.astype(np.float64))
    mag = np.matmul(np.abs(a.astype(np.float64)), np.abs(b.astype(np.float64)))
    k = a.shape[-1]
    got = np.asarray(got)
    assert got.shape == np.shape(np.matmul(a, b)), f"{what}: shape {got.shape}"
    assert got.dtype == a.dtype, what
    bound = gamma(k) * EPS[a.dtype] * mag
    assert np.all(np.abs(got.astype(np.float64) - ref) <= bound), f"{what}: outside the bound"


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("shapes", SHAPES, ids=shape_id)
def test_matmul_like_numpy(backend, dtype, shapes, rng):
    sa, sb = shapes
    a, b = rand(rng, sa, dtype), rand(rng, sb, dtype)
    a0, b0 = a.copy(), b.copy()
    got = hpc_kernels.matmul(a, b, backend=backend)
    check(got, a, b, f"{backend} {shapes}")
    np.testing.assert_array_equal(a, a0)
    np.testing.assert_array_equal(b, b0)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("shapes", [s for s in SHAPES if len(s[0]) + len(s[1]) > 2], ids=shape_id)
def test_matmul_out(backend, shapes, rng):
    """out= is written and returned, including the 1-D cases (out has the squeezed shape)."""
    sa, sb = shapes
    a, b = rand(rng, sa, np.float64), rand(rng, sb, np.float64)
    out = np.full(np.matmul(a, b).shape, np.nan)
    assert hpc_kernels.matmul(a, b, out=out, backend=backend) is out
    check(out, a, b, f"{backend} {shapes}")


@pytest.mark.parametrize("backend", BACKENDS)
def test_matmul_out_vector_dot(backend, rng):
    a, b = rand(rng, (6,), np.float64), rand(rng, (6,), np.float64)
    out = np.empty(())
    assert hpc_kernels.matmul(a, b, out=out, backend=backend) is out
    check(out, a, b)


@pytest.mark.parametrize("backend", BACKENDS)
def test_matmul_vector_dot_value(backend, rng):
    """1-D @ 1-D gives the dot product with shape () (NumPy returns a scalar, kernels a 0-d array)."""
    a, b = rand(rng, (9,), np.float32), rand(rng, (9,), np.float32)
    got = hpc_kernels.matmul(a, b, backend=backend)
    assert np.shape(got) == ()
    check(got, a, b)


@pytest.mark.parametrize("backend", BACKENDS)
def test_matmul_strided_views_and_out_view(backend, rng):
    """Strided / transposed / reversed batched inputs and an out that is a view of a bigger array."""
    big_a = rand(rng, (6, 12, 20), np.float32)
    a = big_a[::2, 1::2, ::-1][:, :, :9]  # (3, 6, 9)
    b = np.swapaxes(rand(rng, (3, 4, 9), np.float32), -1, -2)  # (3, 9, 4), transposed matrices
    big_out = np.full((3, 8, 10), -5.0, np.float32)
    out = big_out[:, 1:7, 2:10:2]  # (3, 6, 4)
    before = big_out.copy()
    assert hpc_kernels.matmul(a, b, out=out, backend=backend) is out
    check(out, a, b)
    mask = np.ones(big_out.shape, bool)
    mask[:, 1:7, 2:10:2] = False
    np.testing.assert_array_equal(big_out[mask], before[mask])


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    "sa,sb",
    [((0, 3, 4), (4, 5)), ((2, 0, 4), (4, 5)), ((2, 3, 0), (0, 5)), ((3, 0, 2, 4), (1, 4, 2))],
)
def test_matmul_zero_size(backend, sa, sb):
    a, b = np.ones(sa, np.float32), np.ones(sb, np.float32)
    got = hpc_kernels.matmul(a, b, backend=backend)
    np.testing.assert_array_equal(got, np.matmul(a, b))
    assert got.dtype == np.float32


@pytest.mark.parametrize("backend", BACKENDS)
def test_matmul_zero_size_batch_into_slice_out(backend):
    """Zero-size batch with out= (an empty slice of a bigger array, whose strides are not zero)."""
    a, b = np.ones((0, 3, 4)), np.ones((4, 5))
    out = np.zeros((2, 3, 5))[:0]
    assert hpc_kernels.matmul(a, b, out=out, backend=backend) is out


@pytest.mark.parametrize("backend", BACKENDS)
def test_matmul_zero_size_batch_fresh_out(backend):
    a, b = np.ones((0, 3, 4)), np.ones((4, 5))
    out = np.empty((0, 3, 5))
    assert hpc_kernels.matmul(a, b, out=out, backend=backend) is out


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("threads", [1, 2, 4])
def test_matmul_large_batch_of_small_matrices(backend, threads, rng):
    """Many small products (the batch-parallel path), any thread count, broadcasting b."""
    with hpc_kernels.num_threads(threads):
        for dtype in DTYPES:
            a = rng.integers(-3, 4, size=(3000, 4, 5)).astype(dtype)
            b = rng.integers(-3, 4, size=(3000, 5, 3)).astype(dtype)
            np.testing.assert_array_equal(hpc_kernels.matmul(a, b, backend=backend), np.matmul(a, b))
            b1 = rng.integers(-3, 4, size=(5, 7)).astype(dtype)
            np.testing.assert_array_equal(hpc_kernels.matmul(a, b1, backend=backend), np.matmul(a, b1))
            out = np.empty((3000, 4, 7), dtype, order="F")
            hpc_kernels.matmul(a, b1, out=out, backend=backend)
            np.testing.assert_array_equal(out, np.matmul(a, b1))


@pytest.mark.parametrize("threads", [1, 3, 8])
def test_matmul_medium_batch_many_threads(threads, rng):
    """A batch of matrices big enough for threaded GEMMs, with more threads than cores."""
    a = rand(rng, (3, 130, 90), np.float32)
    b = rand(rng, (90, 110), np.float32)
    with hpc_kernels.num_threads(threads):
        got = hpc_kernels.matmul(a, b)
    check(got, a, b)


@pytest.mark.parametrize("backend", BACKENDS)
def test_matmul_scalars_rejected(backend):
    x = np.ones((2, 2))
    for a, b in ((np.float64(2.0), x), (x, np.array(3.0)), (np.array(1.0), np.array(1.0))):
        with pytest.raises(ValueError, match="scalar"):
            hpc_kernels.matmul(a, b, backend=backend)


def test_matmul_default_backend_is_cpu_for_numpy(rng):
    a, b = rand(rng, (4, 5), np.float64), rand(rng, (5, 6), np.float64)
    check(hpc_kernels.matmul(a, b), a, b)


@pytest.mark.parametrize("backend", [None] + BACKENDS)
def test_matmul_array_like_inputs(backend):
    """Lists are converted as NumPy would (float lists -> float64), 1-D promotion included."""
    got = hpc_kernels.matmul([[1.0, 2.0], [3.0, 4.0]], [5.0, 6.0], backend=backend)
    np.testing.assert_array_equal(got, [17.0, 39.0])
    assert got.dtype == np.float64
    with pytest.raises(TypeError, match="int64"):
        hpc_kernels.matmul([[1, 2]], [[3], [4]], backend=backend)
