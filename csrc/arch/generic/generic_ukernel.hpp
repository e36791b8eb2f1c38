// Portable C++ micro-kernel: compiles on any CPU (x86, ARM, RISC-V) and is the oracle of the
// micro-kernel tests. The compiler vectorises the i loop with whatever the target offers.
#pragma once

#include "../../core/common.hpp"
#include "../tile_store.hpp"

namespace kernels {
namespace {

template <typename T, int MR, int NR>
void generic_ukr(dim_t k, T alpha, const T* KERNELS_RESTRICT a, const T* KERNELS_RESTRICT b, T beta,
                 T* c, inc_t rs_c, inc_t cs_c, dim_t m, dim_t n, const Epilogue<T>* ep) {
    alignas(kAlign) T acc[NR * MR] = {};
    for (dim_t p = 0; p < k; ++p) {
        for (int j = 0; j < NR; ++j) {
            const T bj = b[j];
            for (int i = 0; i < MR; ++i) acc[j * MR + i] += a[i] * bj;
        }
        a += MR;
        b += NR;
    }
    for (int t = 0; t < NR * MR; ++t) acc[t] *= alpha;
    store_tile<T, MR>(acc, beta, c, rs_c, cs_c, m, n, ep);
}

// Batch-reduce kernel of direct convolution (see taps_fn), portable form.
template <typename T, int MR, int NR>
void generic_ukr_taps(dim_t ntaps, dim_t kc, const T* a, const dim_t* a_off, const T* const* b, inc_t rs_b,
                      T beta, T* c, inc_t rs_c, inc_t cs_c, dim_t m, dim_t n, const Epilogue<T>* ep,
                      L2Prefetch) {
    alignas(kAlign) T acc[NR * MR] = {};
    for (dim_t t = 0; t < ntaps; ++t) {
        const T* ap = a + a_off[t];
        const T* const* bt = b + t * NR;
        for (dim_t p = 0; p < kc; ++p, ap += MR)
            for (int j = 0; j < NR; ++j) {
                const T bj = bt[j][p * rs_b];
                for (int i = 0; i < MR; ++i) acc[j * MR + i] += ap[i] * bj;
            }
    }
    store_tile<T, MR>(acc, beta, c, rs_c, cs_c, m, n, ep);
}

}  // namespace
}  // namespace kernels
