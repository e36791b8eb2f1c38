// fp64 RVV micro-kernel: MR = 2 * VLEN / 64 rows (4 at VLEN 128, 32 at 1024) x 8 columns.
#include "rvv.hpp"
#include "../../gemm/packing.hpp"
#include "rvv_ukernel.hpp"

namespace kernels {
// No half-height variants (nullptr, as the table allows): each kernel computes a short edge tile at
// vl = its rows already, which is what a half-height kernel buys on fixed-width ISAs.
Ukernel<double> ukr_f64_rvv_m2x8 = {"ukr_f64_rvv_m2x8", Isa::rvv, rvv::mr_f64(16), kRvvNr, 0.8,
                                   &rvv_ukr<RvvF64>, &rvv_pack_a<RvvF64>, &pack_b<double, kRvvNr>,
                                   &rvv_direct<RvvF64>, nullptr, nullptr, &rvv_ukr_taps<RvvF64>, nullptr, nullptr, 0, nullptr};
}  // namespace kernels
