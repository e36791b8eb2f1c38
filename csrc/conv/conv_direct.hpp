// Direct convolution of channels-contiguous (NHWC) layers of any kernel size on the batch-reduce
// micro-kernels: the image is read in place, only the weights are packed.
#pragma once

#include <cstddef>

#include "conv.hpp"

namespace kernels {

// y := epilogue(conv(x, w)) for an NHWC layer (any R, S, stride, padding, dilation, groups);
// weights from pw when it holds the chosen kernel's panels, else packed per call.
template <typename T>
void conv_direct_nhwc(const ConvGeom& g, const ConvIO<T>& io, const PackedWeights<T>* pw, const Engine<T>& e,
                      int nthreads);

// Bytes conv_direct_nhwc allocates (weights packed per call, zero column, tap tables).
template <typename T>
std::size_t conv_direct_nhwc_workspace(const ConvGeom& g, const Engine<T>& e, int nthreads);

}  // namespace kernels
