"""opencl gemm/matmul against the float64 reference: both kernel forms, transposes, strided and
negative-stride operands, host (NumPy) and device (pyopencl) arrays, BLAS beta/alpha semantics,
GPU-style tiles (local memory, several items per group) run on the test device, and batched matmul."""
from __future__ import annotations

import numpy as np
import pytest

import hpc_kernels
from _helpers import LAYOUTS, check_gemm, dt_id, in_layout, layout_of, small_ints
from _opencl import FORMS, TILES, device, dtypes, form, requires_opencl, to_dev

pytestmark = requires_opencl

SHAPES = [(1, 1, 1), (5, 7, 3), (64, 64, 64), (37, 131, 45), (130, 67, 200), (6, 64, 1), (13, 200, 9)]
SCALARS = [(1.0, 0.0), (-1.5, 0.5), (2.0, 1.0)]


def _params():
    out = []
    for i, (m, n, k) in enumerate(SHAPES):
        for ta in (False, True):
            for tb in (False, True):
                for f in FORMS:
                    out.append(pytest.param(m, n, k, ta, tb, f, SCALARS[(i + ta + 2 * tb) % 3], id=f"{m}x{n}x{k}-{'T' if ta else 'N'}{'T' if tb else 'N'}-{f}"))
    return out


@pytest.mark.parametrize("m,n,k,ta,tb,kform,scalars", _params())
@pytest.mark.parametrize("dtype", dtypes(), ids=dt_id)
def test_gemm_host_exact(m, n, k, ta, tb, kform, scalars, dtype, rng):
    """Integer-valued data: every evaluation order is exact, the result must equal the reference."""
    alpha, beta = scalars
    a = small_ints(rng, (k, m) if ta else (m, k), dtype)
    b = small_ints(rng, (n, k) if tb else (k, n), dtype)
    c0 = small_ints(rng, (m, n), dtype)
    c = c0.copy()
    with form(kform):
        got = hpc_kernels.gemm(a, b, c, alpha=alpha, beta=beta, trans_a=ta, trans_b=tb, backend="opencl")
    assert got is c
    ref = alpha * ((a.T if ta else a).astype(np.float64) @ (b.T if tb else b)) + beta * c0
    np.testing.assert_array_equal(got, ref)


@pytest.mark.parametrize("kform", FORMS)
@pytest.mark.parametrize("dtype", dtypes(), ids=dt_id)
@pytest.mark.parametrize("la,lb", [(la, LAYOUTS[(i + 3) % len(LAYOUTS)]) for i, la in enumerate(LAYOUTS)])
def test_gemm_host_layouts_within_bound(la, lb, dtype, kform, rng):
    """Random data in every operand layout (F order, strides, negative strides, slices); the
    output written in place into a strided view, nothing outside it touched."""
    m, n, k = 33, 70, 41
    a, _ = layout_of(rng, (m, k), dtype, la)
    b, _ = layout_of(rng, (k, n), dtype, lb)
    c0 = rng.uniform(-1, 1, (m, n)).astype(dtype)
    c, base = in_layout(c0, "strided", fill=7.0)
    with form(kform):
        hpc_kernels.gemm(a, b, c, alpha=0.75, beta=-1.25, backend="opencl")
    check_gemm(c, a, b, c0, 0.75, -1.25, what=f"{la}/{lb}")
    mask = np.ones(base.shape, bool)
    mask[1::2, 2::3][:m, :n] = False
    assert np.all(base[mask] == 7.0), "elements outside the output view were written"


@pytest.mark.parametrize("kform", FORMS)
@pytest.mark.parametrize("dtype", dtypes(), ids=dt_id)
def test_gemm_device_arrays(dtype, kform, rng):
    """pyopencl arrays in -> pyopencl array out on the same queue; transposed and sliced device
    views are used where they lie; out=, c in place and c != out."""
    import pyopencl.array as cla

    m, n, k = 45, 77, 29
    a = rng.uniform(-1, 1, (k + 3, m)).astype(dtype)
    b = rng.uniform(-1, 1, (k, n)).astype(dtype)
    c0 = rng.uniform(-1, 1, (m, n)).astype(dtype)
    ad, bd = to_dev(a), to_dev(b)
    av = ad[3:].T  # (m, k) view: transposed and offset
    with form(kform):
        got = hpc_kernels.gemm(av, bd)
        assert isinstance(got, cla.Array) and got.queue is ad.queue and got.dtype == dtype
        check_gemm(got.get(), a[3:].T, b, None, 1.0, 0.0, what="device")
        cd = to_dev(c0)
        same = hpc_kernels.gemm(av, bd, cd, alpha=2.0, beta=0.5)
        assert same is cd
        check_gemm(cd.get(), a[3:].T, b, c0, 2.0, 0.5, what="device c in place")
        cin, out = to_dev(c0), cla.empty(device().queue, (m, n), dtype)
        res = hpc_kernels.gemm(av, bd, cin, alpha=-1.0, beta=3.0, out=out)
        assert res is out
        check_gemm(out.get(), a[3:].T, b, c0, -1.0, 3.0, what="device c -> out")
        np.testing.assert_array_equal(cin.get(), c0)  # c only read


@pytest.mark.parametrize("kform", FORMS)
@pytest.mark.parametrize("device_arrays", [False, True], ids=["host", "device"])
def test_blas_semantics(kform, device_arrays, rng):
    """beta == 0 never reads C (NaN in C does not leak); alpha == 0 or k == 0 never reads A and B;
    empty outputs launch nothing."""
    dt = np.float32
    wrap = to_dev if device_arrays else (lambda x: x)
    get = (lambda x: x.get()) if device_arrays else (lambda x: x)
    a, b = small_ints(rng, (9, 5), dt), small_ints(rng, (5, 11), dt)
    with form(kform):
        c = wrap(np.full((9, 11), np.nan, dt))
        hpc_kernels.gemm(wrap(a), wrap(b), c, beta=0.0, backend="opencl")
        np.testing.assert_array_equal(get(c), a.astype(np.float64) @ b)
        an, bn = np.full((9, 5), np.nan, dt), np.full((5, 11), np.nan, dt)
        c0 = small_ints(rng, (9, 11), dt)
        c = wrap(c0.copy())
        hpc_kernels.gemm(wrap(an), wrap(bn), c, alpha=0.0, beta=2.0, backend="opencl")
        np.testing.assert_array_equal(get(c), 2 * c0)
        c = wrap(c0.copy())
        hpc_kernels.gemm(wrap(np.zeros((9, 0), dt)), wrap(np.zeros((0, 11), dt)), c, beta=-1.0, backend="opencl")
        np.testing.assert_array_equal(get(c), -c0)
        e = hpc_kernels.gemm(wrap(np.zeros((0, 4), dt)), wrap(np.zeros((4, 3), dt)), backend="opencl")
        assert tuple(e.shape) == (0, 3)
        nan_a = a.copy()
        nan_a[2, 1] = np.nan
        got = get(hpc_kernels.gemm(wrap(nan_a), wrap(b), backend="opencl"))
        assert np.isnan(got[2]).any() and not np.isnan(np.delete(got, 2, axis=0)).any()


@pytest.mark.parametrize("tiles", list(TILES), ids=list(TILES))
@pytest.mark.parametrize("dtype", dtypes(), ids=dt_id)
def test_gemm_tiles(tiles, dtype, rng):
    """The NDRange kernel with other tunables than the device's defaults, including the
    GPU shape (several items per group sharing local-memory B tiles), on ragged sizes."""
    from hpc_kernels.backends.opencl import launch as L

    dev = device()
    for m, n, k in [(1, 1, 1), (23, 19, 37), (40, 64, 8), (17, 100, 70)]:
        a, b = small_ints(rng, (m, k), dtype), small_ints(rng, (k, n), dtype)
        c0 = small_ints(rng, (m, n), dtype)
        ad, bd, cd = to_dev(a), to_dev(b), to_dev(c0)
        op = L.Operand.of
        L.gemm_ndrange(dev, np.dtype(dtype), L.Gemm(m, n, k, 2.0, -1.0, op(ad), op(bd), op(cd), op(cd)), t=TILES[tiles])
        np.testing.assert_array_equal(cd.get(), 2.0 * (a.astype(np.float64) @ b) - c0, err_msg=f"{m}x{n}x{k}")


@pytest.mark.parametrize("kform", FORMS)
def test_matmul(kform, rng):
    """Batched and broadcast matmul, host and device, with out=; 1-D host operands promoted."""
    dt = np.float32
    cases = [((4, 6), (6, 5)), ((3, 1, 7, 4), (2, 4, 9)), ((2, 5, 3), (3, 8)), ((6,), (6, 4)), ((2, 3, 6), (6,))]
    with form(kform):
        for sa, sb in cases:
            a, b = small_ints(rng, sa, dt), small_ints(rng, sb, dt)
            ref = np.matmul(a.astype(np.float64), b)
            np.testing.assert_array_equal(hpc_kernels.matmul(a, b, backend="opencl"), ref)
            out = np.empty(ref.shape, dt)
            assert hpc_kernels.matmul(a, b, out=out, backend="opencl") is out
            np.testing.assert_array_equal(out, ref)
            if len(sa) >= 2 and len(sb) >= 2:
                got = hpc_kernels.matmul(to_dev(a), to_dev(b))
                np.testing.assert_array_equal(got.get(), ref)


def test_arrays_on_their_own_queue_and_context(rng):
    """Arrays on another queue (and another context) run there: results on the arrays' queue."""
    import pyopencl as cl
    import pyopencl.array as cla

    ctx = cl.Context([device().device])
    q = cl.CommandQueue(ctx)
    a, b = small_ints(rng, (30, 20), np.float32), small_ints(rng, (20, 70), np.float32)
    for kform in FORMS:
        with form(kform):
            got = hpc_kernels.gemm(cla.to_device(q, a), cla.to_device(q, b))
            assert got.queue is q
            np.testing.assert_array_equal(got.get(), a.astype(np.float64) @ b)
            x = small_ints(rng, (1, 3, 6, 6), np.float32)
            w = small_ints(rng, (4, 3, 3, 3), np.float32)
            y = hpc_kernels.conv2d(cla.to_device(q, x), w, padding=1)
            assert y.queue is q
            np.testing.assert_array_equal(y.get(), hpc_kernels.conv2d(x, w, padding=1, backend="reference"))
    with pytest.raises(ValueError, match="another OpenCL context"):
        hpc_kernels.gemm(cla.to_device(q, a), cla.to_device(q, b), out=to_dev(np.empty((30, 70), np.float32)))


def test_dispatch_by_array_type(type_dispatch):
    """A pyopencl array picks the opencl backend without backend=."""
    import pyopencl.array as cla

    a = to_dev(np.eye(3, dtype=np.float32))
    assert isinstance(hpc_kernels.gemm(a, a), cla.Array)
    assert isinstance(hpc_kernels.matmul(a, a), cla.Array)
