"""An extra whose Python package is installed but whose device is missing (pyopencl without an
OpenCL driver, CuPy without a GPU or driver): the unavailability reason names the missing driver or
device, and BackendNotAvailable does not tell the user to pip install what is already there."""
from __future__ import annotations

import pytest

import hpc_kernels
from hpc_kernels import BackendNotAvailable


def _unavailable(monkeypatch, be, reason: str, installed: bool) -> BackendNotAvailable:
    monkeypatch.setattr(be, "available", False)
    monkeypatch.setattr(be, "reason", reason)
    monkeypatch.setattr(be, "installed", installed)
    with pytest.raises(BackendNotAvailable) as ei:
        hpc_kernels.get_backend(be.name)
    return ei.value


def test_cuda_with_cupy_but_an_old_or_missing_driver(monkeypatch):
    import _fake_cupy as fc
    from hpc_kernels.backends import cuda
    from hpc_kernels.backends.cuda import runtime as rt

    fake = fc.make_module()

    def no_driver():
        raise RuntimeError("cudaErrorInsufficientDriver: CUDA driver version is insufficient for CUDA runtime version")

    fake.cuda.runtime.getDeviceCount = no_driver
    monkeypatch.setattr(rt, "cp", fake)
    ok, reason = rt.available()
    assert not ok and "cupy fake is installed" in reason and "NVIDIA driver is missing or older" in reason, reason
    fake.cuda.runtime.getDeviceCount = lambda: 0
    ok, reason = rt.available()
    assert not ok and reason == "cupy fake is installed but finds no CUDA GPU"
    err = str(_unavailable(monkeypatch, cuda.backend, reason, installed=True))
    assert "finds no CUDA GPU" in err and "pip install" not in err and "are installed" in err, err
    # Without CuPy itself, installing the extra is the fix, and the message says so.
    err = str(_unavailable(monkeypatch, cuda.backend, "cupy is not installed (No module named 'cupy')", installed=False))
    assert "pip install 'hpc-kernels[cuda12]'" in err


def test_cuda_installed_flag_follows_the_import_error():
    from hpc_kernels.backends import cuda
    from hpc_kernels.backends.cuda import runtime as rt

    assert cuda.backend.installed is rt.INSTALLED
    assert cuda.backend.describe()["installed"] is rt.INSTALLED
    assert rt.INSTALLED is (rt.cp is not None or "cannot load" in (rt.IMPORT_ERROR or ""))


def test_opencl_with_pyopencl_but_no_driver(monkeypatch):
    rt = pytest.importorskip("hpc_kernels.backends.opencl.runtime")
    if rt.cl is None:
        pytest.skip("pyopencl not installed")
    from hpc_kernels.backends import opencl

    assert opencl.backend.installed is True

    def no_platform():
        raise rt.cl.Error("clGetPlatformIDs failed: PLATFORM_NOT_FOUND_KHR")

    monkeypatch.setattr(rt.cl, "get_platforms", no_platform)
    ok, reason = rt.platforms_available()
    assert not ok and "pyopencl is installed but finds no OpenCL platform" in reason, reason
    assert "no OpenCL driver (ICD) is registered" in reason and "PLATFORM_NOT_FOUND_KHR" in reason
    monkeypatch.setattr(rt.cl, "get_platforms", lambda: [])
    ok, reason = rt.platforms_available()
    assert not ok and "no OpenCL driver (ICD)" in reason
    err = str(_unavailable(monkeypatch, opencl.backend, reason, installed=True))
    assert "no OpenCL driver" in err and "pip install 'hpc-kernels[opencl]'" not in err, err


def test_opencl_platform_without_devices(monkeypatch):
    rt = pytest.importorskip("hpc_kernels.backends.opencl.runtime")
    if rt.cl is None:
        pytest.skip("pyopencl not installed")

    class Platform:
        name = "Some Vendor OpenCL "

        def get_devices(self):
            return []

    monkeypatch.setattr(rt.cl, "get_platforms", lambda: [Platform()])
    ok, reason = rt.platforms_available()
    assert not ok and reason == "pyopencl is installed but its OpenCL platform(s) 'Some Vendor OpenCL' list no device"


def test_not_installed_keeps_the_pip_hint():
    e = BackendNotAvailable("opencl", "pyopencl is not installed", "opencl")
    assert "pip install 'hpc-kernels[opencl]'" in str(e) and e.installed is False
    e = BackendNotAvailable("opencl", "no OpenCL driver", "opencl", installed=True)
    assert "pip install" not in str(e) and e.installed is True
