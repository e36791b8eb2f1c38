// AVX-512 vector traits for the convolution's data-movement and depthwise kernels (float and
// double behind one interface); only AVX-512 translation units include this.
#pragma once

#include <immintrin.h>

#include "../core/common.hpp"

namespace kernels {
namespace {

// Bits [lo, hi) of a lane mask, lo and hi clamped to [0, 16].
inline unsigned lane_range(dim_t lo, dim_t hi) {
    lo = lo < 0 ? 0 : (lo > 16 ? 16 : lo);
    hi = hi < 0 ? 0 : (hi > 16 ? 16 : hi);
    if (hi <= lo) return 0u;
    return ((1u << hi) - 1u) & ~((1u << lo) - 1u);
}

template <typename T>
struct Zmm;

template <>
struct Zmm<float> {
    static constexpr int W = 16;
    static constexpr unsigned kAll = 0xffffu;
    using R = __m512;
    static R load(unsigned m, const float* p) { return _mm512_maskz_loadu_ps(static_cast<__mmask16>(m), p); }
    static void store(unsigned m, float* p, R v) { _mm512_mask_storeu_ps(p, static_cast<__mmask16>(m), v); }
    static R zero() { return _mm512_setzero_ps(); }
    static R set1(float v) { return _mm512_set1_ps(v); }
    static R fma(R a, R b, R c) { return _mm512_fmadd_ps(a, b, c); }
    static R max(R a, R b) { return _mm512_max_ps(a, b); }  // b when either is NaN
    static R min(R a, R b) { return _mm512_min_ps(a, b); }
    static R evens(R a, R b) {  // lanes 0, 2, ..., 30 of the 32-lane concatenation (a, b)
        const __m512i idx = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
        return _mm512_permutex2var_ps(a, idx, b);
    }
};

template <>
struct Zmm<double> {
    static constexpr int W = 8;
    static constexpr unsigned kAll = 0xffu;
    using R = __m512d;
    static R load(unsigned m, const double* p) { return _mm512_maskz_loadu_pd(static_cast<__mmask8>(m), p); }
    static void store(unsigned m, double* p, R v) { _mm512_mask_storeu_pd(p, static_cast<__mmask8>(m), v); }
    static R zero() { return _mm512_setzero_pd(); }
    static R set1(double v) { return _mm512_set1_pd(v); }
    static R fma(R a, R b, R c) { return _mm512_fmadd_pd(a, b, c); }
    static R max(R a, R b) { return _mm512_max_pd(a, b); }
    static R min(R a, R b) { return _mm512_min_pd(a, b); }
    static R evens(R a, R b) {
        const __m512i idx = _mm512_setr_epi64(0, 2, 4, 6, 8, 10, 12, 14);
        return _mm512_permutex2var_pd(a, idx, b);
    }
};

}  // namespace
}  // namespace kernels
