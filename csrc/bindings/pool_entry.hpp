// Declarations of the pooling entry points of hpc_kernels._cpu (see pool_entry.cpp).
#pragma once

#include <pybind11/numpy.h>

namespace kernels {

namespace py = pybind11;

// Registers max_pool2d, avg_pool2d, global_avg_pool, relayout (NCHW <-> NHWC) and lookup_pairs on the module (private: the ONNX ops'
// kernels/onnx/ops/_pool.py calls them).
void register_pool(py::module_& m);

}  // namespace kernels
