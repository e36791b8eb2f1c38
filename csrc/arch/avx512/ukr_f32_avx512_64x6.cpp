// float micro-kernel for AVX512: 64x6 tile (4 vectors of 16 lanes x 6 broadcast columns).
// Fewer broadcasts per FMA than the 2-vector tile (10 loads per 24 FMAs instead of 14): faster on
// large operands, but pads tall edges more, so the driver picks it only where that pays.
#include "avx512.hpp"
#include "../simd_ukernel_entry.hpp"
#include "pack.hpp"
#include "vec.hpp"

namespace kernels {
// Efficiency 0.90: fraction of the FMA peak on L1-resident panels (measured).
const Ukernel<float> ukr_f32_avx512_64x6 = simd_ukernel<Avx512F32, 4, 6>("ukr_f32_avx512_64x6", Isa::avx512, 0.90, &pack_b_avx512<float, 6>);
}  // namespace kernels
