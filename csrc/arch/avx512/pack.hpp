// AVX-512 packing of B micro-panels whose source is contiguous along k (the common case: after the
// row-major swap, B^T of the kernel is the caller's row-major A). The portable pack_panel does this
// transpose one scalar at a time, ~1-2 cycles per element, which rivals the FMAs when each packed
// element is reused only a few hundred times; here 16 (fp32) or 8 (fp64) k steps of NR rows are
// loaded as vectors and transposed in registers (~0.3 cycles per element).
#pragma once

#include <immintrin.h>

#include "../../gemm/packing.hpp"

namespace kernels {
namespace {

// In-register transpose of a 16x16 fp32 block (r[i] = row i): unpack, shuffle, two block shuffles.
KERNELS_INLINE void transpose16(__m512 (&r)[16]) {
    __m512 t[16], u[16];
    for (int k = 0; k < 8; ++k) {
        t[2 * k] = _mm512_unpacklo_ps(r[2 * k], r[2 * k + 1]);
        t[2 * k + 1] = _mm512_unpackhi_ps(r[2 * k], r[2 * k + 1]);
    }
    // u[4g + c], 128-bit block b: column 4b + c of rows 4g .. 4g+3
    for (int g = 0; g < 4; ++g) {
        u[4 * g + 0] = _mm512_shuffle_ps(t[4 * g], t[4 * g + 2], 0x44);
        u[4 * g + 1] = _mm512_shuffle_ps(t[4 * g], t[4 * g + 2], 0xEE);
        u[4 * g + 2] = _mm512_shuffle_ps(t[4 * g + 1], t[4 * g + 3], 0x44);
        u[4 * g + 3] = _mm512_shuffle_ps(t[4 * g + 1], t[4 * g + 3], 0xEE);
    }
    for (int c = 0; c < 4; ++c) {
        const __m512 vlo = _mm512_shuffle_f32x4(u[c], u[4 + c], 0x44);
        const __m512 vhi = _mm512_shuffle_f32x4(u[c], u[4 + c], 0xEE);
        const __m512 wlo = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0x44);
        const __m512 whi = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0xEE);
        r[c] = _mm512_shuffle_f32x4(vlo, wlo, 0x88);
        r[4 + c] = _mm512_shuffle_f32x4(vlo, wlo, 0xDD);
        r[8 + c] = _mm512_shuffle_f32x4(vhi, whi, 0x88);
        r[12 + c] = _mm512_shuffle_f32x4(vhi, whi, 0xDD);
    }
}

// In-register transpose of an 8x8 fp64 block.
KERNELS_INLINE void transpose8(__m512d (&r)[8]) {
    __m512d t[8];
    for (int k = 0; k < 4; ++k) {
        t[2 * k] = _mm512_unpacklo_pd(r[2 * k], r[2 * k + 1]);
        t[2 * k + 1] = _mm512_unpackhi_pd(r[2 * k], r[2 * k + 1]);
    }
    // t[2g + c], 128-bit block b: column 2b + c of rows 2g, 2g+1
    for (int c = 0; c < 2; ++c) {
        const __m512d vlo = _mm512_shuffle_f64x2(t[c], t[2 + c], 0x44);
        const __m512d vhi = _mm512_shuffle_f64x2(t[c], t[2 + c], 0xEE);
        const __m512d wlo = _mm512_shuffle_f64x2(t[4 + c], t[6 + c], 0x44);
        const __m512d whi = _mm512_shuffle_f64x2(t[4 + c], t[6 + c], 0xEE);
        r[c] = _mm512_shuffle_f64x2(vlo, wlo, 0x88);
        r[2 + c] = _mm512_shuffle_f64x2(vlo, wlo, 0xDD);
        r[4 + c] = _mm512_shuffle_f64x2(vhi, whi, 0x88);
        r[6 + c] = _mm512_shuffle_f64x2(vhi, whi, 0xDD);
    }
}

// One full NR-wide panel, source element (p, t) at src[p + t*inc]: 16 k steps per transpose.
template <int NR>
KERNELS_INLINE void pack_panel_t(dim_t kc, const float* src, inc_t inc, float* KERNELS_RESTRICT dst) {
    static_assert(NR <= 16, "one 16-lane transpose covers at most 16 columns");
    const __mmask16 lanes = static_cast<__mmask16>((1u << NR) - 1u);
    dim_t p = 0;
    for (; p + 16 <= kc; p += 16) {
        __m512 r[16];
        for (int t = 0; t < 16; ++t) r[t] = t < NR ? _mm512_loadu_ps(src + t * inc + p) : _mm512_setzero_ps();
        transpose16(r);
        for (int q = 0; q < 16; ++q) _mm512_mask_storeu_ps(dst + q * NR, lanes, r[q]);
        dst += 16 * NR;
    }
    for (; p < kc; ++p, dst += NR)
        for (int t = 0; t < NR; ++t) dst[t] = src[t * inc + p];
}

template <int NR>
KERNELS_INLINE void pack_panel_t(dim_t kc, const double* src, inc_t inc, double* KERNELS_RESTRICT dst) {
    static_assert(NR <= 16, "two 8-lane transposes cover at most 16 columns");
    dim_t p = 0;
    for (; p + 8 <= kc; p += 8) {
        for (int half = 0; half < NR; half += 8) {  // columns [half, half + 8)
            const int w = NR - half < 8 ? NR - half : 8;
            __m512d r[8];
            for (int t = 0; t < 8; ++t)
                r[t] = t < w ? _mm512_loadu_pd(src + (half + t) * inc + p) : _mm512_setzero_pd();
            transpose8(r);
            const __mmask8 lanes = static_cast<__mmask8>((1u << w) - 1u);
            for (int q = 0; q < 8; ++q) _mm512_mask_storeu_pd(dst + q * NR + half, lanes, r[q]);
        }
        dst += 8 * NR;
    }
    for (; p < kc; ++p, dst += NR)
        for (int t = 0; t < NR; ++t) dst[t] = src[t * inc + p];
}

// pack_b with the transposing case vectorised; every other layout goes to the portable code.
template <typename T, int NR>
void pack_b_avx512(dim_t kc, dim_t nc, const T* b, inc_t rs, inc_t cs, T* dst) {
    if (rs != 1) return pack_b<T, NR>(kc, nc, b, rs, cs, dst);
    for (dim_t j = 0; j < nc; j += NR) {
        if (nc - j >= NR) pack_panel_t<NR>(kc, b + j * cs, cs, dst);
        else pack_panel<T, NR>(kc, nc - j, b + j * cs, rs, cs, dst);
        dst += kc * NR;
    }
}

}  // namespace
}  // namespace kernels
