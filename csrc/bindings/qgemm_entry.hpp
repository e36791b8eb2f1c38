// Declarations of the int8 Python entry points of hpc_kernels._cpu (see qgemm_entry.cpp).
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

namespace kernels {

namespace py = pybind11;

// Registers qgemm, qinfo and int8_peak on the module.
void def_qgemm(py::module_& m);
// Registers qconv2d and QConvWeights (qconv_entry.cpp).
void def_qconv(py::module_& m);

}  // namespace kernels
