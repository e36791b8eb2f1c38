// Declarations of the micro-kernel test hooks (see ukernel_entry.cpp).
#pragma once

#include <pybind11/numpy.h>

#include <string>

namespace kernels {

namespace py = pybind11;

py::list list_ukernels();
void run_ukernel(const std::string& name, py::ssize_t k, double alpha, const py::array& a,
                 const py::array& b, double beta, const py::array& c, py::ssize_t m, py::ssize_t n);

}  // namespace kernels
