// The int8 convolution as a step of hpc_kernels._cpu.conv2d_chain (conv_chain_entry.cpp): a
// quantized CNN's QConv nodes run back to back in one call, as the float chain's convolutions do.
#pragma once

#include <pybind11/numpy.h>

#include <memory>

namespace kernels {

namespace py = pybind11;

// Items of a "qconv" step after (kind, x index, out index, skip index): nhwc, then qconv2d's
// arguments from w to add without x, out, residual and skip (w, stride, padding, dilation, groups,
// x_zp, w_zp, bias, mode, mult, inv_out_scale, hi, act, out_zp, packed, add).
constexpr std::size_t kQConvStepItems = 4 + 17;

// A checked qconv or qgemm step: the engine's arguments and the arrays they point into.
struct QConvCall;

// Checks the qconv step t reading x (and the skip tensor, or None) into out, all in the step's
// layout (NHWC ones as (n, c, h, w) views, zero-copy), as qconv2d's entry checks its arguments.
std::shared_ptr<const QConvCall> check_qconv_step(const py::tuple& t, const py::array& x, const py::array& out,
                                                  const py::object& skip);

// A quantized GEMM (QGemm: its plan a 1x1 NHWC QConv2d over (M, 1, 1, K)) as a "qgemm" step: the
// qconv step's items, a (M, K) and out (M, N) viewed as those images.
std::shared_ptr<const QConvCall> check_qgemm_step(const py::tuple& t, const py::array& a, const py::array& out);

// Runs a checked call with the calling thread's thread count (releases the GIL).
void run_qconv_call(const QConvCall& call);

}  // namespace kernels
