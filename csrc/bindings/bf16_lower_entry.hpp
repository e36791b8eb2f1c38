// Declarations of the bf16 lowering entry points of hpc_kernels._cpu (see bf16_lower_entry.cpp).
#pragma once

#include <pybind11/numpy.h>

namespace kernels {

// Registers bf16_im2col and round_bf16 (private: kernels/backends/cpu/bf16.py and the ONNX
// runtime's bf16 FusedConv call them).
void register_bf16_lower(pybind11::module_& m);

}  // namespace kernels
