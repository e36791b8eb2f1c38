// NCHW <-> NHWC copies (layout.hpp): per (image, row), a planar <-> interleaved transpose in 16 x 16
// tiles, so both sides move whole cache lines; compiled per KERNELS_CLONES target.
//
// Why not NumPy's transposed copy: with the 3 channels of a model's RGB input, copyto writes every
// third float on each pass (106 us for 3x224x224 here; one strided plane per channel 37 us); the
// tiled copy reads and writes each line once.
#include "layout.hpp"

#include <cstdint>

#include <algorithm>

#include "../arch/clones.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace kernels {

namespace {

constexpr dim_t kTile = 16;

// Three unit-stride planes (an RGB input) into one interleaved row: with the channel count known
// GCC vectorises the interleaving store (the tiled loop below ran 1.4x slower than NumPy here).
template <typename T>
KERNELS_CLONES void rgb_to_interleaved(const T* KERNELS_RESTRICT r, const T* KERNELS_RESTRICT g,
                                       const T* KERNELS_RESTRICT b, dim_t w, T* KERNELS_RESTRICT dst) {
    for (dim_t p = 0; p < w; ++p) {
        dst[3 * p] = r[p];
        dst[3 * p + 1] = g[p];
        dst[3 * p + 2] = b[p];
    }
}

// dst[p*C + c] = src[c*cs + p*ps] for p in [0, w), c in [0, C).
template <typename T>
KERNELS_CLONES void row_to_interleaved(const T* src, inc_t cs, inc_t ps, dim_t channels, dim_t w, T* dst) {
    if (channels == 3 && ps == 1) return rgb_to_interleaved(src, src + cs, src + 2 * cs, w, dst);
    for (dim_t pb = 0; pb < w; pb += kTile) {
        const dim_t pe = std::min(pb + kTile, w);
        for (dim_t cb = 0; cb < channels; cb += kTile) {
            const dim_t ce = std::min(cb + kTile, channels);
            for (dim_t p = pb; p < pe; ++p)
                for (dim_t c = cb; c < ce; ++c) dst[p * channels + c] = src[c * cs + p * ps];
        }
    }
}

// dst[c*plane + p] = src[p*ps + c*cs] for p in [0, w), c in [0, C): one row of every channel plane.
template <typename T>
KERNELS_CLONES void row_to_planar(const T* src, inc_t cs, inc_t ps, dim_t channels, dim_t w, T* dst, dim_t plane) {
    for (dim_t cb = 0; cb < channels; cb += kTile) {
        const dim_t ce = std::min(cb + kTile, channels);
        for (dim_t pb = 0; pb < w; pb += kTile) {
            const dim_t pe = std::min(pb + kTile, w);
            for (dim_t c = cb; c < ce; ++c)
                for (dim_t p = pb; p < pe; ++p) dst[c * plane + p] = src[p * ps + c * cs];
        }
    }
}

template <class Row>
void over_rows(dim_t n, dim_t h, dim_t per_row_elems, int nt, const Row& row) {
    const dim_t rows = n * h;
#ifdef _OPENMP
    // Threads only where each gets a few thousand elements: below, the team costs more.
    if (nt > 1 && rows > 1 && rows * per_row_elems >= 16384) {
#pragma omp parallel for num_threads(nt) schedule(static)
        for (dim_t r = 0; r < rows; ++r) row(r / h, r % h);
        return;
    }
#else
    (void)nt, (void)per_row_elems;
#endif
    for (dim_t r = 0; r < rows; ++r) row(r / h, r % h);
}

}  // namespace

template <typename T>
void to_nhwc(const T* src, const inc_t (&s)[4], dim_t n, dim_t c, dim_t h, dim_t w, T* dst, int nt) {
    over_rows(n, h, w * c, nt, [&](dim_t img, dim_t y) {
        row_to_interleaved(src + img * s[0] + y * s[2], s[1], s[3], c, w, dst + (img * h + y) * w * c);
    });
}

template <typename T>
void to_nchw(const T* src, const inc_t (&s)[4], dim_t n, dim_t c, dim_t h, dim_t w, T* dst, int nt) {
    over_rows(n, h, w * c, nt, [&](dim_t img, dim_t y) {
        row_to_planar(src + img * s[0] + y * s[2], s[1], s[3], c, w, dst + img * c * h * w + y * w, h * w);
    });
}

template void to_nhwc<float>(const float*, const inc_t (&)[4], dim_t, dim_t, dim_t, dim_t, float*, int);
template void to_nhwc<double>(const double*, const inc_t (&)[4], dim_t, dim_t, dim_t, dim_t, double*, int);
template void to_nchw<float>(const float*, const inc_t (&)[4], dim_t, dim_t, dim_t, dim_t, float*, int);
template void to_nchw<double>(const double*, const inc_t (&)[4], dim_t, dim_t, dim_t, dim_t, double*, int);
// One-byte elements (uint8 and int8 alike: a copy moves bytes): a QDQ model's quantized input.
template void to_nhwc<std::uint8_t>(const std::uint8_t*, const inc_t (&)[4], dim_t, dim_t, dim_t, dim_t, std::uint8_t*,
                                    int);
template void to_nchw<std::uint8_t>(const std::uint8_t*, const inc_t (&)[4], dim_t, dim_t, dim_t, dim_t, std::uint8_t*,
                                    int);

}  // namespace kernels
