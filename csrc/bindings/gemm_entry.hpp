// Declarations of the gemm/matmul Python entry points (see gemm_entry.cpp).
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <optional>

namespace kernels {

namespace py = pybind11;

// C (or a new array) := alpha * op(a) @ op(b) + beta * C; returns the array written.
py::array gemm_entry(const py::array& a, const py::array& b, std::optional<py::array> c, double alpha,
                     double beta, bool trans_a, bool trans_b);
// NumPy matmul of arrays with >= 2 dims, batch dims broadcast, into out or a new array.
py::array matmul_entry(const py::array& a, const py::array& b, std::optional<py::array> out);

}  // namespace kernels
