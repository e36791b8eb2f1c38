// AVX2 QAdd (the avx2 row's qadd_fn, arch/table.cpp): 8 byte pairs per vector, widened to int32
// and float32, the formula's two FMAs (vfmadd: AVX2 rows require FMA), clamped in float, rounded
// half to even, four vectors packed to 32 bytes. The last n % 8 pairs go through a stack copy.
#include <immintrin.h>

#include <cstring>

#include "avx2.hpp"

namespace kernels {
namespace avx2 {

namespace {

template <bool Signed>
KERNELS_INLINE __m256 widen(const std::uint8_t* p) {
    const __m128i v = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p));
    return _mm256_cvtepi32_ps(Signed ? _mm256_cvtepi8_epi32(v) : _mm256_cvtepu8_epi32(v));
}

template <bool Signed>
struct Step {
    __m256 ra, rb, k, lo, hi;
    // 8 results as int32 lanes, each within the type's range.
    KERNELS_INLINE __m256i operator()(const std::uint8_t* a, const std::uint8_t* b) const {
        const __m256 t = _mm256_fmadd_ps(widen<Signed>(b), rb, k);  // fma(b, rb, k): onnxruntime's order
        __m256 u = _mm256_fmadd_ps(widen<Signed>(a), ra, t);        // fma(a, ra, t)
        u = _mm256_min_ps(_mm256_max_ps(u, lo), hi);  // clamp first: clip(rint(u)) == rint(clip(u))
        return _mm256_cvtps_epi32(_mm256_round_ps(u, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    }
    // 32 results: packs keep the values (in range), the permute undoes the packs' lane interleave.
    KERNELS_INLINE void x32(const std::uint8_t* a, const std::uint8_t* b, std::uint8_t* out) const {
        const __m256i p01 = _mm256_packs_epi32((*this)(a, b), (*this)(a + 8, b + 8));
        const __m256i p23 = _mm256_packs_epi32((*this)(a + 16, b + 16), (*this)(a + 24, b + 24));
        const __m256i p = Signed ? _mm256_packs_epi16(p01, p23) : _mm256_packus_epi16(p01, p23);
        const __m256i r = _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), r);
    }
};

template <bool Signed>
void run(const std::uint8_t* a, const std::uint8_t* b, std::uint8_t* out, dim_t n, float ra, float rb, float k) {
    const Step<Signed> s{_mm256_set1_ps(ra), _mm256_set1_ps(rb), _mm256_set1_ps(k), _mm256_set1_ps(Signed ? -128.f : 0.f),
                         _mm256_set1_ps(Signed ? 127.f : 255.f)};
    dim_t i = 0;
    for (; i + 32 <= n; i += 32) s.x32(a + i, b + i, out + i);
    if (i < n) {  // the last 1..31 pairs through 32-byte stack copies
        alignas(32) std::uint8_t ta[32] = {}, tb[32] = {}, to[32];
        const auto rest = static_cast<std::size_t>(n - i);
        std::memcpy(ta, a + i, rest);
        std::memcpy(tb, b + i, rest);
        s.x32(ta, tb, to);
        std::memcpy(out + i, to, rest);  // only the n - i results: nothing past out's end is written
    }
}

}  // namespace

void qadd(const std::uint8_t* a, const std::uint8_t* b, std::uint8_t* out, dim_t n, bool is_signed, float ra, float rb,
          float k) {
    if (is_signed) run<true>(a, b, out, n, ra, rb, k);
    else run<false>(a, b, out, n, ra, rb, k);
}

}  // namespace avx2
}  // namespace kernels
