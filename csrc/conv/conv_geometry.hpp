// The shape of one 2-D convolution and the views of its tensors, in logical (n, c, h, w) strides.
#pragma once

#include <cstddef>
#include <initializer_list>
#include <string>

#include "../core/common.hpp"
#include "../core/epilogue.hpp"

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

// Checks a geometry built from caller-supplied values before anything is derived from it (the
// entry points are callable directly, bypassing kernels/_api/conv.py): dimensions >= 0, kernel >= 1x1,
// stride, dilation, groups >= 1, padding >= 0, groups dividing C and K, a kernel that fits the
// padded input, and every size below computed without overflow: the padded extents, the dilated
// kernel, and x, w and y in bytes (`elem` bytes per element) below 2^63. Afterwards ho(), wo(),
// pixels(), kd() and every product of dimensions of x, w or y fit in dim_t. Throws
// std::invalid_argument (ValueError) for a bad value, std::overflow_error (OverflowError) for a
// size; messages start with `fn`.
void check_geometry(const ConvGeom& g, std::size_t elem, const char* fn);

// std::overflow_error "<what> = (d0, d1, ...) is too large: ... exceeds 2^63 bytes" unless the
// product of the nonzero `dims` times `elem` fits in 2^63 - 1 (NumPy's rule: an empty array's
// other dimensions must still have a representable size).
void check_bytes(const std::string& what, std::initializer_list<dim_t> dims, std::size_t elem);

// Element strides of a 4-D tensor by logical dimension, whatever its memory layout.
struct Strides4 {
    inc_t n, c, h, w;
};

// Strides of an array of the output's shape (out, a residual, a skip tensor) whose pixels the
// kernels address as one index j = ho*Wo + wo at j * (W stride): with one output column NumPy
// gives W any stride (a size-1 axis, never applied), so W takes H's, which pixel j steps by.
inline Strides4 as_pixel_index(Strides4 s, const ConvGeom& g) {
    if (g.wo() == 1) s.w = s.h;
    return s;
}

template <typename T>
struct ConvIO {
    const T* x;
    Strides4 xs;
    const T* w;  // contiguous K x C/groups x R x S
    T* y;
    Strides4 ys;      // output, channel dimension in `c`
    Epilogue<T> ep;   // scale/shift indexed by output channel (0..K); its res is not used here
    // Residual added before the activation (nullptr: none): y's shape, logical strides rs. It may
    // be y itself (same address and strides: conv2d then reads it from a copy where y receives
    // partial sums first); no other overlap with y.
    // Paths that flatten (ho, wo) or (n, ho, wo) into one index need rs.h == Wo * rs.w (and rs.n ==
    // Ho * Wo * rs.w to merge the batch), as they need it of y.
    const T* r = nullptr;
    Strides4 rs{};
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
