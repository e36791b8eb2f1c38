// AVX-512 QAdd (the avx512 row's qadd_fn, arch/table.cpp): 16 byte pairs per vector, widened to
// int32 and float32, the two FMAs of the formula, clamped to the type's range in float (so no value
// can overflow the conversion), rounded half to even, narrowed with vpmovdb. AVX512F only (no
// byte-granular masks): the last n % 16 pairs go through a 16-byte stack copy, same arithmetic.
#include <immintrin.h>

#include <cstring>

#include "avx512.hpp"

namespace kernels {
namespace avx512 {

namespace {

template <bool Signed>
KERNELS_INLINE __m512 widen(const std::uint8_t* p) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    return _mm512_cvtepi32_ps(Signed ? _mm512_cvtepi8_epi32(v) : _mm512_cvtepu8_epi32(v));
}

template <bool Signed>
struct Step {
    __m512 ra, rb, k, lo, hi;
    KERNELS_INLINE void operator()(const std::uint8_t* a, const std::uint8_t* b, std::uint8_t* out) const {
        const __m512 t = _mm512_fmadd_ps(widen<Signed>(b), rb, k);  // fma(b, rb, k): onnxruntime's order
        __m512 u = _mm512_fmadd_ps(widen<Signed>(a), ra, t);        // fma(a, ra, t)
        u = _mm512_min_ps(_mm512_max_ps(u, lo), hi);  // clamp first: clip(rint(u)) == rint(clip(u)), integer bounds
        const __m512i q = _mm512_cvt_roundps_epi32(u, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        _mm_storeu_si128(reinterpret_cast<__m128i*>(out), _mm512_cvtepi32_epi8(q));  // in range: truncation is exact
    }
};

template <bool Signed>
void run(const std::uint8_t* a, const std::uint8_t* b, std::uint8_t* out, dim_t n, float ra, float rb, float k) {
    const Step<Signed> s{_mm512_set1_ps(ra), _mm512_set1_ps(rb), _mm512_set1_ps(k), _mm512_set1_ps(Signed ? -128.f : 0.f),
                         _mm512_set1_ps(Signed ? 127.f : 255.f)};
    dim_t i = 0;
    for (; i + 64 <= n; i += 64) {  // four independent vectors per iteration
        s(a + i, b + i, out + i);
        s(a + i + 16, b + i + 16, out + i + 16);
        s(a + i + 32, b + i + 32, out + i + 32);
        s(a + i + 48, b + i + 48, out + i + 48);
    }
    for (; i + 16 <= n; i += 16) s(a + i, b + i, out + i);
    if (i < n) {
        alignas(16) std::uint8_t ta[16] = {}, tb[16] = {}, to[16];
        const auto rest = static_cast<std::size_t>(n - i);
        std::memcpy(ta, a + i, rest);
        std::memcpy(tb, b + i, rest);
        s(ta, tb, to);
        std::memcpy(out + i, to, rest);  // only the n - i results: nothing past out's end is written
    }
}

}  // namespace

void qadd(const std::uint8_t* a, const std::uint8_t* b, std::uint8_t* out, dim_t n, bool is_signed, float ra, float rb,
          float k) {
    if (is_signed) run<true>(a, b, out, n, ra, rb, k);
    else run<false>(a, b, out, n, ra, rb, k);
}

}  // namespace avx512
}  // namespace kernels
