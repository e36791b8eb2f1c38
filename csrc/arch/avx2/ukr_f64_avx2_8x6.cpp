// double micro-kernel for AVX2: 8x6 tile (2 vectors of 4 lanes x 6 broadcast columns).
#include "avx2.hpp"
#include "../simd_ukernel_entry.hpp"
#include "vec.hpp"

namespace kernels {
// Efficiency 0.85: fraction of the FMA peak on L1-resident panels (nominal).
const Ukernel<double> ukr_f64_avx2_8x6 = simd_ukernel<Avx2F64, 2, 6>("ukr_f64_avx2_8x6", Isa::avx2, 0.85, &pack_b<double, 6>);
}  // namespace kernels
