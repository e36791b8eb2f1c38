// int8 micro-kernel for AVX2 (u8 x s8 -> s32, no VNNI): 8x6 tile of 8 output channels x 6 pixels.
//
// Exact, without vpmaddubsw: that instruction adds two u8 x s8 products into an int16 with
// saturation (255*127*2 = 64770 > 32767), so it is wrong for large activations and weights. Here
// both operands are widened to int16 in registers (weights with vpmovsxbw, the activation quad
// with vpmovzxbw) and multiplied with vpmaddwd, whose pair sums (at most 2 * 255 * 128 = 65280)
// are exact in int32. The same quad-packed panels as every int8 kernel (arch/qukernel.hpp): per
// k quad, 32 bytes of weights (8 channels x 4) widen to two vectors of 4 channels x 4 int16; a
// pixel's 4 activations broadcast as int16; vpmaddwd leaves two partial sums per channel in
// adjacent lanes, added pairwise (vphaddd) once per tile. The write-back is the scalar store.
#include <immintrin.h>

#include <cstring>

#include "avx2.hpp"
#include "../qtile_store.hpp"
#include "../../gemm/qpacking.hpp"

namespace kernels {
namespace {

constexpr int kNR = 6;

void ukr(dim_t kq, const std::int8_t* KERNELS_RESTRICT a, const std::uint8_t* KERNELS_RESTRICT b,
         const std::int32_t* acc_in, inc_t rs_in, inc_t cs_in, void* c, inc_t rs_c, inc_t cs_c, dim_t m, dim_t n,
         const QEpilogue* ep) {
    __m256i lo[kNR], hi[kNR];  // channels 0-3 and 4-7, two partial sums each
#pragma GCC unroll 6
    for (int j = 0; j < kNR; ++j) lo[j] = _mm256_setzero_si256(), hi[j] = _mm256_setzero_si256();
    for (dim_t q = 0; q < kq; ++q) {
        const __m256i w0 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a)));
        const __m256i w1 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a + 16)));
#pragma GCC unroll 6
        for (int j = 0; j < kNR; ++j) {
            std::int32_t quad;
            std::memcpy(&quad, b + 4 * j, 4);
            const __m256i x = _mm256_cvtepu8_epi16(_mm_set1_epi32(quad));
            lo[j] = _mm256_add_epi32(lo[j], _mm256_madd_epi16(w0, x));
            hi[j] = _mm256_add_epi32(hi[j], _mm256_madd_epi16(w1, x));
        }
        a += 32;
        b += 4 * kNR;
    }
    alignas(32) std::int32_t tile[kNR * 8];
#pragma GCC unroll 6
    for (int j = 0; j < kNR; ++j) {
        // hadd: [c0 c1 c4 c5 | c2 c3 c6 c7]; the 64-bit permute puts the channels in order.
        const __m256i s = _mm256_permute4x64_epi64(_mm256_hadd_epi32(lo[j], hi[j]), 0xD8);
        _mm256_store_si256(reinterpret_cast<__m256i*>(tile + 8 * j), s);
    }
    qstore_tile<8>(tile, acc_in, rs_in, cs_in, c, rs_c, cs_c, m, n, ep);
}

}  // namespace

const QUkernel ukr_s8_avx2_8x6 = {"ukr_s8_avx2_8x6", Isa::avx2, 8, kNR, &ukr, &qpack_a<8>, &qpack_b<kNR>, nullptr};
}  // namespace kernels
