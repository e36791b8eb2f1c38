// The store of a bf16 product's fp32 accumulator tile (arch/bukernel.hpp's contract): partial sums
// between k blocks, then alpha, beta * C, the fp32 epilogue and one rounding. Included by every
// ISA's bf16 kernel, so that it is compiled with that ISA's flags (the loops run along i over
// contiguous accumulators and vectorise; unit-stride C has its own loop for that reason).
#pragma once

#include "bukernel.hpp"

namespace kernels {
namespace {

// acc: the tile's sums of this k block, acc[i + j*MR].
template <int MR>
KERNELS_INLINE void bstore_tile(const float* KERNELS_RESTRICT acc, const BTiles& g, dim_t i0, dim_t j0, dim_t m,
                                dim_t n, bool first_k, bool last_k) {
    alignas(64) float v[MR];
    const bool epi = g.ep.active();
    for (dim_t j = 0; j < n; ++j) {
        const float* s = acc + j * MR;
        float* p = g.part ? g.part + i0 + (j0 + j) * g.ld_p : nullptr;
        if (!last_k) {  // an earlier k block: keep the fp32 sum
            if (first_k)
                for (dim_t i = 0; i < m; ++i) p[i] = s[i];
            else
                for (dim_t i = 0; i < m; ++i) p[i] += s[i];
            continue;
        }
        if (first_k)
            for (int i = 0; i < MR; ++i) v[i] = g.alpha * s[i];
        else
            for (dim_t i = 0; i < m; ++i) v[i] = g.alpha * (s[i] + p[i]);
        const dim_t jj = j0 + j;
        if (g.c_bf16) {
            std::uint16_t* c = static_cast<std::uint16_t*>(g.c) + i0 * g.rs_c + jj * g.cs_c;
            if (g.beta != 0.0f) {  // beta == 0: C is not read (NaN in C does not leak)
                if (g.rs_c == 1)
                    for (dim_t i = 0; i < m; ++i) v[i] += g.beta * bf16_to_f32(c[i]);
                else
                    for (dim_t i = 0; i < m; ++i) v[i] += g.beta * bf16_to_f32(c[i * g.rs_c]);
            }
            if (epi)
                for (dim_t i = 0; i < m; ++i) v[i] = g.ep.apply(v[i], i0 + i, jj);
            if (g.rs_c == 1)
                for (dim_t i = 0; i < m; ++i) c[i] = f32_to_bf16(v[i]);
            else
                for (dim_t i = 0; i < m; ++i) c[i * g.rs_c] = f32_to_bf16(v[i]);
        } else {
            float* c = static_cast<float*>(g.c) + i0 * g.rs_c + jj * g.cs_c;
            if (g.beta != 0.0f) {
                if (g.rs_c == 1)
                    for (dim_t i = 0; i < m; ++i) v[i] += g.beta * c[i];
                else
                    for (dim_t i = 0; i < m; ++i) v[i] += g.beta * c[i * g.rs_c];
            }
            if (epi)
                for (dim_t i = 0; i < m; ++i) v[i] = g.ep.apply(v[i], i0 + i, jj);
            if (g.rs_c == 1)
                for (dim_t i = 0; i < m; ++i) c[i] = v[i];
            else
                for (dim_t i = 0; i < m; ++i) c[i * g.rs_c] = v[i];
        }
    }
}

}  // namespace
}  // namespace kernels
