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


def test_array_api_namespace_gives_the_result_back():
    """A library found through the array API (__array_namespace__().from_dlpack), as JAX's arrays
    are: array-api-strict, the standard's reference implementation (its arrays have no __array__
    for NumPy to use)."""
    xp = pytest.importorskip("array_api_strict", reason="array-api-strict not installed")
    a = np.arange(12, dtype=np.float64).reshape(3, 4)
    r = hpc_kernels.matmul(xp.asarray(a), xp.asarray(a.T))
    assert type(r) is type(xp.asarray(a)) and r.dtype == xp.float64
    np.testing.assert_array_equal(np.from_dlpack(r), a @ a.T)


# Run in a child process: importing JAX starts its thread pool, and the pytest process forks later
# (tests of concurrent writers and signals), which JAX warns may deadlock.
_JAX_CHILD = """
import sys
import numpy as np, jax, hpc_kernels
jnp = jax.numpy
backend = sys.argv[1]
rng = np.random.default_rng(3)
a, b = rng.integers(-3, 4, (37, 29)).astype(np.float32), rng.integers(-3, 4, (29, 41)).astype(np.float32)
r = hpc_kernels.matmul(jnp.asarray(a), jnp.asarray(b), backend=backend)
assert isinstance(r, jax.Array) and r.dtype == jnp.float32 and r.shape == (37, 41), (type(r), r.dtype)
np.testing.assert_array_equal(np.asarray(r), a @ b)
g = hpc_kernels.gemm(jnp.asarray(a), jnp.asarray(b), alpha=2.0, backend=backend)
assert isinstance(g, jax.Array), type(g)
np.testing.assert_array_equal(np.asarray(g), 2 * (a @ b))
x = rng.integers(-3, 4, (1, 3, 9, 9)).astype(np.float64)
w = rng.integers(-3, 4, (4, 3, 3, 3)).astype(np.float64)
with jax.enable_x64(True):  # JAX makes float32 arrays unless 64-bit types are enabled
    y = hpc_kernels.Conv2d(jnp.asarray(w), padding=1, backend=backend)(jnp.asarray(x))
    assert isinstance(y, jax.Array) and y.dtype == jnp.float64, (type(y), y.dtype)
    np.testing.assert_array_equal(np.asarray(y), hpc_kernels.conv2d(x, w, padding=1, backend="reference"))
print("ok")
"""


@pytest.mark.parametrize("backend", _host_backends())
def test_jax_in_jax_out(backend):
    """JAX arrays: read through DLPack (they have __dlpack__ and the array API namespace), the
    result a JAX array with the product's values; a Conv2d plan the same."""
    import importlib.util

    from _helpers import run_python

    if importlib.util.find_spec("jax") is None:
        pytest.skip("jax not installed")
    r = run_python(["-c", _JAX_CHILD, backend])
    assert r.returncode == 0 and r.stdout.strip().endswith("ok"), r.stderr[-3000:]


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


# ------------------------------------------------------------------------- DLPack on a GPU device

class OnGpu(DLPackOnly):
    """A DLPack object that says its memory is on CUDA device 0 (kDLCUDA), as a torch CUDA tensor
    does; the fake CuPy's from_dlpack below takes its memory (host memory in this test)."""

    def __dlpack_device__(self):
        return (2, 0)

    def __getattr__(self, name):
        if name == "__array_namespace__":
            return lambda api_version=None: types.SimpleNamespace(from_dlpack=lambda r: OnGpu(r.view(np.ndarray)))
        raise AttributeError(name)


def test_gpu_dlpack_objects_go_to_the_backend_that_reads_their_device(monkeypatch, rng):
    """Before: refused (no backend takes the type, no __array__). Now: the cuda backend's own array
    (CuPy's from_dlpack, zero-copy), the result back through the input's library, out= in place."""
    import _fake_cupy as fc
    from hpc_kernels.backends import cuda

    with fc.installed(monkeypatch):
        fake = cuda.cp
        seen = []

        def from_dlpack(x):
            seen.append(type(x).__name__)
            return x.a.view(fc.ndarray)  # the same memory, as CuPy's view of a CUDA tensor

        monkeypatch.setattr(fake, "from_dlpack", from_dlpack, raising=False)
        monkeypatch.setattr(cuda.backend, "dlpack_devices", frozenset({2}))
        a = rng.standard_normal((5, 7)).astype(np.float32)
        b = rng.standard_normal((7, 3)).astype(np.float32)
        with hpc_kernels.use_backend("cuda"):  # the fake CuPy arrays are NumPy subclasses: name the backend
            r = hpc_kernels.gemm(OnGpu(a), OnGpu(b))
            assert type(r) is OnGpu and seen == ["OnGpu", "OnGpu"]
            np.testing.assert_allclose(r.a, a @ b, rtol=1e-5, atol=1e-5)
            out = OnGpu(np.full((5, 3), np.nan, np.float32))
            assert hpc_kernels.gemm(OnGpu(a), OnGpu(b), out=out) is out
            np.testing.assert_allclose(out.a, a @ b, rtol=1e-5, atol=1e-5)


def test_gpu_dlpack_objects_without_a_backend_for_their_device_are_refused(monkeypatch):
    """No available backend reads the device: the object stays as it is, and no backend takes it."""
    from hpc_kernels.backends import cuda

    monkeypatch.setattr(cuda.backend, "available", False)
    a = np.ones((2, 2), np.float32)
    with pytest.raises(TypeError, match="no available backend accepts arrays of type"):
        hpc_kernels.gemm(OnGpu(a), OnGpu(a))


@pytest.mark.skipif("not __import__('torch').cuda.is_available()" if __import__("importlib").util.find_spec("torch")
                    else True, reason="torch with a CUDA GPU not available")
def test_torch_cuda_tensors_run_on_the_cuda_backend():
    import torch

    if not hpc_kernels._dispatch._load("cuda").available:
        pytest.skip("cuda backend unavailable")
    a, b = torch.randn(64, 32, device="cuda"), torch.randn(32, 16, device="cuda")
    c = hpc_kernels.gemm(a, b)
    assert isinstance(c, torch.Tensor) and c.device.type == "cuda"
    torch.testing.assert_close(c, a @ b, rtol=1e-4, atol=1e-4)
    out = torch.empty(64, 16, device="cuda")
    assert hpc_kernels.gemm(a, b, out=out) is out
    torch.testing.assert_close(out, a @ b, rtol=1e-4, atol=1e-4)
