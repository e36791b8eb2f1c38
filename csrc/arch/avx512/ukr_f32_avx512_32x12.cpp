// float micro-kernel for AVX512: 32x12 tile (2 vectors of 16 lanes x 12 broadcast columns).
#include "avx512.hpp"
#include "../simd_ukernel_entry.hpp"
#include "pack.hpp"
#include "vec.hpp"

namespace kernels {
// Efficiency 0.86: fraction of the FMA peak on L1-resident panels (measured).
const Ukernel<float> ukr_f32_avx512_32x12 = simd_ukernel<Avx512F32, 2, 12>("ukr_f32_avx512_32x12", Isa::avx512, 0.86, &pack_b_avx512<float, 12>);
}  // namespace kernels
