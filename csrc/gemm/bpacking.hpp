// Packing of bf16 operands (arch/bukernel.hpp's two layouts): k pairs for kernels with bf16
// arithmetic, fp32-widened panels for those without, for any element strides. Included by every
// ISA translation unit (internal linkage, compiled with that ISA's flags, as gemm/packing.hpp).
#pragma once

#include <cstdint>
#include <cstring>

#include "../arch/bukernel.hpp"
#include "../core/common.hpp"

namespace kernels {
namespace {

// One micro-panel of W lanes in pairs: pair q holds for each lane t the elements src(2q, t),
// src(2q+1, t), where element (p, t) is at src[p*step + t*inc]; zero past len (k) and w (lanes).
template <int W>
KERNELS_INLINE void bpack_pairs_panel(dim_t len, dim_t w, const std::uint16_t* src, inc_t step, inc_t inc,
                                      std::uint16_t* KERNELS_RESTRICT dst) {
    const dim_t full = len / 2 * 2;
    if (w == W && step == 1) {  // k contiguous: each pair is one 32-bit word of the source
        for (dim_t p = 0; p < full; p += 2) {
            for (int t = 0; t < W; ++t) std::memcpy(dst + 2 * t, src + t * inc + p, 4);
            dst += 2 * W;
        }
    } else if (w == W && inc == 1) {  // lanes contiguous: interleave two k rows
        for (dim_t p = 0; p < full; p += 2) {
            const std::uint16_t* s0 = src + p * step;
            const std::uint16_t* s1 = s0 + step;
            for (int t = 0; t < W; ++t) dst[2 * t] = s0[t], dst[2 * t + 1] = s1[t];
            dst += 2 * W;
        }
    } else {
        for (dim_t p = 0; p < full; p += 2) {
            for (int t = 0; t < W; ++t) {
                dst[2 * t] = t < w ? src[p * step + t * inc] : 0;
                dst[2 * t + 1] = t < w ? src[(p + 1) * step + t * inc] : 0;
            }
            dst += 2 * W;
        }
    }
    if (full < len)  // an odd k: the last pair's second element is zero
        for (int t = 0; t < W; ++t) dst[2 * t] = t < w ? src[full * step + t * inc] : 0, dst[2 * t + 1] = 0;
}

// One micro-panel of W lanes widened to fp32: k step p holds src(p, 0..W), zero past w.
template <int W>
KERNELS_INLINE void bpack_wide_panel(dim_t len, dim_t w, const std::uint16_t* src, inc_t step, inc_t inc,
                                     float* KERNELS_RESTRICT dst) {
    for (dim_t p = 0; p < len; ++p) {
        if (w == W && inc == 1)
            for (int t = 0; t < W; ++t) dst[t] = bf16_to_f32(src[p * step + t]);
        else
            for (int t = 0; t < W; ++t) dst[t] = t < w ? bf16_to_f32(src[p * step + t * inc]) : 0.0f;
        dst += W;
    }
}

template <int MR>
void bpack_a_pairs(dim_t mc, dim_t kc, const std::uint16_t* a, inc_t rs, inc_t cs, void* dst) {
    auto* d = static_cast<std::uint16_t*>(dst);
    const dim_t pairs = (kc + 1) / 2;
    for (dim_t i = 0; i < mc; i += MR, d += pairs * 2 * MR)
        bpack_pairs_panel<MR>(kc, mc - i < MR ? mc - i : MR, a + i * rs, cs, rs, d);
}
template <int NR>
void bpack_b_pairs(dim_t kc, dim_t nc, const std::uint16_t* b, inc_t rs, inc_t cs, void* dst) {
    auto* d = static_cast<std::uint16_t*>(dst);
    const dim_t pairs = (kc + 1) / 2;
    for (dim_t j = 0; j < nc; j += NR, d += pairs * 2 * NR)
        bpack_pairs_panel<NR>(kc, nc - j < NR ? nc - j : NR, b + j * cs, rs, cs, d);
}
template <int MR>
void bpack_a_wide(dim_t mc, dim_t kc, const std::uint16_t* a, inc_t rs, inc_t cs, void* dst) {
    auto* d = static_cast<float*>(dst);
    for (dim_t i = 0; i < mc; i += MR, d += kc * MR) bpack_wide_panel<MR>(kc, mc - i < MR ? mc - i : MR, a + i * rs, cs, rs, d);
}
template <int NR>
void bpack_b_wide(dim_t kc, dim_t nc, const std::uint16_t* b, inc_t rs, inc_t cs, void* dst) {
    auto* d = static_cast<float*>(dst);
    for (dim_t j = 0; j < nc; j += NR, d += kc * NR) bpack_wide_panel<NR>(kc, nc - j < NR ? nc - j : NR, b + j * cs, rs, cs, d);
}

}  // namespace
}  // namespace kernels
