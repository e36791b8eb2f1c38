// NCHW layers run by an NHWC-only kernel on NHWC copies of x and y: the direct (batch-reduce) kernel
// for planes above 64 x 64, the Winograd kernel for every plane.
//
// The direct kernel reads, per output pixel and tap, the input's channels: in NHWC one contiguous
// run, in NCHW one element per channel plane. With planes of 224 x 224 (VGG-16's first stage) each
// of those elements sits in its own 4 KiB page, so a 64-channel pixel touches 64 pages and the
// TLB, not the FMAs, sets the pace (conv_direct.cpp's NCHW form is used for planes up to 64 x 64
// for that reason; larger NCHW planes went through convGemm's gather instead, 2x slower than
// NHWC on those layers). Here x is copied to NHWC, the NHWC direct kernel writes an NHWC result,
// which is copied into the caller's NCHW y: streaming passes over x and y, as oneDNN (nChw16c) and
// MLAS (NCHWc) reorder NCHW tensors to their own blocked layouts. Writing y in place instead (the
// kernel's NCHW stores, one pixel run per channel plane) hits the same page problem on the store
// side: VGG-16 conv1_2 took 59 ms that way, 20 ms with both copies, 15 ms in NHWC and 29 ms with
// convGemm's NCHW gather (Zen 5, 1 thread, the machine loaded by a CI run).
#pragma once

#include <cstddef>

#include "conv.hpp"

namespace kernels {

// Whether conv2d's "direct" runs this NCHW layer through NHWC (planes above 64 x 64 pixels).
bool nchw_direct_reorders(const ConvGeom& g);

// An NHWC convolution (conv_direct, conv_winograd) run on the copies.
template <typename T>
using NhwcConv = void (*)(const ConvGeom&, const ConvIO<T>&, const PackedWeights<T>*, const Engine<T>&, int);

template <typename T>
void conv_reordered(const ConvGeom& g, const ConvIO<T>& io, const PackedWeights<T>* pw, const Engine<T>& e,
                    int nthreads, NhwcConv<T> nhwc_conv);

// The NHWC form of an NCHW layer's geometry (what the kernel run on the copies sees).
ConvGeom nhwc_twin(const ConvGeom& g);

// Bytes it allocates: the NHWC copies of x and y, plus `nhwc_bytes` (the kernel's own workspace
// for contiguous NHWC x and y).
template <typename T>
std::size_t conv_reordered_workspace(const ConvGeom& g, std::size_t nhwc_bytes);

}  // namespace kernels
