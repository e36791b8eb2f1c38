// float micro-kernel for AVX2: 16x6 tile (2 vectors of 8 lanes x 6 broadcast columns).
#include "avx2.hpp"
#include "../simd_ukernel_entry.hpp"
#include "vec.hpp"

namespace kernels {
// Efficiency 0.85: fraction of the FMA peak on L1-resident panels (nominal).
const Ukernel<float> ukr_f32_avx2_16x6 = simd_ukernel<Avx2F32, 2, 6>("ukr_f32_avx2_16x6", Isa::avx2, 0.85, &pack_b<float, 6>);
}  // namespace kernels
