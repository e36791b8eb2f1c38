// float micro-kernel for AVX2: 16x6 tile (2 vectors of 8 lanes x 6 broadcast columns).
#include "../ukernel.hpp"
#include "../packing.hpp"
#include "simd_ukernel.hpp"
#include "vec_avx2.hpp"

namespace kernels {
extern const Ukernel<float> ukr_f32_avx2_16x6;
const Ukernel<float> ukr_f32_avx2_16x6 = {"ukr_f32_avx2_16x6", Isa::avx2, 16, 6, 0.85, &simd_ukr<Avx2F32, 2, 6>,
                                &pack_a<float, 16>, &pack_b<float, 6>, nullptr,
                                &simd_ukr<Avx2F32, 1, 6, 16>, nullptr};
}  // namespace kernels
