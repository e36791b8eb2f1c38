// Declarations of the pooling entry points of hpc_kernels._cpu (see pool_entry.cpp).
#pragma once

#include <pybind11/numpy.h>

#include <array>
#include <string>

#include "../core/common.hpp"

namespace kernels {

namespace py = pybind11;

// Registers max_pool2d, avg_pool2d, global_avg_pool, relayout (NCHW <-> NHWC) and lookup_pairs on the
// module (private: the ONNX ops' kernels/onnx/ops/_pool.py calls them).
void register_pool(py::module_& m);

// The entries that a conv chain also runs as steps (chain_ops.cpp), each checking its arrays.
using PoolPair = std::array<dim_t, 2>;
using PoolQuad = std::array<dim_t, 4>;
void max_pool2d_entry(const py::array& x, const py::array& out, const PoolPair& kernel, const PoolPair& stride,
                      const PoolQuad& padding, const PoolPair& dilation, const std::string& layout);
void avg_pool2d_entry(const py::array& x, const py::array& out, const PoolPair& kernel, const PoolPair& stride,
                      const PoolQuad& padding, bool count_include_pad, const std::string& layout);
// out: (N, C, 1, 1) or (N, 1, 1, C) by layout.
void global_avg_pool_entry(const py::array& x, const py::array& out, const std::string& layout);
// to: "NHWC" (x NCHW -> out NHWC) or "NCHW" (x NHWC -> out NCHW); out C-contiguous, x any strides.
void relayout_entry(const py::array& x, const py::array& out, const std::string& to);

}  // namespace kernels
