// float micro-kernel for AVX512: 32x12 tile (2 vectors of 16 lanes x 12 broadcast columns).
#include "../ukernel.hpp"
#include "../packing.hpp"
#include "pack_avx512.hpp"
#include "simd_ukernel.hpp"
#include "vec_avx512.hpp"

namespace kernels {
extern const Ukernel<float> ukr_f32_avx512_32x12;
const Ukernel<float> ukr_f32_avx512_32x12 = {"ukr_f32_avx512_32x12", Isa::avx512, 32, 12, 0.86, &simd_ukr<Avx512F32, 2, 12>,
                                &pack_a<float, 32>, &pack_b_avx512<float, 12>,
                                &simd_ukr_direct<Avx512F32, 2, 12>,
                                &simd_ukr<Avx512F32, 1, 12, 32>, &simd_ukr_direct<Avx512F32, 1, 12>};
}  // namespace kernels
