"""Every bad input raises its exception with a useful message, on every backend, writing nothing."""
from __future__ import annotations

import re

import numpy as np
import pytest
from numpy.lib.stride_tricks import as_strided

import hpc_kernels

# Every available backend that takes NumPy arrays: one validation, one error per bad input.
BACKENDS = [name for name, d in hpc_kernels.info()["backends"].items() if d["available"]]
E = re.escape


def f64(*shape):
    return np.arange(1.0, 1.0 + np.prod(shape)).reshape(shape)


def readonly(x):
    x = x.copy()
    x.flags.writeable = False
    return x


def zero_stride(shape, dtype=np.float64):
    """A writable view in which every row is the same memory (an as_strided broadcast)."""
    row = np.full(shape[1], np.nan, dtype)
    return as_strided(row, shape=shape, strides=(0, row.itemsize))


def overlapping_out_b():
    big = f64(5, 4)
    return big[:3], big[2:5, :]  # b (3, 4) and an out (3, 4) that share row 2


def _gemm_out_overlaps_b():
    b, out = overlapping_out_b()
    return (f64(3, 3), b), dict(out=out)


def _gemm_out_overlaps_c():
    big = f64(4, 4)
    return (f64(3, 2), f64(2, 4)), dict(c=big[:3], out=big[1:], beta=1.0)


def _matmul_out_is_a():
    a = f64(2, 3, 3)
    return (a, f64(3, 3)), dict(out=a)


DTYPE_ALLOWED = "allowed dtypes are float32 and float64"

# id -> (op, builder returning (args, kwargs), exception, regex the message must match)
CASES = {
    # dtypes
    "int32": ("gemm", lambda: ((np.ones((2, 2), np.int32),) * 2, {}), TypeError, "int32.*" + DTYPE_ALLOWED),
    "int64": ("gemm", lambda: ((np.ones((2, 2), np.int64),) * 2, {}), TypeError, "int64.*" + DTYPE_ALLOWED),
    "complex128": ("gemm", lambda: ((np.ones((2, 2), complex),) * 2, {}), TypeError, "complex128.*" + DTYPE_ALLOWED),
    "complex64": ("matmul", lambda: ((np.ones((2, 2), np.complex64),) * 2, {}), TypeError, "complex64.*" + DTYPE_ALLOWED),
    "float16": ("gemm", lambda: ((np.ones((2, 2), np.float16),) * 2, {}), TypeError, "float16.*" + DTYPE_ALLOWED),
    "bool": ("matmul", lambda: ((np.ones((2, 2), bool),) * 2, {}), TypeError, "bool.*" + DTYPE_ALLOWED),
    "big-endian": ("gemm", lambda: ((np.ones((2, 2), ">f4"),) * 2, {}), TypeError, ">f4.*native byte order"),
    "big-endian-b": (
        "gemm", lambda: ((np.ones((2, 2), np.float64), np.ones((2, 2), ">f8")), {}), TypeError, "b has dtype >f8",
    ),
    "mixed": ("gemm", lambda: ((np.ones((2, 2), np.float32), np.ones((2, 2))), {}), TypeError, "float32 and float64"),
    "mixed-matmul": (
        "matmul", lambda: ((np.ones((2, 2)), np.ones((2, 2), np.float32)), {}), TypeError, "float64 and float32",
    ),
    "mixed-int": ("gemm", lambda: ((np.ones((2, 2)), np.ones((2, 2), np.int64)), {}), TypeError, "int64"),
    # ranks and shapes
    "gemm-a-1d": ("gemm", lambda: ((f64(3), f64(3, 3)), {}), ValueError, E("a must be 2-D, got shape (3,)")),
    "gemm-b-3d": ("gemm", lambda: ((f64(3, 3), f64(1, 3, 3)), {}), ValueError, E("b must be 2-D, got shape (1, 3, 3)")),
    "gemm-a-0d": ("gemm", lambda: ((np.array(2.0), f64(3, 3)), {}), ValueError, "a must be 2-D"),
    "gemm-shapes": ("gemm", lambda: ((f64(3, 4), f64(5, 6)), {}), ValueError, E("(3, 4)") + ".*" + E("(5, 6)")),
    "gemm-shapes-trans": (
        "gemm", lambda: ((f64(4, 3), f64(3, 5)), dict(trans_a=True)), ValueError, E("(4, 3) and (3, 5)") + ".*trans_a=True",
    ),
    "matmul-shapes": ("matmul", lambda: ((f64(2, 5, 6), f64(7, 3)), {}), ValueError, E("(2, 5, 6) and (7, 3)")),
    "matmul-shapes-1d": ("matmul", lambda: ((f64(3), f64(4, 3)), {}), ValueError, E("(4, 3)") + ".*do not agree"),
    "matmul-batch": (
        "matmul", lambda: ((f64(2, 3, 4), f64(3, 4, 5)), {}), ValueError, E("(2, 3, 4) and (3, 4, 5)") + ".*broadcast",
    ),
    # c (in place)
    "c-readonly": ("gemm", lambda: ((f64(3, 2), f64(2, 4)), dict(c=readonly(f64(3, 4)))), ValueError, "c is read-only"),
    "c-dtype": (
        "gemm", lambda: ((f64(3, 2), f64(2, 4)), dict(c=np.zeros((3, 4), np.float32))), TypeError, "c has dtype float32",
    ),
    "c-int": ("gemm", lambda: ((f64(3, 2), f64(2, 4)), dict(c=np.zeros((3, 4), int))), TypeError, "c has dtype int64"),
    "c-shape": (
        "gemm", lambda: ((f64(3, 2), f64(2, 4)), dict(c=np.zeros((4, 3)))), ValueError, E("c has shape (4, 3), expected (3, 4)"),
    ),
    "c-broadcast": (
        "gemm", lambda: ((f64(3, 2), f64(2, 4)), dict(c=np.broadcast_to(f64(4), (3, 4)))), ValueError, "read-only|overlapping",
    ),
    "c-zero-stride": (
        "gemm", lambda: ((f64(3, 2), f64(2, 4)), dict(c=zero_stride((3, 4)))), ValueError, "c has overlapping elements",
    ),
    "c-is-a": ("gemm", lambda: ((lambda a: ((a, f64(3, 3)), dict(c=a)))(f64(3, 3))), ValueError, "c shares memory with a"),
    "c-beta-no-c": ("gemm", lambda: ((f64(3, 2), f64(2, 4)), dict(beta=1.0)), ValueError, E("beta != 0 needs an input c")),
    "c-beta-out-no-c": (
        "gemm", lambda: ((f64(3, 2), f64(2, 4)), dict(beta=0.5, out=np.zeros((3, 4)))), ValueError, E("beta != 0 needs an input c"),
    ),
    # out
    "out-readonly": ("gemm", lambda: ((f64(3, 2), f64(2, 4)), dict(out=readonly(f64(3, 4)))), ValueError, "out is read-only"),
    "out-dtype": (
        "gemm", lambda: ((f64(3, 2), f64(2, 4)), dict(out=np.zeros((3, 4), np.float32))), TypeError, "out has dtype float32.*never cast",
    ),
    "out-shape": (
        "gemm", lambda: ((f64(3, 2), f64(2, 4)), dict(out=np.zeros((3, 5)))), ValueError, E("out has shape (3, 5), expected (3, 4)"),
    ),
    "out-broadcast": (
        "gemm", lambda: ((f64(3, 2), f64(2, 4)), dict(out=np.broadcast_to(np.zeros(4), (3, 4)))), ValueError, "read-only|overlapping",
    ),
    "out-zero-stride": (
        "gemm", lambda: ((f64(3, 2), f64(2, 4)), dict(out=zero_stride((3, 4)))), ValueError, "out has overlapping elements",
    ),
    "out-is-a": ("gemm", lambda: ((lambda a: ((a, f64(3, 3)), dict(out=a)))(f64(3, 3))), ValueError, "out shares memory with a"),
    "out-overlaps-b": ("gemm", _gemm_out_overlaps_b, ValueError, "out shares memory with b"),
    "out-overlaps-c": ("gemm", _gemm_out_overlaps_c, ValueError, "out shares memory with c"),
    "out-c-dtype": (
        "gemm", lambda: ((f64(3, 2), f64(2, 4)), dict(c=np.zeros((3, 4), np.float32), out=np.zeros((3, 4)), beta=1.0)),
        TypeError, "c has dtype float32",
    ),
    "out-c-shape": (
        "gemm", lambda: ((f64(3, 2), f64(2, 4)), dict(c=np.zeros((4, 3)), out=np.zeros((3, 4)), beta=1.0)),
        ValueError, E("c has shape (4, 3)"),
    ),
    "out-list": ("gemm", lambda: ((f64(3, 2), f64(2, 4)), dict(c=f64(3, 4), beta=1.0, out=[[0.0] * 4] * 3)), TypeError, "numpy.ndarray"),
    "matmul-out-readonly": ("matmul", lambda: ((f64(2, 3), f64(3, 4)), dict(out=readonly(f64(2, 4)))), ValueError, "out is read-only"),
    "matmul-out-dtype": (
        "matmul", lambda: ((f64(2, 3), f64(3, 4)), dict(out=np.zeros((2, 4), np.float32))), TypeError, "out has dtype float32",
    ),
    "matmul-out-shape": (
        "matmul", lambda: ((f64(2, 2, 3), f64(3, 4)), dict(out=np.zeros((2, 4)))), ValueError, E("out has shape (2, 4), expected (2, 2, 4)"),
    ),
    "matmul-out-shape-1d": (
        "matmul", lambda: ((f64(3), f64(3, 4)), dict(out=np.zeros((1, 4)))), ValueError, E("out has shape (1, 4), expected (4,)"),
    ),
    "matmul-out-broadcast": (
        "matmul", lambda: ((f64(2, 3), f64(3, 4)), dict(out=np.broadcast_to(np.zeros(4), (2, 4)))), ValueError, "read-only|overlapping",
    ),
    "matmul-out-zero-stride": (
        "matmul", lambda: ((f64(2, 3), f64(3, 4)), dict(out=zero_stride((2, 4)))), ValueError, "out has overlapping elements",
    ),
    "matmul-out-is-a": ("matmul", _matmul_out_is_a, ValueError, "out shares memory with a"),
    "matmul-out-list": ("matmul", lambda: ((f64(2, 3), f64(3, 4)), dict(out=[[0.0] * 4] * 2)), TypeError, "numpy.ndarray"),
    "matmul-scalar": ("matmul", lambda: ((np.float64(2.0), f64(2, 2)), {}), ValueError, "scalar operands are not allowed"),
}


def _params():
    for case in CASES:
        for backend in BACKENDS:
            yield pytest.param(case, backend, id=f"{case}-{backend}")


def _arrays(args, kwargs):
    return [x for x in (*args, *kwargs.values()) if isinstance(x, np.ndarray)]


@pytest.mark.parametrize("case,backend", list(_params()))
def test_bad_input(case, backend):
    """The documented exception type (the same on both backends), a message naming the problem,
    and no array written (inputs, c and out unchanged)."""
    op, build, exc, match = CASES[case]
    args, kwargs = build()
    arrays = _arrays(args, kwargs)
    before = [x.copy() for x in arrays]
    with pytest.raises(exc, match=match):
        getattr(hpc_kernels, op)(*args, backend=backend, **kwargs)
    for x, x0 in zip(arrays, before):
        np.testing.assert_array_equal(x, x0, err_msg=f"{case}: an array was written before the error")


def test_exception_types_agree_for_every_case():
    """Sanity of the table: every backend raises exactly the same exception class per case."""
    for case, (op, build, exc, _) in CASES.items():
        kinds = []
        for backend in BACKENDS:
            args, kwargs = build()
            try:
                getattr(hpc_kernels, op)(*args, backend=backend, **kwargs)
            except Exception as e:  # noqa: BLE001
                kinds.append(type(e))
            else:
                kinds.append(None)
        assert all(k is kinds[0] for k in kinds) and issubclass(kinds[0], exc), f"{case}: {dict(zip(BACKENDS, kinds))}"


def test_no_write_on_failure_misaligned_output():
    """cpu: c is copied into out only after every argument (out's alignment included) is accepted."""
    buf = np.zeros(16 * 4 + 1, np.uint8)
    out = buf[1:].view(np.float32).reshape(4, 4)  # data pointer not a multiple of 4
    assert not out.flags.aligned
    a, b = np.ones((4, 4), np.float32), np.ones((4, 4), np.float32)
    c = np.full((4, 4), 7.0, np.float32)
    with pytest.raises(ValueError, match="not aligned"):
        hpc_kernels.gemm(a, b, c, beta=1.0, out=out, backend="cpu")
    np.testing.assert_array_equal(out, np.zeros((4, 4), np.float32))


def test_misaligned_input_is_read_from_a_copy_cpu():
    """hpc_kernels._cpu reads an element-misaligned input from an aligned copy (inputs may be copied)."""
    buf = np.zeros(16 * 8 + 1, np.uint8)
    a = buf[1:].view(np.float64).reshape(4, 4)
    a[...] = f64(4, 4)
    np.testing.assert_array_equal(hpc_kernels.gemm(a, np.eye(4), backend="cpu"), f64(4, 4))


@pytest.mark.parametrize("op", ["gemm", "matmul"])
def test_unknown_backend(op):
    a = np.ones((2, 2))
    known = ", ".join(hpc_kernels.backend_names())  # every registered backend, in registry order
    with pytest.raises(ValueError, match=re.escape(f"unknown backend 'nope'; known backends: {known}")):
        getattr(hpc_kernels, op)(a, a, backend="nope")
    with pytest.raises(ValueError, match="unknown backend 'nope'"):
        with hpc_kernels.use_backend("nope"):
            pass
    with pytest.raises(ValueError, match="unknown backend 'nope'"):
        hpc_kernels.get_backend("nope")


@pytest.mark.parametrize(
    "n,exc,match",
    [
        (0, ValueError, ">= 1, got 0"),
        (-1, ValueError, ">= 1, got -1"),
        (1.5, TypeError, "integer, got float"),
        (True, TypeError, "integer, got bool"),
        ("2", TypeError, "integer, got str"),
        (None, TypeError, "integer, got NoneType"),
    ],
)
def test_bad_thread_counts(n, exc, match):
    before = hpc_kernels.get_num_threads()
    with pytest.raises(exc, match=match):
        hpc_kernels.set_num_threads(n)
    with pytest.raises(exc, match=match):
        with hpc_kernels.num_threads(n):
            pass
    assert hpc_kernels.get_num_threads() == before


def test_errors_are_raised_before_any_work_on_large_inputs():
    """A shape error on a large problem is immediate and leaves out untouched."""
    a, b = np.ones((500, 400)), np.ones((401, 300))
    out = np.full((500, 300), np.nan)
    for backend in BACKENDS:
        with pytest.raises(ValueError, match=E("(500, 400) and (401, 300)")):
            hpc_kernels.gemm(a, b, out=out, backend=backend)
        assert np.isnan(out).all()


def _coeff_params():
    cases = {"alpha-None": dict(alpha=None), "alpha-str": dict(alpha="2"), "alpha-complex": dict(alpha=1j),
             "beta-None": dict(beta=None), "beta-str": dict(beta="1")}
    for name, kw in cases.items():
        for backend in BACKENDS:
            yield pytest.param(kw, backend, id=f"{name}-{backend}")


@pytest.mark.parametrize("kw,backend", list(_coeff_params()))
def test_bad_alpha_beta_type(kw, backend):
    a = f64(2, 2)
    c = f64(2, 2)
    c0 = c.copy()
    with pytest.raises(TypeError):
        hpc_kernels.gemm(a, a, c, backend=backend, **kw)
    np.testing.assert_array_equal(c, c0)


@pytest.mark.parametrize(
    "bad_c",
    [np.zeros((3, 4), np.float32), np.zeros((4, 3)), np.zeros((3, 4), np.int64)],
    ids=["dtype", "shape", "int"],
)
def test_unread_c_with_out_same_outcome_on_every_backend(bad_c):
    a, b = f64(3, 2), f64(2, 4)
    outcomes = []
    for backend in BACKENDS:
        try:
            hpc_kernels.gemm(a, b, bad_c, beta=0.0, out=np.zeros((3, 4)), backend=backend)
            outcomes.append(None)
        except (TypeError, ValueError) as e:
            outcomes.append(type(e))
    assert all(o is outcomes[0] for o in outcomes), dict(zip(BACKENDS, outcomes))
