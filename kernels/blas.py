"""libkernels_blas.so, the BLAS/CBLAS GEMM ABI of the same C++ engine for C, C++ and Fortran programs:
where the package installed it, and how a program links against it or runs on it.

    hpc_kernels.blas_library()     # path of libkernels_blas.so
    python -m hpc_kernels blas     # the path, the include directory and the one-line recipes
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict

LIBRARY = "libkernels_blas.so"
HEADER = "kernels_blas.h"
_HERE = Path(__file__).resolve().parent  # the installed hpc_kernels/ (CMake installs lib/ and include/ beside it)


class BlasLibraryMissing(FileNotFoundError):
    """This install has no libkernels_blas.so (built with KERNELS_BUILD_BLAS=OFF or without the C++ engine)."""


def blas_library() -> str:
    """Absolute path of libkernels_blas.so; BlasLibraryMissing (a FileNotFoundError) saying why when absent."""
    path = _HERE / "lib" / LIBRARY
    if not path.is_file():
        raise BlasLibraryMissing(
            f"{path} does not exist: this install was built without the BLAS library (KERNELS_BUILD_BLAS=OFF, "
            "KERNELS_BUILD_CPU=OFF, or a failed C++ build installed with KERNELS_CPU_FALLBACK=ON); "
            "reinstall with the default options to get it")
    return str(path)


def include_dir() -> str:
    """The folder holding kernels_blas.h."""
    return str(_HERE / "include")


def recipes() -> Dict[str, str]:
    """The library, the include folder and the one-line commands to build with it or run on it."""
    lib = blas_library()
    libdir = str(Path(lib).parent)
    inc = include_dir()
    return {
        "library": lib,
        "include": inc,
        "cflags": f"-I{inc}",
        "libs": f"-L{libdir} -Wl,-rpath,{libdir} -lkernels_blas",
        "link C/C++": f"cc prog.c -I{inc} -L{libdir} -Wl,-rpath,{libdir} -lkernels_blas",
        "link Fortran": f"gfortran prog.f90 -L{libdir} -Wl,-rpath,{libdir} -lkernels_blas",
        "run an existing binary": f"LD_PRELOAD={lib} ./prog",
    }


def format_recipes(r: Dict[str, str]) -> str:
    width = max(len(k) for k in r) + 1
    return "\n".join(f"{k + ':':<{width}} {v}" for k, v in r.items())
