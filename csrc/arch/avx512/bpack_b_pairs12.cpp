// bf16 B panels of 12 columns in k pairs (arch/bukernel.hpp's pairs layout: per pair q, column t's
// two k values as one 32-bit word at 2t) for ukr_bf16_avx512bf16_32x12.
//
// The common case, k contiguous along each column (the left operand's rows of a row-major product
// after the swap), is a 12 x pairs transpose of 32-bit words: four pairs of four columns at a
// time, one 16-byte load per column and a 4x4 word transpose (unpack{lo,hi} of 32 and 64 bits).
// The portable packer (bpacking.hpp) copied each word on its own, compiled to vmovd / vpinsrd
// gathers: 2.5% of a 1024^3 bf16 product at 1 thread on Zen 4. Other strides, a partial panel and
// the pairs past the last whole four go through the portable packer.
#include <immintrin.h>

#include <cstdint>

#include "avx512.hpp"
#include "../../gemm/bpacking.hpp"

namespace kernels {
namespace avx512 {

namespace {

constexpr int kNR = 12;

// Pairs [p, p + 4) of columns c..c+3 (column t at s + t*inc, pair q at +2q elements) into the four
// pair rows at d (row q at d + q * 2 * kNR elements, these columns at +2c).
KERNELS_INLINE void four_by_four(const std::uint16_t* s, inc_t inc, std::uint16_t* d) {
    const __m128i r0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s));
    const __m128i r1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + inc));
    const __m128i r2 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + 2 * inc));
    const __m128i r3 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + 3 * inc));
    const __m128i t0 = _mm_unpacklo_epi32(r0, r1), t1 = _mm_unpackhi_epi32(r0, r1);  // (0,1) pairs 0-1 / 2-3
    const __m128i t2 = _mm_unpacklo_epi32(r2, r3), t3 = _mm_unpackhi_epi32(r2, r3);  // (2,3)
    _mm_storeu_si128(reinterpret_cast<__m128i*>(d), _mm_unpacklo_epi64(t0, t2));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(d + 2 * kNR), _mm_unpackhi_epi64(t0, t2));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(d + 4 * kNR), _mm_unpacklo_epi64(t1, t3));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(d + 6 * kNR), _mm_unpackhi_epi64(t1, t3));
}

}  // namespace

void bpack_b_pairs12(dim_t kc, dim_t nc, const std::uint16_t* b, inc_t rs, inc_t cs, void* dst) {
    if (rs != 1) return bpack_b_pairs<kNR>(kc, nc, b, rs, cs, dst);
    auto* d = static_cast<std::uint16_t*>(dst);
    const dim_t pairs = (kc + 1) / 2, panel = pairs * 2 * kNR;
    const dim_t quads = kc / 8;  // whole groups of four pairs (8 k values)
    dim_t j = 0;
    for (; j + kNR <= nc; j += kNR, d += panel) {
        const std::uint16_t* s = b + j * cs;
        for (dim_t g = 0; g < quads; ++g)
#pragma GCC unroll 3
            for (int c = 0; c < kNR; c += 4) four_by_four(s + c * cs + 8 * g, cs, d + g * 8 * kNR + 2 * c);
        if (8 * quads < kc)  // the remaining pairs (and an odd k's zero) as the portable packer does
            bpack_b_pairs<kNR>(kc - 8 * quads, kNR, s + 8 * quads, 1, cs, d + quads * 8 * kNR);
    }
    if (j < nc) bpack_b_pairs<kNR>(kc, nc - j, b + j * cs, 1, cs, d);
}

}  // namespace avx512
}  // namespace kernels
