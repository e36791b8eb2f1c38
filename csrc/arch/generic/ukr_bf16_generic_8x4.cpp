// Portable bf16 micro-kernel, 8x4 tile in k pairs: built on every CPU (RISC-V included), the oracle
// of the bf16 kernel tests. Each pair adds its two exact products (bf16 x bf16 fits fp32's
// mantissa) to the fp32 accumulator one at a time, odd k first, as vdpbf16ps is specified to.
#include "generic.hpp"
#include "../btile_store.hpp"
#include "../../gemm/bpacking.hpp"

namespace kernels {
namespace {

template <int MR, int NR>
void generic_bukr(dim_t pairs, const void* KERNELS_RESTRICT av, const void* KERNELS_RESTRICT bv, const BTiles& g,
                  dim_t i0, dim_t j0, dim_t m, dim_t n, bool first_k, bool last_k) {
    const auto* a = static_cast<const std::uint16_t*>(av);
    const auto* b = static_cast<const std::uint16_t*>(bv);
    float acc[NR * MR] = {};
    for (dim_t q = 0; q < pairs; ++q) {
        for (int j = 0; j < NR; ++j) {
            const float b0 = bf16_to_f32(b[2 * j]), b1 = bf16_to_f32(b[2 * j + 1]);
            for (int i = 0; i < MR; ++i) {
                float s = acc[j * MR + i];
                s += bf16_to_f32(a[2 * i + 1]) * b1;
                s += bf16_to_f32(a[2 * i]) * b0;
                acc[j * MR + i] = s;
            }
        }
        a += 2 * MR;
        b += 2 * NR;
    }
    bstore_tile<MR>(acc, g, i0, j0, m, n, first_k, last_k);
}

}  // namespace

const BUkernel ukr_bf16_generic_8x4 = {"ukr_bf16_generic_8x4", Isa::generic, 8, 4, 2, &generic_bukr<8, 4>,
                                       &bpack_a_pairs<8>, &bpack_b_pairs<4>, nullptr};
}  // namespace kernels
