// Register-blocked micro-kernel shared by the x86 SIMD ISAs, parameterised by a vector-traits type.
//
// Shape: MR = MV vectors along the contiguous dimension of C, NR broadcast columns. Each k step
// loads MV vectors of the A micro-panel, broadcasts NR elements of B, and issues MV*NR independent
// FMAs into MV*NR accumulator registers; those independent chains hide the FMA latency
// (4 cycles x 2 FMA ports needs >= 8 chains; 24 are in flight for the AVX-512 shapes).
#pragma once

#include "../common.hpp"
#include "tile_store.hpp"

namespace kernels {
namespace {

template <class V, int MV, int NR>
void simd_ukr(dim_t k, typename V::T alpha, const typename V::T* KERNELS_RESTRICT a,
              const typename V::T* KERNELS_RESTRICT b, typename V::T beta, typename V::T* c,
              inc_t rs_c, inc_t cs_c, dim_t m, dim_t n) {
    using T = typename V::T;
    using R = typename V::R;
    constexpr int W = V::W;
    constexpr int MR = MV * W;

    // Warm the C tile while the k loop runs; it is needed only at the end.
    if (rs_c == 1)
#pragma GCC unroll 16
        for (int j = 0; j < NR; ++j) {
            __builtin_prefetch(c + j * cs_c, 1);
            __builtin_prefetch(c + j * cs_c + MR - 1, 1);
        }

    R acc[NR][MV];
#pragma GCC unroll 16
    for (int j = 0; j < NR; ++j)
#pragma GCC unroll 4
        for (int i = 0; i < MV; ++i) acc[j][i] = V::zero();

#pragma GCC unroll 4
    for (dim_t p = 0; p < k; ++p) {
        R av[MV];
#pragma GCC unroll 4
        for (int i = 0; i < MV; ++i) av[i] = V::load(a + i * W);
#pragma GCC unroll 16
        for (int j = 0; j < NR; ++j) {
            const R bj = V::bcast(b + j);
#pragma GCC unroll 4
            for (int i = 0; i < MV; ++i) acc[j][i] = V::fma(av[i], bj, acc[j][i]);
        }
        a += MR;
        b += NR;
    }

    const R va = V::set1(alpha);
    if (rs_c == 1 && n == NR && (m == MR || V::kMasked)) {
        // Columns of C are contiguous: vector write-back (masked along m on the last row block).
        if (beta == T(0)) {
#pragma GCC unroll 16
            for (int j = 0; j < NR; ++j)
#pragma GCC unroll 4
                for (int i = 0; i < MV; ++i)
                    V::store(c + j * cs_c + i * W, V::mul(va, acc[j][i]), m - i * W);
        } else {
            const R vb = V::set1(beta);
#pragma GCC unroll 16
            for (int j = 0; j < NR; ++j)
#pragma GCC unroll 4
                for (int i = 0; i < MV; ++i) {
                    T* cp = c + j * cs_c + i * W;
                    const R old = V::load_c(cp, m - i * W);
                    V::store(cp, V::fma(vb, old, V::mul(va, acc[j][i])), m - i * W);
                }
        }
        return;
    }
    // Edge tile (n < NR, or m < MR without masks) or strided C: scalar write-back.
    alignas(kAlign) T tile[NR * MR];
#pragma GCC unroll 16
    for (int j = 0; j < NR; ++j)
#pragma GCC unroll 4
        for (int i = 0; i < MV; ++i) V::store_aligned(tile + j * MR + i * W, V::mul(va, acc[j][i]));
    store_tile<T, MR>(tile, beta, c, rs_c, cs_c, m, n);
}

}  // namespace
}  // namespace kernels
