// bf16 on AVX2 (no bf16 arithmetic): the operands are widened to fp32 while packing (exact), then
// the fp32 micro-kernel ukr_f32_avx2_16x6 sums them into an fp32 tile, stored by the bf16 store.
#include "avx2.hpp"
#include "../btile_store.hpp"
#include "../../gemm/bpacking.hpp"

namespace kernels {
namespace {

void avx2_bukr(dim_t k, const void* KERNELS_RESTRICT a, const void* KERNELS_RESTRICT b, const BTiles& g, dim_t i0,
               dim_t j0, dim_t m, dim_t n, bool first_k, bool last_k) {
    alignas(64) float acc[16 * 6];
    // beta 0: the tile is written, not read; the full tile, so the fp32 kernel takes its fast store.
    ukr_f32_avx2_16x6.kernel(k, 1.0f, static_cast<const float*>(a), static_cast<const float*>(b), 0.0f, acc, 1, 16,
                             16, 6, nullptr);
    bstore_tile<16>(acc, g, i0, j0, m, n, first_k, last_k);
}

}  // namespace

const BUkernel ukr_bf16_avx2_16x6 = {"ukr_bf16_avx2_16x6", Isa::avx2, 16, 6, 1, &avx2_bukr, &bpack_a_wide<16>,
                                     &bpack_b_wide<6>, nullptr};
}  // namespace kernels
