// Portable int8 micro-kernel (u8 x s8 -> s32), 8x4 tile: built on every CPU (RISC-V included), the
// oracle of the int8 kernel tests. Plain int32 arithmetic: the products of a u8 and an s8 and their
// sums are exact until the int32 wrap, which unsigned arithmetic gives without undefined behaviour.
#include "generic.hpp"
#include "../qtile_store.hpp"
#include "../../gemm/qpacking.hpp"

namespace kernels {
namespace {

template <int MR, int NR>
void generic_qukr(dim_t kq, const std::int8_t* KERNELS_RESTRICT a, const std::uint8_t* KERNELS_RESTRICT b,
                  const std::int32_t* acc_in, inc_t rs_in, inc_t cs_in, void* c, inc_t rs_c, inc_t cs_c, dim_t m,
                  dim_t n, const QEpilogue* ep) {
    std::uint32_t acc[NR * MR] = {};
    for (dim_t q = 0; q < kq; ++q) {
        for (int j = 0; j < NR; ++j)
            for (int i = 0; i < MR; ++i) {
                std::int32_t s = 0;  // one quad: at most 4 * 255 * 128, exact
                for (int t = 0; t < 4; ++t) s += static_cast<std::int32_t>(b[j * 4 + t]) * a[i * 4 + t];
                acc[j * MR + i] += static_cast<std::uint32_t>(s);
            }
        a += 4 * MR;
        b += 4 * NR;
    }
    std::int32_t tile[NR * MR];
    for (int t = 0; t < NR * MR; ++t) tile[t] = static_cast<std::int32_t>(acc[t]);
    qstore_tile<MR>(tile, acc_in, rs_in, cs_in, c, rs_c, cs_c, m, n, ep);
}

}  // namespace

const QUkernel ukr_s8_generic_8x4 = {"ukr_s8_generic_8x4", Isa::generic, 8, 4, &generic_qukr<8, 4>, &qpack_a<8>,
                                     &qpack_b<4>, nullptr};
}  // namespace kernels
