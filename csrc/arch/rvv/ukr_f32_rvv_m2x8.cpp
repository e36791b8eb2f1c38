// fp32 RVV micro-kernel: MR = 2 * VLEN / 32 rows (8 at VLEN 128, 64 at 1024) x 8 columns.
#include "rvv.hpp"
#include "../../gemm/packing.hpp"
#include "rvv_ukernel.hpp"

namespace kernels {
// No half-height variants (nullptr, as the table allows): each kernel computes a short edge tile at
// vl = its rows already, which is what a half-height kernel buys on fixed-width ISAs.
Ukernel<float> ukr_f32_rvv_m2x8 = {"ukr_f32_rvv_m2x8", Isa::rvv, rvv::mr_f32(16), kRvvNr, 0.8,
                                   &rvv_ukr<RvvF32>, &rvv_pack_a<RvvF32>, &pack_b<float, kRvvNr>,
                                   &rvv_direct<RvvF32>, nullptr, nullptr, &rvv_ukr_taps<RvvF32>, nullptr, nullptr, 0, nullptr};
}  // namespace kernels
