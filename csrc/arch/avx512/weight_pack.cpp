// AVX-512 packing of convolution weights (Kg x Cg x R x S, contiguous) into the MR-row,
// (r, s, c)-ordered panels of the NHWC kernels, a chunk of input channels at a time: the avx512
// row's weight_pack (arch/table.cpp).
//
// W rows (output channels) x W consecutive source elements (positions (c, r, s)) are loaded as
// vectors and transposed in registers, so each result vector is one source position for W output
// channels: one aligned store at the (r, s, c) step it belongs to. The scalar packer spends ~2
// cycles per element on a strided gather; for the 7x7 layers of ImageNet CNNs (each weight used by
// 49 pixels, 9 MiB of weights per 3x3 layer) that cost as much as the layer's FMAs. This one
// spends ~0.3 cycles per element and is bound by reading the weights.
#include <algorithm>

#include "avx512.hpp"
#include "pack.hpp"
#include "vec.hpp"

namespace kernels {

namespace {

// The in-register transposes of pack.hpp by element type: W rows of W lanes.
inline void transpose(__m512 (&r)[16]) { transpose16(r); }
inline void transpose(__m512d (&r)[8]) { transpose8(r); }

}  // namespace

namespace avx512 {

// Rows [i0, i0 + mc) x input channels [c0, c0 + kc) of one group's weights into panels of mr rows
// (mr a multiple of W; rows past mc are zero), steps in (tap, channel) order. The chunk's source
// is one contiguous run of every row: positions [c0 * taps, (c0 + kc) * taps).
template <typename T>
void pack_weight_chunk(const T* w, const ConvGeom& g, dim_t mr, dim_t i0, dim_t mc, dim_t c0, dim_t kc, T* dst) {
    using X = Avx512<T>;
    constexpr int W = X::W;
    const dim_t taps = g.r * g.s, kd = g.kd(), len = kc * taps;
    for (dim_t ib = 0; ib < mc; ib += mr, dst += mr * len) {
        const dim_t rows = std::min(mr, mc - ib);
        for (dim_t t0 = 0; t0 < mr; t0 += W) {
            const dim_t live = std::max<dim_t>(0, std::min<dim_t>(W, rows - t0));
            const T* src = w + (i0 + ib + t0) * kd + c0 * taps;
            T* d = dst + t0;
            dim_t c = 0, tap = 0;  // source position p = c * taps + tap, destination step tap * kc + c
            dim_t p = 0;
            for (; p + W <= len; p += W) {
                typename X::R r[W];
                for (int t = 0; t < W; ++t) r[t] = t < live ? X::loadu(src + t * kd + p) : X::zero();
                transpose(r);
                for (int q = 0; q < W; ++q) {
                    X::storeu(d + (tap * kc + c) * mr, r[q]);
                    if (++tap == taps) tap = 0, ++c;
                }
            }
            for (; p < len; ++p) {
                T* dp = d + (tap * kc + c) * mr;
                for (dim_t t = 0; t < W; ++t) dp[t] = t < live ? src[t * kd + p] : T(0);
                if (++tap == taps) tap = 0, ++c;
            }
        }
    }
}

template void pack_weight_chunk<float>(const float*, const ConvGeom&, dim_t, dim_t, dim_t, dim_t, dim_t, float*);
template void pack_weight_chunk<double>(const double*, const ConvGeom&, dim_t, dim_t, dim_t, dim_t, dim_t, double*);

}  // namespace avx512
}  // namespace kernels
