// Validation of NumPy arrays handed to the extension: dtype, rank, alignment, writability, overlap.
// Every check raises TypeError/ValueError naming the argument and what is allowed.
#pragma once

#include <pybind11/numpy.h>

#include <string>

#include "../core/common.hpp"

namespace kernels::py_checks {

namespace py = pybind11;

enum class Dtype { f32, f64 };

// float32 or float64 in native byte order, else TypeError.
Dtype dtype_of(const py::array& x, const char* fn, const char* arg);
const char* dtype_name(Dtype d);
void require_same_dtype(Dtype da, Dtype db, const char* fn,
                        const char* an, const char* bn);
// Element strides of an OUTPUT x (byte strides divided by the item size); ValueError when the data
// pointer or a stride is not a multiple of the item size (inputs go through aligned_input first);
// an empty array's address and a one-element dimension's stride are not used and not checked.
void element_strides(const py::array& x, inc_t* out, const char* fn, const char* arg);
// Data pointer and every stride multiples of the item size (what element-stride arithmetic and
// the kernels' T loads need; NumPy aligns the arrays it allocates); as element_strides, an empty
// array's address and a one-element dimension's stride do not count.
bool element_aligned(const py::array& x);
// An INPUT the engine reads: x itself, or when not element_aligned (or, with `contiguous`, not
// C-contiguous) a C-contiguous aligned copy. Inputs may be copied; outputs never are.
py::array aligned_input(const py::array& x, bool contiguous = false);
// Output checks: writable, no two elements at the same address, no memory shared with `other`.
void require_writable_output(const py::array& out, const char* fn, const char* arg);
// Some two elements of x share an address. Exact: a cheap sufficient test on the strides, else
// (at most 2^22 elements) the sorted byte offsets; larger arrays that fail the cheap test raise
// ValueError. The Python backends' check (kernels/_validation.py) applies the same rule.
bool self_overlapping(const py::array& x, const char* fn, const char* arg);
// The byte ranges spanned by a and b intersect (what require_no_overlap refuses).
bool extents_overlap(const py::array& a, const py::array& b);
void require_no_overlap(const py::array& out, const py::array& other, const char* fn,
                        const char* out_name, const char* other_name);
std::string shape_str(const py::array& x);

}  // namespace kernels::py_checks
