// The steps of hpc_kernels._cpu.conv2d_chain that are not convolutions (conv_chain_entry.cpp).
#pragma once

#include <pybind11/numpy.h>

namespace kernels {

namespace py = pybind11;

// Whether a chain step tuple is an op step: (kind, x index, out index, parameters...), kind a str.
bool is_op_step(const py::tuple& step);

// Runs op step `step` reading x into out, checked as the op's own entry checks its arrays:
//   ("relayout", x, out, to)                      to "NHWC" (x NCHW) or "NCHW" (x NHWC)
//   ("max_pool2d", x, out, kernel, stride, pads, dilation, layout)
//   ("avg_pool2d", x, out, kernel, stride, pads, count_include_pad, layout)
//   ("global_avg_pool", x, out, layout)           out 4-D, or (N, C): the pooled map flattened
//   ("gemm", x, out, b, bias, alpha, trans_a, relu)
//        out := alpha * op(x) @ b, then + bias (None, or a (N,) vector of out's dtype added to every
//        row), then max(out, 0) with relu: FusedGemm's order of operations, so results are the
//        Python path's bit for bit.
//   ("qglobal_avg_pool", x, out, layout, x_zp, y_zp, scale)   8-bit (qops_entry.hpp)
//   ("quantize_linear", x, out, scale, zp), ("dequantize_linear", x, out, scale, zp)   per tensor
void run_op_step(const py::tuple& step, const py::array& x, const py::array& out);

}  // namespace kernels
