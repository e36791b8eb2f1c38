// AVX-512F vector traits for simd_ukernel.hpp (fp32 and fp64); only AVX-512 TUs include this.
#pragma once

#include <immintrin.h>

#include "../../core/common.hpp"

namespace kernels {
namespace {

// Lanes [0, rem) of a W-lane vector as a bit mask; rem >= W means all lanes.
template <int W>
KERNELS_INLINE unsigned lanes(dim_t rem) {
    return rem >= W ? (1u << W) - 1u : (rem <= 0 ? 0u : (1u << rem) - 1u);
}

struct Avx512F32 {
    using T = float;
    using R = __m512;
    static constexpr int W = 16;
    static constexpr bool kMasked = true;
    static KERNELS_INLINE R zero() { return _mm512_setzero_ps(); }
    static KERNELS_INLINE R set1(T x) { return _mm512_set1_ps(x); }
    static KERNELS_INLINE R load(const T* p) { return _mm512_load_ps(p); }
    static KERNELS_INLINE R loadu(const T* p) { return _mm512_loadu_ps(p); }
    static KERNELS_INLINE R bcast(const T* p) { return _mm512_set1_ps(*p); }
    static KERNELS_INLINE R fma(R a, R b, R c) { return _mm512_fmadd_ps(a, b, c); }
    static KERNELS_INLINE R mul(R a, R b) { return _mm512_mul_ps(a, b); }
    static KERNELS_INLINE R max(R a, R b) { return _mm512_max_ps(a, b); }  // b if either is NaN
    static KERNELS_INLINE R min(R a, R b) { return _mm512_min_ps(a, b); }
    static KERNELS_INLINE void store_aligned(T* p, R v) { _mm512_store_ps(p, v); }
    static KERNELS_INLINE R load_c(const T* p, dim_t rem) {
        return _mm512_maskz_loadu_ps(static_cast<__mmask16>(lanes<W>(rem)), p);
    }
    static KERNELS_INLINE void store(T* p, R v, dim_t rem) {
        if (rem >= W) _mm512_storeu_ps(p, v);
        else _mm512_mask_storeu_ps(p, static_cast<__mmask16>(lanes<W>(rem)), v);
    }
};

struct Avx512F64 {
    using T = double;
    using R = __m512d;
    static constexpr int W = 8;
    static constexpr bool kMasked = true;
    static KERNELS_INLINE R zero() { return _mm512_setzero_pd(); }
    static KERNELS_INLINE R set1(T x) { return _mm512_set1_pd(x); }
    static KERNELS_INLINE R load(const T* p) { return _mm512_load_pd(p); }
    static KERNELS_INLINE R loadu(const T* p) { return _mm512_loadu_pd(p); }
    static KERNELS_INLINE R bcast(const T* p) { return _mm512_set1_pd(*p); }
    static KERNELS_INLINE R fma(R a, R b, R c) { return _mm512_fmadd_pd(a, b, c); }
    static KERNELS_INLINE R mul(R a, R b) { return _mm512_mul_pd(a, b); }
    static KERNELS_INLINE R max(R a, R b) { return _mm512_max_pd(a, b); }  // b if either is NaN
    static KERNELS_INLINE R min(R a, R b) { return _mm512_min_pd(a, b); }
    static KERNELS_INLINE void store_aligned(T* p, R v) { _mm512_store_pd(p, v); }
    static KERNELS_INLINE R load_c(const T* p, dim_t rem) {
        return _mm512_maskz_loadu_pd(static_cast<__mmask8>(lanes<W>(rem)), p);
    }
    static KERNELS_INLINE void store(T* p, R v, dim_t rem) {
        if (rem >= W) _mm512_storeu_pd(p, v);
        else _mm512_mask_storeu_pd(p, static_cast<__mmask8>(lanes<W>(rem)), v);
    }
};

}  // namespace
}  // namespace kernels
