"""Arrays of other libraries at the public API (kernels/_arrays.py): a CPU object exposing __dlpack__
is read zero-copy, the result comes back as the first operand's kind, `out=` of that kind is written
in place or rejected by the same checks as a NumPy out (never a silent copy); masked arrays are
refused. A DLPack-only wrapper (no __array__) tests this without torch; the torch tests skip only
where torch is absent."""
from __future__ import annotations

import types

import numpy as np
import pytest

import hpc_kernels


class DLPackOnly:
    """An array of an imaginary library: DLPack and the array API's namespace, no __array__."""

    def __init__(self, a: np.ndarray, namespace: bool = True):
        self.a = a
        self._namespace = namespace

    def __dlpack__(self, **kwargs):
        return self.a.__dlpack__(**kwargs)

    def __dlpack_device__(self):
        return self.a.__dlpack_device__()

    def __getattr__(self, name):
        if name == "__array_namespace__" and self.__dict__.get("_namespace"):
            return lambda api_version=None: types.SimpleNamespace(from_dlpack=lambda r: DLPackOnly(np.from_dlpack(r)))
        raise AttributeError(name)


def _host_backends():
    return [n for n in ("cpu", "numba", "reference") if hpc_kernels._dispatch._load(n).available]


@pytest.mark.parametrize("backend", _host_backends())
def test_dlpack_only_objects_in_and_out(rng, backend):
    a = rng.standard_normal((5, 7)).astype(np.float32)
    b = rng.standard_normal((7, 3)).astype(np.float32)
    r = hpc_kernels.gemm(DLPackOnly(a), DLPackOnly(b), backend=backend)
    assert type(r) is DLPackOnly  # before: TypeError, no backend accepts the type
    np.testing.assert_allclose(r.a, a @ b, rtol=1e-5, atol=1e-5)
    r = hpc_kernels.matmul(DLPackOnly(a), b, backend=backend)
    assert type(r) is DLPackOnly
    np.testing.assert_allclose(r.a, a @ b, rtol=1e-5, atol=1e-5)
    out = DLPackOnly(np.full((5, 3), np.nan, np.float32))
    assert hpc_kernels.gemm(DLPackOnly(a), b, out=out, backend=backend) is out  # written in place
    np.testing.assert_allclose(out.a, a @ b, rtol=1e-5, atol=1e-5)
    # No namespace to convert back with: NumPy.
    assert type(hpc_kernels.gemm(DLPackOnly(a, namespace=False), b, backend=backend)) is np.ndarray


def test_dlpack_conv2d_plan_and_im2col(rng):
    x = rng.standard_normal((2, 3, 6, 6))
    w = rng.standard_normal((4, 3, 3, 3))
    bias = rng.standard_normal(4)
    want = hpc_kernels.conv2d(x, w, bias, padding=1)
    y = hpc_kernels.conv2d(DLPackOnly(x), DLPackOnly(w), DLPackOnly(bias), padding=1)
    assert type(y) is DLPackOnly
    np.testing.assert_array_equal(y.a, want)
    plan = hpc_kernels.Conv2d(DLPackOnly(w), DLPackOnly(bias), padding=1)
    assert type(plan(DLPackOnly(x))) is DLPackOnly
    out = DLPackOnly(np.empty_like(want))
    assert plan(DLPackOnly(x), out=out) is out and hpc_kernels.conv2d(x, w, bias, padding=1, out=out) is out
    np.testing.assert_array_equal(out.a, want)
    cols = hpc_kernels.im2col(DLPackOnly(x), 3, padding=1)
    assert type(cols) is DLPackOnly
    np.testing.assert_array_equal(cols.a, hpc_kernels.im2col(x, 3, padding=1))


def test_dlpack_out_gets_the_numpy_output_checks():
    """The zero-copy view is checked as a NumPy out: overlap with an input, dtype, shape, read-only."""
    a = np.ones((4, 4), np.float32)
    shared = DLPackOnly(a)
    with pytest.raises(ValueError, match="shares memory with a"):
        hpc_kernels.gemm(shared, np.ones((4, 4), np.float32), out=shared)  # zero-copy: the view IS a's memory
    with pytest.raises(TypeError, match="outputs are never cast"):
        hpc_kernels.gemm(a, a, out=DLPackOnly(np.empty((4, 4), np.float64)))
    with pytest.raises(ValueError, match="expected"):
        hpc_kernels.gemm(a, a, out=DLPackOnly(np.empty((4, 5), np.float32)))
    ro = np.empty((4, 4), np.float32)
    ro.flags.writeable = False
    with pytest.raises((ValueError, TypeError), match="read-only|readonly"):
        hpc_kernels.gemm(a, a, out=DLPackOnly(ro))
    x, w = np.ones((1, 2, 4, 4)), np.ones((2, 2, 1, 1))
    with pytest.raises(ValueError, match="overlap|shares memory"):
        hpc_kernels.conv2d(DLPackOnly(x), w, out=DLPackOnly(x))


def test_masked_arrays_are_refused():
    m = np.ma.masked_array(np.ones((3, 3), np.float32), mask=np.eye(3, dtype=bool))
    plain = np.ones((3, 3), np.float32)
    for call in (lambda: hpc_kernels.gemm(m, plain), lambda: hpc_kernels.gemm(plain, m),
                 lambda: hpc_kernels.gemm(plain, plain, out=np.ma.masked_array(np.empty((3, 3), np.float32))),
                 lambda: hpc_kernels.matmul(plain, m),
                 lambda: hpc_kernels.conv2d(np.ma.masked_array(np.ones((1, 1, 3, 3))), np.ones((1, 1, 1, 1))),
                 lambda: hpc_kernels.Conv2d(np.ma.masked_array(np.ones((1, 1, 1, 1))))):
        with pytest.raises(TypeError, match="masked arrays are not supported"):  # before: the mask was ignored
            call()


# ------------------------------------------------------------------------------------------ torch

def _torch():
    return pytest.importorskip("torch", reason="torch not installed")


@pytest.mark.parametrize("backend", _host_backends())
def test_torch_in_torch_out_zero_copy(backend):
    torch = _torch()
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(6, 5, generator=g), torch.randn(5, 4, generator=g)
    c = hpc_kernels.gemm(a, b, backend=backend)
    assert isinstance(c, torch.Tensor) and c.dtype == torch.float32  # before: numpy.ndarray
    torch.testing.assert_close(c, a @ b)
    m = hpc_kernels.matmul(a.double(), b.double(), backend=backend)
    assert isinstance(m, torch.Tensor) and m.dtype == torch.float64
    out = torch.full((6, 4), float("nan"))
    assert hpc_kernels.gemm(a, b, out=out, backend=backend) is out
    torch.testing.assert_close(out, a @ b)
    # out as a strided view (transposed storage): written where it lies
    base = torch.empty(4, 6)
    hpc_kernels.gemm(a, b, out=base.T, backend=backend)
    torch.testing.assert_close(base.T, a @ b)
    # in place into c (beta != 0): the caller's c comes back
    cc = torch.ones(6, 4)
    assert hpc_kernels.gemm(a, b, cc, beta=2.0, backend=backend) is cc
    torch.testing.assert_close(cc, a @ b + 2)
    v = hpc_kernels.matmul(torch.ones(3), torch.ones(3), backend=backend)
    assert isinstance(v, torch.Tensor) and v.ndim == 0 and float(v) == 3.0


def test_torch_conv2d_matches_torch():
    torch = _torch()
    g = torch.Generator().manual_seed(1)
    x, w, bias = torch.randn(2, 4, 7, 7, generator=g), torch.randn(6, 2, 3, 3, generator=g), torch.randn(6, generator=g)
    want = torch.nn.functional.conv2d(x, w, bias, stride=2, padding=1, groups=2)
    y = hpc_kernels.conv2d(x, w, bias, stride=2, padding=1, groups=2)
    assert isinstance(y, torch.Tensor)
    torch.testing.assert_close(y, want, rtol=1e-4, atol=1e-4)
    plan = hpc_kernels.Conv2d(w, bias, stride=2, padding=1, groups=2)
    out = torch.empty_like(want)
    assert plan(x, out=out) is out
    torch.testing.assert_close(out, want, rtol=1e-4, atol=1e-4)


def test_torch_out_is_checked_not_copied():
    torch = _torch()
    a = torch.ones(4, 4)
    with pytest.raises(ValueError, match="shares memory with a"):
        hpc_kernels.gemm(a, torch.ones(4, 4), out=a)
    with pytest.raises(TypeError, match="outputs are never cast"):
        hpc_kernels.gemm(a, a, out=torch.empty(4, 4, dtype=torch.float64))
    with pytest.raises(ValueError, match="overlapping elements"):
        hpc_kernels.gemm(a, a, out=torch.empty(4, 1).expand(4, 4))  # a broadcast view: never written
    with pytest.raises(TypeError, match="cannot be shared zero-copy through DLPack"):
        hpc_kernels.gemm(torch.ones(4, 4, requires_grad=True), a)
