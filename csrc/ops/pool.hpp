// 2-D pooling of the ONNX runtime's cpu backend: MaxPool, AveragePool, GlobalAveragePool, for
// NCHW and NHWC (any element strides; channel-contiguous NHWC takes the vectorised path).
#pragma once

#include "../core/common.hpp"

namespace kernels {

// Element strides in logical (n, c, h, w) order, whatever the memory layout.
struct PoolStrides {
    inc_t n, c, h, w;
};

// One pooling layer. The caller chooses ho/wo (floor or ceil mode, auto_pad); windows read only
// the input pixels they overlap, so any ho/wo >= 1 stays in bounds.
struct PoolGeom {
    dim_t n, c, h, w;  // input
    dim_t ho, wo;      // output
    dim_t kh, kw, sh, sw, dh, dw;
    dim_t pt, pb, pl, pr;  // padding: top, bottom, left, right
};

enum class PoolKind {
    max,              // padding never wins (it is not read); a window with no pixel gives lowest()
    avg,              // sum / the number of input pixels in the window
    avg_include_pad,  // sum / the window clipped to the padded input (onnxruntime's count_include_pad)
};

// T: float, double; uint8_t and int8_t for PoolKind::max only.
template <typename T>
void pool2d(const PoolGeom& g, PoolKind kind, const T* x, const PoolStrides& xs, T* y, const PoolStrides& ys, int nt);

// y[n, c] = mean over (h, w) of x[n, c, h, w]; ys.h and ys.w are not used (a 1x1 output).
template <typename T>
void global_avg_pool(dim_t n, dim_t c, dim_t h, dim_t w, const T* x, const PoolStrides& xs, T* y,
                     const PoolStrides& ys, int nt);

}  // namespace kernels
