// Direct convolution of any (non-depthwise) layer on the batch-reduce micro-kernels: the image is
// read in place, only the weights are packed.
#pragma once

#include <cstddef>

#include "conv.hpp"

namespace kernels {

// The kernel the direct and Winograd convolutions run for an m x n C (channels x pixels): the
// engine's pick where it has a batch-reduce form (every registered kernel has one), else the first
// candidate that has.
template <typename T>
const Candidate<T>& taps_candidate(const Engine<T>& e, dim_t m, dim_t n) {
    const Candidate<T>& best = e.pick(m, n);
    if (best.ukr->taps) return best;
    for (const Candidate<T>& c : e.cands)
        if (c.ukr->taps) return c;
    return best;
}

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
