// Direct depthwise convolution on bf16 (groups == C == K): fp32 sums of the taps, the fp32 channel
// epilogue, one rounding; the general path (im2col into one-channel GEMMs) wastes all but one of
// the micro-kernel's columns on these layers.
#pragma once

#include <cstdint>

#include "../core/common.hpp"
#include "../core/epilogue.hpp"

namespace kernels {

// Tensors addressed by element strides in logical (n, c, h, w) order, whatever the layout.
struct BDepthwiseArgs {
    dim_t n, c, h, w, r, s, ho, wo;
    dim_t sh, sw, top, left, dh, dw;
    const std::uint16_t* x;
    inc_t xn, xc, xh, xw;
    const std::uint16_t* taps;  // (C, R, S) contiguous
    void* y;
    inc_t yn, yc, yh, yw;
    bool y_bf16;
    const float* scale;  // per channel or nullptr
    const float* shift;
    Act act;
    const float* res;  // residual of y's shape or nullptr, read before y is written
    inc_t rn, rc, rh, rw;
};

// channels_inner: vectorise along c (NHWC: unit channel stride), else along w (NCHW).
void bf16_depthwise(const BDepthwiseArgs& a, bool channels_inner, int nthreads);

}  // namespace kernels
