// Direct convolution of any (non-depthwise) layer on the batch-reduce micro-kernels: the image is
// read in place, only the weights are packed.
#pragma once

#include <cstddef>

#include "conv.hpp"

namespace kernels {

// y := epilogue(conv(x, w)) for any layer (R, S, stride, padding, dilation, groups; NHWC or NCHW,
// any strides; y's H and W must form one stride); weights from pw when it holds the chosen
// kernel's A panels, else packed per call.
template <typename T>
void conv_direct(const ConvGeom& g, const ConvIO<T>& io, const PackedWeights<T>* pw, const Engine<T>& e,
                 int nthreads);

// Bytes conv_direct allocates for contiguous x and y (weights packed per call, the zero column,
// tap tables).
template <typename T>
std::size_t conv_direct_workspace(const ConvGeom& g, const Engine<T>& e, int nthreads);

}  // namespace kernels
