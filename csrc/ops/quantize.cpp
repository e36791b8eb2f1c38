// QuantizeLinear per tensor (quantize.hpp): one portable loop the compiler vectorises (divps, a
// clamp, the 1.5 * 2^23 rounding trick, cvttps2dq), threads over contiguous chunks.
#include "quantize.hpp"

#include <algorithm>

namespace kernels {

namespace {

void quantize_chunk(const float* x, std::uint8_t* out, dim_t n, float scale, int zp, bool is_signed) {
    // The clamp first, to [lo - zp, hi - zp] in the quotient's units: integer bounds, so clamping
    // commutes with rounding, and the clamped value is small enough for the rounding trick below.
    // (v > lo ? v : lo) sends NaN to lo (its comparison is false).
    const float lo = static_cast<float>((is_signed ? -128 : 0) - zp), hi = static_cast<float>((is_signed ? 127 : 255) - zp);
    constexpr float kRound = 12582912.0f;  // 1.5 * 2^23: v + kRound - kRound is rint(v) for |v| < 2^22
    for (dim_t i = 0; i < n; ++i) {
        float v = x[i] / scale;
        v = v > lo ? v : lo;
        v = v < hi ? v : hi;
        v = (v + kRound) - kRound;
        out[i] = static_cast<std::uint8_t>(static_cast<int>(v) + zp);  // int8: the two's complement byte
    }
}

// Below this many elements one thread finishes before a team wakes (about 10 us of work).
constexpr dim_t kParallelElems = dim_t(1) << 16;
constexpr dim_t kChunkAlign = 64;

}  // namespace

void quantize_linear(const float* x, std::uint8_t* out, dim_t n, float scale, int zp, bool is_signed, int nt) {
    if (n < kParallelElems || nt <= 1) {
        quantize_chunk(x, out, n, scale, zp, is_signed);
        return;
    }
    const dim_t chunk = ((n + nt - 1) / nt + kChunkAlign - 1) / kChunkAlign * kChunkAlign;
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int t = 0; t < nt; ++t) {
        const dim_t i0 = std::min(n, t * chunk), i1 = std::min(n, i0 + chunk);
        if (i1 > i0) quantize_chunk(x + i0, out + i0, i1 - i0, scale, zp, is_signed);
    }
}

}  // namespace kernels
