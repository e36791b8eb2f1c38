"""hpc_kernels.empty_aligned: the address is a multiple of align for every shape and dtype, the array
is C-contiguous, writable and owns no more than it shows; bad arguments raise naming what is allowed."""
from __future__ import annotations

import numpy as np
import pytest

import hpc_kernels as hk


@pytest.mark.parametrize("shape", [(), 0, 7, (3, 5), (0, 4), (2, 3, 129)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int8, np.uint16, np.complex128])
@pytest.mark.parametrize("align", [16, 64, 4096])
def test_aligned_contiguous_writable(shape, dtype, align):
    x = hk.empty_aligned(shape, dtype, align=align)
    assert x.size == 0 or x.ctypes.data % align == 0  # (NumPy keeps no offset for an empty slice)
    assert x.shape == np.empty(shape).shape and x.dtype == np.dtype(dtype)
    assert x.flags.c_contiguous and x.flags.writeable
    x[...] = 1
    assert (x == 1).all()
    assert not isinstance(x.base, np.ndarray)  # its own root, as np.empty's arrays are


def test_bf16_dtype():
    ml_dtypes = pytest.importorskip("ml_dtypes")
    x = hk.empty_aligned((64, 96), ml_dtypes.bfloat16)
    assert x.ctypes.data % 64 == 0 and x.dtype == ml_dtypes.bfloat16


@pytest.mark.parametrize("align", [0, -64, 48, 3])
def test_align_not_a_power_of_two(align):
    with pytest.raises(ValueError, match="power of two"):
        hk.empty_aligned(4, align=align)


def test_bad_shape_and_dtype():
    with pytest.raises(ValueError, match="negative"):
        hk.empty_aligned((3, -1))
    with pytest.raises(TypeError):
        hk.empty_aligned(2.5)
    with pytest.raises(TypeError, match="Python objects"):
        hk.empty_aligned(3, object)
