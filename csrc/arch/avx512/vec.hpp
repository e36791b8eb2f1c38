// AVX-512F vector traits (fp32 and fp64), the one set for every AVX-512 TU: the micro-kernels
// (simd_ukernel.hpp), the FMA peak probe and the convolution helpers of this folder.
#pragma once

#include <immintrin.h>

#include <type_traits>

#include "../../core/common.hpp"

namespace kernels {
namespace {

// Lanes [0, rem) of a W-lane vector as a bit mask; rem >= W means all lanes.
template <int W>
KERNELS_INLINE unsigned lanes(dim_t rem) {
    return rem >= W ? (1u << W) - 1u : (rem <= 0 ? 0u : (1u << rem) - 1u);
}

// Bits [lo, hi) of a lane mask, lo and hi clamped to [0, 16]: the lanes of a row segment that lie
// inside the image, for the conv helpers (masked-off lanes read as zero and touch no memory).
inline unsigned lane_range(dim_t lo, dim_t hi) {
    lo = lo < 0 ? 0 : (lo > 16 ? 16 : lo);
    hi = hi < 0 ? 0 : (hi > 16 ? 16 : hi);
    if (hi <= lo) return 0u;
    return ((1u << hi) - 1u) & ~((1u << lo) - 1u);
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
    static KERNELS_INLINE R add(R a, R b) { return _mm512_add_ps(a, b); }
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
    // Lanes chosen by a bit mask (bit i = lane i), for the conv helpers: masked-off lanes load
    // zero and store nothing. kAll: every lane. These members and lane_range are plain inline, as
    // in the helpers' former traits: GCC inlines them anyway, but forcing it (KERNELS_INLINE)
    // changed the block layout of the depthwise row kernels and the weight packer.
    static constexpr unsigned kAll = 0xffffu;
    static R load_mask(unsigned m, const T* p) {
        return _mm512_maskz_loadu_ps(static_cast<__mmask16>(m), p);
    }
    static void store_mask(unsigned m, T* p, R v) {
        _mm512_mask_storeu_ps(p, static_cast<__mmask16>(m), v);
    }
    static void storeu(T* p, R v) { _mm512_storeu_ps(p, v); }
    // Lanes 0, 2, ..., 30 of the 32-lane concatenation (a, b): a stride-2 row gather.
    static R evens(R a, R b) {
        const __m512i idx = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
        return _mm512_permutex2var_ps(a, idx, b);
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
    static KERNELS_INLINE R add(R a, R b) { return _mm512_add_pd(a, b); }
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
    static constexpr unsigned kAll = 0xffu;
    static R load_mask(unsigned m, const T* p) {
        return _mm512_maskz_loadu_pd(static_cast<__mmask8>(m), p);
    }
    static void store_mask(unsigned m, T* p, R v) {
        _mm512_mask_storeu_pd(p, static_cast<__mmask8>(m), v);
    }
    static void storeu(T* p, R v) { _mm512_storeu_pd(p, v); }
    static R evens(R a, R b) {  // lanes 0, 2, ..., 14 of (a, b)
        const __m512i idx = _mm512_setr_epi64(0, 2, 4, 6, 8, 10, 12, 14);
        return _mm512_permutex2var_pd(a, idx, b);
    }
};

// The traits of element type T, for code written once for float and double.
template <typename T>
using Avx512 = std::conditional_t<std::is_same_v<T, float>, Avx512F32, Avx512F64>;

}  // namespace
}  // namespace kernels
