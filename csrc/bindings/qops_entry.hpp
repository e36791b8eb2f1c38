// Declarations of the 8-bit elementwise entry points of hpc_kernels._cpu (see qops_entry.cpp).
#pragma once

#include <pybind11/numpy.h>

namespace kernels {

namespace py = pybind11;

// Registers qadd and qadd_isa on the module (private: kernels/onnx/ops/qadd_pool.py calls them).
void register_qops(py::module_& m);

}  // namespace kernels
