"""The bfloat16 error messages (shared by every backend): mixed dtypes name both, out_dtype and
outputs are never cast, fp32 vectors for bf16 convolutions, backends without bf16 say what they
accept; and the package imports and runs float GEMMs without ml_dtypes (a lazy, optional extra)."""
from __future__ import annotations

import numpy as np
import pytest

import hpc_kernels as hk
from _bref import BF16, F32
from _helpers import python_code


@pytest.mark.parametrize("backend", ["cpu", "reference"])
def test_mixed_bf16_and_fp32_names_both(backend):
    a, b = np.ones((3, 4), BF16), np.ones((4, 2), F32)
    with pytest.raises(TypeError, match="bfloat16 and float32"):
        hk.gemm(a, b, backend=backend)
    with pytest.raises(TypeError, match="float32 and bfloat16"):
        hk.matmul(b.T, a.T, backend=backend)
    with pytest.raises(TypeError, match="x and w must both be bfloat16.*bfloat16 and float32"):
        hk.conv2d(np.ones((1, 2, 3, 3), BF16), np.ones((2, 2, 1, 1), F32), backend=backend)


@pytest.mark.parametrize("backend", ["cpu", "reference"])
def test_out_dtype_and_outputs_never_cast(backend):
    a, b = np.ones((3, 4), BF16), np.ones((4, 2), BF16)
    with pytest.raises(TypeError, match="out_dtype float64 is not allowed for bfloat16 inputs"):
        hk.gemm(a, b, out_dtype=np.float64, backend=backend)
    with pytest.raises(TypeError, match="out has dtype bfloat16 but the result is float32"):
        hk.gemm(a, b, out=np.empty((3, 2), BF16), out_dtype=np.float32, backend=backend)
    with pytest.raises(TypeError, match="out has dtype float32 but the result is bfloat16"):
        hk.matmul(a, b, out=np.empty((3, 2), F32), backend=backend)
    with pytest.raises(TypeError, match="out_dtype bfloat16 is not allowed for float32 inputs"):
        hk.gemm(np.ones((2, 2), F32), np.ones((2, 2), F32), out_dtype=BF16, backend=backend)
    with pytest.raises(ValueError, match="beta != 0 needs an input c"):
        hk.gemm(a, b, beta=1.0, backend=backend)
    with pytest.raises(ValueError, match="do not agree"):
        hk.gemm(a, a, backend=backend)


@pytest.mark.parametrize("backend", ["cpu", "reference"])
def test_conv_vectors_are_fp32(backend):
    x, w = np.ones((1, 2, 3, 3), BF16), np.ones((2, 2, 1, 1), BF16)
    with pytest.raises(TypeError, match="bias has dtype bfloat16 but x and w are float32"):
        hk.conv2d(x, w, np.ones(2, BF16), backend=backend)
    with pytest.raises(TypeError, match="residual has dtype float32 but the result is bfloat16"):
        hk.conv2d(x, w, residual=np.ones((1, 2, 3, 3), F32), backend=backend)


def test_cpu_bf16_conv_runs_im2col_only():
    x, w = np.ones((1, 2, 3, 3), BF16), np.ones((2, 2, 1, 1), BF16)
    with pytest.raises(ValueError, match="bfloat16 runs algorithm 'im2col'"):
        hk.conv2d(x, w, algorithm="direct", backend="cpu")


def test_backend_without_bf16_says_what_it_accepts():
    numba_be = pytest.importorskip("hpc_kernels.backends.numba").backend
    if not numba_be.available:
        pytest.skip(numba_be.reason)
    a = np.ones((2, 2), BF16)
    with pytest.raises(TypeError, match="numba backend does not take bfloat16.*float32, float64"):
        hk.gemm(a, a, backend="numba")


def test_imports_without_ml_dtypes():
    code = (
        "import sys; sys.modules['ml_dtypes'] = None\n"
        "import numpy as np, hpc_kernels as hk\n"
        "a = np.ones((4, 4), np.float32)\n"
        "assert (hk.gemm(a, a) == 4).all() and (hk.matmul(a, a, out_dtype=np.float32) == 4).all()\n"
        "print('ok')\n"
    )
    r = python_code(code)
    assert r.returncode == 0 and "ok" in r.stdout, r.stderr
