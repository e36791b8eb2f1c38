// int8 weights into 32-channel quad panels (gemm/qpacking.hpp's layout: per k quad, channel t's
// four bytes at 4t) for the AVX-512 int8 kernels (VNNI and AMX share MR = 32 and the layout).
//
// The common case, channels contiguous along each k row (qgemm's row-major weights, and the
// k x n weights of MatMulInteger), interleaves four rows at a time in ymm registers, row quad by
// row quad across every full panel, so that the four rows are read in order. The portable packer
// (a byte loop per channel, compiled to scalar moves) walked each panel down all k rows: 9% of a
// 1024^3 qgemm that packs its weights per call (1 thread, Emerald Rapids). Other strides, the
// last partial panel and a k tail go through the portable packer. AVX2 instructions (the folder's
// flags include -mavx2): the 32 channels of a row are one ymm register.
#include <immintrin.h>

#include <cstdint>

#include "avx512.hpp"
#include "../../gemm/qpacking.hpp"

namespace kernels {
namespace {

constexpr int kMR = 32;

// Rows p..p+3 of 32 channels (row q at s + q*step), xor flip, to 32 quads at d (128 bytes).
// unpack{lo,hi} work within 128-bit lanes: after the byte and word unpacks, q0 holds the quads of
// channels 0-3 (low lane) and 16-19 (high lane), q1 4-7 / 20-23, q2 8-11 / 24-27, q3 12-15 / 28-31;
// the lane permutes put channels 0-7, 8-15, 16-23, 24-31 in order.
KERNELS_INLINE void quad_rows(const std::int8_t* s, inc_t step, __m256i flip, std::int8_t* d) {
    const auto row = [&](int q) {
        return _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(s + q * step)), flip);
    };
    const __m256i x0 = row(0), x1 = row(1), x2 = row(2), x3 = row(3);
    const __m256i a = _mm256_unpacklo_epi8(x0, x1), b = _mm256_unpackhi_epi8(x0, x1);
    const __m256i c = _mm256_unpacklo_epi8(x2, x3), e = _mm256_unpackhi_epi8(x2, x3);
    const __m256i q0 = _mm256_unpacklo_epi16(a, c), q1 = _mm256_unpackhi_epi16(a, c);
    const __m256i q2 = _mm256_unpacklo_epi16(b, e), q3 = _mm256_unpackhi_epi16(b, e);
    auto* o = reinterpret_cast<__m256i*>(d);
    _mm256_storeu_si256(o, _mm256_permute2x128_si256(q0, q1, 0x20));
    _mm256_storeu_si256(o + 1, _mm256_permute2x128_si256(q2, q3, 0x20));
    _mm256_storeu_si256(o + 2, _mm256_permute2x128_si256(q0, q1, 0x31));
    _mm256_storeu_si256(o + 3, _mm256_permute2x128_si256(q2, q3, 0x31));
}

}  // namespace

namespace avx512 {

void qpack_a32(dim_t mc, dim_t kc, const std::int8_t* a, inc_t rs, inc_t cs, std::uint8_t flip, std::int8_t* dst) {
    const dim_t quads = (kc + 3) / 4, whole_k = kc / 4 * 4;
    const dim_t full = rs == 1 ? mc / kMR * kMR : 0;  // channels in full panels packed here
    const __m256i f = _mm256_set1_epi8(static_cast<char>(flip));
    for (dim_t p = 0; p < whole_k; p += 4)
        for (dim_t i = 0; i < full; i += kMR) quad_rows(a + i + p * cs, cs, f, dst + i * quads * 4 + p * kMR);
    for (dim_t i = 0; i < mc; i += kMR) {
        std::int8_t* d = dst + i * quads * 4;
        if (i < full) {
            if (whole_k < kc) qpack_panel<std::int8_t, kMR>(kc - whole_k, kMR, a + i + whole_k * cs, cs, 1, flip, d + whole_k * kMR);
        } else {
            qpack_panel<std::int8_t, kMR>(kc, mc - i < kMR ? mc - i : kMR, a + i * rs, cs, rs, flip, d);
        }
    }
}

}  // namespace avx512
}  // namespace kernels
