// Declarations of the 8-bit elementwise entry points of hpc_kernels._cpu (see qops_entry.cpp).
#pragma once

#include <pybind11/numpy.h>

#include <string>

namespace kernels {

namespace py = pybind11;

// Registers qadd, qadd_isa, quantize_linear and qglobal_avg_pool on the module (private: the ONNX
// runtime's ops call them, kernels/onnx/ops/qadd_pool.py and quantize.py).
void register_qops(py::module_& m);

// QuantizeLinear (float32 -> 8-bit, one scale) and DequantizeLinear (8-bit -> float32, one scale),
// every argument checked (qops_entry.cpp); also a conv chain's steps of those names.
void quantize_linear_entry(const py::array& x, const py::array& out, float scale, int zero_point);
void dequantize_linear_entry(const py::array& x, const py::array& out, float scale, int zero_point);

// onnxruntime's QLinearGlobalAveragePool of 8-bit x into out ((N, C) or the pooled 4-D shape), every
// argument checked (qops_entry.cpp); also a conv chain's "qglobal_avg_pool" step (chain_ops.cpp).
void qglobal_avg_pool_entry(const py::array& x, const py::array& out, const std::string& layout, int x_zp, int y_zp,
                            float scale);

}  // namespace kernels
