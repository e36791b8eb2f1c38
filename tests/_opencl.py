"""Shared pieces of the opencl tests: the skip marker (no OpenCL device that builds programs), the device, forms and GPU-style tiles."""
from __future__ import annotations

import contextlib

import numpy as np
import pytest

from hpc_kernels.backends import opencl as O

backend = O.backend
# The backend is unavailable without a platform, or when no device builds a trivial program (the
# reason then holds the build error, e.g. PoCL from pip on a CPU its LLVM does not know).
requires_opencl = pytest.mark.skipif(not backend.available, reason=f"opencl backend unavailable: {backend.reason}")

FORMS = ("ndrange", "fpga")
# Tiles of the GPU shape (several items per group, B staged in local memory, dimension 0 along N)
# and a CPU shape with odd sizes, run on whatever device the tests have (PoCL in CI), so the
# local-memory path and the edge handling of every tunable are exercised, not just the defaults.
TILES = {
    "gpu-local": dict(VW=4, NVEC=1, MWI=4, WGM=4, WGN=2, KWG=8, SB=1, M_FIRST=0),
    "cpu-odd": dict(VW=2, NVEC=3, MWI=5, WGM=1, WGN=1, KWG=8, SB=0, M_FIRST=0, KC=16),  # KC: many convGemm chunks
}


def device():
    from hpc_kernels.backends.opencl import runtime as rt

    return rt.default_device()


def dtypes():
    """float32, and float64 where the device reports it."""
    return (np.float32, np.float64) if backend.available and device().fp64 else (np.float32,)


@contextlib.contextmanager
def form(name: str):
    with O.use_form(name):
        yield


def to_dev(x):
    import pyopencl.array as cla

    return cla.to_device(device().queue, np.ascontiguousarray(x))
