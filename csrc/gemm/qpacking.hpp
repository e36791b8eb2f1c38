// Packing of int8 operands into quad-interleaved micro-panels (arch/qukernel.hpp's layout), for
// any element strides, with the sign flip (xor 0x80) that turns s8 activations into u8 + 128 and u8
// weights into s8 - 128 on the way. Included by every ISA translation unit (internal linkage, as
// gemm/packing.hpp and for the same reason).
#pragma once

#include <cstdint>

#include "../core/common.hpp"

namespace kernels {
namespace {

// One micro-panel of W lanes: quad q holds for each lane t the bytes src(4q .. 4q+3, t), where
// element (p, t) is at src[p*step + t*inc]; zero past len (k) and past w (lanes).
template <typename E, int W>
KERNELS_INLINE void qpack_panel(dim_t len, dim_t w, const E* src, inc_t step, inc_t inc, std::uint8_t flip,
                                E* KERNELS_RESTRICT dst) {
    const dim_t full = len / 4 * 4;
    if (w == W && step == 1) {  // k contiguous (row-major activations, column-major weights)
        for (dim_t p = 0; p < full; p += 4) {
            for (int t = 0; t < W; ++t) {
                const E* s = src + t * inc + p;
#pragma GCC unroll 4
                for (int q = 0; q < 4; ++q) dst[t * 4 + q] = static_cast<E>(s[q] ^ flip);
            }
            dst += 4 * W;
        }
    } else if (w == W && inc == 1) {  // lanes contiguous (row-major weights): 4 rows interleaved byte-wise
        for (dim_t p = 0; p < full; p += 4) {
            const E* s0 = src + p * step;
            for (int t = 0; t < W; ++t)
#pragma GCC unroll 4
                for (int q = 0; q < 4; ++q) dst[t * 4 + q] = static_cast<E>(s0[q * step + t] ^ flip);
            dst += 4 * W;
        }
    } else {
        for (dim_t p = 0; p < full; p += 4) {
            for (int t = 0; t < W; ++t)
#pragma GCC unroll 4
                for (int q = 0; q < 4; ++q)
                    dst[t * 4 + q] = t < w ? static_cast<E>(src[(p + q) * step + t * inc] ^ flip) : E(0);
            dst += 4 * W;
        }
    }
    if (full < len) {  // the last quad, zero past k
        for (int t = 0; t < W; ++t)
            for (int q = 0; q < 4; ++q)
                dst[t * 4 + q] = t < w && full + q < len ? static_cast<E>(src[(full + q) * step + t * inc] ^ flip) : E(0);
    }
}

// Weights: A(i, p) at a[i*rs + p*cs] -> MR-channel micro-panels.
template <int MR>
void qpack_a(dim_t mc, dim_t kc, const std::int8_t* a, inc_t rs, inc_t cs, std::uint8_t flip, std::int8_t* dst) {
    const dim_t quads = (kc + 3) / 4;
    for (dim_t i = 0; i < mc; i += MR) {
        qpack_panel<std::int8_t, MR>(kc, mc - i < MR ? mc - i : MR, a + i * rs, cs, rs, flip, dst);
        dst += quads * 4 * MR;
    }
}

// Activations: B(p, j) at b[p*rs + j*cs] -> NR-pixel micro-panels.
template <int NR>
void qpack_b(dim_t kc, dim_t nc, const std::uint8_t* b, inc_t rs, inc_t cs, std::uint8_t flip, std::uint8_t* dst) {
    const dim_t quads = (kc + 3) / 4;
    for (dim_t j = 0; j < nc; j += NR) {
        qpack_panel<std::uint8_t, NR>(kc, nc - j < NR ? nc - j : NR, b + j * cs, rs, cs, flip, dst);
        dst += quads * 4 * NR;
    }
}

}  // namespace
}  // namespace kernels
