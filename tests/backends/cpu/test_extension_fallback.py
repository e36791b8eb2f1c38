"""The cpu backend's reason when the install has no C++ extension (kernels/_cpu_not_built.txt), and the NumPy default then."""
from __future__ import annotations

import importlib.metadata
import sys

import numpy as np
import pytest

import hpc_kernels
from hpc_kernels import _dispatch, _extension

# What cmake/try_build_cpu.cmake writes after a failed compile (first line: the reason; then the log's first errors).
BUILD_FAILED = (
    "the C++ build failed at install time (build step) and KERNELS_CPU_FALLBACK=ON installed the package without it: "
    "/src/csrc/gemm.cpp:12:5: error: 'foo' was not declared in this scope "
    "(FAILED: [code=1] CMakeFiles/_cpu.dir/csrc/gemm.cpp.o)\n"
    "\nFirst error lines of the build step (the whole log was /tmp/b/kernels_cpu/build.log):\n"
    "FAILED: [code=1] CMakeFiles/_cpu.dir/csrc/gemm.cpp.o\n/src/csrc/gemm.cpp:12:5: error: 'foo' was not declared\n"
)
# What CMakeLists.txt writes for KERNELS_BUILD_CPU=OFF: one line, nothing more to point at.
BUILD_OFF = "the package was installed with KERNELS_BUILD_CPU=OFF (a pure-Python install)\n"


@pytest.fixture
def not_built(monkeypatch, tmp_path):
    """Writes a _cpu_not_built.txt and makes the extension lookup find it."""

    def write(text: str):
        path = tmp_path / "_cpu_not_built.txt"
        path.write_text(text, encoding="utf-8")
        monkeypatch.setattr(_extension, "_not_built_file", lambda: path)
        return path

    return write


@pytest.fixture
def no_extension(monkeypatch):
    """Makes `from . import _cpu` fail, as in an install without the extension (no real build)."""
    monkeypatch.delattr(hpc_kernels, "_cpu", raising=False)
    monkeypatch.setitem(sys.modules, "hpc_kernels._cpu", None)  # None in sys.modules: ImportError


def test_build_failure_reason_is_the_first_line_with_a_pointer_to_the_details(not_built):
    path = not_built(BUILD_FAILED)
    why = _extension.not_built_reason()
    assert why == BUILD_FAILED.splitlines()[0] + f" (details: {path})"


def test_build_off_reason_has_no_details(not_built):
    not_built(BUILD_OFF)
    assert _extension.not_built_reason() == BUILD_OFF.strip()


def test_empty_or_missing_file_gives_no_reason(not_built, monkeypatch):
    not_built("\n\nsecond line only\n")
    assert _extension.not_built_reason() is None
    monkeypatch.setattr(_extension, "_not_built_file", lambda: None)
    assert _extension.not_built_reason() is None


def test_cpu_reason_names_the_failed_build(no_extension, not_built):
    not_built(BUILD_FAILED)
    module, reason = _extension.load_cpu_extension()
    assert module is None
    assert reason.startswith("the C++ extension hpc_kernels._cpu could not be imported, it was not built: ")
    assert "build failed at install time (build step)" in reason and "KERNELS_CPU_FALLBACK=ON" in reason
    assert "gemm.cpp:12:5: error: 'foo' was not declared" in reason


def test_cpu_reason_without_a_recorded_cause_is_the_import_error(no_extension, monkeypatch):
    monkeypatch.setattr(_extension, "_not_built_file", lambda: None)
    module, reason = _extension.load_cpu_extension()
    assert module is None and reason.startswith("the C++ extension hpc_kernels._cpu could not be imported (")


def test_file_found_next_to_the_package(monkeypatch, tmp_path):
    pkg = tmp_path / "site" / "hpc_kernels"
    pkg.mkdir(parents=True)
    monkeypatch.setattr(_extension, "__file__", str(pkg / "_extension.py"))
    assert _extension._not_built_file() is None
    (pkg / "_cpu_not_built.txt").write_text(BUILD_FAILED)
    assert _extension._not_built_file() == pkg / "_cpu_not_built.txt"
    assert _extension.not_built_reason().startswith("the C++ build failed at install time")


def test_numpy_default_without_the_cpu_backend_is_numba_else_reference(monkeypatch):
    cpu = _dispatch._load("cpu")
    monkeypatch.setattr(cpu, "available", False)
    expected = "numba" if _dispatch._load("numba").available else "reference"
    for op in ("gemm", "matmul", "conv2d"):
        assert _dispatch._by_array_type(op, np.empty(0)).name == expected
    monkeypatch.setattr(_dispatch._load("numba"), "available", False)
    assert _dispatch._by_array_type("gemm", np.empty(0)).name == "reference"
