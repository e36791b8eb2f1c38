// Declarations of the bf16 Python entry points of hpc_kernels._cpu (see bgemm_entry.cpp).
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

namespace kernels {

namespace py = pybind11;

// Registers bgemm, binfo and bf16_peak on the module.
void def_bgemm(py::module_& m);

}  // namespace kernels
