// The shape of one 2-D convolution and the views of its tensors, in logical (n, c, h, w) strides.
#pragma once

#include "../common.hpp"
#include "../epilogue.hpp"

namespace kernels {

struct ConvGeom {
    dim_t n, c, h, w;  // input batch, channels, height, width
    dim_t k, r, s;     // output channels, kernel height and width
    dim_t groups;
    dim_t sh, sw;          // strides
    dim_t pt, pb, pl, pr;  // zero padding: top, bottom, left, right
    dim_t dh, dw;          // dilations
    bool nhwc;             // layout of x and y (w is always K x C/groups x R x S)

    dim_t ho() const { return (h + pt + pb - dh * (r - 1) - 1) / sh + 1; }
    dim_t wo() const { return (w + pl + pr - dw * (s - 1) - 1) / sw + 1; }
    dim_t pixels() const { return ho() * wo(); }
    dim_t cg() const { return c / groups; }
    dim_t kg() const { return k / groups; }
    dim_t kd() const { return cg() * r * s; }  // reduction length of the GEMM
    bool depthwise() const { return groups == c && groups == k; }
    bool pointwise() const {  // 1x1, stride 1, no padding: a plain GEMM on the image
        return r == 1 && s == 1 && sh == 1 && sw == 1 && pt == 0 && pb == 0 && pl == 0 && pr == 0;
    }
};

// Element strides of a 4-D tensor by logical dimension, whatever its memory layout.
struct Strides4 {
    inc_t n, c, h, w;
};

template <typename T>
struct ConvIO {
    const T* x;
    Strides4 xs;
    const T* w;  // contiguous K x C/groups x R x S
    T* y;
    Strides4 ys;      // output, channel dimension in `c`
    Epilogue<T> ep;   // scale/shift indexed by output channel (0..K)
};

// The positions t in [0, len) whose input coordinate first + t*step lies in [0, size): [*lo, *hi).
// On the gathers' inner path (per tap and row segment): strides 1 and 2 avoid the division.
KERNELS_INLINE void valid_range(dim_t first, dim_t step, dim_t len, dim_t size, dim_t* lo, dim_t* hi) {
    dim_t a, b;
    if (step == 1) {
        a = first < 0 ? -first : 0;
        b = size - first;
    } else if (step == 2) {
        a = first < 0 ? (1 - first) >> 1 : 0;
        b = first > size - 1 ? 0 : ((size - 1 - first) >> 1) + 1;
    } else {
        a = first < 0 ? (-first + step - 1) / step : 0;
        b = first > size - 1 ? 0 : (size - 1 - first) / step + 1;
    }
    if (b > len) b = len;
    if (b < 0) b = 0;
    if (a > b) a = b;
    *lo = a, *hi = b;
}

}  // namespace kernels
