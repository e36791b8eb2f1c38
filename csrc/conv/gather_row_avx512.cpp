// AVX-512 row gather of the NCHW implicit im2col (compiled with the AVX-512 flags only).
//
// A row segment of an A panel is a run of consecutive output pixels; for stride 1 its taps are a
// contiguous input run, for stride 2 every other element. Zero-masked loads produce the padding
// zeros for free (masked-off lanes never touch memory, so reading "before" the row is safe) and
// masked stores end the segment exactly: no scalar prologue/epilogue loops, which cost as much as
// the copy itself for the 7..64-pixel segments of CNN layers.
#include <immintrin.h>

#include "gather_row.hpp"

namespace kernels {

namespace {

// Bits [lo, hi) of a 16-bit lane mask, lo and hi clamped to [0, 16].
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
    using R = __m512;
    using M = __mmask16;
    static R load(unsigned m, const float* p) { return _mm512_maskz_loadu_ps(static_cast<M>(m), p); }
    static void store(unsigned m, float* p, R v) { _mm512_mask_storeu_ps(p, static_cast<M>(m), v); }
    static R zero() { return _mm512_setzero_ps(); }
    static R evens(R a, R b) {  // lanes 0, 2, ..., 30 of the 32-lane concatenation (a, b)
        const __m512i idx = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
        return _mm512_permutex2var_ps(a, idx, b);
    }
};

template <>
struct Zmm<double> {
    static constexpr int W = 8;
    using R = __m512d;
    using M = __mmask8;
    static R load(unsigned m, const double* p) { return _mm512_maskz_loadu_pd(static_cast<M>(m), p); }
    static void store(unsigned m, double* p, R v) { _mm512_mask_storeu_pd(p, static_cast<M>(m), v); }
    static R zero() { return _mm512_setzero_pd(); }
    static R evens(R a, R b) {
        const __m512i idx = _mm512_setr_epi64(0, 2, 4, 6, 8, 10, 12, 14);
        return _mm512_permutex2var_pd(a, idx, b);
    }
};

template <typename T>
void gather_row_avx512(T* d, const T* row, dim_t first, dim_t step, dim_t len, dim_t size) {
    using Z = Zmm<T>;
    constexpr int W = Z::W;
    for (dim_t t = 0; t < len; t += W) {
        const unsigned out = lane_range(0, len - t) & ((1u << W) - 1u);
        if (row == nullptr) {
            Z::store(out, d + t, Z::zero());
            continue;
        }
        if (step == 1) {
            const dim_t i0 = first + t;  // input column of lane 0
            Z::store(out, d + t, Z::load(lane_range(-i0, size - i0) & out, row + i0));
        } else {  // step == 2: lanes of the two loads cover input columns [i0, i0 + 2W)
            const dim_t i0 = first + 2 * t;
            const typename Z::R a = Z::load(lane_range(-i0, size - i0) & ((1u << W) - 1u), row + i0);
            const typename Z::R b = Z::load(lane_range(-i0 - W, size - i0 - W) & ((1u << W) - 1u), row + i0 + W);
            Z::store(out, d + t, Z::evens(a, b));
        }
    }
}

}  // namespace

template <>
row_gather_fn<float> fast_row_gather<float>() {
    return &gather_row_avx512<float>;
}
template <>
row_gather_fn<double> fast_row_gather<double>() {
    return &gather_row_avx512<double>;
}

}  // namespace kernels
