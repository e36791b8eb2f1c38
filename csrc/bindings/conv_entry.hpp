// Declarations of the convolution entry points of hpc_kernels._cpu (see conv_entry.cpp).
#pragma once

#include <pybind11/numpy.h>

namespace kernels {

namespace py = pybind11;

// Registers conv2d, conv2d_packed, ConvWeights, im2col and conv2d_workspace on the module.
void register_conv(py::module_& m);

// Registers conv2d_chain (conv_chain_entry.cpp); after register_conv (it takes ConvWeights).
void register_conv_chain(py::module_& m);

}  // namespace kernels
