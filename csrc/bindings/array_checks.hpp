// Validation of NumPy arrays handed to the extension: dtype, rank, alignment, writability, overlap.
// Every check raises TypeError/ValueError naming the argument and what is allowed.
#pragma once

#include <pybind11/numpy.h>

#include <string>

#include "../common.hpp"

namespace kernels::py_checks {

namespace py = pybind11;

enum class Dtype { f32, f64 };

// float32 or float64 in native byte order, else TypeError.
Dtype dtype_of(const py::array& x, const char* fn, const char* arg);
const char* dtype_name(Dtype d);
void require_same_dtype(Dtype da, Dtype db, const char* fn,
                        const char* an, const char* bn);
// Element strides of x (byte strides divided by the item size); ValueError when not a multiple.
void element_strides(const py::array& x, inc_t* out, const char* fn, const char* arg);
// Output checks: writable, no two elements at the same address, no memory shared with `other`.
void require_writable_output(const py::array& out, const char* fn, const char* arg);
void require_no_overlap(const py::array& out, const py::array& other, const char* fn,
                        const char* out_name, const char* other_name);
std::string shape_str(const py::array& x);

}  // namespace kernels::py_checks
