// Winograd F(2x2, 3x3) convolution for 3x3 stride-1 undilated layers: 16 products where direct
// convolution needs 36 per 2x2 output tile (2.25x fewer FMAs), on the batch-reduce micro-kernels.
#pragma once

#include <cstddef>

#include "conv.hpp"

namespace kernels {

// The layers it computes: 3x3 kernel, stride 1, dilation 1, one group, any padding, either layout
// (NCHW through NHWC copies, conv/nchw_reorder.hpp).
inline bool winograd_applies(const ConvGeom& g) {
    return g.r == 3 && g.s == 3 && g.sh == 1 && g.sw == 1 && g.dh == 1 && g.dw == 1 && g.groups == 1;
}

// The transformed weights U_e = (G w G^T)_e of a 3x3 layer, e = 0..15, packed as A micro-panels of
// `ukr`: element (e, kp, c, i) at ((e * k_panels + kp) * C + c) * MR + i for output channel
// kp * MR + i (zero past K). A Conv2d plan keeps one (PackedWeights::winograd), made on first use.
template <typename T>
struct WinogradWeights {
    const Ukernel<T>* ukr = nullptr;
    dim_t k_panels = 0;
    AlignedBuffer<T> u;
};

template <typename T>
void pack_winograd_weights(const ConvGeom& g, const T* w, const Ukernel<T>& u, T* dst, int nthreads);

// y := epilogue(conv(x, w)) for an NHWC layer winograd_applies to (x and y any strides; fast
// with unit channel stride). Transformed weights from pw when it holds them for the kernel this
// call picks, else transformed per call.
template <typename T>
void conv_winograd(const ConvGeom& g, const ConvIO<T>& io, const PackedWeights<T>* pw, const Engine<T>& e,
                   int nthreads);

// Bytes conv_winograd allocates (transformed weights per call, per-thread tile buffers).
template <typename T>
std::size_t conv_winograd_workspace(const ConvGeom& g, const Engine<T>& e, int nthreads);

}  // namespace kernels
