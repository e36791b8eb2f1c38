// double micro-kernel for AVX2: 8x6 tile (2 vectors of 4 lanes x 6 broadcast columns).
#include "../ukernel.hpp"
#include "../packing.hpp"
#include "simd_ukernel.hpp"
#include "vec_avx2.hpp"

namespace kernels {
extern const Ukernel<double> ukr_f64_avx2_8x6;
const Ukernel<double> ukr_f64_avx2_8x6 = {"ukr_f64_avx2_8x6", Isa::avx2, 8, 6, 0.85, &simd_ukr<Avx2F64, 2, 6>,
                                &pack_a<double, 8>, &pack_b<double, 6>, nullptr,
                                &simd_ukr<Avx2F64, 1, 6, 8>, nullptr};
}  // namespace kernels
