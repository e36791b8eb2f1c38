// Packing of A and B blocks into contiguous, zero-padded micro-panels, for any element strides.
//
// Written once and included by every ISA translation unit, so each ISA gets packing compiled with
// its own vector flags. Everything here has internal linkage (anonymous namespace): the same
// template compiled with different -m flags in two TUs must never be merged by the linker, or an
// AVX-512 copy could be picked for the portable path.
#pragma once

#include "../core/common.hpp"

namespace kernels {
namespace {

// One micro-panel: `len` vectors of W elements each; vector p holds src(p, 0..w) where element
// (p, t) is at src[p*step + t*inc]. Lanes w..W are zero so edge tiles compute on zeros.
// The three branches are the three shapes NumPy views give: contiguous lanes (straight copy),
// contiguous along p (a transpose: W sequential read streams), and anything else.
template <typename T, int W>
KERNELS_INLINE void pack_panel(dim_t len, dim_t w, const T* src, inc_t step, inc_t inc,
                               T* KERNELS_RESTRICT dst) {
    if (w == W && inc == 1) {
        for (dim_t p = 0; p < len; ++p) {
            const T* s = src + p * step;
#pragma GCC unroll 32
            for (int t = 0; t < W; ++t) dst[t] = s[t];
            dst += W;
        }
    } else if (w == W && step == 1) {
        // Transpose in blocks of 8 along p so each source row is read a cache line at a time.
        dim_t p = 0;
        for (; p + 8 <= len; p += 8) {
            for (int t = 0; t < W; ++t) {
                const T* s = src + t * inc + p;
#pragma GCC unroll 8
                for (int q = 0; q < 8; ++q) dst[q * W + t] = s[q];
            }
            dst += 8 * W;
        }
        for (; p < len; ++p) {
            for (int t = 0; t < W; ++t) dst[t] = src[t * inc + p];
            dst += W;
        }
    } else {
        for (dim_t p = 0; p < len; ++p) {
            const T* s = src + p * step;
            int t = 0;
            for (; t < w; ++t) dst[t] = s[t * inc];
            for (; t < W; ++t) dst[t] = T(0);
            dst += W;
        }
    }
}

// A block (mc x kc), element (i, p) at a[i*rs + p*cs] -> MR-row micro-panels, k-major inside.
template <typename T, int MR>
void pack_a(dim_t mc, dim_t kc, const T* a, inc_t rs, inc_t cs, T* dst) {
    for (dim_t i = 0; i < mc; i += MR) {
        const dim_t w = mc - i < MR ? mc - i : MR;
        pack_panel<T, MR>(kc, w, a + i * rs, cs, rs, dst);
        dst += kc * MR;
    }
}

// B block (kc x nc), element (p, j) at b[p*rs + j*cs] -> NR-column micro-panels, k-major inside.
template <typename T, int NR>
void pack_b(dim_t kc, dim_t nc, const T* b, inc_t rs, inc_t cs, T* dst) {
    for (dim_t j = 0; j < nc; j += NR) {
        const dim_t w = nc - j < NR ? nc - j : NR;
        pack_panel<T, NR>(kc, w, b + j * cs, rs, cs, dst);
        dst += kc * NR;
    }
}

}  // namespace
}  // namespace kernels
