// AVX2+FMA vector traits for simd_ukernel.hpp (fp32 and fp64); only AVX2 TUs include this.
// AVX2 has no cheap lane masks, so edge tiles take the scalar write-back (kMasked = false).
#pragma once

#include <immintrin.h>

#include "../../core/common.hpp"

namespace kernels {
namespace {

struct Avx2F32 {
    using T = float;
    using R = __m256;
    static constexpr int W = 8;
    static constexpr bool kMasked = false;
    static KERNELS_INLINE R zero() { return _mm256_setzero_ps(); }
    static KERNELS_INLINE R set1(T x) { return _mm256_set1_ps(x); }
    static KERNELS_INLINE R load(const T* p) { return _mm256_load_ps(p); }
    static KERNELS_INLINE R bcast(const T* p) { return _mm256_broadcast_ss(p); }
    static KERNELS_INLINE R fma(R a, R b, R c) { return _mm256_fmadd_ps(a, b, c); }
    static KERNELS_INLINE R mul(R a, R b) { return _mm256_mul_ps(a, b); }
    static KERNELS_INLINE R add(R a, R b) { return _mm256_add_ps(a, b); }
    static KERNELS_INLINE R max(R a, R b) { return _mm256_max_ps(a, b); }  // b if either is NaN
    static KERNELS_INLINE R min(R a, R b) { return _mm256_min_ps(a, b); }
    static KERNELS_INLINE void store_aligned(T* p, R v) { _mm256_store_ps(p, v); }
    static KERNELS_INLINE R load_c(const T* p, dim_t) { return _mm256_loadu_ps(p); }
    static KERNELS_INLINE void store(T* p, R v, dim_t) { _mm256_storeu_ps(p, v); }
};

struct Avx2F64 {
    using T = double;
    using R = __m256d;
    static constexpr int W = 4;
    static constexpr bool kMasked = false;
    static KERNELS_INLINE R zero() { return _mm256_setzero_pd(); }
    static KERNELS_INLINE R set1(T x) { return _mm256_set1_pd(x); }
    static KERNELS_INLINE R load(const T* p) { return _mm256_load_pd(p); }
    static KERNELS_INLINE R bcast(const T* p) { return _mm256_broadcast_sd(p); }
    static KERNELS_INLINE R fma(R a, R b, R c) { return _mm256_fmadd_pd(a, b, c); }
    static KERNELS_INLINE R mul(R a, R b) { return _mm256_mul_pd(a, b); }
    static KERNELS_INLINE R add(R a, R b) { return _mm256_add_pd(a, b); }
    static KERNELS_INLINE R max(R a, R b) { return _mm256_max_pd(a, b); }  // b if either is NaN
    static KERNELS_INLINE R min(R a, R b) { return _mm256_min_pd(a, b); }
    static KERNELS_INLINE void store_aligned(T* p, R v) { _mm256_store_pd(p, v); }
    static KERNELS_INLINE R load_c(const T* p, dim_t) { return _mm256_loadu_pd(p); }
    static KERNELS_INLINE void store(T* p, R v, dim_t) { _mm256_storeu_pd(p, v); }
};

}  // namespace
}  // namespace kernels
