// Declarations of the gemm/matmul Python entry points (see gemm_entry.cpp).
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <optional>

namespace kernels {

namespace py = pybind11;

// alpha * op(a) @ op(b) + beta * C, written into out, else into c (in place), else a new array;
// returns the array written. With out and c distinct, C is read from c.
// alpha, beta: real numbers (not bool), as hpc_kernels._validation.real_scalar defines them.
py::array gemm_entry(const py::object& a, const py::object& b, const py::object& c, const py::object& alpha,
                     const py::object& beta, bool trans_a, bool trans_b, const py::object& out);
// NumPy matmul of arrays with >= 2 dims, batch dims broadcast, into out or a new array.
py::array matmul_entry(const py::array& a, const py::array& b, const py::object& out);

}  // namespace kernels
